package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/eventstore/sqlite"
)

// TestImportPreservesRecordedAt: with --preserve-recorded-at each line's
// recorded_at is the event's, and the events are marked imported; a
// recording time before the ledger's head is refused; without the flag the
// ledger's clock records, and the lines already imported are present.
func TestImportPreservesRecordedAt(t *testing.T) {
	p := uuid.New()
	line := func(id, at, recorded string) string {
		return fmt.Sprintf(`{"id":%q,"command":"register_person","at":%q,"recorded_at":%q,"person_id":%q,"document":{"type":"passport","number":%q,"country":"FR"},"name":"Marie Curie","nationality":"FR"}`,
			id, at, recorded, uuid.New(), id)
	}
	lines := []string{
		fmt.Sprintf(`{"id":"a","command":"register_person","at":"2020-02-01T09:00:00+08:00","recorded_at":"2020-02-01T09:05:00+08:00","person_id":%q,"document":{"type":"passport","number":"P-A","country":"FR"},"name":"Marie Curie","nationality":"FR"}`, p),
		line("b", "2020-02-02T09:00:00+08:00", "2020-02-02T09:05:00+08:00"),
		line("c", "2020-01-30T09:00:00+08:00", "2020-01-30T09:05:00+08:00"), // recorded before the head's
		line("d", "2020-02-03T09:00:00+08:00", "2020-02-03T09:05:00+08:00"),
	}
	file := filepath.Join(t.TempDir(), "history.jsonl")
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	dir := t.TempDir()
	code, out, errs := run(t, nil, "import", "--data", dir, "--preserve-recorded-at", file)
	if code != exitFailed || !strings.Contains(out, "3 accepted") || !strings.Contains(errs, "line 3: register_person: recorded_at") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	s, err := sqlite.Open(context.Background(), sqlite.Config{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.ReadAll(context.Background(), 0, 100)
	s.Close()
	if err != nil || len(evs) != 6 {
		t.Fatalf("%d events (%v), want 6", len(evs), err)
	}
	want := time.Date(2020, 2, 1, 1, 5, 0, 0, time.UTC)
	var meta struct {
		Imported bool `json:"imported"`
	}
	if json.Unmarshal(evs[0].Metadata, &meta); !evs[0].RecordedAt.Equal(want) || !meta.Imported {
		t.Fatalf("first event recorded at %s, metadata %s; want %s and imported", evs[0].RecordedAt, evs[0].Metadata, want)
	}
	// The same file again without the flag: the lines in the ledger are
	// already present (recorded_at is not content), and the refused one is
	// now recorded by the ledger's clock.
	code, out, _ = run(t, nil, "import", "--data", dir, file)
	if code != 0 || !strings.Contains(out, "1 accepted (2 events appended), 3 already present, 0 rejected") {
		t.Fatalf("import without the flag: %d %q", code, out)
	}
	if code, out, _ := run(t, nil, "verify", "--data", dir); code != 0 || !strings.Contains(out, "OK: 8 events") {
		t.Fatalf("verify: %d %q", code, out)
	}
}
