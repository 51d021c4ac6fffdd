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

func TestImport(t *testing.T) {
	dir := t.TempDir()
	at := time.Now().Add(-time.Hour).Format(time.RFC3339)
	g, cp := uuid.New(), uuid.New()
	tomorrow := time.Now().In(mustZone(t)).AddDate(0, 0, 2).Format("2006-01-02")
	lines := []string{
		fmt.Sprintf(`{"id":"1","command":"register_person","at":%q,"person_id":%q,"document":{"type":"passport","number":"E1234567","country":"FR"},"name":"Claire Dubois","nationality":"FR"}`, at, g),
		fmt.Sprintf(`{"command":"register_checkpoint","at":%q,"checkpoint_id":%q,"name":"Line 1 gate","kind":"subway","district":"Tianning"}`, at, cp),
		``,
		fmt.Sprintf(`{"command":"submit_health_form","at":%q,"person_id":%q,"travel":[{"region":"Hubei","arrived_on":"2020-01-20"}],"symptoms":[],"contact_with_case":false}`, at, g),
		fmt.Sprintf(`{"command":"record_diagnosis","at":%q,"person_id":%q,"result":"maybe"}`, at, g),
		fmt.Sprintf(`{"command":"record_diagnosis","at":%q,"person_id":%q,"result":"suspected"}`, at, uuid.New()),
		fmt.Sprintf(`{"command":"apply_dependent","at":%q,"guardian_id":%q,"dependent_id":%q,"document":{"type":"other","number":"child-1","country":"FR"},"name":"Léa Dubois","nationality":"FR","usable_from":%q}`, at, g, uuid.New(), tomorrow),
	}
	file := filepath.Join(t.TempDir(), "commands.jsonl")
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)

	code, out, errs := run(t, nil, "import", "--data", dir, file)
	if code != exitFailed {
		t.Fatalf("import with rejected lines exited %d: %q %q", code, out, errs)
	}
	if !strings.Contains(out, "4 accepted (7 events appended), 0 already present, 2 rejected") {
		t.Fatalf("summary: %q", out)
	}
	for _, want := range []string{`line 5: record_diagnosis: field "result"`, "line 6: record_diagnosis: person", "is not registered"} {
		if !strings.Contains(errs, want) {
			t.Errorf("rejections %q lack %q", errs, want)
		}
	}
	// A second import appends nothing; --allow-rejects makes it exit 0.
	code, out, _ = run(t, nil, "import", "--allow-rejects", "--data", dir, file)
	if code != 0 || !strings.Contains(out, "0 accepted (0 events appended), 4 already present, 2 rejected") {
		t.Fatalf("second import: %d %q", code, out)
	}
	if code, out, _ := run(t, nil, "verify", "--data", dir); code != 0 || !strings.Contains(out, "OK: 7 events") {
		t.Fatalf("verify after import: %d %q", code, out)
	}
	// No personal data in the ledger file in clear.
	b, _ := os.ReadFile(filepath.Join(dir, "ledger.db"))
	wal, _ := os.ReadFile(filepath.Join(dir, "ledger.db-wal"))
	for _, secret := range []string{"E1234567", "Claire Dubois", "child-1"} {
		if strings.Contains(string(b)+string(wal), secret) {
			t.Errorf("the ledger file holds %q in clear", secret)
		}
	}
	if code, _, errs := run(t, nil, "import", "--data", dir, filepath.Join(dir, "missing.jsonl")); code != exitFailed || !strings.Contains(errs, "cannot read") {
		t.Fatalf("a missing file: %d %q", code, errs)
	}
}

func mustZone(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
