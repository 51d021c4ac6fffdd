// Package projections is the read side: deterministic folds over the
// ledger, in position order.
package projections

import (
	"context"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// Judge evaluates the policy over the whole ledger as known at known (zero:
// everything recorded), in zone loc, and returns the judgement with the
// ledger position it reflects. The ledger is read as a projection catches
// up with it.
func Judge(ctx context.Context, store eventstore.Store, known time.Time, loc *time.Location) (*domain.Judgement, int64, error) {
	c := NewColours(loc)
	if err := (&Runner{Store: store, Colours: c}).CatchUp(ctx); err != nil {
		return nil, 0, err
	}
	return domain.Evaluate(c.ix.Facts(0), known, loc), c.Applied(), nil
}
