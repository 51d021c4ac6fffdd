package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/httpapi"
	"github.com/riskledger/riskledger/projections"
)

// TestAPIEndToEnd runs the real server on each store: two persons pass one
// gate minutes apart, one reports a fever, and the other turns yellow; the
// change feed (long-poll and Server-Sent Events) delivers the change to
// the issuance layer, an epidemiologist looks at the case's contacts with
// a reason, and the access log shows that look.
func TestAPIEndToEnd(t *testing.T) {
	ledgers(t, func(t *testing.T, l ledger) {
		s := serve(t, l)
		a, b, cp := uuid.NewString(), uuid.NewString(), uuid.NewString()
		now := time.Now()
		for i, p := range []string{a, b} {
			s.command(t, s.admin, "register_person", map[string]any{"person_id": p, "name": "N", "nationality": "CN",
				"document": map[string]any{"type": "resident_id", "number": fmt.Sprintf("31010119900101%04d", i), "country": "CN"}})
		}
		s.command(t, s.admin, "register_checkpoint", map[string]any{"checkpoint_id": cp, "name": "Xujiahui station", "kind": "subway", "district": "Xuhui"})
		citizen := s.token(t, "citizen", "person", a)
		gate := s.token(t, "checkpoint", "checkpoint", cp)
		issuance := s.token(t, "issuance")
		epi := s.token(t, "epidemiologist")
		auditor := s.token(t, "auditor")

		s.command(t, citizen, "submit_health_form", map[string]any{"person_id": a, "travel": []any{}, "symptoms": []any{}, "contact_with_case": false})
		for i, p := range []string{a, b} {
			var r httpapi.CommandResult
			json.Unmarshal(s.command(t, gate, "record_scan", map[string]any{"checkpoint_id": cp, "person_id": p, "method": "qr",
				"at": now.Add(time.Duration(i*5-10) * time.Minute).Format(time.RFC3339)}), &r)
			var scan domain.ScanRecorded
			if len(r.Events) != 1 || json.Unmarshal(r.Events[0].Data, &scan) != nil || !scan.Admitted || scan.Colour != domain.Green {
				t.Fatalf("scan of %s: %+v", p, r)
			}
		}
		s.command(t, citizen, "report_symptoms", map[string]any{"person_id": a, "symptoms": []string{"fever"}, "source": "self"})

		// The feed delivers b's turn to yellow (long-poll, from the start).
		var yellow httpapi.ColourChange
		after := int64(0)
		eventually(t, func() string {
			code, body := s.do(t, "GET", fmt.Sprintf("/v1/feed/colours?after=%d&wait=2s", after), issuance, nil)
			var page httpapi.FeedPage
			if code != 200 || json.Unmarshal(body, &page) != nil {
				return fmt.Sprintf("feed: %d %s", code, body)
			}
			for _, raw := range page.Changes {
				var c httpapi.ColourChange
				json.Unmarshal(raw, &c)
				if c.Change.PersonID.String() == b && c.Change.Colour == domain.Yellow {
					yellow = c
					return ""
				}
			}
			after = page.Next
			return fmt.Sprintf("the feed has not delivered b's yellow after position %d", after)
		})
		if len(yellow.Change.Reasons) != 1 || yellow.Change.Reasons[0].Rule != domain.RuleY1 {
			t.Errorf("b's change: %+v", yellow)
		}
		// ... and so does the event stream, resumed from just before it.
		if got := streamUntil(t, s.url+"/v1/feed/colours/stream", issuance, yellow.Position-1); got.Position != yellow.Position || got.Change.PersonID != yellow.Change.PersonID {
			t.Errorf("the stream from %d delivered %+v first, want position %d", yellow.Position-1, got, yellow.Position)
		}
		// The issuance layer reads b's projected colour.
		eventually(t, func() string {
			code, body := s.do(t, "GET", "/v1/persons/"+b+"/colour", issuance, nil)
			var row projections.Row
			if code != 200 || json.Unmarshal(body, &row) != nil || row.Colour != domain.Yellow {
				return fmt.Sprintf("b's projected colour: %d %s", code, body)
			}
			return ""
		})

		// The epidemiologist's look needs a reason, and is recorded.
		if code, body := s.do(t, "GET", "/v1/persons/"+a+"/contacts", epi, nil); code != http.StatusForbidden {
			t.Errorf("contacts without a reason: %d %s", code, body)
		}
		code, body := s.do(t, "GET", "/v1/persons/"+a+"/contacts?reason=case+2020-0142", epi, nil)
		var es []projections.Exposure
		if code != 200 || json.Unmarshal(body, &es) != nil || len(es) != 1 || es[0].Other.String() != b ||
			len(es[0].Yellow) != 1 || es[0].Yellow[0].Person.String() != b {
			t.Errorf("a's contacts: %d %s", code, body)
		}
		code, body = s.do(t, "GET", "/v1/audit/access?person="+a+"&reason=quarterly+review", auditor, nil)
		var looks []projections.Access
		if code != 200 || json.Unmarshal(body, &looks) != nil {
			t.Fatalf("access log: %d %s", code, body)
		}
		seen := false
		for _, l := range looks {
			seen = seen || l.Role == domain.RoleEpidemiologist && l.Query == "contacts" && l.Reason == "case 2020-0142" && l.Actor == "token:"+tokenID(epi)
		}
		if !seen {
			t.Errorf("the access log does not show the epidemiologist's look: %s", body)
		}
		// A search by document, the person's record and scans: each a look
		// on the record.
		code, body = s.do(t, "GET", "/v1/persons?document_type=resident_id&document_number=310101199001010000&country=CN&reason=call+back", epi, nil)
		var found httpapi.FoundPerson
		if code != 200 || json.Unmarshal(body, &found) != nil || found.PersonID.String() != a {
			t.Errorf("search by document: %d %s", code, body)
		}
		code, body = s.do(t, "GET", "/v1/persons/"+a+"?reason=call+back", epi, nil)
		if code != 200 || !strings.Contains(string(body), `"name":"N"`) || !strings.Contains(string(body), `"number":"310101199001010000"`) {
			t.Errorf("a's record: %d %s", code, body)
		}
		code, body = s.do(t, "GET", "/v1/persons/"+a+"/scans", citizen, nil)
		var scans []projections.Scan
		if code != 200 || json.Unmarshal(body, &scans) != nil || len(scans) != 1 || scans[0].Place.Name != "Xujiahui station" || !scans[0].Admitted {
			t.Errorf("a's own scans: %d %s", code, body)
		}
		if code, body := s.do(t, "GET", "/v1/persons/"+b+"/scans", citizen, nil); code != http.StatusForbidden {
			t.Errorf("a's token reading b's scans: %d %s", code, body)
		}
		code, body = s.do(t, "POST", "/v1/persons/"+a+"/code", citizen, nil)
		var issued httpapi.IssuedCode
		if code != http.StatusCreated || json.Unmarshal(body, &issued) != nil || issued.Colour != domain.Red {
			t.Errorf("a's code: %d %s", code, body)
		}
		eventually(t, func() string {
			code, body := s.do(t, "GET", "/v1/persons/"+a+"/codes", citizen, nil)
			var codes []domain.CodeIssued
			if code != 200 || json.Unmarshal(body, &codes) != nil || len(codes) != 1 || codes[0].Code != issued.Code {
				return fmt.Sprintf("a's codes: %d %s", code, body)
			}
			return ""
		})
		// The command line reads the same log beside the server.
		if code, out, errs := l.run(t, "audit", "access", "--person", a); code != 0 || !strings.Contains(out, "contacts of "+a+`: "case 2020-0142"`) {
			t.Errorf("audit access: %d %q %q", code, out, errs)
		}
	})
}

func tokenID(token string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(token, "rl_"), ".")
	return id
}

// streamUntil reads the change feed's event stream from after and returns
// its first change.
func streamUntil(t *testing.T, url, token string, after int64) httpapi.ColourChange {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Last-Event-ID", fmt.Sprint(after))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var id string
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			var c httpapi.ColourChange
			if err := json.Unmarshal([]byte(v), &c); err != nil || fmt.Sprint(c.Position) != id {
				t.Fatalf("event %s: %s (%v)", id, v, err)
			}
			return c
		}
	}
	t.Fatalf("the stream ended: %v", sc.Err())
	return httpapi.ColourChange{}
}
