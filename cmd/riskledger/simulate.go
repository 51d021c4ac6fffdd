package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/simulate"
)

func init() {
	register("simulate", &command{
		summary: "generate a synthetic city's commands: append them, or write them to a command file",
		usage:   "--people N [--checkpoints M] --days D --seed S [--start YYYY-MM-DD] [--out FILE.jsonl]",
		flags: func(fs *flag.FlagSet) {
			fs.Int("people", 0, "residents, dependents included")
			fs.Int("checkpoints", 0, "checkpoints (default: one per 20 people, at least 10)")
			fs.Int("days", 0, fmt.Sprintf("days simulated (1 to %d)", simulate.MaxDays))
			fs.Int64("seed", 1, "the seed: the same settings and seed give the same commands")
			fs.String("start", "", "the first simulated day (default 2020-02-01)")
			fs.String("out", "", "write the commands to this JSON Lines file (\"-\": standard output) instead of appending them")
		},
		run: runSimulate,
	})
}

func runSimulate(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if fs.NArg() != 0 {
		return &usageError{fmt.Sprintf("simulate takes no arguments, got %q", fs.Args())}
	}
	opts, err := m.parseOptions()
	if err != nil {
		return err
	}
	cfg := simulate.Config{Location: opts.Location}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"people", &cfg.People}, {"checkpoints", &cfg.Checkpoints}, {"days", &cfg.Days}} {
		*f.dst, _ = strconv.Atoi(flagString(fs, f.name))
	}
	cfg.Seed, _ = strconv.ParseInt(flagString(fs, "seed"), 10, 64)
	if cfg.Checkpoints == 0 {
		cfg.Checkpoints = simulate.DefaultCheckpoints(cfg.People)
	}
	if s := flagString(fs, "start"); s != "" {
		if cfg.Start, err = domain.ParseDate(s); err != nil {
			return &usageError{fmt.Sprintf("--start %q is not a date (YYYY-MM-DD)", s)}
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	// The ledger takes facts of the past only (as import checks each line).
	first := cfg.FirstDay()
	if end := first.AddDays(cfg.Days).Start(opts.Location); end.After(time.Now()) {
		return domain.Errorf(domain.Invalid, "the simulated days end on %s, in the future; start earlier (--start) or simulate fewer days",
			first.AddDays(cfg.Days-1))
	}
	if out := flagString(fs, "out"); out != "" {
		return simulateToFile(m, cfg, out)
	}
	b, closeBulk, err := m.openBulk(ctx, "simulate")
	if err != nil {
		return err
	}
	defer closeBulk()
	var stats simulate.Stats
	var c counts
	rejected := 0
	n := 0
	err = b.stream(ctx, func(emit func(entry) error) error {
		stats, err = simulate.Run(cfg, func(cmd domain.Command) error {
			n++
			return emit(entry{line: n, cmd: cmd})
		})
		return err
	}, func(e entry, o commands.Outcome) error {
		switch code := domain.ErrorCode(o.Err); {
		case o.Err == nil && o.AlreadyPresent:
			c.present++
		case o.Err == nil:
			c.appended++
		case code == domain.Unavailable || code == domain.Internal:
			return fmt.Errorf("command %d (%s): %w", e.line, e.cmd.ID, o.Err)
		default:
			// A command of the city that the ledger refuses is a defect of
			// the simulation: say which.
			rejected++
			if rejected <= 20 {
				fmt.Fprintf(m.Stderr, "command %d (%s): %s: %s\n", e.line, e.cmd.ID, e.cmd.Name(), domain.ErrorMessage(o.Err))
			}
		}
		return nil
	})
	fmt.Fprintf(m.Stdout, "simulated %d people, %d checkpoints, %d days (seed %d): %d commands; %d appended, %d already present, %d rejected; %s\n",
		cfg.People, cfg.Checkpoints, cfg.Days, cfg.Seed, n, c.appended, c.present, rejected, describeStats(stats))
	if err != nil {
		return err
	}
	if rejected > 0 {
		return &exitError{exitFailed}
	}
	return nil
}

// simulateToFile writes the commands as a command file for `import`.
func simulateToFile(m *Main, cfg simulate.Config, path string) error {
	var w io.Writer = m.Stdout
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return domain.Errorf(domain.Invalid, "cannot write %s: %v", path, err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	stats, err := simulate.Run(cfg, func(cmd domain.Command) error {
		line, err := json.Marshal(cmd)
		if err != nil {
			return err
		}
		bw.Write(line)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if path != "-" {
		fmt.Fprintf(m.Stdout, "%s: %d commands; %s\n", path, stats.Commands, describeStats(stats))
	}
	return nil
}

func describeStats(s simulate.Stats) string {
	names := make([]string, 0, len(s.ByCommand))
	for n := range s.ByCommand {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return s.ByCommand[names[i]] > s.ByCommand[names[j]] })
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, s.ByCommand[n]))
	}
	return fmt.Sprintf("%d infected, %d diagnosed (%s)", s.Infected, s.Diagnosed, strings.Join(parts, ", "))
}
