package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/projections"
)

// bulk executes commands a window at a time through the handler's batch
// path, in order, while the next window is read and parsed.
type bulk struct {
	h        *commands.Handler
	opts     domain.ParseOptions
	actor    string
	window   int
	progress *progress // nil when not writing to a terminal
}

// entry is one command of a run: parsed, or refused by the parser.
type entry struct {
	line   int
	source string // how messages name it: "line 12", "user 4711"
	cmd    domain.Command
	err    error
}

// counts says what a run of commands did.
type counts struct{ appended, present int }

// stream executes the entries feed emits, in order, a window at a time,
// while feed goes on reading and parsing; report gets each entry with its
// outcome, in order, and stops the run by returning an error.
func (b *bulk) stream(ctx context.Context, feed func(emit func(entry) error) error, report func(entry, commands.Outcome) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	windows := make(chan []entry, 2)
	var feedErr error
	go func() {
		defer close(windows)
		send := func(w []entry) error {
			select {
			case windows <- w:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		w := make([]entry, 0, b.window)
		feedErr = feed(func(e entry) error {
			if w = append(w, e); len(w) == b.window {
				if err := send(w); err != nil {
					return err
				}
				w = make([]entry, 0, b.window)
			}
			return nil
		})
		if feedErr == nil && len(w) > 0 {
			feedErr = send(w)
		}
	}()
	var stop error
	for w := range windows {
		if stop != nil {
			continue // drain, so that feed ends
		}
		cmds := make([]domain.Command, 0, len(w))
		for _, e := range w {
			if e.err == nil {
				cmds = append(cmds, e.cmd)
			}
		}
		outs := b.h.ExecuteAll(ctx, cmds, b.actor)
		k := 0
		for _, e := range w {
			o := commands.Outcome{Err: e.err}
			if e.err == nil {
				o = outs[k]
				k++
			}
			if stop = report(e, o); stop != nil {
				cancel()
				break
			}
		}
		b.progress.add(len(w))
	}
	b.progress.done()
	if stop != nil {
		return stop
	}
	if feedErr != nil {
		return feedErr
	}
	return ctx.Err()
}

// run executes lines 0..n-1 that line makes, each parsed as `import`
// parses a line, so that every rule of the command file applies. It stops
// at the first error, which names the line's source.
func (b *bulk) run(ctx context.Context, n int, line func(i int) (text, source string)) (counts, error) {
	var c counts
	err := b.stream(ctx, func(emit func(entry) error) error {
		for i := range n {
			text, source := line(i)
			cmd, err := domain.ParseCommand([]byte(text), b.opts)
			if err := emit(entry{line: i + 1, source: source, cmd: cmd, err: err}); err != nil {
				return err
			}
		}
		return nil
	}, func(e entry, o commands.Outcome) error {
		switch {
		case o.Err != nil:
			return fmt.Errorf("%s: %w", e.source, o.Err)
		case o.AlreadyPresent:
			c.present++
		default:
			c.appended++
		}
		return nil
	})
	return c, err
}

// lessGC makes the collector run less often, for work that makes garbage
// fast (a bulk import, a rebuild, a server under load: the collector took
// a quarter of a busy server's CPU), within a soft limit of half the
// machine's memory; GOGC and GOMEMLIMIT, when set, still decide.
func lessGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if total := memTotal(); total > 0 {
			debug.SetMemoryLimit(total / 2)
		}
	}
}

// memTotal is the machine's memory in bytes, 0 when unknown.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var kb int64
	for _, line := range strings.Split(string(b), "\n") {
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return 0
}

// openBulk opens the ledger and the vault for an importer; close releases
// them. label names the work on the progress bar.
func (m *Main) openBulk(ctx context.Context, actor string) (b *bulk, close func(), err error) {
	opts, err := m.parseOptions()
	if err != nil {
		return nil, nil, err
	}
	lessGC()
	store, _, err := m.openStore(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	h, _, closeVault, err := m.handler(ctx, store, opts)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return &bulk{h: h, opts: opts, actor: actor, window: bulkWindow, progress: m.newProgress(actor)},
		func() { closeVault(); store.Close() }, nil
}

// handler is the command handler over store: personal data sealed in
// the vault, scans of a person's code decided on the colour as the ledger
// knows it before them, and codes checked against this node's issuer when
// it has one (with PostgreSQL, only when issuer_key_file is set), which it
// returns too. closeVault releases the vault.
func (m *Main) handler(ctx context.Context, store eventstore.Store, opts domain.ParseOptions) (h *commands.Handler, issuer *commands.Issuer, closeVault func() error, err error) {
	v, closeVault, err := m.openVault(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	h = commands.New(store, v)
	h.SetColours(&projections.View{Store: store, Colours: projections.NewColours(opts.Location)})
	issuer, err = m.nodeIssuer()
	if err == nil && issuer != nil {
		err = h.SetIssuer(issuer)
	}
	if err != nil {
		closeVault()
		return nil, nil, nil, err
	}
	return h, issuer, closeVault, nil
}

// bulkWindow is how many commands a bulk run decides and appends at once.
const bulkWindow = 50000

// registerPeople registers the persons of a data set: id UUIDv5 of
// "dataset:person:source id", document {type: other, number:
// "dataset:source id"}, so that a second import finds the same persons and
// other tools can compute their ids. label names a source record in
// messages ("user", "participant").
func (b *bulk) registerPeople(ctx context.Context, dataset, label, at string, ids []string) (counts, error) {
	return b.run(ctx, len(ids), func(i int) (string, string) {
		id := ids[i]
		line, _ := json.Marshal(map[string]any{
			"id": dataset + ":person:" + id, "command": "register_person", "at": at,
			"person_id": datasetID(dataset, "person", id), "name": label + " " + id, "nationality": "ZZ",
			"document": map[string]string{"type": "other", "number": dataset + ":" + id, "country": "ZZ"},
		})
		return string(line), label + " " + id
	})
}

// datasetName is "format:file", the file's name without .gz and extension.
func datasetName(format, path string) string {
	base := strings.TrimSuffix(filepath.Base(path), ".gz")
	return format + ":" + strings.TrimSuffix(base, filepath.Ext(base))
}

// firstSeen returns the distinct values in order of first appearance.
func firstSeen(values func(yield func(string) bool)) []string {
	seen := map[string]bool{}
	var out []string
	for v := range values {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
