package domain_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/riskledger/riskledger/domain"
)

// FuzzParseCommand feeds ParseCommand arbitrary lines. It must never panic;
// every rejection must be an Invalid *domain.Error with a message; and every
// accepted line must marshal to a line that parses to the same command with
// the same idempotency key, so that what the ledger stores can be read back.
func FuzzParseCommand(f *testing.F) {
	for _, line := range validLines {
		f.Add([]byte(expand(line)))
	}
	f.Add([]byte(expand(`{"command":"record_scan","at":"2020-03-01T08:15:00+08:00","recorded_at":"2020-03-01T08:15:02+08:00","checkpoint_id":"$C1","visitor":{"document":{"type":"other","number":"X1","country":"Laos"}},"method":"manual"}`)))
	f.Add([]byte(expand(`{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"interview","start":"2020-03-01T08:00:00.5+08:00","end":null}`)))
	f.Add([]byte(`{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":3,"params":{"contact_window_by_kind":{"subway":"10m","bus":"1h0m0s"},"triggering_symptoms":["fever","loss_of_smell"]},"effective_from":"2020-03-02T00:00:00Z"}`))
	opts := testOptions(f)
	opts.AllowRecordedAt = true
	f.Fuzz(func(t *testing.T, line []byte) {
		cmd, err := domain.ParseCommand(line, opts)
		if err != nil {
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.Invalid || de.Message == "" {
				t.Fatalf("line %q: error %#v is not an Invalid *domain.Error with a message", line, err)
			}
			return
		}
		out, err := json.Marshal(cmd)
		if err != nil {
			t.Fatalf("line %q parsed to %#v, which does not marshal: %v", line, cmd, err)
		}
		back, err := domain.ParseCommand(out, opts)
		if err != nil {
			t.Fatalf("line %q marshalled to %s, which does not parse: %v", line, out, err)
		}
		if !reflect.DeepEqual(back, cmd) {
			t.Fatalf("line %q: round trip through %s\n gave %#v\nwant %#v", line, out, back, cmd)
		}
		k1, err1 := domain.IdempotencyKey(cmd)
		k2, err2 := domain.IdempotencyKey(back)
		if err1 != nil || err2 != nil || k1 != k2 || k1 == "" {
			t.Fatalf("line %q: keys %q (%v) and %q (%v)", line, k1, err1, k2, err2)
		}
	})
}
