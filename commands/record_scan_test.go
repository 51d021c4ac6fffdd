package commands_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
)

// fixedColours is a colour view that knows one colour for everyone, at a
// given ledger position: what the colour projection will answer.
type fixedColours struct {
	colour domain.Colour
	pos    int64
}

func (f fixedColours) ColourAt(context.Context, domain.PersonID, time.Time) (domain.Colour, int64, error) {
	return f.colour, f.pos, nil
}

func TestRecordScanAdmission(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		p, cp := uuid.New(), uuid.New()
		e.ok(t, e.register(t, p, "S1"))
		e.ok(t, fmt.Sprintf(`{"command":"register_checkpoint","at":%q,"checkpoint_id":%q,"name":"Park east gate","kind":"park","district":"Xuhui","admits":["green","yellow"]}`, e.at(), cp))
		// Each scan at its own second: a line repeated to the letter is the
		// same fact, and appends nothing the second time.
		n := 0
		scan := func(extra string) string {
			n++
			return fmt.Sprintf(`{"command":"record_scan","at":%q,"checkpoint_id":%q,%s}`, e.now.Add(-time.Minute+time.Duration(n)*time.Second).Format(time.RFC3339), cp, extra)
		}
		read := func(line string) (domain.ScanRecorded, int) {
			t.Helper()
			r := e.ok(t, line)
			var s domain.ScanRecorded
			if err := json.Unmarshal(r.Events[0].Payload, &s); err != nil {
				t.Fatal(err)
			}
			return s, len(r.Events)
		}

		// A feverish reading is denied whatever the colour, and is a
		// symptom report in the same append.
		s, events := read(scan(fmt.Sprintf(`"person_id":%q,"method":"imported","temperature_celsius":37.3`, p)))
		if s.Admitted || events != 2 {
			t.Fatalf("feverish imported scan: %+v, %d events", s, events)
		}
		s, _ = read(scan(fmt.Sprintf(`"person_id":%q,"method":"imported","temperature_celsius":37.2`, p)))
		if !s.Admitted {
			t.Fatalf("imported scan below the fever threshold: %+v", s)
		}
		// Codes and manual checks need the colour view.
		_, err := e.run(t, scan(fmt.Sprintf(`"person_id":%q,"method":"manual"`, p)))
		wantCode(t, err, domain.Unavailable)
		e.h.SetColours(fixedColours{domain.Yellow, 17})
		s, _ = read(scan(fmt.Sprintf(`"person_id":%q,"method":"manual"`, p)))
		if !s.Admitted || s.Colour != domain.Yellow || s.ViewPosition != 17 {
			t.Fatalf("yellow at a checkpoint that admits yellow: %+v", s)
		}
		e.h.SetColours(fixedColours{domain.Red, 18})
		s, _ = read(scan(fmt.Sprintf(`"person_id":%q,"method":"manual"`, p)))
		if s.Admitted || s.Colour != domain.Red {
			t.Fatalf("red: %+v", s)
		}
		// Visitors without a code: admitted on temperature alone.
		visitor := `"visitor":{"document":{"type":"passport","number":"X99","country":"US"}},"method":"manual"`
		if s, _ = read(scan(visitor + `,"temperature_celsius":36.5`)); !s.Admitted || s.Subject.Kind != domain.SubjectVisitor || s.Subject.VisitorIndex == "" {
			t.Fatalf("visitor with a normal temperature: %+v", s)
		}
		if s, _ = read(scan(visitor)); s.Admitted {
			t.Fatalf("visitor without a reading: %+v", s)
		}
		// A later policy with a higher threshold is in force from its time.
		e.ok(t, fmt.Sprintf(`{"command":"publish_policy","at":%q,"version":2,"params":{"fever_celsius":37.5},"effective_from":%q}`,
			e.at(), e.now.Add(-time.Minute+time.Duration(n)*time.Second).Format(time.RFC3339)))
		if s, _ = read(scan(fmt.Sprintf(`"person_id":%q,"method":"imported","temperature_celsius":37.4`, p))); !s.Admitted {
			t.Fatalf("37.4 under policy 2 (fever at 37.5): %+v", s)
		}

		_, err = e.run(t, fmt.Sprintf(`{"command":"record_scan","at":%q,"checkpoint_id":%q,"person_id":%q,"method":"imported"}`, e.at(), uuid.New(), p))
		wantCode(t, err, domain.NotFound)
		_, err = e.run(t, scan(fmt.Sprintf(`"person_id":%q,"method":"imported"`, uuid.New())))
		wantCode(t, err, domain.NotFound)
	})
}
