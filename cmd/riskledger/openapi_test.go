package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"

	"github.com/riskledger/riskledger/httpapi"
)

// The API's description (httpapi/openapi.json) is checked against the
// real server: every route is described and nothing else is, and a
// scenario that touches every endpoint has each request and each answer
// (status, content type, headers, body) validated against it.

// TestOpenAPIPaths checks that the description has exactly the server's
// endpoints: those of Server.Routes and the three served beside them.
func TestOpenAPIPaths(t *testing.T) {
	doc := loadOpenAPI(t)
	served := map[string]bool{"GET /healthz": true, "GET /openapi.json": true, "GET /metrics": true}
	for pattern := range (&httpapi.Server{}).Routes() {
		served[pattern] = true
	}
	described := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described[method+" "+path] = true
		}
	}
	for pattern := range served {
		if !described[pattern] {
			t.Errorf("the server serves %s; openapi.json does not describe it", pattern)
		}
	}
	for pattern := range described {
		if !served[pattern] {
			t.Errorf("openapi.json describes %s; the server has no such endpoint", pattern)
		}
	}
}

// TestOpenAPIScenario runs serve on a new ledger and drives a day of the
// city through the API as its users would, and the errors they would
// make, validating every exchange against the description.
func TestOpenAPIScenario(t *testing.T) {
	doc := loadOpenAPI(t)
	s := serve(t, ledger{args: []string{"--data", t.TempDir()}})
	c := newContract(t, s.url, doc)
	admin := s.admin
	now := time.Now().UTC().Truncate(time.Second)
	ago := func(d time.Duration) string { return now.Add(-d).Format(time.RFC3339) }
	zone, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	today := now.In(zone)
	day := func(days int) string { return today.AddDate(0, 0, days).Format(time.DateOnly) }

	// The node, and its description.
	c.call(t, "GET", "/healthz", "", nil, http.StatusOK)
	if ex := c.call(t, "GET", "/openapi.json", "", nil, http.StatusOK); !bytes.Equal(ex.body, httpapi.OpenAPI) {
		t.Error("GET /openapi.json does not serve httpapi.OpenAPI")
	}

	// An admin registers a checkpoint and the people of the scenario.
	checkpoint, a, b, cc, d, g := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	c.command(t, admin, "register_checkpoint", map[string]any{"checkpoint_id": checkpoint, "name": "Line 2, Jing'an Temple",
		"kind": "subway", "district": "Jing'an", "admits": []string{"green"}, "recognises": []string{}, "at": ago(4 * time.Hour)}, http.StatusCreated)
	for i, p := range []string{a, b, cc, d, g} {
		doc := map[string]any{"type": "resident_id", "number": fmt.Sprintf("31010419800101%04d", i), "country": "CN"}
		body := map[string]any{"person_id": p, "name": fmt.Sprintf("Person %d", i), "document": doc, "nationality": "CN", "at": ago(4 * time.Hour)}
		switch i {
		case 0:
			body["phone"] = "+86 138 0013 8000"
		case 1:
			body["phone"] = nil // null: not given
		}
		c.command(t, admin, "register_person", body, http.StatusCreated)
	}
	c.command(t, admin, "verify_identity", map[string]any{"person_id": a, "method": "id_card"}, http.StatusCreated)
	hubei := map[string]any{"region": "Hubei", "from": day(-30), "id": "hubei-designated", "at": ago(4 * time.Hour)}
	c.command(t, admin, "designate_key_area", hubei, http.StatusCreated)
	c.command(t, admin, "designate_key_area", hubei, http.StatusOK)
	hubei["from"] = day(-29)
	c.command(t, admin, "designate_key_area", hubei, http.StatusConflict)
	c.command(t, admin, "lift_key_area", map[string]any{"region": "Hubei", "from": day(-2)}, http.StatusCreated)
	c.command(t, admin, "publish_policy", map[string]any{"version": 2, "effective_from": ago(60 * 24 * time.Hour),
		"params": map[string]any{"contact_window": "30m", "contact_window_by_kind": map[string]string{"subway": "20m"}}}, http.StatusCreated)

	// Tokens for each kind of caller.
	citizenA, citizenD := c.token(t, admin, "citizen", "person", a), c.token(t, admin, "citizen", "person", d)
	guardian := c.token(t, admin, "guardian", "person", g)
	scanner := c.token(t, admin, "checkpoint", "checkpoint", checkpoint)
	clinic, epi := c.token(t, admin, "clinic"), c.token(t, admin, "epidemiologist")
	auditor, issuance := c.token(t, admin, "auditor"), c.token(t, admin, "issuance")

	// The day: a form, scans at the gate, two diagnoses, contacts.
	c.command(t, citizenA, "submit_health_form", map[string]any{"person_id": a, "travel": []any{map[string]any{"region": "Hubei", "arrived_on": day(-20)}},
		"symptoms": []string{}, "temperature_celsius": 36.6, "contact_with_case": false, "at": ago(3 * time.Hour)}, http.StatusCreated)
	for i, p := range []string{a, b, cc} {
		c.command(t, scanner, "record_scan", map[string]any{"checkpoint_id": checkpoint, "person_id": p, "method": "qr",
			"temperature_celsius": 36.5, "at": ago(2*time.Hour - time.Duration(i)*5*time.Minute)}, http.StatusCreated)
	}
	passport := map[string]any{"type": "passport", "number": "E12345678", "country": "FR"}
	visit := c.command(t, scanner, "record_scan", map[string]any{"checkpoint_id": checkpoint, "method": "manual",
		"visitor": map[string]any{"document": passport}, "temperature_celsius": 36.8, "at": ago(105 * time.Minute)}, http.StatusCreated)
	c.command(t, admin, "retract", map[string]any{"event_id": visit.Events[0].ID, "reason": "the visitor was scanned at the wrong gate"}, http.StatusCreated)
	for _, p := range []string{a, cc} {
		c.command(t, clinic, "record_diagnosis", map[string]any{"person_id": p, "result": "confirmed", "at": ago(time.Hour)}, http.StatusCreated)
	}
	c.command(t, citizenD, "report_symptoms", map[string]any{"person_id": d, "symptoms": []string{"fatigue"}, "onset": day(0), "source": "self"}, http.StatusCreated)
	c.command(t, epi, "report_contact", map[string]any{"person_id": b, "other_id": d, "source": "interview", "start": ago(40 * time.Minute), "end": ago(20 * time.Minute)}, http.StatusCreated)
	c.command(t, clinic, "report_contact", map[string]any{"person_id": cc, "other_id": d, "source": "sensor", "end": ago(15 * time.Minute)}, http.StatusCreated)
	c.command(t, admin, "override_colour", map[string]any{"person_id": d, "colour": "yellow", "reason": "household of a case", "until": now.Add(24 * time.Hour).Format(time.RFC3339)}, http.StatusCreated)

	// A guardian's dependents: a form for one, four more, and a fifth too many.
	dependents := []string{uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()}
	apply := func(dep string, want int) {
		c.command(t, guardian, "apply_dependent", map[string]any{"guardian_id": g, "dependent_id": dep, "name": "Child",
			"document": map[string]any{"type": "other", "number": "B" + dep[:8], "country": "CN"}, "nationality": "CN", "usable_from": day(1)}, want)
	}
	apply(dependents[0], http.StatusCreated)
	c.command(t, guardian, "submit_health_form", map[string]any{"person_id": dependents[0], "travel": []any{}, "symptoms": []string{}, "contact_with_case": false}, http.StatusCreated)
	c.command(t, guardian, "end_dependent", map[string]any{"guardian_id": g, "dependent_id": dependents[0]}, http.StatusCreated)
	c.command(t, admin, "erase_person", map[string]any{"person_id": dependents[0], "reason": "asked by the guardian"}, http.StatusCreated)
	for _, dep := range dependents[1:5] {
		apply(dep, http.StatusCreated)
	}
	apply(dependents[5], http.StatusUnprocessableEntity)

	// Codes: issued, checked, scanned.
	var code struct{ Code string }
	c.decode(t, c.call(t, "POST", "/v1/persons/"+d+"/code?png=true", citizenD, nil, http.StatusCreated), &code)
	c.call(t, "POST", "/v1/persons/"+b+"/code", issuance, nil, http.StatusCreated)
	c.call(t, "POST", "/v1/codes/verify", scanner, map[string]any{"code": code.Code}, http.StatusOK)
	c.call(t, "POST", "/v1/codes/verify", auditor, map[string]any{"code": "RL1:NOTACODE", "at": now.Format(time.RFC3339)}, http.StatusOK)
	c.command(t, scanner, "record_scan", map[string]any{"checkpoint_id": checkpoint, "code": code.Code, "method": "qr"}, http.StatusCreated)

	// Colours, once the projection has caught up: A is red.
	eventually(t, func() string {
		ex := c.call(t, "GET", "/v1/persons/"+a+"/colour", citizenA, nil, http.StatusOK, http.StatusNotFound)
		if !bytes.Contains(ex.body, []byte(`"colour":"red"`)) {
			return fmt.Sprintf("A's colour: %d %s", ex.status, ex.body)
		}
		return ""
	})
	c.call(t, "GET", "/v1/persons/"+b+"/colour", issuance, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+b+"/colour?reason=outbreak+42&at="+url.QueryEscape(ago(90*time.Minute)), epi, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+b+"/explain?reason=complaint+7", auditor, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+a+"/explain?at="+url.QueryEscape(ago(30*time.Minute)), citizenA, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+dependents[1]+"/explain", guardian, nil, http.StatusOK)
	c.call(t, "GET", "/v1/colours?reason=audit+sample", auditor, nil, http.StatusOK)
	c.call(t, "GET", "/v1/colours", issuance, nil, http.StatusOK)

	// Records, scan histories and codes.
	c.call(t, "GET", "/v1/persons?document_type=resident_id&document_number=310104198001010000&country=CN&reason=outbreak+42", epi, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+a, citizenA, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+g+"?reason=guardian+check", admin, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+dependents[0]+"?reason=erasure+check", auditor, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+a+"/scans", citizenA, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+b+"/scans?reason=outbreak+42&from="+url.QueryEscape(ago(3*time.Hour)), epi, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+d+"/codes", citizenD, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+d+"/codes?reason=complaint+7", auditor, nil, http.StatusOK)

	// Contacts, chains, clusters.
	c.call(t, "GET", "/v1/persons/"+a+"/contacts?reason=outbreak+42", epi, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+d+"/contacts?reason=outbreak+42&from="+url.QueryEscape(ago(time.Hour)), epi, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+a+"/chain?depth=3&reason=outbreak+42", epi, nil, http.StatusOK)
	c.call(t, "GET", "/v1/persons/"+d+"/chain?upstream=true&reason=outbreak+42&to="+url.QueryEscape(now.Format(time.RFC3339)), admin, nil, http.StatusOK)
	c.call(t, "GET", "/v1/clusters?reason=outbreak+42", epi, nil, http.StatusOK)
	c.call(t, "GET", "/v1/contacts/stats", auditor, nil, http.StatusOK)

	// The audit.
	c.call(t, "GET", "/v1/audit/replay", auditor, nil, http.StatusOK)
	c.call(t, "GET", "/v1/audit/verify", auditor, nil, http.StatusOK)
	c.call(t, "GET", "/v1/audit/checkpoints", admin, nil, http.StatusOK)
	c.call(t, "GET", "/v1/audit/access?reason=quarterly+review&person="+b, auditor, nil, http.StatusOK)

	// The change feed, polled and streamed.
	var page struct{ Next int64 }
	eventually(t, func() string {
		ex := c.call(t, "GET", "/v1/feed/colours?after=0&limit=2", issuance, nil, http.StatusOK)
		if bytes.Contains(ex.body, []byte(`"changes":[]`)) {
			return "the feed has no colour change yet"
		}
		c.decode(t, ex, &page)
		return ""
	})
	c.call(t, "GET", fmt.Sprintf("/v1/feed/colours?after=%d&limit=10&wait=10ms", page.Next), issuance, nil, http.StatusOK)
	c.call(t, "GET", "/v1/feed/colours?after=1099511627776&wait=10ms", issuance, nil, http.StatusOK)
	c.stream(t, "/v1/feed/colours/stream?after=0", issuance, 2)

	// Tokens made and revoked.
	var made struct {
		TokenID string `json:"token_id"`
	}
	c.decode(t, c.call(t, "POST", "/v1/tokens", admin, map[string]any{"role": "auditor", "note": "for the inquiry"}, http.StatusCreated), &made)
	c.call(t, "DELETE", "/v1/tokens/"+made.TokenID+"?reason=inquiry+closed", admin, nil, http.StatusNoContent)
	c.call(t, "DELETE", "/v1/tokens/"+made.TokenID+"?reason=again", admin, nil, http.StatusConflict)
	c.call(t, "DELETE", "/v1/tokens/0123456789abcdef?reason=typo", admin, nil, http.StatusNotFound)

	// Mistakes, each answered with a code and a sentence. Where the
	// description can tell, it refuses the request too.
	c.refused(t, "POST", "/v1/commands/register_person", admin, `{"person_id": `, http.StatusBadRequest)
	c.refused(t, "POST", "/v1/commands/register_person", admin, map[string]any{"person_id": uuid.NewString(), "name": "X",
		"document": map[string]any{"type": "passport", "number": "1", "country": "CN"}, "nationality": "CN", "nickname": "x"}, http.StatusBadRequest)
	c.refused(t, "POST", "/v1/commands/submit_health_form", citizenA, map[string]any{"person_id": a, "travel": []any{}, "symptoms": []string{}, "contact_with_case": false, "at": nil}, http.StatusBadRequest)
	c.refused(t, "POST", "/v1/commands/report_contact", clinic, map[string]any{"person_id": cc, "other_id": d, "source": "sensor", "start": ago(time.Minute)}, http.StatusBadRequest)
	c.refused(t, "POST", "/v1/commands/record_scan", scanner, map[string]any{"checkpoint_id": checkpoint, "person_id": a, "code": code.Code, "method": "qr"}, http.StatusBadRequest)
	c.refused(t, "POST", "/v1/commands/register_checkpoint", admin, map[string]any{"checkpoint_id": checkpoint, "name": "Gate", "kind": "park", "district": "X", "admits": []string{}}, http.StatusBadRequest)
	c.refused(t, "POST", "/v1/commands/designate_key_area", admin, map[string]any{"command": "lift_key_area", "region": "Wuhan", "from": day(0)}, http.StatusBadRequest)
	c.refused(t, "POST", "/v1/commands/report_symptoms", citizenD, map[string]any{"person_id": d, "symptoms": []string{"Fever"}, "source": "self"}, http.StatusBadRequest)
	c.refused(t, "POST", "/v1/commands/teleport", admin, map[string]any{}, http.StatusNotFound)
	c.refused(t, "POST", "/v1/tokens", admin, map[string]any{"role": "citizen", "colour": "red"}, http.StatusBadRequest)
	c.refused(t, "POST", "/v1/codes/verify", scanner, "", http.StatusBadRequest)
	c.refused(t, "GET", "/v1/persons/not-a-person/explain", citizenA, nil, http.StatusBadRequest)
	c.refused(t, "GET", "/v1/persons/"+a+"/chain?depth=11&reason=x", epi, nil, http.StatusBadRequest)
	c.refused(t, "GET", "/v1/feed/colours?wait=soon", issuance, nil, http.StatusBadRequest)
	c.refused(t, "GET", "/v1/persons?document_type=resident_id&reason=x", epi, nil, http.StatusBadRequest)
	c.refused(t, "DELETE", "/v1/tokens/"+made.TokenID, admin, nil, http.StatusBadRequest)
	c.refused(t, "GET", "/v1/contacts/stats", "", nil, http.StatusUnauthorized)
	c.call(t, "GET", "/v1/contacts/stats", "rl_0123456789abcdef.forged", nil, http.StatusUnauthorized)
	c.call(t, "GET", "/v1/colours", citizenA, nil, http.StatusForbidden)
	c.call(t, "POST", "/v1/commands/register_person", citizenA, map[string]any{"person_id": uuid.NewString(), "name": "X",
		"document": map[string]any{"type": "passport", "number": "1", "country": "CN"}, "nationality": "CN"}, http.StatusForbidden)
	c.call(t, "GET", "/v1/persons/"+b+"/colour", citizenA, nil, http.StatusForbidden)
	c.call(t, "GET", "/v1/persons/"+a+"/contacts", epi, nil, http.StatusForbidden)
	c.call(t, "POST", "/v1/commands/record_scan", scanner, map[string]any{"checkpoint_id": uuid.NewString(), "person_id": a, "method": "qr"}, http.StatusForbidden)
	c.call(t, "POST", "/v1/commands/report_symptoms", citizenA, map[string]any{"person_id": a, "symptoms": []string{"cough"}, "source": "clinic"}, http.StatusForbidden)
	c.call(t, "GET", "/v1/persons/"+uuid.NewString()+"/explain?reason=lookup", admin, nil, http.StatusNotFound)
	c.call(t, "GET", "/v1/persons/"+uuid.NewString()+"/colour?reason=lookup", admin, nil, http.StatusNotFound)
	c.call(t, "POST", "/v1/commands/record_diagnosis", clinic, map[string]any{"person_id": uuid.NewString(), "result": "suspected"}, http.StatusNotFound)
	c.call(t, "POST", "/v1/commands/retract", admin, map[string]any{"event_id": uuid.NewString(), "reason": "no such fact"}, http.StatusNotFound)
	c.refused(t, "POST", "/v1/commands/retract", admin, map[string]any{"event_id": uuid.NewString(), "reason": strings.Repeat("x", 1<<20)}, http.StatusRequestEntityTooLarge)
	c.call(t, "POST", "/v1/codes/verify", scanner, map[string]any{"code": strings.Repeat("A", 1<<20)}, http.StatusRequestEntityTooLarge)
	c.call(t, "GET", "/v1/persons/"+uuid.NewString()+"?reason=lookup", admin, nil, http.StatusNotFound)
	c.call(t, "GET", "/v1/persons?document_type=passport&document_number=X1&country=CN&reason=lookup", admin, nil, http.StatusNotFound)

	c.call(t, "GET", "/metrics", "", nil, http.StatusOK)

	// The checks can fail: an answer that breaks the description does.
	t.Run("an answer off the description fails", func(t *testing.T) {
		ex := c.call(t, "GET", "/v1/contacts/stats", auditor, nil, http.StatusOK)
		edit := func(fn func(stats map[string]any)) func(*exchange) {
			return func(e *exchange) {
				var stats map[string]any
				if err := json.Unmarshal(e.body, &stats); err != nil {
					t.Fatal(err)
				}
				fn(stats)
				e.body = encode(t, stats)
			}
		}
		for name, broken := range map[string]exchange{
			"a field of the wrong type": ex.with(edit(func(s map[string]any) { s["people"] = "many" })),
			"a field too many":          ex.with(edit(func(s map[string]any) { s["rumours"] = 1 })),
			"a field missing":           ex.with(edit(func(s map[string]any) { delete(s, "pairs") })),
			"an undescribed status":     ex.with(func(e *exchange) { e.status = http.StatusTeapot }),
			"another content type":      ex.with(func(e *exchange) { e.header.Set("Content-Type", "text/html") }),
		} {
			if err := c.check(ex.request, broken); err == nil {
				t.Errorf("%s: the answer passed as valid", name)
			}
		}
		bad := c.refused(t, "GET", "/v1/contacts/stats", "", nil, http.StatusUnauthorized)
		if err := c.check(bad.request, bad.with(func(e *exchange) { e.body = []byte(`{"code":"forbidden","message":"no"}`) })); err == nil {
			t.Error("a 401 answer with code forbidden passed as valid")
		}
	})
}

// contract validates exchanges with a server against its description.
type contract struct {
	url     string
	doc     *openapi3.T
	router  routers.Router
	options *openapi3filter.Options
}

// exchange is one request, validated or not, and the answer to it.
type exchange struct {
	request *openapi3filter.RequestValidationInput
	status  int
	header  http.Header
	body    []byte
}

// with returns a copy of e changed by fn.
func (e exchange) with(fn func(*exchange)) exchange {
	e.header = e.header.Clone()
	e.body = slices.Clone(e.body)
	fn(&e)
	return e
}

// registerDecoders teaches openapi3filter the streaming media types, once.
var registerDecoders sync.Once

// loadOpenAPI loads and validates the served description.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	registerDecoders.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/x-ndjson", ndjsonDecoder)
		openapi3filter.RegisterBodyDecoder("text/event-stream", eventStreamDecoder)
	})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %s, not 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// newContract validates exchanges with the server at base against doc:
// statuses it does not describe fail too.
func newContract(t *testing.T, base string, doc *openapi3.T) *contract {
	t.Helper()
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{url: base, doc: doc, router: router, options: &openapi3filter.Options{
		AuthenticationFunc:    bearer,
		IncludeResponseStatus: true,
		MultiError:            true,
		SkipSettingDefaults:   true,
	}}
}

// bearer is what the description can check of a token: that one is sent,
// in its form.
func bearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer rl_") {
		return in.NewError(nil)
	}
	return nil
}

// call sends a request that the description allows and checks the answer
// against it; the status must be one of want.
func (c *contract) call(t *testing.T, method, path, token string, body any, want ...int) exchange {
	t.Helper()
	ex := c.send(t, method, path, token, body, true)
	c.expect(t, ex, want)
	return ex
}

// refused sends a request that the description refuses, and checks the
// server's answer (an error) against the description all the same.
func (c *contract) refused(t *testing.T, method, path, token string, body any, want int) exchange {
	t.Helper()
	ex := c.send(t, method, path, token, body, false)
	c.expect(t, ex, []int{want})
	return ex
}

// expect checks an answer's status and that the description allows it.
func (c *contract) expect(t *testing.T, ex exchange, want []int) {
	t.Helper()
	req := ex.request.Request
	if !slices.Contains(want, ex.status) {
		t.Errorf("%s %s: status %d, want %v: %s", req.Method, req.URL.RequestURI(), ex.status, want, short(ex.body))
	}
	if err := c.check(ex.request, ex); err != nil {
		t.Errorf("%s %s: the answer does not match openapi.json: %v\n%d %s", req.Method, req.URL.RequestURI(), err, ex.status, short(ex.body))
	}
}

// command sends a command and returns the result.
func (c *contract) command(t *testing.T, token, name string, body map[string]any, want int) commandResult {
	t.Helper()
	ex := c.call(t, "POST", "/v1/commands/"+name, token, body, want)
	var res commandResult
	if want < 300 {
		c.decode(t, ex, &res)
	}
	return res
}

// commandResult is what the scenario reads of a command's answer.
type commandResult struct {
	Events []struct {
		ID string `json:"id"`
	} `json:"events"`
}

// commandSchema is the body schema of a command: the alternative of
// CommandBody whose title is the command's name.
func (c *contract) commandSchema(t *testing.T, name string) *openapi3.Schema {
	t.Helper()
	body := c.doc.Components.Schemas["CommandBody"]
	if body == nil {
		t.Fatal("openapi.json has no CommandBody")
	}
	for _, alt := range body.Value.AnyOf {
		if alt.Value.Title == name {
			return alt.Value
		}
	}
	t.Fatalf("openapi.json has no body schema titled %s", name)
	return nil
}

// token makes a token through the API.
func (c *contract) token(t *testing.T, admin, role string, binding ...string) string {
	t.Helper()
	req := map[string]string{"role": role}
	if len(binding) == 2 {
		req[binding[0]+"_id"] = binding[1]
	}
	var tok struct{ Token string }
	c.decode(t, c.call(t, "POST", "/v1/tokens", admin, req, http.StatusCreated), &tok)
	return tok.Token
}

// decode reads an answer's JSON body into v.
func (c *contract) decode(t *testing.T, ex exchange, v any) {
	t.Helper()
	if err := json.Unmarshal(ex.body, v); err != nil {
		t.Fatalf("%s %s: %v: %s", ex.request.Request.Method, ex.request.Request.URL.Path, err, short(ex.body))
	}
}

// send makes the request, validates it against the description (which
// must accept it when valid, and refuse it otherwise), and sends it.
func (c *contract) send(t *testing.T, method, path, token string, body any, valid bool) exchange {
	t.Helper()
	payload := encode(t, body)
	req := c.request(t, method, path, token, payload)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: openapi.json has no operation for it: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.options}
	err = openapi3filter.ValidateRequest(context.Background(), in)
	// A command's body is one of every command's (CommandBody); which one
	// is the path's to say, so the body must fit that one.
	if name := params["command"]; err == nil && route.Operation.OperationID == "sendCommand" {
		err = c.commandSchema(t, name).VisitJSON(jsonValue(t, body), openapi3.EnableJSONSchema2020())
	}
	switch {
	case valid && err != nil:
		t.Errorf("%s %s: openapi.json refuses the request: %v", method, path, err)
	case !valid && err == nil:
		t.Errorf("%s %s: openapi.json accepts a request the server refuses", method, path)
	}
	resp, err := http.DefaultClient.Do(c.request(t, method, path, token, payload))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return exchange{request: in, status: resp.StatusCode, header: resp.Header, body: b}
}

// request makes a request with token (none when "") and a JSON payload
// (none when nil).
func (c *contract) request(t *testing.T, method, path, token string, payload []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// encode writes a body as JSON, a string as it is; nil is no body.
func encode(t *testing.T, body any) []byte {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return []byte(b)
	}
	js, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// check validates an answer (status, headers, content type and body)
// against the operation of its request.
func (c *contract) check(req *openapi3filter.RequestValidationInput, ex exchange) error {
	in := &openapi3filter.ResponseValidationInput{RequestValidationInput: req, Status: ex.status, Header: ex.header, Options: c.options}
	in.SetBodyBytes(ex.body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	// The data of a Server-Sent Event is JSON text: its schema is the
	// event's contentSchema, which JSON Schema leaves to the reader.
	described := req.Route.Operation.Responses.Status(ex.status)
	if described == nil || described.Value.Content.Get("text/event-stream") == nil || ex.header.Get("Content-Type") != "text/event-stream" {
		return nil
	}
	event := described.Value.Content.Get("text/event-stream").Schema.Value.Items.Value
	data := event.Properties["data"].Value.ContentSchema.Value
	events, err := eventStreamDecoder(bytes.NewReader(ex.body), ex.header, nil, nil)
	if err != nil {
		return err
	}
	for _, e := range events.([]any) {
		var v any
		if err := json.Unmarshal([]byte(e.(map[string]any)["data"].(string)), &v); err != nil {
			return fmt.Errorf("event %v: data is not JSON: %w", e, err)
		}
		if err := data.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			return fmt.Errorf("event %v: %w", e.(map[string]any)["id"], err)
		}
	}
	return nil
}

// stream reads a Server-Sent Events answer until it has n events, then
// hangs up, and checks what it read.
func (c *contract) stream(t *testing.T, path, token string, n int) {
	t.Helper()
	req := c.request(t, "GET", path, token, nil)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("GET %s: openapi.json has no operation for it: %v", path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.options}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Errorf("GET %s: openapi.json refuses the request: %v", path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(c.request(t, "GET", path, token, nil).WithContext(ctx))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var read bytes.Buffer
	lines := bufio.NewScanner(resp.Body)
	for events := 0; events < n && lines.Scan(); {
		read.Write(lines.Bytes())
		read.WriteByte('\n')
		if len(lines.Bytes()) == 0 {
			events++
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatalf("GET %s: %v after %q", path, err, read.String())
	}
	c.expect(t, exchange{request: in, status: resp.StatusCode, header: resp.Header, body: read.Bytes()}, []int{http.StatusOK})
}

// ndjsonDecoder reads newline-delimited JSON as the description models
// it: an array of its lines.
func ndjsonDecoder(body io.Reader, h http.Header, schema *openapi3.SchemaRef, enc openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for line := range bytes.Lines(b) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			return nil, fmt.Errorf("the last line %q has no newline", line)
		}
		v, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(line), h, nil, enc)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// eventStreamDecoder reads Server-Sent Events as the description models
// them: an array of objects with each event's fields (comments left out).
func eventStreamDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	out := []any{}
	event := map[string]any{}
	lines := bufio.NewScanner(body)
	for lines.Scan() {
		line := lines.Text()
		switch {
		case line == "":
			if len(event) > 0 {
				out = append(out, event)
				event = map[string]any{}
			}
		case strings.HasPrefix(line, ":"):
		default:
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			if name == "retry" {
				n, err := strconv.Atoi(value)
				if err != nil {
					return nil, fmt.Errorf("retry %q is not a number", value)
				}
				event[name] = n
				continue
			}
			if prev, ok := event[name].(string); ok && name == "data" {
				value = prev + "\n" + value
			}
			event[name] = value
		}
	}
	if len(event) > 0 {
		return nil, fmt.Errorf("the stream ends inside an event: %v", event)
	}
	return out, lines.Err()
}

// jsonValue is v as JSON reads it back (maps, slices, float64s).
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal(encode(t, v), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// short cuts a body for a message.
func short(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}
