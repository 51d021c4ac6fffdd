package projections_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/internal/pgtest"
	"github.com/riskledger/riskledger/projections"
)

// TestRowCacheFollowsTheModel: a node's cache of PostgreSQL read-model
// rows serves what it read until the projection writes a person's row
// again; then, once the save has committed, it serves the new row. Rows of
// another schema's model do not disturb it.
func TestRowCacheFollowsTheModel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := newRandomLedger(5, 150)
	appendLedger(t, s, l.events)
	writer, err := projections.OpenPostgres(ctx, url, "rm_cached")
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	now := time.Date(2020, 3, 12, 9, 0, 0, 0, time.UTC)
	r := &projections.Runner{Store: s, Colours: projections.NewColours(shanghai), Model: writer, Now: func() time.Time { return now }}
	settle := func() {
		t.Helper()
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.Settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	settle()

	reader, err := projections.OpenPostgres(ctx, url, "rm_cached")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	cache := projections.NewRowCache(reader)
	following, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cache.Follow(following) }()
	defer func() { stop(); <-done }() // before the reader closes: Follow holds a connection

	// A person whose colour is not red yet.
	var p domain.PersonID
	var before []byte
	for _, q := range l.persons {
		row, _, ok, err := writer.Row(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if ok && !bytes.Contains(row, []byte(`"colour":"red"`)) {
			p, before = q, row
			break
		}
	}
	if p.IsZero() {
		t.Fatal("every person is red")
	}
	waitFor(t, "the cache to serve the person's row", func() bool {
		row, _, ok, err := cache.Row(ctx, p)
		return err == nil && ok && bytes.Equal(row, before)
	})
	// Another model in another schema saves: nothing changes here.
	other, err := projections.OpenPostgres(ctx, url, "rm_other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Save(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}

	// The person is confirmed: the projection writes their row red.
	l.add(now.Add(-time.Hour), domain.DiagnosisRecorded{PersonID: p, Result: domain.DiagnosisConfirmed})
	appendLedger(t, s, l.events[len(l.events)-1:])
	settle()
	after, _, _, err := writer.Row(ctx, p)
	if err != nil || !bytes.Contains(after, []byte(`"colour":"red"`)) {
		t.Fatalf("the model's row after the diagnosis: %s (%v)", after, err)
	}
	waitFor(t, "the cache to serve the new row", func() bool {
		row, _, _, err := cache.Row(ctx, p)
		return err == nil && bytes.Equal(row, after)
	})
	// And it keeps serving it (the old row is not cached back).
	for range 50 {
		if row, _, _, _ := cache.Row(ctx, p); !bytes.Equal(row, after) {
			t.Fatalf("the cache went back to %s", row)
		}
	}
}
