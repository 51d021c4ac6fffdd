package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/eventstore/storetest"
)

const childEnv = "RISKLEDGER_SQLITE_CRASH_CHILD"

// openAt opens the store with a tiny overlay, so that the suite exercises
// the streams table's flushes as well as the overlay.
func openAt(ctx context.Context, dir string) (eventstore.Store, error) {
	return sqlite.Open(ctx, sqlite.Config{Dir: dir, FlushStreams: 5})
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
		if _, err := db.Exec(`UPDATE events SET payload = ?, hash = ? WHERE position = ?`,
			string(e.Payload), e.Hash[:], e.Position); err != nil {
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

func TestOneWriterManyReaders(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, FlushStreams: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := sqlite.Open(ctx, sqlite.Config{Dir: dir}); domain.ErrorCode(err) != domain.Unavailable {
		t.Fatalf("a second writer: %v, want unavailable", err)
	}
	r, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatalf("a reader beside the writer: %v", err)
	}
	defer r.Close()
	// Enough streams to flush the writer's overlay a few times, and a
	// tail of changes after the last flush.
	for i := range 30 {
		for _, stream := range []string{"a", "b", "s" + strconv.Itoa(i)} {
			if _, err := w.Append(ctx, eventstore.StreamAppend{Stream: stream, Events: []eventstore.NewEvent{{Type: "E", Payload: json.RawMessage(strconv.Itoa(i))}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range []eventstore.Store{w, r} {
		evs, err := s.ReadStream(ctx, "a", 0)
		if err != nil || len(evs) != 30 || evs[29].StreamVersion != 30 || string(evs[29].Payload) != "29" {
			t.Fatalf("read stream a: %d events, %v", len(evs), err)
		}
		evs, err = s.ReadStream(ctx, "s7", 0)
		if err != nil || len(evs) != 1 || string(evs[0].Payload) != "7" {
			t.Fatalf("read stream s7: %v %v", evs, err)
		}
	}
	if _, err := r.Append(ctx, eventstore.StreamAppend{Stream: "a", Events: []eventstore.NewEvent{{Type: "E", Payload: json.RawMessage("1")}}}); domain.ErrorCode(err) != domain.Forbidden {
		t.Fatalf("append to a read-only store: %v", err)
	}
	if _, err := sqlite.Open(ctx, sqlite.Config{Dir: t.TempDir() + "/none", ReadOnly: true}); domain.ErrorCode(err) != domain.NotFound {
		t.Fatalf("read-only open of an empty directory: %v", err)
	}
	w.Close()
	w2, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, FlushStreams: 4})
	if err != nil {
		t.Fatalf("reopen after the writer closed: %v", err)
	}
	defer w2.Close()
	out, err := w2.Append(ctx, eventstore.StreamAppend{Stream: "b", Expected: eventstore.Exactly(30), Events: []eventstore.NewEvent{{Type: "E", Payload: json.RawMessage("30")}}})
	if err != nil || out[0].StreamVersion != 31 || out[0].Position != 91 {
		t.Fatalf("append after reopen: %+v %v", out, err)
	}
}

// TestLogIsCopiedBackBesideTheWriter checks that the write-ahead log is
// copied into the ledger file while the store is open and appending, by
// the store's own checkpoints: the writer checkpoints only when the log
// has grown far larger than these appends make it, so without them the
// ledger file would stay as small as a new one.
func TestLogIsCopiedBackBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, sqlite.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	file := filepath.Join(dir, sqlite.FileName)
	before, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	payload := json.RawMessage(`"` + strings.Repeat("x", 1000) + `"`)
	for i := range 20 {
		batch := make([]eventstore.NewEvent, 1000)
		for k := range batch {
			batch[k] = eventstore.NewEvent{Type: "E", Payload: payload}
		}
		if _, err := s.Append(ctx, eventstore.StreamAppend{Stream: "s" + strconv.Itoa(i), Events: batch}); err != nil {
			t.Fatal(err)
		}
	}
	// 20,000 events of a kilobyte: the checkpoints copy at least half of
	// them into the file soon after they are committed.
	const want = 10 << 20
	var size int64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if size = fi.Size(); size >= want {
			break
		}
	}
	if size < want {
		t.Fatalf("the ledger file holds %d bytes (%d when new) after 20 MB of appends: the log was not copied back", size, before.Size())
	}
	if evs, err := s.ReadAll(ctx, 0, -1); err != nil || len(evs) != 20000 {
		t.Fatalf("read back: %d events, %v", len(evs), err)
	}
}
