package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium is where Debian's browser is; CI installs it (.ci/run).
const chromium = "/usr/bin/chromium"

// consoleAt is the time the test asks the person's colour at: the seventh
// day of the simulated city, when its outbreak has index cases and
// contacts.
const consoleAt = "2020-02-07T12:00:00+08:00"

// TestConsole drives the web console in a real headless browser against
// `serve` over a simulated city: it signs in with the first admin token,
// opens a red person by id, checks the timeline's bands and rule labels
// against `explain --json` and a band's events, opens the chain and checks
// its node count against `chain --format json` at two depths, switches to
// Chinese and checks that the labels changed, looks at the clusters and
// the audit, finds the person by their document, checks that every look
// is in the access log with the reason given, and saves screenshots under
// artifacts/console/ at the repository's root.
func TestConsole(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("RISKLEDGER_REQUIRE_BROWSER") == "" {
			t.Skipf("no browser at %s (apt-get install chromium): the console's browser test is skipped; with RISKLEDGER_REQUIRE_BROWSER=1, as in CI, it fails instead", chromium)
		}
		t.Fatalf("RISKLEDGER_REQUIRE_BROWSER is set and there is no browser at %s: %v", chromium, err)
	}
	l := ledger{args: []string{"--data", t.TempDir()}}
	if code, out, errs := l.run(t, "simulate", "--people", "2000", "--days", "7", "--seed", "1"); code != 0 {
		t.Fatalf("simulate: %d %s %s", code, out, errs)
	}
	person, ex := consolePerson(t, l)
	chainDepth1 := chainSize(t, l, person, "--depth", "1")
	// Three exposures deep over the morning before the person fell ill:
	// a graph small enough to show its edges' labels.
	const chainFrom, chainTo = "2020-02-05T00:00:00+08:00", "2020-02-05T09:00:00+08:00"
	chainDepth3 := chainSize(t, l, person, "--depth", "3", "--from", chainFrom, "--to", chainTo)
	t.Logf("person %s: %s at %s with %d intervals; chain: %d persons at depth 1, %d at depth 3 from %s to %s",
		person, ex.Colour, consoleAt, len(ex.Intervals), chainDepth1, chainDepth3, chainFrom, chainTo)

	s := serve(t, l)
	// The console checks a token and learns the ledger's zone of days here.
	code, body := s.do(t, "GET", "/v1/whoami", s.admin, nil)
	var who struct{ Role, Zone string }
	if json.Unmarshal(body, &who) != nil || code != 200 || who.Role != "admin" || who.Zone != "Asia/Shanghai" {
		t.Fatalf("GET /v1/whoami: %d %s", code, body)
	}
	shots := screenshotDir(t)
	b := newBrowser(t)

	// Sign in, in English.
	b.do(chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=signin-token]`)))
	if b.eval(`document.documentElement.lang`) != "en" {
		b.do(chromedp.Click(chromedp.CSS(`[data-testid=lang-switch]`)))
		b.poll(`document.documentElement.lang === 'en'`)
	}
	b.do(chromedp.SendKeys(chromedp.CSS(`[data-testid=signin-token]`), s.admin),
		chromedp.Click(chromedp.CSS(`[data-testid=signin-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=nav-search]`)))
	if role := b.eval(`document.querySelector('[data-testid=who]').dataset.role`); role != "admin" {
		t.Fatalf("signed in as %q, want admin", role)
	}

	// Open the person by id: the console asks for a reason once.
	b.do(chromedp.SendKeys(chromedp.CSS(`[data-testid=search-person]`), person),
		chromedp.Click(chromedp.CSS(`[data-testid=search-open]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=reason-dialog]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=reason-input]`), "case 2020-0142, browser test"),
		chromedp.Click(chromedp.CSS(`[data-testid=reason-ok]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=timeline]`)))

	// The colour at the test's time, asked in the ledger's zone.
	b.do(chromedp.SetValue(chromedp.CSS(`[data-testid=at-input]`), "2020-02-07 12:00"),
		chromedp.Click(chromedp.CSS(`[data-testid=at-apply]`)))
	at, _ := time.Parse(time.RFC3339, consoleAt)
	b.poll(fmt.Sprintf(`(() => { const c = document.querySelector('[data-testid=person-colour]');
		return c && Date.parse(c.dataset.at) === %d && document.querySelector('[data-testid=timeline]') !== null; })()`, at.UnixMilli()))
	if got := b.eval(`document.querySelector('[data-testid=person-colour]').dataset.colour`); got != ex.Colour {
		t.Errorf("the console shows %s at %s, explain says %s", got, consoleAt, ex.Colour)
	}

	// One band per interval, with its rule as label and colour.
	type band struct {
		Rule   string `json:"rule"`
		From   string `json:"from"`
		Until  string `json:"until"`
		Colour string `json:"colour"`
		Label  string `json:"label"`
	}
	var bands []band
	b.evalInto(`Array.from(document.querySelectorAll('[data-testid=band]')).map(b => ({rule: b.dataset.rule, from: b.dataset.from,
		until: b.dataset.until, colour: b.dataset.colour, label: b.textContent.trim()}))`, &bands)
	var want, got []string
	for _, iv := range ex.Intervals {
		want = append(want, iv.String())
	}
	for _, bd := range bands {
		got = append(got, bd.Rule+" "+bd.From+" "+bd.Until)
		if bd.Label != bd.Rule {
			t.Errorf("a %s band is labelled %q", bd.Rule, bd.Label)
		}
		if wantColour := map[byte]string{'R': "red", 'Y': "yellow"}[bd.Rule[0]]; wantColour != "" && bd.Colour != wantColour {
			t.Errorf("a %s band is %s", bd.Rule, bd.Colour)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("the bands are\n%s\nexplain's intervals are\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A band's events are those explain names for its interval.
	b.do(chromedp.Click(chromedp.CSS(`[data-testid=band][data-rule^=R]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=band-events]`)))
	var shown []string
	b.evalInto(`Array.from(document.querySelectorAll('[data-testid=band-event]')).map(e => e.textContent + '@' + e.dataset.position)`, &shown)
	index := b.eval(`document.querySelector('[data-testid=band-events]').dataset.index`)
	var picked *consoleInterval
	for i := range ex.Intervals {
		if fmt.Sprint(i) == index {
			picked = &ex.Intervals[i]
		}
	}
	if picked == nil || !strings.HasPrefix(picked.Rule, "R") {
		t.Fatalf("the events shown are of interval %q, not of a red one: %+v", index, picked)
	}
	var wantEvents []string
	for _, e := range picked.Events {
		wantEvents = append(wantEvents, fmt.Sprintf("%s@%d", e.ID, e.Position))
	}
	if !slices.Equal(shown, wantEvents) {
		t.Errorf("the %s band from %s shows the events %v, explain names %v", picked.Rule, picked.From, shown, wantEvents)
	}
	b.screenshot(shots, "person.png", "")
	b.screenshot(shots, "timeline.png", `[data-testid=person-timeline]`)

	// The chain: depth 1 at first, then three deep over a morning.
	b.do(chromedp.Click(chromedp.CSS(`[data-testid=open-chain]`)))
	b.poll(`location.hash.startsWith('#/chain/') && document.querySelector('[data-testid=chain-graph]')?.dataset.state === 'ready'`)
	if n := b.eval(`document.querySelector('[data-testid=chain-graph]').dataset.nodes`); n != fmt.Sprint(chainDepth1) {
		t.Errorf("the chain at depth 1 has %s nodes, chain --format json %d", n, chainDepth1)
	}
	// The graph on the page is marked, so that the polls below wait for
	// the one the next action draws, not for this one still on the page.
	const markDrawn = `(() => { const g = document.querySelector('[data-testid=chain-graph]'); if (g) g.dataset.drawn = '1'; return 'marked' })()`
	const freshGraph = `(() => { const g = document.querySelector('[data-testid=chain-graph]'); return !!g && !g.dataset.drawn && g.dataset.state === 'ready' })()`
	b.eval(markDrawn)
	b.do(chromedp.SetValue(chromedp.CSS(`[data-testid=chain-depth]`), "3"),
		chromedp.SetValue(chromedp.CSS(`[data-testid=chain-from]`), "2020-02-05 00:00"),
		chromedp.SetValue(chromedp.CSS(`[data-testid=chain-to]`), "2020-02-05 09:00"),
		chromedp.Click(chromedp.CSS(`[data-testid=chain-draw]`)))
	b.poll(`location.hash.includes('depth=3') && ` + freshGraph)
	if n := b.eval(`document.querySelector('[data-testid=chain-graph]').dataset.nodes`); n != fmt.Sprint(chainDepth3) {
		t.Errorf("the chain at depth 3 from %s to %s has %s nodes, chain --format json %d", chainFrom, chainTo, n, chainDepth3)
	}
	b.screenshot(shots, "chain.png", "")

	// Chinese: the labels change, the bands stay.
	labels := func() string {
		return b.eval(`[document.querySelector('[data-testid=nav-search]').textContent, document.querySelector('[data-testid=chain-summary]').textContent, document.querySelector('h1').textContent].join(' | ')`)
	}
	before := labels()
	b.eval(markDrawn)
	b.do(chromedp.Click(chromedp.CSS(`[data-testid=lang-switch]`)))
	b.poll(`document.documentElement.lang === 'zh-CN' && ` + freshGraph)
	after := labels()
	if after == before || !strings.Contains(after, "搜索") || !strings.Contains(after, "接触链") {
		t.Errorf("after switching to Chinese the labels read %q (before: %q)", after, before)
	}
	b.do(chromedp.Click(chromedp.CSS(`h1 a`)), // the person of the chain
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=at-input]`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid=at-input]`), "2020-02-07 12:00"),
		chromedp.Click(chromedp.CSS(`[data-testid=at-apply]`)))
	b.poll(fmt.Sprintf(`(() => { const c = document.querySelector('[data-testid=person-colour]');
		return c && Date.parse(c.dataset.at) === %d && document.querySelectorAll('[data-testid=band]').length > 0; })()`, at.UnixMilli()))
	if title := b.eval(`document.querySelector('[data-testid=person-timeline] h2').textContent`); title != "每日颜色" {
		t.Errorf("the timeline's title in Chinese reads %q", title)
	}
	if n := b.eval(`String(document.querySelectorAll('[data-testid=band]').length)`); n != fmt.Sprint(len(ex.Intervals)) {
		t.Errorf("in Chinese the timeline has %s bands, want %d", n, len(ex.Intervals))
	}
	b.screenshot(shots, "zh.png", "")

	// Clusters (a look of its own: one more reason) and the audit, in
	// Chinese.
	b.do(chromedp.Click(chromedp.CSS(`[data-testid=nav-clusters]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=reason-dialog]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=reason-ok]`)), // the last reason, filled in
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=clusters-summary]`)))
	if n := b.eval(`String(document.querySelectorAll('[data-testid=cluster-place]').length)`); n == "0" {
		t.Error("the clusters page lists no place")
	}
	b.screenshot(shots, "clusters.png", "")
	b.do(chromedp.Click(chromedp.CSS(`[data-testid=nav-audit]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=audit-replay-run]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=replay-result]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=audit-verify-run]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=verify-result]`)))
	if ok := b.eval(`document.querySelector('[data-testid=replay-result]').dataset.ok + ' ' + document.querySelector('[data-testid=verify-result]').dataset.ok`); ok != "true true" {
		t.Errorf("the audit page shows replay and verify ok: %s", ok)
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-testid=access-load]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=reason-dialog]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=reason-ok]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=access-log]`)))
	b.screenshot(shots, "audit.png", "")

	// The person again, found by their identity document: a look that
	// asks for its own reason.
	code, body = s.do(t, "GET", "/v1/persons/"+person+"?reason=check", s.admin, nil)
	var rec struct {
		Document struct{ Type, Number, Country string }
	}
	if json.Unmarshal(body, &rec) != nil || code != 200 || rec.Document.Number == "" {
		t.Fatalf("GET /v1/persons/%s: %d %s", person, code, body)
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-testid=nav-search]`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid=search-doc-type]`), rec.Document.Type),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=search-doc-number]`), rec.Document.Number),
		chromedp.Click(chromedp.CSS(`[data-testid=search-document]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=reason-dialog]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=reason-ok]`)))
	b.poll(fmt.Sprintf(`location.hash === '#/person/%s' && document.querySelector('[data-testid=timeline]') !== null`, person))

	// Every look of the browser is in the access log with its reason.
	code, body = s.do(t, "GET", "/v1/audit/access?reason=check", s.admin, nil)
	var looks []struct{ Query, Reason string }
	if err := json.Unmarshal(body, &looks); err != nil || code != 200 {
		t.Fatalf("the access log: %d %s", code, body)
	}
	seen := map[string]bool{}
	for _, l := range looks {
		if l.Reason == "case 2020-0142, browser test" {
			seen[l.Query] = true
		}
	}
	for _, q := range []string{"person", "explain", "scans", "codes", "chain", "colours", "clusters", "access log", "search by document"} {
		if !seen[q] {
			t.Errorf("the access log has no %q look with the reason given in the browser: %s", q, body)
		}
	}
	b.noExceptions()
}

// consoleInterval is an interval of `explain --json`, times as written.
type consoleInterval struct {
	Rule   string  `json:"rule"`
	From   string  `json:"from"`
	Until  *string `json:"until"`
	Events []struct {
		ID       string `json:"id"`
		Position int64  `json:"position"`
	} `json:"events"`
}

// consoleExplanation is `explain --json` with untouched times, so that
// they compare with the console's as strings.
type consoleExplanation struct {
	Colour string            `json:"colour"`
	Raw    []consoleInterval `json:"intervals"`
}

// consoleCase is the person the test opens and what `explain` says of them.
type consoleCase struct {
	Colour    string
	Intervals []consoleInterval
}

// consolePerson picks the person red at consoleAt whose intervals show the
// most rules, among those with at most ten intervals (ties: the fewer
// intervals, then the smaller id).
func consolePerson(t *testing.T, l ledger) (string, consoleCase) {
	t.Helper()
	code, out, errs := l.run(t, "colours", "--at", consoleAt, "--json")
	if code != 0 {
		t.Fatalf("colours: %s", errs)
	}
	var best string
	var bestCase consoleCase
	bestRules := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var row struct {
			PersonID string `json:"person_id"`
			Colour   string `json:"colour"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("colours --json printed %q: %v", line, err)
		}
		if row.Colour != "red" {
			continue
		}
		code, out, errs := l.run(t, "explain", row.PersonID, "--at", consoleAt, "--json")
		var ex consoleExplanation
		if code != 0 || json.Unmarshal([]byte(out), &ex) != nil {
			t.Fatalf("explain %s: %d %s %s", row.PersonID, code, out, errs)
		}
		rules := map[string]bool{}
		for _, iv := range ex.Raw {
			rules[iv.Rule] = true
		}
		if len(ex.Raw) > 10 {
			continue
		}
		better := len(rules) > bestRules ||
			len(rules) == bestRules && (len(ex.Raw) < len(bestCase.Intervals) || len(ex.Raw) == len(bestCase.Intervals) && row.PersonID < best)
		if best == "" || better {
			best, bestRules, bestCase = row.PersonID, len(rules), consoleCase{Colour: ex.Colour, Intervals: ex.Raw}
		}
	}
	if best == "" {
		t.Fatalf("no person of the simulated city is red at %s with at most ten intervals", consoleAt)
	}
	for i, iv := range bestCase.Intervals {
		if iv.Until == nil {
			empty := ""
			bestCase.Intervals[i].Until = &empty
		}
	}
	return best, bestCase
}

// Rule, From and Until of an interval as one string, until "" when open.
func (iv consoleInterval) String() string { return iv.Rule + " " + iv.From + " " + *iv.Until }

// chainSize is the number of persons of `chain PERSON ARGS --format json`.
func chainSize(t *testing.T, l ledger, person string, args ...string) int {
	t.Helper()
	code, out, errs := l.run(t, append([]string{"chain", person, "--format", "json"}, args...)...)
	var c struct {
		Nodes []json.RawMessage `json:"nodes"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil {
		t.Fatalf("chain %s %v: %d %s", person, args, code, errs)
	}
	return len(c.Nodes)
}

// screenshotDir is artifacts/console at the repository's root (the
// directory of go.mod above the test's).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	out := filepath.Join(dir, "artifacts", "console")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// browser is a headless Chromium with one tab, and the uncaught
// exceptions of its pages.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu         sync.Mutex
	exceptions []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithLogf(func(string, ...any) {}))
	t.Cleanup(cancelTab)
	b := &browser{t: t, ctx: tab}
	exceptions := chromedp.Events(tab, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			text := ev.ExceptionDetails.Text
			if e := ev.ExceptionDetails.Exception; e != nil && e.Description != "" {
				text += " " + e.Description
			}
			b.mu.Lock()
			b.exceptions = append(b.exceptions, text)
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.fail(err)
	}
}

// eval evaluates a JavaScript expression whose value is a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.fail(fmt.Errorf("%s: %w", expr, err))
	}
	return v
}

func (b *browser) evalInto(expr string, v any) {
	b.t.Helper()
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]byte](expr))
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		b.fail(fmt.Errorf("%s: %w", expr, err))
	}
}

// poll waits until a JavaScript expression is true.
func (b *browser) poll(expr string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		b.fail(fmt.Errorf("waiting for %s: %w", expr, err))
	}
}

// screenshot saves the page's viewport, or the element sel, as name.
func (b *browser) screenshot(dir, name, sel string) {
	b.t.Helper()
	var png []byte
	var err error
	if sel == "" {
		png, err = chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	} else {
		png, err = chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	}
	if err != nil {
		b.fail(fmt.Errorf("screenshot %s: %w", name, err))
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// fail stops the test with err, a screenshot of the page as it is, and
// the exceptions the page threw.
func (b *browser) fail(err error) {
	b.t.Helper()
	if png, shotErr := chromedp.Run(b.ctx, chromedp.CaptureScreenshot()); shotErr == nil {
		path := filepath.Join(os.TempDir(), "riskledger-console-failed.png")
		if os.WriteFile(path, png, 0o644) == nil {
			b.t.Logf("the page as it was: %s", path)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.t.Fatalf("%v (the page threw: %q)", err, b.exceptions)
}

func (b *browser) noExceptions() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.exceptions) > 0 {
		b.t.Errorf("the pages threw: %q", b.exceptions)
	}
}
