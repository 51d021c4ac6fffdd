// Package postgresdb holds what the PostgreSQL stores share: opening a
// connection pool confined to one schema, applying a store's embedded
// migrations under an advisory lock, and giving driver errors the domain
// code a caller can act on.
package postgresdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/riskledger/riskledger/domain"
)

// MaxIdentifier is PostgreSQL's identifier length limit (NAMEDATALEN-1);
// longer names are silently truncated, which would merge distinct schemas.
const MaxIdentifier = 63

// SchemaProblems lists what makes schema unusable as a schema name, each
// as a sentence for an Invalid error; it returns nil for a usable name.
func SchemaProblems(schema string) []string {
	var problems []string
	if len(schema) > MaxIdentifier {
		problems = append(problems, fmt.Sprintf("schema name %q is %d bytes long; PostgreSQL allows at most %d", schema, len(schema), MaxIdentifier))
	}
	if strings.ContainsRune(schema, 0) {
		problems = append(problems, "schema name contains a NUL byte")
	}
	return problems
}

// ParseConfig parses the connection string url into a pool configuration
// whose connections use schema as their search_path, and are named
// "riskledger" (application_name) unless url names them. A malformed url
// is an Invalid error whose message does not quote it (it may hold a
// password).
func ParseConfig(url, schema string) (*pgxpool.Config, error) {
	poolCfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parser's message quotes the URL, password and all.
		return nil, domain.Errorf(domain.Invalid, "the database URL is not a valid PostgreSQL connection string; "+
			"use postgres://user:password@host:5432/database?sslmode=disable")
	}
	params := poolCfg.ConnConfig.RuntimeParams
	params["search_path"] = pgx.Identifier{schema}.Sanitize()
	if params["application_name"] == "" {
		params["application_name"] = "riskledger"
	}
	return poolCfg, nil
}

// NewPool opens a connection pool with cfg. Its errors are those of Error,
// after "open database pool: ".
func NewPool(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", Error(err))
	}
	return pool, nil
}
