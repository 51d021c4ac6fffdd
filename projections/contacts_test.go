package projections_test

import (
	"cmp"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/projections"
)

// town builds a hand-made ledger: named persons and checkpoints, scans at
// clock times on 2020-03-04 (UTC).
type town struct {
	t       *testing.T
	l       *randomLedger
	persons map[string]domain.PersonID
	names   map[domain.PersonID]string
	places  map[string]domain.CheckpointID
}

func newTown(t *testing.T, persons string, places ...string) *town {
	w := &town{t: t, l: &randomLedger{base: time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)},
		persons: map[string]domain.PersonID{}, names: map[domain.PersonID]string{}, places: map[string]domain.CheckpointID{}}
	for _, name := range strings.Fields(persons) {
		p, _ := domain.ParsePersonID(uuid.NewString())
		w.persons[name], w.names[p] = p, name
		w.l.add(w.l.base, domain.PersonRegistered{PersonID: p, Document: domain.SealedDocument{Type: domain.DocumentResidentID}})
	}
	for _, name := range places {
		cp, _ := domain.ParseCheckpointID(uuid.NewString())
		w.places[name] = cp
		w.l.add(w.l.base, domain.CheckpointRegistered{CheckpointID: cp, Name: name, Kind: domain.KindPark, Admits: []domain.Colour{domain.Green}})
	}
	return w
}

func clock(hhmm string) time.Time {
	t, err := time.Parse(time.RFC3339, "2020-03-04T"+hhmm+":00Z")
	if err != nil {
		panic(err)
	}
	return t
}

// scan records an admitted scan of each person at place at hh:mm.
func (w *town) scan(place, hhmm string, persons ...string) {
	for _, p := range persons {
		w.l.add(clock(hhmm), domain.ScanRecorded{CheckpointID: w.places[place], Method: domain.ScanQR, Admitted: true,
			Subject: domain.ScanSubject{Kind: domain.SubjectPerson, PersonID: w.persons[p]}})
	}
}

// foreign records a scan of the holder of issuer's code with pseudonym at
// place at hh:mm, admitted or not.
func (w *town) foreign(place, hhmm, issuer, pseudonym string, admitted bool) {
	w.l.add(clock(hhmm), domain.ScanRecorded{CheckpointID: w.places[place], Method: domain.ScanQR, Admitted: admitted,
		Subject: domain.ScanSubject{Kind: domain.SubjectForeign, Issuer: issuer, Pseudonym: pseudonym}})
}

func (w *town) contacts() *projections.Contacts {
	w.t.Helper()
	c := projections.NewColours(shanghai)
	if err := c.ApplyAll(w.l.events); err != nil {
		w.t.Fatal(err)
	}
	return projections.NewContacts(c.Index(), c.Index().JudgeAll())
}

// reached names the chain's persons other than its own, as "name@depth hh:mm".
func (w *town) reached(ch projections.Chain) []string {
	var out []string
	for _, n := range ch.Nodes[1:] {
		out = append(out, w.names[n.Person]+"@"+string(rune('0'+n.Depth))+" "+n.At.Format("15:04"))
	}
	return out
}

// A path that goes back in time is not a transmission path: downstream, an
// onward exposure must come at or after the exposure that reached that
// person; upstream, the other way round.
func TestChainFollowsOnlyTimeRespectingPaths(t *testing.T) {
	w := newTown(t, "a b c d e f", "x", "y", "z")
	w.scan("x", "10:00", "a", "b") // a exposes b at 10:00
	w.scan("y", "09:00", "b", "c") // b met c before that: not downstream of a
	w.scan("y", "11:00", "b", "d") // b meets d after: downstream, depth 2
	w.scan("z", "12:00", "a", "e") // a meets e at 12:00 ...
	w.scan("z", "10:30", "b", "e") // ... but b reached e sooner, at 10:30
	w.scan("x", "11:15", "e", "f") // so e's 11:15 meeting with f is downstream, at depth 3
	cs := w.contacts()

	down := cs.ChainOf(w.persons["a"], 3, false, time.Time{}, time.Time{})
	want := []string{"b@1 10:00", "e@1 10:30", "d@2 11:00", "f@3 11:15"}
	if got := w.reached(down); !slices.Equal(got, want) {
		t.Errorf("downstream of a: %v, want %v", got, want)
	}
	for _, e := range down.Edges {
		if w.names[e.To] == "c" {
			t.Errorf("downstream of a holds b→c at %s, before a reached b", e.At)
		}
	}
	// Each edge reached its person no sooner than its source was reached.
	reachedAt := map[domain.PersonID]time.Time{w.persons["a"]: {}}
	for _, e := range down.Edges {
		if e.At.Before(reachedAt[e.From]) {
			t.Errorf("edge %s→%s at %s goes back in time (reached %s)", w.names[e.From], w.names[e.To], e.At, reachedAt[e.From])
		}
		if r, ok := reachedAt[e.To]; !ok || e.At.Before(r) {
			reachedAt[e.To] = e.At
		}
	}
	if got := w.reached(cs.ChainOf(w.persons["a"], 2, false, time.Time{}, time.Time{})); !slices.Equal(got, want[:3]) {
		t.Errorf("depth 2: %v, want %v", got, want[:3])
	}
	// From 10:15 on, a's meeting with b does not count: only e, at 12:00.
	if got := w.reached(cs.ChainOf(w.persons["a"], 3, false, clock("10:15"), time.Time{})); !slices.Equal(got, []string{"e@1 12:00"}) {
		t.Errorf("from 10:15: %v", got)
	}

	// Upstream of a: b and e met a; c met b before b met a; f met e
	// before e met a; and b met e at 10:30, before e met a, so b could
	// have passed it on as late as 10:30. d met b only at 11:00.
	up := cs.ChainOf(w.persons["a"], 3, true, time.Time{}, time.Time{})
	if got, want := w.reached(up), []string{"b@1 10:30", "e@1 12:00", "c@2 09:00", "f@2 11:15"}; !slices.Equal(got, want) {
		t.Errorf("upstream of a: %v, want %v", got, want)
	}
	for _, e := range up.Edges {
		if w.names[e.From] == "c" && w.names[e.To] != "b" || w.names[e.To] == "d" || w.names[e.From] == "d" {
			t.Errorf("upstream of a holds %s→%s at %s", w.names[e.From], w.names[e.To], e.At)
		}
	}
	// Upstream edges point the way an infection would go: into a.
	for _, e := range up.Edges {
		if e.Depth == 1 && e.To != w.persons["a"] {
			t.Errorf("a depth-1 upstream edge %s→%s does not end at a", w.names[e.From], w.names[e.To])
		}
	}
}

func TestContactsListEveryExposureAndWhatItCaused(t *testing.T) {
	w := newTown(t, "a b c d", "x")
	w.scan("x", "10:00", "a")
	w.scan("x", "10:20", "b")                                                                                        // 20 min after a: a close contact
	w.scan("x", "10:31", "c")                                                                                        // 31 min after a: not; 11 min after b: yes
	w.l.add(clock("10:25"), domain.ScanRecorded{CheckpointID: w.places["x"], Method: domain.ScanQR, Admitted: false, // denied: did not go in
		Subject: domain.ScanSubject{Kind: domain.SubjectPerson, PersonID: w.persons["d"]}})
	// a sensor contact of a and d: three records 20 s apart, one episode of a minute
	for _, end := range []string{"2020-03-04T12:00:20Z", "2020-03-04T12:00:40Z", "2020-03-04T12:01:00Z"} {
		e, _ := time.Parse(time.RFC3339, end)
		w.l.add(e, domain.ContactReported{PersonID: w.persons["d"], OtherID: w.persons["a"], Source: domain.ContactSensor, Start: e.Add(-20 * time.Second), End: e})
	}
	// a is confirmed the next day: infectious from 48 h before that day.
	w.l.add(time.Date(2020, 3, 5, 9, 0, 0, 0, time.UTC), domain.DiagnosisRecorded{PersonID: w.persons["a"], Result: domain.DiagnosisConfirmed})
	cs := w.contacts()

	got := cs.Of(w.persons["a"], time.Time{}, time.Time{})
	if len(got) != 2 {
		t.Fatalf("a has %d exposures, want b and the sensor episode with d: %s", len(got), mustJSON(got))
	}
	b, d := got[0], got[1]
	if w.names[b.Other] != "b" || b.Source != projections.SourceCheckpoint || b.Place.Name != "x" || time.Duration(*b.Gap) != 20*time.Minute ||
		!b.At.Equal(clock("10:20")) || len(b.Infectious) != 1 || b.Infectious[0] != w.persons["a"] {
		t.Errorf("a–b: %s", mustJSON(b))
	}
	if len(b.Yellow) != 1 || b.Yellow[0].Person != w.persons["b"] || b.Yellow[0].Rule != domain.RuleY1 || !b.Yellow[0].From.Equal(clock("10:20")) {
		t.Errorf("a–b caused %s, want b's Y1 from 10:20", mustJSON(b.Yellow))
	}
	if w.names[d.Other] != "d" || d.Source != projections.SourceSensor || time.Duration(*d.Duration) != time.Minute ||
		!d.Start.Equal(clock("12:00")) || len(d.Events) != 3 {
		t.Errorf("a–d: %s", mustJSON(d))
	}
	if len(d.Yellow) != 0 {
		t.Errorf("a minute of sensor contact caused %s; Y2 needs 15 minutes", mustJSON(d.Yellow))
	}

	// c met b, who is no case: an exposure, and nothing caused.
	cc := cs.Of(w.persons["c"], time.Time{}, time.Time{})
	if len(cc) != 1 || w.names[cc[0].Other] != "b" || len(cc[0].Infectious) != 0 || len(cc[0].Yellow) != 0 {
		t.Errorf("c: %s", mustJSON(cc))
	}
	// The range counts an exposure by its time: the later scan.
	if got := cs.Of(w.persons["a"], clock("10:21"), clock("12:30")); len(got) != 1 || got[0].Other != w.persons["d"] {
		t.Errorf("a from 10:21 to 12:30: %s", mustJSON(got))
	}
}

func TestClustersAreCasesWhoseInfectiousVisitsOverlap(t *testing.T) {
	w := newTown(t, "a b c p q r", "x", "y")
	for _, p := range []string{"a", "b", "c"} {
		w.l.add(time.Date(2020, 3, 5, 9, 0, 0, 0, time.UTC), domain.DiagnosisRecorded{PersonID: w.persons[p], Result: domain.DiagnosisConfirmed})
	}
	w.scan("x", "10:00", "a")
	w.scan("x", "10:05", "p")
	w.scan("x", "10:25", "b") // within 30 min of a: a cluster at x
	w.scan("x", "10:50", "q") // 25 min after b: exposed
	w.scan("x", "11:30", "r") // 65 min after b: not
	w.scan("y", "10:00", "c")
	w.scan("y", "10:45", "a") // 45 min apart: no cluster at y
	cs := w.contacts()

	got := cs.Clusters(time.Time{}, time.Time{})
	if len(got) != 1 {
		t.Fatalf("%d clusters, want 1 at x: %s", len(got), mustJSON(got))
	}
	cl := got[0]
	var cases, exposed []string
	for _, c := range cl.Cases {
		cases = append(cases, w.names[c.Person])
	}
	for _, p := range cl.Exposed {
		exposed = append(exposed, w.names[p])
	}
	slices.Sort(exposed)
	if cl.Place.Name != "x" || !slices.Equal(cases, []string{"a", "b"}) || !slices.Equal(exposed, []string{"p", "q"}) ||
		!cl.From.Equal(clock("10:00")) || !cl.To.Equal(clock("10:25")) {
		t.Errorf("cluster %s: cases %v exposed %v", mustJSON(cl), cases, exposed)
	}
	if got := cs.Clusters(clock("10:10"), time.Time{}); len(got) != 0 {
		t.Errorf("from 10:10 only b's visit at x counts: %s", mustJSON(got))
	}
}

// Holders of other regions' codes take part in co-presence: a case's
// contacts and clusters name them by issuer and pseudonym (for their
// region to trace); chains do not walk through them, and the policy never
// judges them, so nobody turns yellow because of them.
func TestForeignCodeHoldersTakePartInCoPresence(t *testing.T) {
	w := newTown(t, "a b", "x")
	w.l.add(time.Date(2020, 3, 5, 9, 0, 0, 0, time.UTC), domain.DiagnosisRecorded{PersonID: w.persons["a"], Result: domain.DiagnosisConfirmed})
	w.l.add(time.Date(2020, 3, 5, 9, 0, 0, 0, time.UTC), domain.DiagnosisRecorded{PersonID: w.persons["b"], Result: domain.DiagnosisConfirmed})
	w.scan("x", "10:00", "a")
	w.foreign("x", "10:10", "jiangsu", "J-2", true)
	w.foreign("x", "10:10", "jiangsu", "J-1", true)
	w.foreign("x", "10:12", "jiangsu", "J-3", false) // denied: never went in
	w.foreign("x", "10:45", "jiangsu", "J-4", true)  // 45 min after a: not a contact of a
	w.scan("x", "10:20", "b")
	cs := w.contacts()

	got := cs.Of(w.persons["a"], time.Time{}, time.Time{})
	var met []string
	for _, e := range got {
		if e.Foreign != nil {
			met = append(met, e.Foreign.String())
			if !e.Other.IsZero() || e.Place.Name != "x" || len(e.Infectious) != 1 || e.Infectious[0] != w.persons["a"] || len(e.Yellow) != 0 || len(e.Events) != 2 {
				t.Errorf("a–%s: %s", e.Foreign, mustJSON(e))
			}
			continue
		}
		met = append(met, w.names[e.Other])
	}
	// Persons first, then holders by issuer and pseudonym, at one time.
	if want := []string{"jiangsu/J-1", "jiangsu/J-2", "b"}; !slices.Equal(met, want) {
		t.Errorf("a met %v, want %v", met, want)
	}
	if js := mustJSON(got[0]); !strings.Contains(js, `"foreign":{"issuer":"jiangsu","pseudonym":"J-1"}`) || strings.Contains(js, `"other"`) {
		t.Errorf("a foreign exposure reads %s", js)
	}

	cls := cs.Clusters(time.Time{}, time.Time{})
	if len(cls) != 1 {
		t.Fatalf("%d clusters, want a and b at x: %s", len(cls), mustJSON(cls))
	}
	var holders []string
	for _, f := range cls[0].Foreign {
		holders = append(holders, f.String())
	}
	// J-4 came 25 minutes after b: within b's window.
	if want := []string{"jiangsu/J-1", "jiangsu/J-2", "jiangsu/J-4"}; !slices.Equal(holders, want) {
		t.Errorf("cluster's foreign holders %v, want %v", holders, want)
	}

	ch := cs.ChainOf(w.persons["a"], 2, false, time.Time{}, time.Time{})
	if got := w.reached(ch); !slices.Equal(got, []string{"b@1 10:20"}) {
		t.Errorf("chain of a reached %v", got)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestContactsAgreeWithEveryPair checks the index's search against the
// definition, pair by pair: on a random ledger dense enough that each
// checkpoint holds hundreds of scans, every person's exposures are exactly
// the other persons' admitted scans at one of their checkpoints at most
// the contact window (30 minutes, inclusive) from one of theirs, at the
// later of the two times, in order of that time and then of the other's
// id; and a range keeps those whose time falls in it.
func TestContactsAgreeWithEveryPair(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 11))
	l := &randomLedger{base: time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)}
	var persons []domain.PersonID
	for range 60 {
		p, _ := domain.ParsePersonID(uuid.NewString())
		persons = append(persons, p)
		l.add(l.base, domain.PersonRegistered{PersonID: p, Document: domain.SealedDocument{Type: domain.DocumentResidentID}})
	}
	var cps []domain.CheckpointID
	for range 3 {
		cp, _ := domain.ParseCheckpointID(uuid.NewString())
		cps = append(cps, cp)
		l.add(l.base, domain.CheckpointRegistered{CheckpointID: cp, Name: "gate", Kind: domain.KindSubway, Admits: []domain.Colour{domain.Green}})
	}
	type scan struct {
		person   int
		cp       int
		at       time.Time
		admitted bool
	}
	var scans []scan
	for range 1500 {
		// Two days of minutes, some on the same minute, some exactly 30
		// minutes apart; one in ten denied.
		s := scan{person: rng.IntN(len(persons)), cp: rng.IntN(len(cps)), at: l.base.Add(time.Duration(rng.IntN(2*24*60)) * time.Minute), admitted: rng.IntN(10) > 0}
		scans = append(scans, s)
		l.add(s.at, domain.ScanRecorded{CheckpointID: cps[s.cp], Method: domain.ScanImported, Admitted: s.admitted,
			Subject: domain.ScanSubject{Kind: domain.SubjectPerson, PersonID: persons[s.person]}})
	}
	c := projections.NewColours(shanghai)
	if err := c.ApplyAll(l.events); err != nil {
		t.Fatal(err)
	}
	cs := projections.NewContacts(c.Index(), c.Index().JudgeAll())

	type met struct {
		other domain.PersonID
		at    time.Time
	}
	from, to := l.base.Add(20*time.Hour), l.base.Add(30*time.Hour)
	for n, p := range persons {
		var want, wantIn []met
		for _, a := range scans {
			if a.person != n || !a.admitted {
				continue
			}
			for _, b := range scans {
				gap := a.at.Sub(b.at).Abs()
				if b.person == n || !b.admitted || b.cp != a.cp || gap > 30*time.Minute {
					continue
				}
				m := met{persons[b.person], a.at}
				if b.at.After(a.at) {
					m.at = b.at
				}
				want = append(want, m)
				if !m.at.Before(from) && m.at.Before(to) {
					wantIn = append(wantIn, m)
				}
			}
		}
		order := func(x, y met) int { return cmp.Or(x.at.Compare(y.at), x.other.Compare(y.other)) }
		slices.SortStableFunc(want, order)
		slices.SortStableFunc(wantIn, order)
		for _, q := range []struct {
			from, to time.Time
			want     []met
		}{{time.Time{}, time.Time{}, want}, {from, to, wantIn}} {
			var got []met
			for _, e := range cs.Of(p, q.from, q.to) {
				got = append(got, met{e.Other, e.At})
			}
			if !slices.Equal(got, q.want) {
				t.Fatalf("person %d over [%v, %v): %d exposures, want %d:\n got %v\nwant %v", n, q.from, q.to, len(got), len(q.want), got, q.want)
			}
		}
	}
}
