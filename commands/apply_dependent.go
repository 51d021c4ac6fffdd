package commands

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// MaxDependents is how many active dependents a guardian may have.
const MaxDependents = 4

// guardian is what a guardian's stream says about their dependents.
type guardian struct {
	version int64
	active  map[domain.PersonID]bool
}

// loadGuardian folds a guardian's stream. A guardian who is not registered
// is a NotFound error.
func (h *Handler) loadGuardian(ctx context.Context, g domain.PersonID) (guardian, error) {
	evs, err := h.store.ReadStream(ctx, domain.PersonStream(g), 0)
	if err != nil {
		return guardian{}, err
	}
	if len(evs) == 0 {
		return guardian{}, domain.Errorf(domain.NotFound, "guardian %s is not registered; a guardian registers before applying for dependents", g)
	}
	st := guardian{version: evs[len(evs)-1].StreamVersion, active: map[domain.PersonID]bool{}}
	for _, e := range evs {
		var d domain.DependentApplied // DependentEnded has the same two ids
		switch e.Type {
		case domain.EvDependentApplied, domain.EvDependentEnded:
			if err := json.Unmarshal(e.Payload, &d); err != nil {
				return guardian{}, fmt.Errorf("read %s at %d: %w", e.Type, e.Position, err)
			}
			st.active[d.DependentID] = e.Type == domain.EvDependentApplied
		}
	}
	for p, on := range st.active {
		if !on {
			delete(st.active, p)
		}
	}
	return st, nil
}

func (h *Handler) applyDependent(b domain.ApplyDependent) decision {
	return func(ctx context.Context, t *turn) ([]change, error) {
		g, err := h.loadGuardian(ctx, b.GuardianID)
		if err != nil {
			return nil, err
		}
		if len(g.active) >= MaxDependents {
			return nil, domain.Errorf(domain.Limit, "guardian %s already has %d active dependents, the most allowed; end one before applying for another",
				b.GuardianID, MaxDependents)
		}
		reg, claim, err := h.registration(ctx, t, b.DependentID, b.Document, b.Name, b.Nationality, "", b.GuardianID)
		if err != nil {
			return nil, err
		}
		return []change{
			// The guardian's exact version is what makes the limit hold
			// under concurrent applications.
			{stream: domain.PersonStream(b.GuardianID), expected: eventstore.Exactly(g.version), facts: []fact{{domain.EvDependentApplied,
				domain.DependentApplied{GuardianID: b.GuardianID, DependentID: b.DependentID, UsableFrom: b.UsableFrom}}}},
			unregistered(b.DependentID, reg),
			claim,
		}, nil
	}
}

func (h *Handler) endDependent(b domain.EndDependent) decision {
	return func(ctx context.Context, _ *turn) ([]change, error) {
		g, err := h.loadGuardian(ctx, b.GuardianID)
		if err != nil {
			return nil, err
		}
		if !g.active[b.DependentID] {
			return nil, domain.Errorf(domain.Conflict, "%s is not an active dependent of guardian %s", b.DependentID, b.GuardianID)
		}
		return []change{{stream: domain.PersonStream(b.GuardianID), expected: eventstore.Exactly(g.version),
			facts: []fact{{domain.EvDependentEnded, domain.DependentEnded(b)}}}}, nil
	}
}
