package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/eventstore/storetest"
	"github.com/riskledger/riskledger/internal/pgtest"
)

// childEnv carries the schema to the crash test's child process.
const childEnv = "RISKLEDGER_POSTGRES_CRASH_SCHEMA"

func TestMain(m *testing.M) {
	if schema := os.Getenv(childEnv); schema != "" {
		storetest.RunChild(opener(pgtest.ConfiguredURL()), schema)
		return
	}
	m.Run()
}

// opener opens the store whose location is a schema of the database at dbURL.
func opener(dbURL string) func(ctx context.Context, schema string) (eventstore.Store, error) {
	return func(ctx context.Context, schema string) (eventstore.Store, error) {
		return postgres.Open(ctx, postgres.Config{URL: dbURL, Schema: schema})
	}
}

func TestConformance(t *testing.T) {
	dbURL := pgtest.URL(t)
	storetest.Run(t, storetest.Harness{
		NewLocation: func(t *testing.T) string {
			_, schema := pgtest.NewSchema(t)
			return schema
		},
		Open:     opener(dbURL),
		Tamper:   tamperer{dbURL: dbURL},
		ChildEnv: childEnv,
	})
}

// tamperer alters a ledger with plain SQL, as someone with database access could.
type tamperer struct{ dbURL string }

func (tp tamperer) exec(t *testing.T, schema string, fn func(ctx context.Context, tx pgx.Tx) error) {
	t.Helper()
	conn := pgtest.Connect(t, tp.dbURL, schema)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return fn(ctx, tx) })
	if err != nil {
		t.Fatalf("tamper with %s: %v", schema, err)
	}
}

func (tp tamperer) ChangePayloadByte(t *testing.T, schema string, position int64) {
	tp.exec(t, schema, func(ctx context.Context, tx pgx.Tx) error {
		var payload string
		if err := tx.QueryRow(ctx, `SELECT payload::text FROM events WHERE position = $1`, position).Scan(&payload); err != nil {
			return err
		}
		changed := changeOneByte(payload)
		_, err := tx.Exec(ctx, `UPDATE events SET payload = $1::json WHERE position = $2`, changed, position)
		return err
	})
}

// changeOneByte alters one byte of a JSON text so that it stays valid JSON:
// a digit or a letter becomes another, or, for text that has neither, a
// space is appended.
func changeOneByte(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= '0' && c <= '8', c >= 'a' && c <= 'y':
			b[i] = c + 1
			return string(b)
		case c == '9':
			b[i] = '8'
			return string(b)
		}
	}
	return s + " "
}

func (tp tamperer) DeleteRow(t *testing.T, schema string, position int64) {
	tp.exec(t, schema, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM events WHERE position = $1`, position)
		return err
	})
}

func (tp tamperer) SwapRows(t *testing.T, schema string, p, q int64) {
	tp.exec(t, schema, func(ctx context.Context, tx pgx.Tx) error {
		// Position is the primary key: park p on a free negative position.
		for _, step := range [][2]int64{{p, -p}, {q, p}, {-p, q}} {
			if _, err := tx.Exec(ctx, `UPDATE events SET position = $2 WHERE position = $1`, step[0], step[1]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (tp tamperer) Overwrite(t *testing.T, schema string, events []eventstore.Event, head eventstore.Head) {
	tp.exec(t, schema, func(ctx context.Context, tx pgx.Tx) error {
		for _, e := range events {
			if _, err := tx.Exec(ctx, `UPDATE events SET payload = $1::json, prev_hash = $2, hash = $3 WHERE position = $4`,
				string(e.Payload), e.PrevHash[:], e.Hash[:], e.Position); err != nil {
				return err
			}
		}
		var rec *time.Time
		if !head.RecordedAt.IsZero() {
			rec = &head.RecordedAt
		}
		_, err := tx.Exec(ctx, `UPDATE ledger_head SET position = $1, hash = $2, recorded_at = $3 WHERE id = 1`,
			head.Position, head.Hash[:], rec)
		return err
	})
}

// open opens a store (on a fresh schema unless cfg names one) and closes
// it when t ends.
func open(t testing.TB, cfg postgres.Config) *postgres.Store {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL, cfg.Schema = pgtest.NewSchema(t)
	}
	s, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendOne(t *testing.T, s eventstore.Store, stream string, n int) eventstore.Event {
	t.Helper()
	out, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: stream, Events: []eventstore.NewEvent{
		{Type: "E", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))}}})
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	return out[0]
}

func TestAppendReadRoundTrip(t *testing.T) {
	s := open(t, postgres.Config{})
	ctx := context.Background()
	cause := uuid.New()
	occurred := time.Date(2021, 3, 4, 5, 6, 7, 891011121, time.FixedZone("X", -5*3600))
	// Text that jsonb would rewrite (key order, duplicate keys, escapes)
	// must come back as stored, or the hash would not match.
	payload := `{"z":1,"a":"\u00e9\n","a":[1.50,-0e0,null],"u":"😀"}`
	out, err := s.Append(ctx, eventstore.StreamAppend{Stream: "p", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{
		{Type: "A", Payload: json.RawMessage(payload), CausationID: cause, OccurredAt: occurred, Actor: "me"},
		{Type: "B", Payload: json.RawMessage(`null`), SchemaVersion: 3},
		// Times far from PostgreSQL's epoch (2000) and before Unix's (1970).
		{Type: "C", Payload: json.RawMessage(`[]`), OccurredAt: time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC)},
		{Type: "C", Payload: json.RawMessage(`""`), OccurredAt: time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{Type: "C", Payload: json.RawMessage(`{}`), OccurredAt: time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadStream(ctx, "p", 0)
	if err != nil || len(got) != len(out) {
		t.Fatalf("read stream: %v %v", got, err)
	}
	for i := range got {
		a, b := got[i], out[i]
		if string(a.Payload) != string(b.Payload) || a.Hash != eventstore.ComputeHash(a.PrevHash, &a) ||
			a.RecordedAt != b.RecordedAt || a.OccurredAt != b.OccurredAt || a.ID != b.ID ||
			a.CausationID != b.CausationID || a.CorrelationID != b.CorrelationID || a.SchemaVersion != b.SchemaVersion {
			t.Errorf("event %d read back as\n %+v\nappended as\n %+v", i+1, a, b)
		}
	}
	if string(got[0].Payload) != payload || got[0].CausationID != cause || got[0].CorrelationID != uuid.Nil ||
		!got[0].OccurredAt.Equal(occurred.Truncate(time.Microsecond)) || got[0].OccurredAt.Location() != time.UTC {
		t.Errorf("first event read back as %+v", got[0])
	}
	if _, err := s.Append(ctx, eventstore.StreamAppend{Stream: "p", Expected: eventstore.Exactly(2), Events: []eventstore.NewEvent{{Type: "C", Payload: json.RawMessage(`1`)}}}); !eventstore.IsConflict(err) {
		t.Fatalf("stale append: %v, want a conflict", err)
	}
	last := out[len(out)-1]
	hd, err := s.Head(ctx)
	if err != nil || hd.Position != last.Position || hd.Hash != last.Hash || hd.RecordedAt != last.RecordedAt {
		t.Fatalf("head %+v %v", hd, err)
	}
	if all, err := s.ReadAll(ctx, 0, -1); err != nil || len(all) != len(out) {
		t.Fatalf("read all without a limit: %d events, %v", len(all), err)
	}
	if none, err := s.ReadAll(ctx, 0, 0); err != nil || len(none) != 0 {
		t.Fatalf("read all with limit 0: %d events, %v", len(none), err)
	}
}

// TestTwoProcessesAppend runs two stores, each with its own pool, on one
// schema, as two riskledger processes would: the head lock must interleave
// their batches into one gapless chain.
func TestTwoProcessesAppend(t *testing.T) {
	dbURL, schema := pgtest.NewSchema(t)
	a := open(t, postgres.Config{URL: dbURL, Schema: schema})
	b := open(t, postgres.Config{URL: dbURL, Schema: schema})
	const writers, perWriter = 8, 60
	var wg sync.WaitGroup
	for w := range writers {
		s := eventstore.Store(a)
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range perWriter {
				// Shared streams make the second process's cached versions stale.
				stream := fmt.Sprintf("s-%d", (w+i)%5)
				if _, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: stream, Events: []eventstore.NewEvent{
					{Type: "E", Payload: json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))}}}); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, s := range []*postgres.Store{a, b} {
		r, err := eventstore.Verify(context.Background(), s)
		if err != nil || !r.OK || r.Checked != writers*perWriter {
			t.Fatalf("verify: %+v %v", r, err)
		}
	}
	all, err := a.ReadAll(context.Background(), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]int64{}
	for i, e := range all {
		versions[e.Stream]++
		if e.Position != int64(i+1) || e.StreamVersion != versions[e.Stream] {
			t.Fatalf("event %d: position %d, %s version %d", i+1, e.Position, e.Stream, e.StreamVersion)
		}
	}
	// Optimistic concurrency holds across the processes too.
	e := appendOne(t, a, "shared", 1)
	if _, err := b.Append(context.Background(), eventstore.StreamAppend{Stream: "shared", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "E", Payload: json.RawMessage(`2`)}}}); !eventstore.IsConflict(err) {
		t.Fatalf("second process appended to %s over version %d: %v", e.Stream, e.StreamVersion, err)
	}
}

// subscribeOne starts a subscription after position after and returns a
// channel that receives the first event.
func subscribeOne(t *testing.T, s eventstore.Store, after int64) <-chan eventstore.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan eventstore.Event, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := s.Subscribe(ctx, after, func(e eventstore.Event) error {
			got <- e
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("subscribe: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return got
}

// await returns the subscription's event. The generous bound only keeps a
// broken build from hanging; the subscriber's poll interval is an hour, so
// only a notification can deliver the event.
func await(t *testing.T, got <-chan eventstore.Event, what string) eventstore.Event {
	t.Helper()
	select {
	case e := <-got:
		return e
	case <-time.After(time.Minute):
		t.Fatalf("%s: no event reached the subscriber", what)
		return eventstore.Event{}
	}
}

func TestNotifyWakesOtherProcess(t *testing.T) {
	dbURL, schema := pgtest.NewSchema(t)
	writer := open(t, postgres.Config{URL: dbURL, Schema: schema})
	reader := open(t, postgres.Config{URL: dbURL, Schema: schema, PollInterval: time.Hour})
	appendOne(t, writer, "s", 1)
	got := subscribeOne(t, reader, 1)
	want := appendOne(t, writer, "s", 2)
	if e := await(t, got, "commit by another store"); e.Position != want.Position || e.ID != want.ID {
		t.Fatalf("subscriber got position %d, want %d", e.Position, want.Position)
	}
}

// TestListenerReconnects cuts the listener's connection, as a database
// restart or a network fault would, and checks that notifications resume.
func TestListenerReconnects(t *testing.T) {
	dbURL, schema := pgtest.NewSchema(t)
	// A name of its own picks out this test's listeners among all sessions.
	app := "rl_" + schema
	appURL := dbURL + "&application_name=" + app
	if !strings.Contains(dbURL, "?") {
		appURL = dbURL + "?application_name=" + app
	}
	writer := open(t, postgres.Config{URL: appURL, Schema: schema})
	reader := open(t, postgres.Config{URL: appURL, Schema: schema, PollInterval: time.Hour})
	admin := pgtest.Connect(t, dbURL, schema)
	var killed int
	err := admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE application_name = $1`, app+" listener").Scan(&killed)
	if err != nil || killed != 2 {
		t.Fatalf("terminated %d listeners (want both stores'): %v", killed, err)
	}
	got := subscribeOne(t, reader, 0)
	want := appendOne(t, writer, "s", 1)
	if e := await(t, got, "commit after the listener was cut"); e.Position != want.Position {
		t.Fatalf("subscriber got position %d, want %d", e.Position, want.Position)
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dbURL, schema := pgtest.NewSchema(t)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), postgres.Config{URL: dbURL, Schema: schema})
			if err != nil {
				t.Errorf("open %d: %v", i, err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	// Each migration once: the ledger, the colour changes index.
	var n int
	if err := pgtest.Connect(t, dbURL, schema).QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("schema_migrations has %d rows (%v), want 2", n, err)
	}
}

func TestSchemaNeedingQuotes(t *testing.T) {
	dbURL := pgtest.URL(t)
	// Mixed case and a quote need quoting everywhere; the length pushes the
	// NOTIFY channel name past the identifier limit.
	schema := `rl_test_Odd"Name_` + strings.Repeat("x", 30) + uuid.NewString()[:8]
	t.Cleanup(func() {
		conn := pgtest.Connect(t, dbURL, "public")
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	writer := open(t, postgres.Config{URL: dbURL, Schema: schema})
	reader := open(t, postgres.Config{URL: dbURL, Schema: schema, PollInterval: time.Hour})
	got := subscribeOne(t, reader, 0)
	appendOne(t, writer, "s", 1)
	await(t, got, "commit in a schema with an awkward name")
}

func TestCorruptRow(t *testing.T) {
	dbURL, schema := pgtest.NewSchema(t)
	s := open(t, postgres.Config{URL: dbURL, Schema: schema})
	for i := range 3 {
		appendOne(t, s, "s", i)
	}
	if _, err := pgtest.Connect(t, dbURL, schema).Exec(context.Background(), `UPDATE events SET hash = '\x0102' WHERE position = 2`); err != nil {
		t.Fatal(err)
	}
	_, err := s.ReadAll(context.Background(), 0, 10)
	var corrupt *eventstore.CorruptError
	if !errors.As(err, &corrupt) || corrupt.Position != 2 {
		t.Fatalf("read of a row with a short hash: %v, want a corrupt error at position 2", err)
	}
	r, err := eventstore.Verify(context.Background(), s)
	if err != nil || r.OK || r.FirstBad != 2 {
		t.Fatalf("verify: %+v %v", r, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dbURL, schema := pgtest.NewSchema(t)
	conn := pgtest.Connect(t, dbURL, schema)
	if _, err := conn.Exec(context.Background(), `CREATE TABLE events (x int)`); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  postgres.Config
		code string
	}{
		{"malformed URL", postgres.Config{URL: "postgres://u:secret@host:notaport/db"}, domain.Invalid},
		{"empty URL", postgres.Config{}, domain.Invalid},
		{"schema name too long", postgres.Config{URL: dbURL, Schema: strings.Repeat("s", 64)}, domain.Invalid},
		{"nothing listening", postgres.Config{URL: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"}, domain.Unavailable},
		{"unknown database", postgres.Config{URL: strings.Replace(dbURL, "/test?", "/no_such_db_rl?", 1)}, domain.Invalid},
		{"schema of another application", postgres.Config{URL: dbURL, Schema: schema}, domain.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unknown database" && !strings.Contains(dbURL, "/test?") {
				t.Skip("the test database URL does not name the database test")
			}
			s, err := postgres.Open(context.Background(), tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if got := domain.ErrorCode(err); got != tc.code {
				t.Fatalf("error %v: code %q, want %q", err, got, tc.code)
			}
			if msg := domain.ErrorMessage(err); strings.Contains(msg, "secret") {
				t.Fatalf("message %q shows the password", msg)
			}
			t.Logf("%s", domain.ErrorMessage(err))
		})
	}
}

func TestClosed(t *testing.T) {
	s := open(t, postgres.Config{})
	appendOne(t, s, "s", 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	ctx := context.Background()
	if _, err := s.ReadAll(ctx, 0, 10); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
	if _, err := s.Head(ctx); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("head after close: %v", err)
	}
	if _, err := s.Append(ctx, eventstore.StreamAppend{Stream: "s", Events: []eventstore.NewEvent{{Type: "E", Payload: json.RawMessage(`1`)}}}); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
}

// TestSchemaVersionBeyondColumn checks that a version the int column cannot
// hold is refused, not truncated into an event that no longer matches its
// hash.
func TestSchemaVersionBeyondColumn(t *testing.T) {
	s := open(t, postgres.Config{})
	_, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: "s", Events: []eventstore.NewEvent{
		{Type: "E", Payload: json.RawMessage(`1`), SchemaVersion: 1 << 32}}})
	if err == nil {
		t.Fatal("appended schema version 1<<32")
	}
	appendOne(t, s, "s", 1)
	if r, err := eventstore.Verify(context.Background(), s); err != nil || !r.OK || r.Checked != 1 {
		t.Fatalf("verify: %+v %v", r, err)
	}
}

// benchPayload is a typical event payload.
const benchPayload = `{"person":"0190f1a2-7c3b-7def-8123-456789abcdef","score":42,"note":"benchmark"}`

// BenchmarkAppend appends calls of 10 events from many goroutines, so group
// commit fills batches the way a busy server does. Compare its events/s with
// BenchmarkCopyFrom's at the batch size it reports.
func BenchmarkAppend(b *testing.B) {
	for _, callers := range []int{64, 256} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			dbURL, schema := pgtest.NewSchema(b)
			s := open(b, postgres.Config{URL: dbURL, Schema: schema})
			const perCall = 10
			evs := make([]eventstore.NewEvent, perCall)
			for i := range evs {
				evs[i] = eventstore.NewEvent{Type: "BenchEvent", Actor: "bench", Payload: json.RawMessage(benchPayload)}
			}
			var next atomic.Int64
			b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				stream := fmt.Sprintf("bench-%d", next.Add(1))
				for pb.Next() {
					if _, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: stream, Events: evs}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N*perCall)/b.Elapsed().Seconds(), "events/s")
			// Each batch has one recording time (the clock is read once per batch).
			var batches int64
			conn := pgtest.Connect(b, dbURL, schema)
			if err := conn.QueryRow(context.Background(), `SELECT count(DISTINCT recorded_at) FROM events`).Scan(&batches); err == nil && batches > 0 {
				var total int64
				_ = conn.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&total)
				b.ReportMetric(float64(total)/float64(batches), "events/batch")
			}
		})
	}
}

// BenchmarkCopyFrom is the ceiling for BenchmarkAppend: rows of the same
// shape, already hashed, copied into the events table in transactions of
// the given size, with nothing decided or locked.
func BenchmarkCopyFrom(b *testing.B) {
	for _, size := range []int{300, 1000} {
		b.Run(fmt.Sprintf("rows=%d", size), func(b *testing.B) {
			dbURL, schema := pgtest.NewSchema(b)
			s := open(b, postgres.Config{URL: dbURL, Schema: schema})
			s.Close()
			conn := pgtest.Connect(b, dbURL, schema)
			cols := []string{"position", "id", "stream", "stream_version", "type", "schema_version", "occurred_at",
				"recorded_at", "actor", "causation_id", "correlation_id", "payload", "metadata", "prev_hash", "hash"}
			var pos int64
			var prev eventstore.Hash
			const streams = 64
			versions := make([]int64, streams)
			rows := make([][]any, size)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				now := time.Now().UTC().Truncate(time.Microsecond)
				for i := range rows {
					pos++
					st := i % streams
					versions[st]++
					e := eventstore.Event{Position: pos, ID: uuid.Must(uuid.NewV7()), Stream: fmt.Sprintf("bench-%d", st), StreamVersion: versions[st],
						Type: "BenchEvent", SchemaVersion: 1, OccurredAt: now, RecordedAt: now, Actor: "bench",
						Payload: json.RawMessage(benchPayload), Metadata: json.RawMessage(`{}`), PrevHash: prev}
					e.Hash = eventstore.ComputeHash(prev, &e)
					prev = e.Hash
					rows[i] = []any{e.Position, pgtype.UUID{Bytes: e.ID, Valid: true}, e.Stream, e.StreamVersion, e.Type, e.SchemaVersion,
						e.OccurredAt, e.RecordedAt, e.Actor, nil, nil, []byte(e.Payload), []byte(e.Metadata), e.PrevHash[:], e.Hash[:]}
				}
				b.StartTimer()
				err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
					_, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, cols, pgx.CopyFromRows(rows))
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
