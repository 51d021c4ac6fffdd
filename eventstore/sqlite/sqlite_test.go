package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/eventstore/storetest"
)

const childEnv = "RISKLEDGER_SQLITE_CRASH_CHILD"

func openAt(ctx context.Context, dir string) (eventstore.Store, error) {
	return sqlite.Open(ctx, sqlite.Config{Dir: dir})
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		storetest.RunChild(openAt, dir)
		return
	}
	os.Exit(m.Run())
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		NewLocation: func(t *testing.T) string { return t.TempDir() },
		Open:        openAt,
		Tamper:      tamper{},
		ChildEnv:    childEnv,
	})
}

// tamper edits the ledger file directly, on a connection of its own.
type tamper struct{}

func (tamper) exec(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("tamper %q: %v", s, err)
		}
	}
}

func (tp tamper) ChangePayloadByte(t *testing.T, dir string, pos int64) {
	tp.exec(t, dir, "UPDATE events SET payload = replace(payload, '\"n\":', '\"m\":') WHERE position = "+itoa(pos))
}

func (tp tamper) DeleteRow(t *testing.T, dir string, pos int64) {
	tp.exec(t, dir, "DELETE FROM events WHERE position = "+itoa(pos))
}

func (tp tamper) SwapRows(t *testing.T, dir string, p, q int64) {
	tp.exec(t, dir,
		"UPDATE events SET position = -1 WHERE position = "+itoa(p),
		"UPDATE events SET position = "+itoa(p)+" WHERE position = "+itoa(q),
		"UPDATE events SET position = "+itoa(q)+" WHERE position = -1")
}

func (tamper) Overwrite(t *testing.T, dir string, evs []eventstore.Event, h eventstore.Head) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, e := range evs {
		if _, err := db.Exec(`UPDATE events SET payload = ?, prev_hash = ?, hash = ? WHERE position = ?`,
			string(e.Payload), e.PrevHash[:], e.Hash[:], e.Position); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`UPDATE head SET position = ?, hash = ? WHERE id = 1`, h.Position, h.Hash[:]); err != nil {
		t.Fatal(err)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestOpenRejectsWhatIsNotALedger(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(file, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbage, sqlite.FileName), []byte("this is not a database, just some text of some length"), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(foreign, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE contacts (name TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for name, dir := range map[string]string{"a file as the directory": file, "a file that is not SQLite": garbage, "another application's database": foreign} {
		s, err := sqlite.Open(ctx, sqlite.Config{Dir: dir})
		if err == nil {
			s.Close()
			t.Errorf("%s: opened", name)
			continue
		}
		if domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("%s: %v, want an invalid error", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	if b, _ := os.ReadFile(filepath.Join(garbage, sqlite.FileName)); string(b) != "this is not a database, just some text of some length" {
		t.Errorf("opening a foreign file changed it")
	}
}
