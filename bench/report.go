package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// measurement is one timed run.
type measurement struct {
	Label   string
	Events  int64
	Dur     time.Duration
	Txns    int64           // transactions (0: not applicable)
	Disk    int64           // bytes on disk afterwards (0: not measured)
	Written int64           // bytes written during the run (0: not measured)
	PeakRSS int64           // kB, this process only (0: not measured)
	MaxLoad float64         // highest 1-minute load average seen during the run
	Lat     []time.Duration // per call (nil: not measured)
	LatWhat string          // what one latency sample is
}

func (m measurement) rate() float64 {
	if m.Dur <= 0 {
		return 0
	}
	return float64(m.Events) / m.Dur.Seconds()
}

// comparison is ours against a baseline.
type comparison struct {
	ID, Store, Title string
	Ours, Base       measurement
	Extra            []measurement // shown in the details, not compared
	MinRatio         float64       // ours/baseline must be at least this
	MaxP99           time.Duration // ours' p99 per call must be at most this (0: no limit)
	Notes            []string
	Err              error
}

func (c *comparison) ratio() float64 {
	if c.Base.rate() == 0 {
		return 0
	}
	return c.Ours.rate() / c.Base.rate()
}

func (c *comparison) met() bool {
	if c.Err != nil {
		return false
	}
	if c.ratio() < c.MinRatio {
		return false
	}
	if c.MaxP99 > 0 && percentile(c.Ours.Lat, 0.99) > c.MaxP99 {
		return false
	}
	return true
}

func (c *comparison) targetText() string {
	var t string
	if c.MinRatio >= 2 {
		t = fmt.Sprintf("≥ %.0f×", c.MinRatio)
	} else {
		t = fmt.Sprintf("≥ %.0f%%", c.MinRatio*100)
	}
	if c.MaxP99 > 0 {
		t += ", p99 ≤ " + fmtDur(c.MaxP99)
	}
	return t
}

func (c *comparison) ratioText() string {
	r := c.ratio()
	if c.MinRatio >= 2 {
		return fmt.Sprintf("%.1f×", r)
	}
	return fmt.Sprintf("%.2f (%.0f%%)", r, r*100)
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// --- process memory -------------------------------------------------------

// resetPeak returns freed memory to the OS and resets the kernel's peak-RSS
// mark (VmHWM) and the load sampler's maximum, so that the next peakRSS and
// loadMax cover one phase only.
func resetPeak() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	loadSampler.Lock()
	loadSampler.max = 0
	loadSampler.Unlock()
	sampleLoad()
}

// loadSampler keeps the highest 1-minute load average seen since the last
// resetPeak; startLoadSampler samples it every two seconds.
var loadSampler struct {
	sync.Mutex
	max float64
}

func sampleLoad() {
	f := strings.Fields(loadAverage())
	if len(f) == 0 {
		return
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return
	}
	loadSampler.Lock()
	loadSampler.max = max(loadSampler.max, v)
	loadSampler.Unlock()
}

func startLoadSampler() {
	go func() {
		for range time.Tick(2 * time.Second) {
			sampleLoad()
		}
	}()
}

func loadMax() float64 {
	sampleLoad()
	loadSampler.Lock()
	defer loadSampler.Unlock()
	return loadSampler.max
}

// peakRSS returns VmHWM in kB (0 when unavailable).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

// procWritten returns the bytes this process has passed to write(2) and
// friends (wchar in /proc/self/io), or -1.
func procWritten() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "wchar:"); ok {
			v, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return -1
			}
			return v
		}
	}
	return -1
}

// --- machine --------------------------------------------------------------

type machine struct {
	CPU        string
	Processors int
	MemTotal   string
	Kernel     string
	Load       string
	LoadEnd    string
	Go         string
	Filesystem string
	Deps       []string
	PG         string
	PGSettings string
	SQLite     string
	Code       string
	Fsync      string
}

func describeMachine(dataDir string) machine {
	m := machine{Processors: runtime.NumCPU(), Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n := 0
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "model name":
				if m.CPU == "" {
					m.CPU = strings.TrimSpace(v)
				}
			case "processor":
				n++
			}
		}
		if n > 0 {
			m.Processors = n
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	m.Load = loadAverage()
	m.Filesystem = filesystemOf(dataDir)
	m.Fsync = probeFsync(dataDir)
	m.Code = codeVersion()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "modernc.org/sqlite", "github.com/jackc/pgx/v5":
				m.Deps = append(m.Deps, d.Path+" "+d.Version)
			}
		}
	}
	return m
}

// probeFsync measures what one small durable append costs on the data
// directory's disk right now: 200 times a 4 KiB write and an fsync.
func probeFsync(dir string) string {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return "unknown: " + err.Error()
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make([]time.Duration, 200)
	for i := range lat {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return "unknown: " + err.Error()
		}
		if err := f.Sync(); err != nil {
			return "unknown: " + err.Error()
		}
		lat[i] = time.Since(t)
	}
	return fmt.Sprintf("4 KiB write + fsync on the data directory: p50 %s, p99 %s (200 samples at the start of the run)",
		fmtDur(percentile(lat, 0.5)), fmtDur(percentile(lat, 0.99)))
}

// codeVersion names the commit the benchmark ran on and whether the
// working tree had uncommitted changes to tracked files.
func codeVersion() string {
	run := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0") // read only: do not refresh the index
		out, err := cmd.Output()
		return strings.TrimRight(string(out), "\n "), err
	}
	rev, err := run("rev-parse", "--short", "HEAD")
	if err != nil {
		return "unknown (not a git checkout)"
	}
	subject, _ := run("log", "-1", "--format=%s")
	dirty, _ := run("status", "--porcelain", "--untracked-files=no")
	s := fmt.Sprintf("commit %s (%s)", rev, subject)
	if dirty != "" {
		var files []string
		for _, line := range strings.Split(dirty, "\n") {
			if len(line) > 3 {
				files = append(files, "`"+strings.TrimSpace(line[3:])+"`")
			}
		}
		s += " plus uncommitted changes to " + strings.Join(files, ", ")
	}
	untracked, _ := run("ls-files", "--others", "--exclude-standard", "--directory", "--no-empty-directory")
	if untracked != "" {
		s += "; untracked: " + strings.Join(strings.Fields(untracked), ", ")
	}
	return s
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// filesystemOf names the filesystem holding path, from /proc/mounts.
func filesystemOf(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "unknown"
	}
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "unknown"
	}
	best, desc := "", "unknown"
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, desc = mp, fmt.Sprintf("%s on %s (mounted at %s)", f[2], f[0], mp)
		}
	}
	return desc
}

// --- formatting -----------------------------------------------------------

func fmtInt(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func fmtRate(r float64) string { return fmtInt(int64(math.Round(r))) }

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func fmtBytes(b int64) string {
	switch {
	case b <= 0:
		return "–"
	case b < 1<<20:
		return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10))
	case b < 1<<30:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
}

func fmtKB(kb int64) string {
	if kb <= 0 {
		return "–"
	}
	return fmtBytes(kb << 10)
}

func yesNo(ok bool) string {
	if ok {
		return "**yes**"
	}
	return "**no**"
}

// --- RESULTS.md -----------------------------------------------------------

const (
	beginMarker = "<!-- BEGIN GENERATED: written by `go run ./bench`; everything from here to END GENERATED is replaced on each run -->"
	endMarker   = "<!-- END GENERATED -->"
)

type report struct {
	Command  string
	Started  time.Time
	Elapsed  time.Duration
	Machine  machine
	Params   []string
	Results  []*comparison
	Notes    []string
	Warnings []string
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n\n", beginMarker)
	p("## Results\n\n")
	p("Command: `%s`  \n", r.Command)
	p("Run: %s UTC, %s in all.\n\n", r.Started.UTC().Format("2006-01-02 15:04"), r.Elapsed.Round(time.Second))
	for _, w := range r.Warnings {
		p("> **Note:** %s\n\n", strings.Join(strings.Fields(w), " "))
	}

	p("### Machine\n\n| | |\n|---|---|\n")
	m := r.Machine
	p("| CPU | %s, %d logical processors |\n", m.CPU, m.Processors)
	p("| Memory | %s |\n", m.MemTotal)
	p("| OS | %s |\n", m.Kernel)
	p("| Load average at start | %s (1, 5, 15 min) |\n", m.Load)
	if m.LoadEnd != "" {
		p("| Load average at end | %s (the benchmark itself and PostgreSQL keep about %d processors busy) |\n", m.LoadEnd, m.Processors)
	}
	p("| Go | %s |\n", m.Go)
	if len(m.Deps) > 0 {
		p("| Drivers | %s |\n", strings.Join(m.Deps, ", "))
	}
	if m.SQLite != "" {
		p("| SQLite | %s |\n", m.SQLite)
	}
	if m.PG != "" {
		p("| PostgreSQL | %s |\n", m.PG)
	}
	if m.PGSettings != "" {
		p("| PostgreSQL settings | %s |\n", m.PGSettings)
	}
	p("| Data directory | %s |\n", m.Filesystem)
	p("| Disk | %s |\n", m.Fsync)
	p("| Code | %s |\n\n", m.Code)

	p("### Workload\n\n")
	for _, s := range r.Params {
		p("- %s\n", s)
	}
	p("\n")

	p("### Summary\n\n")
	p("| | Comparison | Store | Ours (events/s) | Baseline (events/s) | Ours ÷ baseline | Ours p99 | Target | Met |\n")
	p("|---|---|---|---:|---:|---:|---:|---|---|\n")
	for _, c := range r.Results {
		if c.Err != nil {
			p("| %s | %s | %s | – | – | – | – | %s | failed: %s |\n", c.ID, c.Title, c.Store, c.targetText(), oneLine(c.Err.Error()))
			continue
		}
		p99 := "–"
		if c.Ours.Lat != nil {
			p99 = fmtDur(percentile(c.Ours.Lat, 0.99))
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.ID, c.Title, c.Store,
			fmtRate(c.Ours.rate()), fmtRate(c.Base.rate()), c.ratioText(), p99, c.targetText(), yesNo(c.met()))
	}
	p("\n")

	for _, c := range r.Results {
		p("### (%s) %s — %s\n\n", c.ID, c.Title, c.Store)
		if c.Err != nil {
			p("Failed: `%s`\n\n", oneLine(c.Err.Error()))
		}
		rows := []measurement{}
		if c.Ours.Label != "" {
			rows = append(rows, c.Ours)
		}
		if c.Base.Label != "" {
			rows = append(rows, c.Base)
		}
		rows = append(rows, c.Extra...)
		if len(rows) > 0 {
			p("| Run | Events | Time | Events/s | Transactions | Events/txn | Latency per call p50 / p99 / max | Written (per event) | On disk | Peak RSS | Max load |\n")
			p("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n")
			for _, m := range rows {
				txns, per := "–", "–"
				if m.Txns > 0 {
					txns = fmtInt(m.Txns)
					per = fmt.Sprintf("%.1f", float64(m.Events)/float64(m.Txns))
				}
				lat := "–"
				if m.Lat != nil {
					lat = fmt.Sprintf("%s / %s / %s (%s)", fmtDur(percentile(m.Lat, 0.5)), fmtDur(percentile(m.Lat, 0.99)),
						fmtDur(percentile(m.Lat, 1)), m.LatWhat)
				}
				written := "–"
				if m.Written > 0 && m.Events > 0 {
					written = fmt.Sprintf("%s (%s B)", fmtBytes(m.Written), fmtInt(m.Written/m.Events))
				}
				p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f |\n", m.Label, fmtInt(m.Events), fmtDur(m.Dur),
					fmtRate(m.rate()), txns, per, lat, written, fmtBytes(m.Disk), fmtKB(m.PeakRSS), m.MaxLoad)
			}
			p("\n")
		}
		if c.Err == nil && c.Base.Label != "" {
			p("Ours ÷ baseline: **%s** (target %s): target met: %s.\n\n", c.ratioText(), c.targetText(), yesNo(c.met()))
		}
		for _, m := range rows {
			if m.MaxLoad > float64(r.Machine.Processors)+1 {
				p("> **Disturbed?** The 1-minute load average reached %.2f during \"%s\", more than this benchmark and "+
					"PostgreSQL put on %d processors: other work was running, and this figure is likely low.\n\n",
					m.MaxLoad, m.Label, r.Machine.Processors)
			}
		}
		for _, n := range c.Notes {
			p("- %s\n", n)
		}
		if len(c.Notes) > 0 {
			p("\n")
		}
	}
	if len(r.Notes) > 0 {
		p("### Notes\n\n")
		for _, n := range r.Notes {
			p("- %s\n", n)
		}
		p("\n")
	}
	p("Written is, for PostgreSQL, the WAL the server generated during the run (pg_current_wal_lsn before and after); " +
		"for SQLite and the raw file, the bytes this process passed to write(2) (wchar in /proc/self/io: WAL frames, checkpoints into the " +
		"database file, log records). On disk is the ledger's size afterwards (for PostgreSQL, pg_total_relation_size of the table with its indexes).\n\n")
	p("Max load is the highest 1-minute load average sampled (every 2 s) during the run; the benchmark and PostgreSQL alone " +
		"bring it to about the number of processors, and more means other work competed for the CPU.\n\n")
	p("Peak RSS is this benchmark process's VmHWM during the run, reset before each run through /proc/self/clear_refs; " +
		"it includes the generator and the Go heap, not the PostgreSQL server's processes.\n\n")
	p("%s\n", endMarker)
	return b.String()
}

func oneLine(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", "\\|")
}

// defaultPreamble starts a RESULTS.md that does not exist yet.
const defaultPreamble = "# riskledger benchmarks\n\nRun `go run ./bench` from the repository root; the section below is generated.\n\n"

// writeResults replaces the generated section of path, keeping what is
// written around it by hand.
func writeResults(path, generated string) error {
	return writeSection(path, "<!-- BEGIN GENERATED", endMarker, generated)
}

// writeSection replaces the text from begin to end in path with section,
// or adds section at the end (a new file starts with a preamble).
func writeSection(path, begin, end, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	text := string(old)
	var out string
	i := strings.Index(text, begin)
	j := strings.Index(text, end)
	switch {
	case len(old) == 0:
		out = defaultPreamble + section
	case i >= 0 && j > i:
		out = text[:i] + section + text[j+len(end):]
		if !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
	default:
		out = strings.TrimRight(text, "\n") + "\n\n" + section
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
