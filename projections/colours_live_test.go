package projections_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/projections"
)

var shanghai = func() *time.Location { l, _ := time.LoadLocation("Asia/Shanghai"); return l }()

// eventTypes names the event type of each fact body.
func eventType(body any) string {
	switch body.(type) {
	case domain.PersonRegistered:
		return domain.EvPersonRegistered
	case domain.HealthFormSubmitted:
		return domain.EvHealthFormSubmitted
	case domain.SymptomsReported:
		return domain.EvSymptomsReported
	case domain.DiagnosisRecorded:
		return domain.EvDiagnosisRecorded
	case domain.KeyAreaDesignated:
		return domain.EvKeyAreaDesignated
	case domain.KeyAreaLifted:
		return domain.EvKeyAreaLifted
	case domain.PolicyPublished:
		return domain.EvPolicyPublished
	case domain.CheckpointRegistered:
		return domain.EvCheckpointRegistered
	case domain.ScanRecorded:
		return domain.EvScanRecorded
	case domain.ContactReported:
		return domain.EvContactReported
	case domain.ColourOverridden:
		return domain.EvColourOverridden
	case domain.FactRetracted:
		return domain.EvFactRetracted
	}
	panic(fmt.Sprintf("no event type for %T", body))
}

// randomLedger is a small random ledger as the store would deliver it:
// positions 1..n, recording times increasing, occurrence times scattered
// over a fortnight (late reports included).
type randomLedger struct {
	events  []eventstore.Event
	persons []domain.PersonID
	base    time.Time
}

func (l *randomLedger) add(occurred time.Time, body any) eventstore.Event {
	payload, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	n := int64(len(l.events) + 1)
	e := eventstore.Event{Position: n, ID: uuid.New(), Type: eventType(body), OccurredAt: occurred,
		RecordedAt: l.base.Add(time.Duration(n) * 20 * time.Minute), Payload: payload}
	l.events = append(l.events, e)
	return e
}

func newRandomLedger(seed uint64, size int) *randomLedger {
	rng := rand.New(rand.NewPCG(seed, 7))
	base := time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)
	l := &randomLedger{base: base}
	for range 7 {
		p, _ := domain.ParsePersonID(uuid.NewString())
		l.persons = append(l.persons, p)
		l.add(base, domain.PersonRegistered{PersonID: p, Document: domain.SealedDocument{Type: domain.DocumentResidentID}})
	}
	var cps []domain.CheckpointID
	for _, kind := range []domain.CheckpointKind{domain.KindSubway, domain.KindPark} {
		cp, _ := domain.ParseCheckpointID(uuid.NewString())
		cps = append(cps, cp)
		l.add(base, domain.CheckpointRegistered{CheckpointID: cp, Kind: kind, Admits: []domain.Colour{domain.Green}})
	}
	hubei, _ := domain.ParseRegion("Hubei")
	minute := func(max int) time.Duration { return time.Duration(rng.IntN(max)) * time.Minute }
	temp := func() *float64 {
		t := []float64{36.5, 37.0, 37.3, 38.1}[rng.IntN(4)]
		return &t
	}
	for range size {
		occurred := base.Add(minute(14 * 24 * 60))
		p := l.persons[rng.IntN(len(l.persons))]
		q := l.persons[rng.IntN(len(l.persons))]
		var body any
		switch k := rng.IntN(20); {
		case k < 9:
			// Scans crowd into a few hours so that co-presence happens.
			at := base.Add(time.Duration(rng.IntN(14))*24*time.Hour + 8*time.Hour + minute(120))
			var t *float64
			if rng.IntN(3) == 0 {
				t = temp()
			}
			l.add(at, domain.ScanRecorded{CheckpointID: cps[rng.IntN(len(cps))], Method: domain.ScanImported,
				Subject: domain.ScanSubject{Kind: domain.SubjectPerson, PersonID: p}, Admitted: rng.IntN(6) > 0, TemperatureCelsius: t})
			continue
		case k < 11:
			body = domain.SymptomsReported{PersonID: p, Symptoms: []domain.Symptom{[]domain.Symptom{mustSymptom("fever"), mustSymptom("fatigue")}[rng.IntN(2)]},
				Source: domain.SymptomSourceSelf}
		case k < 13:
			body = domain.DiagnosisRecorded{PersonID: p, Result: domain.DiagnosisResults()[rng.IntN(4)]}
		case k < 14:
			form := domain.HealthFormSubmitted{PersonID: p, ContactWithCase: rng.IntN(3) == 0}
			if rng.IntN(2) == 0 {
				form.Travel = []domain.Travel{{Region: hubei, ArrivedOn: domain.DateOf(occurred.Add(-minute(3*24*60)), shanghai)}}
			}
			if rng.IntN(3) == 0 {
				form.TemperatureCelsius = temp()
			}
			if rng.IntN(3) == 0 {
				form.Symptoms = []domain.Symptom{mustSymptom([]string{"cough", "fatigue"}[rng.IntN(2)])}
			}
			body = form
		case k < 16:
			if p == q {
				continue
			}
			c := domain.ContactReported{PersonID: p, OtherID: q, Source: domain.ContactInterview, Start: occurred}
			if rng.IntN(2) == 0 {
				c.Source, c.Start, c.End = domain.ContactSensor, occurred.Add(-20*time.Second), occurred
			} else if rng.IntN(2) == 0 {
				c.End = occurred.Add(minute(40))
			}
			body = c
		case k < 17:
			body = domain.ColourOverridden{PersonID: p, Colour: domain.Colours()[rng.IntN(3)], Reason: "test", Until: occurred.Add(minute(3 * 24 * 60))}
		case k < 18:
			if rng.IntN(2) == 0 {
				body = domain.KeyAreaDesignated{Region: hubei, From: domain.DateOf(occurred, shanghai)}
			} else {
				body = domain.KeyAreaLifted{Region: hubei, From: domain.DateOf(occurred, shanghai)}
			}
		case k < 19:
			target := l.events[rng.IntN(len(l.events))]
			id, _ := domain.EventIDFromUUID(target.ID)
			body = domain.FactRetracted{EventID: id, Reason: "test"}
		default:
			params := domain.DefaultPolicyParams()
			params.ContactWindow = []time.Duration{10, 30, 60}[rng.IntN(3)] * time.Minute
			params.Observation = []time.Duration{7, 14}[rng.IntN(2)] * 24 * time.Hour
			params.FeverCelsius = []float64{37.0, 37.3, 37.5}[rng.IntN(3)]
			body = domain.PolicyPublished{Version: len(l.events) + 1, Params: params, EffectiveFrom: occurred}
		}
		l.add(occurred, body)
	}
	return l
}

func mustSymptom(s string) domain.Symptom {
	v, err := domain.ParseSymptom(s)
	if err != nil {
		panic(err)
	}
	return v
}

// pure judges the ledger's first n events as known at the last one's
// recording time, with the pure policy function.
func pure(t *testing.T, evs []eventstore.Event) *domain.Judgement {
	t.Helper()
	var facts []domain.Fact
	for _, e := range evs {
		id, _ := domain.EventIDFromUUID(e.ID)
		f, ok, err := domain.DecodeFact(domain.EventRef{ID: id, Position: e.Position}, e.Type, e.OccurredAt, e.RecordedAt, e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			facts = append(facts, f)
		}
	}
	known := time.Time{}
	if len(evs) > 0 {
		known = evs[len(evs)-1].RecordedAt
	}
	return domain.Evaluate(facts, known, shanghai)
}

func answerJSON(a domain.Answer) string {
	b, _ := json.Marshal(a)
	return string(b)
}

// TestLiveRebuildAndPureAgree: for random small ledgers, the live
// projection (events one at a time, flushed at random moments as time
// passes), a rebuild (all events, one flush) and the pure function give
// every person the same colour and reasons, at random times T and
// knowledge times K (the live projection stopped at K); and every decision
// the live projection made is what the pure function gives on the facts
// it names as its basis.
func TestLiveRebuildAndPureAgree(t *testing.T) {
	for seed := range 120 {
		rng := rand.New(rand.NewPCG(uint64(seed), 3))
		l := newRandomLedger(uint64(seed), 70)
		live := projections.NewColours(shanghai)
		now := l.base
		var decisions []domain.ColourAssigned
		check := func(n int) {
			j := pure(t, l.events[:n])
			for _, p := range l.persons {
				got, _ := live.ColourAt(p, now)
				if want := j.ColourAt(p, now); answerJSON(got) != answerJSON(want) {
					t.Fatalf("seed %d, %d events, %s at %s:\nlive %s\npure %s", seed, n, p, now, answerJSON(got), answerJSON(want))
				}
			}
			for _, r := range live.Rows() {
				if want := j.ColourAt(r.PersonID, now); answerJSON(r.Answer) != answerJSON(want) {
					t.Fatalf("seed %d, %d events, row of %s at %s:\nrow  %s\npure %s", seed, n, r.PersonID, now, answerJSON(r.Answer), answerJSON(want))
				}
			}
		}
		for i, e := range l.events {
			if err := live.Apply(e); err != nil {
				t.Fatal(err)
			}
			// Redelivery is skipped.
			if err := live.Apply(e); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(4) == 0 {
				now = now.Add(time.Duration(rng.IntN(36*60)) * time.Minute)
				live.Due(now)
				_, d := live.Flush(now, true)
				decisions = append(decisions, d...)
				check(i + 1)
			}
		}
		now = now.Add(time.Duration(rng.IntN(20*24*60)) * time.Minute)
		live.Due(now)
		_, d := live.Flush(now, true)
		decisions = append(decisions, d...)
		check(len(l.events))

		rebuilt := projections.NewColours(shanghai)
		if err := rebuilt.ApplyAll(l.events); err != nil {
			t.Fatal(err)
		}
		rebuilt.Flush(now, false)
		a, b := live.Rows(), rebuilt.Rows()
		if len(a) != len(b) {
			t.Fatalf("seed %d: live has %d rows, rebuild %d", seed, len(a), len(b))
		}
		for i := range a {
			if string(a[i].JSON()) != string(b[i].JSON()) {
				t.Fatalf("seed %d: live row %s\nrebuilt %s", seed, a[i].JSON(), b[i].JSON())
			}
		}
		for _, d := range decisions {
			want := domain.Decide(pure(t, l.events[:d.Basis]), d.PersonID, d.Previous, d.At, d.Basis, d.Seq)
			x, _ := json.Marshal(d)
			y, _ := json.Marshal(want)
			if string(x) != string(y) {
				t.Fatalf("seed %d: decision %s\npure gives %s", seed, x, y)
			}
		}
	}
}

// TestApplyRefusesAGap: an event past the next position changes nothing
// and says which positions are missing.
func TestApplyRefusesAGap(t *testing.T) {
	l := newRandomLedger(1, 5)
	c := projections.NewColours(shanghai)
	if err := c.Apply(l.events[0]); err != nil {
		t.Fatal(err)
	}
	err := c.Apply(l.events[2])
	var gap *projections.GapError
	if !errors.As(err, &gap) || gap.Applied != 1 || gap.Got != 3 {
		t.Fatalf("applying position 3 after 1: %v", err)
	}
	if c.Applied() != 1 {
		t.Fatalf("applied %d after a refused gap", c.Applied())
	}
}
