package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/eventstore/sqlite"
)

// TestColoursCiteTheLedgersEvents imports the README's examples and asks
// for colours: the reasons cite events that are in the ledger, at their
// positions, and --known-at hides what was recorded later.
func TestColoursCiteTheLedgersEvents(t *testing.T) {
	file := filepath.Join(t.TempDir(), "examples.jsonl")
	os.WriteFile(file, []byte(readmeExamples(t)), 0o600)
	dir := t.TempDir()
	if code, out, errs := run(t, nil, "import", "--data", dir, file); code != 0 {
		t.Fatalf("import: %q %q", out, errs)
	}
	const p1 = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
	code, out, errs := run(t, nil, "colour", "--data", dir, p1, "--at", "2020-03-04T00:00:00+08:00", "--json")
	var a struct {
		PersonID string `json:"person_id"`
		Colour   string `json:"colour"`
		Reasons  []struct {
			Rule   string  `json:"rule"`
			Until  *string `json:"until"`
			Events []struct {
				ID       string `json:"id"`
				Position int64  `json:"position"`
			} `json:"events"`
		} `json:"reasons"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || a.Colour != "red" || a.PersonID != p1 {
		t.Fatalf("colour: %d %q %q", code, out, errs)
	}
	rules := map[string]bool{}
	s, err := sqlite.Open(context.Background(), sqlite.Config{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, r := range a.Reasons {
		rules[r.Rule] = true
		for _, e := range r.Events {
			ev, ok, err := s.ReadEvent(context.Background(), uuid.MustParse(e.ID))
			if err != nil || !ok || ev.Position != e.Position {
				t.Errorf("reason %s cites %s at %d, which the ledger does not hold there (%v %v)", r.Rule, e.ID, e.Position, ok, err)
			}
		}
	}
	if !rules["R1"] || !rules["R2"] {
		t.Errorf("reasons %+v, want R1 (the symptoms) and R2 (the diagnosis)", a.Reasons)
	}
	// Before the form and the report occurred (and were recorded), green.
	code, out, _ = run(t, nil, "colour", "--data", dir, p1, "--at", "2020-03-01T12:00:00+08:00")
	if code != 0 || !strings.Contains(out, p1+": green") {
		t.Fatalf("colour on March 1st: %d %q", code, out)
	}
	// colours: one object per registered person.
	code, out, _ = run(t, nil, "colours", "--data", dir, "--at", "2020-03-04T12:00:00+08:00", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.Contains(out, `"colour":"green","reasons":[{"rule":"override"`) {
		t.Fatalf("colours: %d %q", code, out)
	}
	code, out, _ = run(t, nil, "explain", "--data", dir, p1, "--at", "2020-03-04T00:00:00+08:00")
	if code != 0 || !strings.Contains(out, "red R2 from") || !strings.Contains(out, "until open") {
		t.Fatalf("explain: %d %q", code, out)
	}
	if code, _, errs := run(t, nil, "colour", "--data", dir, "nobody"); code == 0 || !strings.Contains(errs, "not a person id") {
		t.Fatalf("a bad person id: %d %q", code, errs)
	}
}
