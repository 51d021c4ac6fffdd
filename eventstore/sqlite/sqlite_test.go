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

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/eventstore/storetest"
)

const childEnv = "RISKLEDGER_SQLITE_CRASH_CHILD"

// openAt opens the store with a tiny overlay, so that the suite exercises
// the streams table's flushes as well as the overlay.
func openAt(ctx context.Context, dir string) (eventstore.Store, error) {
	return sqlite.Open(ctx, sqlite.Config{Dir: dir, FlushStreams: 5, FlushIDs: 3})
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
	w, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, FlushStreams: 4, FlushIDs: 4})
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

// TestIDsInTheTableAndInMemory finds events by id, and refuses their ids
// to other events, wherever the id is: gathered in the writer's memory, in
// a pass being written to the ids table, or in the table: in the writer,
// in a read-only store beside it, after a reopen, and after an upgrade
// from layout 1, which kept a unique index on events(id) instead.
func TestIDsInTheTableAndInMemory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// Passes of a few ids, each written over the next batches.
	w, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, FlushStreams: 3, FlushIDs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { w.Close() }()
	r, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	call := func(stream string, n int) eventstore.StreamAppend {
		return eventstore.StreamAppend{Stream: stream, Expected: eventstore.NoStream, Events: []eventstore.NewEvent{
			{ID: uuid.New(), Type: "E", Payload: json.RawMessage(strconv.Itoa(n))}}}
	}
	before, after := call("before", 1), call("after", 2)
	if _, err := w.Append(ctx, before); err != nil {
		t.Fatal(err)
	}
	// The first id through every state: each append moves the passes on.
	for i := range 40 {
		c := call("s"+strconv.Itoa(i), 0)
		if _, err := w.Append(ctx, c); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*sqlite.Store{w, r} {
			got, err := s.ReadEvents(ctx, []uuid.UUID{before.Events[0].ID, c.Events[0].ID})
			if err != nil || len(got) != 2 || got[before.Events[0].ID].Position != 1 || got[c.Events[0].ID].Position != int64(i+2) {
				t.Fatalf("after %d appends: read events: %+v %v", i+2, got, err)
			}
		}
	}
	w.Close()
	// Gather the last id in memory only.
	if w, err = sqlite.Open(ctx, sqlite.Config{Dir: dir, FlushStreams: 3, FlushIDs: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(ctx, after); err != nil {
		t.Fatal(err)
	}
	file := func() *sql.DB {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := file()
	var beforeIn, afterIn, all, idsAt int64
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM ids WHERE id = ?1), (SELECT count(*) FROM ids WHERE id = ?2), (SELECT count(*) FROM ids), ids_at FROM head`,
		before.Events[0].ID[:], after.Events[0].ID[:]).Scan(&beforeIn, &afterIn, &all, &idsAt); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if beforeIn != 1 || afterIn != 0 || idsAt < 1 || idsAt >= 42 {
		t.Fatalf("in the ids table: the first id %d times, the last %d times, up to %d: want the first there and the last in memory", beforeIn, afterIn, idsAt)
	}
	// Of the 41 ids appended with passes of 2, only the last few passes'
	// may be missing (each is sorted on a goroutine of its own, and begins
	// with the batch after that).
	if all < 30 || idsAt < 30 {
		t.Fatalf("the ids table holds %d ids, up to position %d, after 41 appends in passes of 2", all, idsAt)
	}
	idB, idA := before.Events[0].ID, after.Events[0].ID
	check := func(what string, s *sqlite.Store, writes bool) {
		t.Helper()
		for _, c := range []struct {
			id  uuid.UUID
			pos int64
		}{{idB, 1}, {idA, 42}} {
			e, ok, err := s.ReadEvent(ctx, c.id)
			if err != nil || !ok || e.Position != c.pos {
				t.Fatalf("%s: read event %s: %+v %v %v, want position %d", what, c.id, e, ok, err, c.pos)
			}
		}
		got, err := s.ReadEvents(ctx, []uuid.UUID{idA, uuid.New(), idB})
		if err != nil || len(got) != 2 || got[idB].Position != 1 || got[idA].Position != 42 {
			t.Fatalf("%s: read events: %+v %v", what, got, err)
		}
		if _, ok, err := s.ReadEvent(ctx, uuid.New()); ok || err != nil {
			t.Fatalf("%s: an unknown id: found %v, %v", what, ok, err)
		}
		if !writes {
			return
		}
		// Each id refused to another event: "after" while the store
		// still decides without looking ids up, as a store does until
		// a call repeats; "before" after a call with a new id has made
		// it stop looking again.
		refuse := func(c eventstore.StreamAppend) {
			t.Helper()
			other := c
			other.Stream = "elsewhere"
			if _, err := s.Append(ctx, other); domain.ErrorCode(err) != domain.Conflict {
				t.Fatalf("%s: another event with the id of %s: %v, want a conflict", what, c.Stream, err)
			}
		}
		refuse(after)
		if _, err := s.Append(ctx, call(what, 0)); err != nil {
			t.Fatal(err)
		}
		refuse(before)
		for _, c := range []eventstore.StreamAppend{before, after} {
			again, err := s.Append(ctx, c)
			if err != nil || len(again) != 1 || again[0].ID != c.Events[0].ID {
				t.Fatalf("%s: a repeated call: %+v %v, want its event", what, again, err)
			}
		}
		if v, err := s.StreamVersion(ctx, "elsewhere"); err != nil || v != 0 {
			t.Fatalf("%s: a refused event was appended (version %d, %v)", what, v, err)
		}
	}
	check("writer", w, true)
	check("read-only", r, false)
	r.Close()
	w.Close()
	if w, err = sqlite.Open(ctx, sqlite.Config{Dir: dir, FlushStreams: 3, FlushIDs: 1000}); err != nil {
		t.Fatal(err)
	}
	check("reopened", w, true)
	w.Close()

	// Back to layout 1, as an older riskledger left it.
	db = file()
	for _, stmt := range []string{
		`CREATE UNIQUE INDEX events_id ON events (id)`,
		`DROP TABLE ids`,
		`ALTER TABLE head DROP COLUMN ids_at`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	if _, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, ReadOnly: true}); domain.ErrorCode(err) != domain.Unavailable || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("read-only open of layout 1: %v, want an unavailable error that says how to upgrade it", err)
	}
	if w, err = sqlite.Open(ctx, sqlite.Config{Dir: dir, FlushStreams: 3}); err != nil {
		t.Fatalf("upgrade from layout 1: %v", err)
	}
	check("upgraded", w, true)
	if rep, err := eventstore.Verify(ctx, w); err != nil || !rep.OK {
		t.Fatalf("verify after the upgrade: %+v %v", rep, err)
	}
	w.Close()
	db = file()
	defer db.Close()
	var version, indexes int
	if err := db.QueryRow(`SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master WHERE name = 'events_id')`).Scan(&version, &indexes); err != nil || version != 2 || indexes != 0 {
		t.Fatalf("after the upgrade: layout %d, %d id indexes (%v), want layout 2 and none", version, indexes, err)
	}
}
