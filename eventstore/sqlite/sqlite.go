// Package sqlite is the embedded ledger: one SQLite file in the data
// directory, written through the eventstore.Committer's group commit.
//
// Layout for fast appends. A B-tree that takes inserts at random keys dirties
// a page per insert, and each dirty page is written to the WAL at every
// commit: a (stream, version) index over random stream names costs about 24
// times the event's own bytes, and so did a unique index over event ids,
// which commands derive from their keys (UUIDv5s, random). So nothing on
// the append path is keyed randomly: events are keyed by position (SQLite's
// rowid), so inserts land at the end of the table. Each event points at the
// previous event of its stream, and ReadStream walks that chain back from
// the stream's last event.
//
// Where is a stream's last event, and which position holds an id? The
// streams table (name, version, last position) is a snapshot valid as of
// head.streams_at, and the ids table (id, position) holds every id up to
// head.ids_at (and maybe some after). The stream states and ids of the
// events since are held in memory (the overlay). At open the overlay is
// rebuilt from the events after those positions, so a crash loses nothing.
// The overlay makes the writing process the only one that knows every
// stream's last event and every id's position: Open takes an exclusive
// lock on the data directory; read-only opens (verify, head) do not need
// the overlay, look for the events after the snapshots in the log itself,
// and do not take the lock.
//
// The stream states are written to their table in one sorted pass when
// enough have changed (each leaf page written once per pass, not once per
// event). The ids, spread evenly over the whole table, would make such a
// pass rewrite all of it in one batch: 1.4-1.9 s for a million ids at 1-5
// million events. So once flushIDs have gathered, a goroutine sorts them,
// and the next batches write them, each a run of neighbouring ids twice
// as long as the batch: a batch's share of the pass's writes is its share
// of the appends (while the next pass gathers, this one is written), and
// each page of the table is still written about once a pass. ids_at moves
// when the last run is written.
//
// An event id is unique: the writer looks each id a caller gives up in the
// overlay and the ids table before it appends (the look-ups the unique
// index made anyway, without its writes).
//
// Durability: WAL journal with synchronous=FULL, so a commit is on disk
// before Append returns; one fsync per batch.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/internal/sqlitedb"
)

// FileName is the ledger's file inside the data directory.
const FileName = "ledger.db"

// lockName is the file whose exclusive lock marks the writing process.
const lockName = "ledger.lock"

// applicationID marks a SQLite file as a riskledger ledger ("RLDG").
const applicationID = 0x524c4447

// schemaVersion is the ledger file's layout version (PRAGMA user_version).
// Layout 1 kept a unique index on events(id); layout 2 the ids table.
const schemaVersion = 2

// defaultFlushStreams is how many changed stream states the overlay holds
// before they are written to the streams table (about 100 bytes each).
const defaultFlushStreams = 200000

// flushEvents bounds the events appended between flushes of the stream
// states, and so the log that Open replays to rebuild them.
const flushEvents = 1000000

// defaultFlushIDs is how many ids the overlay gathers (about 60 bytes each)
// before it sorts them and writes them to the ids table.
const defaultFlushIDs = 1000000

const schema = `
CREATE TABLE events (
	position       INTEGER PRIMARY KEY,
	id             BLOB NOT NULL,
	stream         TEXT NOT NULL,
	prev_in_stream INTEGER NOT NULL, -- the position of the stream's previous event, 0 for its first
	type           TEXT NOT NULL,
	payload        TEXT NOT NULL,    -- JSON
	hash           BLOB NOT NULL,
	env            BLOB NOT NULL     -- the rest of the envelope (envelope.go)
);
-- A snapshot of each stream's state as of head.streams_at.
CREATE TABLE streams (
	name          TEXT PRIMARY KEY,
	version       INTEGER NOT NULL,
	last_position INTEGER NOT NULL
) WITHOUT ROWID;
-- The position of every event id up to head.ids_at, and maybe of some after.
CREATE TABLE ids (
	id       BLOB PRIMARY KEY,
	position INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE head (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	position    INTEGER NOT NULL,
	hash        BLOB NOT NULL,
	recorded_at INTEGER NOT NULL, -- microseconds since 1970, UTC
	streams_at  INTEGER NOT NULL,
	ids_at      INTEGER NOT NULL
);
INSERT INTO head VALUES (1, 0, zeroblob(32), 0, 0, 0);
`

// upgradeTo2 moves layout 1's id index into the ids table.
const upgradeTo2 = `
CREATE TABLE ids (
	id       BLOB PRIMARY KEY,
	position INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO ids SELECT id, position FROM events ORDER BY id;
DROP INDEX events_id;
ALTER TABLE head ADD COLUMN ids_at INTEGER NOT NULL DEFAULT 0;
UPDATE head SET ids_at = position;
`

// rowColumns are an event's own columns, as scanEvents reads them.
const rowColumns = `e.position, e.id, e.stream, e.type, e.payload, e.hash, e.env`

// eventColumns add the previous row's hash, for reads of single events.
const eventColumns = rowColumns + `, (SELECT p.hash FROM events p WHERE p.position = e.position - 1)`

// Config tunes the embedded store.
type Config struct {
	// Dir is the data directory; it is created if missing.
	Dir string
	// Now is the ledger clock; time.Now when nil.
	Now func() time.Time
	// Synchronous is SQLite's synchronous setting: FULL (the default) or NORMAL.
	Synchronous string
	// FlushStreams is how many changed stream states are held in memory
	// before they are written to the streams table (default 200,000).
	FlushStreams int
	// FlushIDs is how many event ids are gathered in memory before they
	// are written to the ids table (default 1,000,000).
	FlushIDs int
	// ReadOnly opens the ledger for reading only, beside a process that may
	// be writing it. Append fails with a Forbidden error.
	ReadOnly bool
}

// Store is the embedded ledger.
type Store struct {
	writer      *sql.DB
	reader      *sql.DB
	lock        *os.File
	committer   *eventstore.Committer
	notifier    *eventstore.Notifier
	insertN     *sql.Stmt // insertChunk rows at once
	upsertN     *sql.Stmt
	insertIDsN  *sql.Stmt
	probeN      *sql.Stmt
	someStreams *sql.Stmt
	// reads are the readers' statements, prepared once: parsing SQL is a
	// fifth of a busy server's CPU otherwise.
	reads struct {
		stream, event, at, last, hashAt, all, head, typed, fold *sql.Stmt
	}
	overlay     *overlay      // nil when read-only
	checkpoints *checkpointer // nil when read-only
	// writes are the writer's statements of small batches (see
	// smallBatch) and of the head's update, by their SQL.
	writes   map[string]*sql.Stmt
	flushAt  int
	flushIDs int
}

// overlay holds the state of every stream changed since head.streams_at
// and the position of every event appended since head.ids_at.
type overlay struct {
	mu  sync.RWMutex
	m   map[string]eventstore.StreamState
	at  int64 // head.streams_at: the position the streams table is valid at
	ids map[uuid.UUID]int64
	// Once flushIDs have gathered, they move to frozen while another
	// goroutine sorts them into a pass (ready), which the next batch
	// begins to write (staged). One pass at a time.
	frozen map[uuid.UUID]int64
	ready  *idPass
	staged *idPass
}

// idPass is a pass of ids sorted for the ids table, written a run at a time.
type idPass struct {
	ids  []idAt // sorted by id
	next int    // the first not written yet
	upTo int64  // ids_at once all are written
}

type idAt struct {
	id  uuid.UUID
	pos int64
}

// compareIDs orders ids as SQLite orders their blobs, a byte at a time,
// comparing eight at once.
func compareIDs(a, b idAt) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(a.id[:8]), binary.BigEndian.Uint64(b.id[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a.id[8:]), binary.BigEndian.Uint64(b.id[8:]))
}

// freeze moves the gathered ids to frozen, when there are flushIDs of
// them and no pass under way, and sorts them into the ready pass on a
// goroutine of its own. upTo is the position of the last of them. The
// caller holds the lock.
func (o *overlay) freeze(flushIDs int, upTo int64) {
	if len(o.ids) < flushIDs || o.frozen != nil || o.ready != nil || o.staged != nil {
		return
	}
	frozen := o.ids
	o.frozen, o.ids = frozen, make(map[uuid.UUID]int64)
	go func() {
		pass := &idPass{upTo: upTo, ids: make([]idAt, 0, len(frozen))}
		for id, pos := range frozen { // frozen is only read from now on
			pass.ids = append(pass.ids, idAt{id, pos})
		}
		slices.SortFunc(pass.ids, compareIDs)
		o.mu.Lock()
		o.ready = pass
		o.mu.Unlock()
	}()
}

func newOverlay(at int64) *overlay {
	return &overlay{m: make(map[string]eventstore.StreamState), ids: make(map[uuid.UUID]int64), at: at}
}

func (o *overlay) get(name string) (eventstore.StreamState, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	st, ok := o.m[name]
	return st, ok
}

// positions splits ids into the positions of those the overlay holds and
// the rest, which, if stored, are in the ids table. The overlay is read
// before the table: it lets go of ids only once the table holds them.
func (o *overlay) positions(ids []uuid.UUID) (found []int64, rest []uuid.UUID) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, id := range ids {
		if pos, ok := o.ids[id]; ok {
			found = append(found, pos)
			continue
		}
		if pos, ok := o.frozen[id]; ok {
			found = append(found, pos)
			continue
		}
		if o.staged != nil {
			if i, ok := slices.BinarySearchFunc(o.staged.ids, idAt{id: id}, compareIDs); ok {
				found = append(found, o.staged.ids[i].pos)
				continue
			}
		}
		rest = append(rest, id)
	}
	return found, rest
}

var _ eventstore.Store = (*Store)(nil)

// Open opens or creates the ledger in cfg.Dir. A path that is a file, or a
// ledger file that is not SQLite or belongs to another application, is an
// Invalid error that says so; a ledger another process is writing is
// Unavailable (unless cfg.ReadOnly).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Synchronous == "" {
		cfg.Synchronous = "FULL"
	}
	if cfg.Synchronous != "FULL" && cfg.Synchronous != "NORMAL" {
		return nil, domain.Errorf(domain.Invalid, "synchronous must be FULL or NORMAL, not %q", cfg.Synchronous)
	}
	if fi, err := os.Stat(cfg.Dir); err == nil && !fi.IsDir() {
		return nil, domain.Errorf(domain.Invalid, "data directory %s is a file; give a directory (it is created if missing)", cfg.Dir)
	}
	path := filepath.Join(cfg.Dir, FileName)
	if !cfg.ReadOnly {
		if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
			return nil, domain.Errorf(domain.Unavailable, "cannot create data directory %s: %v", cfg.Dir, err)
		}
	}
	if err := ledgerFile.CheckHeader(path); err != nil {
		return nil, err
	}
	if cfg.FlushStreams <= 0 {
		cfg.FlushStreams = defaultFlushStreams
	}
	if cfg.FlushIDs <= 0 {
		cfg.FlushIDs = defaultFlushIDs
	}
	s := &Store{notifier: eventstore.NewNotifier(), flushAt: cfg.FlushStreams, flushIDs: cfg.FlushIDs}
	if !cfg.ReadOnly {
		var err error
		if s.lock, err = lockDir(cfg.Dir); err != nil {
			return nil, err
		}
	}
	if err := s.open(ctx, path, cfg); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, path string, cfg Config) error {
	var err error
	if cfg.ReadOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return domain.Errorf(domain.NotFound, "there is no ledger in %s", filepath.Dir(path))
		}
	} else {
		if s.writer, err = openDB(path, cfg.Synchronous, 1, false); err != nil {
			return err
		}
		if err := ledgerFile.Migrate(ctx, s.writer, path); err != nil {
			return err
		}
		if s.checkpoints, err = newCheckpointer(path, cfg.Synchronous); err != nil {
			return err
		}
	}
	if s.reader, err = openDB(path, cfg.Synchronous, 4, true); err != nil {
		return err
	}
	if cfg.ReadOnly {
		if err := ledgerFile.Migrate(ctx, s.reader, path); err != nil {
			return err
		}
	}
	if err := s.prepareReads(ctx, cfg.ReadOnly); err != nil {
		return err
	}
	head, err := s.Head(ctx)
	if err != nil {
		return err
	}
	s.notifier.Advance(head.Position)
	if cfg.ReadOnly {
		return nil
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}
	if err := s.loadOverlay(ctx); err != nil {
		return err
	}
	s.committer = eventstore.NewCommitter(backend{s}, eventstore.CommitterConfig{
		// Large batches when many calls queue (a bulk import): one
		// commit, and one fsync, for tens of thousands of events.
		MaxBatchEvents: 50000,
		MaxBatchBytes:  64 << 20,
		Now:            cfg.Now,
		Committed:      s.notifier.Advance,
	})
	return nil
}

// lockDir takes the data directory's writer lock, or says who holds it.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, domain.Errorf(domain.Unavailable, "cannot create the lock file in %s: %v", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, domain.Errorf(domain.Unavailable,
			"the ledger in %s is open for writing by another process; stop it, or use a command that only reads", dir)
	}
	return f, nil
}

// loadOverlay rebuilds the in-memory stream states and ids from the events
// after the tables' snapshots.
func (s *Store) loadOverlay(ctx context.Context) error {
	var streamsAt, idsAt int64
	if err := s.writer.QueryRowContext(ctx, `SELECT streams_at, ids_at FROM head WHERE id = 1`).Scan(&streamsAt, &idsAt); err != nil {
		return fmt.Errorf("load stream states: %w", err)
	}
	s.overlay = newOverlay(streamsAt)
	rows, err := s.writer.QueryContext(ctx, `SELECT stream, id, position FROM events WHERE position > ? ORDER BY position`, min(streamsAt, idsAt))
	if err != nil {
		return fmt.Errorf("load stream states: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var id []byte
		var pos int64
		if err := rows.Scan(&name, &id, &pos); err != nil {
			return fmt.Errorf("load stream states: %w", err)
		}
		if len(id) != 16 {
			return &eventstore.CorruptError{Position: pos, Reason: "the id is not 16 bytes"}
		}
		if pos > idsAt {
			s.overlay.ids[uuid.UUID(id)] = pos
		}
		if pos <= streamsAt {
			continue
		}
		st, ok := s.overlay.m[name]
		if !ok {
			// On the reader: the writer's one connection is busy with rows.
			if err := s.reader.QueryRowContext(ctx, `SELECT version FROM streams WHERE name = ?`, name).Scan(&st.Version); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("load stream %s: %w", name, err)
			}
		}
		s.overlay.m[name] = eventstore.StreamState{Version: st.Version + 1, Last: pos}
	}
	return rows.Err()
}

// ledgerFile is the ledger's kind of SQLite file. Its pages are SQLite's
// default 4 KiB: with 16 KiB pages a bulk import into layout 1, whose every
// commit rewrote the pages of the id index it touched, wrote 60 % more and
// took longer (the 100k city: 2 m 29 s against 2 m 24 s).
var ledgerFile = sqlitedb.File{
	What:          "ledger",
	ApplicationID: applicationID,
	Version:       schemaVersion,
	Schema:        schema,
	Upgrades:      []string{upgradeTo2},
}

func openDB(path, synchronous string, conns int, readOnly bool) (*sql.DB, error) {
	var more []string
	if !readOnly {
		// The checkpointer copies the log back (checkpoint.go); the
		// writer only when the log has grown far.
		more = append(more, fmt.Sprintf("wal_autocheckpoint(%d)", writerCheckpointPages))
	}
	return ledgerFile.Open(path, sqliteOptions(synchronous, conns, readOnly, more...))
}

func sqliteOptions(synchronous string, conns int, readOnly bool, pragmas ...string) sqlitedb.Options {
	return sqlitedb.Options{
		Synchronous: synchronous,
		Conns:       conns,
		ReadOnly:    readOnly,
		Pragmas:     append([]string{"cache_size(-65536)", "temp_store(MEMORY)"}, pragmas...),
	}
}

// insertChunk is how many rows one INSERT statement carries.
const insertChunk = 128

func insertSQL(n int) string {
	return `INSERT INTO events (position, id, stream, prev_in_stream, type, payload, hash, env) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?),", n), ",")
}

func insertIDsSQL(n int) string {
	// A pass cut short by a crash is written again from its start.
	return `INSERT INTO ids (id, position) VALUES ` + strings.TrimSuffix(strings.Repeat("(?,?),", n), ",") + ` ON CONFLICT (id) DO NOTHING`
}

// probeSQL finds whether any of n ids is in the ids table.
func probeSQL(n int) string {
	return `SELECT position FROM ids WHERE id IN (?` + strings.Repeat(",?", n-1) + `) LIMIT 1`
}

func upsertSQL(n int) string {
	return `INSERT INTO streams (name, version, last_position) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?,?,?),", n), ",") +
		` ON CONFLICT (name) DO UPDATE SET version = excluded.version, last_position = excluded.last_position`
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.insertN, insertSQL(insertChunk)},
		{&s.upsertN, upsertSQL(insertChunk)},
		{&s.insertIDsN, insertIDsSQL(insertChunk)},
		{&s.probeN, probeSQL(insertChunk)},
		{&s.someStreams, `SELECT name, version, last_position FROM streams WHERE name IN (SELECT value FROM json_each(?))`},
	} {
		var err error
		if *p.stmt, err = s.writer.PrepareContext(ctx, p.query); err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
	}
	queries := []string{headUpdateSQL}
	for n := 1; n <= smallBatch; n++ {
		queries = append(queries, insertSQL(n), upsertSQL(n), insertIDsSQL(n), probeSQL(n))
	}
	s.writes = make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := s.writer.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		s.writes[q] = st
	}
	return nil
}

// prepareReads prepares the readers' statements.
func (s *Store) prepareReads(ctx context.Context, readOnly bool) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.reads.stream, `
		WITH RECURSIVE chain(p, v) AS (
			SELECT ?1, ?2
			UNION ALL
			SELECT e.prev_in_stream, c.v - 1 FROM events e JOIN chain c ON e.position = c.p
			WHERE e.prev_in_stream > 0 AND c.v - 1 > ?3
		)
		SELECT ` + eventColumns + ` FROM events e WHERE e.position IN (SELECT p FROM chain) ORDER BY e.position`},
		{&s.reads.event, `SELECT ` + eventColumns + ` FROM events e WHERE e.position = ` + positionOf("?1", readOnly)},
		{&s.reads.at, `SELECT ` + eventColumns + ` FROM events e WHERE e.position = ?`},
		{&s.reads.last, `SELECT version, last_position FROM streams WHERE name = ?`},
		{&s.reads.hashAt, `SELECT hash FROM events WHERE position = ?`},
		{&s.reads.all, `SELECT ` + rowColumns + ` FROM events e WHERE e.position > ? ORDER BY e.position LIMIT ?`},
		{&s.reads.head, headSQL},
		{&s.reads.fold, `SELECT e.position, e.id, e.type, e.payload, e.env FROM events e WHERE e.position > ? ORDER BY e.position LIMIT ?`},
		{&s.reads.typed, `SELECT ` + eventColumns + ` FROM events e WHERE e.position > ? AND e.position <= ? AND e.type IN (SELECT value FROM json_each(?)) ORDER BY e.position`},
	} {
		var err error
		if *p.stmt, err = s.reader.PrepareContext(ctx, p.query); err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
	}
	return nil
}

// prepared returns the writer's statement for query, prepared at open
// (it cannot be prepared inside a batch's transaction: the writer has one
// connection, and the transaction holds it).
func (s *Store) prepared(query string) (*sql.Stmt, error) {
	st, ok := s.writes[query]
	if !ok {
		return nil, fmt.Errorf("statement %q was not prepared", query)
	}
	return st, nil
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, appends ...eventstore.StreamAppend) ([]eventstore.Event, error) {
	if s.committer == nil {
		return nil, domain.Errorf(domain.Forbidden, "this ledger was opened read-only")
	}
	return s.committer.Append(ctx, appends...)
}

// AppendEach implements eventstore.Store.
func (s *Store) AppendEach(ctx context.Context, calls [][]eventstore.StreamAppend, after *eventstore.Pending) *eventstore.Pending {
	if s.committer == nil {
		return eventstore.Refused(len(calls), domain.Errorf(domain.Forbidden, "this ledger was opened read-only"))
	}
	return s.committer.AppendEach(ctx, calls, after)
}

// ReadStream implements eventstore.Store by walking the stream's chain of
// previous-event pointers back from its last event.
func (s *Store) ReadStream(ctx context.Context, stream string, after int64) ([]eventstore.Event, error) {
	last, err := s.lastOf(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	if last.Version <= after {
		return nil, nil
	}
	rows, err := s.reads.stream.QueryContext(ctx, last.Last, last.Version, after)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	return scanEvents(rows)
}

// ReadEvent implements eventstore.Store.
func (s *Store) ReadEvent(ctx context.Context, id uuid.UUID) (eventstore.Event, bool, error) {
	stmt, arg := s.reads.event, any(id[:])
	if s.overlay != nil {
		if found, _ := s.overlay.positions([]uuid.UUID{id}); len(found) > 0 {
			stmt, arg = s.reads.at, found[0]
		}
	}
	rows, err := stmt.QueryContext(ctx, arg)
	if err != nil {
		return eventstore.Event{}, false, fmt.Errorf("read event %s: %w", id, err)
	}
	evs, err := scanEvents(rows)
	if err != nil || len(evs) == 0 {
		return eventstore.Event{}, false, err
	}
	return evs[0], true, nil
}

// ReadEvents implements eventstore.Store.
func (s *Store) ReadEvents(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]eventstore.Event, error) {
	out, err := readByID(ctx, s.reader, s.overlay, ids)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// positionOf is the SQL of the position of the event whose id is the
// parameter id, or NULL. The writing process finds the ids appended since
// ids_at in its overlay, and looks in the ids table for the rest; a
// read-only store looks for them in the log after ids_at, a scan of at
// most about 2 × flushIDs events.
func positionOf(id string, readOnly bool) string {
	if !readOnly {
		return `(SELECT position FROM ids WHERE id = ` + id + `)`
	}
	return `coalesce((SELECT position FROM ids WHERE id = ` + id + `),
		(SELECT position FROM events WHERE position > (SELECT ids_at FROM head WHERE id = 1) AND id = ` + id + `))`
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readByID reads the stored events among ids, a few hundred per query.
// ov is the writer's overlay, or nil in a read-only store.
func readByID(ctx context.Context, q querier, ov *overlay, ids []uuid.UUID) (map[uuid.UUID]eventstore.Event, error) {
	out := make(map[uuid.UUID]eventstore.Event)
	var at []int64
	if ov != nil {
		at, ids = ov.positions(ids)
	}
	read := func(query string, args []any) error {
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		evs, err := scanEvents(rows)
		for _, e := range evs {
			out[e.ID] = e
		}
		return err
	}
	const chunk = 500
	args := make([]any, 0, chunk)
	for len(ids) > 0 {
		n := min(len(ids), chunk)
		args = idArgs(args[:0], ids[:n])
		list := `?` + strings.Repeat(",?", n-1)
		in := `SELECT position FROM ids WHERE id IN (` + list + `)`
		if ov == nil {
			in += ` UNION ALL SELECT position FROM events WHERE position > (SELECT ids_at FROM head WHERE id = 1) AND id IN (` + list + `)`
			args = append(args, args...)
		}
		if err := read(`SELECT `+eventColumns+` FROM events e WHERE e.position IN (`+in+`)`, args); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	for len(at) > 0 {
		n := min(len(at), chunk)
		args = args[:0]
		for _, pos := range at[:n] {
			args = append(args, pos)
		}
		if err := read(`SELECT `+eventColumns+` FROM events e WHERE e.position IN (?`+strings.Repeat(",?", n-1)+`)`, args); err != nil {
			return nil, err
		}
		at = at[n:]
	}
	return out, nil
}

// idArgs appends ids to args as the blobs SQLite keeps them as.
func idArgs(args []any, ids []uuid.UUID) []any {
	for _, id := range ids {
		args = append(args, id[:])
	}
	return args
}

// StreamVersion implements eventstore.Store.
func (s *Store) StreamVersion(ctx context.Context, stream string) (int64, error) {
	st, err := s.lastOf(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("read stream %s: %w", stream, err)
	}
	return st.Version, nil
}

// lastOf finds a stream's version and last event: in the overlay, else in
// the streams table. A read-only store has no overlay and looks for events
// after the snapshot in the log itself.
func (s *Store) lastOf(ctx context.Context, stream string) (eventstore.StreamState, error) {
	var st eventstore.StreamState
	if s.overlay != nil {
		if st, ok := s.overlay.get(stream); ok {
			return st, nil
		}
		err := s.reads.last.QueryRowContext(ctx, stream).Scan(&st.Version, &st.Last)
		if errors.Is(err, sql.ErrNoRows) {
			return st, nil
		}
		return st, err
	}
	// Read-only: the snapshot, plus the stream's events after it in the log.
	var newer int64
	var last sql.NullInt64
	err := s.reader.QueryRowContext(ctx, `SELECT
			coalesce((SELECT version FROM streams WHERE name = ?1), 0),
			coalesce((SELECT last_position FROM streams WHERE name = ?1), 0),
			count(*), max(position)
		FROM events WHERE position > (SELECT streams_at FROM head WHERE id = 1) AND stream = ?1`, stream).Scan(&st.Version, &st.Last, &newer, &last)
	if last.Valid {
		st.Version, st.Last = st.Version+newer, last.Int64
	}
	return st, err
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.Event, error) {
	// A run of the log: each event's previous hash is the hash of the row
	// before it, so only the first needs a look-up.
	var prev []byte
	if after > 0 {
		err := s.reads.hashAt.QueryRowContext(ctx, after).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("read from %d: %w", after, err)
		}
	}
	rows, err := s.reads.all.QueryContext(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read from %d: %w", after, err)
	}
	evs, err := scanRun(rows, prev, expectRows(limit))
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// expectRows is the room a read of up to limit rows (none: limit < 0)
// allocates before reading them.
func expectRows(limit int) int {
	if limit < 0 {
		return 1 << 10
	}
	return min(limit, 1<<16)
}

// ReadFold implements eventstore.FoldReader: it leaves out the stream and
// the hash, decodes of the envelope only its version and times, and the
// payloads share a few arrays (eventstore.PayloadSlab).
func (s *Store) ReadFold(ctx context.Context, after int64, limit int) ([]eventstore.Event, error) {
	rows, err := s.reads.fold.QueryContext(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read from %d: %w", after, err)
	}
	defer rows.Close()
	out := make([]eventstore.Event, 0, expectRows(limit))
	types := map[string]string{}
	var payloads eventstore.PayloadSlab
	for rows.Next() {
		var e eventstore.Event
		var id, typ, payload, env sql.RawBytes
		if err := rows.Scan(&e.Position, &id, &typ, &payload, &env); err != nil {
			return nil, &eventstore.CorruptError{Position: e.Position, Reason: err.Error()}
		}
		if len(id) != 16 {
			return nil, &eventstore.CorruptError{Position: e.Position, Reason: "the id is not 16 bytes"}
		}
		if _, err := decodeEnvTimes(env, &e); err != nil {
			return nil, &eventstore.CorruptError{Position: e.Position, Reason: err.Error()}
		}
		e.ID = uuid.UUID(id)
		t, ok := types[string(typ)]
		if !ok {
			t = string(typ)
			types[t] = t
		}
		e.Type = t
		e.Payload = payloads.Copy(payload)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// ReadTyped implements eventstore.TypedReader: SQLite skips the other
// events without handing them to Go.
func (s *Store) ReadTyped(ctx context.Context, after, until int64, types []string) ([]eventstore.Event, error) {
	list, err := json.Marshal(types)
	if err != nil {
		return nil, err
	}
	rows, err := s.reads.typed.QueryContext(ctx, after, until, string(list))
	if err != nil {
		return nil, fmt.Errorf("read %v from %d: %w", types, after, err)
	}
	return scanEvents(rows)
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after int64, handle func(eventstore.Event) error) error {
	wait := func(ctx context.Context, after int64) error {
		// Polling is the safety net for another process writing the same file.
		return s.notifier.Wait(ctx, after, 500*time.Millisecond)
	}
	return eventstore.Subscribe(ctx, s.ReadAll, wait, after, handle)
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Head, error) {
	return scanHead(s.reads.head.QueryRowContext(ctx))
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const headSQL = `SELECT position, hash, recorded_at FROM head WHERE id = 1`

func readHead(ctx context.Context, q queryer) (eventstore.Head, error) {
	return scanHead(q.QueryRowContext(ctx, headSQL))
}

func scanHead(row *sql.Row) (eventstore.Head, error) {
	var h eventstore.Head
	var hash []byte
	var rec int64
	if err := row.Scan(&h.Position, &hash, &rec); err != nil {
		return h, fmt.Errorf("read head: %w", err)
	}
	if len(hash) != len(h.Hash) {
		return h, &eventstore.CorruptError{Position: h.Position, Reason: "the head's hash is not 32 bytes"}
	}
	copy(h.Hash[:], hash)
	if rec != 0 {
		h.RecordedAt = time.UnixMicro(rec).UTC()
	}
	return h, nil
}

// Close implements eventstore.Store.
func (s *Store) Close() error {
	if s.committer != nil {
		s.committer.Close()
	}
	var errs []error
	if s.checkpoints != nil {
		errs = append(errs, s.checkpoints.close())
	}
	for _, st := range []*sql.Stmt{s.insertN, s.upsertN, s.insertIDsN, s.probeN, s.someStreams, s.reads.stream, s.reads.event, s.reads.at, s.reads.last, s.reads.hashAt, s.reads.all, s.reads.head, s.reads.typed, s.reads.fold} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, st := range s.writes {
		errs = append(errs, st.Close())
	}
	for _, db := range []*sql.DB{s.reader, s.writer} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // releases the flock
	}
	return errors.Join(errs...)
}

func scanEvents(rows *sql.Rows) ([]eventstore.Event, error) {
	return scan(rows, nil, false, 0)
}

// scanRun reads consecutive rows whose previous hashes are not selected:
// the first row's is prev, each later row's is the hash of the row before.
func scanRun(rows *sql.Rows, prev []byte, expect int) ([]eventstore.Event, error) {
	return scan(rows, prev, true, expect)
}

func scan(rows *sql.Rows, prev []byte, run bool, expect int) ([]eventstore.Event, error) {
	defer rows.Close()
	out := make([]eventstore.Event, 0, expect)
	for rows.Next() {
		var e eventstore.Event
		var id, hash, env []byte
		var payload []byte
		dest := []any{&e.Position, &id, &e.Stream, &e.Type, &payload, &hash, &env}
		if !run {
			dest = append(dest, &prev)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, &eventstore.CorruptError{Position: e.Position, Reason: err.Error()}
		}
		bad := func(what string) error {
			return &eventstore.CorruptError{Position: e.Position, Reason: what}
		}
		if len(id) != 16 {
			return nil, bad("the id is not 16 bytes")
		}
		if len(hash) != 32 || (prev != nil && len(prev) != 32) {
			return nil, bad("a hash is not 32 bytes")
		}
		if err := decodeEnv(env, &e); err != nil {
			return nil, bad(err.Error())
		}
		e.ID = uuid.UUID(id)
		e.Hash = eventstore.Hash(hash)
		if prev != nil {
			e.PrevHash = eventstore.Hash(prev)
		}
		e.Payload = payload
		out = append(out, e)
		if run {
			prev = hash
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}
