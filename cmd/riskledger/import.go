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
	opts, err := m.parseOptions()
	if err != nil {
		return err
	}
	opts.AllowRecordedAt = flagBool(fs, "preserve-recorded-at")
	store, _, err := m.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	v, closeVault, err := m.openVault(ctx)
	if err != nil {
		return err
	}
	defer closeVault()
	h := commands.New(store, v)

	var accepted, rejected, present, events int
	reject := func(line int, name string, err error) {
		rejected++
		if name != "" {
			fmt.Fprintf(m.Stderr, "line %d: %s: %s\n", line, name, domain.ErrorMessage(err))
		} else {
			fmt.Fprintf(m.Stderr, "line %d: %s\n", line, domain.ErrorMessage(err))
		}
	}
	err = domain.ParseJSONL(f, opts, func(line int, cmd domain.Command, perr error) error {
		if perr != nil {
			reject(line, "", perr)
			return nil
		}
		r, err := h.Execute(ctx, cmd, "import")
		switch code := domain.ErrorCode(err); {
		case err == nil && r.AlreadyPresent:
			present++
		case err == nil:
			accepted++
			events += len(r.Events)
		case code == domain.Unavailable || code == domain.Internal || errors.Is(err, context.Canceled):
			// The ledger cannot take more: stop, and say where.
			return fmt.Errorf("line %d: %w", line, err)
		default:
			reject(line, cmd.Name(), err)
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
