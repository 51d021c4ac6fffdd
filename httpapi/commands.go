package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// commandRoles says which roles may send each command of the command file
// (DESIGN §5.1); binding checks (a citizen's own person, a checkpoint's
// own scans) come on top, in authorise.
var commandRoles = map[string][]domain.Role{
	domain.CmdRegisterPerson:     {domain.RoleAdmin},
	domain.CmdVerifyIdentity:     {domain.RoleAdmin},
	domain.CmdApplyDependent:     {domain.RoleCitizen, domain.RoleGuardian, domain.RoleAdmin},
	domain.CmdEndDependent:       {domain.RoleCitizen, domain.RoleGuardian, domain.RoleAdmin},
	domain.CmdSubmitHealthForm:   {domain.RoleCitizen, domain.RoleGuardian, domain.RoleAdmin},
	domain.CmdReportSymptoms:     {domain.RoleCitizen, domain.RoleGuardian, domain.RoleClinic, domain.RoleCheckpoint, domain.RoleAdmin},
	domain.CmdRecordDiagnosis:    {domain.RoleClinic, domain.RoleAdmin},
	domain.CmdDesignateKeyArea:   {domain.RoleAdmin},
	domain.CmdLiftKeyArea:        {domain.RoleAdmin},
	domain.CmdRegisterCheckpoint: {domain.RoleAdmin},
	domain.CmdRecordScan:         {domain.RoleCheckpoint, domain.RoleAdmin},
	domain.CmdReportContact:      {domain.RoleEpidemiologist, domain.RoleClinic, domain.RoleAdmin},
	domain.CmdOverrideColour:     {domain.RoleAdmin},
	domain.CmdPublishPolicy:      {domain.RoleAdmin},
	domain.CmdErasePerson:        {domain.RoleAdmin},
	domain.CmdRetract:            {domain.RoleAdmin},
}

// CommandResult is the answer to a command: the events it appended, or
// found appended before (already_present: same id, same content).
type CommandResult struct {
	Command        string        `json:"command"`
	AlreadyPresent bool          `json:"already_present"`
	Events         []EventRecord `json:"events"`
}

// EventRecord is one event of the ledger as the API shows it.
type EventRecord struct {
	ID         uuid.UUID       `json:"id"`
	Position   int64           `json:"position"`
	Stream     string          `json:"stream"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	RecordedAt time.Time       `json:"recorded_at"`
	Data       json.RawMessage `json:"data"`
}

func eventRecords(evs []eventstore.Event) []EventRecord {
	out := make([]EventRecord, len(evs))
	for i, e := range evs {
		out[i] = EventRecord{ID: e.ID, Position: e.Position, Stream: e.Stream, Type: e.Type, OccurredAt: e.OccurredAt, RecordedAt: e.RecordedAt, Data: e.Payload}
	}
	return out
}

// command: POST /v1/commands/{command}. The body holds the command file's
// fields for that command (DESIGN §5.1); "command" may be left out, and
// "at" too (then it is now). It is parsed exactly as an import line is,
// so that both paths refuse the same things.
func (s *Server) command(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("command")
	roles, ok := commandRoles[name]
	if !ok {
		return domain.Errorf(domain.NotFound, "no command %q; the commands are %s", name, strings.Join(domain.CommandNames(), ", "))
	}
	if !hasRole(roles, c.role()) {
		return domain.Errorf(domain.Forbidden, "the %s role may not send %s", c.role(), name)
	}
	if err := s.needs(s.Commands); err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	line, err := commandLine(name, body, s.now())
	if err != nil {
		return err
	}
	cmd, err := domain.ParseCommand(line, s.Options)
	if err != nil {
		return err
	}
	if err := s.authorise(r, c, cmd); err != nil {
		return err
	}
	res, err := s.Commands.Execute(r.Context(), cmd, c.actor())
	if err != nil {
		return err
	}
	if s.Metrics != nil {
		s.Metrics.appended(res.Events, res.AlreadyPresent)
	}
	status := http.StatusCreated
	if res.AlreadyPresent {
		status = http.StatusOK
	}
	writeJSON(w, status, CommandResult{Command: name, AlreadyPresent: res.AlreadyPresent, Events: eventRecords(res.Events)})
	return nil
}

// commandLine makes the body a line of the command file: one JSON object,
// with "command" (which, if the body names one, must be name) and "at"
// (now, when the body has none).
func commandLine(name string, body []byte, now time.Time) ([]byte, error) {
	body = bytes.TrimSpace(body)
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || len(body) == 0 || body[0] != '{' {
		return nil, domain.Errorf(domain.Invalid, "the body must be one JSON object with the fields of %s (DESIGN §5.1)", name)
	}
	var prefix []string
	if v, ok := fields["command"]; ok {
		var given string
		if json.Unmarshal(v, &given) != nil || given != name {
			return nil, domain.Errorf(domain.Invalid, "the body names command %s, the path %s; leave \"command\" out or make them agree", v, name)
		}
	} else {
		prefix = append(prefix, `"command":"`+name+`"`)
	}
	if v, ok := fields["at"]; ok && string(bytes.TrimSpace(v)) == "null" {
		return nil, domain.Errorf(domain.Invalid, "field \"at\" is null: leave it out (it is then now) or give an RFC 3339 time with an offset")
	}
	if _, ok := fields["at"]; !ok {
		prefix = append(prefix, `"at":"`+now.UTC().Format(time.RFC3339Nano)+`"`)
	}
	if len(prefix) == 0 {
		return body, nil
	}
	rest := bytes.TrimSpace(body[1:])
	sep := ","
	if len(rest) > 0 && rest[0] == '}' {
		sep = ""
	}
	return slices.Concat([]byte("{"+strings.Join(prefix, ",")+sep), rest), nil
}

// authorise checks what a command's body binds its caller to: a citizen
// or guardian acts for themselves (a guardian also for a dependent), a
// checkpoint records its own scans, and symptoms are reported with the
// caller's own source.
func (s *Server) authorise(r *http.Request, c *caller, cmd domain.Command) error {
	ctx := r.Context()
	switch b := cmd.Body.(type) {
	case domain.ApplyDependent:
		return s.mayActAsGuardian(c, b.GuardianID)
	case domain.EndDependent:
		return s.mayActAsGuardian(c, b.GuardianID)
	case domain.SubmitHealthForm:
		return s.mayActFor(ctx, c, b.PersonID)
	case domain.ReportSymptoms:
		want := map[domain.Role]domain.SymptomSource{domain.RoleCitizen: domain.SymptomSourceSelf, domain.RoleGuardian: domain.SymptomSourceSelf,
			domain.RoleClinic: domain.SymptomSourceClinic, domain.RoleCheckpoint: domain.SymptomSourceCheckpoint}
		if src, ok := want[c.role()]; ok && b.Source != src {
			return domain.Errorf(domain.Forbidden, "the %s role reports symptoms with source %q", c.role(), src)
		}
		return s.mayActFor(ctx, c, b.PersonID)
	case domain.RecordScan:
		if c.role() == domain.RoleCheckpoint && b.CheckpointID != c.token.CheckpointID {
			return domain.Errorf(domain.Forbidden, "this token records the scans of checkpoint %s, not of %s", c.token.CheckpointID, b.CheckpointID)
		}
	}
	return nil
}

func (s *Server) mayActAsGuardian(c *caller, guardian domain.PersonID) error {
	if c.role().BoundToPerson() && c.token.PersonID != guardian {
		return domain.Errorf(domain.Forbidden, "this %s token acts for %s, not for %s", c.role(), c.token.PersonID, guardian)
	}
	return nil
}

// IssuedCode is a code as the API returns it.
type IssuedCode struct {
	domain.CodeIssued
	// PNG is the QR image of the code, base64 (with ?png=true).
	PNG []byte `json:"png,omitempty"`
}

// issueCode: POST /v1/persons/{person}/code: today's code of the person,
// retrieved by themselves, by their guardian for a dependent, or by the
// issuance layer for them.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pathPersonFor(r, c)
	if err != nil {
		return err
	}
	if err := s.needs(s.Commands); err != nil {
		return err
	}
	if s.Issuer == nil {
		return domain.Errorf(domain.Unavailable, "this node signs no codes (it has no issuer key)")
	}
	var by domain.PersonID
	if c.role() == domain.RoleGuardian && c.token.PersonID != p {
		by = c.token.PersonID
	}
	issued, err := s.Commands.IssueCode(r.Context(), p, by, s.now(), c.actor())
	if err != nil {
		return err
	}
	out := IssuedCode{CodeIssued: issued}
	if r.URL.Query().Get("png") == "true" {
		if out.PNG, err = pngOf(issued.Code); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// TokenRequest asks for a token: its role and binding.
type TokenRequest struct {
	Role         domain.Role         `json:"role"`
	PersonID     domain.PersonID     `json:"person_id,omitzero"`
	CheckpointID domain.CheckpointID `json:"checkpoint_id,omitzero"`
	Note         string              `json:"note,omitempty"`
}

// NewToken is a token made: shown this once.
type NewToken struct {
	Token   string      `json:"token"`
	TokenID string      `json:"token_id"`
	Role    domain.Role `json:"role"`
}

// createToken: POST /v1/tokens.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req TokenRequest
	if err := decodeBody(r, &req, `{"role": ..., "person_id" or "checkpoint_id": ..., "note": ...}`); err != nil {
		return err
	}
	if err := s.needs(s.Commands); err != nil {
		return err
	}
	token, t, err := s.Commands.CreateToken(r.Context(), domain.TokenCreated{Role: req.Role, PersonID: req.PersonID, CheckpointID: req.CheckpointID, Note: req.Note}, s.now(), c.actor())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, NewToken{Token: token, TokenID: t.TokenID, Role: t.Role})
	return nil
}

// revokeToken: DELETE /v1/tokens/{token}?reason=...
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.needs(s.Commands); err != nil {
		return err
	}
	if err := s.Commands.RevokeToken(r.Context(), r.PathValue("token"), r.URL.Query().Get("reason"), s.now(), c.actor()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decodeBody reads one JSON object into v, refusing unknown fields: a body
// too large stays a *http.MaxBytesError (413); any other problem is
// Invalid, with the shape the body must have.
func decodeBody(r *http.Request, v any, shape string) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return err
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return domain.Errorf(domain.Invalid, "the body must be %s: %s", shape, de.Message)
	}
	return domain.Errorf(domain.Invalid, "the body must be %s: %s", shape, jsonProblem(err))
}

// jsonProblem says what is wrong with a body in a sentence, without Go's
// type names where it can.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("it is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	case errors.Is(err, io.EOF):
		return "it is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends too soon"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for it
		return "it has an unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
