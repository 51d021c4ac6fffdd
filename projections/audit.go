package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// Mismatch is a recorded decision that the facts it names do not give.
type Mismatch struct {
	// Position is the decision's place in the ledger.
	Position int64  `json:"position"`
	Kind     string `json:"kind"` // "colour" or "admission"
	PersonID string `json:"person_id"`
	Problem  string `json:"problem"`
	Recorded string `json:"recorded"`
	Derived  string `json:"derived"`
}

// ReplayReport is what `audit replay` found.
type ReplayReport struct {
	Position   int64      `json:"position"`
	Decisions  int        `json:"decisions"`
	Admissions int        `json:"admissions"`
	Mismatches []Mismatch `json:"mismatches"`
}

// Replay re-derives every colour decision the ledger records, and every
// admission that was decided on a colour, from the facts up to the
// position each names as its basis, with the pure policy; and reports each
// record that differs from its re-derivation. It reads the ledger once.
func Replay(ctx context.Context, store eventstore.Store, loc *time.Location) (ReplayReport, error) {
	rep := ReplayReport{Mismatches: []Mismatch{}}
	ix := NewIndex(loc)
	last := map[domain.PersonID]domain.ColourAssigned{}
	for {
		page, err := store.ReadAll(ctx, rep.Position, 10000)
		if err != nil {
			return rep, err
		}
		if len(page) == 0 {
			return rep, nil
		}
		for _, e := range page {
			rep.Position = e.Position
			switch e.Type {
			case domain.EvColourAssigned:
				rep.Decisions++
				if m, ok := checkDecision(ix, e, last); !ok {
					rep.Mismatches = append(rep.Mismatches, m)
				}
				continue
			}
			f, ok, err := DecodeEvent(e)
			if err != nil {
				return rep, err
			}
			if !ok {
				continue
			}
			if b, isScan := f.Body.(domain.ScanRecorded); isScan && !b.Colour.IsZero() && b.Subject.Kind == domain.SubjectPerson {
				rep.Admissions++
				p := b.Subject.PersonID
				derived := ix.Judge([]domain.PersonID{p}, b.ViewPosition).ColourAt(p, f.OccurredAt).Colour
				if b.ViewPosition >= e.Position || derived != b.Colour {
					rep.Mismatches = append(rep.Mismatches, Mismatch{Position: e.Position, Kind: "admission", PersonID: p.String(),
						Problem:  fmt.Sprintf("the scan was decided on %s as known at position %d; the facts give %s", b.Colour, b.ViewPosition, derived),
						Recorded: b.Colour.String(), Derived: derived.String()})
				}
			}
			ix.Add(f)
		}
	}
}

// checkDecision compares a recorded decision with the one the facts up to
// its basis give, and with the person's decision before it.
func checkDecision(ix *Index, e eventstore.Event, last map[domain.PersonID]domain.ColourAssigned) (Mismatch, bool) {
	m := Mismatch{Position: e.Position, Kind: "colour", Recorded: string(e.Payload)}
	var d domain.ColourAssigned
	if err := json.Unmarshal(e.Payload, &d); err != nil {
		m.Problem = "the decision cannot be read: " + err.Error()
		return m, false
	}
	m.PersonID = d.PersonID.String()
	prev, seen := last[d.PersonID]
	last[d.PersonID] = d
	want := domain.Green
	if seen {
		want = prev.Colour
	}
	switch {
	case d.Basis >= e.Position:
		m.Problem = fmt.Sprintf("its basis, position %d, is not before the decision", d.Basis)
		return m, false
	case d.Seq != prev.Seq+1:
		m.Problem = fmt.Sprintf("it is decision %d of the person, after decision %d", d.Seq, prev.Seq)
		return m, false
	case d.Previous != want:
		m.Problem = fmt.Sprintf("it says the colour was %s, but the previous decision gave %s", d.Previous, want)
		return m, false
	}
	derived, err := json.Marshal(domain.Decide(ix.Judge([]domain.PersonID{d.PersonID}, d.Basis), d.PersonID, d.Previous, d.At, d.Basis, d.Seq))
	if err != nil {
		m.Problem = err.Error()
		return m, false
	}
	if !bytes.Equal(derived, e.Payload) {
		m.Problem = fmt.Sprintf("the facts up to position %d give another decision", d.Basis)
		m.Derived = string(derived)
		return m, false
	}
	return m, true
}

// DecodeEvent decodes a stored event into the fact the policy reads, if it
// reads it.
func DecodeEvent(e eventstore.Event) (domain.Fact, bool, error) {
	id, err := domain.EventIDFromUUID(e.ID)
	if err != nil {
		return domain.Fact{}, false, err
	}
	return domain.DecodeFact(domain.EventRef{ID: id, Position: e.Position}, e.Type, e.OccurredAt, e.RecordedAt, e.Payload)
}
