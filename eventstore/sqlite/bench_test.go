package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/sqlite"
)

// BenchmarkAppendGroupCommit measures single-event Append calls from 256
// goroutines, batched by the group committer, over 100,000 streams.
// SYNC=NORMAL runs the store with synchronous=NORMAL.
func BenchmarkAppendGroupCommit(b *testing.B) { benchAppend(b, 256, 1) }

// BenchmarkAppendBulk measures Append calls of 1,000 events each, four in
// flight, as a bulk import makes them.
func BenchmarkAppendBulk(b *testing.B) { benchAppend(b, 4, 1000) }

func benchAppend(b *testing.B, callers, perCall int) {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Dir: b.TempDir(), Synchronous: os.Getenv("SYNC")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := json.RawMessage(`{"checkpoint_id":"5f0c6a8e-1b7e-4a53-9d57-2f4e2b8f4a10","person_id":"0b8e2b36-6a3f-4d0e-8a59-4c0f3f6e7d21","method":"qr","temperature_celsius":36.6,"decision":"admitted","reason":"green"}`)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan int, callers)
	for range callers {
		wg.Go(func() {
			for n := range work {
				// One StreamAppend per stream: a stream may appear once per call.
				byStream := map[string]int{}
				var appends []eventstore.StreamAppend
				for range n {
					stream := fmt.Sprintf("person-%d", rand.IntN(100000))
					j, ok := byStream[stream]
					if !ok {
						j = len(appends)
						byStream[stream] = j
						appends = append(appends, eventstore.StreamAppend{Stream: stream})
					}
					appends[j].Events = append(appends[j].Events, eventstore.NewEvent{Type: "ScanRecorded", Payload: payload, Actor: "checkpoint"})
				}
				if _, err := s.Append(context.Background(), appends...); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := 0; i < b.N; i += perCall {
		work <- min(perCall, b.N-i)
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
