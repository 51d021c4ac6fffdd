//go:build faults

// The fault harness: go test -tags faults ./cmd/riskledger. CI runs it at
// the size below; RISKLEDGER_FAULT_KILLS sets another number of kills.

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/httpapi"
)

// TestFaultServeKilledUnderLoad kills `riskledger serve` on the embedded
// store with SIGKILL, 20 times, while clients send commands: every command
// that was answered with success is in the ledger afterwards, the hash
// chain verifies, and once the server runs again its colour read model
// equals a rebuild from position 0.
func TestFaultServeKilledUnderLoad(t *testing.T) {
	kills := 20
	if v := os.Getenv("RISKLEDGER_FAULT_KILLS"); v != "" {
		kills, _ = strconv.Atoi(v)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	bin := filepath.Join(dir, "riskledger")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	type server struct {
		cmd *exec.Cmd
		url string
	}
	start := func() server {
		t.Helper()
		cmd := exec.Command(bin, "serve", "--data", data, "--listen", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "RISKLEDGER_ZONE=Asia/Shanghai")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		r := bufio.NewReader(out)
		line, err := r.ReadString('\n')
		var url string
		if _, scanErr := fmt.Sscanf(line, "riskledger serving on %s", &url); err != nil || scanErr != nil {
			t.Fatalf("serve printed %q: %v", line, err)
		}
		go io.Copy(io.Discard, r)
		return server{cmd: cmd, url: strings.TrimSuffix(url, "/")}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	post := func(url, token, path string, body any) (int, []byte, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", url+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		return resp.StatusCode, out, err
	}

	srv := start()
	var admin string
	for range 100 {
		if b, err := os.ReadFile(filepath.Join(data, AdminTokenFile)); err == nil && len(b) > 0 {
			admin = strings.TrimSpace(string(b))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	must := func(code int, body []byte, err error) []byte {
		t.Helper()
		if err != nil || code/100 != 2 {
			t.Fatalf("%d %s %v", code, body, err)
		}
		return body
	}
	cp := uuid.NewString()
	must(post(srv.url, admin, "/v1/commands/register_checkpoint", map[string]any{"checkpoint_id": cp, "name": "Gate", "kind": "subway", "district": "Xuhui"}))
	var tok httpapi.NewToken
	json.Unmarshal(must(post(srv.url, admin, "/v1/tokens", map[string]any{"role": "checkpoint", "checkpoint_id": cp})), &tok)
	gate := tok.Token
	json.Unmarshal(must(post(srv.url, admin, "/v1/tokens", map[string]any{"role": "clinic"})), &tok)
	clinic := tok.Token

	var mu sync.Mutex
	acked := map[uuid.UUID]bool{}
	var sent, answered int
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range kills {
		if k > 0 {
			srv = start()
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []string
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					var token, path string
					var body map[string]any
					switch {
					case len(mine) == 0 || i%3 == 0:
						p := uuid.NewString()
						token, path = admin, "/v1/commands/register_person"
						body = map[string]any{"person_id": p, "name": "N", "nationality": "CN",
							"document": map[string]any{"type": "passport", "number": p, "country": "FR"}}
						mine = append(mine, p)
					case i%7 == 1:
						token, path = clinic, "/v1/commands/record_diagnosis"
						body = map[string]any{"person_id": mine[len(mine)-1], "result": "confirmed"}
					default:
						token, path = gate, "/v1/commands/record_scan"
						body = map[string]any{"checkpoint_id": cp, "person_id": mine[i%len(mine)], "method": "manual", "temperature_celsius": 36.4 + float64(g)/10}
					}
					code, out, err := post(srv.url, token, path, body)
					mu.Lock()
					sent++
					if err == nil && (code == http.StatusCreated || code == http.StatusOK) {
						answered++
						var r httpapi.CommandResult
						if json.Unmarshal(out, &r) != nil || len(r.Events) == 0 {
							t.Errorf("a success without events: %s", out)
						}
						for _, e := range r.Events {
							acked[e.ID] = true
						}
					}
					mu.Unlock()
					if err != nil {
						time.Sleep(20 * time.Millisecond) // the server is down
					}
				}
			}()
		}
		time.Sleep(time.Duration(150+rng.IntN(250)) * time.Millisecond)
		srv.cmd.Process.Signal(syscall.SIGKILL)
		srv.cmd.Wait()
		close(stop)
		wg.Wait()
	}
	t.Logf("%d kills; %d commands sent, %d answered with success, %d events acknowledged", kills, sent, answered, len(acked))
	if answered == 0 {
		t.Fatal("no command succeeded")
	}

	if code, out, errs := run(t, nil, "verify", "--data", data); code != 0 {
		t.Fatalf("verify after the kills: %d %q %q", code, out, errs)
	}
	store, err := sqlite.Open(context.Background(), sqlite.Config{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	inLedger(t, store, acked)

	// Once more: the projection catches up with the head, and its read
	// model equals a rebuild.
	srv = start()
	l := ledger{args: []string{"--data", data}}
	model := readModelOf(t, l)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pos, _ := model.Checkpoint(context.Background())
		if pos > 0 && pos == ledgerHead(t, l) {
			time.Sleep(300 * time.Millisecond) // decisions the catch-up records move the head once more
			if again, _ := model.Checkpoint(context.Background()); again == ledgerHead(t, l) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the read model did not reach the head (%d of %d)", pos, ledgerHead(t, l))
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()
	equalsRebuild(t, l, model, 1)
}

// privatePostgres starts a PostgreSQL cluster of the test's own (initdb,
// on a free port, as the postgres user), so that restarting it disturbs
// no other test; it returns the URL and a function that runs pg_ctl.
func privatePostgres(t *testing.T) (url string, pgctl func(args ...string)) {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Fatal("initdb is not installed")
	}
	binDir := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "rl-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	asPostgres := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(binDir, name)}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	asPostgres("initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on", port, dir)
	pgctl = func(args ...string) {
		t.Helper()
		asPostgres("pg_ctl", append([]string{"-D", filepath.Join(dir, "data"), "-o", opts, "-l", filepath.Join(dir, "log"), "-w"}, args...)...)
	}
	pgctl("start")
	t.Cleanup(func() { pgctl("stop", "-m", "immediate") })
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), pgctl
}

// TestFaultPostgresRestartedUnderLoad restarts the PostgreSQL server under
// a running `riskledger serve` while clients send commands: clients see
// errors while it is down, never a success that was not stored; the
// service reconnects by itself (commands succeed again, the colour
// projection and the change feed go on), and the chain verifies.
func TestFaultPostgresRestartedUnderLoad(t *testing.T) {
	url, pgctl := privatePostgres(t)
	dir := t.TempDir()
	if code, _, errs := run(t, nil, "keys", "init", dir); code != 0 {
		t.Fatalf("keys init: %s", errs)
	}
	l := ledger{args: []string{"--database-url", url}, env: map[string]string{
		"RISKLEDGER_MASTER_KEY_FILE": filepath.Join(dir, "master.key"),
		"RISKLEDGER_HEAD_KEY_FILE":   filepath.Join(dir, "head.key"),
		"RISKLEDGER_ISSUER_KEY_FILE": filepath.Join(dir, "issuer.key"),
	}}
	s := serve(t, l)
	cp := uuid.NewString()
	s.command(t, s.admin, "register_checkpoint", map[string]any{"checkpoint_id": cp, "name": "Gate", "kind": "subway", "district": "Xuhui"})
	clinic, issuance := s.token(t, "clinic"), s.token(t, "issuance")

	var mu sync.Mutex
	acked := map[uuid.UUID]bool{}
	var afterRestart int
	restarted := false
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := uuid.NewString()
				code, out := s.do(t, "POST", "/v1/commands/register_person", s.admin, map[string]any{"person_id": p, "name": "N", "nationality": "CN",
					"document": map[string]any{"type": "passport", "number": p, "country": "FR"}})
				mu.Lock()
				if code == http.StatusCreated {
					var r httpapi.CommandResult
					json.Unmarshal(out, &r)
					for _, e := range r.Events {
						acked[e.ID] = true
					}
					if restarted {
						afterRestart++
					}
				} else if code != http.StatusServiceUnavailable && code != http.StatusInternalServerError {
					t.Errorf("while the database restarts: %d %s", code, out)
				}
				mu.Unlock()
				if code != http.StatusCreated {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	pgctl("restart", "-m", "immediate")
	mu.Lock()
	restarted = true
	mu.Unlock()
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := afterRestart
		mu.Unlock()
		if n >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d commands succeeded in the minute after the restart: the service did not reconnect", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	// The projection and the feed go on: a diagnosis made now turns its
	// person red in the read model and reaches the feed.
	p := uuid.NewString()
	s.command(t, s.admin, "register_person", map[string]any{"person_id": p, "name": "N", "nationality": "CN",
		"document": map[string]any{"type": "passport", "number": p, "country": "FR"}})
	s.command(t, clinic, "record_diagnosis", map[string]any{"person_id": p, "result": "confirmed"})
	eventually(t, func() string {
		code, body := s.do(t, "GET", "/v1/persons/"+p+"/colour", issuance, nil)
		if code != 200 || !strings.Contains(string(body), `"colour":"red"`) {
			return fmt.Sprintf("the colour after the restart: %d %s", code, body)
		}
		code, body = s.do(t, "GET", "/v1/feed/colours?after=0&limit=10000", issuance, nil)
		if code != 200 || !strings.Contains(string(body), p) {
			return fmt.Sprintf("the feed after the restart has no change of %s: %d", p, code)
		}
		return ""
	})
	s.stop()

	store, err := postgres.Open(context.Background(), postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	inLedger(t, store, acked)
	t.Logf("%d events acknowledged, %d commands after the restart", len(acked), afterRestart)
	if code, out, errs := l.run(t, "verify"); code != 0 {
		t.Fatalf("verify: %d %q %q", code, out, errs)
	}
}

// TestFaultDiskFull runs serve on a data directory of a few megabytes (a
// tmpfs) until the disk is full: the commands that do not fit get a clear
// error (503, a sentence about the disk), none of them a false success;
// with room again, the ledger verifies, holds every acknowledged event and
// takes commands again.
func TestFaultDiskFull(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(data, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	l := ledger{args: []string{"--data", data}}
	s := serve(t, l)
	acked := map[uuid.UUID]bool{}
	var refusal string
	for i := 0; i < 100000 && refusal == ""; i++ {
		p := uuid.NewString()
		code, out := s.do(t, "POST", "/v1/commands/register_person", s.admin, map[string]any{"person_id": p, "name": strings.Repeat("N", 200), "nationality": "CN",
			"document": map[string]any{"type": "passport", "number": p, "country": "FR"}})
		switch code {
		case http.StatusCreated:
			var r httpapi.CommandResult
			json.Unmarshal(out, &r)
			for _, e := range r.Events {
				acked[e.ID] = true
			}
		default:
			refusal = fmt.Sprintf("%d %s", code, out)
		}
	}
	t.Logf("%d events acknowledged; then %s", len(acked), refusal)
	if !strings.HasPrefix(refusal, "503 ") || !strings.Contains(refusal, `"code":"unavailable"`) || !strings.Contains(refusal, "disk") {
		t.Errorf("a command that does not fit: %s, want 503 unavailable saying the disk is full", refusal)
	}
	for range 5 {
		if code, out := s.do(t, "POST", "/v1/commands/register_person", s.admin, map[string]any{"person_id": uuid.NewString(), "name": "N", "nationality": "CN",
			"document": map[string]any{"type": "passport", "number": uuid.NewString(), "country": "FR"}}); code == http.StatusCreated {
			var r httpapi.CommandResult
			json.Unmarshal(out, &r)
			for _, e := range r.Events {
				acked[e.ID] = true
			}
		}
	}
	s.stop()
	if out, err := exec.Command("mount", "-o", "remount,size=64m", data).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v %s", err, out)
	}
	if code, out, errs := run(t, nil, "verify", "--data", data); code != 0 {
		t.Fatalf("verify after the disk filled: %d %q %q", code, out, errs)
	}
	store, err := sqlite.Open(context.Background(), sqlite.Config{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	inLedger(t, store, acked)
	s = serve(t, l)
	s.command(t, s.admin, "register_checkpoint", map[string]any{"checkpoint_id": uuid.NewString(), "name": "Gate", "kind": "subway", "district": "Xuhui"})
}

// TestFaultReadOnlyDataDirectory: serve refuses to start on a data
// directory it cannot write (a read-only bind mount: file modes do not
// stop root), with a message that says so, and changes nothing.
func TestFaultReadOnlyDataDirectory(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if code, _, errs := run(t, nil, "import", "--data", data, writeLines(t, `{"command":"register_checkpoint","at":"2020-03-01T08:00:00+08:00","checkpoint_id":"9c4d5e6f-7a8b-4c3d-9e4f-5a6b7c8d9eaf","name":"Gate","kind":"subway","district":"Xuhui"}`)); code != 0 {
		t.Fatalf("import: %s", errs)
	}
	before, _ := exec.Command("sh", "-c", "cd "+data+" && find . -type f -exec sha256sum {} + | sort").Output()
	for _, args := range [][]string{{"mount", "--bind", data, data}, {"mount", "-o", "remount,bind,ro", data}} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	code, out, errs := run(t, nil, "serve", "--data", data, "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(strings.ToLower(errs), "read-only") {
		t.Errorf("serve on a read-only data directory: %d %q %q", code, out, errs)
	}
	if code, out, errs := run(t, nil, "verify", "--data", data); code != 0 {
		t.Errorf("verify (a reader) on the read-only directory: %d %q %q", code, out, errs)
	}
	after, _ := exec.Command("sh", "-c", "cd "+data+" && find . -type f -exec sha256sum {} + | sort").Output()
	if !bytes.Equal(before, after) {
		t.Errorf("the data directory changed:\n%s\n%s", before, after)
	}
}

// writeLines writes a command file.
func writeLines(t *testing.T, lines ...string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "lines.jsonl")
	if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// inLedger checks that every acknowledged event is in the ledger, and
// closes store.
func inLedger(t *testing.T, store eventstore.Store, acked map[uuid.UUID]bool) {
	t.Helper()
	defer store.Close()
	ids := slices.Collect(maps.Keys(acked))
	found, err := store.ReadEvents(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, id := range ids {
		if _, ok := found[id]; !ok {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged events are not in the ledger", missing, len(ids))
	}
}
