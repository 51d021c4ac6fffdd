package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riskledger/riskledger/domain"
)

func init() {
	register("import-checkins", &command{
		summary: "import venue check-ins (Gowalla, Foursquare) as persons, checkpoints and imported scans",
		usage:   "--format gowalla|foursquare FILE",
		flags: func(fs *flag.FlagSet) {
			fs.String("format", "", "gowalla (user, time, lat, lon, venue; venue names from gowalla_*_venues.csv.gz beside FILE) or foursquare")
		},
		run: runImportCheckins,
	})
}

// checkin is one row: a user at a venue at a time.
type checkin struct {
	line        int
	user, venue string
	at          time.Time
	category    string // Foursquare's venue category and its top level
	level1      string
}

func readGowalla(r io.Reader) ([]checkin, error) {
	var out []checkin
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 5 {
			return nil, domain.Errorf(domain.Invalid, "line %d: want user, time, lat, lon, venue separated by tabs", line)
		}
		at, err := time.Parse(time.RFC3339, f[1])
		if err != nil {
			return nil, domain.Errorf(domain.Invalid, "line %d: time %q is not RFC 3339", line, f[1])
		}
		out = append(out, checkin{line: line, user: f[0], venue: f[4], at: at})
	}
	return out, sc.Err()
}

func readFoursquare(r io.Reader) ([]checkin, error) {
	var out []checkin
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		if line == 1 {
			continue // the header
		}
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 10 {
			return nil, domain.Errorf(domain.Invalid, "line %d: want the subset's 15 tab-separated columns", line)
		}
		us, err := strconv.ParseInt(f[7], 10, 64)
		if err != nil {
			return nil, domain.Errorf(domain.Invalid, "line %d: utc_time %q is not microseconds since 1970", line, f[7])
		}
		out = append(out, checkin{line: line, user: f[0], venue: f[1], at: time.UnixMicro(us).UTC(), category: f[3], level1: f[9]})
	}
	return out, sc.Err()
}

// readVenueNames reads `id \t name \t lat \t lon` lines.
func readVenueNames(path string) (map[string]string, error) {
	r, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	names := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if f := strings.Split(sc.Text(), "\t"); len(f) >= 2 && strings.TrimSpace(f[1]) != "" {
			names[f[0]] = strings.TrimSpace(f[1])
		}
	}
	return names, sc.Err()
}

// kindOf maps a venue category to a checkpoint kind where one fits.
func kindOf(category, level1 string) string {
	c := strings.ToLower(category)
	switch {
	case strings.Contains(c, "subway") || strings.Contains(c, "metro") || strings.Contains(c, "train station"):
		return "subway"
	case strings.Contains(c, "bus"):
		return "bus"
	case strings.Contains(c, "park") && !strings.Contains(c, "parking"):
		return "park"
	case strings.Contains(c, "supermarket") || strings.Contains(c, "grocery"):
		return "supermarket"
	case strings.Contains(c, "hospital") || strings.Contains(c, "medical"):
		return "hospital"
	case strings.Contains(c, "office"):
		return "office"
	case strings.Contains(c, "residential") || strings.Contains(c, "housing"):
		return "housing_compound"
	case strings.Contains(c, "restaurant") || strings.Contains(c, "café") || strings.Contains(c, "cafe") || level1 == "Dining and Drinking":
		return "restaurant"
	}
	return "other"
}

func runImportCheckins(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if fs.NArg() != 1 {
		return &usageError{"give one FILE"}
	}
	format, path := flagString(fs, "format"), fs.Arg(0)
	var read func(io.Reader) ([]checkin, error)
	switch format {
	case "gowalla":
		read = readGowalla
	case "foursquare":
		read = readFoursquare
	default:
		return &usageError{fmt.Sprintf("--format %q is not known; use gowalla or foursquare", format)}
	}
	rows, err := readRecords(path, read)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return domain.Errorf(domain.Invalid, "%s has no check-ins", path)
	}
	names := map[string]string{}
	if format == "gowalla" {
		venues := filepath.Join(filepath.Dir(path), strings.Replace(filepath.Base(path), "_checkins.tsv", "_venues.csv", 1))
		if _, err := os.Stat(venues); err == nil && venues != path {
			if names, err = readVenueNames(venues); err != nil {
				return err
			}
		}
	}
	b, closeBulk, err := m.openBulk(ctx, "import-checkins")
	if err != nil {
		return err
	}
	defer closeBulk()

	dataset := datasetName(format, path)
	slices.SortStableFunc(rows, func(a, b checkin) int { return a.at.Compare(b.at) })
	first := rows[0].at.Add(-time.Second).Format(time.RFC3339)
	venueRow := map[string]checkin{}
	for _, c := range rows {
		if _, ok := venueRow[c.venue]; !ok {
			venueRow[c.venue] = c
		}
	}
	venues := firstSeen(func(yield func(string) bool) {
		for _, c := range rows {
			if !yield(c.venue) {
				return
			}
		}
	})
	users := firstSeen(func(yield func(string) bool) {
		for _, c := range rows {
			if !yield(c.user) {
				return
			}
		}
	})
	persons, err := b.registerPeople(ctx, dataset, "user", first, users)
	if err != nil {
		return err
	}
	checkpoints, err := b.run(ctx, len(venues), func(i int) (string, string) {
		v := venues[i]
		c := venueRow[v]
		name := names[v]
		if name == "" {
			name = c.category
		}
		if name == "" {
			name = "venue " + v
		}
		line, _ := json.Marshal(map[string]any{
			"id": dataset + ":checkpoint:" + v, "command": "register_checkpoint", "at": first,
			"checkpoint_id": datasetID(dataset, "checkpoint", v), "name": name, "kind": kindOf(c.category, c.level1), "district": dataset,
		})
		return string(line), "venue " + v
	})
	if err != nil {
		return err
	}
	// In time order; an exact duplicate row is the same content, so one fact.
	scans, err := b.run(ctx, len(rows), func(i int) (string, string) {
		c := rows[i]
		line, _ := json.Marshal(map[string]any{
			"command": "record_scan", "at": c.at.Format(time.RFC3339Nano), "method": "imported",
			"checkpoint_id": datasetID(dataset, "checkpoint", c.venue), "person_id": datasetID(dataset, "person", c.user),
		})
		return string(line), fmt.Sprintf("line %d", c.line)
	})
	fmt.Fprintf(m.Stdout, "%s: %d rows; %d persons, %d checkpoints, %d scans recorded, %d already present\n",
		path, len(rows), persons.appended, checkpoints.appended, scans.appended, persons.present+checkpoints.present+scans.present)
	return err
}
