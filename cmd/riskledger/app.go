package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/keys"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // the command ran and found a problem (verify failed) or hit an error
	exitUsage  = 2 // the command line was wrong
)

// Main is the program: its configuration and where it writes. Tests run the
// real Main with their own writers and environment.
type Main struct {
	Config Config
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// NewMain returns a Main wired to the process's environment.
func NewMain() *Main {
	return &Main{Config: DefaultConfig(), Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// command is a sub-command: its flags, its one-line summary and its body.
type command struct {
	summary string
	usage   string
	flags   func(fs *flag.FlagSet)
	run     func(ctx context.Context, m *Main, fs *flag.FlagSet) error
}

var subcommands = map[string]*command{}

func register(name string, c *command) { subcommands[name] = c }

// usageError is a command line that cannot be run as written.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// exitError carries a non-zero exit status without another message.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Run parses args (global flags may stand before or after the sub-command)
// and runs the sub-command. It returns the process's exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	globals, rest, err := splitGlobals(args)
	if err != nil {
		fmt.Fprintln(m.Stderr, "riskledger:", err)
		return exitUsage
	}
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		m.printHelp(m.Stdout)
		if len(rest) == 0 {
			return exitUsage
		}
		return exitOK
	}
	name := rest[0]
	cmd, ok := subcommands[name]
	if !ok {
		fmt.Fprintf(m.Stderr, "riskledger: unknown command %q; run `riskledger help` for the list\n", name)
		return exitUsage
	}
	if err := m.configure(globals); err != nil {
		fmt.Fprintln(m.Stderr, "riskledger:", domain.ErrorMessage(err))
		return exitUsage
	}
	fs := flag.NewFlagSet("riskledger "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(m.Stderr, "usage: riskledger %s %s\n\n%s\n\nflags:\n", name, cmd.usage, cmd.summary)
		fs.PrintDefaults()
		fmt.Fprint(m.Stderr, globalHelp)
	}
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	if err := parseInterspersed(fs, rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if path := globals["cpuprofile"]; path != "" {
		stop, err := startProfile(path)
		if err != nil {
			fmt.Fprintln(m.Stderr, "riskledger:", err)
			return exitFailed
		}
		defer stop()
	}
	err = cmd.run(ctx, m, fs)
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(m.Stderr, "riskledger %s: %s\n", name, ue.msg)
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitOK
	}
	if domain.ErrorCode(err) == domain.Internal {
		fmt.Fprintf(m.Stderr, "riskledger %s: %v\n", name, err) // the operator's own terminal: the detail helps
	} else {
		fmt.Fprintf(m.Stderr, "riskledger %s: %s\n", name, domain.ErrorMessage(err))
	}
	return exitFailed
}

const globalHelp = `
global flags (before or after the command):
  --data DIR           the embedded store's directory (default ./riskledger-data; RISKLEDGER_DATA)
  --database-url URL   use PostgreSQL instead (RISKLEDGER_DATABASE_URL or DATABASE_URL)
  --config FILE        a JSON file of settings (RISKLEDGER_CONFIG)
  --cpuprofile FILE    write a CPU profile of the command (go tool pprof FILE)
`

func (m *Main) printHelp(w io.Writer) {
	fmt.Fprintln(w, "riskledger: an event-sourced contact-tracing and risk ledger")
	fmt.Fprintln(w, "\nusage: riskledger [global flags] COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, subcommands[n].summary)
	}
	fmt.Fprint(w, globalHelp)
	fmt.Fprintln(w, "\nRun `riskledger COMMAND --help` for a command's flags.")
}

var globalNames = map[string]bool{"data": true, "database-url": true, "config": true, "cpuprofile": true}

// splitGlobals takes the global flags out of args, wherever they stand
// (before "--"), and returns them with the remaining arguments.
func splitGlobals(args []string) (map[string]string, []string, error) {
	globals := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !globalNames[name] {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			value = args[i]
		}
		globals[name] = value
	}
	return globals, rest, nil
}

// configure builds m.Config from defaults, file, environment and flags.
func (m *Main) configure(globals map[string]string) error {
	path := globals["config"]
	if path == "" {
		path = m.Getenv("RISKLEDGER_CONFIG")
	}
	if path != "" {
		if err := m.Config.loadFile(path); err != nil {
			return err
		}
	}
	m.Config.loadEnv(m.Getenv)
	if v, ok := globals["data"]; ok {
		m.Config.Data = v
	}
	if v, ok := globals["database-url"]; ok {
		m.Config.DatabaseURL = v
	}
	return m.Config.Validate()
}

// openStore opens the configured ledger and says which it is. Commands
// that only read open the embedded store read-only, so that they run beside
// a serving process.
func (m *Main) openStore(ctx context.Context, readOnly bool) (eventstore.Store, string, error) {
	if m.Config.DatabaseURL != "" {
		s, err := postgres.Open(ctx, postgres.Config{URL: m.Config.DatabaseURL})
		return s, "PostgreSQL", err
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Dir: m.Config.Data, ReadOnly: readOnly})
	return s, "embedded store in " + m.Config.Data, err
}

// headKey returns the head signing key, creating it beside the embedded
// store on first use.
func (m *Main) headKey() (ed25519.PrivateKey, error) {
	path, create, err := m.Config.headKeyPath()
	if err != nil {
		return nil, err
	}
	if create {
		return keys.LoadOrCreateEd25519(path)
	}
	return keys.LoadEd25519(path)
}

// version is the module's version as the build recorded it.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// startProfile starts a CPU profile written to path; stop ends it.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// parseInterspersed parses flags before and after the arguments
// (`colour PERSON --at T`); after "--" everything is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var positional, tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append(append([]string{"--"}, positional...), tail...))
}
