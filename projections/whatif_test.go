package projections_test

import (
	"testing"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/projections"
)

// whatif replays the ledger under another policy: a contact window of 15
// minutes releases a contact 20 minutes from the case, keeps one 10
// minutes from it, and leaves the ledger's own answers as they were.
func TestWhatIfReportsWhoChangesColourByRule(t *testing.T) {
	w := newTown(t, "a b c d", "x")
	w.l.add(time.Date(2020, 3, 5, 9, 0, 0, 0, time.UTC), domain.DiagnosisRecorded{PersonID: w.persons["a"], Result: domain.DiagnosisConfirmed})
	w.scan("x", "10:00", "a")
	w.scan("x", "10:10", "b")
	w.scan("x", "10:20", "c")
	w.l.add(clock("10:30"), domain.HealthFormSubmitted{PersonID: w.persons["d"], ContactWithCase: true})
	c := projections.NewColours(shanghai)
	if err := c.ApplyAll(w.l.events); err != nil {
		t.Fatal(err)
	}
	ix := c.Index()
	at := time.Date(2020, 3, 6, 0, 0, 0, 0, time.UTC)
	narrow := domain.DefaultPolicyParams()
	narrow.ContactWindow = 15 * time.Minute
	got := projections.RunWhatIf(ix, narrow, at, 1)
	if got.Persons != 4 || got.Changed != 1 || got.Transitions["yellow→green"] != 1 || len(got.Transitions) != 1 {
		t.Fatalf("contact window 15m: %s", mustJSON(got))
	}
	g := got.ByRule[0]
	if len(got.ByRule) != 1 || g.Rule != domain.RuleY1 || g.Live != domain.Yellow || g.WhatIf != domain.Green || g.Persons != 1 ||
		len(g.Examples) != 1 || g.Examples[0].Person != w.persons["c"] {
		t.Errorf("by rule: %s", mustJSON(got.ByRule))
	}

	// A week's observation: on 2020-03-12 b, c and d are green again, a
	// stays red (R2 has no end).
	short := domain.DefaultPolicyParams()
	short.Observation = 7 * 24 * time.Hour
	got = projections.RunWhatIf(ix, short, time.Date(2020, 3, 12, 0, 0, 0, 0, time.UTC), 3)
	if got.Changed != 3 || got.Transitions["yellow→green"] != 3 {
		t.Fatalf("observation 7d: %s", mustJSON(got))
	}
	rules := map[string]int{}
	for _, g := range got.ByRule {
		rules[g.Rule] = g.Persons
	}
	if rules[domain.RuleY1] != 2 || rules[domain.RuleY3] != 1 {
		t.Errorf("observation 7d by rule: %v", rules)
	}
	// The live judgement is untouched.
	if a := ix.JudgeAll().ColourAt(w.persons["c"], at); a.Colour != domain.Yellow {
		t.Errorf("after whatif, c is %s live", a.Colour)
	}
}
