package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// Run runs the whole conformance suite against the harness's stores.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"AppendAndRead", testAppendAndRead},
		{"ExpectedVersions", testExpectedVersions},
		{"MultiStreamAtomic", testMultiStreamAtomic},
		{"Conditions", testConditions},
		{"AppendEachStopsAtFirstFailure", testAppendEach},
		{"ReadEventsByID", testReadEvents},
		{"ReadFoldAgreesWithReadAll", testReadFold},
		{"BadInputWritesNothing", testBadInput},
		{"IdempotentReappend", testIdempotent},
		{"RacingSameExpectedVersion", testRacingSameVersion},
		{"ConcurrentStreamsWhileTailing", testConcurrentTail},
		{"LargePayload", testLargePayload},
		{"ContextCancellation", testCancellation},
		{"RecordedAtImport", testRecordedAt},
		{"ReopenKeepsState", testReopen},
		{"RelayPublishesInOrder", testRelay},
		{"TamperChangedPayload", testTamperPayload},
		{"TamperDeletedRow", testTamperDelete},
		{"TamperSwappedRows", testTamperSwap},
		{"TamperRewriteDetectedByStatement", testRewrite},
		{"CrashSafety", testCrash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// open opens a fresh store and closes it when t ends.
func open(t *testing.T, h Harness) (eventstore.Store, string) {
	t.Helper()
	loc := h.NewLocation(t)
	return reopen(t, h, loc), loc
}

func reopen(t *testing.T, h Harness, loc string) eventstore.Store {
	t.Helper()
	s, err := h.Open(context.Background(), loc)
	if err != nil {
		t.Fatalf("open %s: %v", loc, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func payload(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func ev(typ string, n int) eventstore.NewEvent {
	return eventstore.NewEvent{Type: typ, Payload: payload(map[string]int{"n": n}), Actor: "test"}
}

func mustAppend(t *testing.T, s eventstore.Store, appends ...eventstore.StreamAppend) []eventstore.Event {
	t.Helper()
	out, err := s.Append(context.Background(), appends...)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return out
}

func head(t *testing.T, s eventstore.Store) eventstore.Head {
	t.Helper()
	h, err := s.Head(context.Background())
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	return h
}

func readAll(t *testing.T, s eventstore.Store) []eventstore.Event {
	t.Helper()
	var out []eventstore.Event
	var after int64
	for {
		evs, err := s.ReadAll(context.Background(), after, 1000)
		if err != nil {
			t.Fatalf("read all: %v", err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Position
	}
}

func verify(t *testing.T, s eventstore.Store) eventstore.Report {
	t.Helper()
	r, err := eventstore.Verify(context.Background(), s)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return r
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func testAppendAndRead(t *testing.T, h Harness) {
	s, _ := open(t, h)
	occurred := time.Date(2020, 2, 1, 9, 30, 0, 123456789, time.FixedZone("CST", 8*3600))
	corr := uuid.New()
	first := mustAppend(t, s, eventstore.StreamAppend{Stream: "person-a", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{
		{Type: "PersonRegistered", Payload: json.RawMessage(`{ "name" : "x",  "n": 1 }`), OccurredAt: occurred, Actor: "clinic-1", CorrelationID: corr,
			Metadata: json.RawMessage(`{"source": "test"}`)},
		ev("HealthFormSubmitted", 2),
	}})
	second := mustAppend(t, s, eventstore.StreamAppend{Stream: "person-b", Events: []eventstore.NewEvent{ev("PersonRegistered", 3)}})
	third := mustAppend(t, s, eventstore.StreamAppend{Stream: "person-a", Expected: eventstore.Exactly(2), Events: []eventstore.NewEvent{ev("SymptomsReported", 4)}})

	if len(first) != 2 || first[0].Position != 1 || first[1].Position != 2 || second[0].Position != 3 || third[0].Position != 4 {
		t.Fatalf("positions: %v %v %v", first, second, third)
	}
	e := first[0]
	if e.StreamVersion != 1 || first[1].StreamVersion != 2 || second[0].StreamVersion != 1 || third[0].StreamVersion != 3 {
		t.Fatalf("stream versions: %d %d %d %d", e.StreamVersion, first[1].StreamVersion, second[0].StreamVersion, third[0].StreamVersion)
	}
	if e.ID.Version() != 7 {
		t.Errorf("store-assigned id %s is version %d, want a UUIDv7", e.ID, e.ID.Version())
	}
	if string(e.Payload) != `{"name":"x","n":1}` || string(e.Metadata) != `{"source":"test"}` || string(second[0].Metadata) != `{}` {
		t.Errorf("payload/metadata not compacted: %s %s %s", e.Payload, e.Metadata, second[0].Metadata)
	}
	if !e.OccurredAt.Equal(occurred.Truncate(time.Microsecond)) || e.OccurredAt.Location() != time.UTC {
		t.Errorf("occurred_at %v, want %v in UTC", e.OccurredAt, occurred.Truncate(time.Microsecond))
	}
	if e.SchemaVersion != 1 || e.Actor != "clinic-1" || e.CorrelationID != corr || e.CausationID != uuid.Nil {
		t.Errorf("envelope: %+v", e)
	}
	if e.PrevHash != (eventstore.Hash{}) || first[1].PrevHash != e.Hash || eventstore.ComputeHash(e.PrevHash, &e) != e.Hash {
		t.Errorf("hash chain of the returned events is broken")
	}

	all := readAll(t, s)
	returned := append(append(append([]eventstore.Event{}, first...), second...), third...)
	if len(all) != len(returned) {
		t.Fatalf("read %d events, appended %d", len(all), len(returned))
	}
	for i := range all {
		a, b := all[i], returned[i]
		if !sameEvent(a, b) {
			t.Errorf("read back position %d differs from what Append returned:\n read %+v\n  got %+v", i+1, a, b)
		}
		if i > 0 && all[i].RecordedAt.Before(all[i-1].RecordedAt) {
			t.Errorf("recorded_at goes backwards at position %d", all[i].Position)
		}
	}
	stream, err := s.ReadStream(context.Background(), "person-a", 0)
	if err != nil || len(stream) != 3 || stream[0].Position != 1 || stream[1].Position != 2 || stream[2].Position != 4 {
		t.Fatalf("read stream person-a: %v %v", stream, err)
	}
	tail, err := s.ReadStream(context.Background(), "person-a", 2)
	if err != nil || len(tail) != 1 || tail[0].StreamVersion != 3 {
		t.Fatalf("read stream person-a after 2: %v %v", tail, err)
	}
	if got, ok, err := s.ReadEvent(context.Background(), second[0].ID); err != nil || !ok || !sameEvent(got, second[0]) {
		t.Fatalf("read event %s: %+v %v %v", second[0].ID, got, ok, err)
	}
	if _, ok, err := s.ReadEvent(context.Background(), uuid.New()); err != nil || ok {
		t.Fatalf("read an unknown event: %v %v", ok, err)
	}
	for stream, want := range map[string]int64{"person-a": 3, "person-b": 1, "nobody": 0} {
		if v, err := s.StreamVersion(context.Background(), stream); err != nil || v != want {
			t.Fatalf("stream version of %s: %d %v, want %d", stream, v, err, want)
		}
	}
	none, err := s.ReadStream(context.Background(), "nobody", 0)
	if err != nil || len(none) != 0 {
		t.Fatalf("read unknown stream: %v %v", none, err)
	}
	page, err := s.ReadAll(context.Background(), 1, 2)
	if err != nil || len(page) != 2 || page[0].Position != 2 || page[1].Position != 3 {
		t.Fatalf("read all after 1 limit 2: %v %v", page, err)
	}
	hd := head(t, s)
	if hd.Position != 4 || hd.Hash != third[0].Hash || !hd.RecordedAt.Equal(third[0].RecordedAt) {
		t.Fatalf("head %+v, want position 4 hash %s", hd, third[0].Hash)
	}
	if r := verify(t, s); !r.OK || r.Checked != 4 {
		t.Fatalf("verify: %+v", r)
	}
}

func sameEvent(a, b eventstore.Event) bool {
	return a.Position == b.Position && a.ID == b.ID && a.Stream == b.Stream && a.StreamVersion == b.StreamVersion &&
		a.Type == b.Type && a.SchemaVersion == b.SchemaVersion && a.OccurredAt.Equal(b.OccurredAt) &&
		a.RecordedAt.Equal(b.RecordedAt) && a.Actor == b.Actor && a.CausationID == b.CausationID &&
		a.CorrelationID == b.CorrelationID && bytes.Equal(a.Payload, b.Payload) && bytes.Equal(a.Metadata, b.Metadata) &&
		a.PrevHash == b.PrevHash && a.Hash == b.Hash
}

func testExpectedVersions(t *testing.T, h Harness) {
	s, _ := open(t, h)
	one := func(exp eventstore.Expected) error {
		_, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: "s", Expected: exp, Events: []eventstore.NewEvent{ev("E", 1)}})
		return err
	}
	if err := one(eventstore.StreamExists); !eventstore.IsConflict(err) {
		t.Fatalf("exists on a new stream: %v, want a conflict", err)
	}
	if err := one(eventstore.Exactly(1)); !eventstore.IsConflict(err) {
		t.Fatalf("exactly 1 on a new stream: %v, want a conflict", err)
	}
	if err := one(eventstore.Exactly(0)); err != nil {
		t.Fatalf("exactly 0 on a new stream: %v", err)
	}
	err := one(eventstore.NoStream)
	var conflict *eventstore.ConflictError
	if !errors.As(err, &conflict) || conflict.Current != 1 || conflict.Stream != "s" {
		t.Fatalf("no_stream on an existing stream: %v, want a conflict at current version 1", err)
	}
	wantCode(t, err, domain.Conflict)
	for _, exp := range []eventstore.Expected{eventstore.StreamExists, eventstore.Exactly(2), eventstore.Any} {
		if err := one(exp); err != nil {
			t.Fatalf("append with %s: %v", exp, err)
		}
	}
	err = one(eventstore.Exactly(2))
	if !errors.As(err, &conflict) || conflict.Current != 4 {
		t.Fatalf("stale exactly 2: %v, want conflict at 4", err)
	}
	if hd := head(t, s); hd.Position != 4 {
		t.Fatalf("head %d after four accepted appends", hd.Position)
	}
}

func testMultiStreamAtomic(t *testing.T, h Harness) {
	s, _ := open(t, h)
	mustAppend(t, s, eventstore.StreamAppend{Stream: "guardian", Events: []eventstore.NewEvent{ev("E", 1)}})
	_, err := s.Append(context.Background(),
		eventstore.StreamAppend{Stream: "dependent", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{ev("E", 2)}},
		eventstore.StreamAppend{Stream: "guardian", Expected: eventstore.Exactly(0), Events: []eventstore.NewEvent{ev("E", 3)}})
	if !eventstore.IsConflict(err) {
		t.Fatalf("multi-stream append with a stale stream: %v, want a conflict", err)
	}
	if hd := head(t, s); hd.Position != 1 {
		t.Fatalf("head %d: the failed multi-stream append left events behind", hd.Position)
	}
	if evs, _ := s.ReadStream(context.Background(), "dependent", 0); len(evs) != 0 {
		t.Fatalf("dependent stream has %d events after a failed atomic append", len(evs))
	}
	out := mustAppend(t, s,
		eventstore.StreamAppend{Stream: "dependent", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{ev("E", 2)}},
		eventstore.StreamAppend{Stream: "guardian", Expected: eventstore.Exactly(1), Events: []eventstore.NewEvent{ev("E", 3), ev("E", 4)}})
	if len(out) != 3 || out[0].Stream != "dependent" || out[2].Position != 4 || out[2].StreamVersion != 3 {
		t.Fatalf("multi-stream append returned %+v", out)
	}
}

// testConditions: a stream named with no events is a condition, checked
// with the call and left unwritten.
func testConditions(t *testing.T, h Harness) {
	s, _ := open(t, h)
	ctx := context.Background()
	mustAppend(t, s, eventstore.StreamAppend{Stream: "checkpoint", Events: []eventstore.NewEvent{ev("E", 1)}})
	scan := func(exp eventstore.Expected, n int) error {
		_, err := s.Append(ctx,
			eventstore.StreamAppend{Stream: "scans", Events: []eventstore.NewEvent{ev("E", n)}},
			eventstore.StreamAppend{Stream: "checkpoint", Expected: exp})
		return err
	}
	if err := scan(eventstore.Exactly(1), 2); err != nil {
		t.Fatalf("append under a condition that holds: %v", err)
	}
	var conflict *eventstore.ConflictError
	if err := scan(eventstore.Exactly(0), 3); !errors.As(err, &conflict) || conflict.Stream != "checkpoint" || conflict.Current != 1 {
		t.Fatalf("append under a stale condition: %v, want a conflict on checkpoint at 1", err)
	}
	if err := scan(eventstore.NoStream, 4); !eventstore.IsConflict(err) {
		t.Fatalf("append under no_stream on an existing stream: %v, want a conflict", err)
	}
	if v, err := s.StreamVersion(ctx, "checkpoint"); err != nil || v != 1 {
		t.Fatalf("checkpoint at version %d (%v) after conditions on it; want 1: a condition writes nothing", v, err)
	}
	if v, _ := s.StreamVersion(ctx, "scans"); v != 1 {
		t.Fatalf("scans at version %d; only the append whose condition held may be written", v)
	}
	// A condition on a stream that is written earlier in the same batch
	// sees that write.
	res := s.AppendEach(ctx, [][]eventstore.StreamAppend{
		{{Stream: "checkpoint", Expected: eventstore.Exactly(1), Events: []eventstore.NewEvent{ev("E", 5)}}},
		{{Stream: "scans", Events: []eventstore.NewEvent{ev("E", 6)}}, {Stream: "checkpoint", Expected: eventstore.Exactly(2)}},
	}, nil).Wait()
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("call %d: %v", i, r.Err)
		}
	}
	if hd := head(t, s); hd.Position != 4 {
		t.Fatalf("head %d, want 4", hd.Position)
	}
	verify(t, s)
}

// testAppendEach: calls are decided in order, each on its own; the first
// failure stops the rest, which write nothing.
func testAppendEach(t *testing.T, h Harness) {
	s, _ := open(t, h)
	ctx := context.Background()
	calls := make([][]eventstore.StreamAppend, 0, 3000)
	for i := range 3000 {
		calls = append(calls, []eventstore.StreamAppend{{Stream: fmt.Sprintf("s-%d", i%7), Events: []eventstore.NewEvent{ev("E", i)}}})
	}
	for i, r := range s.AppendEach(ctx, calls, nil).Wait() {
		if r.Err != nil || r.Stored || len(r.Events) != 1 || r.Events[0].Position != int64(i+1) {
			t.Fatalf("call %d: %+v, want one event at position %d", i, r, i+1)
		}
	}
	// Repeated calls (ids given) are recognised as stored.
	ided := [][]eventstore.StreamAppend{{{Stream: "r", Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "E", Payload: payload(1)}}}}}
	if r := s.AppendEach(ctx, ided, nil).Wait()[0]; r.Err != nil || r.Stored {
		t.Fatalf("first call with an id: %+v", r)
	}
	if r := s.AppendEach(ctx, ided, nil).Wait()[0]; r.Err != nil || !r.Stored || r.Events[0].Position != 3001 {
		t.Fatalf("the same call again: %+v, want the stored event at 3001", r)
	}
	// Among new calls, in one batch: each gets its own answer.
	mixed := [][]eventstore.StreamAppend{
		{{Stream: "r", Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "E", Payload: payload(2)}}}},
		ided[0],
		{{Stream: "r", Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "E", Payload: payload(3)}}}},
	}
	res := s.AppendEach(ctx, mixed, nil).Wait()
	if res[0].Err != nil || res[0].Stored || res[1].Err != nil || !res[1].Stored || res[1].Events[0].Position != 3001 ||
		res[2].Err != nil || res[2].Stored || res[2].Events[0].Position != 3003 {
		t.Fatalf("new, repeated, new: %+v", res)
	}
	failing := [][]eventstore.StreamAppend{
		{{Stream: "a", Events: []eventstore.NewEvent{ev("E", 1)}}},
		{{Stream: "b", Expected: eventstore.StreamExists, Events: []eventstore.NewEvent{ev("E", 2)}}},
		{{Stream: "c", Events: []eventstore.NewEvent{ev("E", 3)}}},
		{{Stream: " ", Events: []eventstore.NewEvent{ev("E", 4)}}},
	}
	res = s.AppendEach(ctx, failing, nil).Wait()
	if res[0].Err != nil || !eventstore.IsConflict(res[1].Err) ||
		!errors.Is(res[2].Err, eventstore.ErrNotAttempted) || !errors.Is(res[3].Err, eventstore.ErrNotAttempted) {
		t.Fatalf("results %v %v %v %v: want ok, a conflict, then not attempted", res[0].Err, res[1].Err, res[2].Err, res[3].Err)
	}
	if v, _ := s.StreamVersion(ctx, "c"); v != 0 {
		t.Fatalf("a call after the failure was written")
	}
	// An invalid call is reported as such when everything before it held.
	res = s.AppendEach(ctx, failing[2:], nil).Wait()
	if res[0].Err != nil || domain.ErrorCode(res[1].Err) != domain.Invalid || errors.Is(res[1].Err, eventstore.ErrNotAttempted) {
		t.Fatalf("results %v %v: want ok, then invalid", res[0].Err, res[1].Err)
	}
	if hd := head(t, s); hd.Position != 3005 {
		t.Fatalf("head %d, want 3005", hd.Position)
	}
	// A sequence continued by later AppendEach calls, queued before the
	// first commits: a failure stops the calls after it in every one.
	var seq []*eventstore.Pending
	var prev *eventstore.Pending
	for w := range 4 {
		var calls [][]eventstore.StreamAppend
		for i := range 1500 {
			call := []eventstore.StreamAppend{{Stream: fmt.Sprintf("w-%d", i%5), Events: []eventstore.NewEvent{ev("E", w*10000+i)}}}
			if w == 1 && i == 700 {
				call[0].Expected = eventstore.NoStream // w-0 has events by then
			}
			calls = append(calls, call)
		}
		prev = s.AppendEach(ctx, calls, prev)
		seq = append(seq, prev)
	}
	for w, p := range seq {
		for i, r := range p.Wait() {
			switch {
			case w == 0 || w == 1 && i < 700:
				if r.Err != nil {
					t.Fatalf("sequence %d call %d: %v", w, i, r.Err)
				}
			case w == 1 && i == 700:
				if !eventstore.IsConflict(r.Err) || errors.Is(r.Err, eventstore.ErrNotAttempted) {
					t.Fatalf("sequence %d call %d: %v, want its conflict", w, i, r.Err)
				}
			default:
				if !errors.Is(r.Err, eventstore.ErrNotAttempted) {
					t.Fatalf("sequence %d call %d: %v, want not attempted", w, i, r.Err)
				}
			}
		}
	}
	if hd := head(t, s); hd.Position != 3005+1500+700 {
		t.Fatalf("head %d, want %d", hd.Position, 3005+1500+700)
	}
	verify(t, s)
}

func testReadEvents(t *testing.T, h Harness) {
	s, _ := open(t, h)
	ctx := context.Background()
	evs := seed(t, s, 1200)
	ids := []uuid.UUID{uuid.New()}
	for i := 0; i < len(evs); i += 2 {
		ids = append(ids, evs[i].ID)
	}
	got, err := s.ReadEvents(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 600 {
		t.Fatalf("read %d events, want the 600 stored of %d ids", len(got), len(ids))
	}
	for i := 0; i < len(evs); i += 2 {
		if e, ok := got[evs[i].ID]; !ok || !sameEvent(e, evs[i]) {
			t.Fatalf("event %s read as %+v, want %+v", evs[i].ID, e, evs[i])
		}
	}
	if got, err := s.ReadEvents(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("no ids: %v %v", got, err)
	}
}

// testReadFold: a fold's read gives, page by page, the fields of ReadAll's
// events that it promises, and nothing else.
func testReadFold(t *testing.T, h Harness) {
	s, _ := open(t, h)
	fr, ok := s.(eventstore.FoldReader)
	if !ok {
		t.Skipf("%T does not implement eventstore.FoldReader", s)
	}
	ctx := context.Background()
	at := time.Date(2020, 2, 1, 8, 30, 15, 123456000, time.UTC)
	for i := range 25 {
		mustAppend(t, s, eventstore.StreamAppend{Stream: fmt.Sprintf("p-%d", i%4), Events: []eventstore.NewEvent{
			{Type: fmt.Sprintf("T%d", i%3), SchemaVersion: 1 + i%2, OccurredAt: at.Add(time.Duration(i) * time.Hour),
				Payload: payload(map[string]any{"n": i, "s": "深圳 \"gate\""}), Metadata: payload(map[string]int{"m": i}), Actor: "test"},
			ev("E", i),
		}})
	}
	want := readAll(t, s)
	var got []eventstore.Event
	var after int64
	for {
		page, err := fr.ReadFold(ctx, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 7 {
			t.Fatalf("a page of %d events, limit 7", len(page))
		}
		got = append(got, page...)
		after = page[len(page)-1].Position
	}
	if len(got) != len(want) {
		t.Fatalf("read %d events, ReadAll %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Position != w.Position || g.ID != w.ID || g.Type != w.Type || g.SchemaVersion != w.SchemaVersion ||
			!g.OccurredAt.Equal(w.OccurredAt) || !g.RecordedAt.Equal(w.RecordedAt) || !bytes.Equal(g.Payload, w.Payload) {
			t.Fatalf("event %d read as %+v, ReadAll %+v", i, g, w)
		}
		if g.OccurredAt.Location() != time.UTC || g.RecordedAt.Location() != time.UTC {
			t.Fatalf("event %d: times not in UTC: %v %v", i, g.OccurredAt, g.RecordedAt)
		}
		if g.Stream != "" || g.Metadata != nil || g.Hash != ([32]byte{}) || g.Actor != "" {
			t.Fatalf("event %d: fields a fold does not read are filled: %+v", i, g)
		}
	}
	if !want[2].OccurredAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("occurred_at %v, want %v", want[2].OccurredAt, at.Add(time.Hour))
	}
	all, err := fr.ReadFold(ctx, 10, -1)
	if err != nil || len(all) != len(want)-10 || all[0].Position != 11 {
		t.Fatalf("unlimited read after 10: %d events, %v", len(all), err)
	}
	if all, err := s.ReadAll(ctx, 10, -1); err != nil || len(all) != len(want)-10 {
		t.Fatalf("unlimited ReadAll after 10: %d events, %v", len(all), err)
	}
	if none, err := fr.ReadFold(ctx, 0, 0); err != nil || len(none) != 0 {
		t.Fatalf("limit 0: %d events, %v", len(none), err)
	}
}

func testBadInput(t *testing.T, h Harness) {
	s, _ := open(t, h)
	mustAppend(t, s, eventstore.StreamAppend{Stream: "s", Events: []eventstore.NewEvent{ev("E", 1)}})
	good := ev("E", 2)
	cases := []struct {
		name    string
		appends []eventstore.StreamAppend
		code    string
	}{
		{"empty stream name", []eventstore.StreamAppend{{Stream: " ", Events: []eventstore.NewEvent{good}}}, domain.Invalid},
		{"unknown expected-version form", []eventstore.StreamAppend{{Stream: "s", Expected: eventstore.Exactly(-3), Events: []eventstore.NewEvent{good}}}, domain.Invalid},
		{"payload not JSON", []eventstore.StreamAppend{{Stream: "s", Events: []eventstore.NewEvent{{Type: "E", Payload: json.RawMessage(`{"a":`)}}}}, domain.Invalid},
		{"metadata not an object", []eventstore.StreamAppend{{Stream: "s", Events: []eventstore.NewEvent{{Type: "E", Payload: payload(1), Metadata: json.RawMessage(`[1]`)}}}}, domain.Invalid},
		{"empty type", []eventstore.StreamAppend{{Stream: "s", Events: []eventstore.NewEvent{{Payload: payload(1)}}}}, domain.Invalid},
		{"no events", []eventstore.StreamAppend{{Stream: "s"}}, domain.Invalid},
		{"only conditions", []eventstore.StreamAppend{{Stream: "s", Expected: eventstore.Exactly(1)}, {Stream: "t", Expected: eventstore.NoStream}}, domain.Invalid},
		{"nothing", nil, domain.Invalid},
		{"stream twice", []eventstore.StreamAppend{{Stream: "s", Events: []eventstore.NewEvent{good}}, {Stream: "s", Events: []eventstore.NewEvent{good}}}, domain.Invalid},
		{"NUL in a stream name", []eventstore.StreamAppend{{Stream: "a\x00b", Events: []eventstore.NewEvent{good}}}, domain.Invalid},
		{"invalid UTF-8 in a type", []eventstore.StreamAppend{{Stream: "s", Events: []eventstore.NewEvent{{Type: "E\xff", Payload: payload(1)}}}}, domain.Invalid},
		{"invalid UTF-8 in a payload", []eventstore.StreamAppend{{Stream: "s", Events: []eventstore.NewEvent{{Type: "E", Payload: json.RawMessage("\"\xff\"")}}}}, domain.Invalid},
		{"schema version out of range", []eventstore.StreamAppend{{Stream: "s", Events: []eventstore.NewEvent{{Type: "E", Payload: payload(1), SchemaVersion: 1 << 40}}}}, domain.Invalid},
		{"occurred before year 1", []eventstore.StreamAppend{{Stream: "s", Events: []eventstore.NewEvent{{Type: "E", Payload: payload(1), OccurredAt: time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC)}}}}, domain.Invalid},
		{"wrong expected version", []eventstore.StreamAppend{{Stream: "s", Expected: eventstore.Exactly(7), Events: []eventstore.NewEvent{good}}}, domain.Conflict},
		{"valid stream with a bad one", []eventstore.StreamAppend{{Stream: "t", Events: []eventstore.NewEvent{good}}, {Stream: "", Events: []eventstore.NewEvent{good}}}, domain.Invalid},
	}
	for _, tc := range cases {
		_, err := s.Append(context.Background(), tc.appends...)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if got := domain.ErrorCode(err); got != tc.code {
			t.Errorf("%s: error %v has code %q, want %q", tc.name, err, got, tc.code)
		}
		if msg := domain.ErrorMessage(err); len(msg) < 10 {
			t.Errorf("%s: message %q does not say what to do", tc.name, msg)
		}
	}
	if _, err := eventstore.ParseExpected("sometimes"); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("ParseExpected(sometimes): %v, want invalid", err)
	}
	if hd := head(t, s); hd.Position != 1 {
		t.Fatalf("head %d: rejected appends wrote events", hd.Position)
	}
}

func testIdempotent(t *testing.T, h Harness) {
	s, _ := open(t, h)
	id1, id2 := uuid.New(), uuid.New()
	call := eventstore.StreamAppend{Stream: "s", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{
		{ID: id1, Type: "E", Payload: payload(1)}, {ID: id2, Type: "E", Payload: payload(2)}}}
	first := mustAppend(t, s, call)
	mustAppend(t, s, eventstore.StreamAppend{Stream: "other", Events: []eventstore.NewEvent{ev("E", 3)}})
	// The retry's expected version no longer holds; it must still be a no-op.
	again := mustAppend(t, s, call)
	if len(again) != 2 || !sameEvent(again[0], first[0]) || !sameEvent(again[1], first[1]) {
		t.Fatalf("re-append returned %+v, want the original events %+v", again, first)
	}
	if hd := head(t, s); hd.Position != 3 {
		t.Fatalf("head %d after an idempotent re-append, want 3", hd.Position)
	}
	changed := call
	changed.Events = []eventstore.NewEvent{{ID: id1, Type: "E", Payload: payload(1)}, {ID: id2, Type: "E", Payload: payload(99)}}
	_, err := s.Append(context.Background(), changed)
	wantCode(t, err, domain.Conflict)
	partial := eventstore.StreamAppend{Stream: "s", Events: []eventstore.NewEvent{{ID: id1, Type: "E", Payload: payload(1)}, {ID: uuid.New(), Type: "E", Payload: payload(5)}}}
	_, err = s.Append(context.Background(), partial)
	wantCode(t, err, domain.Conflict)
	// Two identical calls in flight at once: one appends, the other is a no-op.
	id3 := uuid.New()
	var wg sync.WaitGroup
	results := make([][]eventstore.Event, 8)
	for i := range results {
		wg.Go(func() {
			out, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: "t", Events: []eventstore.NewEvent{{ID: id3, Type: "E", Payload: payload(7)}}})
			if err != nil {
				t.Errorf("concurrent retry %d: %v", i, err)
			}
			results[i] = out
		})
	}
	wg.Wait()
	for _, r := range results {
		if len(r) != 1 || r[0].Position != 4 {
			t.Fatalf("concurrent identical appends: %+v, want all at position 4", results)
		}
	}
	if hd := head(t, s); hd.Position != 4 {
		t.Fatalf("head %d, want 4", hd.Position)
	}
}

func testRacingSameVersion(t *testing.T, h Harness) {
	s, _ := open(t, h)
	mustAppend(t, s, eventstore.StreamAppend{Stream: "guardian", Events: []eventstore.NewEvent{ev("E", 0)}})
	const racers = 50
	var wins, conflicts atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			_, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: "guardian", Expected: eventstore.Exactly(1), Events: []eventstore.NewEvent{ev("E", i)}})
			switch {
			case err == nil:
				wins.Add(1)
			case eventstore.IsConflict(err):
				conflicts.Add(1)
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != racers-1 {
		t.Fatalf("%d wins and %d conflicts, want 1 and %d", wins.Load(), conflicts.Load(), racers-1)
	}
	evs, _ := s.ReadStream(context.Background(), "guardian", 0)
	if len(evs) != 2 {
		t.Fatalf("guardian stream has %d events, want 2", len(evs))
	}
}

func testConcurrentTail(t *testing.T, h Harness) {
	s, _ := open(t, h)
	const writers, perWriter, streams = 16, 150, 40
	total := int64(writers * perWriter)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []eventstore.Event
	tailDone := make(chan error, 1)
	go func() {
		var last int64
		tailDone <- s.Subscribe(ctx, 0, func(e eventstore.Event) error {
			if e.Position != last+1 {
				return fmt.Errorf("subscriber saw position %d after %d", e.Position, last)
			}
			last = e.Position
			seen = append(seen, e)
			if last == total {
				cancel()
			}
			return nil
		})
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range perWriter {
				stream := fmt.Sprintf("stream-%d", rng.IntN(streams))
				if _, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: stream, Events: []eventstore.NewEvent{ev("E", w*perWriter+i)}}); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-tailDone:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("subscriber: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("subscriber saw %d of %d events within a minute", len(seen), total)
	}
	if int64(len(seen)) != total {
		t.Fatalf("subscriber saw %d events, want %d", len(seen), total)
	}
	versions := map[string]int64{}
	payloads := map[string]bool{}
	for _, e := range seen {
		versions[e.Stream]++
		if e.StreamVersion != versions[e.Stream] {
			t.Fatalf("stream %s: version %d after %d", e.Stream, e.StreamVersion, versions[e.Stream]-1)
		}
		payloads[string(e.Payload)] = true
	}
	if len(payloads) != int(total) {
		t.Fatalf("%d distinct payloads among %d events: some appends were lost or doubled", len(payloads), total)
	}
	if r := verify(t, s); !r.OK || r.Checked != total {
		t.Fatalf("verify after concurrent appends: %+v", r)
	}
}

func testLargePayload(t *testing.T, h Harness) {
	s, _ := open(t, h)
	big := payload(map[string]string{"blob": strings.Repeat("x", 1<<20)})
	out := mustAppend(t, s, eventstore.StreamAppend{Stream: "big", Events: []eventstore.NewEvent{{Type: "Big", Payload: big}, ev("E", 1)}})
	evs, err := s.ReadStream(context.Background(), "big", 0)
	if err != nil || len(evs) != 2 || !bytes.Equal(evs[0].Payload, big) || evs[0].Hash != out[0].Hash {
		t.Fatalf("1 MiB payload did not round-trip: %v", err)
	}
	if r := verify(t, s); !r.OK {
		t.Fatalf("verify: %+v", r)
	}
}

func testCancellation(t *testing.T, h Harness) {
	s, _ := open(t, h)
	const calls = 200
	ids := make([][]uuid.UUID, calls)
	var wg sync.WaitGroup
	for i := range calls {
		ids[i] = []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(3000))*time.Microsecond)
			defer cancel()
			evs := make([]eventstore.NewEvent, 3)
			for j := range evs {
				evs[j] = eventstore.NewEvent{ID: ids[i][j], Type: "E", Payload: payload([]int{i, j})}
			}
			_, _ = s.Append(ctx, eventstore.StreamAppend{Stream: fmt.Sprintf("c-%d", i%7), Events: evs[:2]},
				eventstore.StreamAppend{Stream: fmt.Sprintf("d-%d", i%5), Events: evs[2:]})
		})
	}
	wg.Wait()
	// Appends still queued when their caller gave up may commit a moment later.
	time.Sleep(200 * time.Millisecond)
	present := map[uuid.UUID]bool{}
	for _, e := range readAll(t, s) {
		present[e.ID] = true
	}
	committed := 0
	for i, call := range ids {
		n := 0
		for _, id := range call {
			if present[id] {
				n++
			}
		}
		if n != 0 && n != 3 {
			t.Fatalf("call %d: %d of its 3 events are in the ledger: a cancelled append was half-applied", i, n)
		}
		if n == 3 {
			committed++
		}
	}
	t.Logf("%d of %d calls committed before their contexts ended", committed, calls)
	if r := verify(t, s); !r.OK {
		t.Fatalf("verify after cancellations: %+v", r)
	}
	if _, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: "after", Events: []eventstore.NewEvent{ev("E", 1)}}); err != nil {
		t.Fatalf("append after cancellations: %v", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(cancelled, eventstore.StreamAppend{Stream: "x", Events: []eventstore.NewEvent{ev("E", 1)}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("append with a cancelled context: %v", err)
	}
}

func testRecordedAt(t *testing.T, h Harness) {
	s, _ := open(t, h)
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	first := mustAppend(t, s, eventstore.StreamAppend{Stream: "i", Events: []eventstore.NewEvent{{Type: "E", Payload: payload(1), RecordedAt: past}}})
	if !first[0].RecordedAt.Equal(past) {
		t.Fatalf("recorded_at %v, want the imported %v", first[0].RecordedAt, past)
	}
	for _, bad := range []time.Time{past.Add(-time.Second), time.Now().Add(time.Hour)} {
		_, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: "i", Events: []eventstore.NewEvent{{Type: "E", Payload: payload(2), RecordedAt: bad}}})
		wantCode(t, err, domain.Invalid)
	}
	if hd := head(t, s); hd.Position != 1 {
		t.Fatalf("rejected imports wrote events: head %d", hd.Position)
	}
}

func testReopen(t *testing.T, h Harness) {
	loc := h.NewLocation(t)
	s, err := h.Open(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, eventstore.StreamAppend{Stream: "a", Events: []eventstore.NewEvent{ev("E", 1), ev("E", 2)}})
	before := head(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: "a", Events: []eventstore.NewEvent{ev("E", 3)}}); err == nil {
		t.Fatalf("append after close succeeded")
	}
	s = reopen(t, h, loc)
	if hd := head(t, s); hd.Position != before.Position || hd.Hash != before.Hash || !hd.RecordedAt.Equal(before.RecordedAt) {
		t.Fatalf("head after reopen %+v, want %+v", hd, before)
	}
	out := mustAppend(t, s, eventstore.StreamAppend{Stream: "a", Expected: eventstore.Exactly(2), Events: []eventstore.NewEvent{ev("E", 3)}})
	if out[0].Position != 3 || out[0].StreamVersion != 3 || out[0].PrevHash != before.Hash {
		t.Fatalf("append after reopen: %+v", out[0])
	}
	if r := verify(t, s); !r.OK {
		t.Fatalf("verify: %+v", r)
	}
}

func testRelay(t *testing.T, h Harness) {
	s, _ := open(t, h)
	pubsub := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 1024, BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	defer pubsub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs, err := pubsub.Subscribe(ctx, eventstore.DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	mustAppend(t, s, eventstore.StreamAppend{Stream: "early", Events: []eventstore.NewEvent{ev("E", -1)}})
	relayDone := make(chan error, 1)
	go func() { relayDone <- (&eventstore.Relay{Store: s, Publisher: pubsub}).Run(ctx, 0) }()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range n / 4 {
				if _, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: fmt.Sprintf("w%d", w), Events: []eventstore.NewEvent{ev("E", i)}}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	var last int64
	timeout := time.After(60 * time.Second)
	for last < n+1 {
		select {
		case m := <-msgs:
			e, err := eventstore.FromMessage(m)
			if err != nil {
				t.Fatal(err)
			}
			if e.Position != last+1 || m.UUID != e.ID.String() || m.Metadata.Get(eventstore.MetaPosition) != fmt.Sprint(e.Position) {
				t.Fatalf("message for position %d (uuid %s) after %d", e.Position, m.UUID, last)
			}
			last = e.Position
			m.Ack()
		case err := <-relayDone:
			t.Fatalf("relay stopped: %v", err)
		case <-timeout:
			t.Fatalf("relay delivered %d of %d events", last, n+1)
		}
	}
	wg.Wait()
}

// seed appends n events over a few streams and returns the store's events.
func seed(t *testing.T, s eventstore.Store, n int) []eventstore.Event {
	t.Helper()
	for i := range n {
		mustAppend(t, s, eventstore.StreamAppend{Stream: fmt.Sprintf("p-%d", i%3), Events: []eventstore.NewEvent{ev("E", 10+i)}})
	}
	return readAll(t, s)
}

func wantBad(t *testing.T, s eventstore.Store, pos int64) {
	t.Helper()
	r := verify(t, s)
	if r.OK || r.FirstBad != pos {
		t.Fatalf("verify: %+v, want the first bad position %d", r, pos)
	}
	t.Logf("verify reports position %d: %s", r.FirstBad, r.Reason)
}

func testTamperPayload(t *testing.T, h Harness) {
	s, loc := open(t, h)
	seed(t, s, 20)
	h.Tamper.ChangePayloadByte(t, loc, 13)
	wantBad(t, s, 13)
}

func testTamperDelete(t *testing.T, h Harness) {
	s, loc := open(t, h)
	seed(t, s, 20)
	h.Tamper.DeleteRow(t, loc, 7)
	wantBad(t, s, 7)
	s2, loc2 := open(t, h)
	seed(t, s2, 5)
	h.Tamper.DeleteRow(t, loc2, 5) // the last row: only the head still knows it
	wantBad(t, s2, 5)
}

func testTamperSwap(t *testing.T, h Harness) {
	s, loc := open(t, h)
	seed(t, s, 20)
	h.Tamper.SwapRows(t, loc, 9, 15)
	wantBad(t, s, 9)
}

func testRewrite(t *testing.T, h Harness) {
	s, loc := open(t, h)
	evs := seed(t, s, 30)
	key := testKey()
	stmt := eventstore.SignHead(head(t, s), key, time.Now())
	if r, err := eventstore.VerifyAgainst(context.Background(), s, stmt); err != nil || !r.OK {
		t.Fatalf("verify against a fresh statement: %+v %v", r, err)
	}
	// Rewrite the last 10 events and recompute the chain, as an
	// administrator with database access could.
	rewritten := append([]eventstore.Event(nil), evs[20:]...)
	prev := evs[19].Hash
	for i := range rewritten {
		e := &rewritten[i]
		e.Payload = payload(map[string]int{"n": -i})
		e.PrevHash = prev
		e.Hash = eventstore.ComputeHash(prev, e)
		prev = e.Hash
	}
	last := rewritten[len(rewritten)-1]
	h.Tamper.Overwrite(t, loc, rewritten, eventstore.Head{Position: last.Position, Hash: last.Hash, RecordedAt: last.RecordedAt})
	if r := verify(t, s); !r.OK {
		t.Fatalf("the recomputed chain should verify on its own (that is the attack): %+v", r)
	}
	r, err := eventstore.VerifyAgainst(context.Background(), s, stmt)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || r.FirstBad != stmt.Position {
		t.Fatalf("verify against the statement after a rewrite: %+v, want a failure at %d", r, stmt.Position)
	}
	if err := stmt.Check(key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("statement signature: %v", err)
	}
	forged := stmt
	forged.Hash = last.Hash
	if err := forged.Check(key.Public().(ed25519.PublicKey)); domain.ErrorCode(err) != domain.Invalid {
		t.Fatalf("a statement altered to match the rewrite still checks: %v", err)
	}
}
