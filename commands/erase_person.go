package commands

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// personState is what a person's stream says: the registration, the
// position of the erasure (0: not erased), and the version read.
type personState struct {
	reg      domain.PersonRegistered
	erasedAt int64
	version  int64
}

// loadPerson folds a person's stream; a person not registered is NotFound.
func (h *Handler) loadPerson(ctx context.Context, p domain.PersonID) (personState, error) {
	evs, err := h.store.ReadStream(ctx, domain.PersonStream(p), 0)
	if err != nil {
		return personState{}, err
	}
	if len(evs) == 0 {
		return personState{}, notRegistered(p)
	}
	st := personState{version: evs[len(evs)-1].StreamVersion}
	for _, e := range evs {
		switch e.Type {
		case domain.EvPersonErased:
			st.erasedAt = e.Position
		case domain.EvPersonRegistered:
			if err := json.Unmarshal(e.Payload, &st.reg); err != nil {
				return st, fmt.Errorf("read registration at %d: %w", e.Position, err)
			}
		}
	}
	return st, nil
}

// erasePerson records the erasure; Execute then destroys the person's key.
// An erased dependent stops counting against the guardian's limit.
func (h *Handler) erasePerson(b domain.ErasePerson) decision {
	return func(ctx context.Context, _ *turn) ([]change, error) {
		stream := domain.PersonStream(b.PersonID)
		st, err := h.loadPerson(ctx, b.PersonID)
		if err != nil {
			return nil, err
		}
		if st.erasedAt > 0 {
			return nil, domain.Errorf(domain.Conflict, "person %s was already erased (at position %d)", b.PersonID, st.erasedAt)
		}
		reg := st.reg
		changes := []change{{stream: stream, expected: eventstore.Exactly(st.version),
			facts: []fact{{domain.EvPersonErased, domain.PersonErased(b)}}}}
		if !reg.RegisteredBy.IsZero() {
			g, err := h.loadGuardian(ctx, reg.RegisteredBy)
			if err != nil {
				return nil, err
			}
			if g.active[b.PersonID] {
				changes = append(changes, change{stream: domain.PersonStream(reg.RegisteredBy), expected: eventstore.Exactly(g.version),
					facts: []fact{{domain.EvDependentEnded, domain.DependentEnded{GuardianID: reg.RegisteredBy, DependentID: b.PersonID}}}})
			}
		}
		return changes, nil
	}
}
