package commands

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// publishPolicy adds a policy version; a version number is published once.
func (h *Handler) publishPolicy(b domain.PublishPolicy) decision {
	return func(ctx context.Context) ([]change, error) {
		evs, err := h.store.ReadStream(ctx, domain.PolicyStream, 0)
		if err != nil {
			return nil, err
		}
		var version int64
		for _, e := range evs {
			var p domain.PolicyPublished
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				return nil, fmt.Errorf("read policy at %d: %w", e.Position, err)
			}
			if p.Version == b.Version {
				return nil, domain.Errorf(domain.Conflict, "policy version %d is already published (at position %d); publish a new version number", b.Version, e.Position)
			}
			version = e.StreamVersion
		}
		return []change{{stream: domain.PolicyStream, expected: eventstore.Exactly(version),
			facts: []fact{{domain.EvPolicyPublished, domain.PolicyPublished(b)}}}}, nil
	}
}
