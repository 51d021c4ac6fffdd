package main

// Comparison h: the HTTP API under load, run against the real binary
// (`riskledger serve` on a port of loopback) on each store, with the load
// generator of httpload.go in this process:
//
//	h1  checkpoint admission: POST /v1/commands/record_scan with a code
//	    (verify the code, read the live colour, append durably), offered
//	    at a fixed rate, open loop. Target: p99 ≤ 10 ms at 2,000 scans/s on
//	    each store. Beside it, the same commands through
//	    commands.Handler.Execute in this process at the same rate, wired
//	    as serve wires it, on a copy of the same ledger, so that the HTTP
//	    share shows.
//	h2  the issuance layer's colour read: GET /v1/persons/{id}/colour
//	    with an issuance token, at saturation (closed loop) against a bare
//	    net/http handler that answers a constant body, with the same
//	    generator and clients; and at a fixed rate. Targets: ours ≥ 50% of
//	    the bare handler's requests/s, p99 ≤ 5 ms.
//
// The ledger of each store is seeded through `riskledger import` (persons,
// checkpoints, a few confirmed cases), and then through the API: a token
// for each checkpoint, one for the issuance layer, and today's code of
// every person.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

const (
	httpBegin = "<!-- BEGIN HTTP GENERATED: written by `go run ./bench --only h`; everything from here to END HTTP GENERATED is replaced on each run -->"
	httpEnd   = "<!-- END HTTP GENERATED -->"

	scanP99Limit   = 10 * time.Millisecond
	colourP99Limit = 5 * time.Millisecond
	colourMinRatio = 0.5

	// bareCommand runs this binary as the bare handler of h2.
	bareCommand = "http-constant"
	// bareBody is what the bare handler answers: a colour row of the
	// size ours answers.
	bareBody = `{"person_id":"00000000-0000-4000-8000-000000000000","colour":"green","reasons":[],"next_change":null}` + "\n"
)

// httpLedger is a seeded ledger of one store and how to run the binary on
// it.
type httpLedger struct {
	store       string // SQLite or PostgreSQL
	dir         string // the data directory (and, with PostgreSQL, the key files in dir/keys)
	url         string // PostgreSQL
	env         []string
	persons     []string
	checkpoints []string
	red         int // persons with a confirmed diagnosis
	cpTokens    []string
	admin       string // the admin token
	issuance    string
	codes       []string // today's code of each person
	events      int64    // the ledger's head after seeding
	seedDur     time.Duration
	codesDur    time.Duration
}

// httpStoreRun is what h measured on one store.
type httpStoreRun struct {
	store                          string
	l                              *httpLedger
	scans, inProc                  loadRun
	colourRate, colourSat, bareSat loadRun
	headAfter                      int64
	viewReads                      viewReads        // in process
	serveLog                       map[string]int64 // serve's warnings and errors, by kind
	err                            error
}

// runHTTP runs h on each store of --http-stores and writes its section.
func (b *bench) runHTTP(ctx context.Context) error {
	cfg := b.cfg
	bin, err := b.buildBinary(ctx)
	if err != nil {
		return err
	}
	zone := noonZone(time.Now())
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return err
	}
	log.Printf("(h) the server's zone is %s: it is %s there, so today's codes stay valid through the run",
		zone, time.Now().In(loc).Format("15:04"))
	var runs []httpStoreRun
	var bareRate loadRun
	for _, store := range strings.Split(cfg.hStores, ",") {
		store = strings.TrimSpace(store)
		if store == "PostgreSQL" && !b.pgOK {
			runs = append(runs, httpStoreRun{store: store, err: errors.New(b.pgWhy)})
			continue
		}
		run := b.httpOn(ctx, bin, store, zone)
		if run.err != nil {
			log.Printf("(h) %s: %v", store, run.err)
		}
		runs = append(runs, run)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if strings.Contains(cfg.hParts, "h2") {
		// The bare handler is sent requests of the same size (a token of
		// the same length; it reads none).
		fake := "rl_0000000000000000.0000000000000000000000000000000000000000000"
		bareRate = b.bareRun(func(base string, pid int, client *http.Client) loadRun {
			return openLoop(ctx, "bare handler, open loop", float64(cfg.hRate), cfg.hWarm, cfg.hDur, pid,
				colourCall(client, fake, colourURLs(base, []string{"00000000-0000-4000-8000-000000000000"})))
		})
		logLoad("(h2) bare handler at a fixed rate", bareRate)
	}
	return writeSection(cfg.out, httpBegin, httpEnd, b.httpMarkdown(zone, runs, bareRate))
}

// noonZone names a zone of whole hours (Etc/GMT±N) where now is near
// noon: codes are valid for one local day, and a run that crossed
// midnight would scan yesterday's codes.
func noonZone(now time.Time) string {
	off := 12 - now.UTC().Hour() // hours east of UTC, -11 to 12
	switch {
	case off == 0:
		return "UTC"
	case off > 0:
		return fmt.Sprintf("Etc/GMT-%d", off) // the names' signs are POSIX's, reversed
	}
	return fmt.Sprintf("Etc/GMT+%d", -off)
}

// httpOn runs h1 and h2 on a fresh ledger of one store: serve issues the
// tokens and codes and stops; the in-process side of h1 runs on a copy of
// that ledger, and serve, started again on the original, runs the rest,
// so that both sides of h1 start from the same ledger.
func (b *bench) httpOn(ctx context.Context, bin, store, zone string) (run httpStoreRun) {
	cfg := b.cfg
	run.store = store
	run.serveLog = map[string]int64{}
	l, drop, err := b.seedHTTPLedger(ctx, bin, store, zone)
	if drop != nil {
		defer drop()
	}
	if err != nil {
		run.err = err
		return run
	}
	run.l = l
	client := newHTTPClient(openLoopWorkers)
	srv, err := startServe(bin, l, "serve-seed.log", "")
	if err != nil {
		run.err = err
		return run
	}
	err = l.issueThroughAPI(ctx, srv, client)
	if err == nil {
		l.events = srv.waitIdle(ctx, client)
	}
	if serr := b.stopServe(srv, &run); err == nil {
		err = serr
	}
	if err != nil {
		run.err = err
		return run
	}
	log.Printf("(h) %s: %d persons, %d checkpoints, %d events; seeded in %s, codes issued in %s", store, len(l.persons),
		len(l.checkpoints), l.events, l.seedDur.Round(time.Millisecond), l.codesDur.Round(time.Millisecond))

	h1, h2 := strings.Contains(cfg.hParts, "h1"), strings.Contains(cfg.hParts, "h2")
	if h1 {
		twin, dropTwin, err := b.twinLedger(ctx, l)
		if err != nil {
			run.err = fmt.Errorf("copy the ledger: %w", err)
			return run
		}
		in, err := b.openInProcess(ctx, bin, twin)
		if err != nil {
			dropTwin()
			run.err = fmt.Errorf("in process: %w", err)
			return run
		}
		run.viewReads = in.measureView(ctx, func() {
			run.inProc = openLoop(ctx, "in process", float64(cfg.hRate), cfg.hWarm, cfg.hDur, in.worker, in.scanCall(twin))
		})
		in.close()
		log.Printf("(h1) %s in process: the admission view read %d events in %d ReadAll calls while the ledger gained %d", store,
			run.viewReads.read, run.viewReads.calls, run.viewReads.appended)
		dropTwin()
		logLoad("(h1) "+store+" in process", run.inProc)
	}

	profile := ""
	if cfg.hProfile != "" {
		profile = filepath.Join(mustAbs(cfg.hProfile), "serve-"+strings.ToLower(store)+".pprof")
	}
	if srv, err = startServe(bin, l, "serve.log", profile); err != nil {
		run.err = err
		return run
	}
	defer b.stopServe(srv, &run)
	if h1 {
		run.scans = openLoop(ctx, "HTTP", float64(cfg.hRate), cfg.hWarm, cfg.hDur, srv.pid(), l.scanHTTPCall(client, srv.url))
		logLoad("(h1) "+store+" HTTP", run.scans)
		srv.waitIdle(ctx, client)
	}
	if h2 {
		b.colourReads(ctx, &run, srv, client)
	}
	run.headAfter = srv.waitIdle(ctx, client)
	if err := b.stopServe(srv, &run); err != nil {
		run.err = err
	}
	return run
}

// colourReads runs h2 against srv and the bare handler.
func (b *bench) colourReads(ctx context.Context, run *httpStoreRun, srv *served, client *http.Client) {
	cfg, l, store := b.cfg, run.l, run.store
	urls := colourURLs(srv.url, l.persons)
	run.colourRate = openLoop(ctx, "ours, open loop", float64(cfg.hRate), cfg.hWarm, cfg.hDur, srv.pid(),
		colourCall(client, l.issuance, urls))
	logLoad("(h2) "+store+" colour reads at a fixed rate", run.colourRate)
	run.colourSat = closedLoop(ctx, "ours, closed loop", cfg.hClients, cfg.hWarm, cfg.hDur, srv.pid(),
		colourCall(client, l.issuance, urls))
	logLoad("(h2) "+store+" colour reads at saturation", run.colourSat)
	run.bareSat = b.bareRun(func(base string, pid int, client *http.Client) loadRun {
		return closedLoop(ctx, "bare handler, closed loop", cfg.hClients, cfg.hWarm, cfg.hDur, pid,
			colourCall(client, l.issuance, colourURLs(base, l.persons)))
	})
	logLoad("(h2) bare handler at saturation", run.bareSat)
}

// stopServe stops srv and counts what it logged into run.
func (b *bench) stopServe(srv *served, run *httpStoreRun) error {
	first := !srv.stopped()
	err := srv.stop()
	if first {
		for k, n := range logProblems(srv.logPath) {
			run.serveLog[k] += n
			log.Printf("(h) %s: serve logged %d times: %s", run.store, n, k)
		}
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// twinLedger copies l's ledger (serve must have stopped); drop removes
// the copy.
func (b *bench) twinLedger(ctx context.Context, l *httpLedger) (*httpLedger, func(), error) {
	t := *l
	if l.store == "PostgreSQL" {
		u, err := url.Parse(l.url)
		if err != nil {
			return nil, nil, err
		}
		from := strings.TrimPrefix(u.Path, "/")
		db := "rl_bench_" + randomSuffix()
		conn, err := b.pgConnect(ctx, "public")
		if err != nil {
			return nil, nil, err
		}
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+db+` TEMPLATE `+pgx.Identifier{from}.Sanitize()); err != nil {
			conn.Close(context.Background())
			return nil, nil, err
		}
		u.Path = "/" + db
		t.url = u.String()
		t.env = setEnv(l.env, "RISKLEDGER_DATABASE_URL", t.url)
		return &t, func() {
			conn.Exec(context.Background(), `DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`)
			conn.Close(context.Background())
		}, nil
	}
	dir, err := os.MkdirTemp(b.tmpRoot, "h-twin-")
	if err != nil {
		return nil, nil, err
	}
	drop := func() { os.RemoveAll(dir) }
	err = filepath.WalkDir(l.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(l.dir, path)
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		if strings.HasSuffix(rel, ".log") || rel == "seed.jsonl" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		drop()
		return nil, nil, err
	}
	t.dir = dir
	t.env = setEnv(l.env, "RISKLEDGER_DATA", dir)
	return &t, drop, nil
}

// setEnv returns env with key set to value.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

func logLoad(what string, r loadRun) {
	if r.Err != nil {
		log.Printf("%s: %v", what, r.Err)
	}
	offered := fmt.Sprintf("%d clients", r.Clients)
	if r.Rate > 0 {
		offered = fmt.Sprintf("%s/s offered (p99 of the first quarter %s, of the last %s)", fmtRate(r.Rate),
			fmtDur(percentile(r.FirstQ, 0.99)), fmtDur(percentile(r.LastQ, 0.99)))
	}
	log.Printf("%s: %s, %s/s answered, p50 %s p99 %s max %s; %s; CPU server %.2f, bench %.2f, PostgreSQL %.2f, other %.2f", what, offered,
		fmtRate(r.rate()), fmtDur(r.p(0.5)), fmtDur(r.p(0.99)), fmtDur(r.p(1)), classesText(r.Classes), r.CPU.Proc, r.CPU.Self, r.CPU.Postgres, r.CPU.Other)
}

// --- the ledger -----------------------------------------------------------------

// cleanEnv is this process's environment without the settings riskledger
// reads, so that the runs use only what the bench gives them.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "RISKLEDGER_") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// seedHTTPLedger makes a ledger of the store and imports the persons and
// checkpoints; drop removes what it made (a PostgreSQL database).
func (b *bench) seedHTTPLedger(ctx context.Context, bin, store, zone string) (*httpLedger, func(), error) {
	cfg := b.cfg
	dir, err := os.MkdirTemp(b.tmpRoot, "h-")
	if err != nil {
		return nil, nil, err
	}
	l := &httpLedger{store: store, dir: dir}
	l.env = append(cleanEnv(), "RISKLEDGER_ZONE="+zone, "RISKLEDGER_DATA="+dir)
	var drop func()
	if store == "PostgreSQL" {
		keyDir := filepath.Join(dir, "keys")
		if out, err := exec.CommandContext(ctx, bin, "keys", "init", keyDir).CombinedOutput(); err != nil {
			return nil, nil, fmt.Errorf("keys init: %v: %s", err, out)
		}
		if l.url, drop, err = b.newDatabase(ctx); err != nil {
			return nil, nil, err
		}
		l.env = append(l.env, "RISKLEDGER_DATABASE_URL="+l.url,
			"RISKLEDGER_MASTER_KEY_FILE="+filepath.Join(keyDir, "master.key"),
			"RISKLEDGER_HEAD_KEY_FILE="+filepath.Join(keyDir, "head.key"),
			"RISKLEDGER_ISSUER_KEY_FILE="+filepath.Join(keyDir, "issuer.key"))
	}
	seed := filepath.Join(dir, "seed.jsonl")
	if err := l.writeSeed(seed, cfg.hPeople, cfg.hCheckpoints, cfg.seed, time.Now().Add(-2*time.Hour)); err != nil {
		return nil, drop, err
	}
	start := time.Now()
	if out, err := l.cli(ctx, bin, "import", seed); err != nil {
		return nil, drop, fmt.Errorf("import: %v: %s", err, out)
	}
	l.seedDur = time.Since(start)
	return l, drop, nil
}

func (l *httpLedger) cli(ctx context.Context, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = l.env
	return cmd.CombinedOutput()
}

// writeSeed writes the command file of the persons (every hundredth with
// a confirmed diagnosis, so that some scans are denied) and the
// checkpoints, all at at.
func (l *httpLedger) writeSeed(path string, people, checkpoints int, seed uint64, at time.Time) error {
	var key [32]byte
	key[0] = byte(seed)
	rng := rand.NewChaCha8(key)
	id := func() string { return uuid.Must(uuid.NewRandomFromReader(rng)).String() }
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	ts := at.UTC().Format(time.RFC3339Nano)
	line := func(v map[string]any) {
		b, _ := json.Marshal(v)
		w.Write(b)
		w.WriteByte('\n')
	}
	for i := range checkpoints {
		c := id()
		l.checkpoints = append(l.checkpoints, c)
		line(map[string]any{"command": "register_checkpoint", "at": ts, "checkpoint_id": c, "name": fmt.Sprintf("Gate %d", i+1),
			"kind": "subway", "district": "Huangpu", "admits": []string{"green"}})
	}
	for i := range people {
		p := id()
		l.persons = append(l.persons, p)
		line(map[string]any{"command": "register_person", "at": ts, "person_id": p, "name": fmt.Sprintf("Person %d", i+1), "nationality": "CN",
			"document": map[string]string{"type": "passport", "number": fmt.Sprintf("HB%07d", i+1), "country": "CN"}})
		if i%100 == 99 {
			l.red++
			line(map[string]any{"command": "record_diagnosis", "at": ts, "person_id": p, "result": "confirmed"})
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// issueThroughAPI makes the tokens (as the admin), and today's code of
// every person (as the issuance layer), through the API.
func (l *httpLedger) issueThroughAPI(ctx context.Context, srv *served, client *http.Client) error {
	token := func(req string) (string, error) {
		var scratch bytes.Buffer
		status, err := do(ctx, client, "POST", srv.url+"/v1/tokens", srv.admin, []byte(req), &scratch)
		var t struct{ Token string }
		if err == nil && status == http.StatusCreated {
			err = json.Unmarshal(scratch.Bytes(), &t)
		} else if err == nil {
			err = fmt.Errorf("%d %s", status, scratch.Bytes())
		}
		if err != nil {
			return "", fmt.Errorf("POST /v1/tokens %s: %w", req, err)
		}
		return t.Token, nil
	}
	for _, c := range l.checkpoints {
		t, err := token(`{"role":"checkpoint","checkpoint_id":"` + c + `","note":"bench gate"}`)
		if err != nil {
			return err
		}
		l.cpTokens = append(l.cpTokens, t)
	}
	var err error
	if l.issuance, err = token(`{"role":"issuance","note":"bench"}`); err != nil {
		return err
	}
	start := time.Now()
	l.codes = make([]string, len(l.persons))
	errs := make(chan error, 1)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			var scratch bytes.Buffer
			for i := range next {
				status, err := do(ctx, client, "POST", srv.url+"/v1/persons/"+l.persons[i]+"/code", l.issuance, nil, &scratch)
				var c struct{ Code string }
				if err == nil && status == http.StatusCreated {
					err = json.Unmarshal(scratch.Bytes(), &c)
				} else if err == nil {
					err = fmt.Errorf("%d %s", status, scratch.Bytes())
				}
				if err == nil && !strings.HasPrefix(c.Code, "RL1:") {
					err = fmt.Errorf("the answer has no code: %s", scratch.Bytes())
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("the code of %s: %w", l.persons[i], err):
					default:
					}
					continue
				}
				l.codes[i] = c.Code
			}
		})
	}
	for i := range l.persons {
		next <- i
	}
	close(next)
	wg.Wait()
	l.codesDur = time.Since(start)
	select {
	case err := <-errs:
		return err
	default:
	}
	return nil
}

// scan is request i of h1: a person at a checkpoint, from the seed's
// PRNG (the same for HTTP and in process).
func (l *httpLedger) scan(i int64) (person, cp int) {
	x := mix(uint64(i) ^ 0x6873)
	return int(x % uint64(len(l.persons))), int((x >> 32) % uint64(len(l.checkpoints)))
}

// scanBody is the body of record_scan: the checkpoint, the code, "qr";
// "at" is left to the server (now).
func (l *httpLedger) scanBody(dst []byte, person, cp int) []byte {
	dst = append(dst, `{"checkpoint_id":"`...)
	dst = append(dst, l.checkpoints[cp]...)
	dst = append(dst, `","code":"`...)
	dst = append(dst, l.codes[person]...) // base45: no character JSON escapes
	return append(dst, `","method":"qr"}`...)
}

func (l *httpLedger) scanHTTPCall(client *http.Client, base string) call {
	target := base + "/v1/commands/record_scan"
	return func(ctx context.Context, i int64, scratch *bytes.Buffer) (string, bool) {
		p, c := l.scan(i)
		status, err := do(ctx, client, "POST", target, l.cpTokens[c], l.scanBody(nil, p, c), scratch)
		if err != nil || status != http.StatusCreated {
			return failure(status, scratch.Bytes(), err), false
		}
		return scanClass(scratch.Bytes()), true
	}
}

func colourURLs(base string, persons []string) []string {
	out := make([]string, len(persons))
	for i, p := range persons {
		out[i] = base + "/v1/persons/" + p + "/colour"
	}
	return out
}

// colourCall reads the colour at one of urls, chosen by i.
func colourCall(client *http.Client, token string, urls []string) call {
	return func(ctx context.Context, i int64, scratch *bytes.Buffer) (string, bool) {
		target := urls[mix(uint64(i)^0x6332)%uint64(len(urls))]
		status, err := do(ctx, client, "GET", target, token, nil, scratch)
		if err != nil || status != http.StatusOK {
			return failure(status, scratch.Bytes(), err), false
		}
		return jsonField(scratch.Bytes(), "colour"), true
	}
}

// --- the server -----------------------------------------------------------------

// served is a running `riskledger serve`.
type served struct {
	cmd      *exec.Cmd
	url      string
	admin    string
	logPath  string
	done     chan error
	stopping chan struct{}
	once     sync.Once
	err      error
}

// startServe starts the binary's serve on a free port of loopback, as an
// operator would, logging to logName in the data directory; with profile,
// serve writes its CPU profile there. The first start of an embedded
// ledger writes the admin token.
func startServe(bin string, l *httpLedger, logName, profile string) (*served, error) {
	var args []string
	if profile != "" {
		if err := os.MkdirAll(filepath.Dir(profile), 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--cpuprofile", profile)
	}
	s := &served{logPath: filepath.Join(l.dir, logName), done: make(chan error, 1), stopping: make(chan struct{})}
	if l.store == "PostgreSQL" && l.admin == "" {
		out, err := l.cli(context.Background(), bin, "token", "create", "--role", "admin", "--json")
		var t struct{ Token string }
		if err == nil {
			err = json.Unmarshal(bytes.TrimSpace(out), &t)
		}
		if err != nil {
			return nil, fmt.Errorf("token create: %v: %s", err, out)
		}
		l.admin = t.Token
	}
	s.admin = l.admin
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, append(args, "serve", "--listen", "127.0.0.1:0")...)
	s.cmd.Env = l.env
	s.cmd.Stderr = logf
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	rd := bufio.NewReader(stdout)
	first, err := rd.ReadString('\n')
	if _, serr := fmt.Sscanf(first, "riskledger serving on %s", &s.url); err != nil || serr != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		logf.Close()
		return nil, fmt.Errorf("serve printed %q (%v); its log: %s", first, err, tail(s.logPath))
	}
	s.url = strings.TrimSuffix(s.url, "/")
	if l.admin == "" {
		if line, err := rd.ReadString('\n'); err != nil || !strings.Contains(line, "admin.token") {
			s.cmd.Process.Kill()
			s.cmd.Wait()
			logf.Close()
			return nil, fmt.Errorf("serve printed %q, not where the admin token is (%v)", line, err)
		}
		t, err := os.ReadFile(filepath.Join(l.dir, "admin.token"))
		if err != nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
			logf.Close()
			return nil, err
		}
		l.admin = strings.TrimSpace(string(t))
		s.admin = l.admin
	}
	go func() {
		io.Copy(io.Discard, rd)
		s.done <- s.cmd.Wait()
		logf.Close()
	}()
	return s, nil
}

func (s *served) pid() int { return s.cmd.Process.Pid }

func (s *served) stopped() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// stop ends serve as an operator would (SIGTERM), and kills it if it has
// not stopped within 30 s.
func (s *served) stop() error {
	s.once.Do(func() {
		close(s.stopping)
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case s.err = <-s.done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
			s.err = errors.New("serve did not stop within 30 s of SIGTERM")
		}
		if s.err != nil {
			s.err = fmt.Errorf("%w; its log: %s", s.err, tail(s.logPath))
		}
	})
	return s.err
}

// waitIdle waits (up to a minute) until the ledger's head has stood still
// for 2 s, so that the projection's work after one phase does not fall
// in the next; it returns the head.
func (s *served) waitIdle(ctx context.Context, client *http.Client) int64 {
	head := func() int64 {
		var scratch bytes.Buffer
		if status, err := do(ctx, client, "GET", s.url+"/healthz", "", nil, &scratch); err != nil || status != http.StatusOK {
			return -1
		}
		var h struct {
			Head struct{ Position int64 }
		}
		_ = json.Unmarshal(scratch.Bytes(), &h)
		return h.Head.Position
	}
	last := head()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(2 * time.Second)
		now := head()
		if now == last {
			break
		}
		last = now
	}
	return last
}

// logProblems counts serve's warnings and errors by kind: the message and
// the error's first line, without the client's address and with N for
// the numbers.
func logProblems(path string) map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	port := regexp.MustCompile(`127\.0\.0\.1:\d+`)
	for sc.Scan() {
		var e struct{ Level, Msg, Err, Error string }
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Level != "WARN" && e.Level != "ERROR" {
			continue
		}
		k := e.Msg
		if d := e.Err + e.Error; d != "" {
			k += ": " + d
		}
		k, _, _ = strings.Cut(k, "\n")
		k = numbersOut(port.ReplaceAllString(k, "a client"))
		if len(k) > 200 {
			k = k[:200] + "…"
		}
		out[e.Level+" "+k]++
	}
	return out
}

// tail is the end of a log file, for an error message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return strings.TrimSpace(string(b))
}

// --- the bare handler ----------------------------------------------------------

// bareRun starts this binary's bare handler, runs measure against it and
// stops it.
func (b *bench) bareRun(measure func(base string, pid int, client *http.Client) loadRun) loadRun {
	exe, err := os.Executable()
	if err != nil {
		return loadRun{Err: err}
	}
	cmd := exec.Command(exe, bareCommand)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return loadRun{Err: err}
	}
	if err := cmd.Start(); err != nil {
		return loadRun{Err: err}
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	var base string
	if _, err := fmt.Fscanln(stdout, &base); err != nil {
		return loadRun{Err: fmt.Errorf("the bare handler printed no URL: %w", err)}
	}
	return measure(base, cmd.Process.Pid, newHTTPClient(openLoopWorkers))
}

// runBareChild is the bare handler: net/http answering every request
// with bareBody, on a free port of loopback, until SIGTERM.
func runBareChild() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Print(err)
		return 1
	}
	body := []byte(bareBody)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	fmt.Printf("http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go srv.Serve(ln)
	<-ctx.Done()
	srv.Close()
	return 0
}
