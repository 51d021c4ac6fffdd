// Package eventstore is riskledger's ledger: an append-only, hash-chained log
// of events with per-stream optimistic concurrency, idempotency by event id and
// a gapless global position. The Store interface has two implementations,
// eventstore/sqlite (embedded) and eventstore/postgres, both held to the
// conformance suite in eventstore/storetest.
package eventstore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
)

// Hash is a SHA-256 digest in the ledger's hash chain.
type Hash [32]byte

// String returns the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText encodes the hash as hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes a 64-digit hex hash.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("hash must be 64 hex digits, got %d characters", len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Event is one committed fact in the ledger: the envelope and its payload.
type Event struct {
	// Position is the event's place in the global log: 1, 2, 3, ... without gaps.
	Position int64 `json:"position"`
	// ID identifies the event; re-appending the same ID with the same content
	// is a no-op.
	ID uuid.UUID `json:"id"`
	// Stream names the aggregate the event belongs to ("person-<uuid>").
	Stream string `json:"stream"`
	// StreamVersion is the event's number within its stream: 1, 2, 3, ...
	StreamVersion int64 `json:"stream_version"`
	// Type is the event's name, stable once written ("PersonRegistered").
	Type string `json:"type"`
	// SchemaVersion is the version of the payload's shape for Type.
	SchemaVersion int `json:"schema_version"`
	// OccurredAt is when the fact happened in the world (client-supplied).
	OccurredAt time.Time `json:"occurred_at"`
	// RecordedAt is when the ledger accepted it. It never decreases along
	// the log, so "as known at K" is always a prefix of the log.
	RecordedAt time.Time `json:"recorded_at"`
	// Actor is who caused the event (a token's subject, "system", ...).
	Actor string `json:"actor"`
	// CausationID is the event or command that caused this one, if any.
	CausationID uuid.UUID `json:"causation_id"`
	// CorrelationID groups the events of one conversation, if any.
	CorrelationID uuid.UUID `json:"correlation_id"`
	// Payload is the event's data as compact JSON.
	Payload json.RawMessage `json:"payload"`
	// Metadata is a compact JSON object of operational annotations.
	Metadata json.RawMessage `json:"metadata"`
	// PrevHash is the hash of the event at Position-1 (zero for the first).
	PrevHash Hash `json:"prev_hash"`
	// Hash is SHA-256 over PrevHash and the event's canonical encoding.
	Hash Hash `json:"hash"`
}

// NewEvent is an event to append. The store fills in the rest of the envelope.
type NewEvent struct {
	// ID, if zero, is assigned by the store as a fresh UUIDv7. Callers that
	// need idempotent retries supply their own.
	ID            uuid.UUID
	Type          string
	SchemaVersion int // 0 means 1
	// OccurredAt, if zero, is the recording time.
	OccurredAt    time.Time
	Actor         string
	CausationID   uuid.UUID
	CorrelationID uuid.UUID
	Payload       json.RawMessage
	Metadata      json.RawMessage // nil means {}
	// RecordedAt, if set, is taken instead of the ledger's clock (imports
	// from an earlier system). It must not precede the ledger's head nor lie
	// in the future.
	RecordedAt time.Time
}

// Expected is the state a stream must be in for an append to succeed. The
// zero value is Any.
type Expected struct {
	kind    expectedKind
	version int64
}

type expectedKind uint8

const (
	expectAny expectedKind = iota
	expectNoStream
	expectExists
	expectExactly
	expectInvalid
)

var (
	// Any accepts the stream in whatever state it is.
	Any = Expected{kind: expectAny}
	// NoStream requires that the stream has no events yet.
	NoStream = Expected{kind: expectNoStream}
	// StreamExists requires at least one event in the stream.
	StreamExists = Expected{kind: expectExists}
)

// Exactly requires the stream's current version to be v (0 is the same as
// NoStream). A negative v is an invalid expectation, reported at append.
func Exactly(v int64) Expected {
	if v < 0 {
		return Expected{kind: expectInvalid, version: v}
	}
	return Expected{kind: expectExactly, version: v}
}

// ParseExpected reads "any", "no_stream", "exists" or a version number.
// Any other form is an invalid-code error.
func ParseExpected(s string) (Expected, error) {
	switch s {
	case "any":
		return Any, nil
	case "no_stream":
		return NoStream, nil
	case "exists":
		return StreamExists, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return Expected{kind: expectInvalid}, domain.Errorf(domain.Invalid,
			"expected version %q is not one of any, no_stream, exists or a version number (0 or more)", s)
	}
	return Exactly(v), nil
}

func (e Expected) String() string {
	switch e.kind {
	case expectAny:
		return "any"
	case expectNoStream:
		return "no_stream"
	case expectExists:
		return "exists"
	case expectExactly:
		return strconv.FormatInt(e.version, 10)
	}
	return "invalid(" + strconv.FormatInt(e.version, 10) + ")"
}

// admits reports whether a stream at version current satisfies e.
func (e Expected) admits(current int64) bool {
	switch e.kind {
	case expectAny:
		return true
	case expectNoStream:
		return current == 0
	case expectExists:
		return current > 0
	case expectExactly:
		return current == e.version
	}
	return false
}

// StreamAppend is the events to add to one stream, under an expectation.
// A StreamAppend with no events is a condition: its expectation must hold
// for the call to succeed, and nothing is written to its stream. A decision
// that read a stream it does not write states what it read this way (the
// checkpoint a scan was decided against, the person it names), so that a
// change to that stream before the commit fails the call instead of
// leaving a decision taken on stale facts. A call needs at least one event.
type StreamAppend struct {
	Stream   string
	Expected Expected
	Events   []NewEvent
}

// Head is the ledger's current end: the last position and its hash.
type Head struct {
	Position   int64     `json:"position"`
	Hash       Hash      `json:"hash"`
	RecordedAt time.Time `json:"recorded_at,omitzero"` // absent while the ledger is empty
}

// ConflictError reports a stream whose version did not match the append's
// expectation. It unwraps to a domain.Error with code Conflict.
type ConflictError struct {
	Stream   string
	Expected Expected
	Current  int64
}

func (e *ConflictError) Error() string { return e.Unwrap().Error() }

// Unwrap returns the domain error, so domain.ErrorCode reports Conflict.
func (e *ConflictError) Unwrap() error {
	return domain.Errorf(domain.Conflict, "stream %q is at version %d, but the append expected %s; reload and retry",
		e.Stream, e.Current, e.Expected)
}

// MaxStreamLength bounds stream names.
const MaxStreamLength = 256

// MaxPayloadBytes bounds one event's payload (and, separately, its metadata).
const MaxPayloadBytes = 4 << 20

// normalize validates a call to Append and returns its events in canonical
// form: compact JSON, times truncated to microseconds in UTC, schema version
// at least 1. It reports the first problem as an Invalid error.
func normalize(appends []StreamAppend) ([]StreamAppend, error) {
	if len(appends) == 0 {
		return nil, domain.Errorf(domain.Invalid, "append needs at least one stream with events")
	}
	out := make([]StreamAppend, len(appends))
	streams := make(map[string]bool, len(appends))
	ids := make(map[uuid.UUID]bool)
	total := 0
	for i, a := range appends {
		switch {
		case strings.TrimSpace(a.Stream) == "":
			return nil, domain.Errorf(domain.Invalid, "stream name is empty; name the stream the events belong to")
		case !cleanText(a.Stream):
			return nil, domain.Errorf(domain.Invalid, "stream name %q has a NUL byte or is not valid UTF-8", a.Stream)
		case len(a.Stream) > MaxStreamLength:
			return nil, domain.Errorf(domain.Invalid, "stream name is %d bytes long; at most %d are allowed", len(a.Stream), MaxStreamLength)
		case a.Expected.kind >= expectInvalid:
			return nil, domain.Errorf(domain.Invalid, "expected version %s for stream %q is not valid: use any, no_stream, exists or a version of 0 or more", a.Expected, a.Stream)
		case streams[a.Stream]:
			return nil, domain.Errorf(domain.Invalid, "stream %q appears twice in one append; put its events in one list", a.Stream)
		}
		streams[a.Stream] = true
		evs := make([]NewEvent, len(a.Events))
		for j, e := range a.Events {
			ne, err := normalizeEvent(e)
			if err != nil {
				return nil, fmt.Errorf("stream %q event %d: %w", a.Stream, j+1, err)
			}
			if ne.ID != uuid.Nil {
				if ids[ne.ID] {
					return nil, domain.Errorf(domain.Invalid, "event id %s appears twice in one append", ne.ID)
				}
				ids[ne.ID] = true
			}
			evs[j] = ne
		}
		out[i] = StreamAppend{Stream: a.Stream, Expected: a.Expected, Events: evs}
		total += len(evs)
	}
	if total == 0 {
		return nil, domain.Errorf(domain.Invalid, "append has no events: at least one stream must have events (the others are conditions)")
	}
	return out, nil
}

func normalizeEvent(e NewEvent) (NewEvent, error) {
	if strings.TrimSpace(e.Type) == "" {
		return e, domain.Errorf(domain.Invalid, "event type is empty")
	}
	if !cleanText(e.Type) || !cleanText(e.Actor) {
		return e, domain.Errorf(domain.Invalid, "event type or actor has a NUL byte or is not valid UTF-8")
	}
	if e.SchemaVersion < 0 || e.SchemaVersion > math.MaxInt32 {
		return e, domain.Errorf(domain.Invalid, "schema version %d is out of range (1 to %d)", e.SchemaVersion, math.MaxInt32)
	}
	for _, t := range []time.Time{e.OccurredAt, e.RecordedAt} {
		if !t.IsZero() && (t.Year() < 1 || t.Year() > 9999) {
			return e, domain.Errorf(domain.Invalid, "time %s is outside the years 1 to 9999", t.Format(time.RFC3339))
		}
	}
	if e.SchemaVersion == 0 {
		e.SchemaVersion = 1
	}
	var err error
	if e.Payload, err = compactJSON(e.Payload, "payload", false); err != nil {
		return e, err
	}
	if e.Metadata, err = compactJSON(e.Metadata, "metadata", true); err != nil {
		return e, err
	}
	if !e.OccurredAt.IsZero() {
		e.OccurredAt = e.OccurredAt.UTC().Truncate(time.Microsecond)
	}
	if !e.RecordedAt.IsZero() {
		e.RecordedAt = e.RecordedAt.UTC().Truncate(time.Microsecond)
	}
	return e, nil
}

func compactJSON(raw json.RawMessage, what string, object bool) (json.RawMessage, error) {
	if object && len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("{}"), nil
	}
	if len(raw) > MaxPayloadBytes {
		return nil, domain.Errorf(domain.Invalid, "%s is %d bytes; at most %d are allowed", what, len(raw), MaxPayloadBytes)
	}
	if !utf8.Valid(raw) {
		return nil, domain.Errorf(domain.Invalid, "%s is not valid UTF-8", what)
	}
	out := json.RawMessage(bytes.Clone(raw)) // the caller keeps its buffer
	if !compact(raw) || !json.Valid(raw) {
		// Not compact already (or not JSON, which Compact explains).
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, domain.Errorf(domain.Invalid, "%s is not valid JSON: %v", what, err)
		}
		out = buf.Bytes()
	}
	if object && out[0] != '{' {
		return nil, domain.Errorf(domain.Invalid, "%s must be a JSON object", what)
	}
	return out, nil
}

// compact tells whether raw has no white space outside its strings, as
// json.Marshal writes it, so that json.Compact would not change it.
func compact(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return len(raw) > 0
}

// cleanText reports whether s can be stored as text by every store: valid
// UTF-8 without NUL bytes (which PostgreSQL refuses).
func cleanText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
