package commands

import (
	"context"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// reportContact records a contact in the first person's stream, once the
// other is known to be registered too.
func (h *Handler) reportContact(b domain.ReportContact) decision {
	return func(ctx context.Context) ([]change, error) {
		v, err := h.store.StreamVersion(ctx, domain.PersonStream(b.OtherID))
		if err != nil {
			return nil, err
		}
		if v == 0 {
			return nil, notRegistered(b.OtherID)
		}
		return []change{{stream: domain.PersonStream(b.PersonID), expected: eventstore.StreamExists,
			facts: []fact{{domain.EvContactReported, domain.ContactReported(b)}}, missing: notRegistered(b.PersonID)}}, nil
	}
}
