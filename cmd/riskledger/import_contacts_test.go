package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestImportContactsOnTheLyonHospitalData imports the first records of the
// SocioPatterns hospital file (Vanhems et al. 2013) and checks the counts
// against the records themselves.
func TestImportContactsOnTheLyonHospitalData(t *testing.T) {
	const n = 3000
	file, lines := headOf(t, "proximity", "hospital_lyon_contacts.dat.gz", n)
	people := map[string]bool{}
	records := map[string]bool{}
	for _, l := range lines {
		fields := strings.Fields(l)
		people[fields[1]], people[fields[2]] = true, true
		records[fields[0]+" "+fields[1]+" "+fields[2]] = true
	}
	ledgers(t, func(t *testing.T, l ledger) {
		args := []string{"import-contacts", "--format", "sociopatterns", "--start", "2010-12-06T13:00:00+01:00", file}
		code, out, errs := l.run(t, args...)
		want := fmt.Sprintf("%d records; %d persons registered, %d contacts recorded, 0 already present", n, len(people), len(records))
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("import: %d %q %q, want %q", code, out, errs, want)
		}
		code, out, _ = l.run(t, args...)
		if code != 0 || !strings.Contains(out, fmt.Sprintf("0 persons registered, 0 contacts recorded, %d already present", len(people)+len(records))) {
			t.Fatalf("second import: %d %q", code, out)
		}
		if code, out, _ := l.run(t, "verify"); code != 0 || !strings.Contains(out, fmt.Sprintf("OK: %d events", 2*len(people)+len(records))) {
			t.Fatalf("verify: %d %q", code, out)
		}
	})
	dir := t.TempDir()
	if code, _, errs := run(t, nil, "import-contacts", "--data", dir, "--format", "csv", "--start", "2010-12-06T13:00:00+01:00", file); code != exitUsage || !strings.Contains(errs, "sociopatterns") {
		t.Fatalf("an unknown format: %d %q", code, errs)
	}
}
