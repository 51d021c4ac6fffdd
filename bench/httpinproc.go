package main

// The in-process side of h1: the same record_scan commands through
// commands.Handler.Execute in this process, on the ledger the server has
// just served, wired as `riskledger serve` wires its handler (the same key
// files, the admission view, this node's issuer) and with the same work
// beside it: the colour projection that keeps the read model and records
// decisions, and the change feed. What is left out is HTTP: the request,
// the token, the JSON answer, the metrics, the loopback connection.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/httpapi"
	riskkeys "github.com/riskledger/riskledger/keys"
	"github.com/riskledger/riskledger/projections"
	"github.com/riskledger/riskledger/vault"
	vaultpostgres "github.com/riskledger/riskledger/vault/postgres"
	vaultsqlite "github.com/riskledger/riskledger/vault/sqlite"
)

// The settings serve takes by default, repeated here for the handler
// built in this process (cmd/riskledger's DefaultConfig and vaultSchema).
const (
	defaultIssuer      = "riskledger"
	defaultRegion      = "Shanghai"
	defaultVaultSchema = "riskledger_vault"
)

// inProcess is a command handler over a ledger, with the work serve
// runs beside it.
type inProcess struct {
	h       *commands.Handler
	opts    domain.ParseOptions
	view    *countingStore // what the admission view reads
	store   eventstore.Store
	worker  int // the pid of the projection's worker process (0: none)
	closers []func()
}

// countingStore counts the events the admission view reads through
// ReadAll, to compare with the events the ledger gained meanwhile: each
// admission catches the view up with the head itself, so that concurrent
// admissions may read the same events more than once.
type countingStore struct {
	eventstore.Store
	calls, events atomic.Int64
}

func (s *countingStore) ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.Event, error) {
	evs, err := s.Store.ReadAll(ctx, after, limit)
	s.calls.Add(1)
	s.events.Add(int64(len(evs)))
	return evs, err
}

// viewReads is what the view read while fn ran, and what the ledger
// gained meanwhile.
type viewReads struct{ calls, read, appended int64 }

func (in *inProcess) measureView(ctx context.Context, fn func()) viewReads {
	h0, _ := in.store.Head(ctx)
	c0, e0 := in.view.calls.Load(), in.view.events.Load()
	fn()
	h1, _ := in.store.Head(ctx)
	return viewReads{calls: in.view.calls.Load() - c0, read: in.view.events.Load() - e0, appended: h1.Position - h0.Position}
}

func (in *inProcess) close() {
	for i := len(in.closers) - 1; i >= 0; i-- {
		in.closers[i]()
	}
}

// openInProcess wires the handler over l's ledger (serve must have
// stopped: the embedded store takes one writer process).
func (b *bench) openInProcess(ctx context.Context, bin string, l *httpLedger) (in *inProcess, err error) {
	in = &inProcess{}
	defer func() {
		if err != nil {
			in.close()
		}
	}()
	zone := ""
	for _, kv := range l.env {
		if v, ok := strings.CutPrefix(kv, "RISKLEDGER_ZONE="); ok {
			zone = v
		}
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, err
	}
	in.opts = domain.ParseOptions{Location: loc}
	keyDir := filepath.Join(l.dir, "keys")
	master, err := riskkeys.LoadMasterKey(filepath.Join(keyDir, riskkeys.MasterKeyFile))
	if err != nil {
		return nil, err
	}
	issuerKey, err := riskkeys.LoadIssuerKey(filepath.Join(keyDir, riskkeys.IssuerKeyFile))
	if err != nil {
		return nil, err
	}
	var store eventstore.Store
	var ks vault.KeyStore
	if l.store == "PostgreSQL" {
		if store, err = postgres.Open(ctx, postgres.Config{URL: l.url}); err != nil {
			return nil, err
		}
		in.closers = append(in.closers, func() { store.Close() })
		if ks, err = vaultpostgres.Open(ctx, vaultpostgres.Config{URL: l.url, Schema: defaultVaultSchema}); err != nil {
			return nil, err
		}
	} else {
		if store, err = sqlite.Open(ctx, sqlite.Config{Dir: l.dir}); err != nil {
			return nil, err
		}
		in.closers = append(in.closers, func() { store.Close() })
		if ks, err = vaultsqlite.Open(ctx, vaultsqlite.Config{Dir: l.dir}); err != nil {
			return nil, err
		}
	}
	in.closers = append(in.closers, func() { ks.Close() })
	v, err := vault.New(ctx, vault.Config{Store: ks, MasterKey: master})
	if err != nil {
		return nil, err
	}
	in.h = commands.New(store, v)
	in.store, in.view = store, &countingStore{Store: store}
	view := &projections.View{Store: in.view, Colours: projections.NewColours(loc)}
	in.h.SetColours(view)
	if err := in.h.SetIssuer(&commands.Issuer{ID: defaultIssuer, Region: defaultRegion, Key: issuerKey, Location: loc}); err != nil {
		return nil, err
	}

	bg, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	in.closers = append(in.closers, func() { cancel(); wg.Wait() })
	feed := &httpapi.Feed{Store: store}
	wg.Go(func() { _ = feed.Run(bg) })
	if l.store == "PostgreSQL" {
		// serve's projection runs beside it in a worker of its own here,
		// with the same subscriber (watermill-sql on the ledger).
		pid, stop, err := startProjectWorker(ctx, bin, l)
		if err != nil {
			return nil, err
		}
		in.worker = pid
		in.closers = append(in.closers, stop)
	} else {
		if err := projectInProcess(ctx, bg, &wg, store, l.dir, loc); err != nil {
			return nil, err
		}
	}
	// serve's view has caught up while the codes were issued; this one
	// catches up now, untimed.
	someone, err := domain.ParsePersonID(l.persons[0])
	if err != nil {
		return nil, err
	}
	if _, _, err := view.ColourAt(ctx, someone, time.Now()); err != nil {
		return nil, err
	}
	return in, nil
}

// projectInProcess runs the colour projection as serve runs it beside an
// embedded store: caught up from the ledger, then fed through a watermill
// GoChannel by the relay, keeping the read model and recording decisions.
func projectInProcess(ctx, bg context.Context, wg *sync.WaitGroup, store eventstore.Store, dir string, loc *time.Location) error {
	model, err := projections.OpenSQLite(ctx, dir)
	if err != nil {
		return err
	}
	r := &projections.Runner{Store: store, Colours: projections.NewColours(loc), Model: model, Decide: true}
	if err := r.CatchUp(ctx); err != nil {
		model.Close()
		return err
	}
	pubsub := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 4096}, watermill.NopLogger{})
	msgs, err := pubsub.Subscribe(bg, eventstore.DefaultTopic)
	if err != nil {
		model.Close()
		return err
	}
	relay := &eventstore.Relay{Store: store, Publisher: pubsub}
	after := r.Colours.Applied()
	wg.Go(func() { _ = relay.Run(bg, after) })
	wg.Go(func() {
		_ = r.Consume(bg, msgs)
		pubsub.Close()
		model.Close()
	})
	return nil
}

// startProjectWorker starts `riskledger project` on l's ledger and waits
// until it has caught up.
func startProjectWorker(ctx context.Context, bin string, l *httpLedger) (pid int, stop func(), err error) {
	cmd := exec.Command(bin, "project")
	cmd.Env = l.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			if !said && bytes.Contains(sc.Bytes(), []byte("caught up; following the ledger")) {
				close(ready)
				said = true
			}
		}
		io.Copy(io.Discard, stderr)
		done <- cmd.Wait()
	}()
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	select {
	case <-ready:
		return cmd.Process.Pid, stop, nil
	case err := <-done:
		return 0, nil, fmt.Errorf("riskledger project stopped: %v", err)
	case <-time.After(2 * time.Minute):
		stop()
		return 0, nil, errors.New("riskledger project did not catch up within 2 minutes")
	case <-ctx.Done():
		stop()
		return 0, nil, ctx.Err()
	}
}

// scanCall is scan i of h1 as a command: the line the API makes of the
// same body (the command's name and "at" now added), parsed as the API
// parses it, and executed.
func (in *inProcess) scanCall(l *httpLedger) call {
	return func(ctx context.Context, i int64, _ *bytes.Buffer) (class string, ok bool) {
		// A panic fails the call, as net/http fails a request whose
		// handler panics, so that the run counts it and goes on.
		defer func() {
			if v := recover(); v != nil {
				class, ok = fmt.Sprintf("panic: %v", v), false
			}
		}()
		p, c := l.scan(i)
		body := l.scanBody(nil, p, c)
		line := make([]byte, 0, len(body)+64)
		line = append(line, `{"command":"record_scan","at":"`...)
		line = time.Now().UTC().AppendFormat(line, time.RFC3339Nano)
		line = append(line, `",`...)
		line = append(line, body[1:]...)
		cmd, err := domain.ParseCommand(line, in.opts)
		if err == nil {
			var res commands.Result
			if res, err = in.h.Execute(ctx, cmd, "bench"); err == nil {
				return scanClass(res.Events[0].Payload), true
			}
		}
		// The bench is the operator here: an internal error is shown whole.
		msg := domain.ErrorMessage(err)
		if domain.ErrorCode(err) == domain.Internal {
			msg = err.Error()
		}
		return "error: " + domain.ErrorCode(err) + ": " + numbersOut(msg), false
	}
}
