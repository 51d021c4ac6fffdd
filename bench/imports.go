package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/simulate"
	"github.com/riskledger/riskledger/vault"
	vaultpostgres "github.com/riskledger/riskledger/vault/postgres"
	vaultsqlite "github.com/riskledger/riskledger/vault/sqlite"
)

// The import comparisons (e), written to their own generated section of
// RESULTS.md:
//
//   - e1: commands of a simulated city executed through the batch path
//     (validation, decisions, sealing, idempotency), against the ledger's
//     own batched Append of the very events that run appended (same ids,
//     same payloads), on each store. Target: ours at least 50% of the
//     baseline's events/s.
//   - e2: the whole Gowalla NYC file through `riskledger import-checkins`,
//     wall time on each store. Target: at most 10 s.
//   - e3 (with --city-people): `riskledger simulate` of a city appended
//     straight into each store, wall time. Target for 100,000 people x 14
//     days: 2 minutes on the embedded store, 4 on PostgreSQL.
const (
	importBegin = "<!-- BEGIN IMPORT GENERATED: written by `go run ./bench --only e`; everything from here to END IMPORT GENERATED is replaced on each run -->"
	importEnd   = "<!-- END IMPORT GENERATED -->"
	// bulkWindow is the window `riskledger import` executes at once.
	bulkWindow = 50000
)

type importRow struct {
	id, store, what string
	ours, base      measurement
	target          string
	met             bool
	hasBase         bool
	err             error
}

func (b *bench) runImports(ctx context.Context) error {
	cfg := b.cfg
	var rows []importRow
	cmds, err := cityCommands(cfg.simPeople, cfg.simDays)
	if err != nil {
		return err
	}
	log.Printf("(e1) %d commands of a city of %d people over %d days", len(cmds), cfg.simPeople, cfg.simDays)
	stores := []string{"SQLite"}
	if b.pgOK {
		stores = append(stores, "PostgreSQL")
	}
	for _, store := range stores {
		rows = append(rows, b.compareImport(ctx, store, cmds))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	bin, err := b.buildBinary(ctx)
	if err != nil {
		return err
	}
	gowalla := mustAbs(filepath.Join("..", "shared", "data", "checkins", "gowalla_nyc_checkins.tsv.gz"))
	for _, store := range stores {
		rows = append(rows, b.timeCLI(ctx, "e2", store, bin, 10*time.Second,
			"the Gowalla NYC file (138,957 rows) through `riskledger import-checkins`",
			"import-checkins", "--format", "gowalla", gowalla))
	}
	if cfg.cityPeople > 0 {
		for _, store := range stores {
			limit := 2 * time.Minute
			if store == "PostgreSQL" {
				limit = 4 * time.Minute
			}
			rows = append(rows, b.timeCLI(ctx, "e3", store, bin, limit,
				fmt.Sprintf("`riskledger simulate --people %d --days %d --seed 1` appended", cfg.cityPeople, cfg.cityDays),
				"simulate", "--people", fmt.Sprint(cfg.cityPeople), "--days", fmt.Sprint(cfg.cityDays), "--seed", "1"))
		}
	}
	return writeSection(cfg.out, importBegin, importEnd, b.importMarkdown(rows))
}

// cityCommands generates a simulated city's commands.
func cityCommands(people, days int) ([]domain.Command, error) {
	cfg := simulate.Config{People: people, Checkpoints: simulate.DefaultCheckpoints(people), Days: days, Seed: 1}
	var cmds []domain.Command
	_, err := simulate.Run(cfg, func(c domain.Command) error {
		cmds = append(cmds, c)
		return nil
	})
	return cmds, err
}

// openLedger opens a fresh ledger and key store of the named store.
func (b *bench) openLedger(ctx context.Context, store, tag string) (eventstore.Store, *vault.Vault, func(), error) {
	master := make([]byte, vault.MasterKeySize)
	_, _ = rand.Read(master)
	var s eventstore.Store
	var ks vault.KeyStore
	var err error
	if store == "SQLite" {
		dir, derr := os.MkdirTemp(b.tmpRoot, tag+"-")
		if derr != nil {
			return nil, nil, nil, derr
		}
		if s, err = sqlite.Open(ctx, sqlite.Config{Dir: dir, Synchronous: b.cfg.synchronous}); err == nil {
			ks, err = vaultsqlite.Open(ctx, vaultsqlite.Config{Dir: dir})
		}
	} else {
		schema := b.newSchema(tag)
		if s, err = postgres.Open(ctx, postgres.Config{URL: b.cfg.dbURL, Schema: schema}); err == nil {
			ks, err = vaultpostgres.Open(ctx, vaultpostgres.Config{URL: b.cfg.dbURL, Schema: b.newSchema(tag + "_vault")})
		}
	}
	if err != nil {
		if s != nil {
			s.Close()
		}
		return nil, nil, nil, err
	}
	v, err := vault.New(ctx, vault.Config{Store: ks, MasterKey: master})
	if err != nil {
		s.Close()
		ks.Close()
		return nil, nil, nil, err
	}
	return s, v, func() { s.Close(); ks.Close() }, nil
}

// compareImport runs e1 on one store.
func (b *bench) compareImport(ctx context.Context, store string, cmds []domain.Command) importRow {
	row := importRow{id: "e1", store: store, hasBase: true, target: "≥ 50%",
		what: fmt.Sprintf("%d commands of a simulated city (%d people, %d days) through the batch path vs batched Append of the same events",
			len(cmds), b.cfg.simPeople, b.cfg.simDays)}
	s, v, closeOurs, err := b.openLedger(ctx, store, "e1_ours")
	if err != nil {
		row.err = err
		return row
	}
	defer closeOurs()
	h := commands.New(s, v)
	start := time.Now()
	for i := 0; i < len(cmds); i += bulkWindow {
		for k, o := range h.ExecuteAll(ctx, cmds[i:min(i+bulkWindow, len(cmds))], "bench") {
			if o.Err != nil {
				row.err = fmt.Errorf("command %d (%s): %w", i+k, cmds[i+k].ID, o.Err)
				return row
			}
		}
	}
	hd, err := s.Head(ctx)
	if err != nil {
		row.err = err
		return row
	}
	row.ours = measurement{Label: "import", Events: hd.Position, Dur: time.Since(start)}
	log.Printf("(e1) %s: imported %d commands, %d events in %s", store, len(cmds), hd.Position, row.ours.Dur.Round(time.Millisecond))

	if row.base, row.err = b.appendBaseline(ctx, store, s); row.err != nil {
		return row
	}
	r := row.ours.rate() / row.base.rate()
	row.met = r >= 0.5
	log.Printf("(e1) %s: ours %s ev/s, baseline %s ev/s, ratio %.0f%%", store, fmtRate(row.ours.rate()), fmtRate(row.base.rate()), 100*r)
	return row
}

// appendBaseline reads back every event of src and appends the same events
// (ids, types, payloads, metadata) to a fresh ledger of the store, in
// batched Append calls of 1,000 events (one StreamAppend per stream) with 2
// calls in flight, and times that.
func (b *bench) appendBaseline(ctx context.Context, store string, src eventstore.Store) (measurement, error) {
	var evs []eventstore.Event
	for after := int64(0); ; {
		page, err := src.ReadAll(ctx, after, 10000)
		if err != nil {
			return measurement{}, err
		}
		if len(page) == 0 {
			break
		}
		evs = append(evs, page...)
		after = page[len(page)-1].Position
	}
	base, _, closeBase, err := b.openLedger(ctx, store, "base")
	if err != nil {
		return measurement{}, err
	}
	defer closeBase()
	calls := make(chan []eventstore.StreamAppend, 2)
	var wg sync.WaitGroup
	var appendErr error
	var once sync.Once
	for range 2 {
		wg.Go(func() {
			for c := range calls {
				if _, err := base.Append(ctx, c...); err != nil {
					once.Do(func() { appendErr = err })
				}
			}
		})
	}
	start := time.Now()
	for i := 0; i < len(evs); i += 1000 {
		byStream := map[string]int{}
		var call []eventstore.StreamAppend
		for _, e := range evs[i:min(i+1000, len(evs))] {
			k, ok := byStream[e.Stream]
			if !ok {
				k = len(call)
				byStream[e.Stream] = k
				call = append(call, eventstore.StreamAppend{Stream: e.Stream})
			}
			call[k].Events = append(call[k].Events, eventstore.NewEvent{ID: e.ID, Type: e.Type, SchemaVersion: e.SchemaVersion,
				OccurredAt: e.OccurredAt, Actor: e.Actor, Payload: e.Payload, Metadata: e.Metadata})
		}
		calls <- call
	}
	close(calls)
	wg.Wait()
	m := measurement{Label: "batched Append", Events: int64(len(evs)), Dur: time.Since(start)}
	log.Printf("%s: batched Append of the same %d events in %s", store, len(evs), m.Dur.Round(time.Millisecond))
	return m, appendErr
}

// buildBinary builds riskledger into the temporary directory.
func (b *bench) buildBinary(ctx context.Context) (string, error) {
	bin := filepath.Join(b.tmpRoot, "riskledger")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/riskledger")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build riskledger: %w", err)
	}
	return bin, nil
}

// timeCLI times one run of the binary on a fresh ledger of the store.
func (b *bench) timeCLI(ctx context.Context, id, store, bin string, limit time.Duration, what string, args ...string) importRow {
	row := importRow{id: id, store: store, what: what, target: "≤ " + limit.String()}
	dir, err := os.MkdirTemp(b.tmpRoot, id+"-")
	if err != nil {
		row.err = err
		return row
	}
	env := append(os.Environ(), "RISKLEDGER_DATA="+dir)
	var dbURL string
	if store == "PostgreSQL" {
		keys := filepath.Join(dir, "keys")
		if out, err := exec.CommandContext(ctx, bin, "keys", "init", keys).CombinedOutput(); err != nil {
			row.err = fmt.Errorf("keys init: %v: %s", err, out)
			return row
		}
		u, drop, err := b.newDatabase(ctx)
		if err != nil {
			row.err = err
			return row
		}
		defer drop()
		dbURL = u
		env = append(env, "RISKLEDGER_DATABASE_URL="+u, "RISKLEDGER_MASTER_KEY_FILE="+filepath.Join(keys, "master.key"),
			"RISKLEDGER_HEAD_KEY_FILE="+filepath.Join(keys, "head.key"))
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	row.ours = measurement{Label: strings.TrimSpace(string(out)), Dur: time.Since(start)}
	if err != nil {
		row.err = fmt.Errorf("%v: %s", err, out)
		return row
	}
	row.met = row.ours.Dur <= limit
	log.Printf("(%s) %s: %s in %s", id, store, args[0], row.ours.Dur.Round(time.Millisecond))
	if id == "e3" {
		// What the ledger's own batched Append of the same events takes.
		var src eventstore.Store
		var err error
		if store == "SQLite" {
			src, err = sqlite.Open(ctx, sqlite.Config{Dir: dir, ReadOnly: true})
		} else {
			src, err = postgres.Open(ctx, postgres.Config{URL: dbURL})
		}
		if err == nil {
			hd, _ := src.Head(ctx)
			row.ours.Events = hd.Position
			row.base, err = b.appendBaseline(ctx, store, src)
			src.Close()
		}
		if err != nil {
			row.err = err
			return row
		}
		row.hasBase = true
	}
	return row
}

func (b *bench) importMarkdown(rows []importRow) string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	m := b.rep.Machine
	p("%s\n\n## Import results\n\n", importBegin)
	p("Command: `%s`  \nRun: %s UTC, %s in all; code %s.  \n", command(), b.started.UTC().Format("2006-01-02 15:04"),
		time.Since(b.started).Round(time.Second), codeVersion())
	p("Machine: %s, %d logical processors, %s; %s; load average at start %s.\n\n", m.CPU, m.Processors, m.MemTotal, m.Go, m.Load)
	p("| | Comparison | Store | Ours | Baseline | Ours ÷ baseline | Target | Met |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		if r.err != nil {
			p("| %s | %s | %s | error: %s | | | %s | no |\n", r.id, r.what, r.store, oneLine(r.err.Error()), r.target)
			continue
		}
		met := "no"
		if r.met {
			met = "**yes**"
		}
		if r.hasBase {
			p("| %s | %s | %s | %s events/s (%d events in %s) | %s events/s (%s) | %.2f (%.0f%%) | %s | %s |\n", r.id, r.what, r.store,
				fmtRate(r.ours.rate()), r.ours.Events, r.ours.Dur.Round(time.Millisecond), fmtRate(r.base.rate()),
				r.base.Dur.Round(time.Millisecond), r.ours.rate()/r.base.rate(), 100*r.ours.rate()/r.base.rate(), r.target, met)
			continue
		}
		p("| %s | %s | %s | %s | | | %s | %s |\n", r.id, r.what, r.store, r.ours.Dur.Round(100*time.Millisecond), r.target, met)
	}
	p("\nWhat the runs printed:\n\n")
	for _, r := range rows {
		if !r.hasBase && r.err == nil {
			p("- %s, %s: `%s`\n", r.id, r.store, oneLine(r.ours.Label))
		}
	}
	p("\n%s\n", importEnd)
	return sb.String()
}
