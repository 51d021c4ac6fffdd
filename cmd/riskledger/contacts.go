package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/projections"
)

func init() {
	rangeFlags := func(formats string) func(fs *flag.FlagSet) {
		return func(fs *flag.FlagSet) {
			fs.String("from", "", "count only what happened at or after this time (RFC 3339)")
			fs.String("to", "", "count only what happened before this time (RFC 3339)")
			fs.Bool("json", false, "print JSON (the same as --format json)")
			fs.String("format", "text", "the output: "+formats)
		}
	}
	register("contacts", &command{
		summary: "every exposure of a person: who, where, when, and whether it caused a yellow interval; `contacts stats` counts the reported contacts",
		usage:   "PERSON [--from T] [--to T] [--format text|json|csv] | stats [--json]",
		flags:   rangeFlags("text, json or csv"),
		run:     runContacts,
	})
	register("chain", &command{
		summary: "the contact graph from a person along time-respecting paths (--upstream: who could have infected them)",
		usage:   "PERSON --depth N [--upstream] [--from T] [--to T] [--format text|json|csv|dot|graphml]",
		flags: func(fs *flag.FlagSet) {
			rangeFlags("text, json, csv (the edges), dot (Graphviz) or graphml (Gephi)")(fs)
			fs.Int("depth", 0, "how many exposures deep to walk (1 or more)")
			fs.Bool("upstream", false, "walk backwards in time: who could have infected PERSON")
		},
		run: runChain,
	})
	register("clusters", &command{
		summary: "places where two or more index cases were in their infectious windows within the contact window, with who else was there",
		usage:   "[--from T] [--to T] [--format text|json|csv]",
		flags:   rangeFlags("text, json or csv"),
		run:     runClusters,
	})
	register("whatif", &command{
		summary: "replays the ledger under another policy, without touching the read models, and reports who would change colour, by rule",
		usage:   "--policy FILE.json [--at T] [--json]",
		flags: func(fs *flag.FlagSet) {
			fs.String("policy", "", "a JSON policy parameters object (DESIGN §3); fields left out keep version 1's values")
			fs.String("at", "", "the time whose colours are compared (RFC 3339; default: now)")
			fs.Int("examples", 3, "how many example persons to show for each rule")
			fs.Bool("json", false, "print JSON")
		},
		run: runWhatIf,
	})
}

// timeFlag reads an RFC 3339 time flag; empty gives the zero time.
func timeFlag(fs *flag.FlagSet, name string) (time.Time, error) {
	s := flagString(fs, name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &usageError{fmt.Sprintf("--%s %q is not an RFC 3339 time with an offset (like 2020-03-01T08:00:00+08:00)", name, s)}
	}
	return t, nil
}

// timeRange reads --from and --to.
func timeRange(fs *flag.FlagSet) (from, to time.Time, err error) {
	if from, err = timeFlag(fs, "from"); err != nil {
		return
	}
	if to, err = timeFlag(fs, "to"); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		err = &usageError{"--to must be after --from"}
	}
	return
}

// format reads --format (and --json) and checks it is one of allowed.
func format(fs *flag.FlagSet, allowed ...string) (string, error) {
	f := flagString(fs, "format")
	if flagBool(fs, "json") {
		f = "json"
	}
	for _, a := range allowed {
		if f == a {
			return f, nil
		}
	}
	return "", &usageError{fmt.Sprintf("--format %q is not one of %s", f, strings.Join(allowed, ", "))}
}

// loadIndex reads the whole ledger into a colour projection's index.
func (m *Main) loadIndex(ctx context.Context) (*projections.Index, error) {
	opts, err := m.parseOptions()
	if err != nil {
		return nil, err
	}
	store, _, err := m.openStore(ctx, true)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	c := projections.NewColours(opts.Location)
	if err := (&projections.Runner{Store: store, Colours: c}).CatchUp(ctx); err != nil {
		return nil, err
	}
	return c.Index(), nil
}

// loadContacts reads the ledger and judges it, for the contact queries;
// asked about persons, it checks the ledger knows them.
func (m *Main) loadContacts(ctx context.Context, persons ...domain.PersonID) (*projections.Contacts, error) {
	ix, err := m.loadIndex(ctx)
	if err != nil {
		return nil, err
	}
	cs := projections.NewContacts(ix, ix.JudgeAll())
	for _, p := range persons {
		if !cs.Knows(p) {
			return nil, domain.Errorf(domain.NotFound, "no event of the ledger names person %s; check the id", p)
		}
	}
	return cs, nil
}

// personArg reads the one PERSON argument.
func personArg(fs *flag.FlagSet) (domain.PersonID, error) {
	if fs.NArg() != 1 {
		return domain.PersonID{}, &usageError{"name one PERSON (a person id)"}
	}
	p, err := domain.ParsePersonID(fs.Arg(0))
	if err != nil {
		return p, domain.Errorf(domain.Invalid, "%q is not a person id: %v", fs.Arg(0), domain.ErrorMessage(err))
	}
	return p, nil
}

func runContacts(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if fs.NArg() == 1 && fs.Arg(0) == "stats" {
		cs, err := m.loadContacts(ctx)
		if err != nil {
			return err
		}
		s := cs.Stats()
		if flagBool(fs, "json") {
			return json.NewEncoder(m.Stdout).Encode(s)
		}
		fmt.Fprintln(m.Stdout, s)
		return nil
	}
	p, err := personArg(fs)
	if err != nil {
		return err
	}
	from, to, err := timeRange(fs)
	if err != nil {
		return err
	}
	f, err := format(fs, "text", "json", "csv")
	if err != nil {
		return err
	}
	cs, err := m.loadContacts(ctx, p)
	if err != nil {
		return err
	}
	es := cs.Of(p, from, to)
	switch f {
	case "json":
		return json.NewEncoder(m.Stdout).Encode(es)
	case "csv":
		return writeCSV(m.Stdout, []string{"person", "other", "foreign", "source", "checkpoint_id", "checkpoint", "at", "person_at", "other_at",
			"gap", "start", "end", "duration", "infectious", "yellow"}, len(es), func(i int) []string {
			e := es[i]
			var yellow []string
			for _, y := range e.Yellow {
				yellow = append(yellow, y.Person.String()+" "+y.Rule+" "+stamp(y.From)+" "+stamp(y.Until))
			}
			other, foreign := e.Other.String(), ""
			if e.Foreign != nil {
				other, foreign = "", e.Foreign.String()
			}
			return []string{e.Person.String(), other, foreign, e.Source, placeID(e.Place), placeName(e.Place), stamp(e.At),
				stampp(e.PersonAt), stampp(e.OtherAt), span(e.Gap), stampp(e.Start), stampp(e.End), span(e.Duration),
				ids(e.Infectious), strings.Join(yellow, ";")}
		})
	}
	for _, e := range es {
		fmt.Fprintln(m.Stdout, describeExposure(e))
	}
	fmt.Fprintf(m.Stdout, "%d exposures\n", len(es))
	return nil
}

func describeExposure(e projections.Exposure) string {
	var b strings.Builder
	if e.Foreign != nil {
		fmt.Fprintf(&b, "%s  %s (code of %s)  %s", stamp(e.At), e.Foreign.Pseudonym, e.Foreign.Issuer, e.Source)
	} else {
		fmt.Fprintf(&b, "%s  %s  %s", stamp(e.At), e.Other, e.Source)
	}
	if e.Place != nil {
		fmt.Fprintf(&b, " at %s, scans %s apart", placeName(e.Place), span(e.Gap))
	} else if e.Duration != nil {
		fmt.Fprintf(&b, " for %s", span(e.Duration))
	}
	if len(e.Infectious) > 0 {
		fmt.Fprintf(&b, "; infectious: %s", ids(e.Infectious))
	}
	for _, y := range e.Yellow {
		fmt.Fprintf(&b, "; caused %s %s from %s until %s", y.Person, y.Rule, stamp(y.From), stamp(y.Until))
	}
	return b.String()
}

func runChain(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	p, err := personArg(fs)
	if err != nil {
		return err
	}
	depth, _ := strconv.Atoi(flagString(fs, "depth"))
	if depth < 1 {
		return &usageError{"--depth must be 1 or more (how many exposures deep to walk)"}
	}
	from, to, err := timeRange(fs)
	if err != nil {
		return err
	}
	f, err := format(fs, "text", "json", "csv", "dot", "graphml")
	if err != nil {
		return err
	}
	cs, err := m.loadContacts(ctx, p)
	if err != nil {
		return err
	}
	ch := cs.ChainOf(p, depth, flagBool(fs, "upstream"), from, to)
	switch f {
	case "json":
		return json.NewEncoder(m.Stdout).Encode(ch)
	case "csv":
		return writeCSV(m.Stdout, []string{"from", "to", "depth", "at", "source", "checkpoint_id", "checkpoint"}, len(ch.Edges), func(i int) []string {
			e := ch.Edges[i]
			return []string{e.From.String(), e.To.String(), strconv.Itoa(e.Depth), stamp(e.At), e.Source, placeID(e.Place), placeName(e.Place)}
		})
	case "dot":
		return writeDOT(m.Stdout, ch)
	case "graphml":
		return writeGraphML(m.Stdout, ch)
	}
	way := "downstream"
	if ch.Upstream {
		way = "upstream"
	}
	fmt.Fprintf(m.Stdout, "%s of %s, %d deep: %d persons reached\n", way, p, depth, len(ch.Nodes)-1)
	for _, n := range ch.Nodes[1:] {
		fmt.Fprintf(m.Stdout, "  depth %d  %s  %s\n", n.Depth, stamp(*n.At), n.Person)
	}
	for _, e := range ch.Edges {
		where := e.Source
		if e.Place != nil {
			where += " at " + placeName(e.Place)
		}
		fmt.Fprintf(m.Stdout, "  %s → %s  %s  %s\n", e.From, e.To, stamp(e.At), where)
	}
	return nil
}

func runClusters(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if err := noArgs(fs); err != nil {
		return err
	}
	from, to, err := timeRange(fs)
	if err != nil {
		return err
	}
	f, err := format(fs, "text", "json", "csv")
	if err != nil {
		return err
	}
	cs, err := m.loadContacts(ctx)
	if err != nil {
		return err
	}
	cls := cs.Clusters(from, to)
	switch f {
	case "json":
		return json.NewEncoder(m.Stdout).Encode(cls)
	case "csv":
		return writeCSV(m.Stdout, []string{"checkpoint_id", "checkpoint", "kind", "from", "to", "cases", "exposed", "foreign"}, len(cls), func(i int) []string {
			c := cls[i]
			var cases []domain.PersonID
			for _, k := range c.Cases {
				cases = append(cases, k.Person)
			}
			return []string{placeID(c.Place), placeName(c.Place), c.Place.Kind.String(), stamp(c.From), stamp(c.To), ids(cases), ids(c.Exposed), foreigners(c.Foreign)}
		})
	}
	for _, c := range cls {
		fmt.Fprintf(m.Stdout, "%s  %s to %s: %d cases, %d exposed", placeName(c.Place), stamp(c.From), stamp(c.To), len(c.Cases), len(c.Exposed))
		if len(c.Foreign) > 0 {
			fmt.Fprintf(m.Stdout, " and %d holders of other regions' codes (%s)", len(c.Foreign), foreigners(c.Foreign))
		}
		fmt.Fprintln(m.Stdout)
		for _, k := range c.Cases {
			var at []string
			for _, v := range k.Visits {
				at = append(at, stamp(v))
			}
			fmt.Fprintf(m.Stdout, "  case %s at %s\n", k.Person, strings.Join(at, ", "))
		}
	}
	fmt.Fprintf(m.Stdout, "%d clusters\n", len(cls))
	return nil
}

func runWhatIf(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if err := noArgs(fs); err != nil {
		return err
	}
	path := flagString(fs, "policy")
	if path == "" {
		return &usageError{"--policy FILE.json is required: the policy parameters to replay the ledger under"}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return domain.Errorf(domain.Invalid, "cannot read the policy: %v", err)
	}
	params, err := domain.ParsePolicyParams(data)
	if err != nil {
		return domain.Errorf(domain.Invalid, "%s: %s", path, domain.ErrorMessage(err))
	}
	at, err := timeFlag(fs, "at")
	if err != nil {
		return err
	}
	if at.IsZero() {
		at = time.Now()
	}
	examples, _ := strconv.Atoi(flagString(fs, "examples"))
	ix, err := m.loadIndex(ctx)
	if err != nil {
		return err
	}
	w := projections.RunWhatIf(ix, params, at, max(examples, 0))
	if flagBool(fs, "json") {
		return json.NewEncoder(m.Stdout).Encode(w)
	}
	fmt.Fprintf(m.Stdout, "at %s, under %s: %d of %d persons change colour\n", stamp(w.At), path, w.Changed, w.Persons)
	for _, g := range w.ByRule {
		fmt.Fprintf(m.Stdout, "  %s %s→%s: %d persons\n", g.Rule, g.Live, g.WhatIf, g.Persons)
		for _, e := range g.Examples {
			now := strings.TrimPrefix(describeAnswer(e.Live), e.Person.String()+": ")
			would := strings.TrimPrefix(describeAnswer(e.WhatIf), e.Person.String()+": ")
			fmt.Fprintf(m.Stdout, "    e.g. %s: now %s; would be %s\n", e.Person, now, would)
		}
	}
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func stampp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return stamp(*t)
}

func span(s *projections.Span) string {
	if s == nil {
		return ""
	}
	return time.Duration(*s).String()
}

func placeID(p *projections.Place) string {
	if p == nil {
		return ""
	}
	return p.CheckpointID.String()
}

func placeName(p *projections.Place) string {
	if p == nil {
		return ""
	}
	if p.Name == "" {
		return p.CheckpointID.String()
	}
	return p.Name
}

// foreigners lists holders of other regions' codes as issuer/pseudonym.
func foreigners(fs []projections.Foreign) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, " ")
}

func ids(ps []domain.PersonID) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ";")
}

// writeCSV writes a header and n records.
func writeCSV(w io.Writer, header []string, n int, record func(i int) []string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	for i := range n {
		if err := cw.Write(record(i)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeDOT writes a chain as a Graphviz digraph: persons labelled with
// their depth, exposures with their time and place.
func writeDOT(w io.Writer, ch projections.Chain) error {
	var b strings.Builder
	b.WriteString("digraph chain {\n  rankdir=LR;\n")
	for _, n := range ch.Nodes {
		label := n.Person.String() + `\ndepth ` + strconv.Itoa(n.Depth)
		if n.At != nil {
			label += `\n` + stamp(*n.At)
		}
		fmt.Fprintf(&b, "  %q [label=%s];\n", n.Person.String(), dotString(label))
	}
	for _, e := range ch.Edges {
		label := stamp(e.At) + " " + e.Source
		if e.Place != nil {
			label += " " + placeName(e.Place)
		}
		fmt.Fprintf(&b, "  %q -> %q [label=%s];\n", e.From.String(), e.To.String(), dotString(label))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// dotString quotes s for DOT, leaving its \n escapes (line breaks in a
// label) as they are.
func dotString(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// writeGraphML writes a chain as GraphML, with the nodes' depth and time
// and the edges' time, source, depth and place as attributes.
func writeGraphML(w io.Writer, ch projections.Chain) error {
	type data struct {
		Key   string `xml:"key,attr"`
		Value string `xml:",chardata"`
	}
	type node struct {
		ID   string `xml:"id,attr"`
		Data []data `xml:"data"`
	}
	type edge struct {
		Source string `xml:"source,attr"`
		Target string `xml:"target,attr"`
		Data   []data `xml:"data"`
	}
	type key struct {
		ID   string `xml:"id,attr"`
		For  string `xml:"for,attr"`
		Name string `xml:"attr.name,attr"`
		Type string `xml:"attr.type,attr"`
	}
	type graph struct {
		EdgeDefault string `xml:"edgedefault,attr"`
		Nodes       []node `xml:"node"`
		Edges       []edge `xml:"edge"`
	}
	doc := struct {
		XMLName xml.Name `xml:"graphml"`
		NS      string   `xml:"xmlns,attr"`
		Keys    []key    `xml:"key"`
		Graph   graph    `xml:"graph"`
	}{NS: "http://graphml.graphdrawing.org/xmlns", Keys: []key{
		{"depth", "node", "depth", "int"}, {"at", "node", "at", "string"},
		{"edge_depth", "edge", "depth", "int"}, {"edge_at", "edge", "at", "string"},
		{"source", "edge", "source", "string"}, {"place", "edge", "place", "string"},
	}, Graph: graph{EdgeDefault: "directed"}}
	for _, n := range ch.Nodes {
		d := []data{{"depth", strconv.Itoa(n.Depth)}}
		if n.At != nil {
			d = append(d, data{"at", stamp(*n.At)})
		}
		doc.Graph.Nodes = append(doc.Graph.Nodes, node{ID: n.Person.String(), Data: d})
	}
	for _, e := range ch.Edges {
		doc.Graph.Edges = append(doc.Graph.Edges, edge{Source: e.From.String(), Target: e.To.String(), Data: []data{
			{"edge_depth", strconv.Itoa(e.Depth)}, {"edge_at", stamp(e.At)}, {"source", e.Source}, {"place", placeName(e.Place)}}})
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
