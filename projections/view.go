package projections

import (
	"context"
	"sync"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// View answers the colour an admission decision uses: the colour at the
// scan's time as known from every event in the ledger before the scan. It
// catches the projection up with the ledger's head before answering, and
// says which position its answer reflects, so that the scan can record it
// and `audit replay` can re-derive the admission.
// Concurrent admissions share a View: one at a time catches it up.
type View struct {
	Store   eventstore.Store
	Colours *Colours
	mu      sync.Mutex
}

// ColourAt implements commands.ColourView.
func (v *View) ColourAt(ctx context.Context, p domain.PersonID, at time.Time) (domain.Colour, int64, error) {
	head, err := v.Store.Head(ctx)
	if err != nil {
		return domain.Colour{}, 0, err
	}
	v.mu.Lock()
	err = readInto(ctx, v.Store, v.Colours, head.Position)
	v.mu.Unlock()
	if err != nil {
		return domain.Colour{}, 0, err
	}
	a, pos := v.Colours.ColourAt(p, at)
	return a.Colour, pos, nil
}

// Reader answers queries (explanations, contacts, chains, clusters) from a
// colour projection of its own, caught up with the ledger's head before
// each: apart from the View that admissions read, so that a long query
// never holds up a gate.
type Reader struct {
	Store   eventstore.Store
	Colours *Colours
	mu      sync.Mutex
}

// Read catches the projection up with the ledger's head and calls fn with
// its index and the position it reaches; the index does not change until
// fn returns. Reads are one at a time.
func (r *Reader) Read(ctx context.Context, fn func(ix *Index, position int64) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	head, err := r.Store.Head(ctx)
	if err != nil {
		return err
	}
	if err := readInto(ctx, r.Store, r.Colours, head.Position); err != nil {
		return err
	}
	return fn(r.Colours.ix, r.Colours.Applied())
}
