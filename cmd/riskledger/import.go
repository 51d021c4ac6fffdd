package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/keys"
	"github.com/riskledger/riskledger/vault"
	vaultpostgres "github.com/riskledger/riskledger/vault/postgres"
	vaultsqlite "github.com/riskledger/riskledger/vault/sqlite"
)

func init() {
	register("import", &command{
		summary: "append the commands of a JSON Lines file, each validated as the API would",
		usage:   "[--preserve-recorded-at] [--allow-rejects] FILE.jsonl",
		flags: func(fs *flag.FlagSet) {
			fs.Bool("preserve-recorded-at", false, "take each line's recorded_at (a migration from an earlier system)")
			fs.Bool("allow-rejects", false, "exit 0 even when lines were rejected")
		},
		run: runImport,
	})
}

// vaultSchema is the PostgreSQL schema of the personal-data key store.
const vaultSchema = "riskledger_vault"

// openVault opens the key store beside the ledger and the vault over it.
func (m *Main) openVault(ctx context.Context) (*vault.Vault, func() error, error) {
	path, create, err := m.Config.masterKeyPath()
	if err != nil {
		return nil, nil, err
	}
	var master []byte
	if create {
		master, err = keys.LoadOrCreateMasterKey(path)
	} else {
		master, err = keys.LoadMasterKey(path)
	}
	if err != nil {
		return nil, nil, err
	}
	var ks vault.KeyStore
	if m.Config.DatabaseURL != "" {
		ks, err = vaultpostgres.Open(ctx, vaultpostgres.Config{URL: m.Config.DatabaseURL, Schema: vaultSchema})
	} else {
		ks, err = vaultsqlite.Open(ctx, vaultsqlite.Config{Dir: m.Config.Data})
	}
	if err != nil {
		return nil, nil, err
	}
	v, err := vault.New(ctx, vault.Config{Store: ks, MasterKey: master})
	if err != nil {
		ks.Close()
		return nil, nil, err
	}
	return v, ks.Close, nil
}

// parseOptions are the command parser's settings from the configuration.
func (m *Main) parseOptions() (domain.ParseOptions, error) {
	loc, err := time.LoadLocation(m.Config.Zone)
	if err != nil {
		return domain.ParseOptions{}, err
	}
	opts := domain.ParseOptions{Location: loc}
	if m.Config.MaxClockSkew != "" {
		if opts.MaxClockSkew, err = time.ParseDuration(m.Config.MaxClockSkew); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

func runImport(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if fs.NArg() != 1 {
		return &usageError{"give one FILE.jsonl to import"}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return domain.Errorf(domain.Invalid, "cannot read %s: %v", fs.Arg(0), err)
	}
	defer f.Close()
	b, closeBulk, err := m.openBulk(ctx, "import")
	if err != nil {
		return err
	}
	defer closeBulk()
	b.opts.AllowRecordedAt = flagBool(fs, "preserve-recorded-at")
	in := &countingReader{r: f}
	if st, err := f.Stat(); err == nil && st.Size() > 0 && b.progress != nil {
		b.progress.fraction = func() float64 { return float64(in.n.Load()) / float64(st.Size()) }
	}

	var accepted, rejected, present, events int
	err = b.stream(ctx, func(emit func(entry) error) error {
		return domain.ParseJSONL(in, b.opts, func(line int, cmd domain.Command, perr error) error {
			return emit(entry{line: line, cmd: cmd, err: perr})
		})
	}, func(e entry, o commands.Outcome) error {
		switch code := domain.ErrorCode(o.Err); {
		case o.Err == nil && o.AlreadyPresent:
			present++
		case o.Err == nil:
			accepted++
			events += len(o.Events)
		case code == domain.Unavailable || code == domain.Internal || errors.Is(o.Err, context.Canceled):
			// The ledger cannot take more: stop, and say where.
			return fmt.Errorf("line %d: %w", e.line, o.Err)
		default:
			rejected++
			if name := e.cmd.Name(); name != "" {
				fmt.Fprintf(m.Stderr, "line %d: %s: %s\n", e.line, name, domain.ErrorMessage(o.Err))
			} else {
				fmt.Fprintf(m.Stderr, "line %d: %s\n", e.line, domain.ErrorMessage(o.Err))
			}
		}
		return nil
	})
	fmt.Fprintf(m.Stdout, "%s: %d accepted (%d events appended), %d already present, %d rejected\n",
		fs.Arg(0), accepted, events, present, rejected)
	if err != nil {
		return err
	}
	if rejected > 0 && !flagBool(fs, "allow-rejects") {
		return &exitError{exitFailed}
	}
	return nil
}
