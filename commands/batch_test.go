package commands_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// sequenceLines is a command file that exercises every way a command of a
// sequence depends on the ones before it: a scan before its checkpoint is
// registered and after, a person registered twice and a document claimed
// twice within the sequence, a fifth dependent, a checkpoint re-registered
// between scans, a fever that is a symptom report, a policy published
// mid-way, a line repeated, an id reused with other content, and facts
// about persons registered a few lines earlier.
func sequenceLines(e *env, copy int) []string {
	at := func(n int) string { return e.now.Add(-time.Hour + time.Duration(n)*time.Second).Format(time.RFC3339) }
	g, p, q := uuid.New(), uuid.New(), uuid.New()
	cp, cp2 := uuid.New(), uuid.New()
	tomorrow := e.now.In(shanghai).AddDate(0, 0, 1).Format("2006-01-02")
	person := func(n int, id uuid.UUID, doc string) string {
		return fmt.Sprintf(`{"command":"register_person","at":%q,"person_id":%q,"document":{"type":"resident_id","number":"%s-%d","country":"CN"},"name":"Person %d","nationality":"CN"}`, at(n), id, doc, copy, n)
	}
	checkpoint := func(n int, id uuid.UUID, admits string) string {
		return fmt.Sprintf(`{"command":"register_checkpoint","at":%q,"checkpoint_id":%q,"name":"Gate %d","kind":"park","district":"Xuhui","admits":%s}`, at(n), id, n, admits)
	}
	scan := func(n int, c, who uuid.UUID, temp string) string {
		return fmt.Sprintf(`{"command":"record_scan","at":%q,"checkpoint_id":%q,"person_id":%q,"method":"imported"%s}`, at(n), c, who, temp)
	}
	lines := []string{
		scan(1, cp, p, ""),                            // unknown checkpoint, unknown person
		person(2, p, "D-P"),                           //
		person(3, q, "D-P"),                           // the same document again
		person(4, q, "D-Q"),                           //
		person(5, q, "D-Q2"),                          // the same person again
		checkpoint(6, cp, `["green"]`),                //
		scan(7, cp, p, ""),                            // now it is known
		scan(8, cp, p, `,"temperature_celsius":38.5`), // fever: a symptom report too
		checkpoint(9, cp, `["green","yellow"]`),       // re-registered
		scan(10, cp, q, ""),                           // decided against the new registration
		scan(11, cp2, q, ""),                          // unknown checkpoint
		checkpoint(12, cp2, `["green"]`),
		scan(13, cp2, q, `,"temperature_celsius":36.4`),
		fmt.Sprintf(`{"command":"publish_policy","at":%q,"version":2,"effective_from":%q,"params":{"fever_celsius":36.0}}`, at(14), at(14)),
		scan(15, cp2, q, `,"temperature_celsius":36.4`), // fever under policy 2
		fmt.Sprintf(`{"command":"publish_policy","at":%q,"version":2,"effective_from":%q,"params":{"fever_celsius":39.0}}`, at(16), at(16)),
		person(17, g, "D-G"),
		fmt.Sprintf(`{"command":"report_contact","at":%q,"person_id":%q,"other_id":%q,"source":"interview","start":%q}`, at(18), p, q, at(1)),
		fmt.Sprintf(`{"command":"report_contact","at":%q,"person_id":%q,"other_id":%q,"source":"interview","start":%q}`, at(19), p, uuid.New(), at(1)),
		fmt.Sprintf(`{"id":"form-1","command":"submit_health_form","at":%q,"person_id":%q,"travel":[],"symptoms":[],"contact_with_case":false}`, at(20), q),
		fmt.Sprintf(`{"id":"form-1","command":"submit_health_form","at":%q,"person_id":%q,"travel":[],"symptoms":[],"contact_with_case":false}`, at(20), q),
		fmt.Sprintf(`{"id":"form-1","command":"submit_health_form","at":%q,"person_id":%q,"travel":[],"symptoms":[],"contact_with_case":true}`, at(21), q),
	}
	for d := range 6 {
		lines = append(lines, fmt.Sprintf(`{"command":"apply_dependent","at":%q,"guardian_id":%q,"dependent_id":%q,"document":{"type":"resident_id","number":"DEP-%d-%d","country":"CN"},"name":"Child %d","nationality":"CN","usable_from":%q}`,
			at(30+d), g, uuid.New(), copy, d, d, tomorrow))
	}
	lines = append(lines, scan(40, cp, uuid.New(), "")) // unknown person at a known checkpoint
	return lines
}

// TestExecuteAllMatchesExecuteInTurn: the batch path gives every command
// the outcome the single path gives it, and leaves the same ledger.
func TestExecuteAllMatchesExecuteInTurn(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		// Enough copies for several chunks in flight at once.
		var lines []string
		const copies = 40
		for c := range copies {
			lines = append(lines, sequenceLines(e, c)...)
		}
		cmds := make([]domain.Command, len(lines))
		for i, l := range lines {
			var err error
			if cmds[i], err = domain.ParseCommand([]byte(l), domain.ParseOptions{Now: func() time.Time { return e.now }, Location: shanghai}); err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
		}
		// The single path, on a ledger of its own, and the batch path, twice:
		// the second time, what was accepted is already present, and what
		// the ledger now allows (a scan at a checkpoint registered later in
		// the file) is accepted.
		single := newEnv(t, e.now)
		for run := 1; run <= 2; run++ {
			want := make([]commands.Outcome, len(cmds))
			for i, c := range cmds {
				want[i].Result, want[i].Err = single.h.Execute(ctx, c, "test")
			}
			got := e.h.ExecuteAll(ctx, cmds, "test")
			accepted, present := 0, 0
			for i := range cmds {
				if domain.ErrorCode(got[i].Err) != domain.ErrorCode(want[i].Err) || got[i].AlreadyPresent != want[i].AlreadyPresent ||
					len(got[i].Events) != len(want[i].Events) {
					t.Errorf("run %d, line %d (%s): batch gave %d events, present %v, %v; in turn: %d events, present %v, %v", run, i+1, cmds[i].Name(),
						len(got[i].Events), got[i].AlreadyPresent, got[i].Err, len(want[i].Events), want[i].AlreadyPresent, want[i].Err)
				}
				switch {
				case want[i].Err == nil && want[i].AlreadyPresent:
					present++
				case want[i].Err == nil:
					accepted++
				}
			}
			if run == 1 && (accepted < 15*copies || accepted == len(cmds)) || run == 2 && (accepted != 2*copies || present < 15*copies) {
				t.Fatalf("run %d: %d of %d lines accepted, %d present: the sequence does not test what it should", run, accepted, len(cmds), present)
			}
			if a, b := shape(t, e.store), shape(t, single.store); a != b {
				t.Fatalf("run %d: the ledgers differ:\nbatch:    %s\nin turn:  %s", run, a, b)
			}
		}
	})
}

// shape is the ledger's event types in order with the position-independent
// part of their streams: what two ledgers of the same commands share.
func shape(t *testing.T, s eventstore.Store) string {
	t.Helper()
	evs, err := s.ReadAll(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, e := range evs {
		out += fmt.Sprintf("%s@%s/%d ", e.Type, e.ID, e.StreamVersion)
	}
	return out
}

// TestExecuteAllBesideAnotherWriter: while a bulk run records scans at a
// checkpoint, another writer re-registers that checkpoint and publishes
// policies; the scans whose conditions it breaks are decided again, and
// every scan is recorded once.
func TestExecuteAllBesideAnotherWriter(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p, cp := uuid.New(), uuid.New()
		e.ok(t, e.register(t, p, "W-1"))
		checkpoint := func(n int) string {
			return fmt.Sprintf(`{"command":"register_checkpoint","at":%q,"checkpoint_id":%q,"name":"Gate %d","kind":"park","district":"Xuhui"}`, e.at(), cp, n)
		}
		e.ok(t, checkpoint(0))
		opts := domain.ParseOptions{Now: func() time.Time { return e.now }, Location: shanghai}
		var cmds []domain.Command
		for i := range 6000 {
			line := fmt.Sprintf(`{"command":"record_scan","at":%q,"checkpoint_id":%q,"person_id":%q,"method":"imported"}`,
				e.now.Add(-2*time.Hour+time.Duration(i)*time.Second).Format(time.RFC3339), cp, p)
			c, err := domain.ParseCommand([]byte(line), opts)
			if err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, c)
		}
		other := commands.New(e.store, e.vault)
		done := make(chan error, 1)
		go func() {
			for n := 1; n <= 20; n++ {
				c, _ := domain.ParseCommand([]byte(checkpoint(n)), opts)
				if _, err := other.Execute(ctx, c, "test"); err != nil {
					done <- err
					return
				}
				c, _ = domain.ParseCommand([]byte(fmt.Sprintf(`{"command":"publish_policy","at":%q,"version":%d,"effective_from":"2020-01-01T00:00:00Z","params":{}}`, e.at(), n+1)), opts)
				if _, err := other.Execute(ctx, c, "test"); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for i, o := range e.h.ExecuteAll(ctx, cmds, "test") {
			if o.Err != nil || o.AlreadyPresent || len(o.Events) != 1 {
				t.Fatalf("scan %d: %+v", i, o)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		cid, _ := domain.ParseCheckpointID(cp.String())
		if v, err := e.store.StreamVersion(ctx, domain.ScansStream(cid)); err != nil || v != 6000 {
			t.Fatalf("%d scans recorded (%v), want 6000", v, err)
		}
		if r, err := eventstore.Verify(ctx, e.store); err != nil || !r.OK {
			t.Fatalf("verify: %+v %v", r, err)
		}
	})
}
