// Package postgres is the ledger on PostgreSQL, for deployments that run
// more than one riskledger process against one database. Appends go through
// the eventstore.Committer's group commit; each batch locks the single
// ledger_head row, so positions are assigned and committed in one order
// across every process, and readers never see position p+1 before p.
//
// Each Store lives in one schema (search_path), so several ledgers, and the
// tests' throwaway ones, can share a database. Subscribers in every process
// wake on LISTEN/NOTIFY, with polling as the safety net.
package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/internal/postgresdb"
)

const eventColumns = `position, id, stream, stream_version, type, schema_version, occurred_at, recorded_at,
	actor, causation_id, correlation_id, payload, metadata, prev_hash, hash`

// maxExpect caps the rows ReadAll allocates room for before reading them.
const maxExpect = 1 << 16

// Config says where the ledger lives.
type Config struct {
	// URL is a PostgreSQL connection string
	// (postgres://user:password@host:5432/database?sslmode=...).
	URL string
	// Schema holds the ledger's tables; "public" when empty. It is created
	// if missing.
	Schema string
	// Now is the ledger clock; time.Now when nil.
	Now func() time.Time
	// PollInterval bounds how long a subscriber waits when a notification
	// is lost (a dropped listener connection); one second when zero.
	PollInterval time.Duration
}

func (c *Config) setDefaults() {
	if c.Schema == "" {
		c.Schema = "public"
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
}

// Validate reports every problem with the configuration as one Invalid error.
func (c *Config) Validate() error {
	var problems []string
	if strings.TrimSpace(c.URL) == "" {
		problems = append(problems, "the database URL is empty; give a postgres:// URL")
	}
	problems = append(problems, postgresdb.SchemaProblems(c.Schema)...)
	if len(problems) > 0 {
		return domain.Errorf(domain.Invalid, "%s", strings.Join(problems, "; "))
	}
	return nil
}

// Store is the ledger on PostgreSQL. It is safe for concurrent use; any
// number of Stores, in any number of processes, may share one schema.
type Store struct {
	pool      *pgxpool.Pool
	listenCfg *pgx.ConnConfig
	channel   string
	poll      time.Duration
	committer *eventstore.Committer
	notifier  *eventstore.Notifier
	known     atomic.Int64 // the highest head this process has seen
	copyBuf   []byte       // the COPY input of the batch being written; the committer writes one at a time

	closed       atomic.Bool
	closeOnce    sync.Once
	stopListen   context.CancelFunc
	listenerDone chan struct{}
}

var _ eventstore.Store = (*Store)(nil)

// Open connects to the database, creates the schema and applies pending
// migrations, and starts listening for other processes' commits. A
// malformed URL or schema name, a database that refuses the credentials, or
// a schema that holds another application's tables is an Invalid error; a
// database that cannot be reached is Unavailable.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	poolCfg, err := postgresdb.ParseConfig(cfg.URL, cfg.Schema)
	if err != nil {
		return nil, err
	}
	params := poolCfg.ConnConfig.RuntimeParams
	listenCfg := poolCfg.ConnConfig.Copy()
	listenCfg.RuntimeParams["application_name"] = params["application_name"] + " listener"

	pool, err := postgresdb.NewPool(ctx, poolCfg)
	if err != nil {
		return nil, err
	}
	s := &Store{
		pool:         pool,
		listenCfg:    listenCfg,
		channel:      channelName(cfg.Schema),
		poll:         cfg.PollInterval,
		notifier:     eventstore.NewNotifier(),
		listenerDone: make(chan struct{}),
	}
	if err := postgresdb.Migrate(ctx, pool, cfg.Schema, migrations); err != nil {
		pool.Close()
		return nil, err
	}
	// Connecting the listener also starts the notifier at the head.
	conn, err := s.connectListener(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("listen for commits: %w", err)
	}
	listenCtx, stop := context.WithCancel(context.Background())
	s.stopListen = stop
	go s.listen(listenCtx, conn)
	s.committer = eventstore.NewCommitter(backend{s}, eventstore.CommitterConfig{
		Now:       cfg.Now,
		Committed: s.advance,
	})
	return s, nil
}

// channelName is the NOTIFY channel of the ledger in schema: one per
// schema, so ledgers sharing a database do not wake each other. It is made
// of lower-case letters, digits and underscores only, so that it can be
// written into SQL as a literal; schema names with other characters, or
// too long for an identifier, are replaced by a digest.
func channelName(schema string) string {
	const prefix = "riskledger_events_"
	plain := true
	for _, r := range schema {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			plain = false
			break
		}
	}
	if c := prefix + schema; plain && len(c) <= postgresdb.MaxIdentifier {
		return c
	}
	sum := sha256.Sum256([]byte(schema))
	return prefix + hex.EncodeToString(sum[:16])
}

// advance records that the head reached pos and wakes subscribers.
func (s *Store) advance(pos int64) {
	for {
		cur := s.known.Load()
		if pos <= cur || s.known.CompareAndSwap(cur, pos) {
			break
		}
	}
	s.notifier.Advance(pos)
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, appends ...eventstore.StreamAppend) ([]eventstore.Event, error) {
	return s.committer.Append(ctx, appends...)
}

// AppendEach implements eventstore.Store.
func (s *Store) AppendEach(ctx context.Context, calls [][]eventstore.StreamAppend, after *eventstore.Pending) *eventstore.Pending {
	return s.committer.AppendEach(ctx, calls, after)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, after int64) ([]eventstore.Event, error) {
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE stream = $1 AND stream_version > $2 ORDER BY stream_version`, stream, after)
	evs, err := scanEvents(rows, err, 0)
	if err != nil {
		return nil, s.readError(ctx, fmt.Sprintf("read stream %s", stream), err)
	}
	return evs, nil
}

// ReadEvent implements eventstore.Store through the id index.
func (s *Store) ReadEvent(ctx context.Context, id uuid.UUID) (eventstore.Event, bool, error) {
	if s.closed.Load() {
		return eventstore.Event{}, false, eventstore.ErrClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, pgtype.UUID{Bytes: id, Valid: true})
	evs, err := scanEvents(rows, err, 1)
	if err != nil {
		return eventstore.Event{}, false, s.readError(ctx, fmt.Sprintf("read event %s", id), err)
	}
	if len(evs) == 0 {
		return eventstore.Event{}, false, nil
	}
	return evs[0], true, nil
}

// page returns a read's LIMIT (nil: none) and the rows to make room for.
// Positions are gapless, so the head this process knows of bounds the rows
// to expect: a tailing subscriber's read does not allocate a page. The cap
// keeps a huge limit, or a head altered in the database, from reserving
// more than a large page up front.
func (s *Store) page(after int64, limit int) (*int, int64) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	expect := min(max(s.known.Load()-after, 0), maxExpect)
	if limit > 0 {
		expect = min(expect, int64(limit))
	}
	return lim, expect
}

// ReadTyped implements eventstore.TypedReader.
func (s *Store) ReadTyped(ctx context.Context, after, until int64, types []string) ([]eventstore.Event, error) {
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE position > $1 AND position <= $2 AND type = ANY($3) ORDER BY position`,
		after, until, types)
	evs, err := scanEvents(rows, err, 0)
	if err != nil {
		return nil, s.readError(ctx, fmt.Sprintf("read %v from %d", types, after), err)
	}
	return evs, nil
}

// ReadEvents implements eventstore.Store with one query.
func (s *Store) ReadEvents(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]eventstore.Event, error) {
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	out := make(map[uuid.UUID]eventstore.Event, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ANY($1::uuid[])`, uuidArray(ids))
	evs, err := scanEvents(rows, err, 0)
	if err != nil {
		return nil, s.readError(ctx, "read events", err)
	}
	for _, e := range evs {
		out[e.ID] = e
	}
	return out, nil
}

// StreamVersion implements eventstore.Store with one probe of the
// (stream, stream_version) index.
func (s *Store) StreamVersion(ctx context.Context, stream string) (int64, error) {
	if s.closed.Load() {
		return 0, eventstore.ErrClosed
	}
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(stream_version), 0) FROM events WHERE stream = $1`, stream).Scan(&v)
	if err != nil {
		return 0, s.readError(ctx, fmt.Sprintf("read stream %s", stream), err)
	}
	return v, nil
}

// ReadAll implements eventstore.Store. A negative limit reads to the end.
func (s *Store) ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.Event, error) {
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	if limit == 0 {
		return nil, nil
	}
	lim, expect := s.page(after, limit)
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE position > $1 ORDER BY position LIMIT $2`, after, lim)
	evs, err := scanEvents(rows, err, int(expect))
	if err != nil {
		return nil, s.readError(ctx, fmt.Sprintf("read from %d", after), err)
	}
	return evs, nil
}

// readError reports a failed read: the caller's own cancellation as
// ctx.Err() (Subscribe promises exactly that), a store closed under the
// read as ErrClosed, a corrupt row as itself, and the rest with context.
func (s *Store) readError(ctx context.Context, what string, err error) error {
	var corrupt *eventstore.CorruptError
	switch {
	case errors.As(err, &corrupt):
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	case s.closed.Load():
		return eventstore.ErrClosed
	}
	return fmt.Errorf("%s: %w", what, postgresdb.Error(err))
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after int64, handle func(eventstore.Event) error) error {
	wait := func(ctx context.Context, after int64) error {
		return s.notifier.Wait(ctx, after, s.poll)
	}
	return eventstore.Subscribe(ctx, s.ReadAll, wait, after, handle)
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Head, error) {
	if s.closed.Load() {
		return eventstore.Head{}, eventstore.ErrClosed
	}
	h, err := scanHead(s.pool.QueryRow(ctx, `SELECT position, hash, recorded_at FROM ledger_head WHERE id = 1`))
	if err != nil {
		return h, s.readError(ctx, "read head", err)
	}
	return h, nil
}

// Close waits for queued appends, stops the listener and closes the pool.
// Later calls do nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.committer.Close()
		s.closed.Store(true)
		s.stopListen()
		<-s.listenerDone
		s.pool.Close()
	})
	return nil
}

func scanHead(row pgx.Row) (eventstore.Head, error) {
	var h eventstore.Head
	var hash []byte
	var rec pgtype.Timestamptz
	if err := row.Scan(&h.Position, &hash, &rec); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return h, &eventstore.CorruptError{Reason: "the ledger head row is missing"}
		}
		return h, err
	}
	if len(hash) != len(h.Hash) {
		return h, &eventstore.CorruptError{Position: h.Position, Reason: "the head's hash is not 32 bytes"}
	}
	copy(h.Hash[:], hash)
	if rec.Valid {
		h.RecordedAt = rec.Time.UTC()
	}
	return h, nil
}

// scanEvents reads every row of a query started with (rows, err), into a
// slice sized for the expected number of rows.
func scanEvents(rows pgx.Rows, err error, expect int) ([]eventstore.Event, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []eventstore.Event
	if expect > 0 {
		out = make([]eventstore.Event, 0, expect)
	}
	for rows.Next() {
		var e eventstore.Event
		var id, causation, correlation pgtype.UUID
		var payload, metadata, prev, hash []byte
		if err := rows.Scan(&e.Position, &id, &e.Stream, &e.StreamVersion, &e.Type, &e.SchemaVersion,
			&e.OccurredAt, &e.RecordedAt, &e.Actor, &causation, &correlation, &payload, &metadata, &prev, &hash); err != nil {
			return nil, &eventstore.CorruptError{Position: e.Position, Reason: err.Error()}
		}
		if err := fill(&e, id, causation, correlation, payload, metadata, prev, hash); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// fill completes e from the columns whose stored form differs from the
// envelope's, reporting a row altered beyond what the envelope can hold as
// corrupt.
func fill(e *eventstore.Event, id, causation, correlation pgtype.UUID, payload, metadata, prev, hash []byte) error {
	bad := func(what string) error {
		return &eventstore.CorruptError{Position: e.Position, Reason: what}
	}
	if !id.Valid {
		return bad("id is missing")
	}
	if payload == nil || metadata == nil {
		return bad("payload or metadata is missing")
	}
	if len(prev) != 32 || len(hash) != 32 {
		return bad("hash has the wrong length")
	}
	e.ID = id.Bytes
	if causation.Valid {
		e.CausationID = causation.Bytes
	}
	if correlation.Valid {
		e.CorrelationID = correlation.Bytes
	}
	e.Payload, e.Metadata = payload, metadata
	copy(e.PrevHash[:], prev)
	copy(e.Hash[:], hash)
	e.OccurredAt = e.OccurredAt.UTC()
	e.RecordedAt = e.RecordedAt.UTC()
	return nil
}
