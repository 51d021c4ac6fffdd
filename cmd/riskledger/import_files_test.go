package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestImportWholeFiles imports the shared data files whole, on both
// stores, and checks the counts against what their READMEs and a count of
// their distinct rows say: Gowalla NYC (Cho et al., KDD 2011) has 138,957
// rows of which 138,951 are distinct, by 7,115 users at 21,509 venues; the
// Foursquare NYC subset (Yang et al., IEEE TSMC 2015) 137,732 rows of
// which 137,586 are distinct, by 1,083 users at 25,807 venues; the Lyon hospital file (Vanhems et al., PLoS ONE 2013)
// 32,424 records of 75 people. Then it asks the contact queries about
// what it imported (checkContactQueries).
func TestImportWholeFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("imports about 340,000 rows per store; run without -short")
	}
	data := filepath.Join("..", "..", "..", "shared", "data")
	files := []struct {
		args []string
		want string
	}{
		{[]string{"import-checkins", "--format", "gowalla", filepath.Join(data, "checkins", "gowalla_nyc_checkins.tsv.gz")},
			"138957 rows; 7115 persons, 21509 checkpoints, 138951 scans recorded, 6 already present"},
		{[]string{"import-checkins", "--format", "foursquare", filepath.Join(data, "checkins", "foursquare_nyc_subset.tsv.gz")},
			"137732 rows; 1083 persons, 25807 checkpoints, 137586 scans recorded, 146 already present"},
		{[]string{"import-contacts", "--format", "sociopatterns", "--start", "2010-12-06T13:00:00+01:00", filepath.Join(data, "proximity", "hospital_lyon_contacts.dat.gz")},
			"32424 records; 75 persons registered, 32424 contacts recorded, 0 already present"},
	}
	ledgers(t, func(t *testing.T, l ledger) {
		for _, f := range files {
			code, out, errs := l.run(t, f.args...)
			if code != 0 || !strings.Contains(out, f.want) {
				t.Fatalf("%s: %d %q %q, want %q", f.args[0], code, out, errs, f.want)
			}
		}
		if code, out, _ := l.run(t, "verify"); code != 0 || !strings.Contains(out, "OK: ") {
			t.Fatalf("verify: %d %q", code, out)
		}
		checkContactQueries(t, l)
	})
}
