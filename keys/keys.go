// Package keys reads and creates the key files riskledger signs with. Keys
// live in files, never in the ledger: with the embedded store they are made
// in the data directory on first start; with PostgreSQL every node reads the
// same files, made once with `riskledger keys init DIR`.
package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/riskledger/riskledger/domain"
)

// HeadKeyFile is the file name of the key that signs head statements.
const HeadKeyFile = "head.key"

// MasterKeyFile is the file name of the master key, which wraps the
// per-person keys that personal data is encrypted with.
const MasterKeyFile = "master.key"

// MasterKeySize is the length of a master key in bytes (an AES-256 key).
const MasterKeySize = 32

// masterKeyType is the PEM block type of a master key file.
const masterKeyType = "RISKLEDGER MASTER KEY"

// LoadEd25519 reads an Ed25519 private key from a PEM (PKCS #8) file. A
// missing file is a NotFound error; a file that holds something else is Invalid.
func LoadEd25519(path string) (ed25519.PrivateKey, error) {
	return loadPKCS8[ed25519.PrivateKey](path, "an Ed25519 key")
}

// loadPKCS8 reads a private key of type T from a PEM (PKCS #8) file.
func loadPKCS8[T any](path, what string) (T, error) {
	var zero T
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return zero, domain.Errorf(domain.NotFound, "key file %s does not exist; create it with `riskledger keys init %s`", path, filepath.Dir(path))
	}
	if err != nil {
		return zero, domain.Errorf(domain.Unavailable, "cannot read key file %s: %v", path, err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return zero, domain.Errorf(domain.Invalid, "key file %s is not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return zero, domain.Errorf(domain.Invalid, "key file %s: %v", path, err)
	}
	tk, ok := k.(T)
	if !ok {
		return zero, domain.Errorf(domain.Invalid, "key file %s holds a %T, not %s", path, k, what)
	}
	return tk, nil
}

// createPKCS8 writes key to a new file at path as PEM (PKCS #8).
func createPKCS8(path string, key any) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	return writeNew(path, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// CreateEd25519 writes a new Ed25519 key to path (mode 0600), refusing to
// replace an existing file: that is a Conflict error.
func CreateEd25519(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	if err := createPKCS8(path, priv); err != nil {
		return nil, err
	}
	return priv, nil
}

// LoadOrCreateEd25519 loads the key at path, creating it first if missing.
func LoadOrCreateEd25519(path string) (ed25519.PrivateKey, error) {
	k, err := LoadEd25519(path)
	if domain.ErrorCode(err) == domain.NotFound {
		return CreateEd25519(path)
	}
	return k, err
}

// IssuerKeyFile is the file name of the key that signs codes: ECDSA on
// P-256 (COSE ES256), as the EU DCC signs.
const IssuerKeyFile = "issuer.key"

// LoadIssuerKey reads an ECDSA P-256 private key from a PEM (PKCS #8)
// file, with the errors of LoadEd25519.
func LoadIssuerKey(path string) (*ecdsa.PrivateKey, error) {
	k, err := loadPKCS8[*ecdsa.PrivateKey](path, "an ECDSA key")
	if err == nil && k.Curve != elliptic.P256() {
		return nil, domain.Errorf(domain.Invalid, "key file %s holds an ECDSA key on %s, not P-256", path, k.Curve.Params().Name)
	}
	return k, err
}

// CreateIssuerKey writes a new ECDSA P-256 key to path (mode 0600),
// refusing to replace an existing file (a Conflict error).
func CreateIssuerKey(path string) (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	if err := createPKCS8(path, k); err != nil {
		return nil, err
	}
	return k, nil
}

// LoadOrCreateIssuerKey loads the issuer key at path, creating it first if
// missing.
func LoadOrCreateIssuerKey(path string) (*ecdsa.PrivateKey, error) {
	k, err := LoadIssuerKey(path)
	if domain.ErrorCode(err) == domain.NotFound {
		return CreateIssuerKey(path)
	}
	return k, err
}

// LoadMasterKey reads the master key from a PEM file (block type
// "RISKLEDGER MASTER KEY", 32 bytes). A missing file is a NotFound error; a
// file that holds something else is Invalid; an unreadable one Unavailable.
func LoadMasterKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, domain.Errorf(domain.NotFound, "master key file %s does not exist; create it with `riskledger keys init %s`", path, filepath.Dir(path))
	}
	if err != nil {
		return nil, domain.Errorf(domain.Unavailable, "cannot read master key file %s: %v", path, err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != masterKeyType {
		return nil, domain.Errorf(domain.Invalid, "key file %s is not a riskledger master key (a PEM block %q)", path, masterKeyType)
	}
	if len(block.Bytes) != MasterKeySize {
		return nil, domain.Errorf(domain.Invalid, "master key file %s holds %d bytes, not %d", path, len(block.Bytes), MasterKeySize)
	}
	return block.Bytes, nil
}

// CreateMasterKey writes a new random master key to path (mode 0600). An
// existing file is never replaced, since the personal data sealed under it
// would become unreadable: that is a Conflict error.
func CreateMasterKey(path string) ([]byte, error) {
	k := make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate master key: %w", err)
	}
	if err := writeNew(path, &pem.Block{Type: masterKeyType, Bytes: k}); err != nil {
		return nil, err
	}
	return k, nil
}

// LoadOrCreateMasterKey loads the master key at path, creating it first if
// missing. It returns the errors of LoadMasterKey and CreateMasterKey.
func LoadOrCreateMasterKey(path string) ([]byte, error) {
	k, err := LoadMasterKey(path)
	if domain.ErrorCode(err) == domain.NotFound {
		return CreateMasterKey(path)
	}
	return k, err
}

// writeNew writes block to a new file at path (mode 0600, its directory
// 0700), synced before it returns. An existing file is a Conflict error.
func writeNew(path string, block *pem.Block) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return domain.Errorf(domain.Unavailable, "cannot create key directory: %v", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return domain.Errorf(domain.Conflict, "key file %s already exists; keys are never overwritten", path)
	}
	if err != nil {
		return domain.Errorf(domain.Unavailable, "cannot create key file %s: %v", path, err)
	}
	if err := pem.Encode(f, block); err != nil {
		f.Close()
		return fmt.Errorf("write key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close key %s: %w", path, err)
	}
	return nil
}
