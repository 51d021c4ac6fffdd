package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/eventstore"
)

// backend opens the Committer's write transactions on the single writer
// connection. BEGIN IMMEDIATE (the _txlock setting) takes SQLite's write
// lock at once, so the head read in the transaction is the head it commits on.
type backend struct{ s *Store }

func (b backend) Begin(ctx context.Context) (eventstore.Tx, error) {
	tx, err := b.s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &writeTx{s: b.s, tx: tx}, nil
}

type writeTx struct {
	s  *Store
	tx *sql.Tx
}

func (t *writeTx) Head(ctx context.Context) (eventstore.Head, error) { return readHead(ctx, t.tx) }

func (t *writeTx) Streams(ctx context.Context, names []string) (map[string]eventstore.StreamState, error) {
	out := make(map[string]eventstore.StreamState, len(names))
	for len(names) > 0 {
		n := min(len(names), 500)
		args := make([]any, n)
		for i, name := range names[:n] {
			args[i] = name
		}
		rows, err := t.tx.QueryContext(ctx, `SELECT name, version, last_position FROM streams WHERE name IN (`+placeholders(n)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var name string
			var st eventstore.StreamState
			if err := rows.Scan(&name, &st.Version, &st.Last); err != nil {
				rows.Close()
				return nil, err
			}
			out[name] = st
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		names = names[n:]
	}
	return out, nil
}

func (t *writeTx) Lookup(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]eventstore.Event, error) {
	out := make(map[uuid.UUID]eventstore.Event)
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id[:]
		}
		rows, err := t.tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id IN (`+placeholders(n)+`)`, args...)
		if err != nil {
			return nil, err
		}
		evs, err := scanEvents(rows)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			out[e.ID] = e
		}
		ids = ids[n:]
	}
	return out, nil
}

func (t *writeTx) Write(ctx context.Context, rows []eventstore.Row, streams map[string]eventstore.StreamState, head eventstore.Head) error {
	args := make([]any, 0, insertChunk*16)
	for len(rows) > 0 {
		n := min(len(rows), insertChunk)
		args = args[:0]
		for i := range rows[:n] {
			e := &rows[i]
			args = append(args, e.Position, e.ID[:], e.Stream, e.StreamVersion, e.Type, e.SchemaVersion,
				e.OccurredAt.UnixMicro(), e.RecordedAt.UnixMicro(), e.Actor,
				nullableID(e.CausationID), nullableID(e.CorrelationID), string(e.Payload), string(e.Metadata),
				e.PrevHash[:], e.Hash[:], e.PrevInStream)
		}
		if err := t.exec(ctx, t.s.insertN, n, insertSQL, args); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		rows = rows[n:]
	}
	args = args[:0]
	n := 0
	for name, st := range streams {
		args = append(args, name, st.Version, st.Last)
		if n++; n == insertChunk {
			if err := t.exec(ctx, t.s.upsertN, n, upsertSQL, args); err != nil {
				return fmt.Errorf("update streams: %w", err)
			}
			args, n = args[:0], 0
		}
	}
	if n > 0 {
		if err := t.exec(ctx, t.s.upsertN, n, upsertSQL, args); err != nil {
			return fmt.Errorf("update streams: %w", err)
		}
	}
	_, err := t.tx.ExecContext(ctx, `UPDATE head SET position = ?, hash = ?, recorded_at = ? WHERE id = 1`,
		head.Position, head.Hash[:], head.RecordedAt.UnixMicro())
	return err
}

// exec runs the prepared full-size statement, or a statement sized for a
// shorter last chunk.
func (t *writeTx) exec(ctx context.Context, full *sql.Stmt, n int, build func(int) string, args []any) error {
	if n == insertChunk {
		_, err := t.tx.StmtContext(ctx, full).ExecContext(ctx, args...)
		return err
	}
	_, err := t.tx.ExecContext(ctx, build(n), args...)
	return err
}

func (t *writeTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t *writeTx) Rollback(context.Context) error { return t.tx.Rollback() }

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
