package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/projections"
)

func init() {
	register("audit", &command{
		summary: "audit replay: re-derive every recorded colour decision and admission from the facts, and report each that differs; audit access: who looked at whose personal data, and why; audit checkpoints: the denials of valid, trusted codes whose issuer the checkpoint did not recognise",
		usage:   "replay [--json] | access [--person P] [--actor TOKEN_ID] [--json] | checkpoints [--json]",
		flags: func(fs *flag.FlagSet) {
			fs.Bool("json", false, "print the report as JSON")
			fs.String("person", "", "access: only the looks at this person")
			fs.String("actor", "", "access: only the looks by this token (its id)")
		},
		run: runAudit,
	})
	register("rebuild", &command{
		summary: "rebuild the colour read model from position 0",
		usage:   "",
		run:     runRebuild,
	})
	register("project", &command{
		summary: "run the colour projection: keep the read model at the ledger's head and record colour decisions",
		usage:   "[--lease-poll D]",
		flags: func(fs *flag.FlagSet) {
			fs.Duration("lease-poll", time.Second, "how often a waiting worker tries to take over the projection")
		},
		run: runProject,
	})
}

func runAudit(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if fs.NArg() == 1 && fs.Arg(0) == "checkpoints" {
		return runAuditCheckpoints(ctx, m, fs)
	}
	if fs.NArg() == 1 && fs.Arg(0) == "access" {
		return runAuditAccess(ctx, m, fs)
	}
	if fs.NArg() != 1 || fs.Arg(0) != "replay" {
		return &usageError{"audit takes one action: replay, access or checkpoints"}
	}
	opts, err := m.parseOptions()
	if err != nil {
		return err
	}
	store, _, err := m.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	rep, err := projections.Replay(ctx, store, opts.Location)
	if err != nil {
		return err
	}
	if flagBool(fs, "json") {
		if err := json.NewEncoder(m.Stdout).Encode(rep); err != nil {
			return err
		}
	} else {
		for _, mm := range rep.Mismatches {
			fmt.Fprintf(m.Stdout, "position %d: %s decision for %s: %s\n  recorded: %s\n  derived:  %s\n",
				mm.Position, mm.Kind, mm.PersonID, mm.Problem, mm.Recorded, mm.Derived)
		}
		fmt.Fprintf(m.Stdout, "audit replay: %d colour decisions and %d admissions re-derived up to position %d: %d mismatches\n",
			rep.Decisions, rep.Admissions, rep.Position, len(rep.Mismatches))
	}
	if len(rep.Mismatches) > 0 {
		return &exitError{exitFailed}
	}
	return nil
}

// readModel opens the colour read model beside the configured ledger. With
// PostgreSQL, lease makes the caller the projection's only owner first,
// waiting for another owner to stop or die.
func (m *Main) readModel(ctx context.Context, lease bool, poll time.Duration) (projections.ReadModel, error) {
	if m.Config.DatabaseURL == "" {
		return projections.OpenSQLite(ctx, m.Config.Data)
	}
	pm, err := projections.OpenPostgres(ctx, m.Config.DatabaseURL, "")
	if err != nil {
		return nil, err
	}
	if lease {
		if err := pm.Lease(ctx, poll); err != nil {
			pm.Close()
			return nil, err
		}
	}
	return pm, nil
}

func runRebuild(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if err := noArgs(fs); err != nil {
		return err
	}
	opts, err := m.parseOptions()
	if err != nil {
		return err
	}
	store, _, err := m.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintln(m.Stderr, "rebuild: waiting for the colour projection's lease (stop `project` workers to go on)")
	model, err := m.readModel(ctx, true, time.Second)
	if err != nil {
		return err
	}
	defer model.Close()
	lessGC()
	start := time.Now()
	if err := model.Reset(ctx); err != nil {
		return err
	}
	r := &projections.Runner{Store: store, Colours: projections.NewColours(opts.Location), Model: model}
	if err := r.CatchUp(ctx); err != nil {
		return err
	}
	if err := r.Settle(ctx); err != nil {
		return err
	}
	rows, err := model.Rows(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "rebuilt the colour read model: %d persons at position %d in %s\n",
		len(rows), r.Colours.Applied(), time.Since(start).Round(time.Millisecond))
	return nil
}

// projectInBackground runs the colour projection beside `serve` until ctx
// ends: at once on the embedded store, and on PostgreSQL whenever no
// `project` worker owns it.
func (m *Main) projectInBackground(ctx context.Context, store eventstore.Store, logger *slog.Logger) {
	keepRunning(ctx, logger, "the colour projection", func(ctx context.Context) error {
		return m.project(ctx, store, logger, time.Second)
	})
}

// keepRunning runs fn until ctx ends, starting it again after each failure
// (a database restarted, a connection lost) with a wait that doubles from
// a second to half a minute, and starts from a second again after a run
// that lasted a minute.
func keepRunning(ctx context.Context, logger *slog.Logger, what string, fn func(context.Context) error) {
	wait := time.Second
	for {
		started := time.Now()
		err := fn(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			wait = time.Second
		}
		msg := "<nil>"
		if err != nil {
			msg = err.Error()
		}
		logger.Error(what+" stopped; starting it again", "error", msg, "in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func runProject(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if err := noArgs(fs); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(m.Stderr, nil))
	lessGC()
	store, what, err := m.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	logger.Info("projecting", "ledger", what)
	poll := fs.Lookup("lease-poll").Value.(flag.Getter).Get().(time.Duration)
	return m.project(ctx, store, logger, poll)
}

// project takes the projection's lease and keeps its read model at the
// ledger's head until ctx ends.
func (m *Main) project(ctx context.Context, store eventstore.Store, logger *slog.Logger, poll time.Duration) error {
	opts, err := m.parseOptions()
	if err != nil {
		return err
	}
	logger.Info("waiting for the colour projection's lease")
	model, err := m.readModel(ctx, true, poll)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer model.Close()
	from, err := model.Checkpoint(ctx)
	if err != nil {
		return err
	}
	logger.Info("owning the colour projection", "checkpoint", from)
	r := &projections.Runner{Store: store, Colours: projections.NewColours(opts.Location), Model: model, Decide: true, Logger: logger}
	// The projection's state is rebuilt from the ledger itself; the
	// subscription starts where that reading ended.
	if err := r.CatchUp(ctx); err != nil {
		return err
	}
	msgs, stop, err := m.subscribe(ctx, store, logger, r.Colours.Applied())
	if err != nil {
		return err
	}
	defer stop()
	logger.Info("caught up; following the ledger", "position", r.Colours.Applied())
	err = r.Consume(ctx, msgs)
	if ctx.Err() != nil {
		logger.Info("stopped", "position", r.Colours.Applied())
		return nil
	}
	return err
}

// subscribe delivers the ledger's events through watermill: across
// processes through watermill-sql reading the PostgreSQL ledger itself (it
// is its own outbox); in one process, for the embedded store, through a
// GoChannel that a relay fills.
func (m *Main) subscribe(ctx context.Context, store eventstore.Store, logger *slog.Logger, after int64) (<-chan *message.Message, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	wlog := watermill.NewSlogLogger(logger)
	if m.Config.DatabaseURL != "" {
		pool, err := pgxpool.New(ctx, m.Config.DatabaseURL)
		if err != nil {
			cancel()
			return nil, nil, domain.Errorf(domain.Invalid, "database URL: %v", err)
		}
		if err := postgres.SeekGroup(ctx, pool, "", projections.ProjectionName, after); err != nil {
			cancel()
			pool.Close()
			return nil, nil, err
		}
		sub, err := postgres.NewSubscriber(pool, postgres.SubscriberConfig{ConsumerGroup: projections.ProjectionName, Logger: wlog,
			// The query is a keyset read of the events table's primary key
			// (under a millisecond), so the worker can look often.
			PollInterval: 10 * time.Millisecond})
		if err != nil {
			cancel()
			pool.Close()
			return nil, nil, err
		}
		msgs, err := sub.Subscribe(ctx, eventstore.DefaultTopic)
		if err != nil {
			cancel()
			pool.Close()
			return nil, nil, err
		}
		return msgs, func() { cancel(); sub.Close(); pool.Close() }, nil
	}
	pubsub := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 4096}, wlog)
	msgs, err := pubsub.Subscribe(ctx, eventstore.DefaultTopic)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	relay := &eventstore.Relay{Store: store, Publisher: pubsub}
	go func() {
		if err := relay.Run(ctx, after); err != nil && ctx.Err() == nil {
			logger.Error("the relay stopped", "error", err.Error())
		}
	}()
	return msgs, func() { cancel(); pubsub.Close() }, nil
}
