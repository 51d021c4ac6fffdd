// Package domain holds riskledger's pure types: errors, identifiers, events and
// the risk policy. It performs no I/O and imports no other project package.
package domain

import (
	"errors"
	"fmt"
)

// Error codes. Callers branch on these through ErrorCode, never on message text.
const (
	// Invalid: the request is malformed or breaks a validation rule.
	Invalid = "invalid"
	// Conflict: the request contradicts the current state (a stale expected
	// version, an id reused with other content).
	Conflict = "conflict"
	// NotFound: the named thing does not exist.
	NotFound = "not_found"
	// Forbidden: the caller may not do this.
	Forbidden = "forbidden"
	// Limit: a quota would be exceeded (a guardian's fifth dependent).
	Limit = "limit"
	// Unavailable: a dependency (the database, the disk) cannot serve now.
	Unavailable = "unavailable"
	// Internal: a fault of ours; the message is not shown to users.
	Internal = "internal"
)

// Error is the one application error type. Message is written for a person
// who can act on it; it never carries internal detail.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, Internal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the user-facing message of the first *Error in err's
// chain, or a generic sentence for internal errors (whose detail is logged,
// never shown).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred; it has been logged."
}
