package main

import (
	"fmt"
	"strings"
	"time"
)

// httpMarkdown is the (h) section of RESULTS.md.
func (b *bench) httpMarkdown(zone string, runs []httpStoreRun, bareRate loadRun) string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	cfg := b.cfg
	m := b.rep.Machine
	p("%s\n\n## The HTTP API under load (h)\n\n", httpBegin)
	p("Command: `%s`  \nRun: %s UTC, %s in all; code %s.  \n", command(), b.started.UTC().Format("2006-01-02 15:04"),
		time.Since(b.started).Round(time.Second), codeVersion())
	p("Machine: %s, %d logical processors, %s; %s; load average at start %s, at the end %s.  \n", m.CPU, m.Processors, m.MemTotal, m.Go, m.Load, loadAverage())
	if m.PG != "" {
		p("PostgreSQL: %s; %s.  \n", m.PG, m.PGSettings)
	}
	p("Disk: %s.\n\n", m.Fsync)

	p("**Setup.** `riskledger serve --listen 127.0.0.1:0`, the binary built from this tree, on a fresh ledger of each store "+
		"(PostgreSQL: a database of its own, key files from `riskledger keys init`, the first admin token from `riskledger token create`). "+
		"Seeded by `riskledger import` before serve starts: %s persons (every hundredth with a confirmed diagnosis, so red), "+
		"%d checkpoints (kind subway, admitting green). Then through the API: a checkpoint token for each checkpoint, an issuance token, "+
		"and today's code of every person (`POST /v1/persons/{id}/code` with the issuance token, 16 at a time). "+
		"The server's zone is %s, so that the run starts near local noon: a code is valid for one local day. "+
		"Between runs the bench waits for the ledger's head to stand still for 2 s (the projection records its decisions).\n\n",
		fmtInt(int64(cfg.hPeople)), cfg.hCheckpoints, zone)
	p("**Load generator** (this process, Go net/http client, keep-alive connections over loopback). *Open loop*: request *i* is due at "+
		"start + *i*/rate whatever happened to the others (up to %d in flight; beyond that they wait in the generator), and its latency runs "+
		"from when it was due to its whole answer read, so a stall is charged to every request queued behind it. *Service* is the same answer "+
		"timed from the actual send; *send lag* is how late the generator sent (its own timer slop and queueing). *Closed loop*: %d clients, "+
		"each sending its next request when the previous one is answered; latency from the send. Every run has %s of warm-up, not counted, "+
		"then %s measured. CPU is in processors busy over the measured window: the server process (serve, the bare handler, or in process with "+
		"PostgreSQL the `project` worker), this bench process (the generator; in process also the handler), PostgreSQL's processes, and the rest "+
		"of the machine (the kernel's own work, and other work sharing it: more than a tenth of the machine marks a run as disturbed).\n\n",
		openLoopWorkers, cfg.hClients, cfg.hWarm, cfg.hDur)

	for _, r := range runs {
		if r.l == nil {
			continue
		}
		p("- %s: %s persons (%d of them red), %d checkpoints imported in %s; %s codes issued through the API in %s (%s/s); %s events before the runs, %s after the HTTP runs.\n",
			r.store, fmtInt(int64(len(r.l.persons))), r.l.red, len(r.l.checkpoints), fmtDur(r.l.seedDur), fmtInt(int64(len(r.l.codes))), fmtDur(r.l.codesDur),
			fmtRate(float64(len(r.l.codes))/r.l.codesDur.Seconds()), fmtInt(r.l.events), fmtInt(r.headAfter))
	}
	for _, r := range runs {
		if r.err != nil {
			p("- %s: **failed**: `%s`\n", r.store, oneLine(r.err.Error()))
		}
	}
	p("\n")

	p("### h1: checkpoint admission, %s scans/s offered (open loop)\n\n", fmtInt(int64(cfg.hRate)))
	p("`POST /v1/commands/record_scan` with the checkpoint's token and `{\"checkpoint_id\": C, \"code\": \"RL1:…\", \"method\": \"qr\"}` " +
		"(\"at\" left to the server): the server verifies the code (COSE signature, issuer, day), finds its person through the pseudonym's stream, " +
		"reads the person's live colour (the admission view catches up with the ledger's head), decides, and appends the scan durably before it answers. " +
		"Person and checkpoint of request *i* come from a seeded PRNG, the same in every run. " +
		"*In process* sends the same commands at the same rate to `commands.Handler.Execute` in this process: the line the API makes of the body " +
		"(command name and \"at\" now added), parsed by `domain.ParseCommand`, on the same ledger after serve has stopped, wired as serve wires it " +
		"(the same key files, the admission view, the issuer) and with serve's background work beside it (the colour projection keeping the read " +
		"model and recording decisions: in this process with the embedded store, a `riskledger project` worker with PostgreSQL, as serve's own " +
		"projection subscribes there; and the change feed). The difference between the two rows is HTTP: the request and its parsing, the token, " +
		"the JSON answer, the metrics, the loopback connection, and a second process. " +
		"The target is met when the p99 is within the limit and every request was answered with a recorded scan (a failed request is no admission).\n\n")
	p("| store | path | answered/s | p50 | p99 | p99.9 | max | service p99 | send lag p99 | p99 first ¼ → last ¼ | answers | CPU server / bench / PostgreSQL / other | target: p99 ≤ %s | met |\n",
		fmtDur(scanP99Limit))
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|\n")
	for _, r := range runs {
		if r.l == nil {
			continue
		}
		for _, x := range []loadRun{r.scans, r.inProc} {
			if x.Label == "" {
				continue
			}
			met := "(not a target)"
			if x.Label == "HTTP" {
				met = yesNo(x.Err == nil && x.Failed == 0 && x.p(0.99) <= scanP99Limit)
			}
			p("| %s | %s | %s | %s |\n", r.store, x.Label, openRow(x), met)
		}
	}
	p("\n")
	for _, r := range runs {
		if v := r.viewReads; v.appended > 0 {
			p("- %s, in process: the admission view (each admission catches it up with the ledger's head itself) read %s events in %s `ReadAll` "+
				"calls while the ledger gained %s (%.2f× each event), over the warm-up and the measured window.\n",
				r.store, fmtInt(v.read), fmtInt(v.calls), fmtInt(v.appended), float64(v.read)/float64(v.appended))
		}
	}
	p("\n")
	httpDisturbed(p, runs, m.Processors, func(r httpStoreRun) []loadRun { return []loadRun{r.scans, r.inProc} })

	p("### h2: the issuance layer's colour read\n\n")
	p("`GET /v1/persons/{id}/colour` with the issuance token, persons from a seeded PRNG: the server authenticates the token, reads the "+
		"person's row of the colour read model and its checkpoint, and answers the row (~100 bytes of JSON). "+
		"The baseline is a bare `net/http` server in a process of its own (this bench binary, `%s`) whose one handler answers a constant body "+
		"of the same size, sent the same requests (same paths, same header) by the same generator with the same %d clients.\n\n",
		bareCommand, cfg.hClients)
	p("| store | run | answered/s | p50 | p99 | p99.9 | max | answers | CPU server / bench / PostgreSQL / other |\n|---|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range runs {
		if r.l == nil {
			continue
		}
		if r.colourSat.Label == "" {
			continue
		}
		for _, x := range []loadRun{r.colourSat, r.bareSat} {
			p("| %s | %s, %d clients | %s |\n", r.store, x.Label, x.Clients, closedRow(x))
		}
		p("| %s | ours, open loop, %s/s offered | %s |\n", r.store, fmtInt(int64(cfg.hRate)), openRowShort(r.colourRate))
	}
	if bareRate.Label != "" {
		p("| – | bare handler, open loop, %s/s offered | %s |\n", fmtInt(int64(cfg.hRate)), openRowShort(bareRate))
	}
	p("\n| store | ours ÷ bare at saturation (target ≥ %.0f%%) | met | p99 at %s/s (target ≤ %s) | met | p99 at saturation | ≤ %s |\n|---|---|---|---|---|---|---|\n",
		100*colourMinRatio, fmtInt(int64(cfg.hRate)), fmtDur(colourP99Limit), fmtDur(colourP99Limit))
	for _, r := range runs {
		if r.l == nil || r.colourSat.Label == "" {
			continue
		}
		ratio := 0.0
		if r.bareSat.rate() > 0 {
			ratio = r.colourSat.rate() / r.bareSat.rate()
		}
		ok := func(x loadRun) bool { return x.Err == nil && x.Failed == 0 && x.Done > 0 }
		p("| %s | %s / %s = %.0f%% | %s | %s | %s | %s | %s |\n", r.store, fmtRate(r.colourSat.rate()), fmtRate(r.bareSat.rate()), 100*ratio,
			yesNo(ok(r.colourSat) && ok(r.bareSat) && ratio >= colourMinRatio),
			fmtDur(r.colourRate.p(0.99)), yesNo(ok(r.colourRate) && r.colourRate.p(0.99) <= colourP99Limit),
			fmtDur(r.colourSat.p(0.99)), yesNo(ok(r.colourSat) && r.colourSat.p(0.99) <= colourP99Limit))
	}
	p("\n")
	httpDisturbed(p, runs, m.Processors, func(r httpStoreRun) []loadRun { return []loadRun{r.colourSat, r.bareSat, r.colourRate} })
	for _, r := range runs {
		for _, x := range []loadRun{r.scans, r.inProc, r.colourRate, r.colourSat, r.bareSat} {
			if x.Err != nil {
				p("- %s, %s: %s\n", r.store, x.Label, oneLine(x.Err.Error()))
			}
		}
	}
	if bareRate.Err != nil {
		p("- bare handler, open loop: %s\n", oneLine(bareRate.Err.Error()))
	}
	for _, r := range runs {
		if len(r.serveLog) > 0 {
			p("- %s: serve's log over the whole run (seeding, h1, h2): %s.\n", r.store, oneLine(classesText(r.serveLog)))
		}
	}
	p("\n%s\n", httpEnd)
	return sb.String()
}

// openRow is the cells of an open-loop run from "answered/s" to "CPU".
func openRow(x loadRun) string {
	if x.Done == 0 {
		return fmt.Sprintf("– | | | | | | | | %s | %s", failedText(x), cpuText(x))
	}
	return fmt.Sprintf("%s of %s | %s | %s | %s | %s | %s | %s | %s → %s | %s | %s", fmtRate(x.rate()), fmtRate(x.Rate), fmtDur(x.p(0.5)),
		fmtDur(x.p(0.99)), fmtDur(x.p(0.999)), fmtDur(x.p(1)), fmtDur(percentile(x.Svc, 0.99)), fmtDur(percentile(x.Late, 0.99)),
		fmtDur(percentile(x.FirstQ, 0.99)), fmtDur(percentile(x.LastQ, 0.99)), answersText(x), cpuText(x))
}

// openRowShort is an open-loop run in the columns of h2's table.
func openRowShort(x loadRun) string {
	if x.Done == 0 {
		return fmt.Sprintf("– | | | | | %s | %s", failedText(x), cpuText(x))
	}
	return fmt.Sprintf("%s | %s | %s | %s | %s | %s | %s", fmtRate(x.rate()), fmtDur(x.p(0.5)), fmtDur(x.p(0.99)), fmtDur(x.p(0.999)),
		fmtDur(x.p(1)), answersText(x), cpuText(x))
}

func closedRow(x loadRun) string { return openRowShort(x) }

func answersText(x loadRun) string {
	s := classesText(x.Classes)
	if x.Failed > 0 {
		s = fmt.Sprintf("**%s failed**: %s", fmtInt(x.Failed), s)
	}
	return oneLine(s)
}

func failedText(x loadRun) string {
	if x.Err != nil {
		return "failed: " + oneLine(x.Err.Error())
	}
	return "no answers"
}

func cpuText(x loadRun) string {
	server := "–"
	if x.CPU.HasProc {
		server = fmt.Sprintf("%.2f", x.CPU.Proc)
	}
	return fmt.Sprintf("%s / %.2f / %.2f / %.2f", server, x.CPU.Self, x.CPU.Postgres, x.CPU.Other)
}

// httpDisturbed notes the runs during which other work took more than a
// tenth of the machine.
func httpDisturbed(p func(string, ...any), runs []httpStoreRun, processors int, of func(httpStoreRun) []loadRun) {
	for _, r := range runs {
		for _, x := range of(r) {
			if x.Label != "" && x.CPU.Other > 0.1*float64(processors) {
				p("> **Disturbed.** During %s, %s, other work than the server, the bench and PostgreSQL kept %.2f processors busy "+
					"(of %d; the 1-minute load average reached %.2f): its figures are likely worse than the code's.\n\n",
					r.store, x.Label, x.CPU.Other, processors, x.MaxLoad)
			}
		}
	}
}
