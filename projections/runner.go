package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// Runner drives the colour projection: it applies delivered events in
// position order (skipping redeliveries, filling gaps from the store),
// and whenever it has caught up with the ledger's head it settles: it
// re-judges the persons concerned, writes their rows and the checkpoint in
// one transaction, and records the colour decisions in the ledger.
// Decisions are made only at the head, so that a projection replaying
// history never decides again what the ledger already records.
type Runner struct {
	Store   eventstore.Store
	Colours *Colours
	// Model is where rows and the checkpoint go; nil keeps them in memory.
	Model ReadModel
	// Decide records colour decisions in the ledger (a rebuild does not).
	Decide bool
	Now    func() time.Time
	Logger *slog.Logger
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// CatchUp applies every event the store holds after the last applied one.
// Reading, decoding and folding run as a pipeline, each stage on its own
// goroutine, pages of 10,000 events passing between them.
func (r *Runner) CatchUp(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if head, err := r.Store.Head(ctx); err == nil && head.Position > r.Colours.Applied()+100000 {
		r.Colours.Reserve(int(head.Position - r.Colours.Applied()))
	}
	read := make(chan []eventstore.Event, 2)
	decoded := make(chan []Decoded, 2)
	errc := make(chan error, 2)
	go func() {
		defer close(read)
		after := r.Colours.Applied()
		for {
			evs, err := readFold(ctx, r.Store, after, 10000)
			if err != nil {
				errc <- err
				return
			}
			if len(evs) == 0 {
				return
			}
			after = evs[len(evs)-1].Position
			select {
			case read <- evs:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		defer close(decoded)
		for evs := range read {
			ds, err := DecodeAll(evs)
			if err != nil {
				errc <- err
				return
			}
			select {
			case decoded <- ds:
			case <-ctx.Done():
				return
			}
		}
	}()
	for ds := range decoded {
		if err := r.Colours.ApplyDecoded(ds); err != nil {
			return err
		}
	}
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// Deliver applies one delivered event: a redelivery is skipped, and the
// events missing before it are read from the store first.
func (r *Runner) Deliver(ctx context.Context, e eventstore.Event) error {
	err := r.Colours.Apply(e)
	var gap *GapError
	if !errors.As(err, &gap) {
		return err
	}
	if err := readInto(ctx, r.Store, r.Colours, e.Position-1); err != nil {
		return err
	}
	return r.Colours.Apply(e)
}

// readFold reads a page of the log for the projection: only the fields it
// folds, where the store can read those alone.
func readFold(ctx context.Context, store eventstore.Store, after int64, limit int) ([]eventstore.Event, error) {
	if fr, ok := store.(eventstore.FoldReader); ok {
		return fr.ReadFold(ctx, after, limit)
	}
	return store.ReadAll(ctx, after, limit)
}

// readInto applies the events the store holds after the projection's last
// one, up to position until. The caller makes sure that no one else applies
// events to c meanwhile.
func readInto(ctx context.Context, store eventstore.Store, c *Colours, until int64) error {
	for {
		applied := c.Applied()
		if applied >= until {
			return nil
		}
		evs, err := readFold(ctx, store, applied, int(min(10000, until-applied)))
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return fmt.Errorf("position %d is wanted but the ledger ends at %d", until, applied)
		}
		if err := c.ApplyAll(evs); err != nil {
			return err
		}
	}
}

// Settle writes the rows the events applied so far change, with the
// checkpoint, in one transaction; and, when the projection is within
// NearHead events of the ledger's head, records the colour decisions of
// every person judged since the last decisions. (A projection far behind, replaying history, leaves decisions
// to when it is near the head: the ledger may already record them further
// on. Should one still be decided twice, its stream's version refuses the
// second and the runner reads the first back.)
func (r *Runner) Settle(ctx context.Context) error {
	head, err := r.Store.Head(ctx)
	if err != nil {
		return err
	}
	applied := r.Colours.Applied()
	decide := r.Decide && head.Position-applied <= NearHead
	now := r.now()
	r.Colours.Due(now)
	rows, decisions := r.Colours.Flush(now, decide)
	if r.Model != nil {
		if err := r.Model.Save(ctx, applied, rows); err != nil {
			return fmt.Errorf("save the colour read model at position %d: %w", applied, err)
		}
	}
	return r.record(ctx, decisions)
}

// NearHead is how close to the ledger's head a projection decides colours.
const NearHead = 10000

// SettleEvery is how often a consuming runner settles while events arrive.
const SettleEvery = 20 * time.Millisecond

// record appends decisions, each to its person's decision stream at the
// version it follows. A decision the ledger already holds is a no-op; one
// that lost a race to another worker's is dropped, and the person's last
// recorded decision is read back so that the next settle decides afresh.
func (r *Runner) record(ctx context.Context, decisions []domain.ColourAssigned) error {
	if len(decisions) == 0 {
		return nil
	}
	calls := make([][]eventstore.StreamAppend, len(decisions))
	for i, d := range decisions {
		payload, err := json.Marshal(d)
		if err != nil {
			return err
		}
		calls[i] = []eventstore.StreamAppend{{Stream: domain.DecisionsStream(d.PersonID), Expected: eventstore.Exactly(d.Seq - 1),
			Events: []eventstore.NewEvent{{ID: domain.DecisionID(d.PersonID, d.Seq, d.Colour, d.At, d.Basis), Type: domain.EvColourAssigned,
				OccurredAt: d.At, Actor: "projection:" + ProjectionName, Payload: payload}}}}
	}
	// One queued sequence: a conflict stops it, and what follows the
	// conflict is sent again.
	for len(calls) > 0 {
		results := r.Store.AppendEach(ctx, calls, nil).Wait()
		done := len(calls)
		for i, res := range results {
			if res.Err == nil {
				continue
			}
			if errors.Is(res.Err, eventstore.ErrNotAttempted) {
				done = i
				break
			}
			if !eventstore.IsConflict(res.Err) {
				return fmt.Errorf("record the colour decision of %s: %w", decisions[i].PersonID, res.Err)
			}
			if err := r.reload(ctx, decisions[i]); err != nil {
				return err
			}
		}
		calls, decisions = calls[done:], decisions[done:]
	}
	return nil
}

// reload reads back the last decision the ledger records for the person of
// d, which lost a race with another worker's, so that the next settle
// decides afresh from it.
func (r *Runner) reload(ctx context.Context, d domain.ColourAssigned) error {
	p := d.PersonID
	evs, err := r.Store.ReadStream(ctx, domain.DecisionsStream(p), 0)
	if err != nil {
		return err
	}
	var last domain.ColourAssigned
	if len(evs) > 0 {
		if err := json.Unmarshal(evs[len(evs)-1].Payload, &last); err != nil {
			return err
		}
	}
	r.Colours.Forget(p, last, len(evs) > 0)
	if r.Logger != nil {
		r.Logger.Info("colour decision already made elsewhere", "person", p.String(), "seq", d.Seq)
	}
	return nil
}

// Consume applies the events delivered on msgs (eventstore.ToMessage
// messages, at least once, possibly out of order), acknowledging each once
// applied. It settles every SettleEvery while events arrive, and when a
// person's colour is due to change with time. It returns when ctx ends or
// something fails.
func (r *Runner) Consume(ctx context.Context, msgs <-chan *message.Message) error {
	if err := r.CatchUp(ctx); err != nil {
		return err
	}
	if err := r.Settle(ctx); err != nil {
		return err
	}
	due := time.NewTimer(r.untilDue())
	defer due.Stop()
	tick := time.NewTicker(SettleEvery)
	defer tick.Stop()
	settled := r.Colours.Applied()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg, ok := <-msgs:
			if !ok {
				return errors.New("the event subscription closed")
			}
			e, err := eventstore.FromMessage(msg)
			if err != nil {
				msg.Nack()
				return err
			}
			if err := r.Deliver(ctx, e); err != nil {
				msg.Nack()
				return err
			}
			msg.Ack()
			continue
		case <-tick.C:
			if r.Colours.Applied() == settled {
				continue
			}
		case <-due.C:
		}
		settled = r.Colours.Applied()
		if err := r.Settle(ctx); err != nil {
			return err
		}
		due.Reset(r.untilDue())
	}
}

// untilDue is how long until the next colour is due to change (at most a
// minute: the clock may jump).
func (r *Runner) untilDue() time.Duration {
	next := r.Colours.Due(r.now())
	if next.IsZero() {
		return time.Minute
	}
	return min(max(next.Sub(r.now()), 0), time.Minute)
}
