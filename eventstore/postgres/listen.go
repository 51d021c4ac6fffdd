package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riskledger/riskledger/internal/postgresdb"
)

// Reconnection backoff of the listener.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// connectListener opens the listener's own connection (outside the pool: a
// LISTENing session must not serve queries) and subscribes to the channel.
// It then advances to the head, covering commits whose
// notifications were sent while no connection was listening; any commit
// after that read notifies this connection.
func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.listenCfg)
	if err != nil {
		return nil, postgresdb.Error(err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		closeQuietly(conn)
		return nil, fmt.Errorf("listen on %s: %w", s.channel, postgresdb.Error(err))
	}
	var head int64
	if err := conn.QueryRow(ctx, `SELECT position FROM ledger_head WHERE id = 1`).Scan(&head); err != nil {
		closeQuietly(conn)
		return nil, fmt.Errorf("read head: %w", postgresdb.Error(err))
	}
	s.advance(head)
	return conn, nil
}

// listen turns notifications into head advances until ctx ends,
// reconnecting with backoff whenever the connection fails. Its errors are
// not reported anywhere: while it is down, subscribers still poll, so a
// failure only delays them, and appends and reads report the outage
// themselves.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(s.listenerDone)
	backoff := minBackoff
	for {
		if conn != nil {
			s.relay(ctx, conn)
			closeQuietly(conn)
			conn = nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		var err error
		if conn, err = s.connectListener(ctx); err != nil {
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
	}
}

// relay advances the head for each notification until the connection
// fails or ctx ends.
func (s *Store) relay(ctx context.Context, conn *pgx.Conn) {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		if pos, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
			s.advance(pos)
		}
	}
}

func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx) // the session is being abandoned either way
}
