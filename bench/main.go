// Command bench measures riskledger's event stores against raw baselines in
// one run and writes the figures, with the machine they were taken on, to
// bench/RESULTS.md. See that file for what each comparison means.
//
//	go run ./bench [--n 1000000] [--concurrent-n 100000] [--only a,b,c,d,e,w,p,k,h]
//	               [--keep DIR] [--database-url URL] [--out bench/RESULTS.md]
//	               [--cpuprofile FILE]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

type config struct {
	n            int64
	concurrentN  int64
	keep         string
	dbURL        string
	only         map[string]bool
	out          string
	cpuprofile   string
	workers      int
	concurrency  int
	mode         string
	callSize     int
	callsInFlt   int
	page         int
	readReps     int
	seed         uint64
	synchronous  string
	verify       bool
	explain      bool
	simPeople    int
	simDays      int
	cityPeople   int
	cityDays     int
	wmBacklogs   string
	pPeople      int
	pDays        int
	pStores      string
	kPeople      int
	kDays        int
	kTimeout     time.Duration
	kCTEBudget   time.Duration
	kSQLBudget   time.Duration
	kCheckTO     time.Duration
	wmCap        time.Duration
	hPeople      int
	hCheckpoints int
	hRate        int
	hClients     int
	hWarm        time.Duration
	hDur         time.Duration
	hStores      string
	hParts       string
	hProfile     string
}

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")
	if len(os.Args) > 1 && os.Args[1] == drainCommand {
		// The consumer process of (w), started by the bench itself.
		os.Exit(runDrainChild(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == bareCommand {
		// The bare handler of (h), started by the bench itself.
		os.Exit(runBareChild())
	}
	var cfg config
	var only string
	dbDefault := os.Getenv("RISKLEDGER_TEST_DATABASE_URL")
	if dbDefault == "" {
		dbDefault = defaultDatabaseURL
	}
	flag.Int64Var(&cfg.n, "n", 1_000_000, "events for the batched-append comparisons (a, b) and the read comparison (d)")
	flag.Int64Var(&cfg.concurrentN, "concurrent-n", 100_000, "events for each run of the concurrency comparison (c)")
	flag.StringVar(&cfg.keep, "keep", "", "leave the SQLite ledger of (b) in this `DIR` (for `riskledger --data DIR verify`); default: a temporary directory, deleted")
	flag.StringVar(&cfg.dbURL, "database-url", dbDefault, "PostgreSQL `URL`; the PostgreSQL runs use fresh schemas rl_bench_*, dropped at the end")
	flag.StringVar(&only, "only", "a,b,c,d", "comma-separated `list` of comparisons to run (e, the imports, w, consuming through watermill-sql, p, the colour projection, k, the contact queries "+
		"against SQL on PostgreSQL, and h, the HTTP API under load, write sections of their own)")
	flag.IntVar(&cfg.simPeople, "sim-people", 20000, "people of the simulated city whose commands (e1) imports")
	flag.IntVar(&cfg.simDays, "sim-days", 14, "days of the simulated city of (e1)")
	flag.IntVar(&cfg.cityPeople, "city-people", 0, "also time `riskledger simulate` of a city of this many people appended to each store (e3; 0: skip)")
	flag.IntVar(&cfg.cityDays, "city-days", 14, "days of the city of (e3)")
	flag.StringVar(&cfg.wmBacklogs, "watermill-backlogs", "100000,1000000", "comma-separated backlogs (events) that (w) drains")
	flag.DurationVar(&cfg.wmCap, "watermill-cap", 3*time.Minute, "longest time the drains of (w) with batches of 1 may take before they are stopped")
	flag.IntVar(&cfg.pPeople, "projection-people", 100000, "people of the simulated city of (p), the colour projection")
	flag.IntVar(&cfg.pDays, "projection-days", 14, "days of the city of (p); 2 more days feed its live steps")
	flag.StringVar(&cfg.pStores, "projection-stores", "SQLite,PostgreSQL", "the stores (p) runs on")
	flag.IntVar(&cfg.kPeople, "contacts-people", 100000, "people of the simulated city of (k), the contact queries")
	flag.IntVar(&cfg.kDays, "contacts-days", 14, "days of the city of (k)")
	flag.DurationVar(&cfg.kTimeout, "contacts-sql-timeout", 10*time.Second, "statement_timeout of each chain query of (k)")
	flag.DurationVar(&cfg.kCTEBudget, "contacts-cte-budget", time.Minute, "time after which (k) stops timing the recursive CTE of the chains "+
		"(each query may take up to --contacts-sql-timeout)")
	flag.DurationVar(&cfg.kSQLBudget, "contacts-sql-budget", 4*time.Minute, "time after which (k) stops timing the chains' SQL by levels")
	flag.DurationVar(&cfg.kCheckTO, "contacts-check-timeout", 3*time.Minute, "statement_timeout of the chain queries that (k) checks ours against")
	flag.IntVar(&cfg.hPeople, "http-people", 3000, "registered persons of the ledger of (h), each with today's code")
	flag.IntVar(&cfg.hCheckpoints, "http-checkpoints", 20, "checkpoints of the ledger of (h), each scanning with a token of its own")
	flag.IntVar(&cfg.hRate, "http-rate", 2000, "requests/s (h) offers in its open-loop runs (scans, and colour reads at a fixed rate)")
	flag.IntVar(&cfg.hClients, "http-clients", 32, "concurrent clients of the closed-loop colour reads of (h), against ours and the bare handler")
	flag.DurationVar(&cfg.hWarm, "http-warmup", 10*time.Second, "warm-up before each measured run of (h), not counted")
	flag.DurationVar(&cfg.hDur, "http-duration", 20*time.Second, "measured time of each run of (h)")
	flag.StringVar(&cfg.hStores, "http-stores", "SQLite,PostgreSQL", "the stores (h) runs on")
	flag.StringVar(&cfg.hParts, "http-parts", "h1,h2", "the parts of (h) to run: h1, the scans, and h2, the colour reads (one part alone is for profiling; it writes a section without the other)")
	flag.StringVar(&cfg.hProfile, "http-profile", "", "write the CPU profile of each `riskledger serve` of (h) into `DIR` (serve-sqlite.pprof, serve-postgresql.pprof)")
	flag.StringVar(&cfg.out, "out", "bench/RESULTS.md", "results `file`; its generated section is replaced")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	flag.IntVar(&cfg.workers, "workers", 256, "goroutines appending single events in (a) and (b)")
	flag.IntVar(&cfg.concurrency, "concurrency", 64, "goroutines appending single events in (c)")
	flag.StringVar(&cfg.mode, "mode", "single", "how (a) and (b) call Append: single (one event per call from --workers goroutines; "+
		"the group committer builds the batches), multi (--call-size events per call), or both")
	flag.IntVar(&cfg.callSize, "call-size", 1000, "events per Append call in --mode multi")
	flag.IntVar(&cfg.callsInFlt, "calls-in-flight", 2, "concurrent Append calls in --mode multi")
	flag.IntVar(&cfg.page, "page", 10_000, "events per ReadAll page in (d)")
	flag.IntVar(&cfg.readReps, "read-reps", 2, "times (d) reads the log each way (alternating); the best time counts")
	flag.Uint64Var(&cfg.seed, "seed", 1, "PRNG seed of the workload")
	flag.StringVar(&cfg.synchronous, "sqlite-synchronous", "FULL", "SQLite synchronous setting for the store: FULL (the store's default) or NORMAL")
	flag.BoolVar(&cfg.verify, "verify", true, "after (b), recompute the SQLite ledger's hash chain with eventstore.Verify")
	flag.BoolVar(&cfg.explain, "explain", false, "also run diagnostic variants of the baselines that add, one at a time, work the store does "+
		"(shown as extra rows; they are not targets)")
	flag.Parse()
	if flag.NArg() > 0 {
		log.Fatalf("unexpected arguments %q", flag.Args())
	}
	cfg.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		s = strings.TrimSpace(s)
		switch s {
		case "a", "b", "c", "d", "e", "w", "p", "k", "h":
			cfg.only[s] = true
		case "":
		default:
			log.Fatalf("--only: unknown comparison %q (use a, b, c, d, e, w, p, k, h)", s)
		}
	}
	switch cfg.mode {
	case "single", "multi", "both":
	default:
		log.Fatalf("--mode must be single, multi or both, not %q", cfg.mode)
	}
	if cfg.n <= 0 || cfg.concurrentN <= 0 || cfg.workers <= 0 || cfg.concurrency <= 0 || cfg.callSize <= 0 ||
		cfg.callsInFlt <= 0 || cfg.page <= 0 || cfg.readReps <= 0 || cfg.hPeople <= 0 || cfg.hCheckpoints <= 0 || cfg.hRate <= 0 ||
		cfg.hClients <= 0 || cfg.hDur <= 0 || cfg.hWarm < 0 {
		log.Fatal("sizes and counts must be positive")
	}

	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startLoadSampler()
	b := &bench{cfg: cfg, w: newWorkload(cfg.seed), started: time.Now()}
	err := b.run(ctx)
	b.cleanup()
	if err != nil {
		log.Printf("error: %v", err)
		if cfg.cpuprofile != "" {
			pprof.StopCPUProfile()
		}
		os.Exit(1)
	}
}

type bench struct {
	cfg     config
	w       *workload
	started time.Time
	rep     report

	tmpRoot  string   // temporary directories live here
	schemas  []string // PostgreSQL schemas to drop
	pgOK     bool
	pgWhy    string
	pgSchema string // the (a) ledger, read by (d)
	sqlDir   string // the (b) ledger, read by (d)
}

func (b *bench) run(ctx context.Context) error {
	cfg := b.cfg
	var err error
	if b.tmpRoot, err = os.MkdirTemp("", "riskledger-bench-"); err != nil {
		return err
	}
	dataDir := b.tmpRoot
	if cfg.keep != "" {
		if err := os.MkdirAll(cfg.keep, 0o700); err != nil {
			return err
		}
		dataDir = cfg.keep
	}
	b.rep.Started = b.started
	b.rep.Command = command()
	b.rep.Machine = describeMachine(dataDir)
	b.rep.Machine.SQLite = sqliteDescription(ctx, b.tmpRoot, cfg.synchronous)
	if b.rep.Machine.Load != "" {
		var l1 float64
		fmt.Sscan(strings.Fields(b.rep.Machine.Load)[0], &l1)
		if l1 > 1.5 {
			b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("the 1-minute load average was %.2f when the run started "+
				"(%d processors): other work was competing for the CPU.", l1, b.rep.Machine.Processors))
		}
	}
	needPG := cfg.only["a"] || cfg.only["c"] || cfg.only["d"] || cfg.only["e"] || cfg.only["w"] || cfg.only["p"] || cfg.only["k"] ||
		cfg.only["h"] && strings.Contains(cfg.hStores, "PostgreSQL")
	if needPG {
		b.pgOK, b.pgWhy = b.probePG(ctx)
		if !b.pgOK {
			b.rep.Warnings = append(b.rep.Warnings, "PostgreSQL runs skipped: "+b.pgWhy)
		}
	}
	b.describeWorkload()

	modes := []string{cfg.mode}
	if cfg.mode == "both" {
		modes = []string{"single", "multi"}
	}
	if cfg.only["a"] && b.pgOK {
		for _, m := range modes {
			b.add(b.compareA(ctx, m))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	if cfg.only["b"] {
		for _, m := range modes {
			b.add(b.compareB(ctx, m))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	if cfg.only["c"] {
		b.add(b.compareCSQLite(ctx))
		if b.pgOK && ctx.Err() == nil {
			b.add(b.compareCPG(ctx))
		}
	}
	if cfg.only["d"] && ctx.Err() == nil {
		b.add(b.compareDSQLite(ctx))
		if b.pgOK && ctx.Err() == nil {
			b.add(b.compareDPG(ctx))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := b.writeAppendResults(); err != nil {
		return err
	}
	if cfg.only["e"] {
		if err := b.runImports(ctx); err != nil {
			return err
		}
		log.Printf("wrote the import section of %s", cfg.out)
	}
	if cfg.only["w"] {
		if err := b.runWatermill(ctx); err != nil {
			return err
		}
	}
	if cfg.only["p"] {
		if err := b.runProjection(ctx); err != nil {
			return err
		}
		log.Printf("wrote the projection section of %s", cfg.out)
	}
	if cfg.only["k"] {
		if err := b.runContacts(ctx); err != nil {
			return err
		}
		log.Printf("wrote the contacts section of %s", cfg.out)
	}
	if cfg.only["h"] {
		if err := b.runHTTP(ctx); err != nil {
			return err
		}
		log.Printf("wrote the HTTP section of %s", cfg.out)
	}
	return nil
}

// writeAppendResults writes the section of (a) to (d), as soon as they
// have run, so that a long run stopped later keeps them.
func (b *bench) writeAppendResults() error {
	cfg := b.cfg
	if !cfg.only["a"] && !cfg.only["b"] && !cfg.only["c"] && !cfg.only["d"] {
		return nil
	}
	b.rep.Elapsed = time.Since(b.started)
	b.rep.Machine.LoadEnd = loadAverage()
	if f := strings.Fields(b.rep.Machine.LoadEnd); len(f) == 3 {
		var l5 float64
		fmt.Sscan(f[1], &l5)
		if l5 > float64(b.rep.Machine.Processors)+0.5 {
			b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("the 5-minute load average was %.2f at the end of the run, "+
				"more than the benchmark and PostgreSQL account for on %d processors: other work ran during the run and the "+
				"figures of its last minutes are suspect.", l5, b.rep.Machine.Processors))
		}
	}
	if err := writeResults(cfg.out, b.rep.markdown()); err != nil {
		return fmt.Errorf("write %s: %w", cfg.out, err)
	}
	log.Printf("wrote %s", cfg.out)
	return nil
}

func (b *bench) add(c *comparison) {
	if c == nil {
		return
	}
	b.rep.Results = append(b.rep.Results, c)
	if c.Err != nil {
		log.Printf("(%s) %s: %v", c.ID, c.Store, c.Err)
		return
	}
	if c.Base.Label != "" {
		log.Printf("(%s) %s: ours %s ev/s, baseline %s ev/s, ratio %s, target %s met: %v", c.ID, c.Store,
			fmtRate(c.Ours.rate()), fmtRate(c.Base.rate()), c.ratioText(), c.targetText(), c.met())
	}
}

func (b *bench) describeWorkload() {
	cfg := b.cfg
	_, stream, ev := b.w.gen(0)
	b.rep.Params = []string{
		fmt.Sprintf("Events: type `%s`, spread over %s streams `person-<n>` (n from a seeded PRNG, seed %d); "+
			"payload ~%d bytes of compact JSON, metadata `%s`. Example (stream `%s`): `%s`",
			eventType, fmtInt(streamCount), cfg.seed, len(ev.Payload), ev.Metadata, stream, ev.Payload),
		fmt.Sprintf("N = %s events for (a), (b) and (d); %s events per run for (c).", fmtInt(cfg.n), fmtInt(cfg.concurrentN)),
		"Event ids are assigned by the store (UUIDv7), as for a client that sends none; the baselines generate UUIDv7s too.",
	}
	switch cfg.mode {
	case "single", "both":
		b.rep.Params = append(b.rep.Params, fmt.Sprintf("\"Our batched Append\" in (a) and (b): %d goroutines, each calling "+
			"Store.Append with one event and waiting for it before the next; the group committer builds the batches "+
			"(transactions) from whatever is queued. This is the production path: many clients, one event each.", cfg.workers))
	}
	if cfg.mode != "single" {
		b.rep.Params = append(b.rep.Params, fmt.Sprintf("Multi-event mode (also shown): Store.Append calls of %d events "+
			"(one StreamAppend per stream within the call), %d calls in flight.", cfg.callSize, cfg.callsInFlt))
	}
}

// command is the command line that reproduces this run.
func command() string {
	parts := []string{"go run ./bench"}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " \t'\"$\\") || a == "" {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func randomSuffix() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

func (b *bench) cleanup() {
	if len(b.schemas) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := b.dropSchemas(ctx); err != nil {
			log.Printf("drop schemas %v: %v", b.schemas, err)
		}
		cancel()
	}
	if b.tmpRoot != "" {
		if err := os.RemoveAll(b.tmpRoot); err != nil {
			log.Printf("remove %s: %v", b.tmpRoot, err)
		}
	}
}

// dirSize sums the sizes of the files directly in dir.
func dirSize(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
