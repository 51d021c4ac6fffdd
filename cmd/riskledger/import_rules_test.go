package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestImportRejectsEachRuleWithItsLine: one line per validation rule, each
// refused with its line number, its command and a reason that names what
// is wrong, and nothing of it appended; the valid lines around them are.
func TestImportRejectsEachRuleWithItsLine(t *testing.T) {
	now := time.Now()
	at := now.Add(-time.Hour).Format(time.RFC3339)
	p, q, g, cp := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	// The lines' local day, which usable_from is judged against (an hour
	// ago may be yesterday in Shanghai).
	today := now.Add(-time.Hour).In(mustZone(t)).Format("2006-01-02")
	tomorrow := now.Add(-time.Hour).In(mustZone(t)).AddDate(0, 0, 1).Format("2006-01-02")
	person := func(id uuid.UUID, doc string) string {
		return fmt.Sprintf(`{"command":"register_person","at":%q,"person_id":%q,"document":{"type":"resident_id","number":%q,"country":"CN"},"name":"Zhao Lei","nationality":"CN"}`, at, id, doc)
	}
	dependent := func(n int, usable string) string {
		return fmt.Sprintf(`{"command":"apply_dependent","at":%q,"guardian_id":%q,"dependent_id":%q,"document":{"type":"resident_id","number":"KID-%d","country":"CN"},"name":"Zhao Xiao","nationality":"CN","usable_from":%q}`, at, g, uuid.New(), n, usable)
	}
	form := func(at, who string) string {
		return fmt.Sprintf(`{"command":"submit_health_form","at":%q,"person_id":%s,"travel":[],"symptoms":[],"contact_with_case":false}`, at, who)
	}
	cases := []struct {
		line string
		want []string // in the rejection; nil: the line is accepted
	}{
		{person(p, "D-1"), nil},
		{person(g, "D-2"), nil},
		{fmt.Sprintf(`{"command":"register_checkpoint","at":%q,"checkpoint_id":%q,"name":"Gate 3","kind":"park","district":"Jing'an"}`, at, cp), nil},
		{`{"command":"register_person"`, []string{"not valid JSON"}},
		{`[1,2]`, []string{"JSON object"}},
		{fmt.Sprintf(`{"at":%q,"person_id":%q}`, at, p), []string{`"command" is required`}},
		{fmt.Sprintf(`{"command":"teleport","at":%q}`, at), []string{`"command"`, "must be one of", "teleport"}},
		{fmt.Sprintf(`{"command":"record_diagnosis","at":%q,"result":"confirmed"}`, at), []string{`"person_id"`, "required"}},
		{fmt.Sprintf(`{"command":"record_diagnosis","at":%q,"person_id":%q,"result":"confirmed","colour":"red"}`, at, p), []string{`unknown field "colour"`}},
		{fmt.Sprintf(`{"command":"record_diagnosis","at":%q,"person_id":42,"result":"confirmed"}`, at), []string{`"person_id"`}},
		{fmt.Sprintf(`{"command":"record_diagnosis","at":%q,"person_id":"nobody","result":"confirmed"}`, at), []string{`"person_id"`}},
		{fmt.Sprintf(`{"command":"record_diagnosis","at":%q,"person_id":%q,"result":"maybe"}`, at, p), []string{`"result"`, "maybe"}},
		{fmt.Sprintf(`{"command":"record_diagnosis","at":"yesterday","person_id":%q,"result":"confirmed"}`, p), []string{`"at"`}},
		{fmt.Sprintf(`{"command":"designate_key_area","at":%q,"region":"Hubei","from":"2020-02-30"}`, at), []string{`"from"`}},
		{form(now.Add(time.Hour).Format(time.RFC3339), fmt.Sprintf("%q", p)), []string{`"at"`, "future"}},
		{form(now.Add(time.Minute).Format(time.RFC3339), fmt.Sprintf("%q", p)), nil}, // within the configured skew
		{form(at, fmt.Sprintf("%q", q)), []string{"person", q.String(), "not registered"}},
		{fmt.Sprintf(`{"command":"record_scan","at":%q,"checkpoint_id":%q,"person_id":%q,"method":"imported"}`, at, uuid.New(), p), []string{"checkpoint", "not registered"}},
		{fmt.Sprintf(`{"command":"record_scan","at":%q,"checkpoint_id":%q,"person_id":%q,"method":"imported"}`, at, cp, q), []string{"person", "not registered"}},
		{fmt.Sprintf(`{"command":"record_scan","at":%q,"checkpoint_id":%q,"person_id":%q,"method":"imported"}`, at, cp, p), nil},
		{person(q, "D-1"), []string{"already registered"}},
		{person(p, "D-3"), []string{"already registered"}},
		{dependent(0, today), []string{`"usable_from"`}},
		{dependent(1, tomorrow), nil},
		{dependent(2, tomorrow), nil},
		{dependent(3, tomorrow), nil},
		{dependent(4, tomorrow), nil},
		{dependent(5, tomorrow), []string{"4 active dependents"}},
		{`{"id":"form-a",` + form(at, fmt.Sprintf("%q", p))[1:], nil},
		{`{"id":"form-a",` + form(now.Add(-2*time.Hour).Format(time.RFC3339), fmt.Sprintf("%q", p))[1:], []string{"form-a", "other content"}},
	}
	var lines []string
	accepted := 0
	for _, c := range cases {
		lines = append(lines, c.line)
		if c.want == nil {
			accepted++
		}
	}
	file := filepath.Join(t.TempDir(), "rules.jsonl")
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	env := map[string]string{"RISKLEDGER_MAX_CLOCK_SKEW": "5m"}
	dir := t.TempDir()
	code, out, errs := run(t, env, "import", "--data", dir, file)
	if code != exitFailed || !strings.Contains(out, fmt.Sprintf("%d accepted", accepted)) ||
		!strings.Contains(out, fmt.Sprintf("%d rejected", len(cases)-accepted)) {
		t.Fatalf("import: %d %q\n%s", code, out, errs)
	}
	rejections := map[int]string{}
	for _, l := range strings.Split(strings.TrimSpace(errs), "\n") {
		var n int
		if _, err := fmt.Sscanf(l, "line %d:", &n); err != nil {
			t.Fatalf("a rejection without its line number: %q", l)
		}
		rejections[n] = l
	}
	for i, c := range cases {
		msg, rejected := rejections[i+1]
		switch {
		case c.want == nil && rejected:
			t.Errorf("line %d was rejected: %s", i+1, msg)
		case c.want != nil && !rejected:
			t.Errorf("line %d was accepted; want a rejection naming %q", i+1, c.want)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("line %d: %q lacks %q", i+1, msg, w)
			}
		}
	}
	// Nothing of a rejected line is in the ledger: the events are those of
	// the accepted lines (a registration is two, a dependent three).
	if code, out, _ := run(t, nil, "verify", "--data", dir); code != 0 || !strings.Contains(out, fmt.Sprintf("OK: %d events", 2+2+1+1+1+4*3+1)) {
		t.Fatalf("verify: %d %q", code, out)
	}
}
