package commands

import (
	"context"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// reportContact records a contact in the first person's stream, once the
// other is known to be registered too.
func (h *Handler) reportContact(b domain.ReportContact) decision {
	return func(context.Context, *turn) ([]change, error) {
		return []change{
			{stream: domain.PersonStream(b.PersonID), expected: eventstore.StreamExists,
				facts: []fact{{domain.EvContactReported, domain.ContactReported(b)}}, refused: notRegistered(b.PersonID)},
			registered(b.OtherID),
		}, nil
	}
}
