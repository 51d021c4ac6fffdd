package postgres

import (
	"embed"

	"github.com/riskledger/riskledger/internal/postgresdb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations build the ledger's schema; those applied are recorded in
// schema_migrations.
var migrations = postgresdb.Migrations{
	Files:   migrationFiles,
	Dir:     "migrations",
	Table:   "schema_migrations",
	LockKey: "riskledger.migrate:",
}
