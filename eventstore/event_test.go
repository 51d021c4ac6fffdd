package eventstore_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

func TestParseExpected(t *testing.T) {
	for in, want := range map[string]string{"any": "any", "no_stream": "no_stream", "exists": "exists", "0": "0", "42": "42"} {
		got, err := eventstore.ParseExpected(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseExpected(%q) = %s, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "latest", "1.5"} {
		if _, err := eventstore.ParseExpected(in); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("ParseExpected(%q): %v, want an invalid error", in, err)
		}
	}
}

func TestHashCoversEveryField(t *testing.T) {
	base := eventstore.Event{
		Position: 7, ID: uuid.MustParse("0190d4a4-9d2f-7c3e-8a1b-1234567890ab"), Stream: "person-1", StreamVersion: 3,
		Type: "SymptomsReported", SchemaVersion: 1, OccurredAt: time.UnixMicro(1580000000000000), RecordedAt: time.UnixMicro(1580000001000000),
		Actor: "clinic", CausationID: uuid.MustParse("0190d4a4-9d2f-7c3e-8a1b-aaaaaaaaaaaa"), Payload: json.RawMessage(`{"a":1}`), Metadata: json.RawMessage(`{}`),
	}
	var prev eventstore.Hash
	h := eventstore.ComputeHash(prev, &base)
	changes := map[string]func(e *eventstore.Event){
		"position":       func(e *eventstore.Event) { e.Position++ },
		"id":             func(e *eventstore.Event) { e.ID[15]++ },
		"stream":         func(e *eventstore.Event) { e.Stream = "person-2" },
		"stream version": func(e *eventstore.Event) { e.StreamVersion++ },
		"type":           func(e *eventstore.Event) { e.Type = "X" },
		"schema version": func(e *eventstore.Event) { e.SchemaVersion++ },
		"occurred_at":    func(e *eventstore.Event) { e.OccurredAt = e.OccurredAt.Add(time.Microsecond) },
		"recorded_at":    func(e *eventstore.Event) { e.RecordedAt = e.RecordedAt.Add(time.Microsecond) },
		"actor":          func(e *eventstore.Event) { e.Actor = "clinid" },
		"causation":      func(e *eventstore.Event) { e.CausationID = uuid.Nil },
		"correlation":    func(e *eventstore.Event) { e.CorrelationID[0] = 1 },
		"payload":        func(e *eventstore.Event) { e.Payload = json.RawMessage(`{"a":2}`) },
		"metadata":       func(e *eventstore.Event) { e.Metadata = json.RawMessage(`{"b":1}`) },
		// Length prefixes keep field boundaries: moving a byte between
		// neighbouring fields must change the hash too.
		"boundary": func(e *eventstore.Event) { e.Stream, e.Type = "person-1S", "ymptomsReported" },
	}
	for name, change := range changes {
		e := base
		change(&e)
		if eventstore.ComputeHash(prev, &e) == h {
			t.Errorf("changing the %s does not change the hash", name)
		}
	}
	prev[0] = 1
	if eventstore.ComputeHash(prev, &base) == h {
		t.Error("the previous hash is not covered")
	}
}

func TestHashText(t *testing.T) {
	var h eventstore.Hash
	h[0], h[31] = 0xab, 0x01
	b, _ := json.Marshal(h)
	var back eventstore.Hash
	if err := json.Unmarshal(b, &back); err != nil || back != h {
		t.Fatalf("round trip %s: %v", b, err)
	}
	if err := back.UnmarshalText([]byte("abc")); err == nil {
		t.Fatal("a short hash was accepted")
	}
}

func TestStatementSignature(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	other := ed25519.NewKeyFromSeed(append(make([]byte, 31), 1))
	stmt := eventstore.SignHead(eventstore.Head{Position: 9, RecordedAt: time.Now()}, key, time.Now())
	b, _ := json.Marshal(stmt)
	var back eventstore.Statement
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Check(key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("a statement read back from JSON: %v", err)
	}
	if err := back.Check(other.Public().(ed25519.PublicKey)); domain.ErrorCode(err) != domain.Invalid {
		t.Fatalf("checked with another key: %v", err)
	}
	back.Position = 10
	if err := back.Check(key.Public().(ed25519.PublicKey)); domain.ErrorCode(err) != domain.Invalid {
		t.Fatalf("an altered position still checks: %v", err)
	}
}

func TestNotifierWakesWaiters(t *testing.T) {
	n := eventstore.NewNotifier()
	done := make(chan error, 1)
	go func() { done <- n.Wait(context.Background(), 0, time.Hour) }()
	n.Advance(1)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Advance did not wake the waiter")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Wait(ctx, 5, time.Hour); err != context.Canceled {
		t.Fatalf("wait with an ended context: %v", err)
	}
	if err := n.Wait(context.Background(), 0, time.Hour); err != nil {
		t.Fatalf("a wait behind the head returns at once: %v", err)
	}
}
