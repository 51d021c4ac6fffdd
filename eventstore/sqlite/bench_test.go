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
func BenchmarkAppendGroupCommit(b *testing.B) {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Dir: b.TempDir(), Synchronous: os.Getenv("SYNC")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := json.RawMessage(`{"checkpoint_id":"5f0c6a8e-1b7e-4a53-9d57-2f4e2b8f4a10","person_id":"0b8e2b36-6a3f-4d0e-8a59-4c0f3f6e7d21","method":"qr","temperature_celsius":36.6,"decision":"admitted","reason":"green"}`)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan int, 1024)
	for range 256 {
		wg.Go(func() {
			for i := range work {
				_, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: fmt.Sprintf("person-%d", rand.IntN(100000)),
					Events: []eventstore.NewEvent{{Type: "ScanRecorded", Payload: payload, Actor: "checkpoint"}}})
				if err != nil {
					b.Error(i, err)
				}
			}
		})
	}
	for i := range b.N {
		work <- i
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppendBulk measures Append calls of 1,000 events each, four in
// flight, as a bulk import makes them.
func BenchmarkAppendBulk(b *testing.B) {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Dir: b.TempDir(), Synchronous: os.Getenv("SYNC")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := json.RawMessage(`{"checkpoint_id":"5f0c6a8e-1b7e-4a53-9d57-2f4e2b8f4a10","person_id":"0b8e2b36-6a3f-4d0e-8a59-4c0f3f6e7d21","method":"qr","temperature_celsius":36.6,"decision":"admitted","reason":"green"}`)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan int, 16)
	for range 4 {
		wg.Go(func() {
			for n := range work {
				appends := make([]eventstore.StreamAppend, 0, n)
				seen := map[string]bool{}
				for range n {
					stream := fmt.Sprintf("person-%d", rand.IntN(100000))
					if seen[stream] {
						continue
					}
					seen[stream] = true
					appends = append(appends, eventstore.StreamAppend{Stream: stream,
						Events: []eventstore.NewEvent{{Type: "ScanRecorded", Payload: payload, Actor: "checkpoint"}}})
				}
				if _, err := s.Append(context.Background(), appends...); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := 0; i < b.N; i += 1000 {
		work <- min(1000, b.N-i)
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
