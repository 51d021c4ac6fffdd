// Package sqlitedb holds what the SQLite stores share: telling a file that
// is not SQLite from a damaged store, opening a database/sql handle with
// the shared pragmas, and checking or creating the layout of one kind of
// riskledger file.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	"modernc.org/sqlite" // also the "sqlite" database/sql driver

	"github.com/riskledger/riskledger/domain"
)

// File describes one kind of riskledger SQLite file.
type File struct {
	// What names the file's kind in error messages: "ledger", "key store".
	What string
	// ApplicationID marks a file as this kind (PRAGMA application_id).
	ApplicationID int
	// Version is the file's layout version (PRAGMA user_version).
	Version int
	// Schema creates the tables of a new file.
	Schema string
	// Upgrades[v-1] changes a file of layout v into layout v+1, in the
	// transaction that also marks it so; there is one for every layout
	// before Version, or older files are refused.
	Upgrades []string
}

// Options tunes a handle opened by File.Open.
type Options struct {
	// Synchronous is SQLite's synchronous setting: FULL or NORMAL.
	Synchronous string
	// Conns is how many connections the handle keeps open, at most.
	Conns int
	// ReadOnly makes every connection query_only; otherwise write
	// transactions take the file's write lock when they begin.
	ReadOnly bool
	// Pragmas are further settings for every connection, such as
	// "cache_size(-65536)", applied after the shared ones.
	Pragmas []string
}

// CheckHeader rejects an existing file at path that is not an SQLite
// database before the driver touches it (and, in WAL mode, writes beside
// it), so that such a file is told apart from a damaged one. A missing or
// empty file passes. A file that is not SQLite is an Invalid error; one
// that cannot be opened is Unavailable.
func (f File) CheckHeader(path string) error {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return domain.Errorf(domain.Unavailable, "cannot open %s file %s: %v", f.What, path, err)
	}
	defer fh.Close()
	var hdr [16]byte
	n, _ := fh.Read(hdr[:])
	if n == 0 {
		return nil // an empty file becomes a new one
	}
	if string(hdr[:n]) != "SQLite format 3\x00" {
		return domain.Errorf(domain.Invalid, "%s is not a riskledger %s: it is not an SQLite database", path, f.What)
	}
	return nil
}

// Open opens the file at path in WAL mode with a 30-second busy timeout and
// the settings of opts, and checks that it can be read. A file the driver
// cannot use is an Invalid error.
func (f File) Open(path string, opts Options) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	if opts.ReadOnly && syscall.Access(filepath.Dir(path), 2 /* W_OK */) != nil {
		// A directory nobody can write to (a read-only mount): SQLite
		// cannot make the WAL's shared-memory file, but no writer can
		// change the file either, so it is read as immutable, unless its
		// WAL still holds transactions the file does not.
		if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 0 {
			return nil, domain.Errorf(domain.Unavailable, "%s is on a read-only file system and its write-ahead log holds transactions not yet in the file: mount it writable to read it", path)
		}
		q.Set("immutable", "1")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	q.Add("_pragma", "synchronous("+opts.Synchronous+")")
	for _, p := range opts.Pragmas {
		q.Add("_pragma", p)
	}
	if opts.ReadOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(opts.Conns)
	db.SetMaxIdleConns(opts.Conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, domain.Errorf(domain.Invalid, "%s is not a usable riskledger %s: %v", path, f.What, err)
	}
	return db, nil
}

// Migrate checks that db, the file at path, is of this kind and creates
// the schema in a new file. A file that cannot be read, was written by a
// newer riskledger, or belongs to another application is an Invalid error;
// a failure to create the schema is returned with context.
func (f File) Migrate(ctx context.Context, db *sql.DB, path string) error {
	var appID, version, tables int
	err := db.QueryRowContext(ctx, `SELECT (SELECT application_id FROM pragma_application_id),
		(SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)`).Scan(&appID, &version, &tables)
	if err != nil {
		return domain.Errorf(domain.Invalid, "%s is not a usable riskledger %s: %v", path, f.What, err)
	}
	switch {
	case appID == f.ApplicationID && version == f.Version:
		return nil
	case appID == f.ApplicationID && version > f.Version:
		return domain.Errorf(domain.Invalid, "%s was written by a newer riskledger (layout %d; this one reads %d)", path, version, f.Version)
	case appID == f.ApplicationID && version > 0:
		return f.upgrade(ctx, db, path, version)
	case appID != 0 || tables > 0:
		return domain.Errorf(domain.Invalid, "%s is an SQLite database of another application, not a riskledger %s", path, f.What)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create %s: %w", f.What, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, f.Schema); err != nil {
		return fmt.Errorf("create %s schema: %w", f.What, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", f.ApplicationID, f.Version)); err != nil {
		return fmt.Errorf("mark %s: %w", f.What, err)
	}
	return tx.Commit()
}

// upgrade brings a file of an older layout to f.Version in one
// transaction: a failed upgrade leaves the file as it was.
func (f File) upgrade(ctx context.Context, db *sql.DB, path string, version int) error {
	if len(f.Upgrades) < f.Version-1 {
		return domain.Errorf(domain.Invalid, "%s has layout %d, which this riskledger cannot upgrade to layout %d", path, version, f.Version)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("upgrade %s: %w", f.What, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for v := version; v < f.Version; v++ {
		if _, err := tx.ExecContext(ctx, f.Upgrades[v-1]); err != nil {
			var e *sqlite.Error
			if errors.As(err, &e) && e.Code()&0xff == codeReadOnly {
				return domain.Errorf(domain.Unavailable,
					"%s has layout %d, which a command that only reads cannot upgrade to layout %d: run riskledger serve, or an import, once", path, v, v+1)
			}
			return fmt.Errorf("upgrade %s %s from layout %d: %w", f.What, path, v, Classify(err))
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", f.Version)); err != nil {
		return fmt.Errorf("mark %s: %w", f.What, err)
	}
	return tx.Commit()
}

// SQLite's primary result codes that say the disk, not the caller, is at
// fault (an extended code keeps its primary code in its low byte).
const (
	codeReadOnly = 8
	codeIOErr    = 10
	codeFull     = 13
)

// Classify turns the errors of a write that the disk refused into
// Unavailable errors with a sentence an operator can act on; others come
// back as they are. Nothing of a refused transaction is written.
func Classify(err error) error {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code() & 0xff {
	case codeFull:
		return domain.Errorf(domain.Unavailable, "the disk of the data directory is full: nothing was written; free space, then send it again")
	case codeReadOnly:
		return domain.Errorf(domain.Unavailable, "the data directory is read-only: nothing was written")
	case codeIOErr:
		return domain.Errorf(domain.Unavailable, "the data directory could not be written (an I/O error; is the disk full or failing?): nothing was written")
	}
	return err
}
