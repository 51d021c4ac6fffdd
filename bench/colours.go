package main

// Comparison p: the colour projection on a simulated city (DESIGN §7's
// scale: 100,000 people, 14 days). On each store:
//
//	p1  rebuild (read, decode, fold, judge everyone, write the read model)
//	    vs the store's raw read-and-decode of the same log (Store.ReadAll);
//	p2  the colour query (one person, now) and the read model's row lookup;
//	p3  the co-presence index's bytes per admitted scan, and the heap;
//	p4  live lag, from an event's commit to the read model's checkpoint
//	    passing it, under steady command rates: in one process through a
//	    watermill GoChannel (SQLite), across processes through watermill-sql
//	    (PostgreSQL, the `riskledger project` binary as the worker); and the
//	    worker's catch-up after a backlog.

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/jackc/pgx/v5"

	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/projections"
	"github.com/riskledger/riskledger/simulate"
	"github.com/riskledger/riskledger/vault"
	vaultpostgres "github.com/riskledger/riskledger/vault/postgres"
	vaultsqlite "github.com/riskledger/riskledger/vault/sqlite"
)

const (
	projectionBegin = "<!-- BEGIN PROJECTION GENERATED -->"
	projectionEnd   = "<!-- END PROJECTION GENERATED -->"
)

// projectionRun is what p measured on one store.
type projectionRun struct {
	store              string
	events             int64
	importDur          time.Duration
	raw, rebuild       measurement
	fold               measurement // the store's read of what the projection folds, where it has one
	persons            int
	heap               uint64
	visitBytes, visits int64
	queryP50, queryP99 time.Duration
	queryMax           time.Duration
	rowP50, rowP99     time.Duration
	steps              []lagStep
	backlogs           []backlogRun
	transport          string
	err                error
}

// lagStep is one steady rate held for a while.
type lagStep struct {
	target, achieved float64
	commands         int
	events           int
	p50, p99, max    time.Duration
}

// backlogRun is a worker started behind the head.
type backlogRun struct {
	backlog int64
	catchUp time.Duration
}

// splitCity generates the city for days+extra days and splits its commands
// at the end of the first days: the history, and the feed of the live
// steps.
func splitCity(people, days, extra int) (history, feed []domain.Command, err error) {
	cfg := simulate.Config{People: people, Checkpoints: simulate.DefaultCheckpoints(people), Days: days + extra, Seed: 1}
	cutoff := cfg.FirstDay().Start(time.UTC).Add(time.Duration(days) * 24 * time.Hour)
	_, err = simulate.Run(cfg, func(c domain.Command) error {
		if c.At.Before(cutoff) {
			history = append(history, c)
		} else {
			feed = append(feed, c)
		}
		return nil
	})
	return history, feed, err
}

func (b *bench) runProjection(ctx context.Context) error {
	people, days := b.cfg.pPeople, b.cfg.pDays
	// The city's commands and a projection or two of it are held at once:
	// keep the heap within 10 GiB.
	debug.SetMemoryLimit(10 << 30)
	history, feed, err := splitCity(people, days, 2)
	if err != nil {
		return err
	}
	log.Printf("(p) a city of %d people: %d commands over %d days, %d more for the live steps", people, len(history), days, len(feed))
	var runs []projectionRun
	for _, store := range []string{"SQLite", "PostgreSQL"} {
		if !strings.Contains(b.cfg.pStores, store) || store == "PostgreSQL" && !b.pgOK {
			continue
		}
		run := b.projectionOn(ctx, store, history, feed)
		if run.err != nil {
			log.Printf("(p) %s: %v", store, run.err)
		}
		runs = append(runs, run)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return writeSection(b.cfg.out, projectionBegin, projectionEnd, b.projectionMarkdown(people, days, runs))
}

// cityLedger is a ledger of the bench, with what opens a view of it.
type cityLedger struct {
	store eventstore.Store
	h     *commands.Handler
	dir   string // SQLite
	url   string // PostgreSQL: a database of its own, for the worker binary
	close func()
}

func (b *bench) openCity(ctx context.Context, store string) (*cityLedger, error) {
	master := make([]byte, vault.MasterKeySize)
	l := &cityLedger{}
	var ks vault.KeyStore
	var err error
	if store == "SQLite" {
		if l.dir, err = os.MkdirTemp(b.tmpRoot, "p-"); err != nil {
			return nil, err
		}
		if l.store, err = sqlite.Open(ctx, sqlite.Config{Dir: l.dir, Synchronous: b.cfg.synchronous}); err == nil {
			ks, err = vaultsqlite.Open(ctx, vaultsqlite.Config{Dir: l.dir})
		}
		if err != nil {
			return nil, err
		}
		l.close = func() { l.store.Close(); ks.Close() }
	} else {
		var drop func()
		if l.url, drop, err = b.newDatabase(ctx); err != nil {
			return nil, err
		}
		if l.store, err = postgres.Open(ctx, postgres.Config{URL: l.url}); err == nil {
			ks, err = vaultpostgres.Open(ctx, vaultpostgres.Config{URL: l.url, Schema: "riskledger_vault"})
		}
		if err != nil {
			drop()
			return nil, err
		}
		l.close = func() { l.store.Close(); ks.Close(); drop() }
	}
	v, err := vault.New(ctx, vault.Config{Store: ks, MasterKey: master})
	if err != nil {
		l.close()
		return nil, err
	}
	l.h = commands.New(l.store, v)
	return l, nil
}

func (b *bench) projectionOn(ctx context.Context, store string, history, feed []domain.Command) (run projectionRun) {
	run.store = store
	l, err := b.openCity(ctx, store)
	if err != nil {
		run.err = err
		return run
	}
	defer l.close()
	loc, _ := time.LoadLocation("Asia/Shanghai")
	l.h.SetColours(&projections.View{Store: l.store, Colours: projections.NewColours(loc)})
	start := time.Now()
	if err := execute(ctx, l.h, history); err != nil {
		run.err = err
		return run
	}
	run.importDur = time.Since(start)
	hd, _ := l.store.Head(ctx)
	run.events = hd.Position
	log.Printf("(p) %s: the history imported: %d events in %s", store, run.events, run.importDur.Round(time.Second))

	// p1: raw read-and-decode, then rebuild; best of two each.
	for range 2 {
		start := time.Now()
		n, err := readAllEvents(ctx, l.store)
		if err != nil {
			run.err = err
			return run
		}
		m := measurement{Label: "Store.ReadAll, pages of 10,000", Events: n, Dur: time.Since(start)}
		if run.raw.Dur == 0 || m.Dur < run.raw.Dur {
			run.raw = m
		}
		fr, ok := l.store.(eventstore.FoldReader)
		if !ok {
			continue
		}
		start = time.Now()
		n, err = readAllWith(ctx, fr.ReadFold)
		if err != nil {
			run.err = err
			return run
		}
		m = measurement{Label: "FoldReader.ReadFold, pages of 10,000", Events: n, Dur: time.Since(start)}
		if run.fold.Dur == 0 || m.Dur < run.fold.Dur {
			run.fold = m
		}
	}
	var colours *projections.Colours
	var model projections.ReadModel
	// As `riskledger rebuild` runs it: the collector at GOGC=400.
	gc := debug.SetGCPercent(400)
	for i := range 2 {
		m, closeModel, err := b.freshModel(ctx, l, fmt.Sprintf("rebuild%d", i))
		if err != nil {
			run.err = err
			return run
		}
		runtime.GC()
		c := projections.NewColours(loc)
		r := &projections.Runner{Store: l.store, Colours: c, Model: m}
		start := time.Now()
		if err := r.CatchUp(ctx); err == nil {
			err = r.Settle(ctx)
		}
		if err != nil {
			run.err = err
			return run
		}
		mm := measurement{Label: "rebuild", Events: c.Applied(), Dur: time.Since(start)}
		if run.rebuild.Dur == 0 || mm.Dur < run.rebuild.Dur {
			run.rebuild = mm
		}
		if i == 0 {
			// The first run's projection goes before the second runs.
			closeModel()
			continue
		}
		colours, model = c, m
		defer closeModel()
	}
	debug.SetGCPercent(gc)
	log.Printf("(p) %s: read %s ev/s, rebuild %s ev/s (%.0f%%)", store, fmtRate(run.raw.rate()), fmtRate(run.rebuild.rate()),
		100*run.rebuild.rate()/run.raw.rate())

	// p3: memory.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	run.heap = ms.HeapInuse
	run.visitBytes, run.visits = colours.Index().VisitBytes()

	// p2: the colour query and the row lookup, 10,000 random persons.
	rows := colours.Rows()
	run.persons = len(rows)
	rng := rand.New(rand.NewPCG(1, 2))
	var q, rl []time.Duration
	now := time.Now()
	for range 10000 {
		p := rows[rng.IntN(len(rows))].PersonID
		t0 := time.Now()
		colours.ColourAt(p, now)
		t1 := time.Now()
		if _, _, _, err := model.Row(ctx, p); err != nil {
			run.err = err
			return run
		}
		q, rl = append(q, t1.Sub(t0)), append(rl, time.Since(t1))
	}
	run.queryP50, run.queryP99, run.queryMax = percentile(q, 0.5), percentile(q, 0.99), slices.Max(q)
	run.rowP50, run.rowP99 = percentile(rl, 0.5), percentile(rl, 0.99)
	log.Printf("(p) %s: colour query p50 %s p99 %s max %s, row p50 %s p99 %s; %d B per visit", store, run.queryP50, run.queryP99, run.queryMax,
		run.rowP50, run.rowP99, run.visitBytes/max(run.visits, 1))
	colours, model = nil, nil
	runtime.GC()

	// p4: live lag under steady rates, then backlogs.
	if store == "SQLite" {
		run.transport = "one process: the relay fills a watermill GoChannel"
		run.steps, run.err = b.liveInProcess(ctx, l, loc, feed, []float64{10000, 15000, 20000, 30000})
	} else {
		run.transport = "across processes: `riskledger project` consuming through watermill-sql"
		run.steps, run.backlogs, run.err = b.liveAcrossProcesses(ctx, l, feed, []float64{5000, 10000, 15000})
	}
	return run
}

// execute runs commands through the batch path, as `import` does.
func execute(ctx context.Context, h *commands.Handler, cmds []domain.Command) error {
	for i := 0; i < len(cmds); i += bulkWindow {
		for k, o := range h.ExecuteAll(ctx, cmds[i:min(i+bulkWindow, len(cmds))], "bench") {
			if o.Err != nil {
				return fmt.Errorf("command %d (%s): %w", i+k, cmds[i+k].ID, o.Err)
			}
		}
	}
	return nil
}

func readAllEvents(ctx context.Context, s eventstore.Store) (int64, error) {
	return readAllWith(ctx, s.ReadAll)
}

// readAllWith reads the log to its end in pages of 10,000 with read.
func readAllWith(ctx context.Context, read func(context.Context, int64, int) ([]eventstore.Event, error)) (int64, error) {
	var n, after int64
	for {
		page, err := read(ctx, after, 10000)
		if err != nil {
			return n, err
		}
		if len(page) == 0 {
			return n, nil
		}
		n += int64(len(page))
		after = page[len(page)-1].Position
	}
}

// freshModel opens an empty read model beside the ledger.
func (b *bench) freshModel(ctx context.Context, l *cityLedger, tag string) (projections.ReadModel, func(), error) {
	if l.dir != "" {
		dir, err := os.MkdirTemp(b.tmpRoot, "p-model-")
		if err != nil {
			return nil, nil, err
		}
		m, err := projections.OpenSQLite(ctx, dir)
		if err != nil {
			return nil, nil, err
		}
		return m, func() { m.Close() }, nil
	}
	m, err := projections.OpenPostgres(ctx, l.url, "rm_"+tag)
	if err != nil {
		return nil, nil, err
	}
	return m, func() { m.Close() }, nil
}

// settles records when the read model's checkpoint passed which position.
type settles struct {
	mu  sync.Mutex
	pos []int64
	at  []time.Time
}

func (s *settles) note(pos int64, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.pos); n == 0 || pos > s.pos[n-1] {
		s.pos, s.at = append(s.pos, pos), append(s.at, at)
	}
}

// lags is each event's time from its commit to the first settle that
// covered it.
func (s *settles) lags(evs []eventstore.Event) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]time.Duration, 0, len(evs))
	k := 0
	for _, e := range evs {
		for k < len(s.pos) && s.pos[k] < e.Position {
			k++
		}
		if k == len(s.pos) {
			break
		}
		out = append(out, max(s.at[k].Sub(e.RecordedAt), 0))
	}
	return out
}

// timedModel notes each save of the read model.
type timedModel struct {
	projections.ReadModel
	s *settles
}

func (m timedModel) Save(ctx context.Context, position int64, rows []*projections.Row) error {
	err := m.ReadModel.Save(ctx, position, rows)
	m.s.note(position, time.Now())
	return err
}

// feedSteady appends cmds at rate commands a second, in batches every 10
// ms (a batch takes the commands due by then), for at most d; it returns
// the commands it appended and the achieved rate.
func feedSteady(ctx context.Context, h *commands.Handler, cmds []domain.Command, rate float64, d time.Duration) (int, float64, error) {
	start := time.Now()
	sent := 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for sent < len(cmds) && time.Since(start) < d {
		<-tick.C
		due := min(int(rate*time.Since(start).Seconds()), len(cmds))
		if due <= sent {
			continue
		}
		for k, o := range h.ExecuteAll(ctx, cmds[sent:due], "bench") {
			if o.Err != nil {
				return sent, 0, fmt.Errorf("command %s: %w", cmds[sent+k].ID, o.Err)
			}
		}
		sent = due
	}
	return sent, float64(sent) / time.Since(start).Seconds(), nil
}

// measureStep feeds one steady step and computes the lags of its events.
func measureStep(ctx context.Context, l *cityLedger, s *settles, feed []domain.Command, rate float64, d time.Duration) (lagStep, int, error) {
	step := lagStep{target: rate}
	from, _ := l.store.Head(ctx)
	n, achieved, err := feedSteady(ctx, l.h, feed, rate, d)
	if err != nil {
		return step, n, err
	}
	step.commands, step.achieved = n, achieved
	to, _ := l.store.Head(ctx)
	// Wait until the worker has passed the step's last event.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s.mu.Lock()
		done := len(s.pos) > 0 && s.pos[len(s.pos)-1] >= to.Position
		s.mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var evs []eventstore.Event
	for after := from.Position; after < to.Position; {
		page, err := l.store.ReadAll(ctx, after, 10000)
		if err != nil || len(page) == 0 {
			return step, n, err
		}
		for _, e := range page {
			if e.Position <= to.Position && e.Type != domain.EvColourAssigned {
				evs = append(evs, e)
			}
		}
		after = page[len(page)-1].Position
	}
	lat := s.lags(evs)
	step.events = len(evs)
	if len(evs) == 0 {
		return step, n, fmt.Errorf("the step appended no events")
	}
	if len(lat) < len(evs) {
		return step, n, fmt.Errorf("the worker did not reach position %d within 2 minutes of the step's end", to.Position)
	}
	step.p50, step.p99, step.max = percentile(lat, 0.5), percentile(lat, 0.99), slices.Max(lat)
	log.Printf("(p) steady %s commands/s (achieved %s): %d events, lag p50 %s p99 %s max %s", fmtRate(rate), fmtRate(achieved),
		len(evs), step.p50, step.p99, step.max)
	return step, n, nil
}

// liveInProcess runs the projection in this process, fed through a
// watermill GoChannel by the relay, while the feed is appended.
func (b *bench) liveInProcess(ctx context.Context, l *cityLedger, loc *time.Location, feed []domain.Command, rates []float64) ([]lagStep, error) {
	m, closeModel, err := b.freshModel(ctx, l, "live")
	if err != nil {
		return nil, err
	}
	defer closeModel()
	s := &settles{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hd, err := l.store.Head(ctx)
	if err != nil {
		return nil, err
	}
	pubsub := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 4096}, watermill.NopLogger{})
	msgs, err := pubsub.Subscribe(ctx, eventstore.DefaultTopic)
	if err != nil {
		return nil, err
	}
	go (&eventstore.Relay{Store: l.store, Publisher: pubsub}).Run(ctx, hd.Position)
	r := &projections.Runner{Store: l.store, Colours: projections.NewColours(loc), Model: timedModel{m, s}, Decide: true}
	done := make(chan error, 1)
	go func() { done <- r.Consume(ctx, msgs) }()
	waitCheckpoint(ctx, s, hd.Position)
	waitIdle(ctx, l.store, s)
	var steps []lagStep
	for _, rate := range rates {
		step, n, err := measureStep(ctx, l, s, feed, rate, 10*time.Second)
		if err != nil {
			return steps, err
		}
		waitIdle(ctx, l.store, s)
		steps = append(steps, step)
		feed = feed[n:]
		if len(feed) == 0 {
			break
		}
	}
	cancel()
	<-done
	return steps, nil
}

// waitIdle waits until the worker's checkpoint has reached the ledger's
// head and the head has stopped moving (the decisions a first settle makes
// are events too).
func waitIdle(ctx context.Context, store eventstore.Store, s *settles) {
	for ctx.Err() == nil {
		hd, err := store.Head(ctx)
		if err != nil {
			return
		}
		waitCheckpoint(ctx, s, hd.Position)
		time.Sleep(2 * time.Second)
		if again, err := store.Head(ctx); err != nil || again.Position == hd.Position {
			return
		}
	}
}

func waitCheckpoint(ctx context.Context, s *settles, pos int64) {
	for ctx.Err() == nil {
		s.mu.Lock()
		ok := len(s.pos) > 0 && s.pos[len(s.pos)-1] >= pos
		s.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// liveAcrossProcesses runs `riskledger project` as the worker, and watches
// its checkpoint in the read model.
func (b *bench) liveAcrossProcesses(ctx context.Context, l *cityLedger, feed []domain.Command, rates []float64) ([]lagStep, []backlogRun, error) {
	bin, err := b.buildBinary(ctx)
	if err != nil {
		return nil, nil, err
	}
	conn, err := pgx.Connect(ctx, l.url)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(context.Background())
	s := &settles{}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		for wctx.Err() == nil {
			var pos int64
			if err := conn.QueryRow(wctx, `SELECT position FROM riskledger_projections.checkpoints WHERE name = $1`,
				projections.ProjectionName).Scan(&pos); err == nil {
				s.note(pos, time.Now())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	start := func() (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, bin, "project", "--database-url", l.url)
		cmd.Stderr = nil
		return cmd, cmd.Start()
	}
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	var backlogs []backlogRun
	// A worker started with the whole history behind it.
	hd, _ := l.store.Head(ctx)
	t0 := time.Now()
	worker, err := start()
	if err != nil {
		return nil, nil, err
	}
	waitCheckpoint(ctx, s, hd.Position)
	backlogs = append(backlogs, backlogRun{backlog: hd.Position, catchUp: time.Since(t0)})
	log.Printf("(p) the worker caught up with %d events in %s", hd.Position, time.Since(t0).Round(time.Millisecond))
	waitIdle(ctx, l.store, s)
	var steps []lagStep
	for _, rate := range rates {
		if len(feed) == 0 {
			break
		}
		step, n, err := measureStep(ctx, l, s, feed, rate, 10*time.Second)
		if err != nil {
			stop(worker)
			return steps, backlogs, err
		}
		steps = append(steps, step)
		feed = feed[n:]
		waitIdle(ctx, l.store, s)
	}
	// Backlogs: the worker stopped while 100,000 events are appended.
	stop(worker)
	if len(feed) > 0 {
		before, _ := l.store.Head(ctx)
		n := 0
		for n < len(feed) {
			cur, _ := l.store.Head(ctx)
			if cur.Position-before.Position >= 100000 {
				break
			}
			k := min(n+5000, len(feed))
			if err := execute(ctx, l.h, feed[n:k]); err != nil {
				return steps, backlogs, err
			}
			n = k
		}
		hd, _ := l.store.Head(ctx)
		t0 := time.Now()
		worker, err := start()
		if err != nil {
			return steps, backlogs, err
		}
		waitCheckpoint(ctx, s, hd.Position)
		backlogs = append(backlogs, backlogRun{backlog: hd.Position - before.Position, catchUp: time.Since(t0)})
		log.Printf("(p) the worker caught up with a backlog of %d events in %s", hd.Position-before.Position, time.Since(t0).Round(time.Millisecond))
		stop(worker)
	}
	return steps, backlogs, nil
}

// newDatabase creates a database of its own for a run and returns its URL.
func (b *bench) newDatabase(ctx context.Context) (string, func(), error) {
	db := "rl_bench_" + randomSuffix()
	conn, err := b.pgConnect(ctx, "public")
	if err != nil {
		return "", nil, err
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+db); err != nil {
		conn.Close(context.Background())
		return "", nil, err
	}
	drop := func() {
		conn.Exec(context.Background(), `DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`)
		conn.Close(context.Background())
	}
	u := b.cfg.dbURL
	if i := strings.LastIndex(u, "/"); i >= 0 {
		rest := ""
		if q := strings.Index(u[i:], "?"); q >= 0 {
			rest = u[i+q:]
		}
		u = u[:i+1] + db + rest
	}
	return u, drop, nil
}

func (b *bench) projectionMarkdown(people, days int, runs []projectionRun) string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	m := b.rep.Machine
	p("%s\n\n## The colour projection on a simulated city of %s people over %d days\n\n", projectionBegin, fmtInt(int64(people)), days)
	p("Command: `%s`  \nRun: %s UTC, %s in all; code %s.  \n", command(), b.started.UTC().Format("2006-01-02 15:04"),
		time.Since(b.started).Round(time.Second), codeVersion())
	p("Machine: %s, %d logical processors, %s; %s; load average at start %s.\n\n", m.CPU, m.Processors, m.MemTotal, m.Go, m.Load)
	p("The city's commands (`simulate`, seed 1) for %d days go in through the batch path; the commands of 2 more days feed the live steps. Rebuilds run with the collector at GOGC=400, as `riskledger rebuild` sets it; each way is timed twice and the best counts.\n\n", days)
	p("The rebuild reads the log with the store's fold read where it has one (`eventstore.FoldReader`: the seven columns a fold reads, of fifteen); the last column times that read alone.\n\n")
	p("| store | events | rebuild | raw read-and-decode (Store.ReadAll) | ratio | target | met | the fold read alone (ReadFold) |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		if r.err != nil && r.rebuild.Dur == 0 {
			p("| %s | – | failed: %s | | | | | |\n", r.store, oneLine(r.err.Error()))
			continue
		}
		ratio := r.rebuild.rate() / r.raw.rate()
		fold := "– (ReadAll)"
		if r.fold.Dur > 0 {
			fold = fmt.Sprintf("%s (%s ev/s)", fmtDur(r.fold.Dur), fmtRate(r.fold.rate()))
		}
		p("| %s | %s | %s (%s ev/s) | %s (%s ev/s) | %.0f%% | ≥ 70%% | %s | %s |\n", r.store, fmtInt(r.events), fmtDur(r.rebuild.Dur),
			fmtRate(r.rebuild.rate()), fmtDur(r.raw.Dur), fmtRate(r.raw.rate()), 100*ratio, yesNo(ratio >= 0.7), fold)
	}
	p("\n| store | persons | colour query p50 / p99 / max (target p99 ≤ 1 ms) | read-model row p50 / p99 | co-presence index (target ≤ 64 B a scan) | heap in use after the rebuild |\n|---|---|---|---|---|---|\n")
	for _, r := range runs {
		if r.persons == 0 {
			continue
		}
		p("| %s | %s | %s / %s / %s (%s) | %s / %s | %s B a scan over %s admitted scans (%s) | %s |\n", r.store, fmtInt(int64(r.persons)),
			r.queryP50, r.queryP99, r.queryMax, yesNo(r.queryP99 <= time.Millisecond), r.rowP50, r.rowP99,
			fmtInt(r.visitBytes/max(r.visits, 1)), fmtInt(r.visits), yesNo(r.visitBytes/max(r.visits, 1) <= 64), fmtBytes(int64(r.heap)))
	}
	p("\nLive lag: from each event's commit (its `recorded_at`) to the read model's checkpoint passing it (in one process: when the runner's transaction committed; across processes: when a poll of the checkpoint every 2 ms saw it). Commands go in through the batch path every 10 ms, each step for 10 s.\n\n")
	p("| store | transport | target rate | achieved | events | lag p50 | lag p99 | max | p99 < 1 s |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		for _, s := range r.steps {
			p("| %s | %s | %s commands/s | %s | %s | %s | %s | %s | %s |\n", r.store, r.transport, fmtRate(s.target), fmtRate(s.achieved),
				fmtInt(int64(s.events)), s.p50, s.p99, s.max, yesNo(s.p99 < time.Second))
		}
		if r.err != nil && r.rebuild.Dur != 0 {
			p("| %s | %s | failed: %s | | | | | | |\n", r.store, r.transport, oneLine(r.err.Error()))
		}
	}
	for _, r := range runs {
		for _, bl := range r.backlogs {
			p("\n- %s: a `project` worker started with %s events behind the head caught up in %s.", r.store, fmtInt(bl.backlog), fmtDur(bl.catchUp))
		}
	}
	p("\n\n%s\n", projectionEnd)
	return sb.String()
}
