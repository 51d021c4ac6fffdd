package domain_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
)

// ledger builds the facts of a test in ledger order: each fact occurs at
// its time and is recorded then too, unless the test says otherwise.
type ledger struct {
	t     *testing.T
	facts []domain.Fact
}

func (l *ledger) add(occurred string, body any) domain.EventRef {
	return l.addKnown(occurred, occurred, body)
}

// addKnown adds a fact recorded at recorded (a late report).
func (l *ledger) addKnown(occurred, recorded string, body any) domain.EventRef {
	l.t.Helper()
	id, _ := domain.EventIDFromUUID(uuid.New())
	ref := domain.EventRef{ID: id, Position: int64(len(l.facts) + 1)}
	typ := map[string]string{
		"domain.PersonRegistered": domain.EvPersonRegistered, "domain.HealthFormSubmitted": domain.EvHealthFormSubmitted,
		"domain.SymptomsReported": domain.EvSymptomsReported, "domain.DiagnosisRecorded": domain.EvDiagnosisRecorded,
		"domain.KeyAreaDesignated": domain.EvKeyAreaDesignated, "domain.KeyAreaLifted": domain.EvKeyAreaLifted,
		"domain.PolicyPublished": domain.EvPolicyPublished, "domain.CheckpointRegistered": domain.EvCheckpointRegistered,
		"domain.ScanRecorded": domain.EvScanRecorded, "domain.ContactReported": domain.EvContactReported,
		"domain.ColourOverridden": domain.EvColourOverridden, "domain.FactRetracted": domain.EvFactRetracted,
	}[fmt.Sprintf("%T", body)]
	if typ == "" {
		l.t.Fatalf("no event type for %T", body)
	}
	l.facts = append(l.facts, domain.Fact{Ref: ref, Type: typ, OccurredAt: at(occurred), RecordedAt: at(recorded), Body: body})
	return ref
}

func (l *ledger) colour(p domain.PersonID, when, known string) domain.Answer {
	var k time.Time
	if known != "" {
		k = at(known)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	return domain.Evaluate(l.facts, k, loc).ColourAt(p, at(when))
}

// expect checks p's colour at each time, and that each reason cites want.
func (l *ledger) expect(p domain.PersonID, colour domain.Colour, rule string, when ...string) {
	l.t.Helper()
	for _, w := range when {
		a := l.colour(p, w, "")
		if a.Colour != colour {
			l.t.Errorf("at %s: %s (%+v), want %s", w, a.Colour, a.Reasons, colour)
			continue
		}
		if rule != "" && (len(a.Reasons) == 0 || a.Reasons[0].Rule != rule) {
			l.t.Errorf("at %s: %s for %+v, want rule %s", w, a.Colour, a.Reasons, rule)
		}
	}
}

func newPerson(l *ledger) domain.PersonID {
	p := pid(uuid.NewString())
	l.add("2020-01-01T00:00:00Z", domain.PersonRegistered{PersonID: p})
	return p
}

func sym(names ...string) []domain.Symptom {
	var out []domain.Symptom
	for _, n := range names {
		s, _ := domain.ParseSymptom(n)
		out = append(out, s)
	}
	return out
}

func region(s string) domain.Region { r, _ := domain.ParseRegion(s); return r }

func scanOf(cp domain.CheckpointID, p domain.PersonID, admitted bool, temp *float64) domain.ScanRecorded {
	return domain.ScanRecorded{CheckpointID: cp, Subject: domain.ScanSubject{Kind: domain.SubjectPerson, PersonID: p},
		Method: domain.ScanImported, Admitted: admitted, TemperatureCelsius: temp}
}

func newCheckpoint(l *ledger) domain.CheckpointID {
	cp, _ := domain.ParseCheckpointID(uuid.NewString())
	l.add("2020-01-01T00:00:00Z", domain.CheckpointRegistered{CheckpointID: cp, Kind: domain.KindSubway})
	return cp
}

// Times below are UTC; local days are Asia/Shanghai's (UTC+8).

func TestR1Symptoms(t *testing.T) {
	l := &ledger{t: t}
	p, q, r := newPerson(l), newPerson(l), newPerson(l)
	l.add("2020-03-01T02:00:00Z", domain.SymptomsReported{PersonID: p, Symptoms: sym("cough"), Source: domain.SymptomSourceSelf})
	l.add("2020-03-01T02:00:00Z", domain.SymptomsReported{PersonID: q, Symptoms: sym("fatigue"), Source: domain.SymptomSourceSelf})
	l.add("2020-03-01T02:00:00Z", domain.HealthFormSubmitted{PersonID: r, TemperatureCelsius: ptr(37.3)})
	l.expect(p, domain.Green, "", "2020-03-01T01:59:59Z")
	l.expect(p, domain.Red, domain.RuleR1, "2020-03-01T02:00:00Z", "2020-03-15T01:59:59Z")
	l.expect(p, domain.Green, "", "2020-03-15T02:00:00Z") // quarantine is half-open
	l.expect(q, domain.Green, "", "2020-03-02T00:00:00Z") // fatigue does not trigger
	l.expect(r, domain.Red, domain.RuleR1, "2020-03-02T00:00:00Z")
	s := newPerson(l)
	l.add("2020-03-01T02:00:00Z", domain.HealthFormSubmitted{PersonID: s, TemperatureCelsius: ptr(37.2)})
	l.expect(s, domain.Green, "", "2020-03-02T00:00:00Z")
}

func TestR1ReadingAtADeniedScan(t *testing.T) {
	l := &ledger{t: t}
	p, cp := newPerson(l), newCheckpoint(l)
	l.add("2020-03-01T02:00:00Z", scanOf(cp, p, false, ptr(38.1)))
	l.expect(p, domain.Red, domain.RuleR1, "2020-03-01T02:00:00Z")
}

func TestR2UntilRuledOut(t *testing.T) {
	l := &ledger{t: t}
	p := newPerson(l)
	l.add("2020-03-01T02:00:00Z", domain.DiagnosisRecorded{PersonID: p, Result: domain.DiagnosisSuspected})
	l.expect(p, domain.Red, domain.RuleR2, "2020-03-01T02:00:00Z", "2020-06-01T00:00:00Z") // no fixed end
	l.add("2020-03-03T02:00:00Z", domain.DiagnosisRecorded{PersonID: p, Result: domain.DiagnosisRuledOut})
	l.expect(p, domain.Red, domain.RuleR2, "2020-03-03T01:59:59Z")
	l.expect(p, domain.Green, "", "2020-03-03T02:00:00Z", "2020-06-01T00:00:00Z")
}

func TestRuledOutEndsOnlyTheIntervalsItFallsIn(t *testing.T) {
	l := &ledger{t: t}
	p := newPerson(l)
	l.add("2020-03-01T02:00:00Z", domain.SymptomsReported{PersonID: p, Symptoms: sym("fever"), Source: domain.SymptomSourceSelf})
	l.add("2020-03-02T02:00:00Z", domain.DiagnosisRecorded{PersonID: p, Result: domain.DiagnosisRuledOut})
	l.add("2020-03-05T02:00:00Z", domain.SymptomsReported{PersonID: p, Symptoms: sym("cough"), Source: domain.SymptomSourceSelf})
	l.expect(p, domain.Red, domain.RuleR1, "2020-03-02T01:59:59Z")
	l.expect(p, domain.Green, "", "2020-03-02T02:00:00Z", "2020-03-05T01:59:59Z")
	l.expect(p, domain.Red, domain.RuleR1, "2020-03-05T02:00:00Z") // starts later: untouched
}

func TestR3KeyAreaOnTheArrivalDay(t *testing.T) {
	l := &ledger{t: t}
	p, q := newPerson(l), newPerson(l)
	l.add("2020-02-01T00:00:00Z", domain.KeyAreaDesignated{Region: region("Hubei"), From: date("2020-02-01")})
	l.add("2020-02-09T00:00:00Z", domain.KeyAreaLifted{Region: region("hubei"), From: date("2020-02-10")})
	// Arrived the day before the lift: red from the start of the local day.
	l.add("2020-02-12T01:00:00Z", domain.HealthFormSubmitted{PersonID: p, Travel: []domain.Travel{{Region: region("HUBEI"), ArrivedOn: date("2020-02-09")}}})
	// Arrived the day the lift took effect: not a key area.
	l.add("2020-02-12T01:00:00Z", domain.HealthFormSubmitted{PersonID: q, Travel: []domain.Travel{{Region: region("Hubei"), ArrivedOn: date("2020-02-10")}}})
	l.expect(p, domain.Red, domain.RuleR3, "2020-02-08T16:00:00Z", "2020-02-22T15:59:59Z") // 2020-02-09 00:00 +08:00, 14 days
	l.expect(p, domain.Green, "", "2020-02-08T15:59:59Z", "2020-02-22T16:00:00Z")
	l.expect(q, domain.Green, "", "2020-02-12T02:00:00Z")
}

func TestR3IsRetroactiveAndKnowledgeTimeSeesItLate(t *testing.T) {
	l := &ledger{t: t}
	p := newPerson(l)
	// Designated after the arrival, effective before it.
	l.add("2020-02-20T00:00:00Z", domain.KeyAreaDesignated{Region: region("South Korea"), From: date("2020-02-15")})
	l.addKnown("2020-02-18T01:00:00Z", "2020-02-21T00:00:00Z",
		domain.HealthFormSubmitted{PersonID: p, Travel: []domain.Travel{{Region: region("South Korea"), ArrivedOn: date("2020-02-16")}}})
	l.expect(p, domain.Red, domain.RuleR3, "2020-02-17T00:00:00Z")
	if a := l.colour(p, "2020-02-17T00:00:00Z", "2020-02-20T12:00:00Z"); a.Colour != domain.Green {
		t.Errorf("as known before the form was recorded: %s, want green", a.Colour)
	}
}

func TestY1CloseContactAtTheWindowsEdge(t *testing.T) {
	l := &ledger{t: t}
	c, near, far, denied, cp := newPerson(l), newPerson(l), newPerson(l), newPerson(l), newCheckpoint(l)
	caseRef := l.add("2020-03-05T02:00:00Z", domain.SymptomsReported{PersonID: c, Symptoms: sym("fever"), Onset: date("2020-03-04"), Source: domain.SymptomSourceSelf})
	// The window opens 48 h before the onset day's start: 2020-03-01T16:00Z.
	caseScan := l.add("2020-03-03T10:00:00Z", scanOf(cp, c, true, nil))
	nearScan := l.add("2020-03-03T10:30:00Z", scanOf(cp, near, true, nil)) // exactly contact_window later
	l.add("2020-03-03T10:30:01Z", scanOf(cp, far, true, nil))              // one second too late
	l.add("2020-03-03T10:10:00Z", scanOf(cp, denied, false, nil))          // denied: not in
	a := l.colour(near, "2020-03-03T10:30:00Z", "")
	if a.Colour != domain.Yellow || a.Reasons[0].Rule != domain.RuleY1 || !a.Reasons[0].From.Equal(at("2020-03-03T10:30:00Z")) ||
		!a.Reasons[0].Until.Equal(at("2020-03-17T10:30:00Z")) {
		t.Fatalf("near: %+v", a)
	}
	cited := map[domain.EventRef]bool{}
	for _, e := range a.Reasons[0].Events {
		cited[e] = true
	}
	if !cited[caseScan] || !cited[nearScan] || !cited[caseRef] {
		t.Errorf("Y1 cites %v; want both scans and the case's report", a.Reasons[0].Events)
	}
	l.expect(near, domain.Green, "", "2020-03-03T10:29:59Z", "2020-03-17T10:30:00Z")
	l.expect(far, domain.Green, "", "2020-03-04T00:00:00Z")
	l.expect(denied, domain.Green, "", "2020-03-04T00:00:00Z")
}

func TestY1OutsideTheInfectiousWindow(t *testing.T) {
	l := &ledger{t: t}
	c, o, cp := newPerson(l), newPerson(l), newCheckpoint(l)
	l.add("2020-03-05T02:00:00Z", domain.SymptomsReported{PersonID: c, Symptoms: sym("fever"), Source: domain.SymptomSourceSelf})
	// Onset day 2020-03-05 (local): the window opens 2020-03-02T16:00Z.
	l.add("2020-03-02T15:50:00Z", scanOf(cp, c, true, nil))
	l.add("2020-03-02T15:55:00Z", scanOf(cp, o, true, nil))
	l.expect(o, domain.Green, "", "2020-03-03T00:00:00Z")
}

func TestRuledOutCaseReleasesOnlyItsOwnContacts(t *testing.T) {
	l := &ledger{t: t}
	c1, c2, o, cp := newPerson(l), newPerson(l), newPerson(l), newCheckpoint(l)
	l.add("2020-03-03T02:00:00Z", domain.DiagnosisRecorded{PersonID: c1, Result: domain.DiagnosisSuspected})
	l.add("2020-03-03T03:00:00Z", scanOf(cp, c1, true, nil))
	l.add("2020-03-03T03:05:00Z", scanOf(cp, o, true, nil))
	l.add("2020-03-06T02:00:00Z", domain.DiagnosisRecorded{PersonID: c1, Result: domain.DiagnosisRuledOut})
	l.expect(o, domain.Yellow, domain.RuleY1, "2020-03-05T00:00:00Z")
	l.expect(o, domain.Green, "", "2020-03-06T02:00:00Z")
	// Another case's exposure stands.
	l.add("2020-03-03T02:00:00Z", domain.DiagnosisRecorded{PersonID: c2, Result: domain.DiagnosisConfirmed})
	l.add("2020-03-04T03:00:00Z", scanOf(cp, c2, true, nil))
	l.add("2020-03-04T03:10:00Z", scanOf(cp, o, true, nil))
	l.expect(o, domain.Yellow, domain.RuleY1, "2020-03-06T02:00:00Z", "2020-03-18T03:09:59Z")
	// recovered releases no one.
	l.add("2020-03-07T02:00:00Z", domain.DiagnosisRecorded{PersonID: c2, Result: domain.DiagnosisRecovered})
	l.expect(o, domain.Yellow, domain.RuleY1, "2020-03-08T00:00:00Z")
}

func TestY2ReportedContacts(t *testing.T) {
	l := &ledger{t: t}
	c, a, b, i := newPerson(l), newPerson(l), newPerson(l), newPerson(l)
	l.add("2020-03-05T02:00:00Z", domain.DiagnosisRecorded{PersonID: c, Result: domain.DiagnosisConfirmed})
	// a: 45 sensor records of 20 s, back to back: 15 minutes.
	start := at("2020-03-04T01:00:00Z")
	for k := range 45 {
		end := start.Add(time.Duration(k+1) * 20 * time.Second)
		l.add(end.Format(time.RFC3339), domain.ContactReported{PersonID: c, OtherID: a, Source: domain.ContactSensor, Start: end.Add(-20 * time.Second), End: end})
	}
	// b: 44 records, 14 min 40 s.
	for k := range 44 {
		end := start.Add(time.Duration(k+1) * 20 * time.Second)
		l.add(end.Format(time.RFC3339), domain.ContactReported{PersonID: b, OtherID: c, Source: domain.ContactSensor, Start: end.Add(-20 * time.Second), End: end})
	}
	// i: an interview without an end.
	l.add("2020-03-05T03:00:00Z", domain.ContactReported{PersonID: c, OtherID: i, Source: domain.ContactInterview, Start: at("2020-03-04T05:00:00Z")})
	l.expect(a, domain.Yellow, domain.RuleY2, "2020-03-04T01:15:00Z", "2020-03-18T01:14:59Z")
	l.expect(a, domain.Green, "", "2020-03-04T01:14:59Z")
	l.expect(b, domain.Green, "", "2020-03-04T02:00:00Z")
	l.expect(i, domain.Yellow, domain.RuleY2, "2020-03-04T05:00:00Z")
}

func TestY3DeclaredContact(t *testing.T) {
	l := &ledger{t: t}
	p := newPerson(l)
	l.add("2020-03-04T01:00:00Z", domain.HealthFormSubmitted{PersonID: p, ContactWithCase: true})
	l.expect(p, domain.Yellow, domain.RuleY3, "2020-03-04T01:00:00Z", "2020-03-18T00:59:59Z")
	l.expect(p, domain.Green, "", "2020-03-18T01:00:00Z")
}

func TestOverrideWinsAndReportsItselfAlone(t *testing.T) {
	l := &ledger{t: t}
	p := newPerson(l)
	l.add("2020-03-01T02:00:00Z", domain.SymptomsReported{PersonID: p, Symptoms: sym("cough"), Source: domain.SymptomSourceSelf})
	l.add("2020-03-02T02:00:00Z", domain.ColourOverridden{PersonID: p, Colour: domain.Green, Reason: "negative test", Until: at("2020-03-03T02:00:00Z")})
	a := l.colour(p, "2020-03-02T12:00:00Z", "")
	if a.Colour != domain.Green || len(a.Reasons) != 1 || a.Reasons[0].Rule != domain.RuleOverride {
		t.Fatalf("under the override: %+v", a)
	}
	l.expect(p, domain.Red, domain.RuleR1, "2020-03-03T02:00:00Z")
}

func TestRetractionCountsFromItsRecording(t *testing.T) {
	l := &ledger{t: t}
	p := newPerson(l)
	ref := l.add("2020-03-01T02:00:00Z", domain.SymptomsReported{PersonID: p, Symptoms: sym("cough"), Source: domain.SymptomSourceSelf})
	l.add("2020-03-02T02:00:00Z", domain.FactRetracted{EventID: ref.ID, Reason: "wrong person"})
	if a := l.colour(p, "2020-03-01T12:00:00Z", "2020-03-01T12:00:00Z"); a.Colour != domain.Red {
		t.Errorf("as known before the retraction: %s", a.Colour)
	}
	l.expect(p, domain.Green, "", "2020-03-01T12:00:00Z")
}

func TestEachIntervalUsesThePolicyInForceWhenItOpened(t *testing.T) {
	l := &ledger{t: t}
	p, q := newPerson(l), newPerson(l)
	params := domain.DefaultPolicyParams()
	params.Quarantine = 7 * 24 * time.Hour
	l.add("2020-03-01T00:00:00Z", domain.PolicyPublished{Version: 2, Params: params, EffectiveFrom: at("2020-03-10T00:00:00Z")})
	l.add("2020-03-09T00:00:00Z", domain.SymptomsReported{PersonID: p, Symptoms: sym("cough"), Source: domain.SymptomSourceSelf})
	l.add("2020-03-10T00:00:00Z", domain.SymptomsReported{PersonID: q, Symptoms: sym("cough"), Source: domain.SymptomSourceSelf})
	l.expect(p, domain.Red, domain.RuleR1, "2020-03-22T23:59:59Z") // version 1: 14 days
	l.expect(q, domain.Green, "", "2020-03-17T00:00:00Z")          // version 2: 7 days
	if a := l.colour(q, "2020-03-12T00:00:00Z", ""); a.Reasons[0].Policy != 2 {
		t.Errorf("policy of q's interval: %d, want 2", a.Reasons[0].Policy)
	}
}

func TestALateSymptomReportAsKnownBeforeAndAfter(t *testing.T) {
	l := &ledger{t: t}
	c, o, cp := newPerson(l), newPerson(l), newCheckpoint(l)
	l.add("2020-03-03T10:00:00Z", scanOf(cp, c, true, nil))
	l.add("2020-03-03T10:05:00Z", scanOf(cp, o, true, nil))
	// Symptoms from 2020-03-04, reported on the 6th, recorded on the 7th.
	l.addKnown("2020-03-06T02:00:00Z", "2020-03-07T00:00:00Z",
		domain.SymptomsReported{PersonID: c, Symptoms: sym("cough"), Onset: date("2020-03-04"), Source: domain.SymptomSourceClinic})
	for _, tc := range []struct {
		known string
		want  domain.Colour
	}{{"2020-03-06T23:59:59Z", domain.Green}, {"2020-03-07T00:00:00Z", domain.Yellow}, {"", domain.Yellow}} {
		if a := l.colour(o, "2020-03-05T00:00:00Z", tc.known); a.Colour != tc.want {
			t.Errorf("o on the 5th as known at %q: %s, want %s", tc.known, a.Colour, tc.want)
		}
	}
}

func TestDecodeFact(t *testing.T) {
	id, _ := domain.EventIDFromUUID(uuid.New())
	ref := domain.EventRef{ID: id, Position: 7}
	f, ok, err := domain.DecodeFact(ref, domain.EvDiagnosisRecorded, at("2020-03-01T00:00:00Z"), at("2020-03-01T00:00:01Z"),
		[]byte(`{"person_id":"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f","result":"confirmed"}`))
	if err != nil || !ok || f.Body.(domain.DiagnosisRecorded).Result != domain.DiagnosisConfirmed || f.Ref != ref {
		t.Fatalf("DecodeFact: %+v %v %v", f, ok, err)
	}
	if _, ok, err := domain.DecodeFact(ref, domain.EvIdentityVerified, at("2020-03-01T00:00:00Z"), at("2020-03-01T00:00:00Z"), []byte(`{}`)); ok || err != nil {
		t.Fatalf("an event the policy does not read: %v %v", ok, err)
	}
	if _, _, err := domain.DecodeFact(ref, domain.EvDiagnosisRecorded, at("2020-03-01T00:00:00Z"), at("2020-03-01T00:00:00Z"), []byte(`{"result":"maybe"}`)); err == nil {
		t.Fatal("a payload that does not decode")
	}
}

// TestEvaluateAgreesWithAllPairsAndKnowledgeTimeIsAPrefix: on random small
// ledgers, (1) Y1 found through the time index equals Y1 found by trying
// every pair of scans, and (2) judging as known at K equals judging the
// facts recorded by K, minus those retracted by K, as known at the end.
func TestEvaluateAgreesWithAllPairsAndKnowledgeTimeIsAPrefix(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	base := at("2020-03-01T00:00:00Z")
	for seed := range 200 {
		rng := newRand(uint64(seed))
		l := &ledger{t: t}
		var persons []domain.PersonID
		for range 6 {
			persons = append(persons, newPerson(l))
		}
		cps := []domain.CheckpointID{newCheckpoint(l), newCheckpoint(l)}
		var refs []domain.EventRef
		for range 40 {
			occurred := base.Add(time.Duration(rng.IntN(6*24*60)) * time.Minute)
			recorded := occurred.Add(time.Duration(rng.IntN(3*24*60)) * time.Minute)
			p := persons[rng.IntN(len(persons))]
			var body any
			switch rng.IntN(8) {
			case 0:
				body = domain.SymptomsReported{PersonID: p, Symptoms: sym("fever"), Source: domain.SymptomSourceSelf}
			case 1:
				body = domain.DiagnosisRecorded{PersonID: p, Result: domain.DiagnosisResults()[rng.IntN(4)]}
			case 2:
				body = domain.HealthFormSubmitted{PersonID: p, ContactWithCase: rng.IntN(4) == 0}
			case 3:
				if len(refs) > 0 {
					body = domain.FactRetracted{EventID: refs[rng.IntN(len(refs))].ID, Reason: "test"}
				}
			default:
				body = scanOf(cps[rng.IntN(2)], p, rng.IntN(6) > 0, nil)
			}
			if body == nil {
				continue
			}
			refs = append(refs, l.addKnown(occurred.Format(time.RFC3339), recorded.Format(time.RFC3339), body))
		}
		whole := domain.Evaluate(l.facts, time.Time{}, loc)
		// (1) Y1 by all pairs.
		want := allPairsY1(l.facts, whole, loc)
		for _, p := range persons {
			var got []string
			for _, iv := range whole.Intervals(p) {
				if iv.Rule == domain.RuleY1 {
					got = append(got, fmt.Sprintf("%s %v", iv.From.Format(time.RFC3339), iv.Events[:2]))
				}
			}
			if fmt.Sprint(sortedStrings(got)) != fmt.Sprint(sortedStrings(want[p])) {
				t.Fatalf("seed %d, person %s: Y1 %v, all pairs %v", seed, p, got, want[p])
			}
		}
		// (2) Knowledge time.
		for range 5 {
			known := base.Add(time.Duration(rng.IntN(9*24*60)) * time.Minute)
			retracted := map[domain.EventID]bool{}
			for _, f := range l.facts {
				if r, ok := f.Body.(domain.FactRetracted); ok && !f.RecordedAt.After(known) {
					retracted[r.EventID] = true
				}
			}
			var prefix []domain.Fact
			for _, f := range l.facts {
				if !f.RecordedAt.After(known) && !retracted[f.Ref.ID] {
					prefix = append(prefix, f)
				}
			}
			a, b := domain.Evaluate(l.facts, known, loc), domain.Evaluate(prefix, time.Time{}, loc)
			for _, p := range persons {
				when := base.Add(time.Duration(rng.IntN(20*24)) * time.Hour)
				if x, y := a.ColourAt(p, when), b.ColourAt(p, when); x.Colour != y.Colour || len(x.Reasons) != len(y.Reasons) {
					t.Fatalf("seed %d: %s at %s as known at %s: %s, but the facts known then give %s", seed, p, when, known, x.Colour, y.Colour)
				}
			}
		}
	}
}

// allPairsY1 finds Y1 exposures by trying every pair of admitted scans at
// one checkpoint, with the windows of the judgement's index cases.
func allPairsY1(facts []domain.Fact, j *domain.Judgement, loc *time.Location) map[domain.PersonID][]string {
	out := map[domain.PersonID][]string{}
	retracted := map[domain.EventID]bool{}
	for _, f := range facts {
		if r, ok := f.Body.(domain.FactRetracted); ok {
			retracted[r.EventID] = true
		}
	}
	var scans []domain.Fact
	for _, f := range facts {
		if s, ok := f.Body.(domain.ScanRecorded); ok && s.Admitted && !retracted[f.Ref.ID] {
			scans = append(scans, f)
		}
	}
	inWindow := func(p domain.PersonID, t time.Time) bool {
		for _, iv := range j.Intervals(p) {
			if iv.Rule != domain.RuleR1 && iv.Rule != domain.RuleR2 {
				continue
			}
			onset := domain.DateOf(iv.From, loc)
			if !t.Before(onset.Start(loc).Add(-48*time.Hour)) && (iv.Until.IsZero() || t.Before(iv.Until)) {
				return true
			}
		}
		return false
	}
	for _, s := range scans {
		for _, o := range scans {
			sb, ob := s.Body.(domain.ScanRecorded), o.Body.(domain.ScanRecorded)
			if s.Ref == o.Ref || sb.CheckpointID != ob.CheckpointID || sb.Subject.PersonID == ob.Subject.PersonID ||
				!inWindow(sb.Subject.PersonID, s.OccurredAt) {
				continue
			}
			d := s.OccurredAt.Sub(o.OccurredAt)
			if d < 0 {
				d = -d
			}
			if d > 30*time.Minute {
				continue
			}
			later := s.OccurredAt
			if o.OccurredAt.After(later) {
				later = o.OccurredAt
			}
			// Released by a ruled_out of the case: the interval may be cut, not dropped.
			out[ob.Subject.PersonID] = append(out[ob.Subject.PersonID], fmt.Sprintf("%s %v", later.Format(time.RFC3339), []domain.EventRef{s.Ref, o.Ref}))
		}
	}
	return out
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

// TestDecodeFactAgrees: DecodeFact reads each kind of payload, as
// encoding/json writes it, to the value encoding/json reads from it.
func TestDecodeFactAgrees(t *testing.T) {
	p, q := pid(uuid.NewString()), pid(uuid.NewString())
	cp, _ := domain.ParseCheckpointID(uuid.NewString())
	eid, _ := domain.EventIDFromUUID(uuid.New())
	params := domain.DefaultPolicyParams()
	params.ContactWindowByKind[domain.KindSubway] = 10 * time.Minute
	hubei := region("Hubei")
	bodies := []any{
		domain.PersonRegistered{PersonID: p, Document: domain.SealedDocument{Type: domain.DocumentPassport, Country: "FR", Number: "sealed", Index: "ix"},
			Name: "n", Nationality: "FR", Phone: "ph", RegisteredBy: q},
		domain.HealthFormSubmitted{PersonID: p, Travel: []domain.Travel{{Region: hubei, ArrivedOn: date("2020-02-09")}}, Symptoms: sym("fever", "fatigue"),
			TemperatureCelsius: ptr(37.4), ContactWithCase: true},
		domain.HealthFormSubmitted{PersonID: p, Travel: []domain.Travel{}, Symptoms: []domain.Symptom{}},
		domain.SymptomsReported{PersonID: p, Symptoms: sym("cough"), Onset: date("2020-03-01"), Source: domain.SymptomSourceClinic},
		domain.SymptomsReported{PersonID: p, Symptoms: sym("cough"), Source: domain.SymptomSourceSelf},
		domain.DiagnosisRecorded{PersonID: p, Result: domain.DiagnosisRuledOut},
		domain.KeyAreaDesignated{Region: hubei, From: date("2020-01-23")},
		domain.KeyAreaLifted{Region: hubei, From: date("2020-04-08")},
		domain.PolicyPublished{Version: 2, Params: params, EffectiveFrom: at("2020-03-01T00:00:00Z")},
		domain.CheckpointRegistered{CheckpointID: cp, Name: "Gate \"3\" \u00e9", Kind: domain.KindSubway, District: "Xuhui",
			Admits: []domain.Colour{domain.Green, domain.Yellow}, Recognises: []string{"JS", "ZJ"}},
		scanOf(cp, p, true, ptr(36.5)),
		domain.ScanRecorded{CheckpointID: cp, Subject: domain.ScanSubject{Kind: domain.SubjectForeign, Issuer: "JS", Pseudonym: "x"},
			Method: domain.ScanQR, Admitted: false, Reason: "red is not admitted here", Colour: domain.Red, ViewPosition: 12},
		domain.ScanRecorded{CheckpointID: cp, Subject: domain.ScanSubject{Kind: domain.SubjectVisitor, VisitorIndex: "v"}, Method: domain.ScanManual},
		domain.ContactReported{PersonID: p, OtherID: q, Source: domain.ContactSensor, Start: at("2020-03-01T00:00:00Z"), End: at("2020-03-01T00:00:20Z")},
		domain.ContactReported{PersonID: p, OtherID: q, Source: domain.ContactInterview, Start: at("2020-03-01T00:00:00Z")},
		domain.ColourOverridden{PersonID: p, Colour: domain.Yellow, Reason: "r", Until: at("2020-03-09T00:00:00Z")},
		domain.FactRetracted{EventID: eid, Reason: "wrong person"},
	}
	l := &ledger{t: t}
	for _, body := range bodies {
		payload, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		ref := l.addKnown("2020-03-01T00:00:00Z", "2020-03-01T00:00:00Z", body)
		typ := l.facts[len(l.facts)-1].Type
		f, ok, err := domain.DecodeFact(ref, typ, at("2020-03-01T00:00:00Z"), at("2020-03-01T00:00:00Z"), payload)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", payload, ok, err)
		}
		want := reflect.New(reflect.TypeOf(body))
		if err := json.Unmarshal(payload, want.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(f.Body, want.Elem().Interface()) {
			t.Errorf("%s:\nDecodeFact  %#v\nencoding/json %#v", payload, f.Body, want.Elem().Interface())
		}
	}
}

// BenchmarkDecodeFact: a scan's payload read by DecodeFact, and by
// encoding/json into the same type.
func BenchmarkDecodeFact(b *testing.B) {
	cp, _ := domain.ParseCheckpointID("0b8e2b36-6a3f-4d0e-8a59-4c0f3f6e7d21")
	payload, err := json.Marshal(scanOf(cp, pid("5f0c6a8e-1b7e-4a53-9d57-2f4e2b8f4a10"), true, ptr(36.5)))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("DecodeFact", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := domain.DecodeFact(domain.EventRef{Position: 1}, domain.EvScanRecorded, time.Time{}, time.Time{}, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var s domain.ScanRecorded
			if err := json.Unmarshal(payload, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
