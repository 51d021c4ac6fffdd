// Package projections is the read side: deterministic folds over the
// ledger, in position order.
package projections

import (
	"context"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// ReadFacts reads the ledger's facts that the policy reads, in position
// order, up to position until (0: the whole ledger), and the position read
// to.
func ReadFacts(ctx context.Context, store eventstore.Store, until int64) ([]domain.Fact, int64, error) {
	var facts []domain.Fact
	var last int64
	for {
		page, err := store.ReadAll(ctx, last, 10000)
		if err != nil {
			return nil, 0, err
		}
		for _, e := range page {
			if until > 0 && e.Position > until {
				return facts, last, nil
			}
			f, ok, err := DecodeEvent(e)
			if err != nil {
				return nil, 0, err
			}
			if ok {
				facts = append(facts, f)
			}
			last = e.Position
		}
		if len(page) == 0 {
			return facts, last, nil
		}
	}
}

// Judge evaluates the policy over the whole ledger as known at known (zero:
// everything recorded), in zone loc, and returns the judgement with the
// ledger position it reflects.
func Judge(ctx context.Context, store eventstore.Store, known time.Time, loc *time.Location) (*domain.Judgement, int64, error) {
	facts, pos, err := ReadFacts(ctx, store, 0)
	if err != nil {
		return nil, 0, err
	}
	return domain.Evaluate(facts, known, loc), pos, nil
}
