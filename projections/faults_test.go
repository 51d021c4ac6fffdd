package projections_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/projections"
)

// faulty passes msgs on as a poor transport would: it loses some (acking
// them, so the publisher moves on), delivers some twice, and holds some
// back to deliver them later in reverse order. Once clean is set it
// passes every message on as it comes, after what it held.
func faulty(ctx context.Context, msgs <-chan *message.Message, clean *atomic.Bool, seed uint64) (<-chan *message.Message, *faults) {
	out := make(chan *message.Message)
	f := &faults{}
	go func() {
		defer close(out)
		rng := rand.New(rand.NewPCG(seed, seed))
		var held []*message.Message
		send := func(m *message.Message) bool {
			select {
			case out <- m:
				return true
			case <-ctx.Done():
				return false
			}
		}
		release := func() bool {
			for i := len(held) - 1; i >= 0; i-- {
				if !send(held[i]) {
					return false
				}
			}
			held = held[:0]
			return true
		}
		idle := time.NewTimer(time.Hour)
		for {
			idle.Reset(50 * time.Millisecond)
			var m *message.Message
			select {
			case <-ctx.Done():
				return
			case <-idle.C:
				if !release() { // nothing new: what was held goes now
					return
				}
				continue
			case m = <-msgs:
			}
			if clean.Load() {
				if !release() || !send(m) {
					return
				}
				continue
			}
			switch r := rng.IntN(20); {
			case r < 2:
				f.dropped.Add(1)
				m.Ack()
				continue
			case r < 4:
				f.repeated.Add(1)
				if !send(m.Copy()) {
					return
				}
			case r < 8:
				f.held.Add(1)
				held = append(held, m)
				if len(held) < 5 {
					continue
				}
				if !release() {
					return
				}
				continue
			}
			if !send(m) {
				return
			}
		}
	}()
	return out, f
}

type faults struct{ dropped, repeated, held atomic.Int64 }

// TestWatermillFaultsLeaveTheReadModelEqualToARebuild: the live projection
// fed through a watermill GoChannel that loses a tenth of the messages,
// repeats a tenth and reorders a fifth still reaches the head (a lost
// event is read from the store when the next one shows the gap) and holds
// the read model a rebuild from position 0 makes.
func TestWatermillFaultsLeaveTheReadModelEqualToARebuild(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		l := newRandomLedger(7, 300)
		now := time.Date(2020, 3, 12, 9, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		msgs := relayed(t, ctx, b.store)
		var clean atomic.Bool
		delivered, f := faulty(ctx, msgs, &clean, 11)
		live := &projections.Runner{Store: b.store, Colours: projections.NewColours(shanghai), Model: b.model(t, "live"), Decide: true, Now: clock}
		done := make(chan error, 1)
		go func() { done <- live.Consume(ctx, delivered) }()

		appendLedger(t, b.store, l.events[:len(l.events)-1])
		// The last fact comes through cleanly: its arrival shows any gap
		// the losses left before it.
		clean.Store(true)
		appendLedger(t, b.store, l.events[len(l.events)-1:])
		waitFor(t, "the live projection to reach the head", func() bool {
			head, _ := b.store.Head(ctx)
			pos, _ := live.Model.Checkpoint(ctx)
			return pos == head.Position
		})
		cancel()
		<-done
		if f.dropped.Load() == 0 || f.repeated.Load() == 0 || f.held.Load() == 0 {
			t.Fatalf("the transport injected no fault of some kind: %d lost, %d repeated, %d held", f.dropped.Load(), f.repeated.Load(), f.held.Load())
		}
		t.Logf("%d lost, %d repeated, %d held back", f.dropped.Load(), f.repeated.Load(), f.held.Load())

		sameAsRebuild(t, b, live, clock, len(l.persons))
	})
}

// TestViewUnderConcurrentAdmissions: admissions running side by side share
// one View while the ledger grows; each catches it up to the head it saw
// and answers without error (a race here once read a page with a negative
// size).
func TestViewUnderConcurrentAdmissions(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := newRandomLedger(3, 1500)
	half := len(l.events) / 10
	appendLedger(t, s, l.events[:half])
	v := &projections.View{Store: s, Colours: projections.NewColours(shanghai)}
	at := time.Date(2020, 3, 12, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	stop := make(chan struct{})
	for g := range 32 {
		wg.Go(func() {
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := v.ColourAt(ctx, l.persons[i%len(l.persons)], at); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	appendLedger(t, s, l.events[half:])
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	head, _ := s.Head(ctx)
	if _, pos, err := v.ColourAt(ctx, l.persons[0], at); err != nil || pos != head.Position {
		t.Errorf("the view reached %d (%v), the head is %d", pos, err, head.Position)
	}
}
