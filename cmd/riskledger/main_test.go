package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/internal/pgtest"
)

// run runs the real Main with args and returns its exit status and output.
func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := NewMain()
	m.Stdout, m.Stderr = &out, &errb
	m.Getenv = func(k string) string { return env[k] }
	code := m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

// ledger is where a test keeps its ledger: the global flags and the
// environment that name it.
type ledger struct {
	args []string
	env  map[string]string
}

// ledgers runs fn against a new embedded ledger and a new PostgreSQL
// database (with key files made by `keys init`, as a node has them).
func ledgers(t *testing.T, fn func(t *testing.T, l ledger)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, ledger{args: []string{"--data", t.TempDir()}}) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresLedger(t)) })
}

// postgresLedger is a new PostgreSQL database with the key files `keys
// init` makes, as a node has them.
func postgresLedger(t *testing.T) ledger {
	t.Helper()
	url := pgtest.NewDatabase(t)
	dir := t.TempDir()
	if code, _, errs := run(t, nil, "keys", "init", dir); code != 0 {
		t.Fatalf("keys init: %s", errs)
	}
	return ledger{args: []string{"--database-url", url}, env: map[string]string{
		"RISKLEDGER_MASTER_KEY_FILE": filepath.Join(dir, "master.key"),
		"RISKLEDGER_HEAD_KEY_FILE":   filepath.Join(dir, "head.key"),
		"RISKLEDGER_ISSUER_KEY_FILE": filepath.Join(dir, "issuer.key"),
	}}
}

// run runs a command against the ledger.
func (l ledger) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return run(t, l.env, append(args, l.args...)...)
}

// seedLedger appends n events to the embedded store in dir.
func seedLedger(t *testing.T, dir string, n int) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		_, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: fmt.Sprintf("person-%d", i%4),
			Events: []eventstore.NewEvent{{Type: "Test", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, nil, "version", "--json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["version"] == "" || !strings.HasPrefix(v["go"], "go") {
		t.Fatalf("version --json: %d %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	if code, _, errs := run(t, nil, "frobnicate"); code != exitUsage || !strings.Contains(errs, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errs)
	}
	if code, _, errs := run(t, nil, "verify", "--data"); code != exitUsage || !strings.Contains(errs, "needs a value") {
		t.Fatalf("--data without value: %d %q", code, errs)
	}
	if code, _, _ := run(t, nil, "verify", "--bogus"); code != exitUsage {
		t.Fatalf("unknown flag: %d", code)
	}
	if code, _, errs := run(t, map[string]string{"RISKLEDGER_ZONE": "Mars/Olympus"}, "verify"); code != exitUsage || !strings.Contains(errs, "time zone") {
		t.Fatalf("bad zone: %d %q", code, errs)
	}
	if code, out, _ := run(t, nil, "help"); code != 0 || !strings.Contains(out, "serve") || !strings.Contains(out, "--database-url") {
		t.Fatalf("help: %d %q", code, out)
	}
}

func TestGlobalFlagsBeforeOrAfterTheCommand(t *testing.T) {
	dir := t.TempDir()
	seedLedger(t, dir, 5)
	for _, args := range [][]string{{"--data", dir, "verify"}, {"verify", "--data=" + dir}, {"verify", "-data", dir, "--json"}} {
		code, out, errs := run(t, nil, args...)
		if code != 0 || !strings.Contains(out, "5") {
			t.Fatalf("%v: %d %q %q", args, code, out, errs)
		}
	}
	code, out, _ := run(t, map[string]string{"RISKLEDGER_DATA": dir}, "verify", "--json")
	var r eventstore.Report
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || !r.OK || r.Checked != 5 {
		t.Fatalf("RISKLEDGER_DATA: %d %q", code, out)
	}
	cfg := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(cfg, []byte(`{"data": "`+dir+`"}`), 0o600)
	if code, out, _ := run(t, nil, "verify", "--config", cfg); code != 0 || !strings.Contains(out, "OK: 5") {
		t.Fatalf("--config: %d %q", code, out)
	}
	os.WriteFile(cfg, []byte(`{"dta": "x"}`), 0o600)
	if code, _, errs := run(t, nil, "verify", "--config", cfg); code != exitUsage || !strings.Contains(errs, "dta") {
		t.Fatalf("misspelt config setting: %d %q", code, errs)
	}
}

func TestVerifyNamesTheAlteredPosition(t *testing.T) {
	dir := t.TempDir()
	seedLedger(t, dir, 12)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE events SET payload = '{"n":99}' WHERE position = 8`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, _ := run(t, nil, "verify", "--data", dir)
	if code != exitFailed || !strings.Contains(out, "FAILED at position 8") {
		t.Fatalf("verify of an altered ledger: %d %q", code, out)
	}
}

func TestHeadStatementCatchesARewrite(t *testing.T) {
	dir := t.TempDir()
	seedLedger(t, dir, 20)
	code, stmt, errs := run(t, nil, "head", "--data", dir)
	if code != 0 {
		t.Fatalf("head: %d %s", code, errs)
	}
	headFile := filepath.Join(t.TempDir(), "head.json")
	os.WriteFile(headFile, []byte(stmt), 0o600)
	if code, out, errs := run(t, nil, "verify", "--data", dir, "--against", headFile); code != 0 || !strings.Contains(out, "still holds the signed head 20") {
		t.Fatalf("verify --against a fresh head: %d %q %q", code, out, errs)
	}

	// Rewrite the last 10 events and recompute the chain and head.
	s, err := sqlite.Open(context.Background(), sqlite.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.ReadAll(context.Background(), 0, 100)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	prev := evs[9].Hash
	for i := 10; i < 20; i++ {
		e := evs[i]
		e.Payload = json.RawMessage(`{"n":-1}`)
		e.PrevHash = prev
		e.Hash = eventstore.ComputeHash(prev, &e)
		prev = e.Hash
		if _, err := db.Exec(`UPDATE events SET payload = ?, hash = ? WHERE position = ?`, string(e.Payload), e.Hash[:], e.Position); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`UPDATE head SET hash = ?`, prev[:]); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, out, _ := run(t, nil, "verify", "--data", dir); code != 0 {
		t.Fatalf("the recomputed chain should pass plain verify: %d %q", code, out)
	}
	code, out, _ := run(t, nil, "verify", "--data", dir, "--against", headFile)
	if code != exitFailed || !strings.Contains(out, "FAILED at position 20") || !strings.Contains(out, "rewritten") {
		t.Fatalf("verify --against after a rewrite: %d %q", code, out)
	}
	forged := strings.Replace(stmt, `"position": 20`, `"position": 9`, 1)
	os.WriteFile(headFile, []byte(forged), 0o600)
	if code, _, errs := run(t, nil, "verify", "--data", dir, "--against", headFile); code != exitFailed || !strings.Contains(errs, "signature") {
		t.Fatalf("verify --against a forged statement: %d %q", code, errs)
	}
}

func TestBadDataDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ledger")
	os.WriteFile(file, []byte("not a directory"), 0o600)
	code, _, errs := run(t, nil, "verify", "--data", file)
	if code != exitFailed || !strings.Contains(errs, "is a file") {
		t.Fatalf("--data naming a file: %d %q", code, errs)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, sqlite.FileName), bytes.Repeat([]byte("garbage!"), 100), 0o600)
	code, _, errs = run(t, nil, "verify", "--data", dir)
	if code != exitFailed || !strings.Contains(errs, "not an SQLite database") {
		t.Fatalf("--data with a foreign file: %d %q", code, errs)
	}
}

func TestServeOnPortZero(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	m := NewMain()
	m.Stdout, m.Stderr = pw, io.Discard
	m.Getenv = func(string) string { return "" }
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data", dir}); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed no URL: %v", err)
	}
	go io.Copy(io.Discard, pr)
	var url string
	if _, err := fmt.Sscanf(line, "riskledger serving on %s", &url); err != nil || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("serve printed %q", line)
	}
	resp, err := http.Get(url + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Status string          `json:"status"`
		Head   eventstore.Head `json:"head"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	// The new ledger's one event: its first admin token, in the data
	// directory.
	if resp.StatusCode != 200 || body.Status != "ok" || body.Head.Position != 1 {
		t.Fatalf("healthz: %d %+v", resp.StatusCode, body)
	}
	if b, err := os.ReadFile(filepath.Join(dir, AdminTokenFile)); err != nil || !strings.HasPrefix(string(b), "rl_") {
		t.Fatalf("serve made no admin token: %q %v", b, err)
	}
	for _, f := range []string{"head.key", "issuer.key"} {
		if _, err := os.Stat(filepath.Join(dir, "keys", f)); err != nil {
			t.Fatalf("serve did not make %s: %v", f, err)
		}
	}
	// Reading commands run beside the serving process.
	if code, out, errs := run(t, nil, "verify", "--data", dir); code != 0 || !strings.Contains(out, "OK: 1 events") {
		t.Fatalf("verify beside serve: %d %q %q", code, out, errs)
	}
	if code, _, errs := run(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0"); code != exitFailed || !strings.Contains(errs, "another process") {
		t.Fatalf("a second serve on the same data: %d %q", code, errs)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d after its context ended", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestKeysInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if code, out, errs := run(t, nil, "keys", "init", dir); code != 0 || !strings.Contains(out, "master.key") {
		t.Fatalf("keys init: %d %q %q", code, out, errs)
	}
	for _, f := range []string{"head.key", "master.key", "issuer.key"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if code, _, errs := run(t, nil, "keys", "init", dir); code != exitFailed || !strings.Contains(errs, "already exists") {
		t.Fatalf("keys init over existing keys: %d %q", code, errs)
	}
	if code, _, _ := run(t, nil, "keys", "make", dir); code != exitUsage {
		t.Fatalf("keys make: %d", code)
	}
}
