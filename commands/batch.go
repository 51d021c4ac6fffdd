package commands

import (
	"context"
	"errors"
	"slices"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// Outcome is what became of one command of ExecuteAll: Execute's result
// and error.
type Outcome struct {
	Result
	Err error
}

// ExecuteAll executes cmds in order, each with the outcome it would have
// had from Execute called for one after the other, but with far fewer
// round trips: the data keys of the persons registered are made in one
// transaction, and the appends go to the ledger as one sequence
// (eventstore.Store.AppendEach), committed many per transaction, while the
// next commands are decided. A command already in the ledger is found by
// its events' ids when it is appended: the ledger reports them stored (the
// same content) or taken (other content, such as personal data sealed
// again), and the single path then compares the command's digest.
//
// A decision takes the ledger as committed when it is made, not the
// commands of the sequence still in flight; what it read is a condition of
// its append. When an append fails, the sequence stops there: the commands
// after it are decided again once it is settled. A command refused for the
// state of the ledger (an unknown checkpoint, a person registered twice) is
// refused only when nothing before it is still in flight.
func (h *Handler) ExecuteAll(ctx context.Context, cmds []domain.Command, actor string) []Outcome {
	out := make([]Outcome, len(cmds))
	preps := make([]prepared, len(cmds))
	var todo []int
	for i, cmd := range cmds {
		p, err := prepare(cmd)
		if err != nil {
			out[i].Err = err
			continue
		}
		preps[i] = p
		todo = append(todo, i)
	}
	var sealing []int
	for _, i := range todo {
		switch preps[i].cmd.Body.(type) {
		case domain.RegisterPerson, domain.ApplyDependent:
			sealing = append(sealing, i)
		}
	}
	fresh, err := h.replayedAll(ctx, preps, sealing, out)
	var t *turn
	if err == nil {
		t, err = h.sealersFor(ctx, preps, fresh)
		todo = slices.DeleteFunc(todo, func(i int) bool { return out[i].AlreadyPresent || out[i].Err != nil })
	}
	if err != nil {
		for _, i := range todo {
			out[i].Err = err
		}
		return out
	}
	s := &sequence{h: h, ctx: ctx, t: t, preps: preps, out: out, actor: actor, keys: make(map[string]int)}
	for len(todo) > 0 {
		todo = s.step(todo)
	}
	for i := range cmds {
		if out[i].Err == nil {
			out[i].Err = h.after(ctx, cmds[i], nil)
		}
	}
	return out
}

// sequence is the state of one ExecuteAll: the chunks of decided commands
// in flight, oldest first.
type sequence struct {
	h     *Handler
	ctx   context.Context
	t     *turn
	preps []prepared
	out   []Outcome
	actor string

	inflight []*flight
	last     *eventstore.Pending
	keys     map[string]int // the idempotency keys decided → their command
	repeats  [][2]int       // a command whose key was decided before, and the first with it
}

// flight is a chunk of decided commands being appended.
type flight struct {
	idx     []int
	changes [][]change
	pending *eventstore.Pending
}

const (
	chunkSize = 1024 // commands appended by one AppendEach
	inFlight  = 32   // chunks appended while the next is decided
)

// step decides the next chunk of todo, sends it, settles what it must, and
// returns the commands still to do.
func (s *sequence) step(todo []int) []int {
	f := &flight{}
	var calls [][]eventstore.StreamAppend
	n, stop := 0, false
	for ; n < len(todo) && len(f.idx) < chunkSize; n++ {
		i := todo[n]
		p := s.preps[i]
		if first, ok := s.keys[p.key]; ok {
			s.repeats = append(s.repeats, [2]int{i, first})
			continue
		}
		if readsColours(p.cmd) && (len(f.idx) > 0 || len(s.inflight) > 0) {
			stop = true // its colour must see every command before it
			break
		}
		decide, err := s.h.decision(p.cmd)
		var ch []change
		if err == nil {
			ch, err = decide(s.ctx, s.t)
		}
		var appends []eventstore.StreamAppend
		if err == nil {
			appends, err = stamp(ch, p, s.actor)
		}
		if err != nil {
			if stateDependent(err) && (len(f.idx) > 0 || len(s.inflight) > 0) {
				stop = true // decide it again when what is in flight is settled
				break
			}
			// Refused now, unless it is in the ledger already.
			s.out[i].Err = err
			if r, ok, rerr := s.h.replayed(s.ctx, p.key, p.digest); ok || rerr != nil {
				s.out[i].Result, s.out[i].Err = r, rerr
			}
			continue
		}
		s.keys[p.key] = i
		f.idx = append(f.idx, i)
		f.changes = append(f.changes, ch)
		calls = append(calls, appends)
	}
	todo = todo[n:]
	if len(calls) > 0 {
		f.pending = s.h.store.AppendEach(s.ctx, calls, s.last)
		s.last = f.pending
		s.inflight = append(s.inflight, f)
	}
	return s.settle(todo, stop || len(todo) == 0)
}

// settle records the outcomes of the oldest chunks, all of them when all is
// set or when an append failed (the chunks after it are not attempted), and
// returns the commands to do: those not attempted, then todo.
func (s *sequence) settle(todo []int, all bool) []int {
	var redo []int
	failed := -1 // the command whose append failed, to decide again on its own
	for len(s.inflight) > 0 && (all || len(s.inflight) > inFlight) {
		f := s.inflight[0]
		s.inflight = s.inflight[1:]
		for k, r := range f.pending.Wait() {
			i := f.idx[k]
			var conflict *eventstore.ConflictError
			switch {
			case r.Err == nil:
				s.h.wrote(f.changes[k], r.Events)
				s.out[i].Result = Result{Events: r.Events, AlreadyPresent: r.Stored}
				continue
			case errors.Is(r.Err, eventstore.ErrNotAttempted):
				redo = append(redo, i)
			case errors.As(r.Err, &conflict) && refusal(f.changes[k], conflict) != nil:
				s.out[i].Err = refusal(f.changes[k], conflict)
			case domain.ErrorCode(r.Err) == domain.Conflict:
				// A stream moved under the decision, or the same command is
				// being appended elsewhere: the single path decides again,
				// reading the ledger as it is now.
				if conflict != nil {
					s.h.cache.forget(conflict.Stream)
				}
				failed = i
			default:
				s.out[i].Err = r.Err
			}
			all = true // the sequence stopped here: settle every chunk after it
		}
	}
	if !all {
		return todo
	}
	// Nothing is in flight: the sequence starts again.
	s.last = nil
	if failed >= 0 {
		s.out[failed].Result, s.out[failed].Err = s.h.execute(s.ctx, s.preps[failed], s.actor)
	}
	for _, r := range s.repeats {
		if slices.Contains(redo, r[1]) {
			redo = append(redo, r[0]) // it waits for the command it repeats
			continue
		}
		s.out[r[0]].Result, s.out[r[0]].Err = s.h.execute(s.ctx, s.preps[r[0]], s.actor)
	}
	s.repeats = s.repeats[:0]
	for _, i := range redo {
		if s.keys[s.preps[i].key] == i {
			delete(s.keys, s.preps[i].key) // decided again, as the first with its key
		}
	}
	slices.Sort(redo)
	return append(redo, todo...)
}

// readsColours tells whether a command's decision reads a colour, which
// must be decided on a ledger that holds every command before it.
func readsColours(cmd domain.Command) bool {
	b, ok := cmd.Body.(domain.RecordScan)
	return ok && b.Method != domain.ScanImported && (!b.PersonID.IsZero() || b.Code != "")
}

// stateDependent tells the errors a decision may make from a ledger that
// lacks what an earlier command of the sequence is still appending.
func stateDependent(err error) bool {
	switch domain.ErrorCode(err) {
	case domain.NotFound, domain.Conflict, domain.Limit:
		return true
	}
	return false
}

// replayedAll finds, in one read per event number, the commands of todo
// already in the ledger, sets their outcomes, and returns the others.
// ExecuteAll asks it only about the commands that seal personal data: the
// events of those differ each time they are decided (a sealed value has a
// fresh nonce), so the ledger cannot recognise them as stored.
func (h *Handler) replayedAll(ctx context.Context, preps []prepared, todo []int, out []Outcome) ([]int, error) {
	ids := make([]uuid.UUID, len(todo))
	for n, i := range todo {
		ids[n] = domain.DeriveEventID(preps[i].key, 0)
	}
	found, err := h.store.ReadEvents(ctx, ids)
	if err != nil || len(found) == 0 {
		return todo, err
	}
	rest := todo[:0:0]
	var present []int
	for n, i := range todo {
		first, ok := found[ids[n]]
		if !ok {
			rest = append(rest, i)
			continue
		}
		if err := sameCommand(first, preps[i].key, preps[i].digest); err != nil {
			out[i].Err = err
			continue
		}
		out[i].Result = Result{Events: []eventstore.Event{first}, AlreadyPresent: true}
		present = append(present, i)
	}
	// The commands' further events, one event number at a time.
	for e := 1; len(present) > 0; e++ {
		ids = ids[:0]
		for _, i := range present {
			ids = append(ids, domain.DeriveEventID(preps[i].key, e))
		}
		found, err := h.store.ReadEvents(ctx, ids)
		if err != nil {
			return nil, err
		}
		more := present[:0]
		for n, i := range present {
			if ev, ok := found[ids[n]]; ok {
				out[i].Events = append(out[i].Events, ev)
				more = append(more, i)
			}
		}
		present = more
	}
	return rest, nil
}

// sealersFor makes the data keys of the persons that the commands of todo
// register, in one transaction of the key store.
func (h *Handler) sealersFor(ctx context.Context, preps []prepared, todo []int) (*turn, error) {
	var persons []uuid.UUID
	for _, i := range todo {
		switch b := preps[i].cmd.Body.(type) {
		case domain.RegisterPerson:
			persons = append(persons, b.PersonID.UUID())
		case domain.ApplyDependent:
			persons = append(persons, b.DependentID.UUID())
		}
	}
	if len(persons) == 0 {
		return nil, nil
	}
	sealers, err := h.vault.Sealers(ctx, persons)
	if err != nil {
		return nil, err
	}
	return &turn{sealers: sealers}, nil
}
