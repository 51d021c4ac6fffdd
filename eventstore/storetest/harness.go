// Package storetest is the conformance suite every eventstore.Store must
// pass. Each implementation's tests call Run with a Harness that opens its
// stores and can alter them behind their back with raw SQL.
package storetest

import (
	"context"
	"testing"

	"github.com/riskledger/riskledger/eventstore"
)

// Harness opens stores of one implementation.
type Harness struct {
	// NewLocation returns a fresh, empty location (a data directory, a
	// database schema) and removes it when t ends.
	NewLocation func(t *testing.T) string
	// Open opens (or reopens) the store at location.
	Open func(ctx context.Context, location string) (eventstore.Store, error)
	// Tamper alters the store at location with raw SQL, as an attacker or a
	// careless administrator would.
	Tamper Tamperer
	// ChildEnv is the environment variable through which the crash test
	// tells a child process (this test binary, re-executed) which location
	// to append to. The implementation's TestMain must call RunChild when
	// it is set.
	ChildEnv string
}

// Tamperer changes a ledger outside the store. Positions are the events'.
type Tamperer interface {
	// ChangePayloadByte changes one byte of the payload at position.
	ChangePayloadByte(t *testing.T, location string, position int64)
	// DeleteRow deletes the event at position.
	DeleteRow(t *testing.T, location string, position int64)
	// SwapRows exchanges the positions of two events.
	SwapRows(t *testing.T, location string, p, q int64)
	// Overwrite replaces the stored event at e.Position with e (payload,
	// previous hash and hash), and sets the head to head.
	Overwrite(t *testing.T, location string, events []eventstore.Event, head eventstore.Head)
}
