package postgres

import (
	"embed"

	"github.com/riskledger/riskledger/internal/postgresdb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations build the key store's schema. Those applied are recorded in
// vault_migrations, not the ledger's schema_migrations, so that a key store
// put in the ledger's schema by mistake is not taken for migrated.
var migrations = postgresdb.Migrations{
	Files:   migrationFiles,
	Dir:     "migrations",
	Table:   "vault_migrations",
	LockKey: "riskledger.vault.migrate:",
	Store:   "key store",
}
