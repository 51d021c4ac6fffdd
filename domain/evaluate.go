package domain

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
)

// The risk policy as a pure function (DESIGN §3): facts in, red and yellow
// intervals with their reasons out, as the ledger knew them at a knowledge
// time. Evaluate does no I/O; the colour projection, `audit replay`,
// `explain` and `whatif` all call it.

// EventRef names the event a reason cites.
type EventRef struct {
	ID       EventID `json:"id"`
	Position int64   `json:"position"`
}

// Fact is one ledger event as the policy reads it. Body is the decoded
// payload (a value of the event's type: SymptomsReported, ScanRecorded,
// ...); DecodeFact makes one from a stored event.
type Fact struct {
	Ref        EventRef
	Type       string
	OccurredAt time.Time
	RecordedAt time.Time
	Body       any
}

// DecodeFact decodes a stored event into a Fact. Events the policy does not
// read (registrations of documents, identity checks) give ok false.
func DecodeFact(ref EventRef, typ string, occurredAt, recordedAt time.Time, payload []byte) (f Fact, ok bool, err error) {
	var body any
	switch typ {
	case EvPersonRegistered:
		body, err = decodeBody[PersonRegistered](payload)
	case EvHealthFormSubmitted:
		body, err = decodeBody[HealthFormSubmitted](payload)
	case EvSymptomsReported:
		body, err = decodeBody[SymptomsReported](payload)
	case EvDiagnosisRecorded:
		body, err = decodeBody[DiagnosisRecorded](payload)
	case EvKeyAreaDesignated:
		body, err = decodeBody[KeyAreaDesignated](payload)
	case EvKeyAreaLifted:
		body, err = decodeBody[KeyAreaLifted](payload)
	case EvPolicyPublished:
		body, err = decodeBody[PolicyPublished](payload)
	case EvCheckpointRegistered:
		body, err = decodeBody[CheckpointRegistered](payload)
	case EvScanRecorded:
		if b, ok := decodeScan(payload); ok {
			body = b
		} else {
			body, err = decodeBody[ScanRecorded](payload)
		}
	case EvContactReported:
		body, err = decodeBody[ContactReported](payload)
	case EvColourOverridden:
		body, err = decodeBody[ColourOverridden](payload)
	case EvFactRetracted:
		body, err = decodeBody[FactRetracted](payload)
	default:
		return Fact{}, false, nil
	}
	if err != nil {
		return Fact{}, false, fmt.Errorf("decode %s at position %d: %w", typ, ref.Position, err)
	}
	return Fact{Ref: ref, Type: typ, OccurredAt: occurredAt.UTC(), RecordedAt: recordedAt.UTC(), Body: body}, true, nil
}

// decodeBody decodes a payload into a value of T, boxed as callers switch
// on it. The projections decode every event of the ledger: goccy/go-json
// reads these payloads (which encoding/json wrote) about four times faster
// than encoding/json does (BenchmarkDecodeFact), to the same values
// (TestDecodeFactAgrees).
func decodeBody[T any](payload []byte) (any, error) {
	var b T
	if err := gojson.UnmarshalNoEscape(payload, &b); err != nil {
		return nil, err
	}
	return b, nil
}

// Rules of the policy, as reasons name them.
const (
	RuleR1       = "R1"
	RuleR2       = "R2"
	RuleR3       = "R3"
	RuleY1       = "Y1"
	RuleY2       = "Y2"
	RuleY3       = "Y3"
	RuleOverride = "override"
)

// Interval is one red or yellow interval [From, Until) of a person, or an
// override. Until is zero for an interval with no end yet (R2).
type Interval struct {
	Rule   string     `json:"rule"`
	From   time.Time  `json:"from"`
	Until  time.Time  `json:"until"`
	Events []EventRef `json:"events"`
	// Colour is the interval's colour (an override's is its own).
	Colour Colour `json:"-"`
	// Policy is the version of the policy that judged it.
	Policy int `json:"-"`
	// Case is, for Y1 and Y2, the index case that caused it.
	Case PersonID `json:"-"`
	// onset is, for R1 and R2, the day its infectious window counts from.
	onset Date
	// opened orders overrides: the ledger position of the event.
	opened int64
}

// Contains tells whether t is in the interval.
func (iv Interval) Contains(t time.Time) bool {
	return !t.Before(iv.From) && (iv.Until.IsZero() || t.Before(iv.Until))
}

// MarshalJSON writes the interval as a reason of DESIGN §5.1: rule, from,
// until (null while open) and the events that caused it.
func (iv Interval) MarshalJSON() ([]byte, error) {
	var until *time.Time
	if !iv.Until.IsZero() {
		until = &iv.Until
	}
	return json.Marshal(struct {
		Rule   string     `json:"rule"`
		From   time.Time  `json:"from"`
		Until  *time.Time `json:"until"`
		Events []EventRef `json:"events"`
		Policy int        `json:"policy"`
	}{iv.Rule, iv.From, until, iv.Events, iv.Policy})
}

// UnmarshalJSON reads what MarshalJSON writes, so that a stored decision
// reads back with its policy version.
func (iv *Interval) UnmarshalJSON(b []byte) error {
	var v struct {
		Rule   string     `json:"rule"`
		From   time.Time  `json:"from"`
		Until  *time.Time `json:"until"`
		Events []EventRef `json:"events"`
		Policy int        `json:"policy"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*iv = Interval{Rule: v.Rule, From: v.From, Events: v.Events, Policy: v.Policy}
	if v.Until != nil {
		iv.Until = *v.Until
	}
	return nil
}

func (iv Interval) empty() bool { return !iv.Until.IsZero() && !iv.Until.After(iv.From) }

// Judgement is what the policy made of a set of facts: every person's
// intervals.
type Judgement struct {
	intervals  map[PersonID][]Interval
	windows    map[PersonID][]window
	overrides  map[PersonID][]Interval
	registered map[PersonID]bool
}

// Answer is a person's colour at a time, with the reasons for it.
type Answer struct {
	PersonID PersonID   `json:"person_id"`
	Colour   Colour     `json:"colour"`
	Reasons  []Interval `json:"reasons"`
}

// ColourAt answers p's colour at t: an active override wins (the latest
// issued, then the later in the ledger); else red if a red interval holds
// t; else yellow if a yellow one does; else green. The reasons are those of
// the colour given.
func (j *Judgement) ColourAt(p PersonID, t time.Time) Answer {
	a := Answer{PersonID: p, Colour: Green, Reasons: []Interval{}}
	var best *Interval
	for i, o := range j.overrides[p] {
		if o.Contains(t) && (best == nil || o.From.After(best.From) || o.From.Equal(best.From) && o.opened > best.opened) {
			best = &j.overrides[p][i]
		}
	}
	if best != nil {
		a.Colour, a.Reasons = best.Colour, []Interval{*best}
		return a
	}
	for _, c := range []Colour{Red, Yellow} {
		for _, iv := range j.intervals[p] {
			if iv.Colour == c && iv.Contains(t) {
				a.Reasons = append(a.Reasons, iv)
			}
		}
		if len(a.Reasons) > 0 {
			a.Colour = c
			return a
		}
	}
	return a
}

// Intervals returns p's red and yellow intervals, in order of start, and
// the overrides issued for p.
func (j *Judgement) Intervals(p PersonID) []Interval {
	out := append(slices.Clone(j.intervals[p]), j.overrides[p]...)
	slices.SortStableFunc(out, func(a, b Interval) int { return a.From.Compare(b.From) })
	return out
}

// Persons returns every registered person and every person who has an
// interval or an override, in id order.
func (j *Judgement) Persons() []PersonID {
	seen := maps.Clone(j.registered)
	for p := range j.intervals {
		seen[p] = true
	}
	for p := range j.overrides {
		seen[p] = true
	}
	out := make([]PersonID, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b PersonID) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Infectious returns p's infectious windows, each as an interval [From,
// Until) (Until zero: open) with the rule and events of the red interval
// that opened it; none when p is not an index case.
func (j *Judgement) Infectious(p PersonID) []Interval {
	out := make([]Interval, 0, len(j.windows[p]))
	for _, w := range j.windows[p] {
		iv := w.cause
		iv.From, iv.Until = w.from, w.until
		out = append(out, iv)
	}
	return out
}

// InfectiousAt tells whether p is an index case in an infectious window at
// t.
func (j *Judgement) InfectiousAt(p PersonID, t time.Time) bool {
	return slices.ContainsFunc(j.windows[p], func(w window) bool { return w.contains(t) })
}

// CausedBy returns the yellow interval of p that index case c caused
// through the events refs (the two scans of Y1, a contact record of Y2),
// if the policy made one.
func (j *Judgement) CausedBy(p, c PersonID, refs ...EventRef) (Interval, bool) {
	for _, iv := range j.intervals[p] {
		if (iv.Rule == RuleY1 || iv.Rule == RuleY2) && iv.Case == c &&
			!slices.ContainsFunc(refs, func(r EventRef) bool { return !slices.Contains(iv.Events, r) }) {
			return iv, true
		}
	}
	return Interval{}, false
}

// Boundaries returns the times after from at which p's colour may change:
// the starts and ends of p's intervals and overrides, in order.
func (j *Judgement) Boundaries(p PersonID, from time.Time) []time.Time {
	var out []time.Time
	for _, iv := range j.Intervals(p) {
		for _, t := range []time.Time{iv.From, iv.Until} {
			if !t.IsZero() && t.After(from) {
				out = append(out, t)
			}
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return slices.Compact(out)
}

// Evaluate judges facts (in ledger order) as the ledger knew them at known:
// facts recorded after it, and facts retracted at or before it, do not
// count. A zero known counts every fact. loc is the zone of day boundaries.
func Evaluate(facts []Fact, known time.Time, loc *time.Location) *Judgement {
	return EvaluateWith(facts, known, loc, nil)
}

// EvaluateWith is Evaluate under another policy: with a nil policy, the
// ledger's own versions; else policy's parameters at all times, whatever
// the ledger published (`whatif`).
func EvaluateWith(facts []Fact, known time.Time, loc *time.Location, policy *PolicyParams) *Judgement {
	policies := NewPolicies()
	if policy != nil {
		policies = FixedPolicy(*policy)
	}
	e := newEvaluation(facts, known, loc, policies)
	e.red()
	windows := e.windows()
	e.yellow(windows)
	return &Judgement{intervals: e.out, windows: windows, overrides: e.overrides, registered: e.registered}
}

type keyAreaChange struct {
	from       Date
	designated bool
	position   int64
}

type evaluation struct {
	loc        *time.Location
	feverFloor float64 // the lowest fever threshold of any policy
	facts      []Fact
	policies   *Policies
	keyAreas   map[string][]keyAreaChange // by upper-cased region
	registered map[PersonID]bool
	kinds      map[CheckpointID]CheckpointKind
	releases   map[PersonID][]Fact // ruled_out and recovered diagnoses, by time
	out        map[PersonID][]Interval
	overrides  map[PersonID][]Interval
}

func newEvaluation(all []Fact, known time.Time, loc *time.Location, policies *Policies) *evaluation {
	e := &evaluation{loc: loc, policies: policies, keyAreas: map[string][]keyAreaChange{}, registered: map[PersonID]bool{},
		kinds: map[CheckpointID]CheckpointKind{}, releases: map[PersonID][]Fact{},
		out: map[PersonID][]Interval{}, overrides: map[PersonID][]Interval{}}
	counts := func(f Fact) bool { return known.IsZero() || !f.RecordedAt.After(known) }
	retracted := map[EventID]bool{}
	for _, f := range all {
		if r, ok := f.Body.(FactRetracted); ok && counts(f) {
			retracted[r.EventID] = true
		}
	}
	// Every fact counts, in the common case: then they are read in place.
	every := known.IsZero() && len(retracted) == 0
	if every {
		e.facts = all
	} else {
		e.facts = make([]Fact, 0, len(all))
	}
	for _, f := range all {
		if !every {
			if !counts(f) || retracted[f.Ref.ID] {
				continue
			}
			e.facts = append(e.facts, f)
		}
		switch b := f.Body.(type) {
		case PolicyPublished:
			e.policies.Publish(b, f.Ref.Position)
		case KeyAreaDesignated:
			k := strings.ToUpper(b.Region.String())
			e.keyAreas[k] = append(e.keyAreas[k], keyAreaChange{from: b.From, designated: true, position: f.Ref.Position})
		case KeyAreaLifted:
			k := strings.ToUpper(b.Region.String())
			e.keyAreas[k] = append(e.keyAreas[k], keyAreaChange{from: b.From, position: f.Ref.Position})
		case PersonRegistered:
			e.registered[b.PersonID] = true
		case CheckpointRegistered:
			e.kinds[b.CheckpointID] = b.Kind
		case DiagnosisRecorded:
			if b.Result == DiagnosisRuledOut || b.Result == DiagnosisRecovered {
				e.releases[b.PersonID] = append(e.releases[b.PersonID], f)
			}
		case ColourOverridden:
			e.overrides[b.PersonID] = append(e.overrides[b.PersonID], Interval{Rule: RuleOverride, Colour: b.Colour,
				From: f.OccurredAt, Until: b.Until.UTC(), Events: []EventRef{f.Ref}, opened: f.Ref.Position, Policy: e.paramsVersion(f.OccurredAt)})
		}
	}
	e.feverFloor = e.policies.FeverFloor()
	for _, rs := range e.releases {
		slices.SortStableFunc(rs, func(a, b Fact) int { return a.OccurredAt.Compare(b.OccurredAt) })
	}
	return e
}

// params returns the policy in force at t and its version.
func (e *evaluation) params(t time.Time) (PolicyParams, int) { return e.policies.At(t) }

func (e *evaluation) paramsVersion(t time.Time) int { _, v := e.params(t); return v }

// keyArea tells whether region was a key area on date: the last change
// whose from is on or before date decides (ties: the later in the ledger).
func (e *evaluation) keyArea(region Region, date Date) bool {
	var last *keyAreaChange
	for i, c := range e.keyAreas[strings.ToUpper(region.String())] {
		if !c.from.After(date) && (last == nil || c.from.After(last.from) || c.from == last.from && c.position > last.position) {
			last = &e.keyAreas[strings.ToUpper(region.String())][i]
		}
	}
	return last != nil && last.designated
}

func (e *evaluation) add(p PersonID, iv Interval) {
	if !iv.empty() {
		e.out[p] = append(e.out[p], iv)
	}
}

// triggering tells whether symptoms include one that triggers R1.
func triggering(params PolicyParams, symptoms []Symptom) bool {
	for _, s := range symptoms {
		if slices.Contains(params.TriggeringSymptoms, s) {
			return true
		}
	}
	return false
}

// red derives R1, R2 and R3, and ends R1 and R2 at the releases.
func (e *evaluation) red() {
	fever, _ := ParseSymptom("fever")
	for _, f := range e.facts {
		switch b := f.Body.(type) {
		case SymptomsReported, HealthFormSubmitted, DiagnosisRecorded:
		case ScanRecorded:
			if b.TemperatureCelsius == nil || *b.TemperatureCelsius < e.feverFloor {
				continue // most facts: a scan without a fever reading
			}
		default:
			continue
		}
		params, version := e.params(f.OccurredAt)
		day := DateOf(f.OccurredAt, e.loc)
		r1 := func(p PersonID, onset Date) {
			if onset.IsZero() {
				onset = day
			}
			e.add(p, Interval{Rule: RuleR1, Colour: Red, From: f.OccurredAt, Until: f.OccurredAt.Add(params.Quarantine),
				Events: []EventRef{f.Ref}, Policy: version, onset: onset})
		}
		switch b := f.Body.(type) {
		case SymptomsReported:
			if triggering(params, b.Symptoms) {
				r1(b.PersonID, b.Onset)
			}
		case HealthFormSubmitted:
			hot := b.TemperatureCelsius != nil && *b.TemperatureCelsius >= params.FeverCelsius && slices.Contains(params.TriggeringSymptoms, fever)
			if hot || triggering(params, b.Symptoms) {
				r1(b.PersonID, Date{})
			}
			for _, tr := range b.Travel {
				if e.keyArea(tr.Region, tr.ArrivedOn) {
					// Retroactive: from the start of the arrival day, whenever the form came.
					from := tr.ArrivedOn.Start(e.loc)
					e.add(b.PersonID, Interval{Rule: RuleR3, Colour: Red, From: from, Until: from.Add(params.Quarantine),
						Events: []EventRef{f.Ref}, Policy: version})
				}
			}
		case ScanRecorded:
			if b.Subject.Kind == SubjectPerson && b.TemperatureCelsius != nil && *b.TemperatureCelsius >= params.FeverCelsius &&
				slices.Contains(params.TriggeringSymptoms, fever) {
				r1(b.Subject.PersonID, Date{})
			}
		case DiagnosisRecorded:
			if b.Result == DiagnosisSuspected || b.Result == DiagnosisConfirmed {
				e.add(b.PersonID, Interval{Rule: RuleR2, Colour: Red, From: f.OccurredAt, Events: []EventRef{f.Ref}, Policy: version, onset: day})
			}
		}
	}
	// A ruled_out or recovered diagnosis ends the R1 and R2 intervals that
	// hold its time (the earliest such diagnosis decides); an interval so
	// emptied is gone.
	for p, ivs := range e.out {
		kept := ivs[:0]
		for _, iv := range ivs {
			if iv.Rule == RuleR1 || iv.Rule == RuleR2 {
				for _, r := range e.releases[p] {
					if iv.Contains(r.OccurredAt) {
						iv.Until = r.OccurredAt
						iv.Events = append(slices.Clone(iv.Events), r.Ref)
						break
					}
				}
			}
			if !iv.empty() {
				kept = append(kept, iv)
			}
		}
		e.out[p] = kept
	}
}

// window is one infectious window of an index case.
type window struct {
	from, until time.Time // until zero: open
	cause       Interval
}

func (w window) contains(t time.Time) bool {
	return !t.Before(w.from) && (w.until.IsZero() || t.Before(w.until))
}

// windows returns the infectious windows of every index case: from
// infectious_lead before the start of each R1 or R2 interval's onset day to
// the interval's end.
func (e *evaluation) windows() map[PersonID][]window {
	out := map[PersonID][]window{}
	for p, ivs := range e.out {
		for _, iv := range ivs {
			if iv.Rule != RuleR1 && iv.Rule != RuleR2 {
				continue
			}
			params, _ := e.params(iv.From)
			out[p] = append(out[p], window{from: iv.onset.Start(e.loc).Add(-params.InfectiousLead), until: iv.Until, cause: iv})
		}
	}
	return out
}

// scan is an admitted scan of a person, as Y1 reads it.
type scan struct {
	at     time.Time
	person PersonID
	fact   *Fact
}

// yellow derives Y1, Y2 and Y3, and ends the Y1 and Y2 intervals a ruled_out
// case caused at its release.
func (e *evaluation) yellow(windows map[PersonID][]window) {
	inWindow := func(p PersonID, t time.Time) (window, bool) {
		for _, w := range windows[p] {
			if w.contains(t) {
				return w, true
			}
		}
		return window{}, false
	}
	var yellow []struct {
		p  PersonID
		iv Interval
	}
	addY := func(p PersonID, iv Interval) {
		yellow = append(yellow, struct {
			p  PersonID
			iv Interval
		}{p, iv})
	}

	// Y1: counted scans by checkpoint, in time order; expand only around
	// scans of index cases in their windows.
	maxWindow := e.policies.WidestWindow()
	// Scans of visitors and of other regions' codes are neither index
	// cases nor registered persons: only scans of persons can count.
	byCheckpoint := map[CheckpointID][]scan{}
	for i := range e.facts {
		f := &e.facts[i]
		if b, ok := f.Body.(ScanRecorded); ok && b.Admitted && b.Subject.Kind == SubjectPerson {
			byCheckpoint[b.CheckpointID] = append(byCheckpoint[b.CheckpointID], scan{f.OccurredAt, b.Subject.PersonID, f})
		}
	}
	for cp, scans := range byCheckpoint {
		slices.SortStableFunc(scans, func(a, b scan) int { return a.at.Compare(b.at) })
		for _, s := range scans {
			c := s.person
			w, ok := inWindow(c, s.at)
			if !ok {
				continue
			}
			lo, _ := slices.BinarySearchFunc(scans, s.at.Add(-maxWindow), func(a scan, t time.Time) int { return a.at.Compare(t) })
			for _, o := range scans[lo:] {
				if o.at.After(s.at.Add(maxWindow)) {
					break
				}
				if o.person == c || !e.registered[o.person] {
					continue
				}
				later := maxTime(s.at, o.at)
				params, version := e.params(later)
				if absDuration(s.at.Sub(o.at)) > params.ContactWindowFor(e.kinds[cp]) {
					continue
				}
				addY(o.person, Interval{Rule: RuleY1, Colour: Yellow, From: later, Until: later.Add(params.Observation),
					Events: append([]EventRef{s.fact.Ref, o.fact.Ref}, w.cause.Events[0]), Policy: version, Case: c})
			}
		}
	}

	// Y2: reported contact episodes with an index case that start in its
	// window, summed per (case, other, local day of the start).
	type dayKey struct {
		c, o PersonID
		day  Date
	}
	type daySum struct {
		total   time.Duration
		reached bool
		end     time.Time
		last    Fact
		events  []EventRef
		cause   EventRef
	}
	days := map[dayKey]*daySum{}
	var order []dayKey
	for _, ep := range Episodes(e.facts, e.policies) {
		b, f := ep.Contact, ep.Last
		for _, pair := range [][2]PersonID{{b.PersonID, b.OtherID}, {b.OtherID, b.PersonID}} {
			c, o := pair[0], pair[1]
			w, ok := inWindow(c, b.Start)
			if !ok {
				continue
			}
			k := dayKey{c, o, DateOf(b.Start, e.loc)}
			d := days[k]
			if d == nil {
				d = &daySum{cause: w.cause.Events[0]}
				days[k] = d
				order = append(order, k)
			}
			end := b.End
			if end.IsZero() {
				end, d.reached = b.Start, true // an interview without an end counts as enough
			} else {
				d.total += end.Sub(b.Start)
			}
			if d.end.IsZero() || end.After(d.end) {
				d.end, d.last = end, f
			}
			d.events = append(d.events, ep.Events...)
		}
	}
	for _, k := range order {
		d := days[k]
		params, version := e.params(d.last.OccurredAt)
		if d.reached || d.total >= params.ContactMinDuration {
			addY(k.o, Interval{Rule: RuleY2, Colour: Yellow, From: d.end, Until: d.end.Add(params.Observation),
				Events: append(slices.Clone(d.events), d.cause), Policy: version, Case: k.c})
		}
	}

	// Y3: a form declaring contact with a case.
	for _, f := range e.facts {
		if b, ok := f.Body.(HealthFormSubmitted); ok && b.ContactWithCase {
			params, version := e.params(f.OccurredAt)
			addY(b.PersonID, Interval{Rule: RuleY3, Colour: Yellow, From: f.OccurredAt, Until: f.OccurredAt.Add(params.Observation),
				Events: []EventRef{f.Ref}, Policy: version})
		}
	}

	// A case ruled out releases the contacts it caused at that time.
	for _, y := range yellow {
		iv := y.iv
		if iv.Rule == RuleY1 || iv.Rule == RuleY2 {
			for _, r := range e.releases[iv.Case] {
				if r.Body.(DiagnosisRecorded).Result == DiagnosisRuledOut && iv.Contains(r.OccurredAt) {
					iv.Until = r.OccurredAt
					iv.Events = append(slices.Clone(iv.Events), r.Ref)
					break
				}
			}
		}
		e.add(y.p, iv)
	}
	for p := range e.out {
		// A total order, so that any evaluation of the same facts lists
		// the same reasons in the same order.
		slices.SortStableFunc(e.out[p], func(a, b Interval) int {
			return cmp.Or(a.From.Compare(b.From), strings.Compare(a.Rule, b.Rule), a.Until.Compare(b.Until),
				slices.CompareFunc(a.Events, b.Events, func(x, y EventRef) int { return cmp.Compare(x.Position, y.Position) }))
		})
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
