package commands

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// erasePerson records the erasure; Execute then destroys the person's key.
// An erased dependent stops counting against the guardian's limit.
func (h *Handler) erasePerson(b domain.ErasePerson) decision {
	return func(ctx context.Context, _ *turn) ([]change, error) {
		stream := domain.PersonStream(b.PersonID)
		evs, err := h.store.ReadStream(ctx, stream, 0)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			return nil, notRegistered(b.PersonID)
		}
		var reg domain.PersonRegistered
		for _, e := range evs {
			switch e.Type {
			case domain.EvPersonErased:
				return nil, domain.Errorf(domain.Conflict, "person %s was already erased (at position %d)", b.PersonID, e.Position)
			case domain.EvPersonRegistered:
				if err := json.Unmarshal(e.Payload, &reg); err != nil {
					return nil, fmt.Errorf("read registration at %d: %w", e.Position, err)
				}
			}
		}
		changes := []change{{stream: stream, expected: eventstore.Exactly(evs[len(evs)-1].StreamVersion),
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
