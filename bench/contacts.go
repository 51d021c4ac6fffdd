package main

// Comparison k: the contact queries (issue "contacts", c2) on a simulated
// city (100,000 people, 14 days) in a PostgreSQL ledger, against SQL over
// tables of the same scans in the same database:
//
//	k1  the index the CLI builds: catch-up (load), JudgeAll, NewContacts;
//	k2  `contacts` of one person over the city's days: Contacts.Of vs an
//	    indexed self-join of the scans (prepared, every row read). Target:
//	    ours p99 ≤ 0.6 ms;
//	k3  `chain --depth 3` downstream, time-respecting: Contacts.ChainOf vs
//	    a recursive CTE whose recursive term walks the indexes through a
//	    LATERAL join. Target: ours p99 ≤ half the SQL's;
//	k4  `whatif` over the whole ledger (RunWhatIf), and load + whatif as
//	    the CLI runs it. Target: ≤ 60 s.
//
// Both sides answer the same question over the same facts: the checks
// compare, for the first persons of each sample, the exposures (other
// person and time) and the persons a chain reaches (with their depth and
// earliest time), and the run fails if they differ. Ours also reads the
// reported contacts (interviews), so the SQL reads them too, from a table
// of its own.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/projections"
	"github.com/riskledger/riskledger/simulate"
)

const (
	contactsBegin = "<!-- BEGIN CONTACTS GENERATED: written by `go run ./bench --only k`; everything from here to END CONTACTS GENERATED is replaced on each run -->"
	contactsEnd   = "<!-- END CONTACTS GENERATED -->"

	contactsOfSample    = 1000 // persons whose contacts k2 times
	contactsOfChecked   = 20   // of which the first are checked against the SQL
	contactsChainSample = 200  // persons whose chains k3 times
	contactsChainCheck  = 10   // of which the first are checked against the SQL
	contactsChainDepth  = 3
	contactsWhatIfLimit = 60 * time.Second
	contactsOfLimit     = 600 * time.Microsecond
)

// contactsRun is what k measured.
type contactsRun struct {
	people, days     int
	from, to         time.Time
	events           int64
	importDur        time.Duration
	load, judge, ncs time.Duration // catch-up, JudgeAll, NewContacts
	persons          int           // persons in the index
	visits           int64         // admitted scans of persons in the index
	heap             uint64
	scans, reported  int64 // rows of the SQL's tables
	tablesDur        time.Duration
	tablesSize       int64
	window           time.Duration
	workMem          string

	ofOurs, ofSQL []time.Duration
	ofExposures   []int // ours, per person
	ofChecked     int
	ofExplain     string
	chOurs        []time.Duration
	chReached     []int   // ours, per person
	cte, levels   sqlSide // the recursive CTE; the SQL one level at a time
	chChecked3    int     // check persons equal to the SQL by levels at the full depth
	chChecked2    int     // check persons equal to the recursive CTE at depth 2
	chCheckOut    int     // check queries that timed out
	whatifs       []whatIfRun
}

// sqlSide is one SQL formulation of k3.
type sqlSide struct {
	lat      []time.Duration // per query run; a timeout counts as the timeout
	reached  []int           // per query that finished
	ours     []int           // ours' persons reached, for the same persons
	same     int             // queries that finished reaching as many persons as ours
	timeouts int
	spent    time.Duration
}

type whatIfRun struct {
	label       string
	load, dur   time.Duration // load: the catch-up before it (end to end only)
	persons     int
	changed     int
	transitions map[string]int
}

// contactsCity is the period the city covers: from its first day's start
// to its last day's end, in the city's zone.
func contactsCity(days int, loc *time.Location) (from, to time.Time) {
	from = simulate.Config{}.FirstDay().Start(loc)
	return from, from.AddDate(0, 0, days)
}

func (b *bench) runContacts(ctx context.Context) error {
	if !b.pgOK {
		return writeSection(b.cfg.out, contactsBegin, contactsEnd, fmt.Sprintf("%s\n\n## Contact queries\n\nNot run: %s\n\n%s\n",
			contactsBegin, b.pgWhy, contactsEnd))
	}
	run := &contactsRun{people: b.cfg.kPeople, days: b.cfg.kDays}
	// The city's commands and the index are held at once for a while.
	debug.SetMemoryLimit(12 << 30)
	loc, err := time.LoadLocation(simulate.DefaultZone)
	if err != nil {
		return err
	}
	run.from, run.to = contactsCity(run.days, loc)
	params := domain.DefaultPolicyParams()
	if len(params.ContactWindowByKind) > 0 {
		return fmt.Errorf("(k) the default policy has contact windows by kind; the SQL reads one window")
	}
	run.window = params.ContactWindow

	cmds, err := cityCommands(run.people, run.days)
	if err != nil {
		return err
	}
	log.Printf("(k) a city of %d people over %d days: %d commands", run.people, run.days, len(cmds))
	l, err := b.openCity(ctx, "PostgreSQL")
	if err != nil {
		return err
	}
	defer l.close()
	l.h.SetColours(&projections.View{Store: l.store, Colours: projections.NewColours(loc)})
	start := time.Now()
	if err := execute(ctx, l.h, cmds); err != nil {
		return err
	}
	run.importDur = time.Since(start)
	cmds = nil
	hd, err := l.store.Head(ctx)
	if err != nil {
		return err
	}
	run.events = hd.Position
	log.Printf("(k) imported: %d events in %s", run.events, run.importDur.Round(time.Second))
	l.h.SetColours(nil)

	// k1: the index, as `riskledger contacts` builds it.
	runtime.GC()
	start = time.Now()
	c := projections.NewColours(loc)
	if err := (&projections.Runner{Store: l.store, Colours: c}).CatchUp(ctx); err != nil {
		return err
	}
	run.load = time.Since(start)
	ix := c.Index()
	start = time.Now()
	j := ix.JudgeAll()
	run.judge = time.Since(start)
	start = time.Now()
	cs := projections.NewContacts(ix, j)
	run.ncs = time.Since(start)
	_, run.visits = ix.VisitBytes()
	run.persons = len(j.Persons())
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	run.heap = ms.HeapInuse
	log.Printf("(k) load %s, JudgeAll %s, NewContacts %s; %d persons, %d admitted scans; heap %s", run.load.Round(time.Millisecond),
		run.judge.Round(time.Millisecond), run.ncs.Round(time.Millisecond), run.persons, run.visits, fmtBytes(int64(run.heap)))

	conn, err := pgx.Connect(ctx, l.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := contactsTables(ctx, conn, run); err != nil {
		return err
	}
	if run.scans != run.visits {
		return fmt.Errorf("(k) the scans table has %d rows, the index %d admitted scans: the comparison would not be like for like", run.scans, run.visits)
	}
	persons, err := contactsPersons(ctx, conn)
	if err != nil {
		return err
	}
	if err := contactsOf(ctx, conn, cs, run, sample(persons, 1, contactsOfSample)); err != nil {
		return err
	}
	if err := contactsChain(ctx, conn, cs, run, sample(persons, 3, contactsChainSample), b.cfg); err != nil {
		return err
	}
	cs, j = nil, nil

	// k4: whatif over the index already loaded, then load + whatif.
	at := run.to.Add(-12 * time.Hour) // the last day's noon
	narrow := params
	narrow.ContactWindow = 15 * time.Minute
	short := params
	short.Observation = 7 * 24 * time.Hour
	for _, w := range []struct {
		label string
		p     domain.PolicyParams
	}{{"contact window 15 min", narrow}, {"observation 7 days", short}} {
		runtime.GC()
		run.whatifs = append(run.whatifs, timeWhatIf(w.label, ix, w.p, at))
	}
	c, ix = nil, nil
	runtime.GC()
	debug.FreeOSMemory()
	start = time.Now()
	c = projections.NewColours(loc)
	if err := (&projections.Runner{Store: l.store, Colours: c}).CatchUp(ctx); err != nil {
		return err
	}
	e2e := timeWhatIf("load + whatif, contact window 15 min (as the CLI runs it)", c.Index(), narrow, at)
	e2e.load = time.Since(start) - e2e.dur
	run.whatifs = append(run.whatifs, e2e)
	return writeSection(b.cfg.out, contactsBegin, contactsEnd, b.contactsMarkdown(run))
}

func timeWhatIf(label string, ix *projections.Index, p domain.PolicyParams, at time.Time) whatIfRun {
	start := time.Now()
	w := projections.RunWhatIf(ix, p, at, 3)
	r := whatIfRun{label: label, dur: time.Since(start), persons: w.Persons, changed: w.Changed, transitions: w.Transitions}
	log.Printf("(k) whatif %s: %s, %d of %d persons change", label, r.dur.Round(time.Millisecond), r.changed, r.persons)
	return r
}

// contactsTables builds the baseline's tables from the events table.
func contactsTables(ctx context.Context, conn *pgx.Conn, run *contactsRun) error {
	start := time.Now()
	for _, q := range []string{
		`CREATE TABLE scans AS
		SELECT (payload->'subject'->>'person_id')::uuid AS person, (payload->>'checkpoint_id')::uuid AS cp, occurred_at AS at
		FROM events
		WHERE type = 'ScanRecorded' AND (payload->>'admitted')::boolean AND payload->'subject'->>'kind' = 'person'`,
		// Covering, so that both sides of the self-join are index-only
		// scans (the table is in ledger order: a checkpoint's scans lie on
		// as many heap pages as there are scans).
		`CREATE INDEX scans_cp_at ON scans (cp, at) INCLUDE (person)`,
		`CREATE INDEX scans_person_at ON scans (person, at) INCLUDE (cp)`,
		// The reported contacts, each way (the simulated city's are
		// interviews: one episode each, at its start).
		`CREATE TABLE reported AS
		WITH r AS (
			SELECT (payload->>'person_id')::uuid AS person, (payload->>'other_id')::uuid AS other, (payload->>'start')::timestamptz AS at
			FROM events WHERE type = 'ContactReported')
		SELECT person, other, at FROM r WHERE person <> other
		UNION ALL SELECT other, person, at FROM r WHERE person <> other`,
		`CREATE INDEX reported_person_at ON reported (person, at)`,
		`VACUUM ANALYZE scans`,
		`VACUUM ANALYZE reported`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("(k) %s: %w", strings.Fields(q)[0]+" "+strings.Fields(q)[1]+" "+strings.Fields(q)[2], err)
		}
	}
	run.tablesDur = time.Since(start)
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM scans), (SELECT count(*) FROM reported),
		pg_total_relation_size('scans') + pg_total_relation_size('reported')`).Scan(&run.scans, &run.reported, &run.tablesSize); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT current_setting('work_mem')`).Scan(&run.workMem); err != nil {
		return err
	}
	var sensors int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'ContactReported' AND payload->>'source' <> 'interview'`).Scan(&sensors); err != nil {
		return err
	}
	if sensors > 0 {
		return fmt.Errorf("(k) the ledger has %d reported contacts that are not interviews; the SQL does not merge sensor records", sensors)
	}
	var other int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM events WHERE type IN ('FactRetracted', 'PolicyPublished')`).Scan(&other); err != nil {
		return err
	}
	if other > 0 {
		return fmt.Errorf("(k) the ledger has %d retractions or policies; the SQL reads neither", other)
	}
	log.Printf("(k) the SQL's tables: %d scans, %d reported contacts (each way), %s, built in %s", run.scans, run.reported,
		fmtBytes(run.tablesSize), run.tablesDur.Round(time.Millisecond))
	return nil
}

// contactsPersons lists the persons who have scans, in id order.
func contactsPersons(ctx context.Context, conn *pgx.Conn) ([]domain.PersonID, error) {
	rows, err := conn.Query(ctx, `SELECT DISTINCT person::text FROM scans ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make([]domain.PersonID, 0, len(ids))
	for _, s := range ids {
		p, err := domain.ParsePersonID(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// sample shuffles persons with a fixed seed and takes the first n.
func sample(persons []domain.PersonID, seed uint64, n int) []domain.PersonID {
	s := slices.Clone(persons)
	rng := rand.New(rand.NewPCG(seed, seed+1))
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s[:min(n, len(s))]
}

func interval(d time.Duration) string {
	return fmt.Sprintf("interval '%d microseconds'", d.Microseconds())
}

// contactsOfSQL is the SQL of k2: p's exposures whose time (the later
// scan; a reported contact's start) is in [$2, $3).
func contactsOfSQL(w time.Duration) string {
	W := interval(w)
	return `SELECT b.person, b.cp, greatest(a.at, b.at)
	FROM scans a JOIN scans b ON b.cp = a.cp AND b.at BETWEEN a.at - ` + W + ` AND a.at + ` + W + ` AND b.person <> a.person
	WHERE a.person = $1 AND a.at >= $2::timestamptz - ` + W + ` AND a.at < $3
		AND greatest(a.at, b.at) >= $2 AND greatest(a.at, b.at) < $3
	UNION ALL
	SELECT r.other, NULL, r.at FROM reported r WHERE r.person = $1 AND r.at >= $2 AND r.at < $3`
}

// contactsExposures is the SQL of the exposures of c.person at or after
// c.at with their time in [$2, $3), as (q, at): the body of a LATERAL join.
func contactsExposures(W string) string {
	return `SELECT b.person AS q, greatest(a.at, b.at) AS at
			FROM scans a JOIN scans b ON b.cp = a.cp AND b.at BETWEEN a.at - ` + W + ` AND a.at + ` + W + ` AND b.person <> a.person
			WHERE a.person = c.person AND a.at >= c.at - ` + W + ` AND a.at >= $2::timestamptz - ` + W + ` AND a.at < $3
				AND greatest(a.at, b.at) >= c.at AND greatest(a.at, b.at) >= $2 AND greatest(a.at, b.at) < $3
			UNION ALL
			SELECT r.other, r.at FROM reported r WHERE r.person = c.person AND r.at >= c.at AND r.at >= $2 AND r.at < $3`
}

// contactsChainSQL is the SQL of k3 (the issue's): the persons a
// time-respecting chain from $1 reaches within the depth, each with the
// fewest exposures and the earliest time that reach them, as a recursive
// CTE over (person, at, depth) whose recursive term uses the indexes.
func contactsChainSQL(w time.Duration, depth int) string {
	return `WITH RECURSIVE chain(person, at, depth) AS (
		SELECT $1::uuid, '-infinity'::timestamptz, 0
		UNION
		SELECT e.q, e.at, c.depth + 1
		FROM chain c CROSS JOIN LATERAL (` + contactsExposures(interval(w)) + `) e
		WHERE c.depth < ` + fmt.Sprint(depth) + `
	)
	SELECT person, min(depth), min(at) FROM chain WHERE person <> $1 GROUP BY person`
}

// contactsLevelsSQL answers the same as contactsChainSQL one level at a
// time, keeping each person's earliest arrival at each level (a later
// arrival at the same level reaches no one an earlier one does not): the
// recursive CTE cannot aggregate, and walks every path.
func contactsLevelsSQL(w time.Duration, depth int) string {
	var sb strings.Builder
	sb.WriteString("WITH ")
	for d := 1; d <= depth; d++ {
		from := fmt.Sprintf("l%d c", d-1)
		if d == 1 {
			from = `(VALUES ($1::uuid, '-infinity'::timestamptz)) c(person, at)`
		}
		fmt.Fprintf(&sb, "l%d AS (SELECT e.q AS person, min(e.at) AS at FROM %s CROSS JOIN LATERAL (%s) e GROUP BY e.q),\n",
			d, from, contactsExposures(interval(w)))
	}
	s := strings.TrimSuffix(sb.String(), ",\n") + "\nSELECT person, min(depth), min(at) FROM ("
	for d := 1; d <= depth; d++ {
		if d > 1 {
			s += " UNION ALL "
		}
		s += fmt.Sprintf("SELECT person, %d AS depth, at FROM l%d", d, d)
	}
	return s + ") x WHERE person <> $1::uuid GROUP BY person"
}

// meetingKey is an exposure as both sides can tell it: the other person
// and the time.
type meetingKey struct {
	other [16]byte
	at    int64 // unix microseconds
}

func cmpMeeting(a, b meetingKey) int {
	return cmp.Or(slices.Compare(a.other[:], b.other[:]), cmp.Compare(a.at, b.at))
}

func contactsOfBoth(ctx context.Context, conn *pgx.Conn, cs *projections.Contacts, run *contactsRun, p domain.PersonID) (
	ours []projections.Exposure, sql []meetingKey, dOurs, dSQL time.Duration, err error) {
	t0 := time.Now()
	ours = cs.Of(p, run.from, run.to)
	dOurs = time.Since(t0)
	t1 := time.Now()
	rows, err := conn.Query(ctx, "of", [16]byte(p.UUID()), run.from, run.to)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	var k meetingKey
	var cp pgtype.UUID
	var at time.Time
	for rows.Next() {
		if err := rows.Scan(&k.other, &cp, &at); err != nil {
			rows.Close()
			return nil, nil, 0, 0, err
		}
		k.at = at.UnixMicro()
		sql = append(sql, k)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, 0, 0, err
	}
	dSQL = time.Since(t1)
	return ours, sql, dOurs, dSQL, nil
}

// contactsOf runs k2.
func contactsOf(ctx context.Context, conn *pgx.Conn, cs *projections.Contacts, run *contactsRun, persons []domain.PersonID) error {
	q := contactsOfSQL(run.window)
	if _, err := conn.Prepare(ctx, "of", q); err != nil {
		return fmt.Errorf("(k) prepare the contacts SQL: %w", err)
	}
	// Warm up both sides (the SQL's pages into the caches, ours into the
	// CPU's) over the whole sample, untimed, checking the first persons.
	for i, p := range persons {
		ours, sql, _, _, err := contactsOfBoth(ctx, conn, cs, run, p)
		if err != nil {
			return err
		}
		if i >= contactsOfChecked {
			continue
		}
		got := make([]meetingKey, 0, len(ours))
		for _, e := range ours {
			got = append(got, meetingKey{other: [16]byte(e.Other.UUID()), at: e.At.UnixMicro()})
		}
		slices.SortFunc(got, cmpMeeting)
		slices.SortFunc(sql, cmpMeeting)
		if !slices.Equal(got, sql) {
			return fmt.Errorf("(k) contacts of %s: ours %d exposures, the SQL %d, and they differ: the comparison is not like for like",
				p, len(got), len(sql))
		}
		run.ofChecked++
	}
	log.Printf("(k) contacts: the first %d persons' exposures equal the SQL's", run.ofChecked)
	for _, p := range persons {
		ours, _, dOurs, dSQL, err := contactsOfBoth(ctx, conn, cs, run, p)
		if err != nil {
			return err
		}
		run.ofOurs, run.ofSQL = append(run.ofOurs, dOurs), append(run.ofSQL, dSQL)
		run.ofExposures = append(run.ofExposures, len(ours))
	}
	// What the server spends on one query (the median person's).
	if len(persons) > 0 {
		mid := persons[len(persons)/2]
		rows, err := conn.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+q, [16]byte(mid.UUID()), run.from, run.to)
		if err == nil {
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err == nil {
				for _, l := range lines {
					if strings.HasPrefix(strings.TrimSpace(l), "Execution Time") || strings.HasPrefix(strings.TrimSpace(l), "Planning Time") {
						run.ofExplain += strings.TrimSpace(l) + "; "
					}
				}
			}
		}
		run.ofExplain = strings.TrimSuffix(run.ofExplain, "; ")
	}
	log.Printf("(k) contacts of %d persons: ours p50 %s p99 %s max %s; SQL p50 %s p99 %s max %s; exposures median %d",
		len(persons), percentile(run.ofOurs, 0.5), percentile(run.ofOurs, 0.99), slices.Max(run.ofOurs),
		percentile(run.ofSQL, 0.5), percentile(run.ofSQL, 0.99), slices.Max(run.ofSQL), medianInt(run.ofExposures))
	return nil
}

// chainKey is a person a chain reaches, with the fewest exposures and the
// earliest time that reach them.
type chainKey struct {
	person [16]byte
	depth  int
	at     int64 // unix microseconds
}

// chainSQL runs one prepared chain query; timedOut tells a query the
// statement_timeout cancelled.
func chainSQL(ctx context.Context, conn *pgx.Conn, name string, p domain.PersonID, run *contactsRun) (out []chainKey, d time.Duration, timedOut bool, err error) {
	start := time.Now()
	rows, err := conn.Query(ctx, name, [16]byte(p.UUID()), run.from, run.to)
	if err == nil {
		var k chainKey
		var at time.Time
		for rows.Next() {
			if err = rows.Scan(&k.person, &k.depth, &at); err != nil {
				break
			}
			k.at = at.UnixMicro()
			out = append(out, k)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	d = time.Since(start)
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "57014" {
		return nil, d, true, nil
	}
	if err != nil {
		return nil, d, false, fmt.Errorf("(k) %s chain of %s: %w", name, p, err)
	}
	byPerson := func(a, b chainKey) int { return slices.Compare(a.person[:], b.person[:]) }
	slices.SortFunc(out, byPerson)
	return out, d, false, nil
}

func (s *sqlSide) note(out []chainKey, d time.Duration, timedOut bool, timeout time.Duration, ours int) {
	if timedOut {
		s.timeouts++
		d = max(d, timeout)
	} else {
		s.reached, s.ours = append(s.reached, len(out)), append(s.ours, ours)
		if len(out) == ours {
			s.same++
		}
	}
	s.lat = append(s.lat, d)
	s.spent += d
}

// chainKeys is a chain's persons as chainSQL returns them.
func chainKeys(ch projections.Chain) []chainKey {
	out := make([]chainKey, 0, len(ch.Nodes))
	for _, n := range ch.Nodes[1:] {
		out = append(out, chainKey{person: [16]byte(n.Person.UUID()), depth: n.Depth, at: n.At.UnixMicro()})
	}
	slices.SortFunc(out, func(a, b chainKey) int { return slices.Compare(a.person[:], b.person[:]) })
	return out
}

// contactsChain runs k3: first the checks (untimed, with a longer
// timeout), then the timed queries.
func contactsChain(ctx context.Context, conn *pgx.Conn, cs *projections.Contacts, run *contactsRun, persons []domain.PersonID, cfg config) error {
	for name, q := range map[string]string{
		"cte":     contactsChainSQL(run.window, contactsChainDepth),
		"cte2":    contactsChainSQL(run.window, 2),
		"levels":  contactsLevelsSQL(run.window, contactsChainDepth),
		"levels2": contactsLevelsSQL(run.window, 2),
	} {
		if _, err := conn.Prepare(ctx, name, q); err != nil {
			return fmt.Errorf("(k) prepare the chain SQL %s: %w", name, err)
		}
	}
	setTimeout := func(d time.Duration) error {
		_, err := conn.Exec(ctx, fmt.Sprintf(`SET statement_timeout = %d`, d.Milliseconds()))
		return err
	}
	defer conn.Exec(context.Background(), `RESET statement_timeout`)

	// The checks: ours against the SQL by levels at the full depth, and
	// against both SQLs at depth 2 (the recursive CTE at the full depth
	// walks every path and takes too long to be a check).
	if err := setTimeout(cfg.kCheckTO); err != nil {
		return err
	}
	for _, p := range persons[:min(contactsChainCheck, len(persons))] {
		for _, c := range []struct {
			name  string
			depth int
			n     *int
		}{{"levels", contactsChainDepth, &run.chChecked3}, {"levels2", 2, nil}, {"cte2", 2, &run.chChecked2}} {
			want := chainKeys(cs.ChainOf(p, c.depth, false, run.from, run.to))
			got, _, timedOut, err := chainSQL(ctx, conn, c.name, p, run)
			if err != nil {
				return err
			}
			if timedOut {
				run.chCheckOut++
				log.Printf("(k) chain check of %s: the SQL %s timed out after %s", p, c.name, cfg.kCheckTO)
				continue
			}
			if !slices.Equal(want, got) {
				return fmt.Errorf("(k) chain of %s, depth %d: ours reaches %d persons, the SQL %s %d, and they differ (persons, depths or times): "+
					"the comparison is not like for like", p, c.depth, len(want), c.name, len(got))
			}
			if c.n != nil {
				*c.n++
			}
		}
	}
	log.Printf("(k) chains: %d persons equal to the SQL by levels at depth %d, %d to the recursive CTE at depth 2; %d check queries timed out",
		run.chChecked3, contactsChainDepth, run.chChecked2, run.chCheckOut)
	if run.chChecked3 == 0 || run.chChecked2 == 0 {
		return fmt.Errorf("(k) the chain checks could not run (the SQL timed out): raise --contacts-check-timeout")
	}

	// The timed queries.
	if err := setTimeout(cfg.kTimeout); err != nil {
		return err
	}
	for i, p := range persons {
		t0 := time.Now()
		ch := cs.ChainOf(p, contactsChainDepth, false, run.from, run.to)
		run.chOurs = append(run.chOurs, time.Since(t0))
		n := len(ch.Nodes) - 1
		run.chReached = append(run.chReached, n)
		for _, x := range []struct {
			name   string
			side   *sqlSide
			budget time.Duration
		}{{"levels", &run.levels, cfg.kSQLBudget}, {"cte", &run.cte, cfg.kCTEBudget}} {
			if x.side.spent >= x.budget {
				continue
			}
			out, d, timedOut, err := chainSQL(ctx, conn, x.name, p, run)
			if err != nil {
				return err
			}
			x.side.note(out, d, timedOut, cfg.kTimeout, n)
		}
		if (i+1)%20 == 0 {
			log.Printf("(k) chains: %d of %d persons; SQL by levels %d run (%d timed out), recursive CTE %d run (%d timed out)", i+1, len(persons),
				len(run.levels.lat), run.levels.timeouts, len(run.cte.lat), run.cte.timeouts)
		}
	}
	log.Printf("(k) chains of %d persons (depth %d): ours p50 %s p99 %s max %s, reached median %d", len(persons), contactsChainDepth,
		percentile(run.chOurs, 0.5), percentile(run.chOurs, 0.99), slices.Max(run.chOurs), medianInt(run.chReached))
	for _, x := range []struct {
		name string
		s    *sqlSide
	}{{"by levels", &run.levels}, {"recursive CTE", &run.cte}} {
		if len(x.s.lat) > 0 {
			log.Printf("(k) chains, SQL %s: %d run, p50 %s p99 %s max %s, %d timeouts, reached median %d (ours %d), as many as ours in %d of %d",
				x.name, len(x.s.lat), percentile(x.s.lat, 0.5), percentile(x.s.lat, 0.99), slices.Max(x.s.lat), x.s.timeouts, medianInt(x.s.reached),
				medianInt(x.s.ours), x.s.same, len(x.s.reached))
		}
	}
	return nil
}

func medianInt(v []int) int {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func (b *bench) contactsMarkdown(r *contactsRun) string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	m := b.rep.Machine
	p("%s\n\n## Contact queries on a simulated city of %s people over %d days (PostgreSQL)\n\n", contactsBegin, fmtInt(int64(r.people)), r.days)
	p("Command: `%s`  \nRun: %s UTC, %s in all; code %s.  \n", command(), b.started.UTC().Format("2006-01-02 15:04"),
		time.Since(b.started).Round(time.Second), codeVersion())
	p("Machine: %s, %d logical processors, %s; %s; load average at start %s, at the end %s.  \n", m.CPU, m.Processors, m.MemTotal, m.Go, m.Load, loadAverage())
	p("PostgreSQL: %s; %s, work_mem=%s.\n\n", m.PG, m.PGSettings, r.workMem)
	p("The city's commands (`simulate`, seed 1) went in through the batch path: %s events in %s. ", fmtInt(r.events), fmtDur(r.importDur))
	p("The index is built as `riskledger contacts` builds it (`Runner.CatchUp` of a `Colours` from position 0, then `JudgeAll`, then `NewContacts`). ")
	p("The baseline is SQL over two tables in the same database, built from the events table in %s (%s with their indexes): "+
		"`scans(person uuid, cp uuid, at timestamptz)`, the admitted scans of persons (%s rows; the index holds %s), indexed on (cp, at) including person and on (person, at) including cp, so that the self-join reads indexes only; "+
		"`reported(person, other, at)`, the reported contacts each way (%s rows, all interviews; ours reads them too), indexed on (person, at); then `VACUUM ANALYZE`. "+
		"The contact window is the default policy's %s. Queries ask over the city's days, [%s, %s). "+
		"The SQL is timed from the client (prepared statement, every row read), over a local connection; ours is a call in the process that holds the index.\n\n",
		fmtDur(r.tablesDur), fmtBytes(r.tablesSize), fmtInt(r.scans), fmtInt(r.visits), fmtInt(r.reported), r.window,
		r.from.Format(time.RFC3339), r.to.Format(time.RFC3339))

	p("| k1: the index | time |\n|---|---|\n")
	p("| load (catch-up of %s events) | %s |\n| JudgeAll (%s persons) | %s |\n| NewContacts | %s |\n| heap in use afterwards | %s |\n\n",
		fmtInt(r.events), fmtDur(r.load), fmtInt(int64(r.persons)), fmtDur(r.judge), fmtDur(r.ncs), fmtBytes(int64(r.heap)))

	p("**k2: `contacts` of one person over the %d days**, %d random persons with scans (seed 1), each timed once after an untimed pass over all of them. "+
		"SQL: the scans' self-join on (cp, at ± window), person ≠ person, plus the person's reported contacts. "+
		"Checked: the first %d persons' exposures (other person and time) are the same on both sides. Median exposures a person: %d (max %d). "+
		"`EXPLAIN ANALYZE` of the median person's query: %s.\n\n",
		r.days, len(r.ofOurs), r.ofChecked, medianInt(r.ofExposures), slices.Max(r.ofExposures), r.ofExplain)
	p("| | p50 | p99 | max | target | met |\n|---|---|---|---|---|---|\n")
	op99, sp99 := percentile(r.ofOurs, 0.99), percentile(r.ofSQL, 0.99)
	p("| ours: `Contacts.Of` | %s | %s | %s | p99 ≤ %s | %s |\n", fmtDur(percentile(r.ofOurs, 0.5)), fmtDur(op99), fmtDur(slices.Max(r.ofOurs)),
		fmtDur(contactsOfLimit), yesNo(op99 <= contactsOfLimit))
	p("| SQL: indexed self-join | %s | %s | %s | | |\n", fmtDur(percentile(r.ofSQL, 0.5)), fmtDur(sp99), fmtDur(slices.Max(r.ofSQL)))
	p("| SQL ÷ ours | %.1f× | %.1f× | | | |\n\n", ratioDur(percentile(r.ofSQL, 0.5), percentile(r.ofOurs, 0.5)), ratioDur(sp99, op99))

	cfg := b.cfg
	p("**k3: `chain --depth %d` downstream, time-respecting**, %d random persons with scans (seed 3); ours reached %s persons (median). "+
		"The issue's SQL is a recursive CTE of (person, at, depth) whose recursive term joins each row LATERAL to the person's scans from the window before its time "+
		"(scans on (person, at)), their co-present scans (scans on (cp, at)) at or after its time, and the person's reported contacts at or after its time; "+
		"then the fewest exposures and the earliest time for each person reached. A recursive term cannot aggregate, so it walks every time-respecting path "+
		"(every (person, time) a path arrives at is a row, and is walked on). A second SQL is timed too: the same joins one level at a time (`l1`, `l2`, `l3` CTEs), "+
		"keeping each person's earliest arrival at each level, which gives the same answer (a later arrival at a level reaches no one an earlier one does not).\n\n"+
		"Checked first, untimed, with a statement_timeout of %s: for the first %d persons, ours against the SQL by levels at depth %d (same persons, same fewest "+
		"exposures, same earliest times: %d equal), and ours against both SQLs at depth 2 (%d equal to the recursive CTE); %d check queries timed out. "+
		"Then timed, each SQL query with a statement_timeout of %s (a query that times out counts as %s, and the SQL's figures are then lower bounds): ours for every person; "+
		"the SQL by levels for the first persons until %s had been spent on it, the recursive CTE until %s had. "+
		"\"Reached\" compares each SQL with ours over the persons whose query finished.\n\n",
		contactsChainDepth, len(r.chOurs), fmtInt(int64(medianInt(r.chReached))), cfg.kCheckTO, min(contactsChainCheck, len(r.chOurs)), contactsChainDepth,
		r.chChecked3, r.chChecked2, r.chCheckOut, cfg.kTimeout, cfg.kTimeout, cfg.kSQLBudget, cfg.kCTEBudget)
	p("| | queries | p50 | p99 | max | timeouts | reached, median (ours) | as many as ours | SQL p99 ÷ ours | target: ours p99 ≤ ½ the SQL's | met |\n" +
		"|---|---|---|---|---|---|---|---|---|---|---|\n")
	cp99 := percentile(r.chOurs, 0.99)
	p("| ours: `Contacts.ChainOf` | %d | %s | %s | %s | | %s | | | | |\n", len(r.chOurs), fmtDur(percentile(r.chOurs, 0.5)), fmtDur(cp99),
		fmtDur(slices.Max(r.chOurs)), fmtInt(int64(medianInt(r.chReached))))
	for _, x := range []struct {
		name, target string
		s            sqlSide
	}{{"SQL: recursive CTE (the issue's)", "the issue's target", r.cte}, {"SQL: by levels", "shown, not the issue's", r.levels}} {
		if len(x.s.lat) == 0 {
			p("| %s | 0 | | | | | | | | | |\n", x.name)
			continue
		}
		bound := ""
		if x.s.timeouts > 0 {
			bound = "≥ "
		}
		sp99 := percentile(x.s.lat, 0.99)
		met := yesNo(2*cp99 <= sp99)
		if 2*cp99 > sp99 && x.s.timeouts > 0 {
			met = "undetermined (the SQL timed out)"
		}
		reached := "–"
		if len(x.s.reached) > 0 {
			reached = fmt.Sprintf("%s (%s)", fmtInt(int64(medianInt(x.s.reached))), fmtInt(int64(medianInt(x.s.ours))))
		}
		p("| %s | %d | %s%s | %s%s | %s%s | %d | %s | %d of %d | %s%.1f× | %s | %s |\n", x.name, len(x.s.lat), bound, fmtDur(percentile(x.s.lat, 0.5)),
			bound, fmtDur(sp99), bound, fmtDur(slices.Max(x.s.lat)), x.s.timeouts, reached, x.s.same, len(x.s.reached), bound, ratioDur(sp99, cp99), x.target, met)
	}
	p("\n")

	p("**k4: `whatif` over the whole ledger** (%s events), at the last day's noon (%s), 3 examples a rule: `RunWhatIf` judges every fact twice "+
		"(the ledger's policies and the hypothetical one, concurrently) and compares every person's colour. The first two rows run on the index of k1; "+
		"the last loads a fresh index first, as `riskledger whatif` does (the target is judged on the total).\n\n", fmtInt(r.events), r.to.Add(-12*time.Hour).Format(time.RFC3339))
	p("| policy | load | whatif | total | persons | changed | transitions | target | met |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, w := range r.whatifs {
		var tr []string
		for k, n := range w.transitions {
			tr = append(tr, fmt.Sprintf("%s %s", k, fmtInt(int64(n))))
		}
		slices.Sort(tr)
		load := "–"
		if w.load > 0 {
			load = fmtDur(w.load)
		}
		total := w.load + w.dur
		p("| %s | %s | %s | %s | %s | %s | %s | ≤ %s | %s |\n", w.label, load, fmtDur(w.dur), fmtDur(total), fmtInt(int64(w.persons)),
			fmtInt(int64(w.changed)), strings.Join(tr, ", "), fmtDur(contactsWhatIfLimit), yesNo(total <= contactsWhatIfLimit))
	}
	p("\n%s\n", contactsEnd)
	return sb.String()
}

func ratioDur(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}
