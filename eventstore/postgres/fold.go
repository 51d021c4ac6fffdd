package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riskledger/riskledger/eventstore"
)

// foldColumns are the columns ReadFold reads.
const foldColumns = `position, id, type, schema_version, occurred_at, recorded_at, payload`

// ReadFold implements eventstore.FoldReader. It reads seven of the fifteen
// columns and takes their bytes as the server sends them, in binary where
// the type has a binary form, without pgx's scan plans; the payloads
// share a few arrays (eventstore.PayloadSlab).
func (s *Store) ReadFold(ctx context.Context, after int64, limit int) ([]eventstore.Event, error) {
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	if limit == 0 {
		return nil, nil
	}
	lim, expect := s.page(after, limit)
	rows, err := s.pool.Query(ctx, `SELECT `+foldColumns+` FROM events WHERE position > $1 ORDER BY position LIMIT $2`, after, lim)
	evs, err := scanFold(rows, err, int(expect))
	if err != nil {
		return nil, s.readError(ctx, fmt.Sprintf("read from %d", after), err)
	}
	return evs, nil
}

// scanFold reads the rows of a foldColumns query.
func scanFold(rows pgx.Rows, err error, expect int) ([]eventstore.Event, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	if len(fields) != 7 {
		return nil, fmt.Errorf("read: %d columns, want 7", len(fields))
	}
	// position, id, schema_version and the times are read in binary; type
	// and payload (text and json) are the same bytes in either format.
	for _, i := range []int{0, 1, 3, 4, 5} {
		if fields[i].Format != pgx.BinaryFormatCode {
			return nil, fmt.Errorf("read: column %s came in text format", fields[i].Name)
		}
	}
	out := make([]eventstore.Event, 0, expect)
	types := map[string]string{}
	var payloads eventstore.PayloadSlab
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 7 || len(v[0]) != 8 {
			return nil, &eventstore.CorruptError{Reason: "a row without a position"}
		}
		e := eventstore.Event{Position: int64(binary.BigEndian.Uint64(v[0]))}
		if len(v[1]) != 16 || len(v[3]) != 4 || len(v[4]) != 8 || len(v[5]) != 8 || v[2] == nil || v[6] == nil {
			return nil, &eventstore.CorruptError{Position: e.Position, Reason: "a column is missing or of the wrong size"}
		}
		copy(e.ID[:], v[1])
		t, ok := types[string(v[2])]
		if !ok {
			t = string(v[2])
			types[t] = t
		}
		e.Type = t
		e.SchemaVersion = int(int32(binary.BigEndian.Uint32(v[3])))
		e.OccurredAt = pgTime(v[4])
		e.RecordedAt = pgTime(v[5])
		e.Payload = payloads.Copy(v[6])
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// pgTime decodes a binary timestamptz: microseconds since 2000-01-01 UTC.
func pgTime(b []byte) time.Time {
	return time.UnixMicro(pgEpochMicros + int64(binary.BigEndian.Uint64(b))).UTC()
}
