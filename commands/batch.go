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
// round trips: one read finds the commands already in the ledger, the data
// keys of the persons registered are made in one transaction, and the
// appends go to the ledger as one sequence (eventstore.Store.AppendEach),
// committed many per transaction.
//
// A decision takes the ledger as committed when it is made, not the
// commands of the sequence still in flight; what it read is a condition of
// its append. A command whose condition fails because an earlier command
// of the sequence moved a stream, and every command after it, is decided
// again once those before it are committed; a command refused for the
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
	todo, err := h.replayedAll(ctx, preps, todo, out)
	if err != nil {
		for _, i := range todo {
			out[i].Err = err
		}
		return out
	}
	t, err := h.sealersFor(ctx, preps, todo)
	if err != nil {
		for _, i := range todo {
			out[i].Err = err
		}
		return out
	}
	for len(todo) > 0 {
		todo = h.round(ctx, t, preps, todo, actor, out)
	}
	for i := range cmds {
		if out[i].Err == nil {
			out[i].Err = h.after(ctx, cmds[i], nil)
		}
	}
	return out
}

// round decides the commands of todo in order and appends them as one
// sequence. It stops deciding at a command refused for the ledger's state
// while commands before it are undecided in the ledger, and returns the
// commands left to do: that one, and those the sequence did not reach.
func (h *Handler) round(ctx context.Context, t *turn, preps []prepared, todo []int, actor string, out []Outcome) (next []int) {
	var calls [][]eventstore.StreamAppend
	var decided []int
	var changes [][]change
	keys := make(map[string]int) // idempotency key → the first command of this round with it
	var repeats [][2]int         // a command and the first with its key
	rest := todo[:0:0]
	for n, i := range todo {
		p := preps[i]
		if first, ok := keys[p.key]; ok {
			// The same key again: it finds the first in the ledger after this round.
			repeats = append(repeats, [2]int{i, first})
			continue
		}
		decide, err := h.decision(p.cmd)
		var ch []change
		if err == nil {
			ch, err = decide(ctx, t)
		}
		var appends []eventstore.StreamAppend
		if err == nil {
			appends, err = stamp(ch, p, actor)
		}
		if err != nil {
			if stateDependent(err) && len(calls) > 0 {
				rest = append(rest, todo[n:]...)
				break
			}
			out[i].Err = err
			continue
		}
		keys[p.key] = i
		calls = append(calls, appends)
		decided = append(decided, i)
		changes = append(changes, ch)
	}
	var again []int
	defer func() {
		// A repeat waits for the command it repeats.
		for _, r := range repeats {
			if slices.Contains(again, r[1]) {
				again = append(again, r[0])
				continue
			}
			out[r[0]].Result, out[r[0]].Err = h.execute(ctx, preps[r[0]], actor)
		}
		slices.Sort(again)
		next = append(again, rest...)
	}()
	if len(calls) == 0 {
		return nil
	}
	for k, r := range h.store.AppendEach(ctx, calls) {
		i := decided[k]
		var conflict *eventstore.ConflictError
		switch {
		case r.Err == nil:
			h.wrote(changes[k], r.Events)
			out[i].Result = Result{Events: r.Events}
		case errors.Is(r.Err, eventstore.ErrNotAttempted):
			again = append(again, i)
		case errors.As(r.Err, &conflict) && refusal(changes[k], conflict) != nil:
			out[i].Err = refusal(changes[k], conflict)
		case domain.ErrorCode(r.Err) == domain.Conflict:
			// A stream moved under the decision, or the same command is
			// being appended elsewhere: the single path decides again,
			// reading the ledger as it is now.
			if conflict != nil {
				h.cache.forget(conflict.Stream)
			}
			out[i].Result, out[i].Err = h.execute(ctx, preps[i], actor)
		default:
			out[i].Err = r.Err
		}
	}
	return nil // set by the deferred function
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
