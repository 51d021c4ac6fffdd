package eventstore

import (
	"context"
	"errors"
	"fmt"
)

// Report is the result of recomputing the hash chain.
type Report struct {
	OK bool `json:"ok"`
	// Checked is how many events were recomputed.
	Checked int64 `json:"checked"`
	// Head is the head the ledger records.
	Head Head `json:"head"`
	// FirstBad is the first position that fails, when OK is false.
	FirstBad int64 `json:"first_bad,omitempty"`
	// Reason says what is wrong at FirstBad.
	Reason string `json:"reason,omitempty"`
}

func (r *Report) fail(pos int64, format string, args ...any) {
	r.OK, r.FirstBad, r.Reason = false, pos, fmt.Sprintf(format, args...)
}

// verifyPage is how many events Verify reads per query.
const verifyPage = 10000

// Verify recomputes the hash chain from position 1 to the recorded head and
// names the first position that is missing, out of place or altered. Rows
// that cannot be decoded count as altered. Errors are returned only when
// the ledger cannot be read at all.
func Verify(ctx context.Context, s Store) (Report, error) {
	head, err := s.Head(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("read head: %w", err)
	}
	r := Report{OK: true, Head: head}
	var prev Hash
	var pos int64
	for pos < head.Position {
		limit := verifyPage
		if rest := head.Position - pos; rest < int64(limit) {
			limit = int(rest)
		}
		evs, err := s.ReadAll(ctx, pos, limit)
		var corrupt *CorruptError
		if errors.As(err, &corrupt) {
			r.fail(corrupt.Position, "%s", corrupt.Reason)
			return r, nil
		}
		if err != nil {
			return r, fmt.Errorf("read from position %d: %w", pos+1, err)
		}
		if len(evs) == 0 {
			r.fail(pos+1, "the head is at position %d but the log ends at %d", head.Position, pos)
			return r, nil
		}
		for i := range evs {
			e := &evs[i]
			want := pos + 1
			switch {
			case e.Position != want:
				r.fail(want, "position %d is missing (the next event is at %d)", want, e.Position)
				return r, nil
			case e.PrevHash != prev:
				r.fail(want, "its previous hash does not match the hash of position %d", pos)
				return r, nil
			case ComputeHash(prev, e) != e.Hash:
				r.fail(want, "its content does not match its hash (altered)")
				return r, nil
			}
			prev, pos = e.Hash, e.Position
			r.Checked++
		}
	}
	if prev != head.Hash {
		r.fail(head.Position, "the recorded head hash does not match the hash of position %d", head.Position)
	}
	return r, nil
}

// VerifyAgainst verifies the chain and checks that the ledger still holds the
// head of an earlier statement: the event at that position must have that
// hash. A history rewritten after the statement was taken fails here even
// when its chain was recomputed. The statement's signature is checked by
// the caller, who holds the public key.
func VerifyAgainst(ctx context.Context, s Store, stmt Statement) (Report, error) {
	r, err := Verify(ctx, s)
	if err != nil || !r.OK {
		return r, err
	}
	if stmt.Position > r.Head.Position {
		r.fail(r.Head.Position+1, "the statement names position %d but the ledger ends at %d (truncated)", stmt.Position, r.Head.Position)
		return r, nil
	}
	if stmt.Position == 0 {
		return r, nil
	}
	evs, err := s.ReadAll(ctx, stmt.Position-1, 1)
	if err != nil {
		return r, fmt.Errorf("read position %d: %w", stmt.Position, err)
	}
	if len(evs) != 1 || evs[0].Hash != stmt.Hash {
		r.fail(stmt.Position, "the ledger's hash at position %d differs from the signed statement's: history was rewritten", stmt.Position)
	}
	return r, nil
}
