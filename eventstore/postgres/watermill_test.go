package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"testing"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/internal/pgtest"
)

// ledger is a store on a fresh schema and a pool for its subscribers.
type ledger struct {
	store  *postgres.Store
	pool   *pgxpool.Pool
	schema string
}

func newLedger(t *testing.T) ledger {
	t.Helper()
	dbURL, schema := pgtest.NewSchema(t)
	s := open(t, postgres.Config{URL: dbURL, Schema: schema})
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return ledger{store: s, pool: pool, schema: schema}
}

// appendN appends n events, spread over three streams, in calls of up to
// four events.
func (l ledger) appendN(t *testing.T, n int) []eventstore.Event {
	t.Helper()
	var out []eventstore.Event
	for i := 0; i < n; {
		var call []eventstore.StreamAppend
		for s := 0; s < 3 && i < n; s++ {
			a := eventstore.StreamAppend{Stream: fmt.Sprintf("person-%d", s)}
			for k := 0; k < 2 && i < n; k++ {
				a.Events = append(a.Events, eventstore.NewEvent{Type: "Scanned", Actor: "gate",
					Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Metadata: json.RawMessage(`{"source":"test"}`)})
				i++
			}
			call = append(call, a)
		}
		evs, err := l.store.Append(context.Background(), call...)
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		out = append(out, evs...)
	}
	return out
}

// subscribe subscribes to the ledger as group, until t ends.
func (l ledger) subscribe(t *testing.T, group string, batch int) <-chan *message.Message {
	t.Helper()
	return l.subscribeTo(t, eventstore.DefaultTopic, group, batch)
}

// subscribeTo subscribes to topic as group, until t ends.
func (l ledger) subscribeTo(t *testing.T, topic, group string, batch int) <-chan *message.Message {
	t.Helper()
	sub, err := postgres.NewSubscriber(l.pool, postgres.SubscriberConfig{Schema: l.schema, ConsumerGroup: group,
		BatchSize: batch, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("new subscriber: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		sub.Close()
	})
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return msgs
}

// receive acks and returns the next n messages.
func receive(t *testing.T, msgs <-chan *message.Message, n int) []*message.Message {
	t.Helper()
	out := make([]*message.Message, 0, n)
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("subscription closed after %d of %d messages", len(out), n)
			}
			m.Ack()
			out = append(out, m)
		case <-timeout:
			t.Fatalf("received %d of %d messages in 10 s", len(out), n)
		}
	}
	return out
}

func position(t *testing.T, m *message.Message) int64 {
	t.Helper()
	p, err := strconv.ParseInt(m.Metadata.Get(eventstore.MetaPosition), 10, 64)
	if err != nil {
		t.Fatalf("message %s: position %q: %v", m.UUID, m.Metadata.Get(eventstore.MetaPosition), err)
	}
	return p
}

// checkMessages checks that got are the messages ToMessage makes of want,
// each payload the bytes json.Marshal makes of its event.
func checkMessages(t *testing.T, got []*message.Message, want []eventstore.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i, e := range want {
		w, err := eventstore.ToMessage(e)
		if err != nil {
			t.Fatal(err)
		}
		if w.Payload, err = json.Marshal(e); err != nil {
			t.Fatal(err)
		}
		g := got[i]
		if g.UUID != w.UUID || string(g.Payload) != string(w.Payload) || !maps.Equal(g.Metadata, w.Metadata) {
			t.Fatalf("message %d is\n %s %v %s\nwant\n %s %v %s", i, g.UUID, g.Metadata, g.Payload, w.UUID, w.Metadata, w.Payload)
		}
	}
}

func TestWatermillDeliversLedgerInOrder(t *testing.T) {
	l := newLedger(t)
	want := l.appendN(t, 25)
	got := receive(t, l.subscribe(t, "projections", 10), len(want))
	checkMessages(t, got, want)
	for i, m := range got {
		if p := position(t, m); p != int64(i+1) {
			t.Fatalf("message %d has position %d", i, p)
		}
		e, err := eventstore.FromMessage(m)
		if err != nil || e.Hash != eventstore.ComputeHash(e.PrevHash, &e) {
			t.Fatalf("message %d does not decode to the hashed event: %v", i, err)
		}
	}
}

// Strings and JSON texts that json.Marshal escapes must come out as
// json.Marshal writes them.
func TestWatermillMessagesMatchToMessage(t *testing.T) {
	l := newLedger(t)
	occurred := time.Date(1969, 7, 20, 20, 17, 40, 123000, time.FixedZone("X", 3600))
	var want []eventstore.Event
	for i, c := range []struct{ stream, typ, actor, payload, metadata string }{
		{"person-1", "Scanned", "gate", `{"n":1,"s":"plain"}`, `{}`},
		{"person-<2>", "Scanned", "gate", `{"n":2}`, `{}`},
		{"person-3", `Scan"ned`, "gate\\x", `[1, 2, {"a" : "b"}]`, `{"k":"v"}`},
		{"person-4", "Scanned", "gaté", `{"html":"<b>&amp;</b>"}`, `{"line":"a\u2028b"}`},
		{"person-5", "Scanned", "gate\u2029", `{"name":"Zoë Ångström","tab":"\t"}`, `{"e":"\u00e9 😀"}`},
		{"person-6", "Scanned", "gate", `{"name":"Zoë"}`, `{"raw":"` + "\u2028" + `"}`},
		{"person-7", "Scanned", "", `"just a string"`, `{}`},
		{"person-8", "Scanné", "gaté", `{"name":"Zoë 😀","n":-1.5e3}`, `{"source":"émigré"}`},
	} {
		out, err := l.store.Append(context.Background(), eventstore.StreamAppend{Stream: c.stream, Events: []eventstore.NewEvent{{
			Type: c.typ, Actor: c.actor, OccurredAt: occurred, CausationID: uuid.New(), SchemaVersion: i + 1,
			Payload: json.RawMessage(c.payload), Metadata: json.RawMessage(c.metadata)}}})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		want = append(want, out...)
	}
	// A payload respaced behind the ledger's back is delivered as ToMessage
	// encodes the event read back (json.Marshal compacts it).
	conn := pgtest.Connect(t, pgtest.URL(t), l.schema)
	if _, err := conn.Exec(context.Background(), `UPDATE events SET payload = '{ "n" : [1, 2] }' WHERE position = 1`); err != nil {
		t.Fatal(err)
	}
	want, err := l.store.ReadAll(context.Background(), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	checkMessages(t, receive(t, l.subscribe(t, "g", 3), len(want)), want)
}

func TestWatermillResumesAfterAckedPosition(t *testing.T) {
	l := newLedger(t)
	want := l.appendN(t, 6)
	sub, err := postgres.NewSubscriber(l.pool, postgres.SubscriberConfig{Schema: l.schema, ConsumerGroup: "g", BatchSize: 2,
		PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := sub.Subscribe(context.Background(), eventstore.DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	receive(t, msgs, 4)
	// The fifth message comes from the query after the one that acked the
	// second batch. Leave it unacked: its batch must come again.
	select {
	case m := <-msgs:
		if p := position(t, m); p != 5 {
			t.Fatalf("fifth message has position %d", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no fifth message")
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	conn := pgtest.Connect(t, pgtest.URL(t), l.schema)
	var acked int64
	if err := conn.QueryRow(context.Background(),
		`SELECT offset_acked FROM riskledger_watermill_offsets WHERE consumer_group = 'g'`).Scan(&acked); err != nil || acked != 4 {
		t.Fatalf("acked position %d (%v), want 4", acked, err)
	}

	got := receive(t, l.subscribe(t, "g", 2), 2)
	checkMessages(t, got, want[4:])
}

func TestWatermillDeliversNewEvents(t *testing.T) {
	l := newLedger(t)
	first := l.appendN(t, 3)
	msgs := l.subscribe(t, "g", 100)
	checkMessages(t, receive(t, msgs, 3), first)
	more := l.appendN(t, 5)
	checkMessages(t, receive(t, msgs, 5), more)
	select {
	case m := <-msgs:
		t.Fatalf("unexpected message at position %d", position(t, m))
	case <-time.After(50 * time.Millisecond):
	}
}

// The colour changes topic delivers the colour-assigned events alone, in
// order, new ones as they come; a group keeps its place in it apart from
// its place in the whole ledger.
func TestWatermillColourChangesTopic(t *testing.T) {
	l := newLedger(t)
	var want []eventstore.Event
	decide := func() {
		evs, err := l.store.Append(context.Background(), eventstore.StreamAppend{Stream: "decisions-x",
			Events: []eventstore.NewEvent{{Type: domain.EvColourAssigned, Payload: json.RawMessage(`{"colour":"yellow"}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, evs...)
	}
	l.appendN(t, 7)
	decide()
	l.appendN(t, 5)
	decide()
	changes := l.subscribeTo(t, eventstore.ColourChangesTopic, "issuance", 2)
	checkMessages(t, receive(t, changes, 2), want)
	for i, m := range receive(t, l.subscribe(t, "issuance", 4), 14) {
		if p := position(t, m); p != int64(i+1) {
			t.Fatalf("the whole ledger's message %d has position %d", i, p)
		}
	}
	l.appendN(t, 3)
	decide()
	checkMessages(t, receive(t, changes, 1), want[2:])
}

func TestWatermillGroupsAreIndependent(t *testing.T) {
	l := newLedger(t)
	want := l.appendN(t, 12)
	a, b := l.subscribe(t, "a", 5), l.subscribe(t, "b", 7)
	checkMessages(t, receive(t, a, 12), want)
	checkMessages(t, receive(t, b, 12), want)
}

// Subscribers of one group, racing, take turns a batch at a time: together
// they deliver every event once, each in position order.
func TestWatermillGroupSharedBySubscribers(t *testing.T) {
	l := newLedger(t)
	const n = 300
	l.appendN(t, n)
	var mu sync.Mutex
	seen := map[int64]int{}
	total := 0
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		msgs := l.subscribe(t, "shared", 20)
		wg.Go(func() {
			last := int64(0)
			for {
				select {
				case m := <-msgs:
					p, err := strconv.ParseInt(m.Metadata.Get(eventstore.MetaPosition), 10, 64)
					if err != nil {
						t.Errorf("message %s: %v", m.UUID, err)
					}
					m.Ack()
					if p <= last {
						t.Errorf("position %d after %d", p, last)
					}
					last = p
					mu.Lock()
					seen[p]++
					if total++; total == n {
						close(done)
					}
					mu.Unlock()
				case <-done:
					return
				}
			}
		})
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		mu.Lock()
		t.Fatalf("received %d of %d messages", total, n)
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond) // time for a duplicate to show up
	for p := int64(1); p <= n; p++ {
		if seen[p] != 1 {
			t.Errorf("position %d delivered %d times", p, seen[p])
		}
	}
}

func TestWatermillRefusals(t *testing.T) {
	l := newLedger(t)
	if _, err := postgres.NewSubscriber(l.pool, postgres.SubscriberConfig{Schema: l.schema, BatchSize: -1}); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("config without a group: %v, want invalid", err)
	}
	sub, err := postgres.NewSubscriber(l.pool, postgres.SubscriberConfig{Schema: l.schema, ConsumerGroup: "g"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Subscribe(context.Background(), "other.topic"); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("subscribe to another topic: %v, want invalid", err)
	}

	pub, err := wsql.NewPublisher(wsql.BeginnerFromPgx(l.pool), wsql.PublisherConfig{SchemaAdapter: postgres.WatermillSchema{Schema: l.schema}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(eventstore.DefaultTopic, message.NewMessage("1", []byte(`{}`))); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("publish: %v, want invalid", err)
	}
	if h, err := l.store.Head(context.Background()); err != nil || h.Position != 0 {
		t.Errorf("head after the refused publish: %+v, %v", h, err)
	}
}

func TestWatermillWithoutLedger(t *testing.T) {
	dbURL, schema := pgtest.NewSchema(t)
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	sub, err := postgres.NewSubscriber(pool, postgres.SubscriberConfig{Schema: schema, ConsumerGroup: "g"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Subscribe(context.Background(), eventstore.DefaultTopic); err == nil {
		t.Fatal("subscribed to a schema without a ledger")
	}
}

// BenchmarkWatermillDrain drains b.N events, appended beforehand, through
// the ledger's subscriber in batches of 1,000.
func BenchmarkWatermillDrain(b *testing.B) {
	dbURL, schema := pgtest.NewSchema(b)
	s := open(b, postgres.Config{URL: dbURL, Schema: schema})
	ctx := context.Background()
	for i := 0; i < b.N; i += 1000 {
		var call []eventstore.StreamAppend
		for k := i; k < min(i+1000, b.N); k++ {
			call = append(call, eventstore.StreamAppend{Stream: fmt.Sprintf("person-%d", k), Events: []eventstore.NewEvent{{
				Type: "CheckpointScanned", Actor: "checkpoint-0001", Metadata: json.RawMessage(`{"source":"bench"}`),
				Payload: json.RawMessage(fmt.Sprintf(`{"checkpoint_id":"cp-0001","lane":3,"device_id":"scanner-0001-3","person_id":"person-%d",`+
					`"method":"qr_certificate","temperature_c":36.6,"decision":"admitted","reason":"valid_certificate","scanned_at":"2025-11-03T06:00:00.000000Z"}`, k))}}})
		}
		if _, err := s.Append(ctx, call...); err != nil {
			b.Fatal(err)
		}
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	sub, err := postgres.NewSubscriber(pool, postgres.SubscriberConfig{Schema: schema, ConsumerGroup: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.ResetTimer()
	msgs, err := sub.Subscribe(ctx, eventstore.DefaultTopic)
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		(<-msgs).Ack()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
