package domain

import (
	"bytes"

	"github.com/google/uuid"
)

// PersonID identifies a person (a citizen, a guardian or a dependent). It is a
// UUID chosen by the client that registers the person, so that a retried
// registration names the same person. The zero value is "no person"; a
// PersonID obtained from ParsePersonID is never zero.
type PersonID struct{ u uuid.UUID }

// ParsePersonID reads a person id in the canonical UUID form
// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, any case). Other forms, the nil UUID
// and anything else are an Invalid error.
func ParsePersonID(s string) (PersonID, error) {
	u, err := parseUUID("person id", s)
	return PersonID{u}, err
}

// String returns the id in lower-case canonical form, or "" for the zero value.
func (id PersonID) String() string { return uuidString(id.u) }

// IsZero reports whether id is the zero value (no person).
func (id PersonID) IsZero() bool { return id.u == uuid.Nil }

// Compare orders ids as their strings order, without making the strings.
func (id PersonID) Compare(o PersonID) int { return bytes.Compare(id.u[:], o.u[:]) }

// UUID returns the id as a uuid.UUID (uuid.Nil for the zero value), for
// adapters that store it natively.
func (id PersonID) UUID() uuid.UUID { return id.u }

// MarshalText encodes the id in canonical form. The zero value is an Invalid
// error: writing it would put an unreadable id into the ledger.
func (id PersonID) MarshalText() ([]byte, error) { return uuidText("person id", id.u) }

// UnmarshalText decodes an id through ParsePersonID and returns its errors.
func (id *PersonID) UnmarshalText(b []byte) error {
	if u, ok := canonicalUUID(b); ok {
		*id = PersonID{u}
		return nil
	}
	v, err := ParsePersonID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// CheckpointID identifies a checkpoint (a turnstile, a gate, a shop door). It
// is a UUID chosen by the client that registers the checkpoint. The zero value
// is "no checkpoint"; one obtained from ParseCheckpointID is never zero.
type CheckpointID struct{ u uuid.UUID }

// ParseCheckpointID reads a checkpoint id in canonical UUID form. Other forms
// and the nil UUID are an Invalid error.
func ParseCheckpointID(s string) (CheckpointID, error) {
	u, err := parseUUID("checkpoint id", s)
	return CheckpointID{u}, err
}

// String returns the id in lower-case canonical form, or "" for the zero value.
func (id CheckpointID) String() string { return uuidString(id.u) }

// IsZero reports whether id is the zero value (no checkpoint).
func (id CheckpointID) IsZero() bool { return id.u == uuid.Nil }

// UUID returns the id as a uuid.UUID (uuid.Nil for the zero value).
func (id CheckpointID) UUID() uuid.UUID { return id.u }

// MarshalText encodes the id in canonical form; the zero value is an Invalid
// error.
func (id CheckpointID) MarshalText() ([]byte, error) { return uuidText("checkpoint id", id.u) }

// UnmarshalText decodes an id through ParseCheckpointID and returns its errors.
func (id *CheckpointID) UnmarshalText(b []byte) error {
	if u, ok := canonicalUUID(b); ok {
		*id = CheckpointID{u}
		return nil
	}
	v, err := ParseCheckpointID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// EventID identifies an event in the ledger (the eventstore's event id), as
// named by a retraction. The zero value is "no event".
type EventID struct{ u uuid.UUID }

// ParseEventID reads an event id in canonical UUID form. Other forms and the
// nil UUID are an Invalid error.
func ParseEventID(s string) (EventID, error) {
	u, err := parseUUID("event id", s)
	return EventID{u}, err
}

// EventIDFromUUID wraps an event id the ledger has already assigned. The nil
// UUID is an Invalid error.
func EventIDFromUUID(u uuid.UUID) (EventID, error) {
	if u == uuid.Nil {
		return EventID{}, Errorf(Invalid, "event id must not be the nil UUID")
	}
	return EventID{u}, nil
}

// String returns the id in lower-case canonical form, or "" for the zero value.
func (id EventID) String() string { return uuidString(id.u) }

// IsZero reports whether id is the zero value (no event).
func (id EventID) IsZero() bool { return id.u == uuid.Nil }

// UUID returns the id as a uuid.UUID (uuid.Nil for the zero value).
func (id EventID) UUID() uuid.UUID { return id.u }

// MarshalText encodes the id in canonical form; the zero value is an Invalid
// error.
func (id EventID) MarshalText() ([]byte, error) { return uuidText("event id", id.u) }

// UnmarshalText decodes an id through ParseEventID and returns its errors.
func (id *EventID) UnmarshalText(b []byte) error {
	if u, ok := canonicalUUID(b); ok {
		*id = EventID{u}
		return nil
	}
	v, err := ParseEventID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// canonicalUUID reads a valid id in the 36-character form without making
// a string of it (decoding a ledger reads millions); anything else goes the
// way of the Parse functions, which say what is wrong.
func canonicalUUID(b []byte) (uuid.UUID, bool) {
	if len(b) != 36 {
		return uuid.Nil, false
	}
	u, err := uuid.ParseBytes(b)
	return u, err == nil && u != uuid.Nil
}

// parseUUID accepts only the 36-character hyphenated form: uuid.Parse also
// takes urn:uuid:, braces and bare hex, and ids that are written several ways
// would defeat comparing lines by content.
func parseUUID(what, s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, Errorf(Invalid, "%s %s is not a UUID (like 3f2b6c1e-8a4d-4e5f-9b7a-0c1d2e3f4a5b)", what, quoteShort(s))
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, Errorf(Invalid, "%s %s is not a UUID (like 3f2b6c1e-8a4d-4e5f-9b7a-0c1d2e3f4a5b)", what, quoteShort(s))
	}
	if u == uuid.Nil {
		return uuid.Nil, Errorf(Invalid, "%s must not be the nil UUID", what)
	}
	return u, nil
}

func uuidString(u uuid.UUID) string {
	if u == uuid.Nil {
		return ""
	}
	return u.String()
}

func uuidText(what string, u uuid.UUID) ([]byte, error) {
	if u == uuid.Nil {
		return nil, Errorf(Invalid, "%s is not set", what)
	}
	return []byte(u.String()), nil
}
