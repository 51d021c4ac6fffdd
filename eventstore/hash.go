package eventstore

import (
	"crypto/sha256"
	"encoding/binary"
)

// hashDomain separates riskledger's event hashes from any other SHA-256 use.
const hashDomain = "riskledger/event/v1\x00"

// ComputeHash returns SHA-256 over the previous hash and the event's
// canonical encoding: every envelope field except Hash itself, fixed-width
// integers big-endian, variable fields length-prefixed, times as UTC
// microseconds. Changing any byte of any field changes the hash.
func ComputeHash(prev Hash, e *Event) Hash {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	putBytes := func(b []byte) {
		n := binary.PutUvarint(buf[:], uint64(len(b)))
		h.Write(buf[:n])
		h.Write(b)
	}
	putInt := func(v int64) {
		binary.BigEndian.PutUint64(buf[:8], uint64(v))
		h.Write(buf[:8])
	}
	h.Write([]byte(hashDomain))
	h.Write(prev[:])
	putInt(e.Position)
	h.Write(e.ID[:])
	putBytes([]byte(e.Stream))
	putInt(e.StreamVersion)
	putBytes([]byte(e.Type))
	putInt(int64(e.SchemaVersion))
	putInt(e.OccurredAt.UnixMicro())
	putInt(e.RecordedAt.UnixMicro())
	putBytes([]byte(e.Actor))
	h.Write(e.CausationID[:])
	h.Write(e.CorrelationID[:])
	putBytes(e.Payload)
	putBytes(e.Metadata)
	var out Hash
	h.Sum(out[:0])
	return out
}

// sameContent reports whether a stored event carries the content of a new
// one: what an idempotent retry must repeat exactly. The store-assigned
// fields (position, versions, recording time, hashes) are not compared.
func sameContent(stored *Event, stream string, n *NewEvent) bool {
	return stored.Stream == stream &&
		stored.Type == n.Type &&
		stored.SchemaVersion == n.SchemaVersion &&
		(n.OccurredAt.IsZero() || stored.OccurredAt.Equal(n.OccurredAt)) &&
		stored.Actor == n.Actor &&
		stored.CausationID == n.CausationID &&
		stored.CorrelationID == n.CorrelationID &&
		string(stored.Payload) == string(n.Payload) &&
		string(stored.Metadata) == string(n.Metadata)
}
