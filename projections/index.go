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
// checkpoint in time order (32 bytes a scan), and a person's neighbours are
// found by a range search around each of their own visits.
type Index struct {
	loc      *time.Location
	facts    []domain.Fact
	global   []int32
	byPerson map[domain.PersonID][]int32
	visits   map[domain.CheckpointID]*visits
	// widest is the widest contact window of any policy; feverFloor the
	// lowest fever threshold.
	widest     time.Duration
	feverFloor float64
	position   int64
}

type visit struct {
	at     int64 // unix nanoseconds
	person domain.PersonID
	fact   int32
}

type visits struct {
	list   []visit
	sorted bool
}

// NewIndex returns an empty index whose day boundaries fall in loc.
func NewIndex(loc *time.Location) *Index {
	params := domain.DefaultPolicyParams()
	return &Index{loc: loc, byPerson: map[domain.PersonID][]int32{}, visits: map[domain.CheckpointID]*visits{},
		widest: widestWindow(params), feverFloor: params.FeverCelsius}
}

func widestWindow(p domain.PolicyParams) time.Duration {
	w := p.ContactWindow
	for _, d := range p.ContactWindowByKind {
		w = max(w, d)
	}
	return w
}

// Reserve makes room for n more facts.
func (ix *Index) Reserve(n int) { ix.facts = slices.Grow(ix.facts, n) }

// Position is the ledger position of the last fact added.
func (ix *Index) Position() int64 { return ix.position }

// Len is the number of facts held.
func (ix *Index) Len() int { return len(ix.facts) }

// Add appends a fact; facts come in ledger order.
func (ix *Index) Add(f domain.Fact) {
	i := int32(len(ix.facts))
	keep := true
	switch b := f.Body.(type) {
	case domain.PolicyPublished:
		ix.global = append(ix.global, i)
		ix.widest = max(ix.widest, widestWindow(b.Params))
		ix.feverFloor = min(ix.feverFloor, b.Params.FeverCelsius)
	case domain.KeyAreaDesignated, domain.KeyAreaLifted, domain.CheckpointRegistered, domain.FactRetracted:
		ix.global = append(ix.global, i)
	case domain.PersonRegistered:
		ix.byPerson[b.PersonID] = append(ix.byPerson[b.PersonID], i)
	case domain.HealthFormSubmitted:
		ix.byPerson[b.PersonID] = append(ix.byPerson[b.PersonID], i)
	case domain.SymptomsReported:
		ix.byPerson[b.PersonID] = append(ix.byPerson[b.PersonID], i)
	case domain.DiagnosisRecorded:
		ix.byPerson[b.PersonID] = append(ix.byPerson[b.PersonID], i)
	case domain.ColourOverridden:
		ix.byPerson[b.PersonID] = append(ix.byPerson[b.PersonID], i)
	case domain.ContactReported:
		ix.byPerson[b.PersonID] = append(ix.byPerson[b.PersonID], i)
		if b.OtherID != b.PersonID {
			ix.byPerson[b.OtherID] = append(ix.byPerson[b.OtherID], i)
		}
	case domain.ScanRecorded:
		// Scans of visitors and of other regions' codes name no person the
		// policy can judge, and no index case: they never count.
		if b.Subject.Kind != domain.SubjectPerson {
			keep = false
			break
		}
		p := b.Subject.PersonID
		ix.byPerson[p] = append(ix.byPerson[p], i)
		if b.Admitted {
			v := ix.visits[b.CheckpointID]
			if v == nil {
				v = &visits{sorted: true}
				ix.visits[b.CheckpointID] = v
			}
			at := f.OccurredAt.UnixNano()
			if n := len(v.list); n > 0 && v.list[n-1].at > at {
				v.sorted = false
			}
			v.list = append(v.list, visit{at: at, person: p, fact: i})
		}
	default:
		keep = false
	}
	if keep {
		ix.facts = append(ix.facts, f)
	}
	ix.position = max(ix.position, f.Ref.Position)
}

// around returns the admitted scans at cp within the widest contact window
// of t.
func (ix *Index) around(cp domain.CheckpointID, t time.Time) []visit {
	v := ix.visits[cp]
	if v == nil {
		return nil
	}
	if !v.sorted {
		slices.SortStableFunc(v.list, func(a, b visit) int { return cmp.Compare(a.at, b.at) })
		v.sorted = true
	}
	lo := t.Add(-ix.widest).UnixNano()
	hi := t.Add(ix.widest).UnixNano()
	i, _ := slices.BinarySearchFunc(v.list, lo, func(a visit, t int64) int { return cmp.Compare(a.at, t) })
	j := i
	for j < len(v.list) && v.list[j].at <= hi {
		j++
	}
	return v.list[i:j]
}

// Neighbours returns the persons whose colour may depend on p's red
// intervals: everyone scanned near one of p's visits, and p's reported
// contacts.
func (ix *Index) Neighbours(p domain.PersonID) []domain.PersonID {
	seen := map[domain.PersonID]bool{}
	var out []domain.PersonID
	note := func(q domain.PersonID) {
		if q != p && !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	for _, i := range ix.byPerson[p] {
		f := ix.facts[i]
		switch b := f.Body.(type) {
		case domain.ScanRecorded:
			if b.Admitted {
				for _, v := range ix.around(b.CheckpointID, f.OccurredAt) {
					note(v.person)
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

// JudgeAll evaluates every fact up to position until (0: all).
func (ix *Index) JudgeAll(until int64) *domain.Judgement {
	return domain.Evaluate(ix.Facts(until), time.Time{}, ix.loc)
}

// Judge evaluates only what the colours of persons depend on, among the
// facts up to position until (0: all). For those persons the judgement
// equals JudgeAll's; for anyone else it may be incomplete.
func (ix *Index) Judge(persons []domain.PersonID, until int64) *domain.Judgement {
	if until <= 0 {
		until = ix.position
	}
	var picked []int32
	take := func(i int32) {
		if ix.facts[i].Ref.Position <= until {
			picked = append(picked, i)
		}
	}
	redFacts := func(q domain.PersonID) {
		for _, i := range ix.byPerson[q] {
			f := ix.facts[i]
			switch b := f.Body.(type) {
			case domain.SymptomsReported, domain.HealthFormSubmitted, domain.DiagnosisRecorded:
				take(i)
			case domain.ScanRecorded:
				if b.TemperatureCelsius != nil && *b.TemperatureCelsius >= ix.feverFloor {
					take(i)
				}
			}
		}
	}
	for _, i := range ix.global {
		take(i)
	}
	for _, p := range persons {
		for _, i := range ix.byPerson[p] {
			f := ix.facts[i]
			if f.Ref.Position > until {
				continue
			}
			picked = append(picked, i)
			switch b := f.Body.(type) {
			case domain.ScanRecorded:
				if b.Admitted {
					for _, v := range ix.around(b.CheckpointID, f.OccurredAt) {
						if v.person != p {
							take(v.fact)
							redFacts(v.person)
						}
					}
				}
			case domain.ContactReported:
				other := b.OtherID
				if other == p {
					other = b.PersonID
				}
				redFacts(other)
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
// capacity and the map's entries) and the number of admitted scans in it.
func (ix *Index) VisitBytes() (bytes, scans int64) {
	const visitSize, entrySize = int64(unsafe.Sizeof(visit{})), int64(unsafe.Sizeof(domain.CheckpointID{}) + 8 + unsafe.Sizeof(visits{}))
	for _, v := range ix.visits {
		bytes += int64(cap(v.list))*visitSize + entrySize
		scans += int64(len(v.list))
	}
	return bytes, scans
}
