package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// headOf writes the first n lines of a gzip file of ../shared/data (dir,
// name) to a plain file and returns its path with the lines.
func headOf(t *testing.T, dir, name string, n int) (string, []string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "shared", "data", dir, name))
	if err != nil {
		t.Fatalf("the shared data set is missing: %v", err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(z)
	for sc.Scan() && len(lines) < n {
		lines = append(lines, sc.Text())
	}
	path := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".gz"))
	os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	return path, lines
}

// TestImportCheckins imports the first rows of the Gowalla (Cho et al.,
// KDD 2011) and Foursquare (Yang et al., IEEE TSMC 2015) files and checks
// the counts against the rows themselves: one person per user, one
// checkpoint per venue, one scan per distinct row.
func TestImportCheckins(t *testing.T) {
	for _, tc := range []struct {
		format, file      string
		header            bool
		user, venue, time int // columns
	}{
		{"gowalla", "gowalla_nyc_checkins.tsv.gz", false, 0, 4, 1},
		{"foursquare", "foursquare_nyc_subset.tsv.gz", true, 0, 1, 7},
	} {
		t.Run(tc.format, func(t *testing.T) {
			path, lines := headOf(t, "checkins", tc.file, 1500)
			users, venues, rows := map[string]bool{}, map[string]bool{}, map[string]bool{}
			for i, l := range lines {
				if tc.header && i == 0 {
					continue
				}
				f := strings.Split(l, "\t")
				users[f[tc.user]], venues[f[tc.venue]] = true, true
				rows[f[tc.user]+" "+f[tc.venue]+" "+f[tc.time]] = true
			}
			n := len(lines)
			if tc.header {
				n--
			}
			ledgers(t, func(t *testing.T, l ledger) {
				code, out, errs := l.run(t, "import-checkins", "--format", tc.format, path)
				want := fmt.Sprintf("%d rows; %d persons, %d checkpoints, %d scans recorded, %d already present",
					n, len(users), len(venues), len(rows), n-len(rows))
				if code != 0 || !strings.Contains(out, want) {
					t.Fatalf("import: %d %q %q, want %q", code, out, errs, want)
				}
				code, out, _ = l.run(t, "import-checkins", "--format", tc.format, path)
				if code != 0 || !strings.Contains(out, "0 persons, 0 checkpoints, 0 scans recorded") {
					t.Fatalf("second import: %d %q", code, out)
				}
				if code, out, _ := l.run(t, "verify"); code != 0 || !strings.Contains(out, fmt.Sprintf("OK: %d events", 2*len(users)+len(venues)+len(rows))) {
					t.Fatalf("verify: %d %q", code, out)
				}
			})
		})
	}
}
