// Package postgres is the vault's key store on PostgreSQL: the table
// person_keys in a schema of its own, apart from the ledger's, so that the
// keys can be destroyed, backed up and granted separately. Every node that
// shares the ledger shares this store, and so sees an erasure at once.
//
// A destroyed key's row version stays in the table's storage until VACUUM
// removes it (the table is set to be vacuumed after any change), and in
// the write-ahead log and backups until they are recycled; what stays is
// wrapped under the master key, which never enters the database.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/internal/postgresdb"
	"github.com/riskledger/riskledger/vault"
)

// Config says where the key store lives.
type Config struct {
	// URL is a PostgreSQL connection string
	// (postgres://user:password@host:5432/database?sslmode=...).
	URL string
	// Schema holds the key store's tables; it is created if missing. It
	// must not be the ledger's (the ledger's name + "_vault" is a good
	// choice), and has no default, so that the caller decides.
	Schema string
	// Now is the clock that dates keys and erasures; time.Now when nil.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem with the configuration as one Invalid error.
func (c *Config) Validate() error {
	var problems []string
	if strings.TrimSpace(c.URL) == "" {
		problems = append(problems, "the database URL is empty; give a postgres:// URL")
	}
	if c.Schema == "" {
		problems = append(problems, "the key store's schema is not named; give it a schema of its own, apart from the ledger's")
	}
	problems = append(problems, postgresdb.SchemaProblems(c.Schema)...)
	if len(problems) > 0 {
		return domain.Errorf(domain.Invalid, "key store: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Store is the key store on PostgreSQL. It is safe for concurrent use; any
// number of Stores, in any number of processes, may share one schema.
type Store struct {
	pool      *pgxpool.Pool
	now       func() time.Time
	closeOnce sync.Once
}

var _ vault.KeyStore = (*Store)(nil)

// Open connects to the database, creates the schema and applies pending
// migrations. A malformed URL or schema name, a database that refuses the
// credentials, or a schema that holds another application's tables is an
// Invalid error; a database that cannot be reached is Unavailable.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	poolCfg, err := postgresdb.ParseConfig(cfg.URL, cfg.Schema)
	if err != nil {
		return nil, err
	}
	params := poolCfg.ConnConfig.RuntimeParams
	params["application_name"] += " vault"
	pool, err := postgresdb.NewPool(ctx, poolCfg)
	if err != nil {
		return nil, err
	}
	if err := postgresdb.Migrate(ctx, pool, cfg.Schema, migrations); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, now: cfg.Now}, nil
}

// MasterKeyFingerprint implements vault.KeyStore.
func (s *Store) MasterKeyFingerprint(ctx context.Context, version int, fp []byte) ([]byte, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("record master key fingerprint: %w", postgresdb.Error(err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, `INSERT INTO master_keys (version, fingerprint, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (version) DO NOTHING`, version, fp, s.now()); err != nil {
		return nil, fmt.Errorf("record master key fingerprint: %w", postgresdb.Error(err))
	}
	// A new statement sees the row of a concurrent insert that won.
	var stored []byte
	if err := tx.QueryRow(ctx, `SELECT fingerprint FROM master_keys WHERE version = $1`, version).Scan(&stored); err != nil {
		return nil, fmt.Errorf("read master key fingerprint: %w", postgresdb.Error(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("record master key fingerprint: %w", postgresdb.Error(err))
	}
	return stored, nil
}

// Key implements vault.KeyStore.
func (s *Store) Key(ctx context.Context, person uuid.UUID) (vault.WrappedKey, error) {
	return readKey(ctx, s.pool, person)
}

// queryRower is a pool or a transaction.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func readKey(ctx context.Context, q queryRower, person uuid.UUID) (vault.WrappedKey, error) {
	var version *int
	var wrapped []byte
	err := q.QueryRow(ctx, `SELECT master_version, wrapped FROM person_keys WHERE person_id = $1`, person).
		Scan(&version, &wrapped)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return vault.WrappedKey{}, vault.ErrNoKey
	case err != nil:
		return vault.WrappedKey{}, fmt.Errorf("read data key: %w", postgresdb.Error(err))
	case wrapped == nil || version == nil:
		return vault.WrappedKey{}, vault.ErrErased
	}
	return vault.WrappedKey{MasterVersion: *version, Wrapped: wrapped}, nil
}

// CreateKey implements vault.KeyStore.
func (s *Store) CreateKey(ctx context.Context, person uuid.UUID, k vault.WrappedKey) (vault.WrappedKey, error) {
	return vault.CreateOne(ctx, s, person, k)
}

// CreateKeys implements vault.KeyStore with one insert and one read.
func (s *Store) CreateKeys(ctx context.Context, keys map[uuid.UUID]vault.WrappedKey) (map[uuid.UUID]vault.WrappedKey, error) {
	persons := make([]uuid.UUID, 0, len(keys))
	versions := make([]int32, 0, len(keys))
	wrapped := make([][]byte, 0, len(keys))
	for p, k := range keys {
		persons = append(persons, p)
		versions = append(versions, int32(k.MasterVersion))
		wrapped = append(wrapped, k.Wrapped)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("create data keys: %w", postgresdb.Error(err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// ON CONFLICT DO NOTHING waits for a concurrent insert of the same
	// person to end; the next statement, with a snapshot of its own, then
	// reads whichever key won, or the tombstone.
	if _, err := tx.Exec(ctx, `INSERT INTO person_keys (person_id, master_version, wrapped, created_at)
		SELECT p, v, w, $4 FROM unnest($1::uuid[], $2::int[], $3::bytea[]) AS k(p, v, w)
		ORDER BY p ON CONFLICT (person_id) DO NOTHING`,
		persons, versions, wrapped, s.now()); err != nil {
		return nil, fmt.Errorf("create data keys: %w", postgresdb.Error(err))
	}
	rows, err := tx.Query(ctx, `SELECT person_id, master_version, wrapped FROM person_keys
		WHERE person_id = ANY($1::uuid[]) AND wrapped IS NOT NULL`, persons)
	if err != nil {
		return nil, fmt.Errorf("create data keys: %w", postgresdb.Error(err))
	}
	out := make(map[uuid.UUID]vault.WrappedKey, len(keys))
	for rows.Next() {
		var p uuid.UUID
		var k vault.WrappedKey
		if err := rows.Scan(&p, &k.MasterVersion, &k.Wrapped); err != nil {
			return nil, fmt.Errorf("create data keys: %w", err)
		}
		out[p] = k
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("create data keys: %w", postgresdb.Error(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("create data keys: %w", postgresdb.Error(err))
	}
	return out, nil
}

// Erase implements vault.KeyStore.
func (s *Store) Erase(ctx context.Context, person uuid.UUID) error {
	now := s.now()
	// One statement, keyed by the person's row: it waits for a concurrent
	// CreateKey of the same person and then overwrites its key, so a key
	// and a tombstone never both stand.
	if _, err := s.pool.Exec(ctx, `INSERT INTO person_keys (person_id, created_at, erased_at) VALUES ($1, $2, $2)
		ON CONFLICT (person_id) DO UPDATE SET master_version = NULL, wrapped = NULL,
			erased_at = coalesce(person_keys.erased_at, excluded.erased_at)`, person, now); err != nil {
		return fmt.Errorf("erase data key: %w", postgresdb.Error(err))
	}
	return nil
}

// Close closes the connection pool. Calling it again returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}
