package projections

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// Colours is the colour projection: it folds the ledger in position order
// into an Index, keeps every person's colour now (the read model's rows),
// and makes the decisions the ledger records whenever a colour changes.
//
// A new fact re-judges only the persons whose colour it can change: the
// persons it names; for a scan, its subject when a neighbour at that
// checkpoint is infectious then, and the neighbours when the subject is;
// and, when a person's infectious windows change, everyone near their
// visits and their contacts (index-case expansion). Policies, key areas
// and retractions re-judge everyone. Passing time re-judges the persons
// whose intervals start or end: each person's next boundary is on a timer
// heap.
type Colours struct {
	mu       sync.Mutex
	ix       *Index
	applied  int64
	recorded map[domain.PersonID]decided
	infect   map[domain.PersonID][]domain.Interval
	rows     map[domain.PersonID]*Row
	dirty    map[domain.PersonID]bool
	everyone bool
	// undecided are persons judged by a Flush that did not decide.
	undecided map[domain.PersonID]bool
	next      map[domain.PersonID]time.Time
	wake      wakeHeap
}

// decided is the last decision recorded for a person.
type decided struct {
	seq    int64
	colour domain.Colour
	at     time.Time
}

// Row is a person's colour now in the read model: the answer of DESIGN
// §5.1 and the next time it may change.
type Row struct {
	domain.Answer
	NextChange *time.Time `json:"next_change"`
	json       []byte
}

// JSON is the row as the read model stores it.
func (r *Row) JSON() []byte { return r.json }

// GapError says an event arrived before the ones between it and the last
// applied position: the caller reads those from the store and applies them
// first.
type GapError struct{ Applied, Got int64 }

func (e *GapError) Error() string {
	return fmt.Sprintf("event at position %d arrived after position %d: positions in between are missing", e.Got, e.Applied)
}

// NewColours returns an empty projection whose day boundaries fall in loc.
func NewColours(loc *time.Location) *Colours {
	return &Colours{ix: NewIndex(loc), recorded: map[domain.PersonID]decided{}, infect: map[domain.PersonID][]domain.Interval{},
		rows: map[domain.PersonID]*Row{}, dirty: map[domain.PersonID]bool{}, next: map[domain.PersonID]time.Time{},
		undecided: map[domain.PersonID]bool{}}
}

// Reserve makes room for n more events.
func (c *Colours) Reserve(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ix.Reserve(n)
}

// Applied is the position of the last event applied.
func (c *Colours) Applied() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applied
}

// Apply folds one event. Positions at or before the last applied are
// skipped (delivery is at-least-once); a later position than the next is
// a *GapError and changes nothing.
func (c *Colours) Apply(e eventstore.Event) error {
	d, err := Decode(e)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apply(d)
}

// ApplyAll folds events in order, as Apply does each.
func (c *Colours) ApplyAll(evs []eventstore.Event) error {
	ds, err := DecodeAll(evs)
	if err != nil {
		return err
	}
	return c.ApplyDecoded(ds)
}

// ApplyDecoded folds events decoded by Decode, in order.
func (c *Colours) ApplyDecoded(ds []Decoded) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range ds {
		if err := c.apply(d); err != nil {
			return err
		}
	}
	return nil
}

// Decoded is an event as the colour projection reads it: a fact of the
// policy, a colour decision, or neither.
type Decoded struct {
	Position int64
	Fact     domain.Fact
	IsFact   bool
	Decision *domain.ColourAssigned
}

// Decode reads what the colour projection needs of an event. It does not
// touch the projection, so that events can be decoded beside the fold.
func Decode(e eventstore.Event) (Decoded, error) {
	d := Decoded{Position: e.Position}
	if e.Type == domain.EvColourAssigned {
		d.Decision = new(domain.ColourAssigned)
		if err := json.Unmarshal(e.Payload, d.Decision); err != nil {
			return d, fmt.Errorf("decode %s at position %d: %w", e.Type, e.Position, err)
		}
		return d, nil
	}
	var err error
	d.Fact, d.IsFact, err = DecodeEvent(e)
	return d, err
}

// DecodeAll decodes a page of events.
func DecodeAll(evs []eventstore.Event) ([]Decoded, error) {
	out := make([]Decoded, len(evs))
	for i, e := range evs {
		var err error
		if out[i], err = Decode(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *Colours) apply(d Decoded) error {
	if d.Position <= c.applied {
		return nil
	}
	if d.Position != c.applied+1 {
		return &GapError{Applied: c.applied, Got: d.Position}
	}
	if c.applied == 0 {
		// A projection starting from the beginning judges everyone once.
		c.everyone = true
	}
	c.applied = d.Position
	switch {
	case d.Decision != nil:
		if r := c.recorded[d.Decision.PersonID]; d.Decision.Seq > r.seq {
			c.recorded[d.Decision.PersonID] = decided{seq: d.Decision.Seq, colour: d.Decision.Colour, at: d.Decision.At}
		}
	case d.IsFact:
		c.ix.Add(d.Fact)
		c.mark(d.Fact)
	}
	return nil
}

// mark notes whose colour f may change.
func (c *Colours) mark(f domain.Fact) {
	if c.everyone {
		return // everyone is to be judged anyway
	}
	switch b := f.Body.(type) {
	case domain.PolicyPublished, domain.KeyAreaDesignated, domain.KeyAreaLifted, domain.FactRetracted:
		c.everyone = true
	case domain.CheckpointRegistered:
		// Its kind can change the contact window of scans already there.
		if c.ix.visits[b.CheckpointID] != nil {
			c.everyone = true
		}
	case domain.PersonRegistered:
		c.dirty[b.PersonID] = true
	case domain.HealthFormSubmitted:
		// The daily form of someone well, home, and in no one's contact
		// changes nothing.
		if len(b.Symptoms) > 0 || len(b.Travel) > 0 || b.ContactWithCase ||
			b.TemperatureCelsius != nil && *b.TemperatureCelsius >= c.ix.feverFloor {
			c.dirty[b.PersonID] = true
		}
	case domain.SymptomsReported:
		c.dirty[b.PersonID] = true
	case domain.DiagnosisRecorded:
		c.dirty[b.PersonID] = true
	case domain.ColourOverridden:
		c.dirty[b.PersonID] = true
	case domain.ContactReported:
		c.dirty[b.PersonID], c.dirty[b.OtherID] = true, true
	case domain.ScanRecorded:
		if b.Subject.Kind != domain.SubjectPerson {
			return
		}
		p := b.Subject.PersonID
		if b.TemperatureCelsius != nil && *b.TemperatureCelsius >= c.ix.feverFloor {
			c.dirty[p] = true
		}
		if !b.Admitted {
			return
		}
		pn := c.ix.numbers[p]
		if c.infectiousAt(p, f.OccurredAt) {
			for _, v := range c.ix.around(b.CheckpointID, f.OccurredAt) {
				if v.person != pn {
					c.dirty[c.ix.ids[v.person]] = true
				}
			}
		}
		for _, v := range c.ix.caseAround(b.CheckpointID, f.OccurredAt) {
			if c.dirty[p] {
				break
			}
			if v.person != pn && c.infectiousAt(c.ix.ids[v.person], time.Unix(0, v.at)) {
				c.dirty[p] = true
			}
		}
	}
}

func (c *Colours) infectiousAt(p domain.PersonID, t time.Time) bool {
	for _, w := range c.infect[p] {
		if w.Contains(t) {
			return true
		}
	}
	return false
}

// Due marks the persons whose next boundary is at or before now, and
// returns the earliest boundary still ahead (zero: none).
func (c *Colours) Due(now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.wake) > 0 && !c.wake[0].at.After(now) {
		w := heap.Pop(&c.wake).(wakeAt)
		if t, ok := c.next[w.person]; ok && t.Equal(w.at) {
			delete(c.next, w.person)
			c.dirty[w.person] = true
		}
	}
	if len(c.wake) == 0 {
		return time.Time{}
	}
	return c.wake[0].at
}

// Flush re-judges the marked persons as the facts applied so far have it,
// at now. It returns the rows that changed and, when decide is set, the
// decisions to record: for each person, every change of colour from their
// last recorded decision up to now, each at its due time (so that the
// boundaries that passed while nobody was deciding are recorded when they
// happened).
func (c *Colours) Flush(now time.Time, decide bool) ([]*Row, []domain.ColourAssigned) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var rows []*Row
	var decisions []domain.ColourAssigned
	settle := func(j *domain.Judgement, persons []domain.PersonID) {
		for _, p := range persons {
			if r := c.row(j, p, now); r != nil {
				rows = append(rows, r)
			}
			if decide {
				decisions = append(decisions, c.decide(j, p, now)...)
				delete(c.undecided, p)
			} else {
				c.undecided[p] = true
			}
		}
	}
	if decide && !c.everyone {
		// Those judged without deciding are decided now.
		for p := range c.undecided {
			c.dirty[p] = true
		}
	}
	if c.everyone {
		j := c.ix.JudgeAll()
		// Everyone any fact names has a row, as in the incremental case.
		persons := make([]domain.PersonID, 0, len(c.ix.ids)+len(c.recorded))
		for n, p := range c.ix.ids {
			if len(c.ix.factsOf[n]) > 0 {
				persons = append(persons, p)
			}
		}
		for p := range c.recorded {
			persons = append(persons, p)
		}
		persons = sortedUnique(persons)
		for _, p := range persons {
			c.setInfectious(p, j.Infectious(p))
		}
		settle(j, persons)
		c.everyone = false
		clear(c.dirty)
		return rows, decisions
	}
	if len(c.dirty) == 0 {
		return nil, nil
	}
	persons := make([]domain.PersonID, 0, len(c.dirty))
	for p := range c.dirty {
		persons = append(persons, p)
	}
	persons = sortedUnique(persons)
	j := c.ix.Judge(persons, 0)
	var more []domain.PersonID
	for _, p := range persons {
		old := c.infect[p]
		if ws := j.Infectious(p); c.setInfectious(p, ws) {
			// Only co-presence in the windows that came or went matters.
			for _, q := range c.ix.Neighbours(p, append(slices.Clone(old), ws...)) {
				if !c.dirty[q] {
					more = append(more, q)
				}
			}
		}
	}
	settle(j, persons)
	if more = sortedUnique(more); len(more) > 0 {
		// Their own windows did not change: only persons named by the
		// facts applied are in dirty, and more are not.
		settle(c.ix.Judge(more, 0), more)
	}
	clear(c.dirty)
	return rows, decisions
}

// setInfectious records p's infectious windows and tells whether they
// changed.
func (c *Colours) setInfectious(p domain.PersonID, ws []domain.Interval) bool {
	old := c.infect[p]
	same := len(old) == len(ws)
	for i := 0; same && i < len(ws); i++ {
		same = old[i].From.Equal(ws[i].From) && old[i].Until.Equal(ws[i].Until)
	}
	if len(ws) == 0 {
		delete(c.infect, p)
	} else {
		c.infect[p] = ws
	}
	return !same
}

// row updates p's row at now and returns it when it changed.
func (c *Colours) row(j *domain.Judgement, p domain.PersonID, now time.Time) *Row {
	r := &Row{Answer: j.ColourAt(p, now)}
	if next := j.Boundaries(p, now); len(next) > 0 {
		r.NextChange = &next[0]
		if t, ok := c.next[p]; !ok || !t.Equal(next[0]) {
			c.next[p] = next[0]
			heap.Push(&c.wake, wakeAt{next[0], p})
		}
	} else {
		delete(c.next, p)
	}
	r.json, _ = json.Marshal(r)
	if old := c.rows[p]; old != nil && bytes.Equal(old.json, r.json) {
		return nil
	}
	c.rows[p] = r
	return r
}

// decide returns p's colour changes from the last recorded decision to now.
func (c *Colours) decide(j *domain.Judgement, p domain.PersonID, now time.Time) []domain.ColourAssigned {
	r, ok := c.recorded[p]
	if !ok {
		r.colour = domain.Green
	}
	var points []time.Time
	for _, t := range j.Boundaries(p, r.at) {
		if !t.After(now) {
			points = append(points, t)
		}
	}
	if now.After(r.at) {
		points = append(points, now)
	}
	var out []domain.ColourAssigned
	for _, t := range points {
		if a := j.ColourAt(p, t).Colour; a != r.colour {
			d := domain.Decide(j, p, r.colour, t, c.applied, r.seq+1)
			out = append(out, d)
			r = decided{seq: d.Seq, colour: d.Colour, at: d.At}
		}
	}
	c.recorded[p] = r
	return out
}

// Forget drops what Flush assumed about p's recorded decisions, so that
// the next decision is made afresh from the ledger's (after a decision
// could not be recorded).
func (c *Colours) Forget(p domain.PersonID, last domain.ColourAssigned, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.recorded[p] = decided{seq: last.Seq, colour: last.Colour, at: last.At}
	} else {
		delete(c.recorded, p)
	}
	c.dirty[p] = true
}

// Rows returns every row, in person order.
func (c *Colours) Rows() []*Row {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Row, 0, len(c.rows))
	for _, r := range c.rows {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Row) int { return strings.Compare(a.PersonID.String(), b.PersonID.String()) })
	return out
}

// ColourAt answers p's colour at t as the facts applied so far have it,
// and the position they reach.
func (c *Colours) ColourAt(p domain.PersonID, t time.Time) (domain.Answer, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ix.Judge([]domain.PersonID{p}, 0).ColourAt(p, t), c.applied
}

// Index returns the projection's fact index. It is not safe to use while
// events are being applied.
func (c *Colours) Index() *Index { return c.ix }

func sortedUnique(ps []domain.PersonID) []domain.PersonID {
	slices.SortFunc(ps, func(a, b domain.PersonID) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(ps)
}

type wakeAt struct {
	at     time.Time
	person domain.PersonID
}

type wakeHeap []wakeAt

func (h wakeHeap) Len() int           { return len(h) }
func (h wakeHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h wakeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *wakeHeap) Push(x any)        { *h = append(*h, x.(wakeAt)) }
func (h *wakeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
