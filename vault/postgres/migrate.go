package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/riskledger/riskledger/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationsTable records the migrations applied to the key store's schema.
// It is not the ledger's schema_migrations, so that a key store put in the
// ledger's schema by mistake is not taken for migrated.
const migrationsTable = "vault_migrations"

// migration is one numbered file of migrations/, applied once per schema.
type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, path := range names {
		name := strings.TrimPrefix(path, "migrations/")
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s does not start with a positive number", name)
		}
		b, err := migrationFiles.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrate creates schema if missing and applies the migrations it lacks,
// each in its own transaction. A session advisory lock, keyed by schema,
// makes processes starting together take turns instead of racing to
// create the same tables.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	all, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", dbError(err))
	}
	defer conn.Release()
	key := "riskledger.vault.migrate:" + schema
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, key); err != nil {
		return fmt.Errorf("lock migrations: %w", dbError(err))
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
	// may not create schemas in the database, open the key store.
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
		return fmt.Errorf("look up schema %s: %w", schema, dbError(err))
	}
	if !exists {
		if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("create schema %s: %w", schema, dbError(err))
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+migrationsTable+` (
		version    int PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("create %s: %w", migrationsTable, dbError(err))
	}
	rows, err := conn.Query(ctx, `SELECT version FROM `+migrationsTable)
	if err != nil {
		return fmt.Errorf("read %s: %w", migrationsTable, dbError(err))
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("read %s: %w", migrationsTable, dbError(err))
	}
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		done[v] = true
		if v > all[len(all)-1].version {
			return domain.Errorf(domain.Invalid,
				"key store schema %s was migrated by a newer riskledger (migration %d; this one knows up to %d); upgrade riskledger",
				schema, v, all[len(all)-1].version)
		}
	}
	for _, m := range all {
		if done[m.version] {
			continue
		}
		if err := apply(ctx, conn.Conn(), schema, m); err != nil {
			return err
		}
	}
	return nil
}

func apply(ctx context.Context, conn *pgx.Conn, schema string, m migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.name, dbError(err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// The simple protocol runs a file of several statements in one call.
	if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P07" { // duplicate_table
			return domain.Errorf(domain.Invalid,
				"schema %s already holds tables that riskledger's key store did not create (%s); give the key store a schema of its own",
				schema, pgErr.Message)
		}
		return fmt.Errorf("migration %s: %w", m.name, dbError(err))
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+migrationsTable+` (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
		return fmt.Errorf("record migration %s: %w", m.name, dbError(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit migration %s: %w", m.name, dbError(err))
	}
	return nil
}
