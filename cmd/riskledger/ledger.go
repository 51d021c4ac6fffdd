package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/console"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/httpapi"
	"github.com/riskledger/riskledger/keys"
	"github.com/riskledger/riskledger/projections"
)

func init() {
	register("serve", &command{
		summary: "serve the ledger over HTTP (prints its URL)",
		usage:   "[--listen ADDR]",
		flags: func(fs *flag.FlagSet) {
			fs.String("listen", "", "address to listen on; port 0 picks a free one (default 127.0.0.1:8080; RISKLEDGER_LISTEN)")
		},
		run: runServe,
	})
	register("verify", &command{
		summary: "recompute the hash chain; with --against, check a signed head is still in the ledger",
		usage:   "[--against HEAD_FILE] [--json]",
		flags: func(fs *flag.FlagSet) {
			fs.String("against", "", "a statement printed earlier by `riskledger head`")
			fs.Bool("json", false, "print the report as JSON")
		},
		run: runVerify,
	})
	register("head", &command{
		summary: "print a signed statement of the ledger's head, to keep outside the database",
		usage:   "",
		run:     runHead,
	})
	register("version", &command{
		summary: "print the version",
		usage:   "[--json]",
		flags:   func(fs *flag.FlagSet) { fs.Bool("json", false, "print as JSON") },
		run:     runVersion,
	})
	register("keys", &command{
		summary: "keys init DIR: make the key files (head signing, master, code issuer) every PostgreSQL node shares; keys rotate: a new issuer key, the old one retired in the ledger",
		usage:   "init DIR",
		run:     runKeys,
	})
}

func flagString(fs *flag.FlagSet, name string) string { return fs.Lookup(name).Value.String() }
func flagBool(fs *flag.FlagSet, name string) bool     { return fs.Lookup(name).Value.String() == "true" }

func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func runServe(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if err := noArgs(fs); err != nil {
		return err
	}
	if v := flagString(fs, "listen"); v != "" {
		m.Config.Listen = v
	}
	logger := slog.New(slog.NewJSONHandler(m.Stderr, nil))
	lessGC()
	store, what, err := m.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := m.headKey(); err != nil { // made now, so that the first `head` needs nothing
		return err
	}
	if _, err := m.nodeIssuer(); err != nil { // the key that signs codes: made now with the embedded store
		return err
	}
	ln, err := net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return domain.Errorf(domain.Unavailable, "cannot listen on %s: %v", m.Config.Listen, err)
	}
	api, stop, err := m.api(ctx, store, logger)
	if err != nil {
		return err
	}
	defer stop()
	go m.projectInBackground(ctx, store, logger)
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	fmt.Fprintf(m.Stdout, "riskledger serving on http://%s/ (%s)\n", ln.Addr(), what)
	if err := m.firstAdminToken(ctx, api.Commands); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// api wires the HTTP API over store: the command handler (with the
// admission view and this node's issuer), the colour read model, a query
// projection of its own, the change feed, the metrics and the web
// console. stop releases what it opened.
func (m *Main) api(ctx context.Context, store eventstore.Store, logger *slog.Logger) (*httpapi.Server, func(), error) {
	opts, err := m.parseOptions()
	if err != nil {
		return nil, nil, err
	}
	h, issuer, closeVault, err := m.handler(ctx, store, opts)
	if err != nil {
		return nil, nil, err
	}
	model, err := m.readModel(ctx, false, 0)
	if err != nil {
		closeVault()
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var following sync.WaitGroup
	if pm, ok := model.(*projections.PostgresModel); ok {
		// The issuance layer's colour reads come from a cache of rows that
		// each save of the projection, on any node, brings up to date.
		cache := projections.NewRowCache(pm)
		following.Go(func() { keepRunning(ctx, logger, "the colour rows' cache", cache.Follow) })
		model = cache
	}
	feed := &httpapi.Feed{Store: store}
	go keepRunning(ctx, logger, "the change feed", feed.Run)
	lag := func(ctx context.Context) (int64, error) {
		head, err := store.Head(ctx)
		if err != nil {
			return 0, err
		}
		pos, err := model.Checkpoint(ctx)
		return head.Position - pos, err
	}
	api := &httpapi.Server{Store: store, Logger: logger, Version: version(), Commands: h, Model: model,
		Reader: &projections.Reader{Store: store, Colours: projections.NewColours(opts.Location)}, Issuer: issuer,
		Feed: feed, Options: opts, Metrics: httpapi.NewMetrics(lag), Console: console.Handler()}
	return api, func() { cancel(); following.Wait(); model.Close(); closeVault() }, nil
}

// AdminTokenFile is where serve writes the first admin token of an
// embedded ledger that has no token yet.
const AdminTokenFile = "admin.token"

// firstAdminToken gives a new embedded ledger its first admin token, in
// the data directory (mode 0600): while serve runs, the embedded store
// takes no other writer, so `token create` could not make one. A
// PostgreSQL ledger gets its first with `token create`, beside the nodes.
func (m *Main) firstAdminToken(ctx context.Context, h *commands.Handler) error {
	path := filepath.Join(m.Config.Data, AdminTokenFile)
	if m.Config.DatabaseURL != "" {
		return nil
	}
	ts, err := commands.ReadTokens(ctx, h.Store())
	if err != nil || len(ts.Tokens) > 0 {
		return err
	}
	token, _, err := h.CreateToken(ctx, domain.TokenCreated{Role: domain.RoleAdmin, Note: "made at first start"}, time.Now(), "serve")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return domain.Errorf(domain.Unavailable, "cannot write the first admin token: %v", err)
	}
	fmt.Fprintf(m.Stdout, "the first admin token is in %s (POST /v1/tokens makes others)\n", path)
	return nil
}

func runVerify(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if err := noArgs(fs); err != nil {
		return err
	}
	var stmt *eventstore.Statement
	if path := flagString(fs, "against"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return domain.Errorf(domain.Invalid, "cannot read head file: %v", err)
		}
		stmt = new(eventstore.Statement)
		if err := json.Unmarshal(b, stmt); err != nil {
			return domain.Errorf(domain.Invalid, "%s is not a head statement: %v", path, err)
		}
		key, err := m.headKey()
		if err != nil {
			return err
		}
		if err := stmt.Check(key.Public().(ed25519.PublicKey)); err != nil {
			return err
		}
	}
	store, _, err := m.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	var r eventstore.Report
	if stmt != nil {
		r, err = eventstore.VerifyAgainst(ctx, store, *stmt)
	} else {
		r, err = eventstore.Verify(ctx, store)
	}
	if err != nil {
		return err
	}
	if flagBool(fs, "json") {
		if err := json.NewEncoder(m.Stdout).Encode(r); err != nil {
			return err
		}
	} else if r.OK {
		fmt.Fprintf(m.Stdout, "OK: %d events verified; head %d %s\n", r.Checked, r.Head.Position, r.Head.Hash)
		if stmt != nil {
			fmt.Fprintf(m.Stdout, "the ledger still holds the signed head %d %s (signed %s)\n", stmt.Position, stmt.Hash, stmt.SignedAt.Format(time.RFC3339))
		}
	} else {
		fmt.Fprintf(m.Stdout, "FAILED at position %d: %s\n", r.FirstBad, r.Reason)
	}
	if !r.OK {
		return &exitError{exitFailed}
	}
	return nil
}

func runHead(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if err := noArgs(fs); err != nil {
		return err
	}
	key, err := m.headKey()
	if err != nil {
		return err
	}
	store, _, err := m.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	h, err := store.Head(ctx)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(eventstore.SignHead(h, key, time.Now()))
}

func runVersion(_ context.Context, m *Main, fs *flag.FlagSet) error {
	if err := noArgs(fs); err != nil {
		return err
	}
	if flagBool(fs, "json") {
		return json.NewEncoder(m.Stdout).Encode(map[string]string{"version": version(), "go": runtime.Version()})
	}
	_, err := fmt.Fprintf(m.Stdout, "riskledger %s (%s)\n", version(), runtime.Version())
	return err
}

func runKeys(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if fs.NArg() == 1 && fs.Arg(0) == "rotate" {
		return rotateIssuerKey(ctx, m)
	}
	if fs.NArg() != 2 || fs.Arg(0) != "init" {
		return &usageError{"usage: riskledger keys init DIR | keys rotate"}
	}
	dir := fs.Arg(1)
	head, master, issuer := filepath.Join(dir, keys.HeadKeyFile), filepath.Join(dir, keys.MasterKeyFile), filepath.Join(dir, keys.IssuerKeyFile)
	if _, err := keys.CreateEd25519(head); err != nil {
		return err
	}
	if _, err := keys.CreateMasterKey(master); err != nil {
		return err
	}
	if _, err := keys.CreateIssuerKey(issuer); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "made %s, %s and %s; give every node head_key_file = %s, master_key_file = %s and issuer_key_file = %s "+
		"(or RISKLEDGER_HEAD_KEY_FILE, RISKLEDGER_MASTER_KEY_FILE, RISKLEDGER_ISSUER_KEY_FILE); keep copies apart from the database\n",
		head, master, issuer, head, master, issuer)
	return nil
}

// rotateIssuerKey retires the issuer key in the ledger (its codes signed
// so far verify until they expire), keeps its file as issuer-KID.key, and
// makes a new one. With PostgreSQL, copy the new file to every node.
func rotateIssuerKey(ctx context.Context, m *Main) error {
	own, err := m.issuer()
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(own.Key.Public())
	if err != nil {
		return err
	}
	kid, err := codes.KeyID(own.Key.Public())
	if err != nil {
		return err
	}
	b, closeBulk, err := m.openBulk(ctx, "keys rotate")
	if err != nil {
		return err
	}
	defer closeBulk()
	if err := b.h.RetireIssuerKey(ctx, own.ID, domain.TrustedKey{PublicKey: der}, time.Now(), "keys rotate"); err != nil {
		return err
	}
	path, _, err := m.Config.issuerKeyPath()
	if err != nil {
		return err
	}
	retired := filepath.Join(filepath.Dir(path), "issuer-"+hex.EncodeToString(kid)+".key")
	if err := os.Rename(path, retired); err != nil {
		return domain.Errorf(domain.Unavailable, "the key is retired in the ledger but its file could not be moved to %s: %v; move it and run `riskledger keys rotate` again", retired, err)
	}
	key, err := keys.CreateIssuerKey(path)
	if err != nil {
		return err
	}
	next, _ := codes.KeyID(key.Public())
	fmt.Fprintf(m.Stdout, "retired issuer key %s (kept in %s; its codes verify until they expire); signing with %s from now on (%s)\n",
		hex.EncodeToString(kid), retired, hex.EncodeToString(next), path)
	return nil
}
