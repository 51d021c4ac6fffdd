package sqlite

import (
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
	flushed int64            // the new streams_at, when this batch flushed the stream states
	// The pass of ids this batch wrote a run of, whether it began it, the
	// pass's next run after this one, and the new ids_at if it was the last.
	pass  *idPass
	began bool
	next  int
	idsAt int64
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
	var streamsAt int64
	if t.s.overlay.size()+len(streams) >= t.s.flushAt || head.Position-t.s.overlay.streamsAt() >= flushEvents {
		if err := t.flush(ctx, streams); err != nil {
			return err
		}
		streamsAt, t.flushed = head.Position, head.Position
	}
	if err := t.writeIDs(ctx); err != nil {
		return err
	}
	return t.execPrepared(ctx, headUpdateSQL, head.Position, head.Hash[:], head.RecordedAt.UnixMicro(), streamsAt, t.idsAt)
}

// headUpdateSQL moves the head, and streams_at or ids_at when ?4 or ?5
// is not 0.
const headUpdateSQL = `UPDATE head SET position = ?1, hash = ?2, recorded_at = ?3,
	streams_at = iif(?4 > 0, ?4, streams_at), ids_at = iif(?5 > 0, ?5, ids_at) WHERE id = 1`

// writeIDs writes the next run of the pass of ids under way, or of the
// pass that is ready to begin.
func (t *writeTx) writeIDs(ctx context.Context) error {
	o := t.s.overlay
	o.mu.RLock()
	pass := o.staged
	if pass == nil && o.ready != nil {
		pass, t.began = o.ready, true
	}
	o.mu.RUnlock()
	if pass == nil {
		return nil
	}
	// Twice the batch's own ids: the pass is written before the next
	// one has gathered.
	run := max(2*len(t.written), 1)
	t.pass, t.next = pass, min(len(pass.ids), pass.next+run)
	if t.next == len(pass.ids) {
		t.idsAt = pass.upTo
	}
	ids := pass.ids[pass.next:t.next]
	args := make([]any, 0, insertChunk*2)
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
		args = idArgs(args[:0], rest[:n])
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

// flush writes the overlay's and this batch's stream states to the
// streams table in name order, so that each page of the table is written
// once.
func (t *writeTx) flush(ctx context.Context, batch map[string]eventstore.StreamState) error {
	t.s.overlay.mu.RLock()
	all := maps.Clone(t.s.overlay.m)
	t.s.overlay.mu.RUnlock()
	maps.Copy(all, batch)
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
	return nil
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
		o.at = t.flushed
	} else {
		maps.Copy(o.m, t.changed)
	}
	for i := range t.written {
		o.ids[t.written[i].ID] = t.written[i].Position
	}
	if t.began {
		o.staged, o.ready, o.frozen = t.pass, nil, nil
	}
	if t.pass != nil {
		t.pass.next = t.next
		if t.idsAt > 0 {
			o.staged = nil // the table holds them all now
		}
	}
	if len(t.written) > 0 {
		o.freeze(t.s.flushIDs, t.written[len(t.written)-1].Position)
	}
	return nil
}

func (t *writeTx) Rollback(context.Context) error { return t.tx.Rollback() }

func (o *overlay) size() int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return len(o.m)
}

func (o *overlay) streamsAt() int64 {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.at
}
