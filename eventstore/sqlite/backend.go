package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/internal/sqlitedb"
)

// backend opens the Committer's write transactions on the single writer
// connection. BEGIN IMMEDIATE (the _txlock setting) takes SQLite's write
// lock at once, so the head read in the transaction is the head it commits on.
type backend struct{ s *Store }

func (b backend) Begin(ctx context.Context) (eventstore.Tx, error) {
	tx, err := b.s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, sqlitedb.Classify(err)
	}
	return &writeTx{s: b.s, tx: tx}, nil
}

type writeTx struct {
	s  *Store
	tx *sql.Tx
	// What Commit publishes to the overlay once the transaction is durable.
	changed map[string]eventstore.StreamState
	written []eventstore.Row // the rows of the transaction's one Write
	flushed int64            // the new snapshot_at, when this batch flushed the overlay
}

func (t *writeTx) Load(ctx context.Context, streams []string, ids []uuid.UUID) (eventstore.Loaded, error) {
	var l eventstore.Loaded
	var err error
	if l.Head, err = readHead(ctx, t.tx); err != nil {
		return l, err
	}
	if l.Streams, err = t.Streams(ctx, streams); err != nil {
		return l, err
	}
	l.Events, err = t.lookup(ctx, ids)
	return l, err
}

func (t *writeTx) Streams(ctx context.Context, names []string) (map[string]eventstore.StreamState, error) {
	out := make(map[string]eventstore.StreamState, len(names))
	var missing []string
	for _, name := range names {
		if st, ok := t.s.overlay.get(name); ok {
			out[name] = st
		} else {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	// One prepared statement for any number of names: they travel as a
	// JSON array.
	list, err := json.Marshal(missing)
	if err != nil {
		return nil, err
	}
	rows, err := t.tx.StmtContext(ctx, t.s.someStreams).QueryContext(ctx, string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var st eventstore.StreamState
		if err := rows.Scan(&name, &st.Version, &st.Last); err != nil {
			return nil, err
		}
		out[name] = st
	}
	return out, rows.Err()
}

func (t *writeTx) lookup(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]eventstore.Event, error) {
	return readByID(ctx, t.tx, t.s.overlay, ids)
}

func (t *writeTx) Write(ctx context.Context, rows []eventstore.Row, streams map[string]eventstore.StreamState, head eventstore.Head) error {
	return sqlitedb.Classify(t.write(ctx, rows, streams, head))
}

func (t *writeTx) write(ctx context.Context, rows []eventstore.Row, streams map[string]eventstore.StreamState, head eventstore.Head) error {
	if err := t.unique(ctx, rows); err != nil {
		return err
	}
	t.written = rows
	args := make([]any, 0, insertChunk*8)
	env := make([]byte, 0, 64*len(rows))
	for len(rows) > 0 {
		n := min(len(rows), insertChunk)
		args = args[:0]
		for i := range rows[:n] {
			e := &rows[i]
			start := len(env)
			env = encodeEnv(env, &e.Event)
			args = append(args, e.Position, e.ID[:], e.Stream, e.PrevInStream, e.Type, string(e.Payload), e.Hash[:], env[start:len(env):len(env)])
		}
		if err := t.exec(ctx, t.s.insertN, n, insertSQL, args); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		rows = rows[n:]
	}
	t.changed = streams
	snapshotAt := "snapshot_at"
	if t.s.overlay.size()+len(streams) >= t.s.flushAt || head.Position-t.s.overlay.snapshotAt() >= flushEvents {
		if err := t.flush(ctx, streams); err != nil {
			return err
		}
		snapshotAt = "?4"
		t.flushed = head.Position
	}
	return t.execPrepared(ctx, headUpdateSQL(snapshotAt), head.Position, head.Hash[:], head.RecordedAt.UnixMicro(), head.Position)
}

// headUpdateSQL moves the head; snapshotAt is "snapshot_at" (kept) or "?4"
// (the overlay was flushed at the new head).
func headUpdateSQL(snapshotAt string) string {
	return `UPDATE head SET position = ?1, hash = ?2, recorded_at = ?3, snapshot_at = ` + snapshotAt + ` WHERE id = 1`
}

// unique refuses, with ErrDuplicateID, rows of which an id given by the
// caller is stored already: in the overlay, or in the ids table.
func (t *writeTx) unique(ctx context.Context, rows []eventstore.Row) error {
	ids := make([]uuid.UUID, 0, len(rows))
	for i := range rows {
		if !rows[i].Minted {
			ids = append(ids, rows[i].ID)
		}
	}
	found, rest := t.s.overlay.positions(ids)
	if len(found) > 0 {
		return fmt.Errorf("insert events: %w (at position %d)", eventstore.ErrDuplicateID, found[0])
	}
	args := make([]any, 0, insertChunk)
	for len(rest) > 0 {
		n := min(len(rest), insertChunk)
		args = args[:0]
		for _, id := range rest[:n] {
			args = append(args, id[:])
		}
		var pos int64
		err := t.queryRow(ctx, t.s.probeN, n, probeSQL, args).Scan(&pos)
		if err == nil {
			return fmt.Errorf("insert events: %w (at position %d)", eventstore.ErrDuplicateID, pos)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("look up event ids: %w", err)
		}
		rest = rest[n:]
	}
	return nil
}

// flush writes the overlay and this batch's stream states and ids to the
// streams and ids tables in key order, so that each page of a table is
// written once.
func (t *writeTx) flush(ctx context.Context, batch map[string]eventstore.StreamState) error {
	o := t.s.overlay
	o.mu.RLock()
	all := maps.Clone(o.m)
	ids := make([]idAt, 0, len(o.ids)+len(t.written))
	for id, pos := range o.ids {
		ids = append(ids, idAt{id, pos})
	}
	o.mu.RUnlock()
	maps.Copy(all, batch)
	for i := range t.written {
		ids = append(ids, idAt{t.written[i].ID, t.written[i].Position})
	}
	names := slices.Sorted(maps.Keys(all))
	args := make([]any, 0, insertChunk*3)
	for len(names) > 0 {
		n := min(len(names), insertChunk)
		args = args[:0]
		for _, name := range names[:n] {
			st := all[name]
			args = append(args, name, st.Version, st.Last)
		}
		if err := t.exec(ctx, t.s.upsertN, n, upsertSQL, args); err != nil {
			return fmt.Errorf("write stream states: %w", err)
		}
		names = names[n:]
	}
	slices.SortFunc(ids, func(a, b idAt) int { return bytes.Compare(a.id[:], b.id[:]) })
	for len(ids) > 0 {
		n := min(len(ids), insertChunk)
		args = args[:0]
		for _, e := range ids[:n] {
			args = append(args, e.id[:], e.pos)
		}
		if err := t.exec(ctx, t.s.insertIDsN, n, insertIDsSQL, args); err != nil {
			return fmt.Errorf("write event ids: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

type idAt struct {
	id  uuid.UUID
	pos int64
}

// exec runs the statement for a chunk of n rows (see statement).
func (t *writeTx) exec(ctx context.Context, full *sql.Stmt, n int, build func(int) string, args []any) error {
	st, query := t.statement(ctx, full, n, build)
	if st == nil {
		_, err := t.tx.ExecContext(ctx, query, args...)
		return err
	}
	_, err := st.ExecContext(ctx, args...)
	return err
}

// queryRow runs the query for a chunk of n rows (see statement).
func (t *writeTx) queryRow(ctx context.Context, full *sql.Stmt, n int, build func(int) string, args []any) *sql.Row {
	st, query := t.statement(ctx, full, n, build)
	if st == nil {
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// statement is, for a chunk of n rows, the prepared full-size statement
// or one prepared for small batches, in the transaction; or, for other
// sizes, no statement but the SQL to run.
func (t *writeTx) statement(ctx context.Context, full *sql.Stmt, n int, build func(int) string) (*sql.Stmt, string) {
	if n == insertChunk {
		return t.tx.StmtContext(ctx, full), ""
	}
	query := build(n)
	if st, ok := t.s.writes[query]; ok {
		return t.tx.StmtContext(ctx, st), ""
	}
	return nil, query
}

// smallBatch is the largest number of rows whose insert statement is
// prepared once and kept: the batches of a server under steady load are
// small, and parsing their SQL again each time costs more than inserting.
const smallBatch = 32

// execPrepared runs query in the transaction through a statement the
// store prepares once.
func (t *writeTx) execPrepared(ctx context.Context, query string, args ...any) error {
	st, err := t.s.prepared(query)
	if err != nil {
		return err
	}
	_, err = t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	return err
}

// Commit makes the batch durable, then shows its stream states to readers:
// never before, or a reader could follow a pointer to an event that a
// failed commit never wrote.
func (t *writeTx) Commit(context.Context) error {
	if err := t.tx.Commit(); err != nil {
		return sqlitedb.Classify(err)
	}
	t.s.checkpoints.wrote(len(t.written))
	o := t.s.overlay
	o.mu.Lock()
	defer o.mu.Unlock()
	if t.flushed > 0 {
		o.m = make(map[string]eventstore.StreamState)
		o.ids = make(map[uuid.UUID]int64)
		o.at = t.flushed
		return nil
	}
	maps.Copy(o.m, t.changed)
	for i := range t.written {
		o.ids[t.written[i].ID] = t.written[i].Position
	}
	return nil
}

func (t *writeTx) Rollback(context.Context) error { return t.tx.Rollback() }

func (o *overlay) size() int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return len(o.m)
}

func (o *overlay) snapshotAt() int64 {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.at
}
