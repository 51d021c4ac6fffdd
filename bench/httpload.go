package main

// The load generator of (h). Both loops call the same kind of call, so an
// HTTP request and an in-process Execute are timed the same way.
//
//   - openLoop sends requests on a fixed schedule (request i at
//     start + i/rate) whatever happened to the earlier ones, and times each
//     from its scheduled send: a server that stalls is charged for every
//     request that waited behind the stall, including the time a request
//     spent queued in the generator because every worker was busy
//     (coordinated omission does not hide queueing).
//   - closedLoop runs a fixed number of clients, each sending its next
//     request when the previous one is answered: the throughput at
//     saturation, and each request's latency from its send.

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// openLoopWorkers bounds the requests the open loop has in flight; beyond
// them requests wait in the generator, and that wait counts.
const openLoopWorkers = 256

// call sends request i and says how it went: a class that the run counts
// (what the answer said: "admitted", "denied: …", a colour, or an error)
// and whether it succeeded. scratch is the worker's own buffer.
type call func(ctx context.Context, i int64, scratch *bytes.Buffer) (class string, ok bool)

// loadRun is one measured phase of the generator.
type loadRun struct {
	Label   string
	Rate    float64       // offered requests/s (open loop; 0: closed loop)
	Clients int           // concurrent clients (closed loop)
	Window  time.Duration // the measured window (after the warm-up)
	Done    int64         // requests answered in the window
	Failed  int64         // of which failed
	Elapsed time.Duration // open loop: from the window's first scheduled send to its last answer
	Lat     []time.Duration
	Svc     []time.Duration // open loop: from the actual send to the answer
	Late    []time.Duration // open loop: from the scheduled to the actual send
	// FirstQ and LastQ are the latencies of the requests scheduled in the
	// first and the last quarter of the window (open loop): a drift
	// between them is a server that slows down as the ledger grows.
	FirstQ, LastQ []time.Duration
	Classes       map[string]int64
	CPU           cpuShare
	MaxLoad       float64
	Err           error
}

// rate is the answers per second of the window.
func (r loadRun) rate() float64 {
	d := r.Window
	if r.Rate > 0 {
		d = r.Elapsed
	}
	if d <= 0 {
		return 0
	}
	return float64(r.Done) / d.Seconds()
}

func (r loadRun) p(q float64) time.Duration { return percentile(r.Lat, q) }

// loadPart is one worker's tally, merged at the end.
type loadPart struct {
	lat, svc, late []time.Duration
	idx            []int64 // open loop: each latency's request
	classes        map[string]int64
	done, failed   int64
	last           time.Time
}

func (p *loadPart) note(lat, svc, late time.Duration, class string, ok bool, end time.Time) {
	p.lat = append(p.lat, lat)
	if svc >= 0 {
		p.svc = append(p.svc, svc)
		p.late = append(p.late, late)
	}
	if p.classes == nil {
		p.classes = map[string]int64{}
	}
	p.classes[class]++
	p.done++
	if !ok {
		p.failed++
	}
	if end.After(p.last) {
		p.last = end
	}
}

func merge(r *loadRun, parts []loadPart) time.Time {
	var last time.Time
	r.Classes = map[string]int64{}
	for _, p := range parts {
		r.Lat = append(r.Lat, p.lat...)
		r.Svc = append(r.Svc, p.svc...)
		r.Late = append(r.Late, p.late...)
		for k, v := range p.classes {
			r.Classes[k] += v
		}
		r.Done += p.done
		r.Failed += p.failed
		if p.last.After(last) {
			last = p.last
		}
	}
	return last
}

// openLoop offers rate requests/s for warm + window and measures the
// requests scheduled in the window. The CPU of pid (0: none) is sampled
// over the window.
func openLoop(ctx context.Context, label string, rate float64, warm, window time.Duration, pid int, c call) loadRun {
	r := loadRun{Label: label, Rate: rate, Window: window}
	// A stalled server must not hold the run for ever.
	ctx, cancel := context.WithTimeout(ctx, warm+window+2*time.Minute)
	defer cancel()
	iv := float64(time.Second) / rate
	nWarm := int64(warm.Seconds() * rate)
	n := nWarm + int64(window.Seconds()*rate)
	start := time.Now().Add(20 * time.Millisecond)
	sched := func(i int64) time.Time { return start.Add(time.Duration(float64(i) * iv)) }
	jobs := make(chan int64, 1<<16)
	parts := make([]loadPart, openLoopWorkers)
	var wg sync.WaitGroup
	for w := range parts {
		wg.Go(func() {
			p := &parts[w]
			var scratch bytes.Buffer
			for i := range jobs {
				at := sched(i)
				t0 := time.Now()
				class, ok := c(ctx, i, &scratch)
				end := time.Now()
				if i >= nWarm {
					p.note(end.Sub(at), end.Sub(t0), t0.Sub(at), class, ok, end)
					p.idx = append(p.idx, i)
				}
			}
		})
	}
	var cpu0 cpuSample
	for i := int64(0); i < n && ctx.Err() == nil; i++ {
		if i == nWarm {
			cpu0 = sampleCPU(pid)
			resetLoadMax()
		}
		if d := time.Until(sched(i)); d > 0 {
			time.Sleep(d)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	r.CPU = sampleCPU(pid).since(cpu0)
	r.MaxLoad = loadMax()
	last := merge(&r, parts)
	r.Elapsed = last.Sub(sched(nWarm))
	quarter := (n - nWarm) / 4
	for _, p := range parts {
		for k, i := range p.idx {
			switch {
			case i < nWarm+quarter:
				r.FirstQ = append(r.FirstQ, p.lat[k])
			case i >= n-quarter:
				r.LastQ = append(r.LastQ, p.lat[k])
			}
		}
	}
	if ctx.Err() != nil {
		r.Err = fmt.Errorf("the run was cut short after %s: %w", time.Since(start).Round(time.Second), ctx.Err())
	}
	return r
}

// closedLoop runs clients that each send a request as soon as their
// previous one is answered, for warm + window; the requests answered in
// the window count.
func closedLoop(ctx context.Context, label string, clients int, warm, window time.Duration, pid int, c call) loadRun {
	r := loadRun{Label: label, Clients: clients, Window: window}
	start := time.Now()
	from, to := start.Add(warm), start.Add(warm+window)
	ctx, cancel := context.WithDeadline(ctx, to.Add(time.Minute))
	defer cancel()
	var next atomic.Int64
	parts := make([]loadPart, clients)
	var wg sync.WaitGroup
	for w := range parts {
		wg.Go(func() {
			p := &parts[w]
			var scratch bytes.Buffer
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(to) {
					return
				}
				class, ok := c(ctx, next.Add(1)-1, &scratch)
				end := time.Now()
				if !end.Before(from) && end.Before(to) {
					p.note(end.Sub(t0), -1, 0, class, ok, end)
				}
			}
		})
	}
	time.Sleep(time.Until(from))
	cpu0 := sampleCPU(pid)
	resetLoadMax()
	time.Sleep(time.Until(to))
	r.CPU = sampleCPU(pid).since(cpu0)
	r.MaxLoad = loadMax()
	wg.Wait()
	merge(&r, parts)
	return r
}

// --- HTTP ---------------------------------------------------------------------

// newHTTPClient is the generator's client: keep-alive connections to one
// host, as many as there can be requests in flight, no proxy.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     2 * time.Minute,
			DisableCompression:  true,
		},
	}
}

// do sends one request and reads the whole answer into scratch.
func do(ctx context.Context, client *http.Client, method, target, token string, body []byte, scratch *bytes.Buffer) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	scratch.Reset()
	_, err = scratch.ReadFrom(resp.Body)
	return resp.StatusCode, err
}

// failure names a failed call for the run's counts, without what varies
// from call to call.
func failure(status int, body []byte, err error) string {
	if err != nil {
		s := err.Error()
		if i := strings.LastIndex(s, ": "); i >= 0 {
			s = s[i+2:]
		}
		return "error: " + s
	}
	code := jsonField(body, "code")
	msg := jsonField(body, "message")
	if len(msg) > 80 {
		msg = msg[:80] + "…"
	}
	return fmt.Sprintf("HTTP %d %s: %s", status, code, numbersOut(msg))
}

var numbers = regexp.MustCompile(`[0-9]+`)

// numbersOut puts N for the numbers of an error message, so that the
// same error at other positions counts as one.
func numbersOut(s string) string { return numbers.ReplaceAllString(s, "N") }

// jsonField finds the first string field name in a compact JSON object,
// without decoding it (enough for counting answers).
func jsonField(b []byte, name string) string {
	key := []byte(`"` + name + `":"`)
	i := bytes.Index(b, key)
	if i < 0 {
		return ""
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// scanClass is how a recorded scan's event (its payload, as the API and
// the store give it) decided: "admitted", or "denied: " and the reason's
// first words (up to a colon, where a code's reasons put their detail).
func scanClass(payload []byte) string {
	if bytes.Contains(payload, []byte(`"admitted":true`)) {
		return "admitted"
	}
	reason := jsonField(payload, "reason")
	if i := strings.IndexByte(reason, ':'); i >= 0 {
		reason = reason[:i]
	}
	return "denied: " + reason
}

// resetLoadMax starts the load sampler's maximum afresh (resetPeak would
// also collect this process's garbage, a pause inside the window).
func resetLoadMax() {
	loadSampler.Lock()
	loadSampler.max = 0
	loadSampler.Unlock()
	sampleLoad()
}

// --- CPU ----------------------------------------------------------------------

// cpuSample is the CPU time used so far by a process, by this process,
// by PostgreSQL's processes, and by the whole machine.
type cpuSample struct {
	at                   time.Time
	proc, self, postgres time.Duration
	busy, total          float64 // machine, in clock ticks over all processors
	processors           int
	procReadable         bool
}

// cpuShare is what each used during a phase, in processors (1.0: one
// processor busy all the time); Other is the rest of the machine.
type cpuShare struct {
	Proc, Self, Postgres, Other float64
	HasProc                     bool
}

const clockTicks = 100 // USER_HZ on Linux

func sampleCPU(pid int) cpuSample {
	s := cpuSample{at: time.Now()}
	if pid > 0 {
		s.proc, s.procReadable = procCPU(strconv.Itoa(pid))
	}
	s.self, _ = procCPU("self")
	s.postgres = postgresCPU()
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 4 && f[0] == "cpu" {
				for k, v := range f[1:] {
					x, _ := strconv.ParseFloat(v, 64)
					if k != 3 && k != 4 { // idle, iowait
						s.busy += x
					}
					s.total += x
				}
			}
			if len(f) > 0 && strings.HasPrefix(f[0], "cpu") && f[0] != "cpu" {
				s.processors++
			}
		}
	}
	return s
}

// postgresCPU sums the CPU time of the processes named postgres (the
// server on this machine, when there is one).
func postgresCPU() time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if comm, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			d, _ := procCPU(e.Name())
			sum += d
		}
	}
	return sum
}

// procCPU reads utime + stime of /proc/<pid>/stat.
func procCPU(pid string) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces; the fields after it do not.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / clockTicks, true
}

func (s cpuSample) since(before cpuSample) cpuShare {
	wall := s.at.Sub(before.at).Seconds()
	if wall <= 0 {
		return cpuShare{}
	}
	c := cpuShare{Proc: (s.proc - before.proc).Seconds() / wall, Self: (s.self - before.self).Seconds() / wall,
		Postgres: max(0, (s.postgres-before.postgres).Seconds()/wall), HasProc: s.procReadable && before.procReadable}
	if s.total > before.total {
		machine := (s.busy - before.busy) / (s.total - before.total) * float64(s.processors)
		c.Other = max(0, machine-c.Proc-c.Self-c.Postgres)
	}
	return c
}

// classesText lists a run's answers, the most frequent first.
func classesText(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	slices.SortFunc(all, func(a, b kv) int {
		return cmp.Or(cmp.Compare(b.v, a.v), strings.Compare(a.k, b.k))
	})
	var out []string
	for _, x := range all {
		k := x.k
		if k == "" {
			k = "answered"
		}
		out = append(out, fmt.Sprintf("%s %s", k, fmtInt(x.v)))
	}
	return strings.Join(out, ", ")
}
