package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/riskledger/riskledger/domain"
)

// ReadModel keeps the colour projection's rows (each person's colour now,
// as JSON) and its checkpoint, written together in one transaction, so
// that the rows always reflect exactly the checkpoint's position.
type ReadModel interface {
	// Checkpoint is the ledger position the rows reflect (0: none yet).
	Checkpoint(ctx context.Context) (int64, error)
	// Save writes rows and moves the checkpoint to position, atomically.
	Save(ctx context.Context, position int64, rows []*Row) error
	// Row returns p's row and the checkpoint it reflects, read together
	// (one query: the issuance layer's read), and false when there is no
	// row.
	Row(ctx context.Context, p domain.PersonID) (row []byte, position int64, ok bool, err error)
	// Rows returns every row, in person order.
	Rows(ctx context.Context) ([][]byte, error)
	// Reset empties the rows and the checkpoint (a rebuild).
	Reset(ctx context.Context) error
	Close() error
}

// ProjectionName names the colour projection's checkpoint and lease.
const ProjectionName = "colours"

// SQLiteFile is the embedded read model's file in the data directory.
const SQLiteFile = "projections.db"

type sqliteModel struct {
	db  *sql.DB
	row *sql.Stmt // a person's row and the checkpoint, prepared once
}

// OpenSQLite opens or creates the embedded read model in dir.
func OpenSQLite(ctx context.Context, dir string) (ReadModel, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, domain.Errorf(domain.Unavailable, "cannot create data directory %s: %v", dir, err)
	}
	path := filepath.Join(dir, SQLiteFile)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, fmt.Errorf("open read model %s: %w", path, err)
	}
	// Readers in WAL mode read side by side; a writer waits out the
	// busy timeout for another.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS colours (person_id TEXT PRIMARY KEY, row TEXT NOT NULL);
		CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("create read model tables in %s: %w", path, err)
	}
	row, err := db.PrepareContext(ctx, `SELECT row, (SELECT position FROM checkpoints WHERE name = ?) FROM colours WHERE person_id = ?`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("prepare the read model's row query: %w", err)
	}
	return &sqliteModel{db: db, row: row}, nil
}

func (m *sqliteModel) Checkpoint(ctx context.Context) (int64, error) {
	var pos int64
	err := m.db.QueryRowContext(ctx, `SELECT position FROM checkpoints WHERE name = ?`, ProjectionName).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return pos, err
}

func (m *sqliteModel) Save(ctx context.Context, position int64, rows []*Row) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO colours (person_id, row) VALUES (?, ?) ON CONFLICT (person_id) DO UPDATE SET row = excluded.row`)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r.PersonID.String(), string(r.json)); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position`,
		ProjectionName, position); err != nil {
		return err
	}
	return tx.Commit()
}

func (m *sqliteModel) Row(ctx context.Context, p domain.PersonID) ([]byte, int64, bool, error) {
	var row string
	var pos sql.NullInt64
	err := m.row.QueryRowContext(ctx, ProjectionName, p.String()).Scan(&row, &pos)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, false, nil
	}
	return []byte(row), pos.Int64, err == nil, err
}

func (m *sqliteModel) Rows(ctx context.Context) ([][]byte, error) {
	rs, err := m.db.QueryContext(ctx, `SELECT row FROM colours ORDER BY person_id`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out [][]byte
	for rs.Next() {
		var row string
		if err := rs.Scan(&row); err != nil {
			return nil, err
		}
		out = append(out, []byte(row))
	}
	return out, rs.Err()
}

func (m *sqliteModel) Reset(ctx context.Context) error {
	_, err := m.db.ExecContext(ctx, `DELETE FROM colours; DELETE FROM checkpoints`)
	return err
}

func (m *sqliteModel) Close() error { return errors.Join(m.row.Close(), m.db.Close()) }

// PostgresModel is the read model in a schema of PostgreSQL. Its writes go through one connection, which is
// also the one that holds the projection's lease: a worker that lost its
// connection lost its lease and can write nothing more.
type PostgresModel struct {
	schema string // quoted
	pool   *pgxpool.Pool
	mu     sync.Mutex
	conn   *pgxpool.Conn
}

var _ ReadModel = (*PostgresModel)(nil)

// PostgresSchema is the read model's schema unless told otherwise.
const PostgresSchema = "riskledger_projections"

// OpenPostgres opens the read model in schema (PostgresSchema when empty)
// of the database at url, creating its tables when missing.
func OpenPostgres(ctx context.Context, url, schema string) (*PostgresModel, error) {
	if schema == "" {
		schema = PostgresSchema
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, domain.Errorf(domain.Invalid, "database URL: %v", err)
	}
	m := &PostgresModel{pool: pool, schema: pgx.Identifier{schema}.Sanitize()}
	// Workers starting together would race on CREATE ... IF NOT EXISTS:
	// one creates the tables while the others wait on a lock.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLockKey)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, m.q(`CREATE SCHEMA IF NOT EXISTS @;
			CREATE TABLE IF NOT EXISTS @.colours (person_id text PRIMARY KEY, row text NOT NULL);
			CREATE TABLE IF NOT EXISTS @.checkpoints (name text PRIMARY KEY, position bigint NOT NULL)`))
		return err
	})
	if err != nil {
		pool.Close()
		return nil, domain.Errorf(domain.Unavailable, "create the read model's tables: %v", err)
	}
	if m.conn, err = pool.Acquire(ctx); err != nil {
		pool.Close()
		return nil, domain.Errorf(domain.Unavailable, "connect to the read model: %v", err)
	}
	return m, nil
}

// schemaLockKey serialises the creation of the read model's tables.
const schemaLockKey = 0x7269736b_73636831 // "risksch1"

// leaseKey is the advisory lock key of the colour projection's lease.
const leaseKey = 0x7269736b_636f6c73 // "riskcols"

// Lease blocks until this process owns the colour projection, polling
// every poll, or until ctx ends. Ownership is a session advisory lock on
// the model's write connection: it ends when the process or its
// connection dies, and another worker then takes over at its next poll.
func (m *PostgresModel) Lease(ctx context.Context, poll time.Duration) error {
	for {
		m.mu.Lock()
		var ok bool
		err := m.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(leaseKey)).Scan(&ok)
		m.mu.Unlock()
		if err != nil {
			return fmt.Errorf("take the projection lease: %w", err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// q puts the model's schema in a statement's @ places.
func (m *PostgresModel) q(stmt string) string { return strings.ReplaceAll(stmt, "@", m.schema) }

func (m *PostgresModel) Checkpoint(ctx context.Context) (int64, error) {
	var pos int64
	err := m.pool.QueryRow(ctx, m.q(`SELECT position FROM @.checkpoints WHERE name = $1`), ProjectionName).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return pos, err
}

func (m *PostgresModel) Save(ctx context.Context, position int64, rows []*Row) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx, err := m.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	ids := make([]string, len(rows))
	docs := make([]string, len(rows))
	for i, r := range rows {
		ids[i], docs[i] = r.PersonID.String(), string(r.json)
	}
	if len(rows) > 0 {
		if _, err := tx.Exec(ctx, m.q(`INSERT INTO @.colours (person_id, row)
			SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (person_id) DO UPDATE SET row = excluded.row`), ids, docs); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, m.q(`INSERT INTO @.checkpoints (name, position) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position`), ProjectionName, position); err != nil {
		return err
	}
	// The nodes that cache rows learn, when this commits, which changed.
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, ChangedRowsChannel, changedRows(m.schema, ids)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// ChangedRowsChannel is the PostgreSQL notification channel on which each
// save of the read model says whose rows it wrote (changedRows).
const ChangedRowsChannel = "riskledger_colour_rows"

// maxNotifiedRows is how many persons a notification names; a save of
// more says "all" (a notification's payload holds under 8,000 bytes).
const maxNotifiedRows = 150

// rowsChanged is a notification's payload: the model's schema, and the
// persons whose rows changed, or All.
type rowsChanged struct {
	Schema  string   `json:"schema"`
	All     bool     `json:"all,omitempty"`
	Persons []string `json:"persons,omitempty"`
}

func changedRows(schema string, ids []string) string {
	n := rowsChanged{Schema: schema, Persons: ids}
	if len(ids) > maxNotifiedRows {
		n.All, n.Persons = true, nil
	}
	b, _ := json.Marshal(n)
	return string(b)
}

func (m *PostgresModel) Row(ctx context.Context, p domain.PersonID) ([]byte, int64, bool, error) {
	var row string
	var pos *int64
	err := m.pool.QueryRow(ctx, m.q(`SELECT row, (SELECT position FROM @.checkpoints WHERE name = $2) FROM @.colours WHERE person_id = $1`),
		p.String(), ProjectionName).Scan(&row, &pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, false, nil
	}
	if pos == nil {
		pos = new(int64)
	}
	return []byte(row), *pos, err == nil, err
}

func (m *PostgresModel) Rows(ctx context.Context) ([][]byte, error) {
	rs, err := m.pool.Query(ctx, m.q(`SELECT row FROM @.colours ORDER BY person_id`))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rs, func(r pgx.CollectableRow) ([]byte, error) {
		var s string
		err := r.Scan(&s)
		return []byte(s), err
	})
}

func (m *PostgresModel) Reset(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.conn.Exec(ctx, m.q(`DELETE FROM @.colours; DELETE FROM @.checkpoints`))
	return err
}

func (m *PostgresModel) Close() error {
	m.conn.Release()
	m.pool.Close()
	return nil
}
