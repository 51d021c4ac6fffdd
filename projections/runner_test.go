package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/internal/pgtest"
	"github.com/riskledger/riskledger/projections"
)

// backend is a ledger and a way to open read models beside it.
type backend struct {
	store eventstore.Store
	model func(t *testing.T, name string) projections.ReadModel
}

// backends runs fn on a new embedded store and a new PostgreSQL database.
func backends(t *testing.T, fn func(t *testing.T, b backend)) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		s, err := sqlite.Open(ctx, sqlite.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fn(t, backend{store: s, model: func(t *testing.T, name string) projections.ReadModel {
			m, err := projections.OpenSQLite(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			return m
		}})
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		s, err := postgres.Open(ctx, postgres.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fn(t, backend{store: s, model: func(t *testing.T, name string) projections.ReadModel {
			m, err := projections.OpenPostgres(ctx, url, "rm_"+name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			return m
		}})
	})
}

// appendLedger appends the random ledger's events through the store, in
// order, as one call each; the positions are the same as the generator's.
func appendLedger(t *testing.T, s eventstore.Store, evs []eventstore.Event) {
	t.Helper()
	for _, e := range evs {
		if _, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: "test-" + e.ID.String(),
			Events: []eventstore.NewEvent{{ID: e.ID, Type: e.Type, OccurredAt: e.OccurredAt, Payload: e.Payload}}}); err != nil {
			t.Fatal(err)
		}
	}
}

// relayed delivers the store's events through a watermill GoChannel, as
// serve does in one process, until ctx ends.
func relayed(t *testing.T, ctx context.Context, store eventstore.Store) <-chan *message.Message {
	t.Helper()
	pubsub := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 1024}, watermill.NopLogger{})
	msgs, err := pubsub.Subscribe(ctx, eventstore.DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	go (&eventstore.Relay{Store: store, Publisher: pubsub}).Run(ctx, 0)
	return msgs
}

// sameAsRebuild checks that the live runner's read model holds persons
// rows, the rows a rebuild from position 0 makes, and returns them.
func sameAsRebuild(t *testing.T, b backend, live *projections.Runner, clock func() time.Time, persons int) [][]byte {
	t.Helper()
	bg := context.Background()
	rebuild := &projections.Runner{Store: b.store, Colours: projections.NewColours(shanghai), Model: b.model(t, "rebuilt"), Now: clock}
	if err := rebuild.CatchUp(bg); err != nil {
		t.Fatal(err)
	}
	if err := rebuild.Settle(bg); err != nil {
		t.Fatal(err)
	}
	a, _ := live.Model.Rows(bg)
	r, _ := rebuild.Model.Rows(bg)
	if len(a) != persons || !slices.EqualFunc(a, r, func(x, y []byte) bool { return string(x) == string(y) }) {
		t.Fatalf("live read model (%d rows) and rebuild (%d rows) differ", len(a), len(r))
	}
	return r
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLiveThroughWatermillEqualsRebuild: the live projection, fed through
// a watermill GoChannel by the relay while the ledger grows, records its
// decisions and reaches the head; a rebuild from position 0 then holds the
// identical read model; `audit replay` re-derives every decision; and a
// wrong decision appended through the store is reported.
func TestLiveThroughWatermillEqualsRebuild(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		l := newRandomLedger(42, 300)
		now := time.Date(2020, 3, 12, 9, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }

		msgs := relayed(t, ctx, b.store)
		live := &projections.Runner{Store: b.store, Colours: projections.NewColours(shanghai), Model: b.model(t, "live"), Decide: true, Now: clock}
		done := make(chan error, 1)
		go func() { done <- live.Consume(ctx, msgs) }()

		appendLedger(t, b.store, l.events)
		caughtUp := func() bool {
			head, err := b.store.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pos, err := live.Model.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return pos == head.Position
		}
		waitFor(t, "the live projection to reach the head", caughtUp)
		cancel()
		<-done

		head, _ := b.store.Head(context.Background())
		if head.Position <= int64(len(l.events)) {
			t.Fatalf("no colour decision was recorded (head %d, %d facts)", head.Position, len(l.events))
		}
		bg := context.Background()
		r := sameAsRebuild(t, b, live, clock, len(l.persons))
		// The rows are the pure function's answers now.
		j := pure(t, l.events)
		for _, row := range r {
			var got domain.Answer
			if err := json.Unmarshal(row, &got); err != nil {
				t.Fatal(err)
			}
			if want := j.ColourAt(got.PersonID, now); got.Colour != want.Colour {
				t.Fatalf("row of %s says %s, the policy %s", got.PersonID, got.Colour, want.Colour)
			}
		}

		rep, err := projections.Replay(bg, b.store, shanghai)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Decisions == 0 || len(rep.Mismatches) != 0 {
			t.Fatalf("replay: %d decisions, mismatches %+v", rep.Decisions, rep.Mismatches)
		}

		// A forged decision: a person's next decision, saying red with no reason.
		p := l.persons[0]
		seq, _ := b.store.StreamVersion(bg, domain.DecisionsStream(p))
		var prev domain.ColourAssigned
		if seq > 0 {
			evs, _ := b.store.ReadStream(bg, domain.DecisionsStream(p), seq-1)
			json.Unmarshal(evs[0].Payload, &prev)
		} else {
			prev.Colour = domain.Green
		}
		forged := domain.ColourAssigned{PersonID: p, Colour: domain.Red, Previous: prev.Colour, At: now.Add(time.Hour),
			Reasons: []domain.Interval{}, Basis: head.Position, Seq: seq + 1}
		if prev.Colour == domain.Red {
			forged.Colour = domain.Green
		}
		payload, _ := json.Marshal(forged)
		if _, err := b.store.Append(bg, eventstore.StreamAppend{Stream: domain.DecisionsStream(p), Expected: eventstore.Exactly(seq),
			Events: []eventstore.NewEvent{{Type: domain.EvColourAssigned, Payload: payload}}}); err != nil {
			t.Fatal(err)
		}
		rep, err = projections.Replay(bg, b.store, shanghai)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Mismatches) != 1 || rep.Mismatches[0].PersonID != p.String() || rep.Mismatches[0].Derived == "" {
			t.Fatalf("replay after a forged decision: %+v", rep.Mismatches)
		}
	})
}

// TestDeliveryOutOfOrderAndTwice: events delivered shuffled and repeated,
// as an at-least-once transport may, leave the projection exactly as
// in-order delivery does: gaps are filled from the store, repeats skipped.
func TestDeliveryOutOfOrderAndTwice(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := newRandomLedger(9, 200)
	appendLedger(t, s, l.events)
	stored, err := s.ReadAll(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2020, 3, 12, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	rng := rand.New(rand.NewPCG(5, 5))
	deliveries := append(slices.Clone(stored), stored[:50]...)
	rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
	shuffled := &projections.Runner{Store: s, Colours: projections.NewColours(shanghai), Now: clock}
	for _, e := range deliveries {
		if err := shuffled.Deliver(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	inOrder := &projections.Runner{Store: s, Colours: projections.NewColours(shanghai), Now: clock}
	if err := inOrder.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*projections.Runner{shuffled, inOrder} {
		if err := r.Settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a, b := shuffled.Colours.Rows(), inOrder.Colours.Rows()
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d rows shuffled, %d in order", len(a), len(b))
	}
	for i := range a {
		if string(a[i].JSON()) != string(b[i].JSON()) {
			t.Fatal(fmt.Sprintf("shuffled %s\nin order %s", a[i].JSON(), b[i].JSON()))
		}
	}
}

// TestBoundariesPassedWhileDownAreRecordedAtTheirDueTimes: a person turns
// red; the projection records it; it stops; when it starts again after the
// quarantine ended, it records the change to green at the time it was due,
// not at the time it noticed.
func TestBoundariesPassedWhileDownAreRecordedAtTheirDueTimes(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := &randomLedger{base: time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)}
	p, _ := domain.ParsePersonID("0b8e2b36-6a3f-4d0e-8a59-4c0f3f6e7d21")
	l.add(l.base, domain.PersonRegistered{PersonID: p, Document: domain.SealedDocument{Type: domain.DocumentResidentID}})
	onset := time.Date(2020, 3, 2, 2, 0, 0, 0, time.UTC)
	l.add(onset, domain.SymptomsReported{PersonID: p, Symptoms: []domain.Symptom{mustSymptom("cough")}, Source: domain.SymptomSourceSelf})
	appendLedger(t, s, l.events)

	decisions := func() []domain.ColourAssigned {
		evs, err := s.ReadStream(ctx, domain.DecisionsStream(p), 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []domain.ColourAssigned
		for _, e := range evs {
			var d domain.ColourAssigned
			json.Unmarshal(e.Payload, &d)
			out = append(out, d)
		}
		return out
	}
	run := func(now time.Time) {
		r := &projections.Runner{Store: s, Colours: projections.NewColours(shanghai), Decide: true, Now: func() time.Time { return now }}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.Settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	run(onset.Add(3 * time.Hour))
	d := decisions()
	if len(d) != 1 || d[0].Colour != domain.Red || !d[0].At.Equal(onset) || d[0].Previous != domain.Green {
		t.Fatalf("after the report: %+v", d)
	}
	run(onset.Add(3 * time.Hour)) // again, at the same moment: nothing new
	if len(decisions()) != 1 {
		t.Fatalf("a repeated settle recorded %+v", decisions())
	}
	end := onset.Add(14 * 24 * time.Hour)
	run(end.Add(5 * 24 * time.Hour))
	d = decisions()
	if len(d) != 2 || d[1].Colour != domain.Green || !d[1].At.Equal(end) || d[1].Seq != 2 || d[1].Previous != domain.Red {
		t.Fatalf("after the quarantine, with the projection down when it ended: %+v", d)
	}
	rep, err := projections.Replay(ctx, s, shanghai)
	if err != nil || rep.Decisions != 2 || len(rep.Mismatches) != 0 {
		t.Fatalf("replay: %+v %v", rep, err)
	}
}
