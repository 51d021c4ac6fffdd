package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
)

func init() {
	register("import-contacts", &command{
		summary: "import proximity-sensor contacts (SocioPatterns files) as persons and sensor contacts",
		usage:   "--format sociopatterns --start T FILE",
		flags: func(fs *flag.FlagSet) {
			fs.String("format", "", "the file's format: sociopatterns (`t i j ...` per line; t in seconds from --start)")
			fs.String("start", "", "the time t = 0 stands for (RFC 3339 with offset)")
		},
		run: runImportContacts,
	})
}

// sourceID is the UUIDv5 namespace of ids made for records of public data
// sets: the id of "dataset:kind:source id", so that a second import finds
// the same persons and other tools can compute them.
var sourceID = uuid.MustParse("3d0f4b1e-7a52-5c8e-9b61-2f7c4e8a1d05")

// datasetID is the deterministic id of a data set's record.
func datasetID(dataset, kind, id string) uuid.UUID {
	return uuid.NewSHA1(sourceID, []byte(dataset+":"+kind+":"+id))
}

// contactRecord is one sensor record: persons i and j were in contact in
// the 20 s ending at t.
type contactRecord struct {
	line int
	t    int64
	i, j string
}

func readSocioPatterns(r io.Reader) ([]contactRecord, error) {
	var out []contactRecord
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			return nil, domain.Errorf(domain.Invalid, "line %d: want `t i j ...`, got %q", line, sc.Text())
		}
		t, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || t < 0 {
			return nil, domain.Errorf(domain.Invalid, "line %d: t %q is not a number of seconds", line, f[0])
		}
		if f[1] == f[2] {
			return nil, domain.Errorf(domain.Invalid, "line %d: a person in contact with themselves (%s)", line, f[1])
		}
		out = append(out, contactRecord{line: line, t: t, i: f[1], j: f[2]})
	}
	return out, sc.Err()
}

// readRecords reads the records of a data file (gzipped or not) with read.
func readRecords[T any](path string, read func(io.Reader) ([]T, error)) ([]T, error) {
	r, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return read(r)
}

func openMaybeGzip(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, domain.Errorf(domain.Invalid, "cannot read %s: %v", path, err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, nil
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, domain.Errorf(domain.Invalid, "%s is not a gzip file: %v", path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{z, f}, nil
}

func runImportContacts(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if fs.NArg() != 1 {
		return &usageError{"give one FILE"}
	}
	if format := flagString(fs, "format"); format != "sociopatterns" {
		return &usageError{fmt.Sprintf("--format %q is not known; the one format is sociopatterns", format)}
	}
	start, err := time.Parse(time.RFC3339, flagString(fs, "start"))
	if err != nil {
		return &usageError{"--start must be a time in RFC 3339 with an offset, e.g. 2010-12-06T13:00:00+01:00"}
	}
	path := fs.Arg(0)
	records, err := readRecords(path, readSocioPatterns)
	if err != nil {
		return err
	}
	b, closeBulk, err := m.openBulk(ctx, "import-contacts")
	if err != nil {
		return err
	}
	defer closeBulk()
	dataset := datasetName("sociopatterns", path)
	people := firstSeen(func(yield func(string) bool) {
		for _, rec := range records {
			if !yield(rec.i) || !yield(rec.j) {
				return
			}
		}
	})
	sort.Strings(people)
	persons, err := b.registerPeople(ctx, dataset, "participant", start.Format(time.RFC3339), people)
	if err != nil {
		return err
	}
	// Exact duplicate records are one fact: the content is the key.
	contacts, err := b.run(ctx, len(records), func(i int) (string, string) {
		rec := records[i]
		end := start.Add(time.Duration(rec.t) * time.Second)
		line, _ := json.Marshal(map[string]any{
			"command": "report_contact", "at": end.Format(time.RFC3339), "source": "sensor",
			"person_id": datasetID(dataset, "person", rec.i), "other_id": datasetID(dataset, "person", rec.j),
			"end": end.Format(time.RFC3339),
		})
		return string(line), fmt.Sprintf("line %d", rec.line)
	})
	registered, recorded, present := persons.appended, contacts.appended, persons.present+contacts.present
	fmt.Fprintf(m.Stdout, "%s: %d records; %d persons registered, %d contacts recorded, %d already present\n",
		path, len(records), registered, recorded, present)
	return err
}
