package projections

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/riskledger/riskledger/domain"
)

// Contacts answers an epidemiologist's questions (DESIGN §5, issue
// "contacts"): who a person met, along which time-respecting paths an
// infection could have travelled, and where index cases cluster. It reads
// an Index and a judgement of the same facts: the index finds who was near
// whom without ever pairing everyone (a range search around each visit in
// a checkpoint's scans, in time order); the judgement says who was
// infectious when, and which yellow intervals an exposure caused.
//
// An exposure is one of:
//   - checkpoint co-presence: admitted scans of two persons at one
//     checkpoint at most the contact window apart (the policy in force at
//     the later scan, for the checkpoint's kind), as Y1 reads them; the
//     other may be the holder of another region's code (Foreign), whom
//     the policy cannot judge: their region is the one to tell;
//   - a reported contact: an interview's, or the sensor records of a pair
//     merged into episodes (merge_gap), as Y2 reads them.
//
// Retracted scans and contacts are not exposures. A Contacts is safe for
// concurrent queries; the index must not change while it is in use.
type Contacts struct {
	ix        *Index
	j         *domain.Judgement
	retracted map[domain.EventID]bool
	places    map[domain.CheckpointID]*Place
}

// Place is the checkpoint where a co-presence happened.
type Place struct {
	CheckpointID domain.CheckpointID   `json:"checkpoint_id"`
	Name         string                `json:"name"`
	Kind         domain.CheckpointKind `json:"kind,omitzero"` // none when the registration was retracted
	District     string                `json:"district"`
}

// Sources of exposures.
const (
	SourceCheckpoint = "checkpoint"
	SourceInterview  = "interview"
	SourceSensor     = "sensor"
)

// NewContacts returns the queries over ix, whose facts j judged (JudgeAll,
// or Judge of the persons to be asked about).
func NewContacts(ix *Index, j *domain.Judgement) *Contacts {
	c := &Contacts{ix: ix, j: j, retracted: map[domain.EventID]bool{}, places: map[domain.CheckpointID]*Place{}}
	for _, i := range ix.global {
		if r, ok := ix.facts[i].Body.(domain.FactRetracted); ok {
			c.retracted[r.EventID] = true
		}
	}
	for cp, fs := range ix.checkpoints {
		for _, i := range fs {
			if c.retracted[ix.facts[i].Ref.ID] {
				continue
			}
			b := ix.facts[i].Body.(domain.CheckpointRegistered)
			c.places[cp] = &Place{CheckpointID: cp, Name: b.Name, Kind: b.Kind, District: b.District}
		}
	}
	for cp := range ix.visits {
		ix.around(cp, time.Time{}) // sorts each checkpoint's visits once, before concurrent reads
		if c.places[cp] == nil {
			c.places[cp] = &Place{CheckpointID: cp}
		}
	}
	for cp := range ix.foreignVisits {
		ix.foreignAround(cp, time.Time{})
		if c.places[cp] == nil {
			c.places[cp] = &Place{CheckpointID: cp}
		}
	}
	return c
}

// Span is a duration written in Go syntax ("12m30s").
type Span time.Duration

// MarshalJSON writes the span as a Go duration string.
func (s Span) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(s).String() + `"`), nil
}

// UnmarshalJSON reads a Go duration string.
func (s *Span) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return err
	}
	d, err := time.ParseDuration(str)
	*s = Span(d)
	return err
}

// Exposure is one contact of Person with Other, or with the holder of
// another region's code (Foreign, at a checkpoint; Other is then zero).
type Exposure struct {
	Person  domain.PersonID `json:"person"`
	Other   domain.PersonID `json:"other,omitzero"`
	Foreign *Foreign        `json:"foreign,omitempty"`
	// Source is checkpoint (co-presence), interview or sensor.
	Source string `json:"source"`
	// Place is the checkpoint of a co-presence.
	Place *Place `json:"place,omitempty"`
	// At is when the exposure happened, as chains order exposures: the
	// later of the two scans; a reported contact's start.
	At time.Time `json:"at"`
	// PersonAt and OtherAt are the two scans' times, Gap the time between
	// them (co-presence only).
	PersonAt *time.Time `json:"person_at,omitempty"`
	OtherAt  *time.Time `json:"other_at,omitempty"`
	Gap      *Span      `json:"gap,omitempty"`
	// Start, End and Duration span a reported contact; an interview that
	// did not establish its end has none.
	Start    *time.Time `json:"start,omitempty"`
	End      *time.Time `json:"end,omitempty"`
	Duration *Span      `json:"duration,omitempty"`
	// Infectious are those of the two who were index cases in an
	// infectious window then (at their own scan; at the contact's start).
	Infectious []domain.PersonID `json:"infectious"`
	// Yellow are the yellow intervals this exposure caused.
	Yellow []Caused `json:"yellow"`
	// Events are the scans, or the contact records, it rests on.
	Events []domain.EventRef `json:"events"`
}

// Caused is a yellow interval an exposure caused: whose, by which rule.
type Caused struct {
	Person domain.PersonID `json:"person"`
	Rule   string          `json:"rule"`
	From   time.Time       `json:"from"`
	Until  time.Time       `json:"until"`
}

// meeting is an exposure of one person before it is written out.
type meeting struct {
	other int32 // the other's number; -1-k for foreign holder k
	at    int64 // as Exposure.At, in unix nanoseconds
	// co-presence: the person's scan (a fact), the other's (from the
	// index's visits), and where
	mine     int32
	theirsAt int64
	theirs   domain.EventRef
	place    *Place
	// a reported contact
	episode *domain.Episode
}

// episodeOrder orders episodes (none first) by their first event.
func episodeOrder(a, b *domain.Episode) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(a.Events[0].Position, b.Events[0].Position)
}

// bounds is a half-open time range [from, to) in unix nanoseconds.
type bounds struct{ from, to int64 }

func newBounds(from, to time.Time) bounds {
	b := bounds{math.MinInt64, math.MaxInt64}
	if !from.IsZero() {
		b.from = from.UnixNano()
	}
	if !to.IsZero() {
		b.to = to.UnixNano()
	}
	return b
}

func (b bounds) has(t int64) bool { return t >= b.from && t < b.to }

// meet calls fn for each exposure of person n whose At is within b: the
// co-presences at each of n's admitted scans, then n's reported contacts
// merged into episodes.
//
// A city's index is larger than the processor's caches, and a query's time
// goes to memory: the person's facts lie far apart, and so do the steps of
// a search through a checkpoint's scans. meet therefore works in passes
// whose loads do not wait on one another: it reads all of the person's
// facts first, then runs the searches around all of their scans in step
// (each round makes one probe of every search), then walks the windows
// found.
func (c *Contacts) meet(n int32, b bounds, fn func(m meeting)) {
	ix := c.ix
	p := ix.ids[n]
	buf := scanBuffers.Get().(*scanBuffer)
	defer scanBuffers.Put(buf)
	mine := buf.scans[:0]
	var reported []domain.Fact
	for _, i := range ix.factsOf[n] {
		f := &ix.facts[i]
		if len(c.retracted) > 0 && c.retracted[f.Ref.ID] {
			continue
		}
		switch s := f.Body.(type) {
		case domain.ScanRecorded:
			if s.Admitted && s.Subject.Kind == domain.SubjectPerson {
				mine = append(mine, myScan{fact: i, at: f.OccurredAt.UnixNano(), cp: s.CheckpointID})
			}
		case domain.ContactReported:
			reported = append(reported, *f)
		}
	}
	buf.scans = mine
	widest := int64(ix.widest)
	for k := range mine {
		s := &mine[k]
		s.place = c.places[s.cp]
		// The window at this scan serves every visit at or before it.
		params, _ := ix.policies.At(time.Unix(0, s.at))
		s.window = int64(params.ContactWindowFor(s.place.Kind))
		s.list = ix.sortedVisits(ix.visits, s.cp)
		s.lo, s.n = 0, len(s.list)
	}
	// The searches, in step: s.lo ends at the first visit no earlier than
	// the widest window before the scan.
	for active := true; active; {
		active = false
		for k := range mine {
			s := &mine[k]
			if s.n <= 1 {
				continue
			}
			half := s.n / 2
			if s.list[s.lo+half].at < s.at-widest {
				s.lo += half
			}
			s.n -= half
			active = true
		}
	}
	for k := range mine {
		s := &mine[k]
		if s.n == 1 && s.list[s.lo].at < s.at-widest {
			s.lo++
		}
		for _, v := range s.list[s.lo:] {
			if v.at > s.at+widest {
				break
			}
			if later, ok := c.meets(s.at, s.window, v, b, s.place); ok && v.person != n {
				fn(meeting{other: v.person, at: later, mine: s.fact, theirsAt: v.at, theirs: v.ref, place: s.place})
			}
		}
		for _, v := range ix.foreignAround(s.cp, time.Unix(0, s.at)) {
			if later, ok := c.meets(s.at, s.window, v, b, s.place); ok {
				fn(meeting{other: -1 - v.person, at: later, mine: s.fact, theirsAt: v.at, theirs: v.ref, place: s.place})
			}
		}
	}
	if len(reported) == 0 {
		return
	}
	eps := domain.Episodes(reported, ix.policies)
	for k := range eps {
		ep := &eps[k]
		other := ep.Contact.OtherID
		if other == p {
			other = ep.Contact.PersonID
		}
		if at := ep.Contact.Start.UnixNano(); other != p && b.has(at) {
			fn(meeting{other: ix.numbers[other], at: at, episode: ep})
		}
	}
}

// myScan is one of the admitted scans of the person meet asks about, and
// the state of the search around it.
type myScan struct {
	fact   int32
	at     int64 // unix nanoseconds
	cp     domain.CheckpointID
	place  *Place
	window int64
	list   []visit // the checkpoint's visits, in time order
	lo, n  int     // the search: list[lo:lo+n] is still to be narrowed
}

// scanBuffer holds meet's scans.
type scanBuffer struct{ scans []myScan }

// scanBuffers are buffers for meet, reused between queries.
var scanBuffers = sync.Pool{New: func() any { return new(scanBuffer) }}

// meets tells whether the visit v at place meets a scan there at mine
// (unix nanoseconds): v is not retracted, the later of the two is in b,
// and they are at most the contact window apart (the policy in force at
// the later, for the place's kind; window is the one in force at mine).
// It returns the later.
func (c *Contacts) meets(mine, window int64, v visit, b bounds, place *Place) (int64, bool) {
	later := max(mine, v.at)
	if !b.has(later) || len(c.retracted) > 0 && c.retracted[v.ref.ID] {
		return 0, false
	}
	if later != mine {
		params, _ := c.ix.policies.At(time.Unix(0, later))
		window = int64(params.ContactWindowFor(place.Kind))
	}
	gap := mine - v.at
	return later, max(gap, -gap) <= window
}

// Shared empty lists: an exposure nobody was infectious in says so with
// these, without an allocation of its own.
var (
	nobody  = []domain.PersonID{}
	nothing = []Caused{}
)

// coPresence is what a co-presence exposure points to besides the index:
// its two scans, the other's scan time and the gap. A query allocates one
// array of them; an exposure's Events is the whole of its events array
// (capacity 2), so appending to it copies rather than overwriting a
// neighbour's.
type coPresence struct {
	events  [2]domain.EventRef
	otherAt time.Time
	gap     Span
}

// reportedSpan is what a reported contact's exposure points to: its start,
// end and duration. A query allocates one array of them.
type reportedSpan struct {
	start, end time.Time
	duration   Span
}

// exposures writes out the meetings ms of person n, whose id is p, in the
// order of keys; copresent of them are co-presences. The exposures share
// their backing arrays (event references, times, gaps, places), and the
// judgement is asked only about persons who may be index cases at all: a
// person's contacts run to hundreds in a fortnight.
func (c *Contacts) exposures(p domain.PersonID, n int32, ms []meeting, keys []meetingKey, copresent int) []Exposure {
	ix := c.ix
	out := make([]Exposure, len(keys))
	cps := make([]coPresence, copresent)
	var spans []reportedSpan
	if copresent < len(keys) {
		spans = make([]reportedSpan, len(keys)-copresent)
	}
	pMayBeCase := ix.mayBeCase(n)
	for i, k := range keys {
		m := &ms[k.i]
		e := &out[i]
		var other domain.PersonID
		otherMayBeCase := false
		if m.other < 0 {
			e.Foreign = &ix.foreign[-1-m.other]
		} else {
			other, otherMayBeCase = ix.ids[m.other], ix.mayBeCase(m.other)
		}
		e.Person, e.Other, e.At, e.Infectious, e.Yellow = p, other, time.Unix(0, m.at).UTC(), nobody, nothing
		if m.episode == nil {
			mine := &ix.facts[m.mine]
			gap := mine.OccurredAt.UnixNano() - m.theirsAt
			cp := &cps[0]
			cps = cps[1:]
			cp.events = [2]domain.EventRef{mine.Ref, m.theirs}
			cp.otherAt = time.Unix(0, m.theirsAt).UTC()
			cp.gap = Span(max(gap, -gap))
			e.Source, e.Place, e.Gap = SourceCheckpoint, m.place, &cp.gap
			e.PersonAt, e.OtherAt = &mine.OccurredAt, &cp.otherAt
			e.Events = cp.events[:]
			if pMayBeCase && c.j.InfectiousAt(p, mine.OccurredAt) {
				e.Infectious = append(e.Infectious, p)
				if e.Foreign == nil {
					c.caused(e, other, p, mine.Ref, m.theirs)
				}
			}
			if otherMayBeCase && c.j.InfectiousAt(other, cp.otherAt) {
				e.Infectious = append(e.Infectious, other)
				c.caused(e, p, other, m.theirs, mine.Ref)
			}
			continue
		}
		ep := m.episode
		sp := &spans[0]
		spans = spans[1:]
		e.Source, e.Events = ep.Contact.Source.String(), ep.Events
		sp.start = ep.Contact.Start
		e.Start = &sp.start
		if !ep.Contact.End.IsZero() {
			sp.end, sp.duration = ep.Contact.End, Span(ep.Duration())
			e.End, e.Duration = &sp.end, &sp.duration
		}
		if pMayBeCase && c.j.InfectiousAt(p, sp.start) {
			e.Infectious = append(e.Infectious, p)
			c.caused(e, other, p, ep.Events[0])
		}
		if otherMayBeCase && c.j.InfectiousAt(other, sp.start) {
			e.Infectious = append(e.Infectious, other)
			c.caused(e, p, other, ep.Events[0])
		}
	}
	return out
}

// caused adds to e's Yellow the interval of exposed that index caused
// through refs, if the policy made one.
func (c *Contacts) caused(e *Exposure, exposed, index domain.PersonID, refs ...domain.EventRef) {
	if iv, ok := c.j.CausedBy(exposed, index, refs...); ok {
		e.Yellow = append(e.Yellow, Caused{Person: exposed, Rule: iv.Rule, From: iv.From, Until: iv.Until})
	}
}

// Knows tells whether any fact of the ledger names p.
func (c *Contacts) Knows(p domain.PersonID) bool {
	_, ok := c.ix.numbers[p]
	return ok
}

// Of returns every exposure of p whose At is in [from, to) (a zero time
// leaves that side open), in order of At, then of the other's id.
func (c *Contacts) Of(p domain.PersonID, from, to time.Time) []Exposure {
	n, ok := c.ix.numbers[p]
	if !ok {
		return []Exposure{}
	}
	buf := meetings.Get().(*meetingBuffer)
	defer meetings.Put(buf)
	ms := buf.ms[:0]
	c.meet(n, newBounds(from, to), func(m meeting) { ms = append(ms, m) })
	buf.ms = ms
	// Sort small keys, not the meetings: a person meets hundreds.
	keys := slices.Grow(buf.keys[:0], len(ms))
	copresent := 0
	for i, m := range ms {
		keys = append(keys, meetingKey{at: m.at, rank: c.rank(m.other), other: m.other, i: int32(i)})
		if m.episode == nil {
			copresent++
		}
	}
	buf.keys = keys
	slices.SortFunc(keys, func(a, b meetingKey) int {
		if a.at != b.at {
			return cmp.Compare(a.at, b.at)
		}
		if a.rank != b.rank {
			return cmp.Compare(a.rank, b.rank)
		}
		if a.other != b.other {
			return c.compareMet(a.other, b.other)
		}
		x, y := &ms[a.i], &ms[b.i]
		return cmp.Or(cmp.Compare(x.mine, y.mine), cmp.Compare(x.theirs.Position, y.theirs.Position), episodeOrder(x.episode, y.episode))
	})
	return c.exposures(p, n, ms, keys, copresent)
}

// compareMet orders the ones met by their ids, persons before holders of
// foreign codes.
func (c *Contacts) compareMet(a, b int32) int {
	switch {
	case a >= 0 && b >= 0:
		return c.ix.ids[a].Compare(c.ix.ids[b])
	case a >= 0:
		return -1
	case b >= 0:
		return 1
	}
	return c.ix.foreign[-1-a].Compare(c.ix.foreign[-1-b])
}

// rank orders the ones met as compareMet does wherever two ranks differ
// (equal ranks are left to compareMet): a person's rank is the first 8
// bytes of their id, a foreign code's holder's the highest. Sorting by rank
// first spares most comparisons a look-up of two ids far apart in memory.
func (c *Contacts) rank(other int32) uint64 {
	if other < 0 {
		return math.MaxUint64
	}
	id := c.ix.ids[other].UUID()
	return binary.BigEndian.Uint64(id[:8])
}

// meetingKey orders a meeting.
type meetingKey struct {
	at    int64
	rank  uint64
	other int32
	i     int32
}

// meetingBuffer holds Of's meetings and their sort keys.
type meetingBuffer struct {
	ms   []meeting
	keys []meetingKey
}

// meetings are buffers for Of's meetings, reused between queries.
var meetings = sync.Pool{New: func() any { return new(meetingBuffer) }}

// Chain is the contact graph around a person along time-respecting paths:
// downstream, each onward exposure happens at or after the exposure that
// reached that person; upstream (who could have infected the person), each
// earlier exposure happens at or before the one it leads to.
type Chain struct {
	Person   domain.PersonID `json:"person"`
	Upstream bool            `json:"upstream"`
	Depth    int             `json:"depth"`
	From     *time.Time      `json:"from"`
	To       *time.Time      `json:"to"`
	// Nodes are the persons reached, the person first: Depth is the
	// fewest exposures that reach them within the chain's depth, At the
	// earliest (upstream: latest) time a path reaches them.
	Nodes []ChainNode `json:"nodes"`
	// Edges are the exposures that reached a person at a depth sooner
	// (upstream: later) than any shallower path, from the one exposed
	// first to the one exposed after, whatever the direction.
	Edges []ChainEdge `json:"edges"`
}

// ChainNode is a person in a chain.
type ChainNode struct {
	Person domain.PersonID `json:"person"`
	Depth  int             `json:"depth"`
	At     *time.Time      `json:"at"`
}

// ChainEdge is an exposure in a chain.
type ChainEdge struct {
	From   domain.PersonID `json:"from"`
	To     domain.PersonID `json:"to"`
	Depth  int             `json:"depth"`
	At     time.Time       `json:"at"`
	Source string          `json:"source"`
	Place  *Place          `json:"place,omitempty"`
}

// ChainOf walks the exposures of p with At in [from, to) along
// time-respecting paths, depth exposures deep at most. A person reached
// again at a deeper level is walked again only if that path arrives
// earlier (upstream: later) than every shallower one, since only then can
// it reach someone new.
func (c *Contacts) ChainOf(p domain.PersonID, depth int, upstream bool, from, to time.Time) Chain {
	ch := Chain{Person: p, Upstream: upstream, Depth: depth, Nodes: []ChainNode{{Person: p}}, Edges: []ChainEdge{}}
	if !from.IsZero() {
		ch.From = &from
	}
	if !to.IsZero() {
		ch.To = &to
	}
	root, ok := c.ix.numbers[p]
	if !ok {
		return ch
	}
	// Upstream walks time backwards: keys are times, negated.
	sign := int64(1)
	if upstream {
		sign = -1
	}
	type reach struct {
		person int32
		key    int64
	}
	best := map[int32]int64{root: math.MinInt64}
	node := map[int32]int{root: 0}
	frontier := []reach{{root, math.MinInt64}}
	b := newBounds(from, to)
	for d := 1; d <= depth && len(frontier) > 0; d++ {
		improved := map[int32]ChainEdge{}
		var next []int32
		for _, r := range frontier {
			c.meet(r.person, b, func(m meeting) {
				if m.other < 0 {
					return // a foreign code's holder: their region traces them
				}
				key := sign * m.at
				if key < r.key {
					return // it goes back in time along this path
				}
				if k, seen := best[m.other]; seen && k <= key {
					return
				}
				if _, again := improved[m.other]; !again {
					next = append(next, m.other)
				}
				best[m.other] = key
				e := ChainEdge{From: c.ix.ids[r.person], To: c.ix.ids[m.other], Depth: d, At: time.Unix(0, m.at).UTC(), Source: SourceCheckpoint}
				if upstream {
					e.From, e.To = e.To, e.From
				}
				if m.episode != nil {
					e.Source = m.episode.Contact.Source.String()
				} else {
					e.Place = m.place
				}
				improved[m.other] = e
			})
		}
		frontier = frontier[:0]
		for _, n := range next {
			frontier = append(frontier, reach{n, best[n]})
			ch.Edges = append(ch.Edges, improved[n])
			if _, ok := node[n]; !ok {
				node[n] = d
			}
		}
	}
	for n, d := range node {
		if n == root {
			continue
		}
		at := time.Unix(0, sign*best[n]).UTC()
		ch.Nodes = append(ch.Nodes, ChainNode{Person: c.ix.ids[n], Depth: d, At: &at})
	}
	slices.SortFunc(ch.Nodes[1:], func(a, b ChainNode) int {
		return cmp.Or(cmp.Compare(a.Depth, b.Depth), a.At.Compare(*b.At), a.Person.Compare(b.Person))
	})
	slices.SortStableFunc(ch.Edges, func(a, b ChainEdge) int {
		return cmp.Or(cmp.Compare(a.Depth, b.Depth), a.At.Compare(b.At), a.From.Compare(b.From), a.To.Compare(b.To))
	})
	return ch
}

// Cluster is a place where two or more index cases were, in their
// infectious windows, at most the contact window apart (directly or
// through other cases' visits in between).
type Cluster struct {
	Place *Place `json:"place"`
	// From and To are the first and the last of the cases' visits in it.
	From  time.Time     `json:"from"`
	To    time.Time     `json:"to"`
	Cases []ClusterCase `json:"cases"`
	// Exposed are the other persons scanned within the contact window of
	// one of those visits, in id order; Foreign the holders of other
	// regions' codes scanned so, for their regions to trace.
	Exposed []domain.PersonID `json:"exposed"`
	Foreign []Foreign         `json:"foreign"`
}

// ClusterCase is an index case of a cluster and their infectious visits in
// it.
type ClusterCase struct {
	Person domain.PersonID   `json:"person"`
	Visits []time.Time       `json:"visits"`
	Events []domain.EventRef `json:"events"`
}

// Clusters returns the clusters whose case visits fall in [from, to), in
// order of their first visit, then of place.
func (c *Contacts) Clusters(from, to time.Time) []Cluster {
	ix := c.ix
	b := newBounds(from, to)
	type caseVisit struct {
		at     int64
		person int32
		fact   int32
	}
	byPlace := map[domain.CheckpointID][]caseVisit{}
	for n, p := range ix.ids {
		if !ix.mayBeCase(int32(n)) {
			continue
		}
		for _, i := range ix.factsNaming(p) {
			f := &ix.facts[i]
			s, ok := f.Body.(domain.ScanRecorded)
			if !ok || !s.Admitted || s.Subject.Kind != domain.SubjectPerson || !b.has(f.OccurredAt.UnixNano()) ||
				c.retracted[f.Ref.ID] || !c.j.InfectiousAt(p, f.OccurredAt) {
				continue
			}
			byPlace[s.CheckpointID] = append(byPlace[s.CheckpointID], caseVisit{f.OccurredAt.UnixNano(), int32(n), i})
		}
	}
	out := []Cluster{}
	for cp, vs := range byPlace {
		place := c.places[cp]
		window := func(at int64) int64 {
			params, _ := ix.policies.At(time.Unix(0, at))
			return int64(params.ContactWindowFor(place.Kind))
		}
		slices.SortFunc(vs, func(a, b caseVisit) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.fact, b.fact)) })
		for lo := 0; lo < len(vs); {
			hi := lo + 1
			for hi < len(vs) && vs[hi].at-vs[hi-1].at <= window(vs[hi].at) {
				hi++
			}
			group := vs[lo:hi]
			lo = hi
			cases := map[int32]*ClusterCase{}
			var order []int32
			for _, v := range group {
				cc := cases[v.person]
				if cc == nil {
					cc = &ClusterCase{Person: ix.ids[v.person]}
					cases[v.person] = cc
					order = append(order, v.person)
				}
				cc.Visits = append(cc.Visits, time.Unix(0, v.at).UTC())
				cc.Events = append(cc.Events, ix.facts[v.fact].Ref)
			}
			if len(order) < 2 {
				continue
			}
			cl := Cluster{Place: place, From: time.Unix(0, group[0].at).UTC(), To: time.Unix(0, group[len(group)-1].at).UTC(), Exposed: []domain.PersonID{}, Foreign: []Foreign{}}
			for _, n := range order {
				cl.Cases = append(cl.Cases, *cases[n])
			}
			exposed := map[int32]bool{}
			for _, v := range group {
				for _, o := range ix.around(cp, time.Unix(0, v.at)) {
					gap := max(o.at-v.at, v.at-o.at)
					if cases[o.person] == nil && !exposed[o.person] && gap <= window(max(o.at, v.at)) && !c.retracted[o.ref.ID] {
						exposed[o.person] = true
						cl.Exposed = append(cl.Exposed, ix.ids[o.person])
					}
				}
			}
			foreign := map[int32]bool{}
			for _, v := range group {
				for _, o := range ix.foreignAround(cp, time.Unix(0, v.at)) {
					gap := max(o.at-v.at, v.at-o.at)
					if !foreign[o.person] && gap <= window(max(o.at, v.at)) && !c.retracted[o.ref.ID] {
						foreign[o.person] = true
						cl.Foreign = append(cl.Foreign, ix.foreign[o.person])
					}
				}
			}
			slices.SortFunc(cl.Exposed, domain.PersonID.Compare)
			slices.SortFunc(cl.Foreign, Foreign.Compare)
			out = append(out, cl)
		}
	}
	slices.SortFunc(out, func(a, b Cluster) int {
		return cmp.Or(a.From.Compare(b.From), cmp.Compare(a.Place.CheckpointID.String(), b.Place.CheckpointID.String()))
	})
	return out
}

// ContactStats counts the reported contacts of the ledger: the persons in
// at least one, the pairs of persons, the episodes (sensor records merged
// by merge_gap, each interview one), and what they were made of.
type ContactStats struct {
	People        int `json:"people"`
	Pairs         int `json:"pairs"`
	Episodes      int `json:"episodes"`
	SensorRecords int `json:"sensor_records"`
	Interviews    int `json:"interviews"`
}

// Stats counts the ledger's reported contacts.
func (c *Contacts) Stats() ContactStats {
	var reported []domain.Fact
	for _, f := range c.ix.facts {
		if _, ok := f.Body.(domain.ContactReported); ok && !c.retracted[f.Ref.ID] {
			reported = append(reported, f)
		}
	}
	var s ContactStats
	people := map[domain.PersonID]bool{}
	pairs := map[[2]domain.PersonID]bool{}
	for _, f := range reported {
		b := f.Body.(domain.ContactReported)
		if b.Source == domain.ContactSensor {
			s.SensorRecords++
		} else {
			s.Interviews++
		}
		people[b.PersonID], people[b.OtherID] = true, true
		pair := [2]domain.PersonID{b.PersonID, b.OtherID}
		if pair[0].Compare(pair[1]) > 0 {
			pair[0], pair[1] = pair[1], pair[0]
		}
		pairs[pair] = true
	}
	s.People, s.Pairs, s.Episodes = len(people), len(pairs), len(domain.Episodes(reported, c.ix.policies))
	return s
}

// String is the stats as `contacts stats` prints them.
func (s ContactStats) String() string {
	return fmt.Sprintf("%d people, %d pairs, %d contact episodes (%d sensor records, %d interviews)",
		s.People, s.Pairs, s.Episodes, s.SensorRecords, s.Interviews)
}
