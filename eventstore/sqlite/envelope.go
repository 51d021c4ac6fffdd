package sqlite

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/eventstore"
)

// The env column packs the envelope fields that SQL has no use for into one
// blob: each column costs SQLite about half a microsecond per insert, and
// the embedded store is measured against a raw file. Fields, in order:
//
//	version byte (1) | stream_version uvarint | schema_version uvarint |
//	occurred_at int64 µs | recorded_at int64 µs | actor (uvarint len, bytes) |
//	causation_id 16 | correlation_id 16 | metadata (uvarint len, bytes)
//
// The hash stays a column of its own, and the previous hash is not stored at
// all: it is the previous row's hash, so the chain is checked against the
// log itself.
const envVersion = 1

func encodeEnv(dst []byte, e *eventstore.Event) []byte {
	dst = append(dst, envVersion)
	dst = binary.AppendUvarint(dst, uint64(e.StreamVersion))
	dst = binary.AppendUvarint(dst, uint64(e.SchemaVersion))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.OccurredAt.UnixMicro()))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.RecordedAt.UnixMicro()))
	dst = binary.AppendUvarint(dst, uint64(len(e.Actor)))
	dst = append(dst, e.Actor...)
	dst = append(dst, e.CausationID[:]...)
	dst = append(dst, e.CorrelationID[:]...)
	dst = binary.AppendUvarint(dst, uint64(len(e.Metadata)))
	return append(dst, e.Metadata...)
}

var errEnv = errors.New("the envelope column is malformed")

func decodeEnv(b []byte, e *eventstore.Event) error {
	b, err := decodeEnvTimes(b, e)
	if err != nil {
		return err
	}
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	fixed := func(n int) []byte {
		if len(b) < n {
			b = nil
			return make([]byte, n)
		}
		out := b[:n]
		b = b[n:]
		return out
	}
	e.Actor = string(fixed(int(uv())))
	e.CausationID = uuid.UUID(fixed(16))
	e.CorrelationID = uuid.UUID(fixed(16))
	e.Metadata = append([]byte(nil), fixed(int(uv()))...)
	if b == nil || len(b) != 0 {
		return errEnv
	}
	return nil
}

// decodeEnvTimes reads the start of an envelope: the stream and schema
// versions and the two times, which are all a fold's read wants of it. It
// returns the rest.
func decodeEnvTimes(b []byte, e *eventstore.Event) ([]byte, error) {
	if len(b) == 0 || b[0] != envVersion {
		return nil, errEnv
	}
	b = b[1:]
	version, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errEnv
	}
	b = b[n:]
	schema, n := binary.Uvarint(b)
	if n <= 0 || len(b[n:]) < 16 {
		return nil, errEnv
	}
	b = b[n:]
	e.StreamVersion, e.SchemaVersion = int64(version), int(schema)
	e.OccurredAt = time.UnixMicro(int64(binary.BigEndian.Uint64(b))).UTC()
	e.RecordedAt = time.UnixMicro(int64(binary.BigEndian.Uint64(b[8:]))).UTC()
	return b[16:], nil
}
