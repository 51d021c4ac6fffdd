package storetest

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/eventstore"
)

func testKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
}

// crashCall is the payload of each event the crash child appends: which call
// it belongs to, so the parent can check that no call was half-applied.
type crashCall struct {
	Call string `json:"call"`
	Part int    `json:"part"`
}

// RunChild is the crash test's child process: it appends to the store at
// location from several goroutines, forever, and prints "ok ID ID" after
// each Append that returned success. The parent kills it with SIGKILL.
func RunChild(open func(ctx context.Context, location string) (eventstore.Store, error), location string) {
	s, err := open(context.Background(), location)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				call := uuid.NewString()
				a, b := uuid.New(), uuid.New()
				_, err := s.Append(context.Background(),
					eventstore.StreamAppend{Stream: fmt.Sprintf("crash-%d", w), Events: []eventstore.NewEvent{
						{ID: a, Type: "Crash", Payload: payload(crashCall{call, 1})}}},
					eventstore.StreamAppend{Stream: fmt.Sprintf("crash-shared-%d", i%3), Events: []eventstore.NewEvent{
						{ID: b, Type: "Crash", Payload: payload(crashCall{call, 2})}}})
				if err != nil {
					fmt.Fprintln(os.Stderr, "crash child: append:", err)
					os.Exit(3)
				}
				mu.Lock()
				os.Stdout.WriteString("ok " + a.String() + " " + b.String() + "\n") // one write: whole lines only
				mu.Unlock()
			}
		}()
	}
	select {}
}

func testCrash(t *testing.T, h Harness) {
	if h.ChildEnv == "" {
		t.Fatal("the harness names no ChildEnv for the crash child")
	}
	loc := h.NewLocation(t)
	const rounds = 10
	acked := map[uuid.UUID]bool{}
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), h.ChildEnv+"="+loc)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start child: %v", err)
		}
		lines := make(chan string, 1<<16)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill at a random moment once the child is appending.
		var got []string
		deadline := time.After(60 * time.Second)
		killAfter := 50 + rand.IntN(1500)
	wait:
		for len(got) < killAfter {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: child exited early: %s", round, stderr.String())
				}
				got = append(got, l)
			case <-deadline:
				break wait
			}
		}
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill child: %v", err)
		}
		for l := range lines {
			got = append(got, l)
		}
		_ = cmd.Wait()
		for _, l := range got {
			f := strings.Fields(l)
			if len(f) != 3 || f[0] != "ok" {
				t.Fatalf("round %d: child printed %q", round, l)
			}
			acked[uuid.MustParse(f[1])] = true
			acked[uuid.MustParse(f[2])] = true
		}

		s, err := h.Open(context.Background(), loc)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		present := map[uuid.UUID]bool{}
		parts := map[string]int{}
		for _, e := range readAll(t, s) {
			present[e.ID] = true
			var c crashCall
			if err := json.Unmarshal(e.Payload, &c); err != nil {
				t.Fatalf("payload at %d: %v", e.Position, err)
			}
			parts[c.Call]++
		}
		for id := range acked {
			if !present[id] {
				t.Fatalf("round %d: event %s was acknowledged to the child but is not in the ledger", round, id)
			}
		}
		for call, n := range parts {
			if n != 2 {
				t.Fatalf("round %d: call %s has %d of its 2 events: an append was half-applied", round, call, n)
			}
		}
		if r := verify(t, s); !r.OK {
			t.Fatalf("round %d: verify after SIGKILL: %+v", round, r)
		}
		t.Logf("round %d: killed after %d acknowledged appends; ledger holds %d events, all acknowledged present, chain verifies",
			round, len(got), len(present))
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
}
