package commands

import (
	"context"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// publishPolicy adds a policy version; a version number is published once.
func (h *Handler) publishPolicy(b domain.PublishPolicy) decision {
	return func(ctx context.Context, _ *turn) ([]change, error) {
		policies, err := h.policies(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range policies.published {
			if p.Version == b.Version {
				return nil, domain.Errorf(domain.Conflict, "policy version %d is already published; publish a new version number", b.Version)
			}
		}
		return []change{{stream: domain.PolicyStream, expected: eventstore.Exactly(policies.version),
			facts: []fact{{domain.EvPolicyPublished, domain.PolicyPublished(b)}}}}, nil
	}
}
