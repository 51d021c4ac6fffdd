// Package pgtest points tests at a PostgreSQL server. Tests that need one
// call URL or NewSchema; when the server cannot be reached they are skipped
// with a message that says how to provide one, or fail when
// RISKLEDGER_REQUIRE_POSTGRES=1 (as in CI, where nothing may be skipped).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by the helpers.
const (
	// EnvURL names the test database. Tests create and drop schemas named
	// rl_test_* in it and touch nothing else.
	EnvURL = "RISKLEDGER_TEST_DATABASE_URL"
	// EnvRequire, set to 1, turns an unreachable database into a failure.
	EnvRequire = "RISKLEDGER_REQUIRE_POSTGRES"
)

// DefaultURL is the test database used when EnvURL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ConfiguredURL returns the test database URL without checking it: for a
// test's child process, which has no *testing.T to skip.
func ConfiguredURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// URL returns the test database URL once a connection to it succeeds. When
// none does, it skips t, or fails it if EnvRequire is 1.
func URL(t testing.TB) string {
	t.Helper()
	u := ConfiguredURL()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	if err != nil {
		msg := "PostgreSQL is not reachable at " + redact(u) + " (" + err.Error() + "); set " + EnvURL +
			" to the URL of a database where tests may create and drop rl_test_* schemas, e.g. " +
			EnvURL + "='postgres://user:password@localhost:5432/test?sslmode=disable'"
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 requires PostgreSQL: %s", EnvRequire, msg)
		}
		t.Skipf("%s (set %s=1 to fail instead of skipping)", msg, EnvRequire)
	}
	return u
}

// NewSchema creates an empty schema with a random name rl_test_<hex> in the
// test database and drops it, with everything in it, when t ends. It skips
// or fails t as URL does.
func NewSchema(t testing.TB) (dbURL, schema string) {
	t.Helper()
	dbURL = URL(t)
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	schema = "rl_test_" + hex.EncodeToString(b[:])
	exec(t, dbURL, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() { exec(t, dbURL, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE") })
	return dbURL, schema
}

// NewDatabase creates an empty database with a random name rl_test_<hex>
// on the test server and drops it when t ends, and returns its URL: for a
// program under test that keeps its tables in the database's public
// schema. It skips or fails t as URL does.
func NewDatabase(t testing.TB) string {
	t.Helper()
	dbURL := URL(t)
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	name := "rl_test_" + hex.EncodeToString(b[:])
	exec(t, dbURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() { exec(t, dbURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)") })
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse test database URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Connect opens a plain connection to the test database whose search_path
// is schema, for reading or altering tables behind a store's back. It is
// closed when t ends.
func Connect(t testing.TB, dbURL, schema string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("parse test database URL: %v", err)
	}
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t testing.TB, dbURL, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// redact hides a password in u, or all of u when it does not parse.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "the configured URL"
	}
	return p.Redacted()
}
