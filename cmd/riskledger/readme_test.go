package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestREADMECommandFile imports the README's example of each command: the
// documentation stays true.
func TestREADMECommandFile(t *testing.T) {
	block := readmeExamples(t)
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
		_, rest, _ := strings.Cut(l, `"command":"`)
		name, _, _ := strings.Cut(rest, `"`)
		seen[name] = true
	}
	for _, name := range []string{"register_person", "verify_identity", "apply_dependent", "end_dependent", "submit_health_form",
		"report_symptoms", "record_diagnosis", "designate_key_area", "lift_key_area", "register_checkpoint", "record_scan",
		"report_contact", "override_colour", "publish_policy", "erase_person", "retract"} {
		if !seen[name] {
			t.Errorf("the README has no example of %s", name)
		}
	}
	file := filepath.Join(t.TempDir(), "examples.jsonl")
	os.WriteFile(file, []byte(block), 0o600)
	n := strings.Count(strings.TrimSpace(block), "\n") + 1
	code, out, errs := run(t, nil, "import", "--data", t.TempDir(), file)
	if code != 0 || !strings.Contains(out, ": "+strconv.Itoa(n)+" accepted") || !strings.Contains(out, "0 rejected") {
		t.Fatalf("import of the README's examples: %d %q %q", code, out, errs)
	}
}

// readmeExamples returns the README's command file of examples (its
// ```jsonl block).
func readmeExamples(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "```jsonl\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the README has no ```jsonl block of example commands")
	}
	return block
}
