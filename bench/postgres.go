package main

import (
	"context"
	"fmt"
	"log"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/postgres"
)

// rawTableDDL is the baseline's bare table: the store's columns and types
// and the same three indexes, nothing else.
const rawTableDDL = `CREATE TABLE raw_events (
	position       bigint PRIMARY KEY,
	id             uuid NOT NULL UNIQUE,
	stream         text NOT NULL,
	stream_version bigint NOT NULL,
	type           text NOT NULL,
	schema_version int NOT NULL,
	occurred_at    timestamptz NOT NULL,
	recorded_at    timestamptz NOT NULL,
	actor          text NOT NULL,
	causation_id   uuid,
	correlation_id uuid,
	payload        json NOT NULL,
	metadata       json NOT NULL,
	prev_hash      bytea NOT NULL,
	hash           bytea NOT NULL,
	UNIQUE (stream, stream_version)
)`

var pgColumns = []string{"position", "id", "stream", "stream_version", "type", "schema_version", "occurred_at",
	"recorded_at", "actor", "causation_id", "correlation_id", "payload", "metadata", "prev_hash", "hash"}

// pgConnect opens a plain connection whose search_path is schema ("" for
// the server's default).
func (b *bench) pgConnect(ctx context.Context, schema string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(b.cfg.dbURL)
	if err != nil {
		return nil, fmt.Errorf("the database URL does not parse")
	}
	if schema != "" {
		cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	cfg.RuntimeParams["application_name"] = "riskledger bench"
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return pgx.ConnectConfig(cctx, cfg)
}

func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// probePG checks the server and records its version and settings.
func (b *bench) probePG(ctx context.Context) (bool, string) {
	conn, err := b.pgConnect(ctx, "")
	if err != nil {
		return false, fmt.Sprintf("PostgreSQL at %s is not reachable: %v", redactURL(b.cfg.dbURL), err)
	}
	defer conn.Close(ctx)
	var version, full string
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version'), version()`).Scan(&version, &full); err != nil {
		return false, err.Error()
	}
	host := conn.Config().Host
	where := "at " + host
	if host == "127.0.0.1" || host == "localhost" || host == "::1" || strings.HasPrefix(host, "/") {
		where += " (same machine, sharing its CPUs and disk)"
	}
	b.rep.Machine.PG = fmt.Sprintf("%s %s — %s", version, where, full)
	var settings []string
	for _, s := range []string{"synchronous_commit", "fsync", "wal_sync_method", "full_page_writes", "shared_buffers", "max_wal_size", "checkpoint_timeout"} {
		var v string
		if err := conn.QueryRow(ctx, `SELECT current_setting($1)`, s).Scan(&v); err == nil {
			settings = append(settings, s+"="+v)
		}
	}
	b.rep.Machine.PGSettings = strings.Join(settings, ", ")
	return true, ""
}

// newSchema names a fresh schema and registers it to be dropped.
func (b *bench) newSchema(tag string) string {
	s := "rl_bench_" + randomSuffix() + "_" + tag
	b.schemas = append(b.schemas, s)
	return s
}

func (b *bench) dropSchemas(ctx context.Context) error {
	conn, err := b.pgConnect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, s := range b.schemas {
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{s}.Sanitize()+` CASCADE`); err != nil {
			return err
		}
	}
	b.schemas = nil
	return nil
}

// checkpoint flushes the server's dirty buffers so that each timed run
// starts without the previous run's checkpoint debt (needs superuser or
// pg_checkpoint; skipped silently otherwise).
func checkpoint(ctx context.Context, conn *pgx.Conn) {
	_, _ = conn.Exec(ctx, `CHECKPOINT`)
}

// walLSN returns the server's current WAL position ("" when unknown).
func walLSN(ctx context.Context, conn *pgx.Conn) string {
	var lsn string
	if err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		return ""
	}
	return lsn
}

// walSince returns the WAL bytes generated since lsn (0 when unknown).
func walSince(ctx context.Context, conn *pgx.Conn, lsn string) int64 {
	if lsn == "" {
		return 0
	}
	var n int64
	if err := conn.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint`, lsn).Scan(&n); err != nil {
		return 0
	}
	return n
}

func relationSize(ctx context.Context, conn *pgx.Conn, table string) int64 {
	var n int64
	_ = conn.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass)`, table).Scan(&n)
	return n
}

func (b *bench) compareA(ctx context.Context, mode string) *comparison {
	c := &comparison{ID: modeID("a", mode), Store: "PostgreSQL", MinRatio: 0.80,
		Title: "N batched appends vs raw pgx CopyFrom in batches of the same size"}
	schema := b.newSchema("a_" + mode)
	conn, err := b.pgConnect(ctx, "")
	if err != nil {
		c.Err = err
		return c
	}
	defer conn.Close(context.Background())
	clk := &clock{}
	st, err := postgres.Open(ctx, postgres.Config{URL: b.cfg.dbURL, Schema: schema, Now: clk.Now})
	if err != nil {
		c.Err = err
		return c
	}
	log.Printf("(%s) PostgreSQL: appending %s events in schema %s", c.ID, fmtInt(b.cfg.n), schema)
	checkpoint(ctx, conn)
	resetPeak()
	clk.calls.Store(0)
	lsn := walLSN(ctx, conn)
	res, label, latWhat, err := b.appendOurs(ctx, st, mode, 0, b.cfg.n)
	c.Ours = measurement{Label: label, Events: res.events, Dur: res.dur, Txns: clk.calls.Load(),
		PeakRSS: peakRSS(), MaxLoad: loadMax(), Lat: res.lat, LatWhat: latWhat, Written: walSince(ctx, conn, lsn)}
	st.Close()
	if err != nil {
		c.Err = err
		return c
	}
	c.Ours.Disk = relationSize(ctx, conn, pgx.Identifier{schema, "events"}.Sanitize())
	if mode == b.primaryMode() {
		b.pgSchema = schema
	}

	batch := max(1, int(math.Round(float64(c.Ours.Events)/float64(max(1, c.Ours.Txns)))))
	raw, err := b.pgConnect(ctx, schema)
	if err != nil {
		c.Err = err
		return c
	}
	defer raw.Close(context.Background())
	if _, err := raw.Exec(ctx, rawTableDDL); err != nil {
		c.Err = fmt.Errorf("create raw_events: %w", err)
		return c
	}
	log.Printf("(%s) raw CopyFrom: %s rows in batches of %d", c.ID, fmtInt(b.cfg.n), batch)
	checkpoint(ctx, conn)
	resetPeak()
	lsn = walLSN(ctx, conn)
	c.Base, err = rawCopy(ctx, raw, b.w, b.cfg.n, batch, "raw_events", protoNone)
	if err != nil {
		c.Err = err
		return c
	}
	c.Base.PeakRSS, c.Base.MaxLoad = peakRSS(), loadMax()
	c.Base.Written = walSince(ctx, conn, lsn)
	c.Base.Disk = relationSize(ctx, conn, pgx.Identifier{schema, "raw_events"}.Sanitize())
	c.Notes = append(c.Notes,
		fmt.Sprintf("The baseline copies the same rows (the same 15 columns and values, in pgx's binary COPY format) into a bare table "+
			"with the same indexes (primary key on position, unique on id, unique on (stream, stream_version)), in batches of %d rows: "+
			"our mean batch (events ÷ transactions). Each batch is one COPY statement in its own implicit transaction, "+
			"from one connection; it computes the UUIDv7, stream version, position and hash chain itself.", batch),
		"The baseline leaves out what the store does per batch besides the COPY: lock and move the ledger head, "+
			"look up the versions of streams its committer has not cached, NOTIFY subscribers. Both fsync once per batch "+
			"(synchronous_commit as shown above).",
		"A CHECKPOINT is issued before each timed run.")
	if b.cfg.explain {
		for _, p := range []protocol{protoHead, protoStreams, protoNotify} {
			table := fmt.Sprintf("raw_events_p%d", p)
			if _, err := raw.Exec(ctx, strings.Replace(rawTableDDL, "raw_events", table, 1)); err != nil {
				c.Err = fmt.Errorf("create %s: %w", table, err)
				return c
			}
			log.Printf("(%s) diagnostic: raw CopyFrom with per-batch statements, level %d", c.ID, p)
			checkpoint(ctx, conn)
			resetPeak()
			lsn = walLSN(ctx, conn)
			d, err := rawCopy(ctx, raw, b.w, b.cfg.n, batch, table, p)
			if err != nil {
				c.Err = err
				return c
			}
			d.PeakRSS, d.MaxLoad = peakRSS(), loadMax()
			d.Written = walSince(ctx, conn, lsn)
			d.Disk = relationSize(ctx, conn, pgx.Identifier{schema, table}.Sanitize())
			c.Extra = append(c.Extra, d)
		}
		full := c.Extra[len(c.Extra)-1]
		c.Notes = append(c.Notes, fmt.Sprintf("Diagnostic (--explain): the raw loop with all of the store's per-batch statements added "+
			"(each diagnostic row adds one more; before and after the COPY they are pipelined, one round trip each) runs at %.0f%% "+
			"of the plain raw loop; ours runs at %.0f%% of that.", 100*full.rate()/c.Base.rate(), 100*c.Ours.rate()/full.rate()))
	}
	return c
}

// protocol is how much of the store's per-batch work a raw copy adds.
type protocol int

const (
	protoNone    protocol = iota
	protoHead             // explicit transaction, head row locked and updated
	protoStreams          // and the stream versions looked up
	protoNotify           // and a NOTIFY
)

// rawCopy is baseline (a): pgx CopyFrom of the rows in batches into table.
// With protocol it also does, per batch, what the store does besides the
// COPY, as a raw client would write it: an explicit transaction that locks
// a head row, looks up the versions of streams it has not seen before (the
// store's committer caches the others), copies, moves the head with a
// NOTIFY, and commits; the statements before and after the COPY are
// pipelined, one round trip each.
func rawCopy(ctx context.Context, conn *pgx.Conn, w *workload, n int64, batch int, table string, proto protocol) (measurement, error) {
	m := measurement{Label: fmt.Sprintf("raw: pgx CopyFrom into a bare table, %d rows per COPY", batch)}
	protocol := proto != protoNone
	if protocol {
		m.Label = "diagnostic: raw + explicit transaction, head row locked and moved"
		if proto >= protoStreams {
			m.Label += ", stream look-ups"
		}
		if proto >= protoNotify {
			m.Label += ", NOTIFY"
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE `+table+`_head (id int PRIMARY KEY, position bigint NOT NULL, hash bytea NOT NULL);
			INSERT INTO `+table+`_head VALUES (1, 0, decode(repeat('00', 32), 'hex'))`); err != nil {
			return m, err
		}
	}
	rm := newRowMaker(w)
	rows := make([]eventstore.Event, batch)
	row := make([]any, len(pgColumns))
	seen := make(map[string]bool)
	t0 := time.Now()
	for lo := int64(0); lo < n; lo += int64(batch) {
		k := int(min(int64(batch), n-lo))
		rec := time.Now().UTC().Truncate(time.Microsecond)
		for j := range k {
			if err := rm.next(lo+int64(j), rec, &rows[j]); err != nil {
				return m, err
			}
		}
		src := pgx.CopyFromSlice(k, func(i int) ([]any, error) {
			e := &rows[i]
			row[0], row[1], row[2], row[3] = e.Position, pgtype.UUID{Bytes: e.ID, Valid: true}, e.Stream, e.StreamVersion
			row[4], row[5], row[6], row[7] = e.Type, e.SchemaVersion, e.OccurredAt, e.RecordedAt
			row[8], row[9], row[10] = e.Actor, pgNullableID(e.CausationID), pgNullableID(e.CorrelationID)
			row[11], row[12], row[13], row[14] = []byte(e.Payload), []byte(e.Metadata), e.PrevHash[:], e.Hash[:]
			return row, nil
		})
		if !protocol {
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, pgColumns, src); err != nil {
				return m, fmt.Errorf("copy rows %d..: %w", lo+1, err)
			}
			m.Txns++
			continue
		}
		var unseen []string
		for j := range k {
			if s := rows[j].Stream; !seen[s] {
				seen[s] = true
				unseen = append(unseen, s)
			}
		}
		pre := &pgx.Batch{}
		pre.Queue(`BEGIN`)
		pre.Queue(`SELECT position, hash FROM ` + table + `_head WHERE id = 1 FOR UPDATE`)
		if len(unseen) > 0 && proto >= protoStreams {
			pre.Queue(`SELECT s, e.stream_version, e.position FROM unnest($1::text[]) AS s
				CROSS JOIN LATERAL (SELECT stream_version, position FROM `+table+` WHERE stream = s
					ORDER BY stream_version DESC LIMIT 1) AS e`, unseen)
		}
		if err := conn.SendBatch(ctx, pre).Close(); err != nil {
			return m, fmt.Errorf("lock head: %w", err)
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, pgColumns, src); err != nil {
			return m, fmt.Errorf("copy rows %d..: %w", lo+1, err)
		}
		last := &rows[k-1]
		post := &pgx.Batch{}
		post.Queue(`UPDATE `+table+`_head SET position = $1, hash = $2 WHERE id = 1`, last.Position, last.Hash[:])
		if proto >= protoNotify {
			post.Queue(`SELECT pg_notify('rl_bench_raw', $1)`, fmt.Sprint(last.Position))
		}
		post.Queue(`COMMIT`)
		if err := conn.SendBatch(ctx, post).Close(); err != nil {
			return m, fmt.Errorf("move head: %w", err)
		}
		m.Txns++
	}
	m.Dur = time.Since(t0)
	m.Events = n
	return m, nil
}

func pgNullableID(id [16]byte) pgtype.UUID {
	return pgtype.UUID{Bytes: id, Valid: id != [16]byte{}}
}

func (b *bench) compareCPG(ctx context.Context) *comparison {
	c := &comparison{ID: "c", Store: "PostgreSQL", MinRatio: 10, MaxP99: 10 * time.Millisecond,
		Title: fmt.Sprintf("%d concurrent single-event appends vs one transaction per event", b.cfg.concurrency)}
	schema := b.newSchema("c")
	clk := &clock{}
	st, err := postgres.Open(ctx, postgres.Config{URL: b.cfg.dbURL, Schema: schema, Now: clk.Now})
	if err != nil {
		c.Err = err
		return c
	}
	defer st.Close()
	conn, err := b.pgConnect(ctx, "")
	if err != nil {
		c.Err = err
		return c
	}
	defer conn.Close(context.Background())
	var lsn string
	c.Ours, c.Base, c.Err = b.runC(ctx, c.ID+" PostgreSQL", st, clk,
		func() { checkpoint(ctx, conn); lsn = walLSN(ctx, conn) },
		func() int64 { return walSince(ctx, conn, lsn) })
	c.Notes = append(c.Notes, cNotes(b.cfg)...)
	return c
}

func (b *bench) compareDPG(ctx context.Context) *comparison {
	c := &comparison{ID: "d", Store: "PostgreSQL", MinRatio: 0.70,
		Title: "ReadAll of the log vs raw SELECT with the same decode"}
	schema := b.pgSchema
	if schema == "" {
		schema = b.newSchema("d")
		log.Printf("(d) PostgreSQL: filling schema %s with %s events (untimed)", schema, fmtInt(b.cfg.n))
		st, err := postgres.Open(ctx, postgres.Config{URL: b.cfg.dbURL, Schema: schema})
		if err != nil {
			c.Err = err
			return c
		}
		_, _, _, err = b.appendOurs(ctx, st, b.primaryMode(), 0, b.cfg.n)
		st.Close()
		if err != nil {
			c.Err = err
			return c
		}
		c.Notes = append(c.Notes, "(a) did not run, so the ledger was filled first by the same batched Append (not timed here).")
	}
	st, err := postgres.Open(ctx, postgres.Config{URL: b.cfg.dbURL, Schema: schema})
	if err != nil {
		c.Err = err
		return c
	}
	defer st.Close()
	raw, err := b.pgConnect(ctx, schema)
	if err != nil {
		c.Err = err
		return c
	}
	defer raw.Close(context.Background())
	ms, err := b.runD(ctx, "d PostgreSQL",
		reader{fmt.Sprintf("ours: Store.ReadAll, pages of %s", fmtInt(int64(b.cfg.page))),
			func(ctx context.Context) (int64, int64, error) { return readOurs(ctx, st, b.cfg.page) }},
		reader{"raw: pgx, one SELECT of all rows, same decode",
			func(ctx context.Context) (int64, int64, error) { return readRawPG(ctx, raw, b.cfg.page, false) }},
		reader{fmt.Sprintf("raw: pgx, SELECTs of %s rows (WHERE position > $1 LIMIT $2), same decode", fmtInt(int64(b.cfg.page))),
			func(ctx context.Context) (int64, int64, error) { return readRawPG(ctx, raw, b.cfg.page, true) }})
	if err != nil {
		c.Err = err
		return c
	}
	c.Ours = ms[0]
	c.Base, c.Extra = fasterRaw(ms[1], ms[2], nil)
	c.Ours.Disk = relationSize(ctx, raw, "events")
	c.Notes = append(c.Notes, dNotes(b.cfg)...)
	return c
}

// readRawPG is baseline (d) for PostgreSQL: one SELECT through pgx, each
// row decoded into an eventstore.Event with the store's column types.
// With paged it reads one page per query, as ReadAll does.
func readRawPG(ctx context.Context, conn *pgx.Conn, page int, paged bool) (n, sink int64, err error) {
	if !paged {
		return readRawPGPage(ctx, conn, page, 0, -1)
	}
	var after int64
	for {
		k, s, err := readRawPGPage(ctx, conn, page, after, page)
		n, sink = n+k, sink+s
		if err != nil || k < int64(page) {
			return n, sink, err
		}
		after += k // positions are gapless from 1
	}
}

// readRawPGPage reads up to limit events (all when limit < 0) after
// position after.
func readRawPGPage(ctx context.Context, conn *pgx.Conn, page int, after int64, limit int) (n, sink int64, err error) {
	var lim *int
	if limit >= 0 {
		lim = &limit
	}
	rows, err := conn.Query(ctx, `SELECT position, id, stream, stream_version, type, schema_version, occurred_at, recorded_at,
		actor, causation_id, correlation_id, payload, metadata, prev_hash, hash FROM events WHERE position > $1
		ORDER BY position LIMIT $2`, after, lim)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	buf := make([]eventstore.Event, 0, page)
	flush := func() {
		for i := range buf {
			sink += digest(&buf[i])
		}
		n += int64(len(buf))
		buf = make([]eventstore.Event, 0, page) // handed to the caller: a new page each time, as ReadAll returns
	}
	for rows.Next() {
		var e eventstore.Event
		var id, causation, correlation pgtype.UUID
		var payload, metadata, prev, hash []byte
		if err := rows.Scan(&e.Position, &id, &e.Stream, &e.StreamVersion, &e.Type, &e.SchemaVersion,
			&e.OccurredAt, &e.RecordedAt, &e.Actor, &causation, &correlation, &payload, &metadata, &prev, &hash); err != nil {
			return n, sink, err
		}
		if !id.Valid || len(prev) != 32 || len(hash) != 32 {
			return n, sink, fmt.Errorf("row %d: bad widths", e.Position)
		}
		e.ID = id.Bytes
		if causation.Valid {
			e.CausationID = causation.Bytes
		}
		if correlation.Valid {
			e.CorrelationID = correlation.Bytes
		}
		e.Payload, e.Metadata = payload, metadata
		copy(e.PrevHash[:], prev)
		copy(e.Hash[:], hash)
		e.OccurredAt = e.OccurredAt.UTC()
		e.RecordedAt = e.RecordedAt.UTC()
		buf = append(buf, e)
		if len(buf) == page {
			flush()
		}
	}
	flush()
	return n, sink, rows.Err()
}
