package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/eventstore"
)

// streamCount is how many streams ("person-<n>") the events spread over.
const streamCount = 100_000

// eventType is the type every benchmark event carries.
const eventType = "CheckpointScanned"

var (
	methods   = []string{"qr_certificate", "rapid_antigen", "pcr_certificate", "manual_check", "nfc_card"}
	decisions = []string{"admitted", "admitted", "admitted", "admitted", "admitted", "refused"}
	reasons   = map[string]string{"admitted": "valid_certificate", "refused": "expired_certificate", "secondary_screening": "fever"}
)

// workload generates event i deterministically from the seed: the same index
// gives the same stream and payload in every phase and on every run,
// whichever goroutine asks for it.
type workload struct {
	seed uint64
	base time.Time // occurred_at of event 0
}

func newWorkload(seed uint64) *workload {
	return &workload{seed: seed, base: time.Date(2025, 11, 3, 6, 0, 0, 0, time.UTC)}
}

// mix is splitmix64: a seeded PRNG addressable by index.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// gen returns event i: its person number, its stream and the event to append.
// The payload is ~210 bytes of compact JSON shaped like a checkpoint scan.
func (w *workload) gen(i int64) (int, string, eventstore.NewEvent) {
	r := mix(w.seed ^ mix(uint64(i)))
	r2 := mix(r)
	person := int(r % streamCount)
	stream := "person-" + strconv.Itoa(person)
	cp := int(r2 % 64)
	lane := int((r2 >> 8) % 8)
	method := methods[(r2>>16)%uint64(len(methods))]
	temp := 360 + int((r2>>24)%25) // 36.0 .. 38.4 °C
	decision := decisions[(r2>>32)%uint64(len(decisions))]
	if temp >= 380 {
		decision = "secondary_screening"
	}
	at := w.base.Add(time.Duration(i) * 10 * time.Millisecond)

	b := make([]byte, 0, 256)
	b = append(b, `{"checkpoint_id":"cp-`...)
	b = appendPadded(b, cp, 4)
	b = append(b, `","lane":`...)
	b = strconv.AppendInt(b, int64(lane), 10)
	b = append(b, `,"device_id":"scanner-`...)
	b = appendPadded(b, cp, 4)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(lane), 10)
	b = append(b, `","person_id":"`...)
	b = append(b, stream...)
	b = append(b, `","method":"`...)
	b = append(b, method...)
	b = append(b, `","temperature_c":`...)
	b = strconv.AppendInt(b, int64(temp/10), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(temp%10), 10)
	b = append(b, `,"decision":"`...)
	b = append(b, decision...)
	b = append(b, `","reason":"`...)
	b = append(b, reasons[decision]...)
	b = append(b, `","scanned_at":"`...)
	b = at.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, `"}`...)

	actor := make([]byte, 0, 16)
	actor = append(actor, "checkpoint-"...)
	actor = appendPadded(actor, cp, 4)
	return person, stream, eventstore.NewEvent{
		Type:       eventType,
		OccurredAt: at,
		Actor:      string(actor),
		Payload:    b,
		Metadata:   []byte(`{"source":"bench"}`),
	}
}

func appendPadded(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// rowMaker builds, for the raw baselines, the rows the store would write for
// the same events: the minimum work a hand-written writer needs to produce
// the same column values (a UUIDv7, the stream's next version, the gapless
// position and the hash chain).
type rowMaker struct {
	w        *workload
	versions []int64
	pos      int64
	prev     eventstore.Hash
}

func newRowMaker(w *workload) *rowMaker {
	return &rowMaker{w: w, versions: make([]int64, streamCount)}
}

func (m *rowMaker) next(i int64, recorded time.Time, e *eventstore.Event) error {
	person, stream, ne := m.w.gen(i)
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	m.pos++
	m.versions[person]++
	*e = eventstore.Event{
		Position: m.pos, ID: id, Stream: stream, StreamVersion: m.versions[person],
		Type: ne.Type, SchemaVersion: 1, OccurredAt: ne.OccurredAt, RecordedAt: recorded,
		Actor: ne.Actor, Payload: ne.Payload, Metadata: ne.Metadata, PrevHash: m.prev,
	}
	e.Hash = eventstore.ComputeHash(m.prev, e)
	m.prev = e.Hash
	return nil
}

// appendRecord encodes e for the raw file log: a length prefix, then every
// envelope field (fixed-width integers, length-prefixed strings), as a
// hand-written append-only log would store it.
func appendRecord(b []byte, e *eventstore.Event) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0) // record length, filled in below
	putBytes := func(v []byte) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(e.Position))
	b = append(b, e.ID[:]...)
	putBytes([]byte(e.Stream))
	b = binary.BigEndian.AppendUint64(b, uint64(e.StreamVersion))
	putBytes([]byte(e.Type))
	b = binary.BigEndian.AppendUint64(b, uint64(e.SchemaVersion))
	b = binary.BigEndian.AppendUint64(b, uint64(e.OccurredAt.UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.RecordedAt.UnixMicro()))
	putBytes([]byte(e.Actor))
	b = append(b, e.CausationID[:]...)
	b = append(b, e.CorrelationID[:]...)
	putBytes(e.Payload)
	putBytes(e.Metadata)
	b = append(b, e.PrevHash[:]...)
	b = append(b, e.Hash[:]...)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

// runResult is one timed run of appends through the store.
type runResult struct {
	events int64
	dur    time.Duration
	lat    []time.Duration // per Append call
}

// appendSingles appends events [start, start+n) with one event per Append
// call from `workers` goroutines, each waiting for its call before making
// the next: with one worker that is one transaction per event.
func appendSingles(ctx context.Context, st eventstore.Store, w *workload, start, n int64, workers int) (runResult, error) {
	return appendCalls(ctx, st, n, n, workers, func(k int64) (int64, int64, []eventstore.StreamAppend) {
		_, stream, ev := w.gen(start + k)
		return start + k, start + k, []eventstore.StreamAppend{{Stream: stream, Events: []eventstore.NewEvent{ev}}}
	})
}

// appendMulti appends events [start, start+n) in calls of callSize events
// (grouped by stream, as one StreamAppend per stream), `workers` calls in
// flight.
func appendMulti(ctx context.Context, st eventstore.Store, w *workload, start, n int64, callSize, workers int) (runResult, error) {
	calls := (n + int64(callSize) - 1) / int64(callSize)
	return appendCalls(ctx, st, n, calls, workers, func(c int64) (int64, int64, []eventstore.StreamAppend) {
		lo, hi := c*int64(callSize), min((c+1)*int64(callSize), n)
		idx := make(map[string]int, hi-lo)
		appends := make([]eventstore.StreamAppend, 0, hi-lo)
		for k := lo; k < hi; k++ {
			_, stream, ev := w.gen(start + k)
			j, ok := idx[stream]
			if !ok {
				j = len(appends)
				idx[stream] = j
				appends = append(appends, eventstore.StreamAppend{Stream: stream})
			}
			appends[j].Events = append(appends[j].Events, ev)
		}
		return start + lo, start + hi - 1, appends
	})
}

// appendCalls makes `calls` Append calls from `workers` goroutines, call c
// built by build (which also names its first and last event, for errors),
// and times each call. The first error stops every worker.
func appendCalls(ctx context.Context, st eventstore.Store, events, calls int64, workers int,
	build func(c int64) (first, last int64, appends []eventstore.StreamAppend)) (runResult, error) {
	lat := make([]time.Duration, calls)
	var next atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	t0 := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				c := next.Add(1) - 1
				if c >= calls || ctx.Err() != nil {
					return
				}
				first, last, appends := build(c)
				t := time.Now()
				_, err := st.Append(ctx, appends...)
				lat[c] = time.Since(t)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("append events %d..%d: %w", first, last, err); cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	dur := time.Since(t0)
	if firstErr != nil {
		return runResult{}, firstErr
	}
	return runResult{events: events, dur: dur, lat: lat}, nil
}

// clock is the stores' clock; the committer reads it once per transaction,
// so counting calls counts transactions (batches).
type clock struct{ calls atomic.Int64 }

func (c *clock) Now() time.Time {
	c.calls.Add(1)
	return time.Now()
}
