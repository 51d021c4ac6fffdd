package domain_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/riskledger/riskledger/domain"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestEventTypeNamesAreStable guards the names already written to ledgers:
// renaming one would orphan every event of that type.
func TestEventTypeNamesAreStable(t *testing.T) {
	want := []string{"PersonRegistered", "DocumentClaimed", "IdentityVerified", "DependentApplied", "DependentEnded",
		"HealthFormSubmitted", "SymptomsReported", "DiagnosisRecorded", "KeyAreaDesignated", "KeyAreaLifted",
		"PolicyPublished", "CheckpointRegistered", "ScanRecorded", "ContactReported", "ColourOverridden",
		"PersonErased", "FactRetracted", "ColourAssigned", "CodeIssued", "IssuerTrusted", "IssuerRevoked", "IssuerKeyRetired",
		"TokenCreated", "TokenRevoked", "AccessRecorded"}
	got := domain.EventTypes()
	if len(got) != len(want) {
		t.Fatalf("%d event types, want %d", len(got), len(want))
	}
	for _, name := range want {
		if v, ok := got[name]; !ok || v < 1 {
			t.Errorf("event type %s missing or without a schema version", name)
		}
	}
}

func TestEventsRoundTripThroughJSON(t *testing.T) {
	p := must(domain.ParsePersonID("0b8e2b36-6a3f-4d0e-8a59-4c0f3f6e7d21"))
	q := must(domain.ParsePersonID("5f0c6a8e-1b7e-4a53-9d57-2f4e2b8f4a10"))
	cp := must(domain.ParseCheckpointID("9a1b7c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"))
	day := must(domain.ParseDate("2020-03-01"))
	hubei := must(domain.ParseRegion("Hubei"))
	fever := must(domain.ParseSymptom("fever"))
	at := time.Date(2020, 3, 1, 9, 30, 0, 0, time.UTC)
	temp := 37.8
	events := []any{
		&domain.PersonRegistered{PersonID: q, Document: domain.SealedDocument{Type: domain.DocumentPassport, Country: "FR", Number: "v1.abc", Index: "ff00"},
			Name: "v1.def", Nationality: "FR", RegisteredBy: p},
		&domain.DependentApplied{GuardianID: p, DependentID: q, UsableFrom: day.Next()},
		&domain.HealthFormSubmitted{PersonID: p, Travel: []domain.Travel{{Region: hubei, ArrivedOn: day}}, Symptoms: []domain.Symptom{fever}, TemperatureCelsius: &temp, ContactWithCase: true},
		&domain.SymptomsReported{PersonID: p, Symptoms: []domain.Symptom{fever}, Onset: day, Source: domain.SymptomSourceCheckpoint},
		&domain.DiagnosisRecorded{PersonID: p, Result: domain.DiagnosisConfirmed},
		&domain.CheckpointRegistered{CheckpointID: cp, Name: "Line 2 gate", Kind: domain.KindSubway, District: "Huangpu", Admits: []domain.Colour{domain.Green}, Recognises: []string{"JS"}},
		&domain.ScanRecorded{CheckpointID: cp, Subject: domain.ScanSubject{Kind: domain.SubjectPerson, PersonID: p}, Method: domain.ScanQR,
			TemperatureCelsius: &temp, Admitted: false, Reason: "fever", Colour: domain.Red, ViewPosition: 41},
		&domain.ContactReported{PersonID: p, OtherID: q, Source: domain.ContactSensor, Start: at.Add(-20 * time.Second), End: at},
		&domain.ColourOverridden{PersonID: p, Colour: domain.Green, Reason: "lab error", Until: at.Add(24 * time.Hour)},
		&domain.PolicyPublished{Version: 2, Params: domain.DefaultPolicyParams(), EffectiveFrom: at},
	}
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("%T: %v", e, err)
		}
		back := reflect.New(reflect.TypeOf(e).Elem()).Interface()
		if err := json.Unmarshal(b, back); err != nil {
			t.Fatalf("%T from %s: %v", e, b, err)
		}
		if !reflect.DeepEqual(e, back) {
			t.Errorf("%T did not round-trip:\n %+v\n %+v\n via %s", e, e, back, b)
		}
	}
}

func TestDeriveEventID(t *testing.T) {
	a, b := domain.DeriveEventID("line-7", 0), domain.DeriveEventID("line-7", 0)
	if a != b {
		t.Fatal("the same command and index give different ids")
	}
	if domain.DeriveEventID("line-7", 1) == a || domain.DeriveEventID("line-8", 0) == a {
		t.Fatal("different commands or indexes share an id")
	}
	// "a#1" + index 1 must not meet "a" + index 11.
	if domain.DeriveEventID("a#1", 1) == domain.DeriveEventID("a", 11) {
		t.Fatal("keys and indexes run together")
	}
}

// An interval reads back as it was written: a stored decision keeps the
// policy version that judged it.
func TestIntervalRoundTripsThroughJSON(t *testing.T) {
	from := time.Date(2020, 3, 1, 8, 0, 0, 0, time.UTC)
	id := must(domain.ParseEventID("0b8e2b36-6a3f-4d0e-8a59-4c0f3f6e7d21"))
	for _, iv := range []domain.Interval{
		{Rule: domain.RuleY1, From: from, Until: from.Add(336 * time.Hour), Events: []domain.EventRef{{ID: id, Position: 7}}, Policy: 2},
		{Rule: domain.RuleR2, From: from, Events: []domain.EventRef{{ID: id, Position: 9}}, Policy: 1}, // open: until null
	} {
		b, err := json.Marshal(iv)
		if err != nil {
			t.Fatal(err)
		}
		var back domain.Interval
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, iv) {
			t.Errorf("%s read back as %+v (%v), want %+v", b, back, err, iv)
		}
	}
}
