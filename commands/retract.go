package commands

import (
	"context"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// retract withdraws an earlier fact. The fact must be in the ledger; a
// retraction, an erasure or a claim of a document is not a fact about the
// world and cannot be retracted.
func (h *Handler) retract(b domain.Retract) decision {
	return func(ctx context.Context, _ *turn) ([]change, error) {
		e, ok, err := h.store.ReadEvent(ctx, b.EventID.UUID())
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, domain.Errorf(domain.NotFound, "event %s is not in the ledger", b.EventID)
		}
		switch e.Type {
		case domain.EvFactRetracted, domain.EvPersonErased, domain.EvDocumentClaimed:
			return nil, domain.Errorf(domain.Invalid, "a %s event cannot be retracted", e.Type)
		}
		return []change{{stream: domain.RetractionsStream, expected: eventstore.Any,
			facts: []fact{{domain.EvFactRetracted, domain.FactRetracted(b)}}}}, nil
	}
}
