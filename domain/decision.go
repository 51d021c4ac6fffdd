package domain

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// ColourAssigned is the decision record the colour projection writes
// whenever a person's colour changes: the colour at At, the reasons for it
// (rule, interval, causing events, policy version), and Basis, the ledger
// position of the facts it judged. Re-running Evaluate over the facts up
// to Basis and asking for the colour at At gives the same record, which is
// what `audit replay` checks.
type ColourAssigned struct {
	PersonID PersonID   `json:"person_id"`
	Colour   Colour     `json:"colour"`
	Previous Colour     `json:"previous"`
	At       time.Time  `json:"at"`
	Reasons  []Interval `json:"reasons"`
	// ValidUntil is the next time the colour may change as the facts up to
	// Basis have it (nil: none known).
	ValidUntil *time.Time `json:"valid_until"`
	Basis      int64      `json:"basis"`
	// Seq numbers the person's decisions from 1; it is the decision's
	// version in its stream.
	Seq int64 `json:"seq"`
}

// DecisionsStream holds a person's colour decisions.
func DecisionsStream(id PersonID) string { return "decisions-" + id.String() }

// decisionSpace is the UUIDv5 namespace of decision ids.
var decisionSpace = uuid.MustParse("9a0c55e2-5d3b-5f8e-a1c4-7be2d04f6c19")

// DecisionID is the id of a person's seq-th decision giving colour at at on
// the facts up to basis: the same decision always has the same id, so a
// repeated one is a no-op in the ledger.
func DecisionID(p PersonID, seq int64, colour Colour, at time.Time, basis int64) uuid.UUID {
	key := p.String() + "|" + strconv.FormatInt(seq, 10) + "|" + colour.String() + "|" +
		at.UTC().Format(time.RFC3339Nano) + "|" + strconv.FormatInt(basis, 10)
	return uuid.NewSHA1(decisionSpace, []byte(key))
}

// Decide makes the decision record for p's colour at at, as j judges it
// (j judged the facts up to basis): the record the projection appends and
// the one `audit replay` expects.
func Decide(j *Judgement, p PersonID, previous Colour, at time.Time, basis, seq int64) ColourAssigned {
	a := j.ColourAt(p, at)
	d := ColourAssigned{PersonID: p, Colour: a.Colour, Previous: previous, At: at.UTC(), Reasons: a.Reasons, Basis: basis, Seq: seq}
	if next := j.Boundaries(p, at); len(next) > 0 {
		d.ValidUntil = &next[0]
	}
	return d
}
