// Package sqlite is the embedded vault's key store: a SQLite file of its
// own, vault.db in the data directory, beside the ledger's file and never
// inside it, so that destroying a key does not touch the ledger.
//
// Erasure must leave nothing of the key on disk. secure_delete overwrites
// deleted content with zeros, and after each erasure a TRUNCATE checkpoint
// copies the zeroed pages into the file and empties the write-ahead log,
// which still holds the key's earlier page images.
//
// Durability: WAL journal with synchronous=FULL: a key is on disk before
// the value sealed under it can reach the ledger.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/internal/sqlitedb"
	"github.com/riskledger/riskledger/vault"
)

// FileName is the key store's file inside the data directory.
const FileName = "vault.db"

// applicationID marks a SQLite file as a riskledger key store ("RLVT").
const applicationID = 0x524c5654

// schemaVersion is the file's layout version (PRAGMA user_version).
const schemaVersion = 1

const schema = `
CREATE TABLE master_keys (
	version     INTEGER PRIMARY KEY,
	fingerprint BLOB NOT NULL,
	created_at  INTEGER NOT NULL -- microseconds since 1970, UTC
);
-- One row per person: a wrapped data key, or, once erased, a tombstone
-- (no key, erased_at set).
CREATE TABLE person_keys (
	person_id      BLOB PRIMARY KEY CHECK (length(person_id) = 16),
	master_version INTEGER,
	wrapped        BLOB,
	created_at     INTEGER NOT NULL,
	erased_at      INTEGER,
	CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL)),
	CHECK ((master_version IS NULL) = (wrapped IS NULL))
) WITHOUT ROWID;
`

// Config says where the key store lives.
type Config struct {
	// Dir is the data directory; it is created if missing.
	Dir string
	// Now is the clock that dates keys and erasures; time.Now when nil.
	Now func() time.Time
	// ReadOnly opens the key store for reading only, beside a process that
	// may be writing it: keys open, but creating a key or erasing one is a
	// Forbidden error.
	ReadOnly bool
}

// Store is the embedded key store. It is safe for concurrent use, and
// several processes may open one file (SQLite's own locks order them).
type Store struct {
	writer    *sql.DB // nil when read-only
	reader    *sql.DB
	now       func() time.Time
	closeOnce sync.Once
	closeErr  error
}

var _ vault.KeyStore = (*Store)(nil)

// Open opens or creates the key store in cfg.Dir. A path that is a file, or
// a key store file that is not SQLite or belongs to another application,
// is an Invalid error; a read-only open of a missing key store is NotFound;
// a directory that cannot be created is Unavailable.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if fi, err := os.Stat(cfg.Dir); err == nil && !fi.IsDir() {
		return nil, domain.Errorf(domain.Invalid, "data directory %s is a file; give a directory (it is created if missing)", cfg.Dir)
	}
	path := filepath.Join(cfg.Dir, FileName)
	if cfg.ReadOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, domain.Errorf(domain.NotFound, "there is no key store in %s", cfg.Dir)
		}
	} else if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, domain.Errorf(domain.Unavailable, "cannot create data directory %s: %v", cfg.Dir, err)
	}
	if err := keyStoreFile.CheckHeader(path); err != nil {
		return nil, err
	}
	s := &Store{now: cfg.Now}
	if err := s.open(ctx, path, cfg.ReadOnly); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, path string, readOnly bool) error {
	var err error
	if !readOnly {
		if s.writer, err = openDB(path, 1, false); err != nil {
			return err
		}
		if err := keyStoreFile.Migrate(ctx, s.writer, path); err != nil {
			return err
		}
	}
	if s.reader, err = openDB(path, 4, true); err != nil {
		return err
	}
	if readOnly {
		return keyStoreFile.Migrate(ctx, s.reader, path)
	}
	return nil
}

// keyStoreFile is the key store's kind of SQLite file.
var keyStoreFile = sqlitedb.File{
	What:          "key store",
	ApplicationID: applicationID,
	Version:       schemaVersion,
	Schema:        schema,
}

func openDB(path string, conns int, readOnly bool) (*sql.DB, error) {
	return keyStoreFile.Open(path, sqlitedb.Options{
		Synchronous: "FULL",
		Conns:       conns,
		ReadOnly:    readOnly,
		Pragmas:     []string{"secure_delete(ON)"},
	})
}

// MasterKeyFingerprint implements vault.KeyStore. A read-only store that
// holds no fingerprint for version returns fp unchecked.
func (s *Store) MasterKeyFingerprint(ctx context.Context, version int, fp []byte) ([]byte, error) {
	if s.writer == nil {
		var stored []byte
		err := s.reader.QueryRowContext(ctx, `SELECT fingerprint FROM master_keys WHERE version = ?`, version).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return fp, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read master key fingerprint: %w", err)
		}
		return stored, nil
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record master key fingerprint: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `INSERT INTO master_keys (version, fingerprint, created_at) VALUES (?, ?, ?)
		ON CONFLICT (version) DO NOTHING`, version, fp, s.now().UnixMicro()); err != nil {
		return nil, fmt.Errorf("record master key fingerprint: %w", err)
	}
	var stored []byte
	if err := tx.QueryRowContext(ctx, `SELECT fingerprint FROM master_keys WHERE version = ?`, version).Scan(&stored); err != nil {
		return nil, fmt.Errorf("read master key fingerprint: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record master key fingerprint: %w", err)
	}
	return stored, nil
}

// Key implements vault.KeyStore.
func (s *Store) Key(ctx context.Context, person uuid.UUID) (vault.WrappedKey, error) {
	return readKey(ctx, s.reader, person)
}

// queryRower is a *sql.DB or a *sql.Tx.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readKey(ctx context.Context, q queryRower, person uuid.UUID) (vault.WrappedKey, error) {
	var version sql.NullInt64
	var wrapped []byte
	err := q.QueryRowContext(ctx, `SELECT master_version, wrapped FROM person_keys WHERE person_id = ?`, person[:]).
		Scan(&version, &wrapped)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return vault.WrappedKey{}, vault.ErrNoKey
	case err != nil:
		return vault.WrappedKey{}, fmt.Errorf("read data key: %w", err)
	case wrapped == nil:
		return vault.WrappedKey{}, vault.ErrErased
	}
	return vault.WrappedKey{MasterVersion: int(version.Int64), Wrapped: wrapped}, nil
}

// CreateKey implements vault.KeyStore. A read-only store returns a
// Forbidden error.
func (s *Store) CreateKey(ctx context.Context, person uuid.UUID, k vault.WrappedKey) (vault.WrappedKey, error) {
	return vault.CreateOne(ctx, s, person, k)
}

// CreateKeys implements vault.KeyStore. A read-only store returns a
// Forbidden error.
func (s *Store) CreateKeys(ctx context.Context, keys map[uuid.UUID]vault.WrappedKey) (map[uuid.UUID]vault.WrappedKey, error) {
	out, err := s.createKeys(ctx, keys)
	// A full or read-only disk is the operator's to mend, and says so.
	return out, sqlitedb.Classify(err)
}

func (s *Store) createKeys(ctx context.Context, keys map[uuid.UUID]vault.WrappedKey) (map[uuid.UUID]vault.WrappedKey, error) {
	if s.writer == nil {
		return nil, domain.Errorf(domain.Forbidden, "the key store is open read-only; no data key can be created")
	}
	// The write transaction is IMMEDIATE: it holds the file's write lock
	// from the start, so the keys read back are the ones that stay.
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("create data keys: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	insert, err := tx.PrepareContext(ctx, `INSERT INTO person_keys (person_id, master_version, wrapped, created_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (person_id) DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("create data keys: %w", err)
	}
	defer insert.Close()
	now := s.now().UnixMicro()
	out := make(map[uuid.UUID]vault.WrappedKey, len(keys))
	for person, k := range keys {
		if _, err := insert.ExecContext(ctx, person[:], k.MasterVersion, k.Wrapped, now); err != nil {
			return nil, fmt.Errorf("create data keys: %w", err)
		}
		stored, err := readKey(ctx, tx, person)
		switch {
		case errors.Is(err, vault.ErrErased):
			continue
		case err != nil:
			return nil, err
		}
		out[person] = stored
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create data keys: %w", err)
	}
	return out, nil
}

// Erase implements vault.KeyStore. A read-only store returns a Forbidden
// error.
func (s *Store) Erase(ctx context.Context, person uuid.UUID) error {
	if s.writer == nil {
		return domain.Errorf(domain.Forbidden, "the key store is open read-only; no data key can be erased")
	}
	if err := s.erase(ctx, person); err != nil {
		return sqlitedb.Classify(err)
	}
	// Best effort: a reader still on an older snapshot keeps the log from
	// being emptied now, and the next erasure or Close empties it.
	_, _ = s.writer.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return nil
}

func (s *Store) erase(ctx context.Context, person uuid.UUID) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("erase data key: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	now := s.now().UnixMicro()
	if _, err := tx.ExecContext(ctx, `INSERT INTO person_keys (person_id, created_at, erased_at) VALUES (?, ?, ?)
		ON CONFLICT (person_id) DO UPDATE SET master_version = NULL, wrapped = NULL,
			erased_at = coalesce(person_keys.erased_at, excluded.erased_at)`,
		person[:], now, now); err != nil {
		return fmt.Errorf("erase data key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("erase data key: %w", err)
	}
	return nil
}

// Close empties the write-ahead log into the file and closes it. Calling it
// again returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.reader != nil {
			errs = append(errs, s.reader.Close())
		}
		if s.writer != nil {
			if _, err := s.writer.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				errs = append(errs, fmt.Errorf("checkpoint key store: %w", err))
			}
			errs = append(errs, s.writer.Close())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
