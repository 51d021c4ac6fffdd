package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/internal/pgtest"
	"github.com/riskledger/riskledger/vault"
	"github.com/riskledger/riskledger/vault/postgres"
	"github.com/riskledger/riskledger/vault/vaulttest"
)

func open(t *testing.T, cfg postgres.Config) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open key store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	vaulttest.Run(t, func(t *testing.T) vaulttest.Backend {
		dbURL, schema := pgtest.NewSchema(t)
		return func(t *testing.T) vault.KeyStore {
			return open(t, postgres.Config{URL: dbURL, Schema: schema})
		}
	})
}

// TestOwnSchema opens the key store, from several processes at once, in a
// schema that does not exist yet, named after a ledger's as the caller
// would, and checks that its tables are there and nowhere else.
func TestOwnSchema(t *testing.T) {
	ctx := context.Background()
	dbURL, ledgerSchema := pgtest.NewSchema(t)
	schema := ledgerSchema + "_vault"
	conn := pgtest.Connect(t, dbURL, ledgerSchema)
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := postgres.Open(ctx, postgres.Config{URL: dbURL, Schema: schema})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
	}

	s := open(t, postgres.Config{URL: dbURL, Schema: schema})
	v := vaulttest.NewVault(t, s, vaulttest.NewMasterKey(t))
	p := uuid.New()
	if _, err := v.Seal(ctx, p, "name", []byte("Ma Jun")); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, "person_keys"}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d rows in %s.person_keys, want 1", n, schema)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'person_keys' AND schemaname <> $1`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("person_keys exists in %d other schemas", n)
	}

	if err := v.Erase(ctx, p); err != nil {
		t.Fatal(err)
	}
	var wrapped []byte
	var version *int
	if err := conn.QueryRow(ctx, `SELECT wrapped, master_version FROM `+pgx.Identifier{schema, "person_keys"}.Sanitize()+` WHERE person_id = $1`, p).
		Scan(&wrapped, &version); err != nil {
		t.Fatal(err)
	}
	if wrapped != nil || version != nil {
		t.Fatalf("the erased person's row still holds a key: %x (version %v)", wrapped, version)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, cfg := range map[string]postgres.Config{
		"no URL":            {Schema: "x_vault"},
		"no schema":         {URL: "postgres://localhost/test"},
		"a long schema":     {URL: "postgres://localhost/test", Schema: string(make([]byte, 64))},
		"a malformed URL":   {URL: "postgres://[::1", Schema: "x_vault"},
		"a schema with NUL": {URL: "postgres://localhost/test", Schema: "a\x00b"},
	} {
		if _, err := postgres.Open(context.Background(), cfg); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}

func TestRefusesTheLedgerSchemaTables(t *testing.T) {
	ctx := context.Background()
	dbURL, schema := pgtest.NewSchema(t)
	conn := pgtest.Connect(t, dbURL, schema)
	if _, err := conn.Exec(ctx, `CREATE TABLE person_keys (x int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, postgres.Config{URL: dbURL, Schema: schema}); domain.ErrorCode(err) != domain.Invalid {
		t.Fatalf("a schema holding another person_keys: %v, want invalid", err)
	}
}
