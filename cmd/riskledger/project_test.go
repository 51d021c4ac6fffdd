package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/internal/pgtest"
	"github.com/riskledger/riskledger/projections"
)

// readModelOf opens the colour read model of a test ledger.
func readModelOf(t *testing.T, l ledger) projections.ReadModel {
	t.Helper()
	ctx := context.Background()
	var m projections.ReadModel
	var err error
	if l.args[0] == "--data" {
		m, err = projections.OpenSQLite(ctx, l.args[1])
	} else {
		m, err = projections.OpenPostgres(ctx, l.args[1], "")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// ledgerHead is the ledger's head position, as `head --json` prints it.
func ledgerHead(t *testing.T, l ledger) int64 {
	t.Helper()
	code, out, errs := l.run(t, "head")
	if code != 0 {
		t.Fatalf("head: %s", errs)
	}
	m := regexp.MustCompile(`"position":\s*(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("head printed %q", out)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

var decisionsRe = regexp.MustCompile(`audit replay: (\d+) colour decisions and (\d+) admissions re-derived up to position \d+: (\d+) mismatches`)

// TestProjectAuditAndRebuild: a simulated city is imported with a few
// scans decided on colours; `project` brings the read model to the head and
// records colour decisions; `audit replay` re-derives every decision and
// admission with no mismatch; `rebuild` gives the same read model.
func TestProjectAuditAndRebuild(t *testing.T) {
	ledgers(t, func(t *testing.T, l ledger) {
		dir := t.TempDir()
		city := filepath.Join(dir, "city.jsonl")
		if code, _, errs := run(t, nil, "simulate", "--people", "300", "--days", "4", "--seed", "3", "--out", city); code != 0 {
			t.Fatalf("simulate: %s", errs)
		}
		if code, out, errs := l.run(t, "import", city); code != 0 {
			t.Fatalf("import: %s %s", out, errs)
		}
		// A person turns red, then shows a code at a subway gate: denied,
		// on the colour the ledger knew just before.
		p, q, cp := "7d3c0e52-3c1e-4e0f-9a51-2d1f5b9e6a01", "7d3c0e52-3c1e-4e0f-9a51-2d1f5b9e6a02", "7d3c0e52-3c1e-4e0f-9a51-2d1f5b9e6a03"
		scans := filepath.Join(dir, "scans.jsonl")
		os.WriteFile(scans, []byte(strings.Join([]string{
			`{"command":"register_checkpoint","at":"2020-02-03T08:00:00+08:00","checkpoint_id":"` + cp + `","name":"Gate 3","kind":"subway","district":"Xuhui"}`,
			`{"command":"register_person","at":"2020-02-03T08:00:00+08:00","person_id":"` + p + `","document":{"type":"resident_id","number":"310101199001010001","country":"CN"},"name":"Li Lei","nationality":"CN"}`,
			`{"command":"register_person","at":"2020-02-03T08:00:00+08:00","person_id":"` + q + `","document":{"type":"resident_id","number":"310101199001010002","country":"CN"},"name":"Han Mei","nationality":"CN"}`,
			`{"command":"report_symptoms","at":"2020-02-03T09:00:00+08:00","person_id":"` + p + `","symptoms":["fever"],"source":"self"}`,
			`{"command":"record_scan","at":"2020-02-03T09:30:00+08:00","checkpoint_id":"` + cp + `","person_id":"` + p + `","method":"qr"}`,
			`{"command":"record_scan","at":"2020-02-03T09:31:00+08:00","checkpoint_id":"` + cp + `","person_id":"` + q + `","method":"qr"}`,
		}, "\n")+"\n"), 0o600)
		code, out, errs := l.run(t, "import", scans)
		if code != 0 {
			t.Fatalf("import of scans: %s %s", out, errs)
		}

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		logs := &syncBuffer{}
		go func() {
			m := NewMain()
			m.Stdout, m.Stderr = logs, logs
			m.Getenv = func(k string) string { return l.env[k] }
			done <- m.Run(ctx, append([]string{"project"}, l.args...))
		}()
		model := readModelOf(t, l)
		deadline := time.Now().Add(2 * time.Minute)
		// At the head and staying there for a second: the worker records its
		// decisions after a settle reaches the head, and then applies them.
		still := 0
		for {
			pos, _ := model.Checkpoint(context.Background())
			if pos > 0 && pos == ledgerHead(t, l) {
				still++
			} else {
				still = 0
			}
			if still == 10 {
				break
			}
			select {
			case code := <-done:
				t.Fatalf("project exited %d: %s", code, logs)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("the projection did not reach the head (checkpoint %d)", pos)
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("project exited %d", code)
		}
		live, err := model.Rows(context.Background())
		if err != nil {
			t.Fatal(err)
		}

		code, out, errs = l.run(t, "audit", "replay")
		m := decisionsRe.FindStringSubmatch(out)
		if code != 0 || m == nil || m[1] == "0" || m[2] != "2" || m[3] != "0" {
			t.Fatalf("audit replay: %d %q %q", code, out, errs)
		}
		code, out, errs = l.run(t, "rebuild")
		if code != 0 || !strings.Contains(out, fmt.Sprintf("%d persons", len(live))) {
			t.Fatalf("rebuild: %d %q %q", code, out, errs)
		}
		rebuilt, err := model.Rows(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(live, rebuilt, bytes.Equal) {
			t.Fatal("the rebuilt read model differs from the live one")
		}
		if rowOf(live, p) == nil || rowOf(live, q) == nil {
			t.Fatal("the read model has no row of the persons who scanned")
		}
		// The admissions re-derived without mismatch were decided on these
		// colours: p red at the gate (so denied), and q, a minute behind,
		// green, and still green after: p's denied scan does not count.
		for _, c := range []struct{ who, at, want string }{
			{p, "2020-02-03T09:30:00+08:00", "red"}, {q, "2020-02-03T09:31:00+08:00", "green"}, {q, "2020-02-03T12:00:00+08:00", "green"},
		} {
			if code, out, errs := l.run(t, "colour", c.who, "--at", c.at); code != 0 || !strings.Contains(out, c.want) {
				t.Fatalf("colour %s at %s: %q %q, want %s", c.who, c.at, out, errs, c.want)
			}
		}
	})
}

// rowOf finds p's row.
func rowOf(rows [][]byte, p string) []byte {
	for _, r := range rows {
		if bytes.Contains(r, []byte(`"person_id":"`+p+`"`)) {
			return r
		}
	}
	return nil
}

// TestProjectWorkerTakesOverAfterSIGKILL: two `project` workers run
// against one PostgreSQL; the owner is killed with SIGKILL while a city is
// being imported; the other takes over, reaches the head, and its read
// model equals a rebuild.
func TestProjectWorkerTakesOverAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a city import (-short)")
	}
	url := pgtest.NewDatabase(t)
	dir := t.TempDir()
	if code, _, errs := run(t, nil, "keys", "init", dir); code != 0 {
		t.Fatalf("keys init: %s", errs)
	}
	l := ledger{args: []string{"--database-url", url}, env: map[string]string{
		"RISKLEDGER_MASTER_KEY_FILE": filepath.Join(dir, "master.key"),
		"RISKLEDGER_HEAD_KEY_FILE":   filepath.Join(dir, "head.key"),
	}}
	// The ledger's tables exist before the workers start.
	if s, err := postgres.Open(context.Background(), postgres.Config{URL: url}); err != nil {
		t.Fatal(err)
	} else {
		s.Close()
	}
	bin := filepath.Join(dir, "riskledger")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	type worker struct {
		cmd *exec.Cmd
		log *syncBuffer
	}
	start := func() worker {
		w := worker{cmd: exec.Command(bin, "project", "--database-url", url, "--lease-poll", "200ms"), log: &syncBuffer{}}
		w.cmd.Env = append(os.Environ(), "RISKLEDGER_MASTER_KEY_FILE="+l.env["RISKLEDGER_MASTER_KEY_FILE"],
			"RISKLEDGER_HEAD_KEY_FILE="+l.env["RISKLEDGER_HEAD_KEY_FILE"])
		w.cmd.Stderr = w.log
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.cmd.Process.Kill(); w.cmd.Wait() })
		return w
	}
	owning := func(w worker) bool { return strings.Contains(w.log.String(), "owning the colour projection") }
	until := func(what string, ok func() bool) {
		deadline := time.Now().Add(2 * time.Minute)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	a := start()
	until("the first worker to own the projection", func() bool { return owning(a) })
	b := start()

	city := filepath.Join(dir, "city.jsonl")
	if code, _, errs := run(t, nil, "simulate", "--people", "1500", "--days", "5", "--seed", "5", "--out", city); code != 0 {
		t.Fatalf("simulate: %s", errs)
	}
	imported := make(chan string, 1)
	go func() {
		code, out, errs := l.run(t, "import", city)
		imported <- fmt.Sprint(code, out, errs)
	}()
	model := readModelOf(t, l)
	until("the owner to project part of the import", func() bool {
		pos, _ := model.Checkpoint(context.Background())
		return pos > 2000
	})
	if owning(b) {
		t.Fatal("both workers own the projection")
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	until("the second worker to take over", func() bool { return owning(b) })
	t.Logf("the second worker took over %s after the SIGKILL", time.Since(killed).Round(time.Millisecond))
	if res := <-imported; !strings.HasPrefix(res, "0") {
		t.Fatalf("import: %s", res)
	}
	until("the read model to reach the head", func() bool {
		pos, _ := model.Checkpoint(context.Background())
		return pos == ledgerHead(t, l)
	})
	b.cmd.Process.Signal(syscall.SIGTERM)
	b.cmd.Wait()
	equalsRebuild(t, l, model, 1500)
}

// equalsRebuild checks that the read model, once no projection runs, holds
// at least min rows and the same rows as `rebuild` makes, and that `audit
// replay` re-derives every recorded decision.
func equalsRebuild(t *testing.T, l ledger, model projections.ReadModel, min int) {
	t.Helper()
	live, err := model.Rows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errs := l.run(t, "rebuild"); code != 0 {
		t.Fatalf("rebuild: %s %s", out, errs)
	}
	rebuilt, _ := model.Rows(context.Background())
	if len(live) < min || !slices.EqualFunc(live, rebuilt, bytes.Equal) {
		t.Fatalf("the live read model (%d rows) differs from the rebuild (%d rows)", len(live), len(rebuilt))
	}
	if code, out, _ := l.run(t, "audit", "replay"); code != 0 {
		t.Fatalf("audit replay: %s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
