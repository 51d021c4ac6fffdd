package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/internal/postgresdb"
)

// backend opens the Committer's write transactions. Each runs on one pooled
// connection at READ COMMITTED: once Head's row lock is granted, every later
// statement takes a fresh snapshot and so sees what the previous holder
// committed.
//
// A batch's fixed cost is round trips, so the transaction is driven by hand
// rather than through pgx.Tx, in as few as two: BEGIN travels with the head
// lock, and the rows, the head update, the NOTIFY and COMMIT go together
// (plus one for stream versions the Committer has not cached, and one for
// caller-supplied ids).
type backend struct{ s *Store }

func (b backend) Begin(ctx context.Context) (eventstore.Tx, error) {
	conn, err := b.s.pool.Acquire(ctx)
	if err != nil {
		return nil, postgresdb.Error(err)
	}
	return &writeTx{s: b.s, conn: conn}, nil
}

// maxKeptCopyBuf bounds the COPY buffer kept between batches.
const maxKeptCopyBuf = 4 << 20

type writeTx struct {
	s     *Store
	conn  *pgxpool.Conn
	begun bool             // BEGIN was sent
	head  *eventstore.Head // the head after the rows Write encoded
}

// Load begins the transaction and locks the head row in it (every appender
// in every process queues here until the holder commits or rolls back),
// then reads the streams' versions and the events with the given ids: one
// pipelined round trip. The reads are statements of their own, so at READ
// COMMITTED they see what the previous holder of the lock committed.
func (t *writeTx) Load(ctx context.Context, streams []string, ids []uuid.UUID) (eventstore.Loaded, error) {
	var l eventstore.Loaded
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	b.Queue(`SELECT position, hash, recorded_at FROM ledger_head WHERE id = 1 FOR UPDATE`)
	if len(streams) > 0 {
		b.Queue(streamsQuery, streams)
	}
	if len(ids) > 0 {
		b.Queue(`SELECT `+eventColumns+` FROM events WHERE id = ANY($1::uuid[])`, uuidArray(ids))
	}
	t.begun = true
	br := t.conn.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return l, postgresdb.Error(err)
	}
	var err error
	if l.Head, err = scanHead(br.QueryRow()); err != nil {
		return l, postgresdb.Error(err)
	}
	l.Streams = make(map[string]eventstore.StreamState, len(streams))
	if len(streams) > 0 {
		rows, err := br.Query()
		if err != nil {
			return l, postgresdb.Error(err)
		}
		if err := scanStreams(rows, l.Streams); err != nil {
			return l, err
		}
	}
	if len(ids) > 0 {
		rows, err := br.Query()
		evs, err := scanEvents(rows, err, len(ids))
		if err != nil {
			return l, postgresdb.Error(err)
		}
		l.Events = make(map[uuid.UUID]eventstore.Event, len(evs))
		for _, e := range evs {
			l.Events[e.ID] = e
		}
	}
	return l, postgresdb.Error(br.Close())
}

// streamsQuery probes the (stream, stream_version) index once per stream
// for its last event; streams without events are left out.
const streamsQuery = `SELECT s, e.stream_version, e.position
	FROM unnest($1::text[]) AS s
	CROSS JOIN LATERAL (
		SELECT stream_version, position FROM events WHERE stream = s ORDER BY stream_version DESC LIMIT 1
	) AS e`

func scanStreams(rows pgx.Rows, out map[string]eventstore.StreamState) error {
	defer rows.Close()
	for rows.Next() {
		var name string
		var st eventstore.StreamState
		if err := rows.Scan(&name, &st.Version, &st.Last); err != nil {
			return err
		}
		out[name] = st
	}
	return postgresdb.Error(rows.Err())
}

func uuidArray(ids []uuid.UUID) []pgtype.UUID {
	arg := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		arg[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	return arg
}

// Streams reads the versions of streams after the head is locked.
func (t *writeTx) Streams(ctx context.Context, names []string) (map[string]eventstore.StreamState, error) {
	rows, err := t.conn.Query(ctx, streamsQuery, names)
	if err != nil {
		return nil, postgresdb.Error(err)
	}
	out := make(map[string]eventstore.StreamState, len(names))
	return out, scanStreams(rows, out)
}

// Write encodes the rows for Commit to send. The stream states need no
// write of their own: the events' (stream, stream_version) index is where
// Streams reads them.
func (t *writeTx) Write(_ context.Context, rows []eventstore.Row, _ map[string]eventstore.StreamState, head eventstore.Head) error {
	var err error
	if t.s.copyBuf, err = encodeCopy(t.s.copyBuf[:0], rows); err != nil {
		return err
	}
	t.head = &head
	return nil
}

// Commit sends the rows Write encoded, moves the head, queues the
// notification (which PostgreSQL delivers only if and when the transaction
// commits) and commits, all in one round trip: the statements after COPY
// ride in its query string and run once the rows are in. That string goes
// by the simple protocol, which takes no parameters, so the values are
// written as literals: integers, hex digits, a timestamp in RFC 3339 (text,
// so that no microsecond is lost to floating point) and the channel name,
// which channelName keeps to letters, digits and underscores.
func (t *writeTx) Commit(ctx context.Context) error {
	if !t.begun {
		return errors.New("commit before the transaction began")
	}
	if t.head == nil {
		// Nothing was written (the Committer does not do this, but the
		// interface allows it).
		tag, err := t.conn.Exec(ctx, "COMMIT")
		if err != nil {
			return fmt.Errorf("commit: %w", postgresdb.Error(err))
		}
		return t.committed(tag)
	}
	sql := copyEvents + fmt.Sprintf(`;
		UPDATE ledger_head SET position = %d, hash = decode('%x', 'hex'), recorded_at = '%s'::timestamptz WHERE id = 1;
		SELECT pg_notify('%s', '%d');
		COMMIT`,
		t.head.Position, t.head.Hash[:], t.head.RecordedAt.UTC().Format(time.RFC3339Nano), t.s.channel, t.head.Position)
	tag, err := t.conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(t.s.copyBuf), sql)
	if cap(t.s.copyBuf) > maxKeptCopyBuf {
		t.s.copyBuf = nil // one huge batch should not pin its buffer for good
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "events_id_key" {
		return fmt.Errorf("copy events: %w: %w", eventstore.ErrDuplicateID, err)
	}
	if err != nil {
		return fmt.Errorf("copy events and commit: %w", postgresdb.Error(err))
	}
	return t.committed(tag)
}

// committed checks the tag of COMMIT and, when the transaction did commit,
// returns the connection to the pool.
func (t *writeTx) committed(tag pgconn.CommandTag) error {
	// COMMIT of a transaction that an error aborted succeeds as ROLLBACK;
	// after a failed COPY the last tag is not COMMIT either.
	if tag.String() != "COMMIT" {
		return fmt.Errorf("commit: the transaction was not committed (%s)", tag)
	}
	t.begun = false
	t.release()
	return nil
}

// Rollback ends the transaction unless it committed, and returns the
// connection to the pool. A connection whose transaction could not be
// ended is closed by the pool rather than reused.
func (t *writeTx) Rollback(ctx context.Context) error {
	if t.conn == nil {
		return nil
	}
	defer t.release()
	if !t.begun {
		return nil
	}
	t.begun = false
	_, err := t.conn.Exec(ctx, `ROLLBACK`)
	return postgresdb.Error(err)
}

func (t *writeTx) release() {
	if t.conn != nil {
		t.conn.Release()
		t.conn = nil
	}
}
