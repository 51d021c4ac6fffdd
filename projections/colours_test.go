package projections_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/projections"
)

// TestJudgeReadsTheLedger: the facts the policy reads come from the ledger
// in position order, decoded, the others left out; Judge evaluates them.
func TestJudgeReadsTheLedger(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, _ := domain.ParsePersonID(uuid.NewString())
	at := time.Date(2020, 3, 1, 2, 0, 0, 0, time.UTC)
	appendFact := func(typ string, body any) {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, eventstore.StreamAppend{Stream: domain.PersonStream(p),
			Events: []eventstore.NewEvent{{Type: typ, OccurredAt: at, Payload: b}}}); err != nil {
			t.Fatal(err)
		}
	}
	appendFact(domain.EvPersonRegistered, domain.PersonRegistered{PersonID: p, Nationality: "CN",
		Document: domain.SealedDocument{Type: domain.DocumentResidentID, Country: "CN"}})
	appendFact(domain.EvIdentityVerified, domain.IdentityVerified{PersonID: p, Method: domain.VerificationMethods()[0]})
	cough, _ := domain.ParseSymptom("cough")
	appendFact(domain.EvSymptomsReported, domain.SymptomsReported{PersonID: p, Symptoms: []domain.Symptom{cough}, Source: domain.SymptomSourceSelf})

	loc, _ := time.LoadLocation("Asia/Shanghai")
	c := projections.NewColours(loc)
	if err := (&projections.Runner{Store: s, Colours: c}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	facts, pos := c.Index().Facts(0), c.Applied()
	if pos != 3 || len(facts) != 2 || facts[0].Type != domain.EvPersonRegistered || facts[1].Ref.Position != 3 {
		t.Fatalf("the facts read: %d facts to %d: %+v", len(facts), pos, facts)
	}
	if facts := c.Index().Facts(2); len(facts) != 1 {
		t.Fatalf("the facts up to position 2: %d", len(facts))
	}
	j, pos, err := projections.Judge(ctx, s, time.Time{}, loc)
	if err != nil || pos != 3 {
		t.Fatalf("Judge: %v at %d", err, pos)
	}
	if a := j.ColourAt(p, at.Add(time.Hour)); a.Colour != domain.Red || a.Reasons[0].Events[0].Position != 3 {
		t.Fatalf("colour: %+v", a)
	}
	if j, _, _ := projections.Judge(ctx, s, at.Add(-time.Hour), loc); j.ColourAt(p, at.Add(time.Hour)).Colour != domain.Green {
		t.Fatal("as known before anything was recorded, green")
	}
}
