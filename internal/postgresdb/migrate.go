package postgresdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/riskledger/riskledger/domain"
)

// Migrations says what a store's schema is built from and where the
// migrations applied to it are recorded.
type Migrations struct {
	// Files holds the migrations as *.sql files in the directory Dir
	// ("." for its root), each named after its positive version number
	// (0001_name.sql) and applied in that order.
	Files fs.FS
	Dir   string
	// Table records the migrations applied to the schema. Stores that
	// may share a schema by mistake need tables of different names, so
	// that one is not taken for the other migrated.
	Table string
	// LockKey, followed by the schema name, keys the advisory lock that
	// makes processes migrating one schema take turns.
	LockKey string
	// Store names the store in error messages ("key store"); empty for the
	// ledger itself.
	Store string
}

// migration is one numbered file of Migrations.Files, applied once per schema.
type migration struct {
	version int
	name    string
	sql     string
}

func (m Migrations) load() ([]migration, error) {
	paths, err := fs.Glob(m.Files, path.Join(m.Dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, p := range paths {
		name := path.Base(p)
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s does not start with a positive number", name)
		}
		b, err := fs.ReadFile(m.Files, p)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrate creates schema if missing and applies the migrations of m it
// lacks, each in its own transaction. A session advisory lock, keyed by
// schema, makes processes starting together take turns instead of racing
// to create the same tables.
//
// A schema migrated by a newer riskledger, or one that already holds tables
// the migrations would create, is an Invalid error; database errors are
// those of Error, with context.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, m Migrations) error {
	all, err := m.load()
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", Error(err))
	}
	defer conn.Release()
	key := m.LockKey + schema
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, key); err != nil {
		return fmt.Errorf("lock migrations: %w", Error(err))
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, key); err != nil {
			// The lock lives as long as the session: end the session rather
			// than hand a locked connection back to the pool.
			_ = conn.Conn().Close(uctx)
		}
	}()

	// Creating only a missing schema lets a role that owns its schema, but
	// may not create schemas in the database, open the store.
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
		return fmt.Errorf("look up schema %s: %w", schema, Error(err))
	}
	if !exists {
		if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("create schema %s: %w", schema, Error(err))
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+m.Table+` (
		version    int PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("create %s: %w", m.Table, Error(err))
	}
	rows, err := conn.Query(ctx, `SELECT version FROM `+m.Table)
	if err != nil {
		return fmt.Errorf("read %s: %w", m.Table, Error(err))
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("read %s: %w", m.Table, Error(err))
	}
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		done[v] = true
		if v > all[len(all)-1].version {
			return m.newer(schema, v, all[len(all)-1].version)
		}
	}
	for _, mig := range all {
		if done[mig.version] {
			continue
		}
		if err := m.apply(ctx, conn.Conn(), schema, mig); err != nil {
			return err
		}
	}
	return nil
}

func (m Migrations) apply(ctx context.Context, conn *pgx.Conn, schema string, mig migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migration %s: %w", mig.name, Error(err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// The simple protocol runs a file of several statements in one call.
	if _, err := tx.Exec(ctx, mig.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P07" { // duplicate_table
			return m.foreignTables(schema, pgErr.Message)
		}
		return fmt.Errorf("migration %s: %w", mig.name, Error(err))
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+m.Table+` (version, name) VALUES ($1, $2)`, mig.version, mig.name); err != nil {
		return fmt.Errorf("record migration %s: %w", mig.name, Error(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit migration %s: %w", mig.name, Error(err))
	}
	return nil
}

// newer is the Invalid error for a schema that records migration applied,
// beyond known, the last that m holds.
func (m Migrations) newer(schema string, applied, known int) error {
	noun := "schema"
	if m.Store != "" {
		noun = m.Store + " schema"
	}
	return domain.Errorf(domain.Invalid,
		"%s %s was migrated by a newer riskledger (migration %d; this one knows up to %d); upgrade riskledger",
		noun, schema, applied, known)
}

// foreignTables is the Invalid error for a schema that already holds a
// table m would create; detail is the server's message.
func (m Migrations) foreignTables(schema, detail string) error {
	creator, owner := "riskledger", "riskledger"
	if m.Store != "" {
		creator, owner = "riskledger's "+m.Store, "the "+m.Store
	}
	return domain.Errorf(domain.Invalid,
		"schema %s already holds tables that %s did not create (%s); give %s a schema of its own",
		schema, creator, detail, owner)
}
