// Package vault protects personal data by crypto-shredding. Each person's
// identity numbers, names and phone numbers are sealed (AES-256-GCM) under
// a data key of their own before they go into the ledger; erasing the
// person destroys that key, so the ledger keeps every event, still replays,
// and no longer holds anything that reveals who the person was.
//
// Data keys live in a KeyStore apart from the ledger (encrypted personal
// data is still personal data): with the embedded store a SQLite file of
// its own (vault/sqlite), with PostgreSQL a table in a schema of its own
// (vault/postgres). They are stored wrapped under the master key, which
// lives in a key file, never in a database.
//
// Keys derived from the master key (HKDF-SHA256, one per purpose):
//   - the key-wrapping key, "riskledger/key-wrap/v1";
//   - the blind-index key, "riskledger/blind-index/v1";
//   - a fingerprint the key store keeps, "riskledger/master-key-check/v1",
//     so that a vault given the wrong master key refuses to start.
package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
)

// MasterKeySize is the length of a master key in bytes.
const MasterKeySize = 32

// dataKeySize is the length of a person's data key (AES-256).
const dataKeySize = 32

// wrappedSize is the length of a wrapped data key: nonce, key, GCM tag.
const wrappedSize = nonceSize + dataKeySize + tagSize

// Labels of the keys derived from the master key. Changing one makes every
// stored key or index unreadable: a new derivation gets a new label.
const (
	labelWrap        = "riskledger/key-wrap/v1"
	labelBlindIndex  = "riskledger/blind-index/v1"
	labelFingerprint = "riskledger/master-key-check/v1"
)

// KindDocument is the blind-index kind of identity documents, for the
// value DocumentValue builds; registrations and visitor scans share it, so
// that a visitor's document finds a registered person's.
const KindDocument = "document"

// ErrWrongMasterKey is the error for a master key that is not the one the
// key store's data keys were wrapped with (another key file), or a wrapped
// key that was altered in the store.
var ErrWrongMasterKey = &domain.Error{Code: domain.Internal,
	Message: "the master key does not unwrap this key store's data keys; give the master key file the key store was made with"}

// Config says where a vault keeps its keys and what wraps them.
type Config struct {
	// Store keeps the wrapped data keys. The caller opens and closes it.
	Store KeyStore
	// MasterKey is the 32-byte master key (keys.LoadMasterKey).
	MasterKey []byte
	// MasterKeyVersion is stored with every key wrapped under MasterKey,
	// so that a new master key can be introduced later; 1 when zero.
	MasterKeyVersion int
}

func (c *Config) setDefaults() {
	if c.MasterKeyVersion == 0 {
		c.MasterKeyVersion = 1
	}
}

// Validate reports every problem with the configuration as one Invalid error.
func (c *Config) Validate() error {
	var problems []string
	if c.Store == nil {
		problems = append(problems, "no key store was given")
	}
	if len(c.MasterKey) != MasterKeySize {
		problems = append(problems, fmt.Sprintf("the master key is %d bytes long, not %d", len(c.MasterKey), MasterKeySize))
	}
	if c.MasterKeyVersion < 0 {
		problems = append(problems, fmt.Sprintf("master key version %d is negative", c.MasterKeyVersion))
	}
	if len(problems) > 0 {
		return domain.Errorf(domain.Invalid, "vault: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Vault seals and opens personal data under per-person keys. It is safe for
// concurrent use, and any number of vaults, in any number of processes, may
// share one key store. It keeps no data key in memory between calls, so an
// erasure by any of them holds for all at once.
type Vault struct {
	store    KeyStore
	version  int
	kek      cipher.AEAD // wraps data keys
	indexKey []byte
}

// New returns a vault over cfg.Store. An invalid configuration is an Invalid
// error; a master key other than the one the store's keys were wrapped with
// is ErrWrongMasterKey; the store's own errors come back wrapped.
func New(ctx context.Context, cfg Config) (*Vault, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var err error
	derive := func(label string) []byte {
		if err != nil {
			return nil
		}
		var k []byte
		k, err = hkdf.Key(sha256.New, cfg.MasterKey, nil, label, 32)
		return k
	}
	fp, wrapKey, indexKey := derive(labelFingerprint), derive(labelWrap), derive(labelBlindIndex)
	if err != nil {
		return nil, fmt.Errorf("derive keys: %w", err)
	}
	stored, err := cfg.Store.MasterKeyFingerprint(ctx, cfg.MasterKeyVersion, fp)
	if err != nil {
		return nil, fmt.Errorf("check master key: %w", err)
	}
	if subtle.ConstantTimeCompare(stored, fp) != 1 {
		return nil, fmt.Errorf("master key version %d: %w", cfg.MasterKeyVersion, ErrWrongMasterKey)
	}
	kek, err := newAEAD(wrapKey)
	if err != nil {
		return nil, err
	}
	return &Vault{
		store:    cfg.Store,
		version:  cfg.MasterKeyVersion,
		kek:      kek,
		indexKey: indexKey,
	}, nil
}

// Seal encrypts plaintext, the value of field (a name such as
// "document.number"), for person, creating the person's data key on first
// use. The field name is bound to the result: Open succeeds only with the
// same person and field. A nil person or an empty field is an Invalid
// error; an erased person is ErrErased (nothing new is sealed for them);
// a wrong master key is ErrWrongMasterKey; the store's errors come back
// wrapped.
func (v *Vault) Seal(ctx context.Context, person uuid.UUID, field string, plaintext []byte) (Sealed, error) {
	if err := checkArgs(person, field); err != nil {
		return Sealed{}, err
	}
	aead, err := v.dataKey(ctx, person, true)
	if err != nil {
		return Sealed{}, fmt.Errorf("seal %s of person %s: %w", field, person, err)
	}
	return (&Sealer{person: person, aead: aead}).Seal(field, plaintext), nil
}

// Sealer seals values for one person under their data key, which it holds
// in memory: for sealing many values at once. Keep it no longer than the
// work at hand, since an erasure cannot reach a key held here.
type Sealer struct {
	person uuid.UUID
	aead   cipher.AEAD
}

// Seal is Vault.Seal for the sealer's person. field must not be empty.
func (s *Sealer) Seal(field string, plaintext []byte) Sealed {
	var out Sealed
	_, _ = rand.Read(out.nonce[:]) // crypto/rand.Read never fails
	out.ciphertext = s.aead.Seal(nil, out.nonce[:], plaintext, dataAAD(s.person, field))
	return out
}

// Sealers returns a Sealer for each of persons, first creating the data
// keys of those who have none, all in one transaction of the key store.
// Erased persons are left out of the result: nothing new is sealed for
// them.
func (v *Vault) Sealers(ctx context.Context, persons []uuid.UUID) (map[uuid.UUID]*Sealer, error) {
	fresh := make(map[uuid.UUID]WrappedKey, len(persons))
	for _, p := range persons {
		if p == uuid.Nil {
			return nil, domain.Errorf(domain.Invalid, "no person was named")
		}
		if _, ok := fresh[p]; !ok {
			fresh[p] = v.wrapNew(p)
		}
	}
	stored, err := v.store.CreateKeys(ctx, fresh)
	if err != nil {
		return nil, fmt.Errorf("create data keys: %w", err)
	}
	out := make(map[uuid.UUID]*Sealer, len(stored))
	for p, wk := range stored {
		dek, err := v.unwrap(p, wk)
		if err != nil {
			return nil, err
		}
		aead, err := newAEAD(dek)
		clear(dek)
		if err != nil {
			return nil, err
		}
		out[p] = &Sealer{person: p, aead: aead}
	}
	return out, nil
}

// Open decrypts what Seal returned for the same person and field. An
// erased person is ErrErased; a value that was altered, or sealed for
// another person or field, is an Invalid error; a person with no data key
// in this store is ErrNoKey; a wrong master key is ErrWrongMasterKey; the
// store's errors come back wrapped.
func (v *Vault) Open(ctx context.Context, person uuid.UUID, field string, sealed Sealed) ([]byte, error) {
	if err := checkArgs(person, field); err != nil {
		return nil, err
	}
	if sealed.IsZero() {
		return nil, domain.Errorf(domain.Invalid, "there is no sealed %s to open", field)
	}
	aead, err := v.dataKey(ctx, person, false)
	if err != nil {
		return nil, fmt.Errorf("open %s of person %s: %w", field, person, err)
	}
	plain, err := aead.Open(nil, sealed.nonce[:], sealed.ciphertext, dataAAD(person, field))
	if err != nil {
		return nil, domain.Errorf(domain.Invalid,
			"the sealed %s of person %s does not open: it was altered, or sealed for another person or field", field, person)
	}
	return plain, nil
}

// Erase destroys person's data key, so that nothing sealed for them opens
// again, and keeps them from getting a new one. Erasing twice succeeds. A
// nil person is an Invalid error; the store's errors come back wrapped.
func (v *Vault) Erase(ctx context.Context, person uuid.UUID) error {
	if person == uuid.Nil {
		return domain.Errorf(domain.Invalid, "no person was named")
	}
	if err := v.store.Erase(ctx, person); err != nil {
		return fmt.Errorf("erase person %s: %w", person, err)
	}
	return nil
}

// BlindIndex returns a keyed hash (HMAC-SHA256 under a key derived from the
// master key, hex-encoded) of value, normalised by trimming white space and
// upper-casing, within kind. Equal values of one kind give equal indexes,
// so duplicates are found without storing the value; values of different
// kinds, and indexes made under different master keys, never match. It
// does not fail.
func (v *Vault) BlindIndex(kind, value string) string {
	mac := hmac.New(sha256.New, v.indexKey)
	// The kind's length comes first, so no kind and value pair reads as
	// another.
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(kind)))
	mac.Write(n[:])
	mac.Write([]byte(kind))
	mac.Write([]byte(strings.ToUpper(strings.TrimSpace(value))))
	return hex.EncodeToString(mac.Sum(nil))
}

// DocumentIndex is the blind index of an identity document
// (BlindIndex(KindDocument, DocumentValue(...))). It does not fail.
func (v *Vault) DocumentIndex(doc domain.Document) string {
	return v.BlindIndex(KindDocument, DocumentValue(doc.Type.String(), doc.Country, doc.Number))
}

// DocumentValue is the normalised value an identity document is indexed
// by: type|country|number, each part trimmed and upper-cased, so that
// "passport| fr |ab123" and "PASSPORT|FR|AB123" are one document.
func DocumentValue(docType, country, number string) string {
	norm := func(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
	return norm(docType) + "|" + norm(country) + "|" + norm(number)
}

// dataKey returns the cipher of person's data key, creating the key first
// when create is set and the person has none.
func (v *Vault) dataKey(ctx context.Context, person uuid.UUID, create bool) (cipher.AEAD, error) {
	wk, err := v.store.Key(ctx, person)
	if create && errors.Is(err, ErrNoKey) {
		wk, err = v.createKey(ctx, person)
	}
	if err != nil {
		return nil, err
	}
	dek, err := v.unwrap(person, wk)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	return newAEAD(dek)
}

// createKey makes a data key for person and stores it, unless another
// caller stored one first; it returns the key that is stored.
func (v *Vault) createKey(ctx context.Context, person uuid.UUID) (WrappedKey, error) {
	return v.store.CreateKey(ctx, person, v.wrapNew(person))
}

// wrapNew makes a new data key for person, wrapped under the master key.
func (v *Vault) wrapNew(person uuid.UUID) WrappedKey {
	dek := make([]byte, dataKeySize)
	_, _ = rand.Read(dek) // crypto/rand.Read never fails
	defer clear(dek)
	wrapped := make([]byte, nonceSize, wrappedSize)
	_, _ = rand.Read(wrapped)
	wrapped = v.kek.Seal(wrapped, wrapped, dek, wrapAAD(person, v.version))
	return WrappedKey{MasterVersion: v.version, Wrapped: wrapped}
}

// unwrap decrypts person's data key.
func (v *Vault) unwrap(person uuid.UUID, wk WrappedKey) ([]byte, error) {
	if wk.MasterVersion != v.version {
		return nil, domain.Errorf(domain.Internal,
			"the data key of person %s is wrapped under master key version %d, and this vault holds version %d",
			person, wk.MasterVersion, v.version)
	}
	if len(wk.Wrapped) != wrappedSize {
		return nil, domain.Errorf(domain.Internal, "the stored data key of person %s is %d bytes long, not %d", person, len(wk.Wrapped), wrappedSize)
	}
	dek, err := v.kek.Open(nil, wk.Wrapped[:nonceSize], wk.Wrapped[nonceSize:], wrapAAD(person, wk.MasterVersion))
	if err != nil {
		return nil, fmt.Errorf("unwrap the data key of person %s: %w", person, ErrWrongMasterKey)
	}
	return dek, nil
}

func checkArgs(person uuid.UUID, field string) error {
	switch {
	case person == uuid.Nil:
		return domain.Errorf(domain.Invalid, "no person was named")
	case field == "":
		return domain.Errorf(domain.Invalid, "no field was named")
	}
	return nil
}

// dataAAD binds a sealed value to its person and field. The person id has
// a fixed length, so no (person, field) pair reads as another.
func dataAAD(person uuid.UUID, field string) []byte {
	return append(person[:len(person):len(person)], field...)
}

// wrapAAD binds a wrapped data key to its person and master key version,
// so that a stored key cannot be moved to another person.
func wrapAAD(person uuid.UUID, version int) []byte {
	return binary.BigEndian.AppendUint32(person[:len(person):len(person)], uint32(version))
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}
