package eventstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
)

// StreamState is a stream's current version and the position of its last event.
type StreamState struct {
	Version int64
	Last    int64
}

// Row is an event as a backend writes it, with the position of the previous
// event of the same stream (0 for a stream's first event).
type Row struct {
	Event
	PrevInStream int64
	// Minted says the Committer made the id, a new UUIDv7 (74 random
	// bits), rather than took it from the caller: a backend need not look
	// for it among the stored ids.
	Minted bool
}

// Backend is what a store implementation gives the Committer: a way to open
// one write transaction per batch.
type Backend interface {
	Begin(ctx context.Context) (Tx, error)
}

// Tx is one batch's write transaction.
type Tx interface {
	// Load locks the ledger's head, so that no other writer in any process
	// can append until Commit or Rollback (this lock is what makes commit
	// order equal position order), and then reads the state of the named
	// streams that have events and the stored events with the given ids, in
	// as few round trips as the backend can.
	Load(ctx context.Context, streams []string, ids []uuid.UUID) (Loaded, error)
	// Streams returns the state of each named stream that has events.
	Streams(ctx context.Context, names []string) (map[string]StreamState, error)
	// Write stores rows (in position order), the new states of the streams
	// they touch, and the new head.
	Write(ctx context.Context, rows []Row, streams map[string]StreamState, head Head) error
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// ErrDuplicateID is what a Tx's Write or Commit returns (wrapped) when an
// event id of the batch is in the ledger already: the Committer then
// decides the batch again with the stored events read.
var ErrDuplicateID = errors.New("an event id of the batch is stored already")

// Loaded is what Tx.Load reads under the head lock.
type Loaded struct {
	Head    Head
	Streams map[string]StreamState
	Events  map[uuid.UUID]Event
}

// CommitterConfig tunes group commit.
type CommitterConfig struct {
	// MaxBatchEvents caps the events written in one transaction.
	MaxBatchEvents int
	// MaxBatchBytes caps the payload bytes written in one transaction.
	MaxBatchBytes int
	// Now is the ledger's clock (recorded_at).
	Now func() time.Time
	// Committed, if set, is called after each commit with the new head
	// position (stores use it to wake subscribers).
	Committed func(position int64)
}

func (c *CommitterConfig) setDefaults() {
	if c.MaxBatchEvents <= 0 {
		c.MaxBatchEvents = 5000
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 16 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Committer implements Append for a Backend with group commit: appends from
// many goroutines queue up while a transaction commits, and the next
// transaction takes all of them at once (one fsync for the lot). Every call
// is still decided on its own: it gets its own events, its own conflict or
// its own validation error, and a call that fails leaves nothing behind.
type Committer struct {
	backend Backend
	cfg     CommitterConfig

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan []*request // one call of Append, or the calls of one AppendEach
	quit   chan struct{}
	exited chan struct{}

	// Owned by the loop goroutine: whether batches read the stored events of
	// their ids before deciding (see write).
	lookupIDs bool
	// Owned by the loop goroutine: stream states known to be current while
	// the ledger head is still cacheHead (no other process wrote since).
	cache     map[string]StreamState
	cacheHead int64
}

type request struct {
	ctx     context.Context
	appends []StreamAppend
	events  int
	bytes   int
	done    chan result
	// group is shared by the calls of one AppendEach; nil for Append.
	group *group
	// ids: some event of the call has a caller-supplied id.
	ids bool
}

// group is the state of one AppendEach, owned by the commit loop (the
// caller sets it before the calls are queued).
type group struct {
	failed bool
	// cut: a call of the group could not be queued; the sequence ends
	// with the calls queued before it.
	cut  bool
	prev *group // the AppendEach this one continues
}

type result struct {
	events []Event
	err    error
	stored bool // the events were in the ledger already: a repeated call
}

// NewCommitter starts the commit loop; Close stops it.
func NewCommitter(b Backend, cfg CommitterConfig) *Committer {
	cfg.setDefaults()
	c := &Committer{
		backend:   b,
		cfg:       cfg,
		queue:     make(chan []*request, 1024),
		quit:      make(chan struct{}),
		exited:    make(chan struct{}),
		cacheHead: -1,
	}
	go c.loop()
	return c
}

// Append validates and queues the call, then waits for its own result.
func (c *Committer) Append(ctx context.Context, appends ...StreamAppend) ([]Event, error) {
	req, err := newRequest(ctx, appends, nil)
	if err != nil {
		return nil, err
	}
	if err := c.enqueue(ctx, []*request{req}); err != nil {
		return nil, err
	}
	select {
	case r := <-req.done:
		return r.events, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// AppendResult is the outcome of one call of AppendEach.
type AppendResult struct {
	Events []Event
	Err    error
	// Stored: every event of the call was in the ledger already, with the
	// same content, so nothing was written (a repeated call).
	Stored bool
}

// ErrNotAttempted is the error of the calls AppendEach did not make because
// an earlier call of the same sequence failed. Nothing of them is written.
var ErrNotAttempted = domain.Errorf(domain.Conflict, "not attempted: an earlier append of the same sequence failed")

// Pending is an AppendEach in flight.
type Pending struct {
	ctx     context.Context
	n       int
	reqs    []*request
	invalid error // the error of call len(reqs), which could not be queued
	group   *group
	results []AppendResult
}

// AppendEach queues calls in order and returns at once; Wait returns their
// results. Each call is decided on its own exactly as Append decides it,
// as many per transaction as fit, and the sequence stops at the first call
// that fails: that call gets its error and every later one ErrNotAttempted,
// so that a caller who decided call i+1 in the knowledge of call i can
// decide it again.
//
// after, when not nil, is the caller's previous AppendEach, which this one
// continues: when a call of after fails, none of these is attempted. A
// caller can so decide its next calls while the previous ones commit.
func (c *Committer) AppendEach(ctx context.Context, calls [][]StreamAppend, after *Pending) *Pending {
	p := &Pending{ctx: ctx, n: len(calls), group: &group{}}
	if after != nil {
		p.group.prev = after.group
	}
	p.reqs = make([]*request, 0, len(calls))
	for _, call := range calls {
		req, err := newRequest(ctx, call, p.group)
		if err != nil {
			p.invalid = err
			break
		}
		p.reqs = append(p.reqs, req)
	}
	if p.invalid != nil {
		p.group.cut = true // the calls of a later AppendEach are not attempted
	}
	if len(p.reqs) > 0 {
		if err := c.enqueue(ctx, p.reqs); err != nil {
			p.reqs, p.invalid = nil, err
		}
	}
	return p
}

// Refused is an AppendEach of n calls of which the first fails with err
// and none is made.
func Refused(n int, err error) *Pending {
	return &Pending{ctx: context.Background(), n: n, invalid: err, group: &group{failed: true, cut: true}}
}

// Wait waits for the calls' results, one per call.
func (p *Pending) Wait() []AppendResult {
	if p.results != nil {
		return p.results
	}
	out := make([]AppendResult, p.n)
	failed := false
	for i, req := range p.reqs {
		select {
		case r := <-req.done:
			out[i] = AppendResult{Events: r.events, Err: r.err, Stored: r.stored}
		case <-p.ctx.Done():
			out[i] = AppendResult{Err: p.ctx.Err()}
		}
		failed = failed || out[i].Err != nil
	}
	for i := len(p.reqs); i < p.n; i++ {
		out[i].Err = ErrNotAttempted
		if i == len(p.reqs) && !failed && p.invalid != nil {
			out[i].Err = p.invalid
		}
	}
	p.results = out
	return out
}

func newRequest(ctx context.Context, appends []StreamAppend, g *group) (*request, error) {
	norm, err := normalize(appends)
	if err != nil {
		return nil, err
	}
	req := &request{ctx: ctx, appends: norm, done: make(chan result, 1), group: g}
	for _, a := range norm {
		req.events += len(a.Events)
		for _, e := range a.Events {
			req.bytes += len(e.Payload) + len(e.Metadata)
			req.ids = req.ids || e.ID != uuid.Nil
		}
	}
	return req, nil
}

func (c *Committer) enqueue(ctx context.Context, reqs []*request) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	select {
	case c.queue <- reqs:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close commits what is queued and stops the loop.
func (c *Committer) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.exited
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.quit)
	<-c.exited
}

func (c *Committer) loop() {
	defer close(c.exited)
	var backlog []*request // queued calls not yet in a transaction
	for {
		if len(backlog) == 0 {
			select {
			case backlog = <-c.queue:
			case <-c.quit:
				for {
					select {
					case reqs := <-c.queue:
						backlog = append(backlog, reqs...)
					default:
						for len(backlog) > 0 {
							var batch []*request
							batch, backlog = c.take(nil, backlog)
							c.commit(batch)
						}
						return
					}
				}
			}
		}
		batch, rest := c.take(nil, backlog)
		backlog = rest
	fill:
		for len(backlog) == 0 && !c.full(batch) {
			select {
			case reqs := <-c.queue:
				batch, backlog = c.take(batch, reqs)
			default:
				break fill
			}
		}
		c.commit(batch)
	}
}

// take moves calls from the front of backlog into batch while the batch has
// room, and returns both. A batch takes at least one call.
func (c *Committer) take(batch, backlog []*request) ([]*request, []*request) {
	n, size := c.size(batch)
	for len(backlog) > 0 && (len(batch) == 0 || n < c.cfg.MaxBatchEvents && size < c.cfg.MaxBatchBytes) {
		r := backlog[0]
		batch, backlog = append(batch, r), backlog[1:]
		n, size = n+r.events, size+r.bytes
	}
	return batch, backlog
}

// full tells whether a batch has reached the transaction's caps.
func (c *Committer) full(batch []*request) bool {
	n, size := c.size(batch)
	return n >= c.cfg.MaxBatchEvents || size >= c.cfg.MaxBatchBytes
}

func (c *Committer) size(batch []*request) (events, bytes int) {
	for _, r := range batch {
		events += r.events
		bytes += r.bytes
	}
	return events, bytes
}

// stopped tells whether the calls of g are no longer attempted: one of them
// failed, or one of the sequence it continues did.
func (g *group) stopped() bool {
	if g == nil {
		return false
	}
	if !g.failed && g.prev != nil && (g.prev.failed || g.prev.cut) {
		g.failed = true
	}
	return g.failed
}

// fail answers the request with err, and stops the rest of its group.
func (r *request) fail(err error) {
	if r.group != nil {
		r.group.failed = true
	}
	r.done <- result{err: err}
}

// batchState is the ledger as the batch being decided sees it.
type batchState struct {
	head     Head
	streams  map[string]StreamState // changed by this batch
	fetched  map[string]StreamState // read from the database
	cache    map[string]StreamState // the Committer's cache, read-only here
	existing map[uuid.UUID]Event    // stored events with caller-supplied ids
	added    map[uuid.UUID]*Event   // events of this batch with caller-supplied ids
	rows     []Row
	now      time.Time
}

func (b *batchState) stream(name string) StreamState {
	if s, ok := b.streams[name]; ok {
		return s
	}
	if s, ok := b.fetched[name]; ok {
		return s
	}
	return b.cache[name]
}

func (b *batchState) stored(id uuid.UUID) (*Event, bool) {
	if e, ok := b.added[id]; ok {
		return e, true
	}
	if e, ok := b.existing[id]; ok {
		return &e, true
	}
	return nil, false
}

func (c *Committer) commit(batch []*request) {
	live := batch[:0:0]
	for _, r := range batch {
		switch {
		case r.group.stopped():
			r.done <- result{err: ErrNotAttempted}
			continue
		case r.ctx.Err() != nil:
			r.fail(r.ctx.Err())
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	results, head, err := c.write(live, c.lookupIDs)
	if errors.Is(err, ErrDuplicateID) {
		// An id of the batch is stored already (a repeated call): decide
		// the batch again knowing the stored events, and keep looking them
		// up while repeated calls keep coming.
		c.lookupIDs = true
		results, head, err = c.write(live, true)
	}
	if err != nil {
		c.cacheHead = -1 // the database's state is unknown now
		for _, r := range live {
			r.fail(err)
		}
		return
	}
	for i, r := range live {
		r.done <- results[i]
	}
	if c.cfg.Committed != nil {
		c.cfg.Committed(head)
	}
}

// write decides every request of the batch against one locked view of the
// ledger and commits the accepted ones in one transaction. It returns each
// request's result, or an error that applies to all of them.
//
// With lookup false it does not read the stored events that have the
// batch's caller-supplied ids, assuming there are none; the backend reports
// ErrDuplicateID if there were, and nothing is written.
func (c *Committer) write(reqs []*request, lookup bool) ([]result, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tx, err := c.backend.Begin(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("begin append: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// Ask for the streams the cache lacks, assuming it is still current;
	// if another process moved the head meanwhile, read the rest after.
	var missing, cached []string
	var ids []uuid.UUID
	seen := make(map[string]bool)
	for _, r := range reqs {
		for _, a := range r.appends {
			if !seen[a.Stream] {
				seen[a.Stream] = true
				if _, ok := c.cache[a.Stream]; ok {
					cached = append(cached, a.Stream)
				} else {
					missing = append(missing, a.Stream)
				}
			}
			for _, e := range a.Events {
				if e.ID != uuid.Nil {
					ids = append(ids, e.ID)
				}
			}
		}
	}
	if !lookup {
		ids = nil
	}
	loaded, err := tx.Load(ctx, missing, ids)
	if err != nil {
		return nil, 0, fmt.Errorf("lock head: %w", err)
	}
	if lookup && len(ids) > 0 && len(loaded.Events) == 0 {
		c.lookupIDs = false // no repeated call in this batch: assume none again
	}
	head := loaded.Head
	if loaded.Streams == nil {
		loaded.Streams = make(map[string]StreamState)
	}
	if head.Position != c.cacheHead || len(c.cache) > 1<<20 {
		c.cache = make(map[string]StreamState)
		if len(cached) > 0 {
			again, err := tx.Streams(ctx, cached)
			if err != nil {
				return nil, 0, fmt.Errorf("read stream versions: %w", err)
			}
			for _, name := range cached {
				loaded.Streams[name] = again[name]
			}
			missing = append(missing, cached...)
		}
	}
	st := &batchState{
		head:     head,
		streams:  make(map[string]StreamState, len(seen)),
		fetched:  make(map[string]StreamState, len(missing)),
		cache:    c.cache,
		existing: loaded.Events,
		added:    make(map[uuid.UUID]*Event),
		now:      c.cfg.Now().UTC().Truncate(time.Microsecond),
	}
	if st.now.Before(head.RecordedAt) {
		st.now = head.RecordedAt // recorded_at never goes backwards, whatever the clock does
	}
	for _, name := range missing {
		st.fetched[name] = loaded.Streams[name] // zero state for new streams
	}

	results := make([]result, len(reqs))
	// The groups this batch stops, marked only once it commits: a batch
	// decided again must find them as they were.
	stops := map[*group]bool{}
	for i, r := range reqs {
		if g := r.group; g != nil && (g.stopped() || stops[g] || g.prev != nil && stops[g.prev]) {
			stops[g] = true
			results[i] = result{err: ErrNotAttempted}
			continue
		}
		results[i] = st.decide(r.appends)
		if results[i].err == nil {
			continue
		}
		if !lookup && r.ids {
			// Refused without the stored events read: it may be a repeated
			// call, which is not refused. Decide the batch again with them.
			return nil, 0, ErrDuplicateID
		}
		if r.group != nil {
			stops[r.group] = true
		}
	}
	if len(st.rows) > 0 {
		if err := tx.Write(ctx, st.rows, st.streams, st.head); err != nil {
			return nil, 0, fmt.Errorf("write %d events: %w", len(st.rows), err)
		}
		if err := tx.Commit(ctx); err != nil {
			return nil, 0, fmt.Errorf("commit %d events: %w", len(st.rows), err)
		}
	}
	for g := range stops {
		g.failed = true
	}
	maps.Copy(c.cache, st.fetched)
	maps.Copy(c.cache, st.streams)
	c.cacheHead = st.head.Position
	return results, st.head.Position, nil
}

// decide applies one call to the batch state, or leaves it untouched and
// returns the call's error.
func (b *batchState) decide(appends []StreamAppend) result {
	if r, done := b.retried(appends); done {
		return r
	}
	for _, a := range appends {
		if cur := b.stream(a.Stream); !a.Expected.admits(cur.Version) {
			return result{err: &ConflictError{Stream: a.Stream, Expected: a.Expected, Current: cur.Version}}
		}
	}
	pos, prev, rec := b.head.Position, b.head.Hash, b.head.RecordedAt
	var rows []Row
	touched := make(map[string]StreamState, len(appends))
	for _, a := range appends {
		s := b.stream(a.Stream)
		for _, n := range a.Events {
			recorded := b.now
			if !n.RecordedAt.IsZero() {
				if n.RecordedAt.Before(rec) || n.RecordedAt.After(b.now) {
					return result{err: domain.Errorf(domain.Invalid,
						"recorded_at %s must be at or after the ledger head's (%s) and not in the future",
						n.RecordedAt.Format(time.RFC3339Nano), rec.Format(time.RFC3339Nano))}
				}
				recorded = n.RecordedAt
			}
			id, minted := n.ID, n.ID == uuid.Nil
			if minted {
				var err error
				if id, err = uuid.NewV7(); err != nil {
					return result{err: fmt.Errorf("new event id: %w", err)}
				}
			}
			occurred := n.OccurredAt
			if occurred.IsZero() {
				occurred = recorded
			}
			pos++
			s.Version++
			row := Row{PrevInStream: s.Last, Minted: minted, Event: Event{
				Position: pos, ID: id, Stream: a.Stream, StreamVersion: s.Version,
				Type: n.Type, SchemaVersion: n.SchemaVersion,
				OccurredAt: occurred, RecordedAt: recorded, Actor: n.Actor,
				CausationID: n.CausationID, CorrelationID: n.CorrelationID,
				Payload: n.Payload, Metadata: n.Metadata, PrevHash: prev,
			}}
			row.Hash = ComputeHash(prev, &row.Event)
			prev, rec, s.Last = row.Hash, recorded, pos
			rows = append(rows, row)
		}
		if len(a.Events) > 0 {
			touched[a.Stream] = s // a condition leaves its stream as it is
		}
	}
	// Accepted: publish the call's effects to the batch.
	out := make([]Event, len(rows))
	start := len(b.rows)
	b.rows = append(b.rows, rows...)
	for i := range rows {
		e := &b.rows[start+i].Event
		out[i] = *e
		b.added[e.ID] = e
	}
	for name, s := range touched {
		b.streams[name] = s
	}
	b.head = Head{Position: pos, Hash: prev, RecordedAt: rec}
	return result{events: out}
}

// retried recognises a repeated call: every event id already stored with the
// same content. It reports done with the stored events, or with a conflict
// when ids are reused with other content or only some of them are stored.
func (b *batchState) retried(appends []StreamAppend) (result, bool) {
	var found, total int
	var stored []Event
	for _, a := range appends {
		for i := range a.Events {
			n := &a.Events[i]
			total++
			if n.ID == uuid.Nil {
				continue
			}
			e, ok := b.stored(n.ID)
			if !ok {
				continue
			}
			if !sameContent(e, a.Stream, n) {
				return result{err: domain.Errorf(domain.Conflict,
					"event id %s is already in the ledger with other content (at position %d); use a new id for a new event", n.ID, e.Position)}, true
			}
			found++
			stored = append(stored, *e)
		}
	}
	switch {
	case found == 0:
		return result{}, false
	case found < total:
		return result{err: domain.Errorf(domain.Conflict,
			"%d of the %d events of this append are already in the ledger from another append; resend that append unchanged or use new ids", found, total)}, true
	}
	sort.Slice(stored, func(i, j int) bool { return stored[i].Position < stored[j].Position })
	return result{events: stored, stored: true}, true
}
