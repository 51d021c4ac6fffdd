package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/httpapi"
)

// roleNames are the roles, in the columns of the matrix below.
var roleNames = []string{"citizen", "guardian", "checkpoint", "clinic", "epidemiologist", "auditor", "issuance", "admin"}

// roleMatrix says, for every endpoint (and every command), which roles are
// let through (Y) and which are refused with 403 (-), in the order of
// roleNames. It is the access policy written down once more, by hand.
var roleMatrix = []struct {
	endpoint string
	allowed  string
}{
	{"register_person", "- - - - - - - Y"},
	{"verify_identity", "- - - - - - - Y"},
	{"apply_dependent", "Y Y - - - - - Y"},
	{"end_dependent", "Y Y - - - - - Y"},
	{"submit_health_form", "Y Y - - - - - Y"},
	{"report_symptoms", "Y Y Y Y - - - Y"},
	{"record_diagnosis", "- - - Y - - - Y"},
	{"designate_key_area", "- - - - - - - Y"},
	{"lift_key_area", "- - - - - - - Y"},
	{"register_checkpoint", "- - - - - - - Y"},
	{"record_scan", "- - Y - - - - Y"},
	{"report_contact", "- - - Y Y - - Y"},
	{"override_colour", "- - - - - - - Y"},
	{"publish_policy", "- - - - - - - Y"},
	{"erase_person", "- - - - - - - Y"},
	{"retract", "- - - - - - - Y"},
	{"POST /v1/persons/{person}/code", "Y Y - - - - Y Y"},
	{"POST /v1/codes/verify", "- - Y - - Y Y Y"},
	{"GET /v1/persons/{person}/colour", "Y Y - - Y Y Y Y"},
	{"GET /v1/persons/{person}/explain", "Y Y - - Y Y - Y"},
	{"GET /v1/persons", "- - - - Y Y - Y"},
	{"GET /v1/persons/{person}", "Y Y - - Y Y - Y"},
	{"GET /v1/persons/{person}/scans", "Y Y - - Y Y - Y"},
	{"GET /v1/persons/{person}/codes", "Y Y - - Y Y - Y"},
	{"GET /v1/persons/{person}/contacts", "- - - - Y - - Y"},
	{"GET /v1/persons/{person}/chain", "- - - - Y - - Y"},
	{"GET /v1/colours", "- - - - Y Y Y Y"},
	{"GET /v1/clusters", "- - - - Y - - Y"},
	{"GET /v1/contacts/stats", "- - - - Y Y - Y"},
	{"GET /v1/audit/replay", "- - - - - Y - Y"},
	{"GET /v1/audit/access", "- - - - - Y - Y"},
	{"GET /v1/audit/verify", "- - - - - Y - Y"},
	{"GET /v1/audit/checkpoints", "- - - - - Y - Y"},
	{"GET /v1/feed/colours", "- - - - - - Y Y"},
	{"GET /v1/feed/colours/stream", "- - - - - - Y Y"},
	{"POST /v1/tokens", "- - - - - - - Y"},
	{"DELETE /v1/tokens/{token}", "- - - - - - - Y"},
	{"GET /v1/whoami", "Y Y Y Y Y Y Y Y"},
}

// TestAPIRoleMatrix calls every endpoint and every command with a token of
// every role, and with none: each allowed call succeeds (2xx), each other
// is refused (403 forbidden; 401 without a token), and a refused command
// appends nothing.
func TestAPIRoleMatrix(t *testing.T) {
	s := serve(t, ledger{args: []string{"--data", t.TempDir()}})
	id := func() string { return uuid.NewString() }
	p, g, d, e, cp := id(), id(), id(), id(), id()
	now := time.Now()
	today := now.Format(time.DateOnly)
	tomorrow := now.Add(48 * time.Hour).Format(time.DateOnly) // a day ahead in any zone
	register := func(p, number string) {
		s.command(t, s.admin, "register_person", map[string]any{"person_id": p, "name": "N", "nationality": "CN",
			"document": map[string]any{"type": "resident_id", "number": number, "country": "CN"}})
	}
	register(p, "310101199001011234")
	register(g, "310101199001015678")
	register(e, "310101199001019999")
	s.command(t, s.admin, "register_checkpoint", map[string]any{"checkpoint_id": cp, "name": "Gate", "kind": "subway", "district": "Xuhui"})
	s.command(t, s.admin, "apply_dependent", map[string]any{"guardian_id": g, "dependent_id": d, "name": "Kid", "nationality": "CN",
		"document": map[string]any{"type": "other", "number": "kid-1", "country": "CN"}, "usable_from": tomorrow})
	var form struct{ Events []httpapi.EventRecord }
	json.Unmarshal(s.command(t, s.admin, "submit_health_form", map[string]any{"person_id": e, "travel": []any{}, "symptoms": []any{}, "contact_with_case": false}), &form)

	tokens := map[string]string{
		"citizen": s.token(t, "citizen", "person", p), "guardian": s.token(t, "guardian", "person", g),
		"checkpoint": s.token(t, "checkpoint", "checkpoint", cp),
	}
	for _, r := range roleNames[3:] {
		tokens[r] = s.token(t, r)
	}
	// own is the person a role's path and body name: their own for
	// citizens and guardians.
	own := map[string]string{"citizen": p, "guardian": g}
	person := func(role string) string {
		if v, ok := own[role]; ok {
			return v
		}
		return p
	}
	dependents := map[string]string{}
	commandBody := func(name, role string) map[string]any {
		who := person(role)
		switch name {
		case "register_person":
			return map[string]any{"person_id": id(), "name": "N", "nationality": "CN", "document": map[string]any{"type": "passport", "number": id(), "country": "FR"}}
		case "verify_identity":
			return map[string]any{"person_id": who, "method": "face_scan"}
		case "apply_dependent":
			dependents[role] = id()
			return map[string]any{"guardian_id": who, "dependent_id": dependents[role], "name": "Kid", "nationality": "CN",
				"document": map[string]any{"type": "other", "number": id(), "country": "CN"}, "usable_from": tomorrow}
		case "end_dependent":
			return map[string]any{"guardian_id": who, "dependent_id": dependents[role]}
		case "submit_health_form":
			return map[string]any{"person_id": who, "travel": []any{}, "symptoms": []any{}, "contact_with_case": false}
		case "report_symptoms":
			source := map[string]string{"clinic": "clinic", "checkpoint": "checkpoint"}[role]
			if source == "" {
				source = "self"
			}
			return map[string]any{"person_id": who, "symptoms": []string{"cough"}, "source": source}
		case "record_diagnosis":
			return map[string]any{"person_id": who, "result": "ruled_out"}
		case "designate_key_area", "lift_key_area":
			return map[string]any{"region": "Hubei", "from": today}
		case "register_checkpoint":
			return map[string]any{"checkpoint_id": id(), "name": "Park", "kind": "park", "district": "Minhang"}
		case "record_scan":
			return map[string]any{"checkpoint_id": cp, "person_id": p, "method": "manual", "temperature_celsius": 36.5}
		case "report_contact":
			return map[string]any{"person_id": p, "other_id": g, "source": "interview", "start": now.Add(-time.Hour).Format(time.RFC3339)}
		case "override_colour":
			return map[string]any{"person_id": who, "colour": "green", "reason": "test at the border", "until": now.Add(time.Hour).Format(time.RFC3339)}
		case "publish_policy":
			return map[string]any{"version": 2, "effective_from": now.Format(time.RFC3339), "params": map[string]any{"fever_celsius": 37.3}}
		case "erase_person":
			return map[string]any{"person_id": e, "reason": "asked to be forgotten"}
		case "retract":
			return map[string]any{"event_id": form.Events[0].ID.String(), "reason": "entered for the wrong person"}
		}
		t.Fatalf("no body for %s", name)
		return nil
	}

	call := func(endpoint, role, token string) (int, []byte) {
		if !strings.Contains(endpoint, " ") {
			return s.do(t, "POST", "/v1/commands/"+endpoint, token, commandBody(endpoint, role))
		}
		method, path, _ := strings.Cut(endpoint, " ")
		path = strings.ReplaceAll(path, "{person}", person(role))
		var body any
		switch endpoint {
		case "POST /v1/codes/verify":
			body = map[string]string{"code": "RL1:NOTACODE"}
		case "POST /v1/tokens":
			body = map[string]string{"role": "issuance"}
		case "DELETE /v1/tokens/{token}":
			_, b := s.do(t, "POST", "/v1/tokens", s.admin, map[string]string{"role": "issuance"})
			var tok struct {
				TokenID string `json:"token_id"`
			}
			json.Unmarshal(b, &tok)
			path = strings.ReplaceAll(path, "{token}", tok.TokenID) + "?reason=test"
		case "GET /v1/persons/{person}/chain":
			path += "?depth=2"
		case "GET /v1/persons":
			path += "?document_type=resident_id&document_number=310101199001011234&country=CN"
		}
		if method == "GET" {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + "reason=case+7" // a person's looks need one
		}
		if endpoint == "GET /v1/feed/colours/stream" {
			return stream(t, s.url+path, token)
		}
		return s.do(t, method, path, token, body)
	}

	covered := map[string]bool{}
	for _, row := range roleMatrix {
		covered[row.endpoint] = true
		allowed := strings.Fields(row.allowed)
		for i, role := range roleNames {
			code, body := call(row.endpoint, role, tokens[role])
			var e struct{ Code string }
			json.Unmarshal(body, &e)
			switch {
			case allowed[i] == "Y" && (code < 200 || code > 299):
				t.Errorf("%s as %s: %d %s, want it allowed", row.endpoint, role, code, body)
			case allowed[i] == "-" && (code != http.StatusForbidden || e.Code != "forbidden"):
				t.Errorf("%s as %s: %d %s, want 403 forbidden", row.endpoint, role, code, body)
			}
		}
		if code, body := call(row.endpoint, "nobody", ""); code != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d %s, want 401", row.endpoint, code, body)
		}
	}
	// Every route and every command of the command file is in the matrix.
	for pattern := range (&httpapi.Server{}).Routes() {
		if pattern != "POST /v1/commands/{command}" && !covered[pattern] {
			t.Errorf("%s is not in the role matrix", pattern)
		}
	}
	for _, name := range commandNames() {
		if !covered[name] {
			t.Errorf("command %s is not in the role matrix", name)
		}
	}
}

// TestAPIRefusalsAppendNothing: a refused or malformed request leaves the
// ledger as it was.
func TestAPIRefusalsAppendNothing(t *testing.T) {
	s := serve(t, ledger{args: []string{"--data", t.TempDir()}})
	clinic := s.token(t, "clinic")
	head := func() int64 {
		_, b := s.do(t, "GET", "/healthz", "", nil)
		var h struct{ Head struct{ Position int64 } }
		json.Unmarshal(b, &h)
		return h.Head.Position
	}
	before := head()
	p := uuid.NewString()
	for _, c := range []struct {
		name, path, token string
		body              string
		status            int
		code              string
	}{
		{"a role that may not register", "/v1/commands/register_person", clinic, `{"person_id":"` + p + `","name":"N","nationality":"CN","document":{"type":"passport","number":"X1","country":"FR"}}`, 403, "forbidden"},
		{"malformed JSON", "/v1/commands/register_person", s.admin, `{"person_id":`, 400, "invalid"},
		{"an unknown field", "/v1/commands/register_person", s.admin, `{"person_id":"` + p + `","name":"N","nationality":"CN","document":{"type":"passport","number":"X1","country":"FR"},"colour":"green"}`, 400, "invalid"},
		{"a body naming another command", "/v1/commands/register_person", s.admin, `{"command":"retract"}`, 400, "invalid"},
		{"a scan of an unknown person", "/v1/commands/record_scan", s.admin, `{"checkpoint_id":"` + uuid.NewString() + `","person_id":"` + p + `","method":"qr"}`, 404, "not_found"},
		{"an unknown command", "/v1/commands/launch", s.admin, `{}`, 404, "not_found"},
		{"a body too large", "/v1/commands/register_person", s.admin, `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "too_large"},
		{"a bad token", "/v1/commands/register_person", "rl_0000000000000000.nope", `{}`, 401, "unauthenticated"},
	} {
		code, b := s.do(t, "POST", c.path, c.token, c.body)
		var e struct{ Code, Message string }
		if json.Unmarshal(b, &e) != nil || code != c.status || e.Code != c.code || e.Message == "" {
			t.Errorf("%s: %d %s, want %d %s with a message", c.name, code, b, c.status, c.code)
		}
	}
	if after := head(); after != before {
		t.Errorf("refused requests moved the head from %d to %d", before, after)
	}
}

// stream opens the change feed's event stream, reads its status and
// closes it.
func stream(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("the stream's content type is %q", ct)
		}
		return resp.StatusCode, nil
	}
	b := make([]byte, 4096)
	n, _ := resp.Body.Read(b)
	return resp.StatusCode, b[:n]
}

// commandNames are the command file's commands (DESIGN §5.1).
func commandNames() []string {
	return slices.Clone([]string{"register_person", "verify_identity", "apply_dependent", "end_dependent", "submit_health_form",
		"report_symptoms", "record_diagnosis", "designate_key_area", "lift_key_area", "register_checkpoint", "record_scan",
		"report_contact", "override_colour", "publish_policy", "erase_person", "retract"})
}
