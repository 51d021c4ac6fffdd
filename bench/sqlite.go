package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/sqlite"
)

// rawSyncEvery is how many records the raw file log writes between fsyncs.
const rawSyncEvery = 1000

func sqliteDescription(ctx context.Context, tmp, synchronous string) string {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(tmp, "version.db"))
	if err != nil {
		return "unknown: " + err.Error()
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&v); err != nil {
		return "unknown: " + err.Error()
	}
	return fmt.Sprintf("%s (modernc.org/sqlite, SQLite compiled to Go); the store runs journal_mode=WAL, synchronous=%s", v, synchronous)
}

// appendOurs runs our batched Append in the given mode.
func (b *bench) appendOurs(ctx context.Context, st eventstore.Store, mode string, start, n int64) (runResult, string, string, error) {
	if mode == "multi" {
		r, err := appendMulti(ctx, st, b.w, start, n, b.cfg.callSize, b.cfg.callsInFlt)
		return r, fmt.Sprintf("ours: Store.Append, %d events per call, %d calls in flight", b.cfg.callSize, b.cfg.callsInFlt),
			fmt.Sprintf("Append of %d events", b.cfg.callSize), err
	}
	r, err := appendSingles(ctx, st, b.w, start, n, b.cfg.workers)
	return r, fmt.Sprintf("ours: Store.Append, 1 event per call, %d goroutines", b.cfg.workers), "Append of 1 event", err
}

func modeID(id, mode string) string {
	if mode == "multi" {
		return id + " (multi)"
	}
	return id
}

// primaryMode is the mode whose ledgers (d) reads and --keep keeps.
func (b *bench) primaryMode() string {
	if b.cfg.mode == "multi" {
		return "multi"
	}
	return "single"
}

func (b *bench) compareB(ctx context.Context, mode string) *comparison {
	c := &comparison{ID: modeID("b", mode), Store: "SQLite", MinRatio: 0.25,
		Title: "N batched appends vs raw file append (fsync every 1,000 records)"}
	primary := mode == b.primaryMode()
	dir := filepath.Join(b.tmpRoot, "b-"+mode)
	if primary && b.cfg.keep != "" {
		dir = b.cfg.keep
		if fileExists(filepath.Join(dir, sqlite.FileName)) {
			c.Err = fmt.Errorf("%s already holds a ledger; give --keep an empty or new directory", dir)
			return c
		}
	}
	log.Printf("(%s) SQLite: appending %s events in %s", c.ID, fmtInt(b.cfg.n), dir)
	clk := &clock{}
	st, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, Now: clk.Now, Synchronous: b.cfg.synchronous})
	if err != nil {
		c.Err = err
		return c
	}
	resetPeak()
	clk.calls.Store(0)
	w0 := procWritten()
	res, label, latWhat, err := b.appendOurs(ctx, st, mode, 0, b.cfg.n)
	c.Ours = measurement{Label: label, Events: res.events, Dur: res.dur, Txns: clk.calls.Load(),
		PeakRSS: peakRSS(), MaxLoad: loadMax(), Lat: res.lat, LatWhat: latWhat, Written: procWritten() - w0}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.Err = err
		return c
	}
	c.Ours.Disk = dirSize(dir)
	if primary {
		b.sqlDir = dir
	}

	// The raw log lives beside the ledger, on the same filesystem.
	rawPath := filepath.Join(dir, "raw-baseline-"+randomSuffix()+".log")
	log.Printf("(%s) raw file: appending %s records to %s", c.ID, fmtInt(b.cfg.n), rawPath)
	resetPeak()
	w0 = procWritten()
	c.Base, err = rawFileAppend(ctx, rawPath, b.w, b.cfg.n, rawSyncEvery)
	os.Remove(rawPath)
	if err != nil {
		c.Err = err
		return c
	}
	c.Base.PeakRSS, c.Base.MaxLoad = peakRSS(), loadMax()
	c.Base.Written = procWritten() - w0
	c.Notes = append(c.Notes,
		fmt.Sprintf("The store runs SQLite in WAL mode with synchronous=%s: every transaction (batch) is fsynced before its Appends return. "+
			"The raw log fsyncs every %s records, so it makes %s fsyncs against our %s.",
			b.cfg.synchronous, fmtInt(rawSyncEvery), fmtInt(c.Base.Txns), fmtInt(c.Ours.Txns)),
		"The raw log writes each record with one write(2) on an O_APPEND os.File: the same envelope fields in a length-prefixed "+
			"binary encoding, including a UUIDv7, the stream version, the position and the SHA-256 hash chain, which it computes itself.")
	if db, err := openRawSQLite(filepath.Join(dir, sqlite.FileName)); err == nil {
		var mode string
		if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err == nil {
			c.Notes = append(c.Notes, fmt.Sprintf("journal_mode read back from the ledger file: %s. synchronous is a per-connection "+
				"setting that the store applies to each of its connections (%s); compare the one-transaction-per-event "+
				"latency in (c) with the disk's fsync latency above.", mode, b.cfg.synchronous))
		}
		db.Close()
	}
	if primary && b.cfg.verify {
		c.Notes = append(c.Notes, b.verifySQLite(ctx, dir))
	}
	if primary && b.cfg.keep != "" {
		c.Notes = append(c.Notes, fmt.Sprintf("The ledger is kept in `%s`: check it with `riskledger --data %s verify`.", mustAbs(dir), mustAbs(dir)))
	}
	return c
}

func (b *bench) verifySQLite(ctx context.Context, dir string) string {
	st, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, ReadOnly: true})
	if err != nil {
		return "eventstore.Verify could not open the ledger: " + err.Error()
	}
	defer st.Close()
	log.Printf("verifying the hash chain of %s", dir)
	t := time.Now()
	r, err := eventstore.Verify(ctx, st)
	d := time.Since(t)
	switch {
	case err != nil:
		return "eventstore.Verify failed: " + err.Error()
	case !r.OK:
		return fmt.Sprintf("eventstore.Verify: **NOT OK** at position %d: %s", r.FirstBad, r.Reason)
	}
	return fmt.Sprintf("eventstore.Verify recomputed the hash chain of all %s events: OK (%s, %s events/s).",
		fmtInt(r.Checked), fmtDur(d), fmtRate(float64(r.Checked)/d.Seconds()))
}

// rawFileAppend is baseline (b): a hand-written append-only log.
func rawFileAppend(ctx context.Context, path string, w *workload, n int64, syncEvery int64) (measurement, error) {
	m := measurement{Label: fmt.Sprintf("raw: os.File, one write per record, fsync every %s", fmtInt(syncEvery))}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return m, err
	}
	defer f.Close()
	rm := newRowMaker(w)
	var e eventstore.Event
	buf := make([]byte, 0, 1024)
	var rec time.Time
	t0 := time.Now()
	for i := range n {
		if i%syncEvery == 0 {
			if err := ctx.Err(); err != nil {
				return m, err
			}
			rec = time.Now().UTC().Truncate(time.Microsecond)
		}
		if err := rm.next(i, rec, &e); err != nil {
			return m, err
		}
		buf = appendRecord(buf[:0], &e)
		if _, err := f.Write(buf); err != nil {
			return m, err
		}
		if (i+1)%syncEvery == 0 {
			if err := f.Sync(); err != nil {
				return m, err
			}
			m.Txns++
		}
	}
	if n%syncEvery != 0 {
		if err := f.Sync(); err != nil {
			return m, err
		}
		m.Txns++
	}
	m.Dur = time.Since(t0)
	m.Events = n
	if fi, err := f.Stat(); err == nil {
		m.Disk = fi.Size()
	}
	return m, nil
}

func (b *bench) compareCSQLite(ctx context.Context) *comparison {
	c := &comparison{ID: "c", Store: "SQLite", MinRatio: 10, MaxP99: 10 * time.Millisecond,
		Title: fmt.Sprintf("%d concurrent single-event appends vs one transaction per event", b.cfg.concurrency)}
	dir := filepath.Join(b.tmpRoot, "c-sqlite")
	clk := &clock{}
	st, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, Now: clk.Now, Synchronous: b.cfg.synchronous})
	if err != nil {
		c.Err = err
		return c
	}
	defer st.Close()
	var w0 int64
	c.Ours, c.Base, c.Err = b.runC(ctx, c.ID+" SQLite", st, clk,
		func() { w0 = procWritten() },
		func() int64 { return procWritten() - w0 })
	c.Notes = append(c.Notes, cNotes(b.cfg)...)
	return c
}

// runC runs (c) on a fresh store: the concurrent run, then the sequential
// one appending to the same store.
//
// before is called before each timed run and written after it, returning
// the bytes written during the run.
func (b *bench) runC(ctx context.Context, what string, st eventstore.Store, clk *clock,
	before func(), written func() int64) (ours, base measurement, err error) {
	n := b.cfg.concurrentN
	log.Printf("(%s): %s events from %d goroutines", what, fmtInt(n), b.cfg.concurrency)
	before()
	resetPeak()
	clk.calls.Store(0)
	r, err := appendSingles(ctx, st, b.w, 0, n, b.cfg.concurrency)
	if err != nil {
		return ours, base, err
	}
	ours = measurement{Label: fmt.Sprintf("ours: %d goroutines, 1 event per Append", b.cfg.concurrency), Events: r.events, Dur: r.dur,
		Txns: clk.calls.Load(), PeakRSS: peakRSS(), MaxLoad: loadMax(), Lat: r.lat, LatWhat: "Append", Written: written()}
	log.Printf("(%s): %s events from 1 goroutine, one Append (transaction) at a time", what, fmtInt(n))
	before()
	resetPeak()
	clk.calls.Store(0)
	r, err = appendSingles(ctx, st, b.w, n, n, 1)
	if err != nil {
		return ours, base, err
	}
	base = measurement{Label: "baseline: 1 goroutine, 1 event per Append, one transaction each", Events: r.events, Dur: r.dur,
		Txns: clk.calls.Load(), PeakRSS: peakRSS(), MaxLoad: loadMax(), Lat: r.lat, LatWhat: "Append", Written: written()}
	return ours, base, nil
}

func cNotes(cfg config) []string {
	return []string{
		fmt.Sprintf("Both runs go through the same store: %s events from %d goroutines first, then %s more from one goroutine "+
			"that waits for each Append before the next, so every Append is its own transaction and fsync "+
			"(the committer finds nothing else queued).", fmtInt(cfg.concurrentN), cfg.concurrency, fmtInt(cfg.concurrentN)),
		"Latency is measured around each Store.Append call, in the goroutine that makes it.",
	}
}

func (b *bench) compareDSQLite(ctx context.Context) *comparison {
	c := &comparison{ID: "d", Store: "SQLite", MinRatio: 0.70,
		Title: "ReadAll of the log vs raw SELECT with the same decode"}
	dir := b.sqlDir
	switch {
	case dir != "":
	case b.cfg.keep != "" && fileExists(filepath.Join(b.cfg.keep, sqlite.FileName)):
		dir = b.cfg.keep
		c.Notes = append(c.Notes, "Reads the existing ledger in "+mustAbs(dir)+".")
	default:
		dir = filepath.Join(b.tmpRoot, "d-sqlite")
		log.Printf("(d) SQLite: filling %s with %s events (untimed)", dir, fmtInt(b.cfg.n))
		st, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, Synchronous: b.cfg.synchronous})
		if err != nil {
			c.Err = err
			return c
		}
		_, _, _, err = b.appendOurs(ctx, st, b.primaryMode(), 0, b.cfg.n)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			c.Err = err
			return c
		}
		c.Notes = append(c.Notes, "(b) did not run, so the ledger was filled first by the same batched Append (not timed here).")
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, ReadOnly: true})
	if err != nil {
		c.Err = err
		return c
	}
	defer st.Close()
	raw, err := openRawSQLite(filepath.Join(dir, sqlite.FileName))
	if err != nil {
		c.Err = err
		return c
	}
	defer raw.Close()
	readers := []reader{
		{fmt.Sprintf("ours: Store.ReadAll, pages of %s", fmtInt(int64(b.cfg.page))),
			func(ctx context.Context) (int64, int64, error) { return readOurs(ctx, st, b.cfg.page) }},
		{"raw: database/sql + modernc.org/sqlite, one SELECT of all rows, same decode",
			func(ctx context.Context) (int64, int64, error) {
				return readRawSQLite(ctx, raw, b.cfg.page, false, false, false)
			}},
		{fmt.Sprintf("raw: database/sql + modernc.org/sqlite, SELECTs of %s rows (WHERE position > ? LIMIT ?), same decode",
			fmtInt(int64(b.cfg.page))),
			func(ctx context.Context) (int64, int64, error) {
				return readRawSQLite(ctx, raw, b.cfg.page, true, false, false)
			}},
	}
	layout, _ := sqliteLayout(ctx, raw)
	if b.cfg.explain {
		readers = append(readers,
			reader{"diagnostic: raw, one SELECT, each page's slice grown by append from empty",
				func(ctx context.Context) (int64, int64, error) {
					return readRawSQLite(ctx, raw, b.cfg.page, false, false, true)
				}})
		if layout == "env" {
			readers = append(readers,
				reader{"diagnostic: raw, one SELECT, previous hash by correlated subquery",
					func(ctx context.Context) (int64, int64, error) {
						return readRawSQLite(ctx, raw, b.cfg.page, false, true, false)
					}},
				reader{fmt.Sprintf("diagnostic: raw in pages of %s, correlated subquery, slices grown from empty", fmtInt(int64(b.cfg.page))),
					func(ctx context.Context) (int64, int64, error) {
						return readRawSQLite(ctx, raw, b.cfg.page, true, true, true)
					}})
		}
	}
	ms, err := b.runD(ctx, "d SQLite", readers...)
	if err != nil {
		c.Err = err
		return c
	}
	c.Ours = ms[0]
	c.Base, c.Extra = fasterRaw(ms[1], ms[2], ms[3:])
	c.Ours.Disk = dirSize(dir)
	c.Notes = append(c.Notes, dNotes(b.cfg)...)
	switch layout {
	case "env":
		c.Notes = append(c.Notes, "The ledger's layout keeps position, id, stream, type, payload and hash as columns and packs "+
			"the rest of the envelope into an env blob (version 1), which the raw reader decodes as the store does. "+
			"The previous hash is not stored: the raw scan takes it from the row before (the paged raw reader looks up "+
			"the one before each page's first row).")
	case "columns":
		c.Notes = append(c.Notes, "The ledger's layout stores every envelope field in a column of its own; both select all 15.")
	}
	return c
}

// fasterRaw makes the faster of the two raw readers the baseline and
// shows the other among the extra rows.
func fasterRaw(one, paged measurement, extra []measurement) (measurement, []measurement) {
	base, other := one, paged
	if paged.rate() > one.rate() {
		base, other = paged, one
	}
	base.Label += " — the faster raw reader: the baseline"
	other.Label += " — slower, not the baseline"
	return base, append([]measurement{other}, extra...)
}

func dNotes(cfg config) []string {
	return []string{
		"Two raw readers run, one SELECT of the whole log and SELECTs of one page each; the faster of the two is the baseline.",
		fmt.Sprintf("Each way reads the whole log %d times, alternating ours and raw; the best time of each counts. "+
			"The file was just written, so it is in the page cache for both.", cfg.readReps),
		"Both decode every row into an eventstore.Event (ids, hashes, times, payload and metadata copied out of the driver's buffers); " +
			"both hand out a new slice per page (the raw reader allocates it at the page's size up front).",
	}
}

// reader is one way of reading the whole log: it returns the events read
// and their digest.
type reader struct {
	label string
	read  func(context.Context) (int64, int64, error)
}

// runD alternates the readers (ours first, then the raw baseline, then any
// diagnostics) and keeps each one's best time. Every reader must decode the
// same events.
func (b *bench) runD(ctx context.Context, what string, readers ...reader) ([]measurement, error) {
	ms := make([]measurement, len(readers))
	sums := make([]int64, len(readers))
	for rep := range b.cfg.readReps {
		for i, r := range readers {
			log.Printf("(%s) read %d/%d: %s", what, rep+1, b.cfg.readReps, r.label)
			resetPeak()
			t := time.Now()
			n, sum, err := r.read(ctx)
			d := time.Since(t)
			if err != nil {
				return ms, fmt.Errorf("%s: %w", r.label, err)
			}
			m := &ms[i]
			m.Label, m.Events, sums[i] = r.label, n, sum
			if m.Dur == 0 || d < m.Dur {
				m.Dur = d
			}
			m.PeakRSS, m.MaxLoad = max(m.PeakRSS, peakRSS()), max(m.MaxLoad, loadMax())
		}
	}
	for i := range readers[1:] {
		if ms[i+1].Events != ms[0].Events || sums[i+1] != sums[0] {
			return ms, fmt.Errorf("%q read %d events (digest %x), the store %d (digest %x): the readers disagree",
				ms[i+1].Label, ms[i+1].Events, sums[i+1], ms[0].Events, sums[0])
		}
	}
	return ms, nil
}

// digest folds the fields of e into a number, so that runD can check that
// both readers decoded the same events.
func digest(e *eventstore.Event) int64 {
	h := uint64(e.Position)
	for _, v := range []uint64{uint64(e.StreamVersion), uint64(e.SchemaVersion), uint64(e.OccurredAt.UnixMicro()),
		uint64(e.RecordedAt.UnixMicro()), uint64(len(e.Stream)), uint64(len(e.Type)), uint64(len(e.Actor)),
		uint64(len(e.Payload)), uint64(len(e.Metadata)), binary.BigEndian.Uint64(e.ID[8:]),
		binary.BigEndian.Uint64(e.CausationID[8:]), binary.BigEndian.Uint64(e.PrevHash[:]), binary.BigEndian.Uint64(e.Hash[:])} {
		h = mix(h ^ v)
	}
	return int64(h)
}

// readOurs pages through the log with Store.ReadAll.
func readOurs(ctx context.Context, st eventstore.Store, page int) (n, sink int64, err error) {
	var after int64
	for {
		evs, err := st.ReadAll(ctx, after, page)
		if err != nil {
			return n, sink, err
		}
		for i := range evs {
			sink += digest(&evs[i])
		}
		n += int64(len(evs))
		if len(evs) < page {
			return n, sink, nil
		}
		after = evs[len(evs)-1].Position
	}
}

func openRawSQLite(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "cache_size(-65536)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, db.Ping()
}

// sqliteLayout names the events table's layout: "columns" (every envelope
// field a column of its own, eventstore/sqlite up to commit 7192c08) or
// "env" (the fields SQL does not use packed into an env blob, version 1, and
// the previous hash taken from the previous row).
func sqliteLayout(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info('events')`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return "", err
		}
		cols[name] = true
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch {
	case cols["env"] && cols["hash"] && cols["payload"] && !cols["prev_hash"]:
		return "env", nil
	case cols["prev_hash"] && cols["metadata"] && cols["stream_version"]:
		return "columns", nil
	}
	return "", fmt.Errorf("the SQLite events table has a layout this benchmark does not know (columns %v); "+
		"teach readRawSQLite in bench/sqlite.go to decode it", keys(cols))
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// readRawSQLite is baseline (d) for SQLite: one SELECT of the events
// table's columns in position order, each row decoded into an
// eventstore.Event as the store decodes it.
//
// Diagnostics: paged reads the log in pages of page events, one query each,
// as ReadAll does; subquery (env layout) selects the previous hash with a
// correlated subquery on every row, as the store does; grow starts each
// page's slice empty and lets append grow it, as the store does.
func readRawSQLite(ctx context.Context, db *sql.DB, page int, paged, subquery, grow bool) (n, sink int64, err error) {
	layout, err := sqliteLayout(ctx, db)
	if err != nil {
		return 0, 0, err
	}
	if !paged {
		return readRawSQLitePage(ctx, db, layout, page, 0, -1, subquery, grow, &n, &sink)
	}
	var after int64
	for {
		before := n
		if _, _, err := readRawSQLitePage(ctx, db, layout, page, after, page, subquery, grow, &n, &sink); err != nil {
			return n, sink, err
		}
		if n-before < int64(page) {
			return n, sink, nil
		}
		after += n - before // positions are gapless from 1
	}
}

// readRawSQLitePage reads up to limit events (all when limit < 0) after
// position after, adding to n and sink.
func readRawSQLitePage(ctx context.Context, db *sql.DB, layout string, page int, after int64, limit int, subquery, grow bool,
	np, sinkp *int64) (int64, int64, error) {
	cols := `e.position, e.id, e.stream, e.type, e.payload, e.hash, e.env`
	if subquery {
		cols += `, (SELECT p.hash FROM events p WHERE p.position = e.position - 1)`
	}
	if layout == "columns" {
		cols = `e.position, e.id, e.stream, e.stream_version, e.type, e.schema_version, e.occurred_at, e.recorded_at,
		e.actor, e.causation_id, e.correlation_id, e.payload, e.metadata, e.prev_hash, e.hash`
	}
	// Before the page's query: the raw reader holds one connection.
	var prevHash eventstore.Hash
	if after > 0 && layout == "env" && !subquery {
		// A page that does not start the log needs the hash of the row before it.
		var h []byte
		if err := db.QueryRowContext(ctx, `SELECT hash FROM events WHERE position = ?`, after).Scan(&h); err != nil {
			return 0, 0, err
		}
		copy(prevHash[:], h)
	}
	rows, err := db.QueryContext(ctx, `SELECT `+cols+` FROM events e WHERE e.position > ? ORDER BY e.position LIMIT ?`, after, limit)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	var n, sink int64
	defer func() { *np += n; *sinkp += sink }()
	newPage := func() []eventstore.Event {
		if grow {
			return nil
		}
		return make([]eventstore.Event, 0, page)
	}
	buf := newPage()
	flush := func() {
		for i := range buf {
			sink += digest(&buf[i])
		}
		n += int64(len(buf))
		buf = newPage() // handed to the caller: a new page each time, as ReadAll returns
	}
	for rows.Next() {
		var e eventstore.Event
		if layout == "env" {
			var id, hash, env, payload, prev []byte
			dst := []any{&e.Position, &id, &e.Stream, &e.Type, &payload, &hash, &env}
			if subquery {
				dst = append(dst, &prev)
			}
			if err := rows.Scan(dst...); err != nil {
				return n, sink, err
			}
			if subquery {
				prevHash = eventstore.Hash{}
				copy(prevHash[:], prev)
			}
			if len(id) != 16 || len(hash) != 32 {
				return n, sink, fmt.Errorf("row %d: bad widths", e.Position)
			}
			if err := decodeEnvV1(env, &e); err != nil {
				return n, sink, fmt.Errorf("row %d: %w", e.Position, err)
			}
			copy(e.ID[:], id)
			copy(e.Hash[:], hash)
			e.PrevHash = prevHash // a sequential scan has the previous row's hash at hand
			prevHash = e.Hash
			e.Payload = payload
		} else {
			var id, causation, correlation, prev, hash, payload, metadata []byte
			var occurred, recorded int64
			if err := rows.Scan(&e.Position, &id, &e.Stream, &e.StreamVersion, &e.Type, &e.SchemaVersion,
				&occurred, &recorded, &e.Actor, &causation, &correlation, &payload, &metadata, &prev, &hash); err != nil {
				return n, sink, err
			}
			if len(id) != 16 || len(prev) != 32 || len(hash) != 32 {
				return n, sink, fmt.Errorf("row %d: bad widths", e.Position)
			}
			copy(e.ID[:], id)
			if len(causation) == 16 {
				copy(e.CausationID[:], causation)
			}
			if len(correlation) == 16 {
				copy(e.CorrelationID[:], correlation)
			}
			copy(e.PrevHash[:], prev)
			copy(e.Hash[:], hash)
			e.OccurredAt = time.UnixMicro(occurred).UTC()
			e.RecordedAt = time.UnixMicro(recorded).UTC()
			e.Payload, e.Metadata = payload, metadata
		}
		buf = append(buf, e)
		if len(buf) == page {
			flush()
		}
	}
	flush()
	return n, sink, rows.Err()
}

// decodeEnvV1 decodes the store's env column, version 1 (see
// eventstore/sqlite/envelope.go): version byte | stream_version uvarint |
// schema_version uvarint | occurred_at int64 µs | recorded_at int64 µs |
// actor (uvarint length, bytes) | causation_id 16 | correlation_id 16 |
// metadata (uvarint length, bytes).
var errEnvV1 = errors.New("env column is not version 1 as this benchmark knows it")

func decodeEnvV1(b []byte, e *eventstore.Event) error {
	bad := errEnvV1
	if len(b) == 0 || b[0] != 1 {
		return bad
	}
	b = b[1:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	sv, ok1 := uv()
	schema, ok2 := uv()
	if !ok1 || !ok2 || len(b) < 16 {
		return bad
	}
	e.StreamVersion, e.SchemaVersion = int64(sv), int(schema)
	e.OccurredAt = time.UnixMicro(int64(binary.BigEndian.Uint64(b))).UTC()
	e.RecordedAt = time.UnixMicro(int64(binary.BigEndian.Uint64(b[8:]))).UTC()
	b = b[16:]
	la, ok := uv()
	if !ok || uint64(len(b)) < la+32 {
		return bad
	}
	e.Actor = string(b[:la])
	b = b[la:]
	copy(e.CausationID[:], b[:16])
	copy(e.CorrelationID[:], b[16:32])
	b = b[32:]
	lm, ok := uv()
	if !ok || uint64(len(b)) != lm {
		return bad
	}
	e.Metadata = append([]byte(nil), b...)
	return nil
}
