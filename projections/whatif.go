package projections

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riskledger/riskledger/domain"
)

// WhatIf is what `whatif` reports: every person's colour at At as the
// ledger's own policies judge it, against the colour under another policy
// in force at all times, and who changes, by transition and rule.
type WhatIf struct {
	At      time.Time           `json:"at"`
	Policy  domain.PolicyParams `json:"policy"`
	Persons int                 `json:"persons"`
	Changed int                 `json:"changed"`
	// Transitions counts the changed persons by their two colours
	// ("green→yellow").
	Transitions map[string]int `json:"transitions"`
	// ByRule groups the changes by transition and by the rule that makes
	// the difference: a reason of the stricter colour.
	ByRule []RuleChange `json:"by_rule"`
}

// RuleChange is the persons whose colour a rule changes one way.
type RuleChange struct {
	Rule     string          `json:"rule"`
	Live     domain.Colour   `json:"live"`
	WhatIf   domain.Colour   `json:"whatif"`
	Persons  int             `json:"persons"`
	Examples []ChangeExample `json:"examples"`
}

// ChangeExample is one person's two answers.
type ChangeExample struct {
	Person domain.PersonID `json:"person"`
	Live   domain.Answer   `json:"live"`
	WhatIf domain.Answer   `json:"whatif"`
}

// RunWhatIf judges the facts of ix twice, under the ledger's policies and
// under policy, and compares every person's colour at at. It reads only
// the index: no read model changes. Each rule keeps up to examples
// examples, the first in person id order.
func RunWhatIf(ix *Index, policy domain.PolicyParams, at time.Time, examples int) WhatIf {
	facts := ix.Facts(0)
	var live, hyp *domain.Judgement
	var wg sync.WaitGroup
	wg.Go(func() { live = domain.Evaluate(facts, time.Time{}, ix.loc) })
	hyp = domain.EvaluateWith(facts, time.Time{}, ix.loc, &policy)
	wg.Wait()

	w := WhatIf{At: at, Policy: policy, Transitions: map[string]int{}, ByRule: []RuleChange{}}
	persons := append(live.Persons(), hyp.Persons()...)
	slices.SortFunc(persons, domain.PersonID.Compare)
	persons = slices.Compact(persons)
	w.Persons = len(persons)
	groups := map[[3]string]*RuleChange{}
	for _, p := range persons {
		a, b := live.ColourAt(p, at), hyp.ColourAt(p, at)
		if a.Colour == b.Colour {
			continue
		}
		w.Changed++
		w.Transitions[a.Colour.String()+"→"+b.Colour.String()]++
		stricter := b
		if a.Colour.StricterThan(b.Colour) {
			stricter = a
		}
		var rules []string
		for _, iv := range stricter.Reasons {
			rules = append(rules, iv.Rule)
		}
		slices.Sort(rules)
		for _, rule := range slices.Compact(rules) {
			k := [3]string{rule, a.Colour.String(), b.Colour.String()}
			g := groups[k]
			if g == nil {
				g = &RuleChange{Rule: rule, Live: a.Colour, WhatIf: b.Colour, Examples: []ChangeExample{}}
				groups[k] = g
			}
			g.Persons++
			if len(g.Examples) < examples {
				g.Examples = append(g.Examples, ChangeExample{Person: p, Live: a, WhatIf: b})
			}
		}
	}
	for _, g := range groups {
		w.ByRule = append(w.ByRule, *g)
	}
	slices.SortFunc(w.ByRule, func(a, b RuleChange) int {
		return cmp.Or(cmp.Compare(b.Persons, a.Persons), strings.Compare(a.Rule, b.Rule),
			strings.Compare(a.Live.String(), b.Live.String()), strings.Compare(a.WhatIf.String(), b.WhatIf.String()))
	})
	return w
}
