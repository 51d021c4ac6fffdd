package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSimulateThenImport: a simulated city's command file imports with no
// rejection, and a second import finds every command already present.
func TestSimulateThenImport(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.jsonl")
	code, out, errs := run(t, nil, "simulate", "--people", "2000", "--days", "7", "--seed", "1", "--out", file)
	if code != 0 {
		t.Fatalf("simulate: %d %q %q", code, out, errs)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(b), "\n")
	if lines < 50000 || !strings.Contains(out, fmt.Sprintf("%d commands", lines)) {
		t.Fatalf("simulate wrote %d lines and said %q", lines, out)
	}
	// The same settings and seed give the same file.
	again := filepath.Join(t.TempDir(), "again.jsonl")
	run(t, nil, "simulate", "--people", "2000", "--days", "7", "--seed", "1", "--out", again)
	if b2, _ := os.ReadFile(again); string(b2) != string(b) {
		t.Fatal("two runs with one seed wrote different files")
	}
	ledgers(t, func(t *testing.T, l ledger) {
		code, out, errs := l.run(t, "import", file)
		if code != 0 || !strings.Contains(out, fmt.Sprintf(": %d accepted", lines)) || !strings.Contains(out, "0 already present, 0 rejected") {
			t.Fatalf("import: %d %q %q", code, out, errs)
		}
		code, out, _ = l.run(t, "import", file)
		if code != 0 || !strings.Contains(out, fmt.Sprintf("0 accepted (0 events appended), %d already present, 0 rejected", lines)) {
			t.Fatalf("second import: %d %q", code, out)
		}
		if code, out, _ := l.run(t, "verify"); code != 0 || !strings.Contains(out, "OK: ") {
			t.Fatalf("verify: %d %q", code, out)
		}
	})
}

// TestSimulateAppends: without --out the city goes straight into the
// ledger, and a second run appends nothing.
func TestSimulateAppends(t *testing.T) {
	ledgers(t, func(t *testing.T, l ledger) {
		args := []string{"simulate", "--people", "300", "--checkpoints", "30", "--days", "3", "--seed", "7"}
		code, out, errs := l.run(t, args...)
		m := regexp.MustCompile(`: (\d+) commands; (\d+) appended, 0 already present, 0 rejected`).FindStringSubmatch(out)
		if code != 0 || m == nil || m[1] != m[2] {
			t.Fatalf("simulate: %d %q %q", code, out, errs)
		}
		n, _ := strconv.Atoi(m[1])
		code, out, _ = l.run(t, args...)
		if code != 0 || !strings.Contains(out, fmt.Sprintf("%d commands; 0 appended, %d already present, 0 rejected", n, n)) {
			t.Fatalf("second run: %d %q", code, out)
		}
	})
	if code, _, errs := run(t, nil, "simulate", "--data", t.TempDir(), "--people", "0", "--days", "400"); code == 0 || !strings.Contains(errs, "people") || !strings.Contains(errs, "days") {
		t.Fatalf("bad settings: %d %q", code, errs)
	}
	if code, _, errs := run(t, nil, "simulate", "--data", t.TempDir(), "--people", "10", "--days", "3", "--start", time.Now().Format("2006-01-02")); code == 0 || !strings.Contains(errs, "in the future") {
		t.Fatalf("days in the future: %d %q", code, errs)
	}
}
