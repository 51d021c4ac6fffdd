package vault

import (
	"context"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
)

// WrappedKey is a person's data key encrypted under a master key: what a
// KeyStore keeps. The key itself is never stored in clear.
type WrappedKey struct {
	// MasterVersion names the master key that wrapped it, so that a master
	// key can be rotated by rewrapping, without touching the ledger.
	MasterVersion int
	// Wrapped is the AES-256-GCM nonce followed by the sealed data key.
	Wrapped []byte
}

// ErrErased is the error a vault returns for a person who was erased: the
// person's data key is destroyed, so nothing sealed for them opens, and
// nothing new is sealed for them. Callers branch with errors.Is.
var ErrErased = &domain.Error{Code: domain.NotFound, Message: "the person's personal data was erased"}

// ErrNoKey is the error a KeyStore returns for a person who has no data key
// and was not erased: nothing was ever sealed for them in this key store.
var ErrNoKey = &domain.Error{Code: domain.NotFound, Message: "no data key is stored for the person"}

// KeyStore keeps one wrapped data key per person, and a tombstone for each
// erased person, apart from the ledger: encrypted personal data is still
// personal data, so the keys that open it must be destroyable on their own.
// Implementations are safe for concurrent use, by any number of processes
// that share the store; vaulttest is the suite they must pass.
type KeyStore interface {
	// MasterKeyFingerprint stores fp as the fingerprint of master key
	// version unless one is stored already, and returns the one stored, so
	// that a vault given another master key than the one its keys were
	// wrapped with refuses to start instead of wrapping new keys with it.
	MasterKeyFingerprint(ctx context.Context, version int, fp []byte) ([]byte, error)
	// Key returns person's wrapped data key. It returns ErrNoKey when the
	// person has none, and ErrErased when the person was erased.
	Key(ctx context.Context, person uuid.UUID) (WrappedKey, error)
	// CreateKey stores k as person's data key unless the person has one
	// already, and returns the key stored: k, or the one that was there
	// first. Of any number of concurrent calls for one person, exactly one
	// key wins and every call returns it. It returns ErrErased when the
	// person was erased: an erased person never gets a new key.
	CreateKey(ctx context.Context, person uuid.UUID, k WrappedKey) (WrappedKey, error)
	// CreateKeys does what CreateKey does for many persons in one
	// transaction: it stores each key unless its person has one, and
	// returns the key stored for each person. Erased persons are left out
	// of the result.
	CreateKeys(ctx context.Context, keys map[uuid.UUID]WrappedKey) (map[uuid.UUID]WrappedKey, error)
	// Erase destroys person's data key and leaves a tombstone in its place,
	// so that later calls return ErrErased. Erasing an erased person, or
	// one who never had a key, succeeds (and leaves the tombstone).
	Erase(ctx context.Context, person uuid.UUID) error
	// Close releases the store's resources. Calling it again returns nil.
	Close() error
}

// CreateOne is CreateKey in terms of CreateKeys, for key stores that have
// one code path for both.
func CreateOne(ctx context.Context, s KeyStore, person uuid.UUID, k WrappedKey) (WrappedKey, error) {
	stored, err := s.CreateKeys(ctx, map[uuid.UUID]WrappedKey{person: k})
	if err != nil {
		return WrappedKey{}, err
	}
	got, ok := stored[person]
	if !ok {
		return WrappedKey{}, ErrErased
	}
	return got, nil
}
