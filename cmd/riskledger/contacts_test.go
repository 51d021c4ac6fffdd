package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riskledger/riskledger/projections"
)

// The index cases of the Gowalla check-in data (Cho et al., KDD 2011) the
// contact tests mark: pairs of users who often checked in at the same
// venue within 30 minutes, each reporting fever a day or two after an onset
// in the middle of such a run, and one who did so alone.
var gowallaCases = []struct{ user, at, onset string }{
	{"1546", "2010-04-11T12:00:00Z", "2010-04-09"},
	{"2197", "2010-04-11T13:00:00Z", "2010-04-09"},
	{"3121", "2010-10-02T12:00:00Z", "2010-09-30"},
	{"3440", "2010-10-03T12:00:00Z", "2010-10-01"},
	{"6155", "2010-04-10T12:00:00Z", "2010-04-09"},
}

// checkContactQueries runs after TestImportWholeFiles has imported the
// whole Gowalla and Lyon hospital files into l. The hospital figures are
// the paper's (Vanhems et al., PLoS ONE 2013): 75 people, 1,139 pairs and
// 14,037 contacts once records of a pair at most 20 s apart are merged.
// On PostgreSQL, contacts, chain (both ways) and clusters over the Gowalla
// scans and a handful of symptom reports must give what independent SQL
// over the ledger's own events table gives.
func checkContactQueries(t *testing.T, l ledger) {
	var stats projections.ContactStats
	runJSON(t, l, &stats, "contacts", "stats", "--json")
	if want := (projections.ContactStats{People: 75, Pairs: 1139, Episodes: 14037, SensorRecords: 32424}); stats != want {
		t.Errorf("contacts stats: %+v, want %+v", stats, want)
	}

	file := filepath.Join("..", "..", "..", "shared", "data", "checkins", "gowalla_nyc_checkins.tsv.gz")
	person := func(user string) string { return datasetID(datasetName("gowalla", file), "person", user).String() }
	var lines []string
	for _, c := range gowallaCases {
		lines = append(lines, fmt.Sprintf(`{"command":"report_symptoms","at":%q,"person_id":%q,"symptoms":["fever"],"onset":%q,"source":"clinic"}`,
			c.at, person(c.user), c.onset))
	}
	reports := filepath.Join(t.TempDir(), "reports.jsonl")
	os.WriteFile(reports, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	if code, out, errs := l.run(t, "import", reports); code != 0 {
		t.Fatalf("import of the symptom reports: %d %q %q", code, out, errs)
	}

	root := person("1546")
	var contacts []projections.Exposure
	runJSON(t, l, &contacts, "contacts", root, "--json")
	var down, up projections.Chain
	runJSON(t, l, &down, "chain", root, "--depth", "3", "--json")
	runJSON(t, l, &up, "chain", root, "--depth", "3", "--upstream", "--json")
	var clusters []projections.Cluster
	runJSON(t, l, &clusters, "clusters", "--json")
	if len(contacts) < 100 || len(down.Nodes) < 20 || len(up.Nodes) < 20 || len(clusters) < 3 {
		t.Fatalf("too little to compare: %d contacts, chains of %d and %d, %d clusters", len(contacts), len(down.Nodes), len(up.Nodes), len(clusters))
	}
	url := ""
	for i, a := range l.args {
		if a == "--database-url" {
			url = l.args[i+1]
		}
	}
	if url == "" {
		return // the SQL below is PostgreSQL's
	}
	ctx := context.Background()
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	query := func(sql string, args ...any) []string {
		t.Helper()
		rows, err := db.Query(ctx, sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			vals, err := r.Values()
			var f []string
			for _, v := range vals {
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC().Format(time.RFC3339)
				}
				f = append(f, fmt.Sprint(v))
			}
			return strings.Join(f, " "), err
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	// Admitted scans of persons, and every pair of them at one venue at
	// most 30 minutes apart, at the later scan's time.
	const scans = `scans AS (
		SELECT payload->'subject'->>'person_id' AS person, payload->>'checkpoint_id' AS cp, occurred_at AS at
		FROM events
		WHERE type = 'ScanRecorded' AND (payload->>'admitted')::boolean AND payload->'subject'->>'kind' = 'person'
	), exposures AS (
		SELECT a.person AS p, b.person AS q, greatest(a.at, b.at) AS at, a.cp
		FROM scans a JOIN scans b ON a.cp = b.cp AND a.person <> b.person
			AND b.at BETWEEN a.at - interval '30 minutes' AND a.at + interval '30 minutes'
	)`

	var got []string
	for _, e := range contacts {
		got = append(got, fmt.Sprintf("%s %s %s", e.Other, e.Place.CheckpointID, e.At.UTC().Format(time.RFC3339)))
	}
	slices.Sort(got)
	compare(t, "contacts of user 1546", got, query(`WITH `+scans+` SELECT q, cp, at FROM exposures WHERE p = $1`, root))

	// Time-respecting paths, 3 exposures deep: each next exposure at or
	// after the one before (upstream: at or before); per person the
	// fewest exposures and the earliest (upstream: latest) arrival.
	for _, ch := range []struct {
		name  string
		chain projections.Chain
		sql   string
	}{
		{"downstream chain", down, `WITH RECURSIVE ` + scans + `, chain(person, at, depth) AS (
			SELECT $1::text, '-infinity'::timestamptz, 0
			UNION
			SELECT e.q, e.at, c.depth + 1 FROM chain c JOIN exposures e ON e.p = c.person AND e.at >= c.at WHERE c.depth < 3
		) SELECT person, min(depth), min(at) FROM chain WHERE person <> $1 GROUP BY person`},
		{"upstream chain", up, `WITH RECURSIVE ` + scans + `, chain(person, at, depth) AS (
			SELECT $1::text, 'infinity'::timestamptz, 0
			UNION
			SELECT e.q, e.at, c.depth + 1 FROM chain c JOIN exposures e ON e.p = c.person AND e.at <= c.at WHERE c.depth < 3
		) SELECT person, min(depth), max(at) FROM chain WHERE person <> $1 GROUP BY person`},
	} {
		var got []string
		for _, n := range ch.chain.Nodes[1:] {
			got = append(got, fmt.Sprintf("%s %d %s", n.Person, n.Depth, n.At.UTC().Format(time.RFC3339)))
		}
		slices.Sort(got)
		compare(t, ch.name, got, query(ch.sql, root))
	}

	// Clusters: the cases' scans in their infectious windows (from 48 h
	// before the onset day, Asia/Shanghai, to 14 days after the report),
	// grouped per venue while consecutive ones are at most 30 minutes
	// apart; groups of two or more cases, with everyone else scanned
	// within 30 minutes of one of their visits.
	got = nil
	for _, c := range clusters {
		var cases []string
		for _, k := range c.Cases {
			cases = append(cases, k.Person.String())
		}
		var exposed []string
		for _, p := range c.Exposed {
			exposed = append(exposed, p.String())
		}
		slices.Sort(cases)
		slices.Sort(exposed)
		got = append(got, fmt.Sprintf("%s %s %s %s %s", c.Place.CheckpointID, c.From.UTC().Format(time.RFC3339), c.To.UTC().Format(time.RFC3339),
			strings.Join(cases, ","), strings.Join(exposed, ",")))
	}
	slices.Sort(got)
	want := query(`WITH ` + scans + `, windows AS (
		SELECT payload->>'person_id' AS person,
			((payload->>'onset')::date::timestamp AT TIME ZONE 'Asia/Shanghai') - interval '48 hours' AS wfrom,
			occurred_at + interval '336 hours' AS wto
		FROM events WHERE type = 'SymptomsReported'
	), case_visits AS (
		SELECT DISTINCT s.cp, s.at, s.person FROM scans s JOIN windows w ON w.person = s.person AND s.at >= w.wfrom AND s.at < w.wto
	), marked AS (
		SELECT *, CASE WHEN at - lag(at) OVER (PARTITION BY cp ORDER BY at) <= interval '30 minutes' THEN 0 ELSE 1 END AS starts FROM case_visits
	), grouped AS (
		SELECT *, sum(starts) OVER (PARTITION BY cp ORDER BY at ROWS UNBOUNDED PRECEDING) AS g FROM marked
	), clusters AS (
		SELECT cp, g, min(at) AS cfrom, max(at) AS cto, array_agg(DISTINCT person) AS cases
		FROM grouped GROUP BY cp, g HAVING count(DISTINCT person) >= 2
	)
	SELECT c.cp, c.cfrom, c.cto, c.cases, coalesce((
		SELECT array_agg(DISTINCT s.person) FROM grouped v JOIN scans s ON s.cp = v.cp
			AND s.at BETWEEN v.at - interval '30 minutes' AND v.at + interval '30 minutes'
		WHERE v.cp = c.cp AND v.g = c.g AND NOT s.person = ANY(c.cases)), '{}')
	FROM clusters c`)
	for i, w := range want {
		// Arrays come back as [a b]: sort their members as the clusters' are.
		f := strings.SplitN(w, " [", 3)
		var parts []string
		for _, a := range f[1:] {
			m := strings.Fields(strings.TrimSuffix(strings.TrimSpace(a), "]"))
			slices.Sort(m)
			parts = append(parts, strings.Join(m, ","))
		}
		want[i] = f[0] + " " + strings.Join(parts, " ")
	}
	slices.Sort(want)
	compare(t, "clusters", got, want)
}

// runJSON runs a command that prints JSON and decodes it into v.
func runJSON(t *testing.T, l ledger, v any, args ...string) {
	t.Helper()
	code, out, errs := l.run(t, args...)
	if code != 0 {
		t.Fatalf("%s: %d %q", strings.Join(args, " "), code, errs)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%s: %v in %.300q", strings.Join(args, " "), err, out)
	}
}

// compare reports the lines only one side has.
func compare(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		t.Logf("%s: %d rows agree with SQL", what, len(got))
		return
	}
	only := func(a, b []string) []string {
		var out []string
		for _, x := range a {
			if _, ok := slices.BinarySearch(b, x); !ok {
				out = append(out, x)
			}
		}
		return out[:min(len(out), 5)]
	}
	t.Errorf("%s: %d rows, SQL %d; only ours: %q; only SQL's: %q", what, len(got), len(want), only(got, want), only(want, got))
}

// TestContactCommands runs the contact commands and their exports on a
// small town: a is confirmed; b was scanned 20 minutes after a, c 30
// minutes after b, at one subway gate.
func TestContactCommands(t *testing.T) {
	const (
		a  = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
		b  = "7a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8d"
		c  = "8b3c4d5e-6f7a-4b2c-8d3e-4f5a6b7c8d9e"
		cp = "9c4d5e6f-7a8b-4c3d-9e4f-5a6b7c8d9eaf"
	)
	var lines []string
	for _, p := range []string{a, b, c} {
		lines = append(lines, fmt.Sprintf(`{"command":"register_person","at":"2020-03-01T09:00:00+08:00","person_id":%q,"document":{"type":"passport","number":%q,"country":"CN"},"name":"P","nationality":"CN"}`, p, "E"+p[:8]))
	}
	lines = append(lines, `{"command":"register_checkpoint","at":"2020-02-01T08:00:00+08:00","checkpoint_id":"`+cp+`","name":"People's Square, gate 3","kind":"subway","district":"Huangpu","admits":["green"]}`)
	for p, at := range map[string]string{a: "10:00", b: "10:20", c: "10:50"} {
		lines = append(lines, fmt.Sprintf(`{"command":"record_scan","at":"2020-03-02T%s:00+08:00","checkpoint_id":%q,"person_id":%q,"method":"imported"}`, at, cp, p))
	}
	lines = append(lines, `{"command":"record_diagnosis","at":"2020-03-03T11:00:00+08:00","person_id":"`+a+`","result":"confirmed"}`)
	dir := t.TempDir()
	file := filepath.Join(dir, "town.jsonl")
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	policy := filepath.Join(dir, "narrow.json")
	os.WriteFile(policy, []byte(`{"contact_window": "15m"}`), 0o600)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"contact_window": "soon"}`), 0o600)

	ledgers(t, func(t *testing.T, l ledger) {
		if code, out, errs := l.run(t, "import", file); code != 0 {
			t.Fatalf("import: %d %q %q", code, out, errs)
		}
		code, out, _ := l.run(t, "contacts", b)
		if code != 0 || !strings.Contains(out, a+"  checkpoint at People's Square, gate 3, scans 20m0s apart; infectious: "+a+"; caused "+b+" Y1") ||
			!strings.Contains(out, c+"  checkpoint at People's Square, gate 3, scans 30m0s apart") || !strings.Contains(out, "2 exposures") {
			t.Errorf("contacts b: %d %q", code, out)
		}
		code, out, _ = l.run(t, "chain", a, "--depth", "2", "--format", "dot")
		if code != 0 || !strings.HasPrefix(out, "digraph chain {") || !strings.Contains(out, fmt.Sprintf("%q -> %q", a, b)) ||
			!strings.Contains(out, fmt.Sprintf("%q -> %q", b, c)) || !strings.Contains(out, `depth 2\n2020-03-02T02:50:00Z`) {
			t.Errorf("chain --format dot: %d %q", code, out)
		}
		code, out, _ = l.run(t, "chain", a, "--depth", "2", "--format", "graphml")
		var g struct {
			Nodes []struct {
				ID string `xml:"id,attr"`
			} `xml:"graph>node"`
			Edges []struct {
				Source string `xml:"source,attr"`
				Target string `xml:"target,attr"`
			} `xml:"graph>edge"`
		}
		if err := xml.Unmarshal([]byte(out), &g); code != 0 || err != nil || len(g.Nodes) != 3 || len(g.Edges) != 2 || g.Edges[1].Source != b || g.Edges[1].Target != c {
			t.Errorf("chain --format graphml: %d %v %q", code, err, out)
		}
		code, out, _ = l.run(t, "chain", c, "--depth", "2", "--upstream", "--format", "csv")
		if rows := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(rows) != 3 || rows[0] != "from,to,depth,at,source,checkpoint_id,checkpoint" ||
			!strings.HasPrefix(rows[1], b+","+c+",1,") || !strings.HasPrefix(rows[2], a+","+b+",2,") {
			t.Errorf("chain --upstream --format csv: %d %q", code, out)
		}
		var w projections.WhatIf
		runJSON(t, l, &w, "whatif", "--policy", policy, "--at", "2020-03-03T00:00:00+08:00", "--json")
		if w.Changed != 1 || len(w.ByRule) != 1 || w.ByRule[0].Examples[0].Person.String() != b || w.Transitions["yellow→green"] != 1 {
			t.Errorf("whatif: %+v", w)
		}
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"chain", a}, exitUsage, "--depth must be 1 or more"},
			{[]string{"contacts", "someone"}, exitFailed, `"someone" is not a person id`},
			{[]string{"chain", "1f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "--depth", "2"}, exitFailed, "no event of the ledger names person 1f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"},
			{[]string{"clusters", "--from", "2020-03-05T00:00:00Z", "--to", "2020-03-04T00:00:00Z"}, exitUsage, "--to must be after --from"},
			{[]string{"chain", a, "--depth", "1", "--format", "png"}, exitUsage, `--format "png" is not one of text, json, csv, dot, graphml`},
			{[]string{"whatif"}, exitUsage, "--policy FILE.json is required"},
			{[]string{"whatif", "--policy", bad}, exitFailed, `contact_window`},
		} {
			if code, _, errs := l.run(t, tc.args...); code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("%v: %d %q, want %d and %q", tc.args, code, errs, tc.code, tc.want)
			}
		}
	})
}
