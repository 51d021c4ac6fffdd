package projections

import (
	"cmp"
	"slices"
	"time"
	"unsafe"

	"github.com/riskledger/riskledger/domain"
)

// Index holds the facts the policy reads, in ledger order, indexed so that
// a few persons can be judged without judging everyone: a person's colour
// depends only on the facts that name them, the scans of others near their
// own visits, the red facts of those others and of their contacts, and the
// ledger-wide facts (policies, key areas, checkpoints, retractions).
//
// Co-presence is never all-pairs: admitted scans of persons are kept per
// checkpoint in time order (40 bytes a scan), and a person's neighbours are
// found by a range search around each of their own visits.
type Index struct {
	loc         *time.Location
	facts       []domain.Fact
	global      []int32   // policies, key areas, retractions
	factsOf     [][]int32 // by person number: the facts that name them
	checkpoints map[domain.CheckpointID][]int32
	visits      map[domain.CheckpointID]*visits
	// Holders of other regions' codes take part in co-presence (contact
	// queries list them) but never in colours: the policy cannot judge
	// them. Their admitted scans are kept apart, numbered by subject.
	foreign        []Foreign
	foreignNumbers map[Foreign]int32
	foreignVisits  map[domain.CheckpointID]*visits
	// caseVisits holds, by checkpoint, the admitted scans of the persons
	// who may be index cases (cases): a judgement of a person looks only
	// for those around each of their scans, not through everyone's.
	caseVisits map[domain.CheckpointID]*visits
	// Persons have numbers, in the order the index met them, so that the
	// co-presence index holds 4 bytes a person and the search around a
	// visit reads slices, not maps.
	numbers map[domain.PersonID]int32
	ids     []domain.PersonID
	// red[n] holds the facts that can open or end an R1 or R2 interval of
	// person n: a person without any is never an index case.
	red [][]int32
	// cases has bit n set when red[n] is not empty: a contact query asks
	// it of every person met, and 100,000 persons' bits stay in cache.
	cases    []uint64
	policies *domain.Policies
	// widest is the widest contact window of any policy; feverFloor the
	// lowest fever threshold.
	widest     time.Duration
	feverFloor float64
	position   int64
}

type visit struct {
	at     int64 // unix nanoseconds
	person int32 // the person's number
	fact   int32
	// ref is the scan's event: contact queries list it for each exposure,
	// and reading it here rather than from the fact saves a cache miss per
	// exposure.
	ref domain.EventRef
}

type visits struct {
	list   []visit
	sorted bool
}

// add appends a visit to cp's list in m.
func addVisit(m map[domain.CheckpointID]*visits, cp domain.CheckpointID, v visit) {
	vs := m[cp]
	if vs == nil {
		vs = &visits{sorted: true}
		m[cp] = vs
	}
	if n := len(vs.list); n > 0 && vs.list[n-1].at > v.at {
		vs.sorted = false
	}
	vs.list = append(vs.list, v)
}

// Foreign is the holder of another region's code, as its issuer names them.
type Foreign struct {
	Issuer    string `json:"issuer"`
	Pseudonym string `json:"pseudonym"`
}

// String is the holder as issuer/pseudonym.
func (f Foreign) String() string { return f.Issuer + "/" + f.Pseudonym }

// Compare orders holders by issuer, then pseudonym.
func (f Foreign) Compare(g Foreign) int {
	return cmp.Or(cmp.Compare(f.Issuer, g.Issuer), cmp.Compare(f.Pseudonym, g.Pseudonym))
}

// NewIndex returns an empty index whose day boundaries fall in loc.
func NewIndex(loc *time.Location) *Index {
	ps := domain.NewPolicies()
	return &Index{loc: loc, visits: map[domain.CheckpointID]*visits{},
		foreignNumbers: map[Foreign]int32{}, foreignVisits: map[domain.CheckpointID]*visits{}, caseVisits: map[domain.CheckpointID]*visits{},
		checkpoints: map[domain.CheckpointID][]int32{}, numbers: map[domain.PersonID]int32{},
		policies: ps, widest: ps.WidestWindow(), feverFloor: ps.FeverFloor()}
}

// Reserve makes room for n more facts.
func (ix *Index) Reserve(n int) { ix.facts = slices.Grow(ix.facts, n) }

// Add appends a fact; facts come in ledger order.
func (ix *Index) Add(f domain.Fact) {
	ix.position = max(ix.position, f.Ref.Position)
	i := int32(len(ix.facts))
	persons := named(f)
	// A scan of a person who may already be an index case is one of the
	// case visits too (one who becomes a case now gets all of theirs in
	// classify).
	var scan *visit
	var scanAt domain.CheckpointID
	wasCase := false
	switch b := f.Body.(type) {
	case domain.PolicyPublished:
		ix.global = append(ix.global, i)
		ix.policies.Publish(b, f.Ref.Position)
		ix.widest = ix.policies.WidestWindow()
		if floor := ix.policies.FeverFloor(); floor < ix.feverFloor {
			ix.feverFloor = floor
			defer ix.reclassify()
		}
	case domain.KeyAreaDesignated, domain.KeyAreaLifted, domain.FactRetracted:
		ix.global = append(ix.global, i)
	case domain.CheckpointRegistered:
		ix.checkpoints[b.CheckpointID] = append(ix.checkpoints[b.CheckpointID], i)
	case domain.ScanRecorded:
		switch {
		case b.Admitted && len(persons) > 0:
			v := visit{at: f.OccurredAt.UnixNano(), person: ix.number(persons[0]), fact: i, ref: f.Ref}
			addVisit(ix.visits, b.CheckpointID, v)
			scan, scanAt, wasCase = &v, b.CheckpointID, ix.mayBeCase(v.person)
		case b.Admitted && b.Subject.Kind == domain.SubjectForeign:
			// Not a fact of the index: fact -1.
			addVisit(ix.foreignVisits, b.CheckpointID, visit{at: f.OccurredAt.UnixNano(), person: ix.foreignNumber(b.Subject), fact: -1, ref: f.Ref})
		}
	}
	if len(persons) == 0 && !ledgerWide(f) {
		// It names no person the policy judges: a scan of a visitor or of
		// another region's code, or an event the policy does not read.
		return
	}
	ix.facts = append(ix.facts, f)
	for k, p := range persons {
		var n int32
		if k == 0 && scan != nil {
			n = scan.person
		} else {
			n = ix.number(p)
		}
		ix.factsOf[n] = append(ix.factsOf[n], i)
	}
	ix.classify(i)
	if scan != nil && wasCase {
		addVisit(ix.caseVisits, scanAt, *scan)
	}
}

// ledgerWide tells the facts that concern everyone, or a checkpoint.
func ledgerWide(f domain.Fact) bool {
	switch f.Body.(type) {
	case domain.PolicyPublished, domain.KeyAreaDesignated, domain.KeyAreaLifted, domain.FactRetracted, domain.CheckpointRegistered:
		return true
	}
	return false
}

// named returns the persons a fact names, the one whose fact it is first.
func named(f domain.Fact) []domain.PersonID {
	switch b := f.Body.(type) {
	case domain.PersonRegistered:
		return []domain.PersonID{b.PersonID}
	case domain.HealthFormSubmitted:
		return []domain.PersonID{b.PersonID}
	case domain.SymptomsReported:
		return []domain.PersonID{b.PersonID}
	case domain.DiagnosisRecorded:
		return []domain.PersonID{b.PersonID}
	case domain.ColourOverridden:
		return []domain.PersonID{b.PersonID}
	case domain.ContactReported:
		if b.OtherID == b.PersonID {
			return []domain.PersonID{b.PersonID}
		}
		return []domain.PersonID{b.PersonID, b.OtherID}
	case domain.ScanRecorded:
		if b.Subject.Kind == domain.SubjectPerson {
			return []domain.PersonID{b.Subject.PersonID}
		}
	}
	return nil
}

// classify notes fact i in its person's red facts if it can be red.
func (ix *Index) classify(i int32) {
	if f := ix.facts[i]; ix.canBeRed(f) {
		n := ix.number(named(f)[0])
		ix.red[n] = append(ix.red[n], i)
		if !ix.mayBeCase(n) {
			ix.cases[n/64] |= 1 << (n % 64)
			ix.addCaseVisits(n)
		}
	}
}

// addCaseVisits adds every admitted scan of person n to the case visits.
func (ix *Index) addCaseVisits(n int32) {
	p := ix.ids[n]
	for _, k := range ix.factsOf[n] {
		f := &ix.facts[k]
		if b, ok := f.Body.(domain.ScanRecorded); ok && b.Admitted && b.Subject.Kind == domain.SubjectPerson && b.Subject.PersonID == p {
			addVisit(ix.caseVisits, b.CheckpointID, visit{at: f.OccurredAt.UnixNano(), person: n, fact: k, ref: f.Ref})
		}
	}
}

// canBeRed tells whether a fact can open or end an R1 or R2 interval (the
// intervals that make an index case) of the person it names: a symptom
// report, a diagnosis, a health form listing a symptom or a temperature at
// or above the lowest fever threshold, or a scan with such a temperature.
func (ix *Index) canBeRed(f domain.Fact) bool {
	switch b := f.Body.(type) {
	case domain.SymptomsReported:
		return len(b.Symptoms) > 0
	case domain.DiagnosisRecorded:
		return true
	case domain.HealthFormSubmitted:
		return len(b.Symptoms) > 0 || b.TemperatureCelsius != nil && *b.TemperatureCelsius >= ix.feverFloor
	case domain.ScanRecorded:
		return b.TemperatureCelsius != nil && *b.TemperatureCelsius >= ix.feverFloor
	}
	return false
}

// reclassify rebuilds the red lists after the fever threshold fell.
func (ix *Index) reclassify() {
	clear(ix.red)
	clear(ix.cases)
	clear(ix.caseVisits)
	for i := range ix.facts {
		ix.classify(int32(i))
	}
}

// number returns p's number, giving it one if it has none.
func (ix *Index) number(p domain.PersonID) int32 {
	n, ok := ix.numbers[p]
	if !ok {
		n = int32(len(ix.ids))
		ix.numbers[p] = n
		ix.ids = append(ix.ids, p)
		ix.factsOf = append(ix.factsOf, nil)
		ix.red = append(ix.red, nil)
		if int(n/64) >= len(ix.cases) {
			ix.cases = append(ix.cases, 0)
		}
	}
	return n
}

// factsNaming returns the facts that name p, in ledger order.
func (ix *Index) factsNaming(p domain.PersonID) []int32 {
	if n, ok := ix.numbers[p]; ok {
		return ix.factsOf[n]
	}
	return nil
}

// foreignNumber returns the number of a foreign code's holder, giving them
// the next if they have none.
func (ix *Index) foreignNumber(s domain.ScanSubject) int32 {
	f := Foreign{Issuer: s.Issuer, Pseudonym: s.Pseudonym}
	n, ok := ix.foreignNumbers[f]
	if !ok {
		n = int32(len(ix.foreign))
		ix.foreignNumbers[f] = n
		ix.foreign = append(ix.foreign, f)
	}
	return n
}

// mayBeCase tells whether person n has a fact that can make them an index
// case.
func (ix *Index) mayBeCase(n int32) bool { return ix.cases[n/64]&(1<<(n%64)) != 0 }

// around returns the admitted scans at cp within the widest contact window
// of t.
func (ix *Index) around(cp domain.CheckpointID, t time.Time) []visit {
	return ix.aroundIn(ix.visits, cp, t)
}

// caseAround returns the admitted scans of possible index cases at cp
// within the widest contact window of t.
func (ix *Index) caseAround(cp domain.CheckpointID, t time.Time) []visit {
	return ix.aroundIn(ix.caseVisits, cp, t)
}

// foreignAround returns the admitted scans of foreign codes' holders at cp
// within the widest contact window of t.
func (ix *Index) foreignAround(cp domain.CheckpointID, t time.Time) []visit {
	return ix.aroundIn(ix.foreignVisits, cp, t)
}

func (ix *Index) aroundIn(m map[domain.CheckpointID]*visits, cp domain.CheckpointID, t time.Time) []visit {
	list := ix.sortedVisits(m, cp)
	lo := t.Add(-ix.widest).UnixNano()
	hi := t.Add(ix.widest).UnixNano()
	i, _ := slices.BinarySearchFunc(list, lo, func(a visit, t int64) int { return cmp.Compare(a.at, t) })
	j := i
	for j < len(list) && list[j].at <= hi {
		j++
	}
	return list[i:j]
}

// sortedVisits returns cp's visits in m, in time order (sorting them the
// first time they are asked for after a visit arrived out of order).
func (ix *Index) sortedVisits(m map[domain.CheckpointID]*visits, cp domain.CheckpointID) []visit {
	v := m[cp]
	if v == nil {
		return nil
	}
	if !v.sorted {
		slices.SortStableFunc(v.list, func(a, b visit) int { return cmp.Compare(a.at, b.at) })
		v.sorted = true
	}
	return v.list
}

// Neighbours returns the persons whose colour may depend on p's red
// intervals within the given infectious windows: everyone scanned near one
// of p's visits in them, and p's reported contacts.
func (ix *Index) Neighbours(p domain.PersonID, windows []domain.Interval) []domain.PersonID {
	seen := map[domain.PersonID]bool{}
	var out []domain.PersonID
	note := func(q domain.PersonID) {
		if q != p && !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	for _, i := range ix.factsNaming(p) {
		f := ix.facts[i]
		switch b := f.Body.(type) {
		case domain.ScanRecorded:
			if b.Admitted && slices.ContainsFunc(windows, func(w domain.Interval) bool { return w.Contains(f.OccurredAt) }) {
				for _, v := range ix.around(b.CheckpointID, f.OccurredAt) {
					note(ix.ids[v.person])
				}
			}
		case domain.ContactReported:
			note(b.PersonID)
			note(b.OtherID)
		}
	}
	return out
}

// Facts returns the facts up to position until (0: all), in ledger order.
func (ix *Index) Facts(until int64) []domain.Fact {
	if until <= 0 || until >= ix.position {
		return ix.facts
	}
	n, _ := slices.BinarySearchFunc(ix.facts, until+1, func(f domain.Fact, pos int64) int { return cmp.Compare(f.Ref.Position, pos) })
	return ix.facts[:n]
}

// JudgeAll evaluates every fact.
func (ix *Index) JudgeAll() *domain.Judgement {
	return domain.Evaluate(ix.facts, time.Time{}, ix.loc)
}

// Judge evaluates only what the colours of persons depend on, among the
// facts up to position until (0: all). For those persons the judgement
// equals JudgeAll's; for anyone else it may be incomplete.
func (ix *Index) Judge(persons []domain.PersonID, until int64) *domain.Judgement {
	if until <= 0 {
		until = ix.position
	}
	var picked []int32
	take := func(i int32) bool {
		if ix.facts[i].Ref.Position <= until {
			picked = append(picked, i)
			return true
		}
		return false
	}
	// redFacts takes the facts that may make q an index case, once, and
	// tells whether there are any.
	red := map[int32]bool{}
	redFacts := func(q int32) bool {
		has, seen := red[q]
		if !seen {
			for _, i := range ix.red[q] {
				has = take(i) || has
			}
			red[q] = has
		}
		return has
	}
	checkpoints := map[domain.CheckpointID]bool{}
	for _, i := range ix.global {
		take(i)
	}
	for _, p := range persons {
		for _, i := range ix.factsNaming(p) {
			f := ix.facts[i]
			if f.Ref.Position > until {
				continue
			}
			picked = append(picked, i)
			switch b := f.Body.(type) {
			case domain.ScanRecorded:
				if !checkpoints[b.CheckpointID] {
					checkpoints[b.CheckpointID] = true
					for _, k := range ix.checkpoints[b.CheckpointID] {
						take(k)
					}
				}
				if b.Admitted {
					// Only a scan of a possible index case can make p a
					// close contact.
					pn := ix.numbers[p]
					for _, v := range ix.caseAround(b.CheckpointID, f.OccurredAt) {
						if v.person != pn && redFacts(v.person) {
							take(v.fact)
						}
					}
				}
			case domain.ContactReported:
				other := b.OtherID
				if other == p {
					other = b.PersonID
				}
				redFacts(ix.numbers[other])
			}
		}
	}
	slices.Sort(picked)
	picked = slices.Compact(picked)
	facts := make([]domain.Fact, len(picked))
	for k, i := range picked {
		facts[k] = ix.facts[i]
	}
	return domain.Evaluate(facts, time.Time{}, ix.loc)
}

// VisitBytes returns the memory the co-presence index holds (its slices'
// capacity and the map's entries, the case visits' copies included) and
// the number of admitted scans in it (each once).
func (ix *Index) VisitBytes() (bytes, scans int64) {
	const visitSize, entrySize = int64(unsafe.Sizeof(visit{})), int64(unsafe.Sizeof(domain.CheckpointID{}) + 8 + unsafe.Sizeof(visits{}))
	for _, m := range []map[domain.CheckpointID]*visits{ix.visits, ix.foreignVisits, ix.caseVisits} {
		for _, v := range m {
			bytes += int64(cap(v.list))*visitSize + entrySize
		}
	}
	for _, m := range []map[domain.CheckpointID]*visits{ix.visits, ix.foreignVisits} {
		for _, v := range m {
			scans += int64(len(v.list))
		}
	}
	return bytes, scans
}
