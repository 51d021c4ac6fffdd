package postgres

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/eventstore"
)

// copyEvents is the COPY statement whose binary input encodeCopy writes.
const copyEvents = `COPY events (position, id, stream, stream_version, type, schema_version, occurred_at, recorded_at,
	actor, causation_id, correlation_id, payload, metadata, prev_hash, hash) FROM STDIN (FORMAT binary)`

// copyFields is the number of columns in copyEvents.
const copyFields = 15

// pgEpochMicros is 2000-01-01 UTC, where PostgreSQL's timestamps count
// from, in Unix microseconds.
const pgEpochMicros = 946684800 * 1_000_000

// encodeCopy appends rows to buf in COPY's binary format. Encoding the
// envelope's fixed set of types directly, rather than through pgx's
// per-value type lookup and boxing, is most of the client's work per event
// and so decides how close an append comes to a bare COPY. Each type's wire
// form is its binary send format: integers big-endian, uuid as 16 bytes,
// text, json and bytea as their bytes, timestamptz as microseconds since
// 2000-01-01 UTC.
//
// A schema version beyond the int column's range is an error rather than a
// silently truncated number that would no longer match the event's hash.
func encodeCopy(buf []byte, rows []eventstore.Row) ([]byte, error) {
	buf = append(buf, "PGCOPY\n\xff\r\n\x00"...)
	buf = binary.BigEndian.AppendUint32(buf, 0) // flags: no OIDs
	buf = binary.BigEndian.AppendUint32(buf, 0) // no header extension
	for i := range rows {
		e := &rows[i].Event
		if e.SchemaVersion > math.MaxInt32 {
			return buf, fmt.Errorf("event at position %d: schema version %d does not fit the schema_version column", e.Position, e.SchemaVersion)
		}
		buf = binary.BigEndian.AppendUint16(buf, copyFields)
		buf = appendInt8(buf, e.Position)
		buf = appendBytes(buf, e.ID[:])
		buf = appendString(buf, e.Stream)
		buf = appendInt8(buf, e.StreamVersion)
		buf = appendString(buf, e.Type)
		buf = binary.BigEndian.AppendUint32(buf, 4)
		buf = binary.BigEndian.AppendUint32(buf, uint32(e.SchemaVersion))
		buf = appendInt8(buf, e.OccurredAt.UnixMicro()-pgEpochMicros)
		buf = appendInt8(buf, e.RecordedAt.UnixMicro()-pgEpochMicros)
		buf = appendString(buf, e.Actor)
		buf = appendNullableID(buf, e.CausationID)
		buf = appendNullableID(buf, e.CorrelationID)
		buf = appendBytes(buf, e.Payload)
		buf = appendBytes(buf, e.Metadata)
		buf = appendBytes(buf, e.PrevHash[:])
		buf = appendBytes(buf, e.Hash[:])
	}
	return binary.BigEndian.AppendUint16(buf, 0xffff), nil // trailer: field count -1
}

func appendInt8(buf []byte, v int64) []byte {
	buf = binary.BigEndian.AppendUint32(buf, 8)
	return binary.BigEndian.AppendUint64(buf, uint64(v))
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(b)))
	return append(buf, b...)
}

func appendString(buf []byte, s string) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
	return append(buf, s...)
}

func appendNullableID(buf []byte, id uuid.UUID) []byte {
	if id == uuid.Nil {
		return binary.BigEndian.AppendUint32(buf, 0xffffffff) // NULL
	}
	return appendBytes(buf, id[:])
}
