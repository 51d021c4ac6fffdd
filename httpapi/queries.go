package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/projections"
)

// positionHeader says which ledger position an answer reflects.
const positionHeader = "X-Ledger-Position"

// colour: GET /v1/persons/{person}/colour. Without ?at it is the projected
// colour, as the issuance layer reads it (the read model's row: the
// answer and its next change); with ?at, the policy's answer at that time
// over the ledger as it is now.
func (s *Server) colour(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pathPersonFor(r, c)
	if err != nil {
		return err
	}
	at, err := queryTime(r, "at")
	if err != nil {
		return err
	}
	if !at.IsZero() {
		return s.readAbout(w, r, p, func(ix *projections.Index) (any, error) {
			return ix.Judge([]domain.PersonID{p}, 0).ColourAt(p, at), nil
		})
	}
	if err := s.needs(s.Model); err != nil {
		return err
	}
	row, pos, ok, err := s.Model.Row(r.Context(), p)
	if err != nil {
		return err
	}
	if !ok {
		return domain.Errorf(domain.NotFound, "the colour read model has no row for %s: the person is unknown or not projected yet", p)
	}
	w.Header().Set(positionHeader, strconv.FormatInt(pos, 10))
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(append(bytes.TrimSpace(row), '\n'))
	return err
}

func unknownPerson(p domain.PersonID) error {
	return domain.Errorf(domain.NotFound, "no event of the ledger names person %s; check the id", p)
}

// read answers from the query projection, caught up with the ledger.
func (s *Server) read(w http.ResponseWriter, r *http.Request, fn func(ix *projections.Index, pos int64) (any, error)) error {
	if err := s.needs(s.Reader); err != nil {
		return err
	}
	var out any
	var at int64
	err := s.Reader.Read(r.Context(), func(ix *projections.Index, pos int64) error {
		var err error
		out, err = fn(ix, pos)
		at = pos
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set(positionHeader, strconv.FormatInt(at, 10))
	writeJSON(w, http.StatusOK, out)
	return nil
}

// readAbout answers from the query projection about p, whom some event
// of the ledger must name (NotFound otherwise).
func (s *Server) readAbout(w http.ResponseWriter, r *http.Request, p domain.PersonID, fn func(ix *projections.Index) (any, error)) error {
	return s.read(w, r, func(ix *projections.Index, _ int64) (any, error) {
		if !ix.Knows(p) {
			return nil, unknownPerson(p)
		}
		return fn(ix)
	})
}

// Explanation is a person's colour at a time with every red and yellow
// interval and override of theirs, as `explain --json` prints it.
type Explanation struct {
	domain.Answer
	At        time.Time         `json:"at"`
	Intervals []domain.Interval `json:"intervals"`
}

// explain: GET /v1/persons/{person}/explain[?at=T].
func (s *Server) explain(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pathPersonFor(r, c)
	if err != nil {
		return err
	}
	at, err := queryTime(r, "at")
	if err != nil {
		return err
	}
	if at.IsZero() {
		at = s.now()
	}
	return s.readAbout(w, r, p, func(ix *projections.Index) (any, error) {
		j := ix.Judge([]domain.PersonID{p}, 0)
		return Explanation{Answer: j.ColourAt(p, at), At: at, Intervals: append([]domain.Interval{}, j.Intervals(p)...)}, nil
	})
}

// span reads ?from and ?to.
func span(r *http.Request) (from, to time.Time, err error) {
	if from, err = queryTime(r, "from"); err != nil {
		return
	}
	to, err = queryTime(r, "to")
	return
}

// contacts: GET /v1/persons/{person}/contacts[?from&to].
func (s *Server) contacts(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.overSpan(w, r, c, func(ix *projections.Index, p domain.PersonID, from, to time.Time) any {
		return projections.ExposuresOf(ix, p, from, to)
	})
}

// overSpan answers fn about the person of the path, whom the caller may
// act for, over ?from and ?to.
func (s *Server) overSpan(w http.ResponseWriter, r *http.Request, c *caller, fn func(ix *projections.Index, p domain.PersonID, from, to time.Time) any) error {
	p, err := s.pathPersonFor(r, c)
	if err != nil {
		return err
	}
	from, to, err := span(r)
	if err != nil {
		return err
	}
	return s.readAbout(w, r, p, func(ix *projections.Index) (any, error) {
		return fn(ix, p, from, to), nil
	})
}

// chain: GET /v1/persons/{person}/chain?depth=N[&upstream=true][&from&to].
func (s *Server) chain(w http.ResponseWriter, r *http.Request, _ *caller) error {
	p, err := pathPerson(r)
	if err != nil {
		return err
	}
	from, to, err := span(r)
	if err != nil {
		return err
	}
	depth, err := queryInt(r, "depth", 2, 1, 10)
	if err != nil {
		return err
	}
	upstream := r.URL.Query().Get("upstream") == "true"
	return s.readAbout(w, r, p, func(ix *projections.Index) (any, error) {
		return projections.ChainFrom(ix, p, int(depth), upstream, from, to), nil
	})
}

// clusters: GET /v1/clusters[?from&to].
func (s *Server) clusters(w http.ResponseWriter, r *http.Request, _ *caller) error {
	from, to, err := span(r)
	if err != nil {
		return err
	}
	return s.read(w, r, func(ix *projections.Index, _ int64) (any, error) {
		return projections.ClustersIn(ix, from, to), nil
	})
}

// contactStats: GET /v1/contacts/stats: counts, no personal data.
func (s *Server) contactStats(w http.ResponseWriter, r *http.Request, _ *caller) error {
	return s.read(w, r, func(ix *projections.Index, _ int64) (any, error) {
		return projections.StatsOf(ix), nil
	})
}

// colours: GET /v1/colours: every projected colour, one JSON object a
// line (application/x-ndjson), as `colours --json` prints them.
func (s *Server) colours(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if err := s.needs(s.Model); err != nil {
		return err
	}
	pos, err := s.Model.Checkpoint(r.Context())
	if err != nil {
		return err
	}
	rows, err := s.Model.Rows(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set(positionHeader, strconv.FormatInt(pos, 10))
	for _, row := range rows {
		if _, err := w.Write(append(bytes.TrimSpace(row), '\n')); err != nil {
			return nil // the caller went away
		}
	}
	return nil
}

// auditReplay: GET /v1/audit/replay: every recorded decision and
// admission re-derived from the facts.
func (s *Server) auditReplay(w http.ResponseWriter, r *http.Request, _ *caller) error {
	rep, err := projections.Replay(r.Context(), s.Store, s.Options.Location)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// auditAccess: GET /v1/audit/access[?person=P][&actor=A]: who looked at
// whom, and why.
func (s *Server) auditAccess(w http.ResponseWriter, r *http.Request, _ *caller) error {
	var p domain.PersonID
	if v := r.URL.Query().Get("person"); v != "" {
		var err error
		if p, err = domain.ParsePersonID(v); err != nil {
			return domain.Errorf(domain.Invalid, "person=%q is not a person id (a UUID)", v)
		}
	}
	log, err := projections.AccessLog(r.Context(), s.Store, p, r.URL.Query().Get("actor"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, log)
	return nil
}

// VerifyRequest asks for a code's check.
type VerifyRequest struct {
	Code string `json:"code"`
	// At is the time to check at (default now).
	At time.Time `json:"at,omitzero"`
}

// verifyCode: POST /v1/codes/verify: the offline check of a code against
// this node's issuer and the ledger's trust list. A code that fails a
// step is an answer (200, valid false), not an error.
func (s *Server) verifyCode(w http.ResponseWriter, r *http.Request, _ *caller) error {
	var req VerifyRequest
	if err := decodeBody(r, &req, `{"code": "RL1:...", "at": an optional RFC 3339 time}`); err != nil {
		return err
	}
	if req.Code == "" {
		return domain.Errorf(domain.Invalid, "the body has no code")
	}
	if req.At.IsZero() {
		req.At = s.now()
	}
	list, err := commands.ReadTrustList(r.Context(), s.Store)
	if err != nil {
		return err
	}
	trust, err := list.Trust(s.Issuer)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, codes.Verify(req.Code, trust, req.At, s.Options.Location))
	return nil
}

func pngOf(code string) ([]byte, error) { return codes.PNG(code, 512) }

// person: GET /v1/persons/{person}: the registration with its personal
// data opened, the dependents and verifications.
func (s *Server) person(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pathPersonFor(r, c)
	if err != nil {
		return err
	}
	if err := s.needs(s.Commands); err != nil {
		return err
	}
	rec, err := s.Commands.Person(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

// FoundPerson answers a search by document.
type FoundPerson struct {
	PersonID domain.PersonID `json:"person_id"`
}

// findPerson: GET /v1/persons?document_type=T&document_number=N&country=C.
func (s *Server) findPerson(w http.ResponseWriter, r *http.Request, _ *caller) error {
	q := r.URL.Query()
	typ, err := domain.ParseDocumentType(q.Get("document_type"))
	if err != nil {
		return err
	}
	doc := domain.Document{Type: typ, Number: q.Get("document_number"), Country: q.Get("country")}
	if doc.Number == "" || doc.Country == "" {
		return domain.Errorf(domain.Invalid, "search with document_type, document_number and country (its two-letter code)")
	}
	if err := s.needs(s.Commands); err != nil {
		return err
	}
	p, err := s.Commands.FindByDocument(r.Context(), doc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, FoundPerson{PersonID: p})
	return nil
}

// scans: GET /v1/persons/{person}/scans[?from&to]: the scan history.
func (s *Server) scans(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.overSpan(w, r, c, func(ix *projections.Index, p domain.PersonID, from, to time.Time) any {
		return projections.ScansOf(ix, p, from, to)
	})
}

// codes: GET /v1/persons/{person}/codes: the codes retrieved for the
// person, oldest first.
func (s *Server) codes(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.pathPersonFor(r, c)
	if err != nil {
		return err
	}
	if err := s.needs(s.Feed); err != nil {
		return err
	}
	out := []domain.CodeIssued{}
	for _, pos := range s.Feed.codesOf(p) {
		evs, err := s.Store.ReadAll(r.Context(), pos-1, 1)
		if err != nil {
			return err
		}
		var issued domain.CodeIssued
		if len(evs) != 1 || json.Unmarshal(evs[0].Payload, &issued) != nil {
			return fmt.Errorf("the code at position %d cannot be read", pos)
		}
		out = append(out, issued)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// auditVerify: GET /v1/audit/verify: the hash chain recomputed.
func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request, _ *caller) error {
	rep, err := eventstore.Verify(r.Context(), s.Store)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// auditCheckpoints: GET /v1/audit/checkpoints: the refusals of valid,
// recognisable codes, per checkpoint.
func (s *Server) auditCheckpoints(w http.ResponseWriter, r *http.Request, _ *caller) error {
	out, err := projections.Compliance(r.Context(), s.Store)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Identity is who a token is, and the zone in which the ledger counts
// days: a client (the console) checks a token with it at sign-in and
// draws days as the policy counts them.
type Identity struct {
	TokenID      string              `json:"token_id"`
	Role         domain.Role         `json:"role"`
	PersonID     domain.PersonID     `json:"person_id,omitzero"`
	CheckpointID domain.CheckpointID `json:"checkpoint_id,omitzero"`
	Zone         string              `json:"zone"`
}

// whoami: GET /v1/whoami: the caller's token, for every role.
func (s *Server) whoami(w http.ResponseWriter, _ *http.Request, c *caller) error {
	zone := "UTC"
	if s.Options.Location != nil {
		zone = s.Options.Location.String()
	}
	writeJSON(w, http.StatusOK, Identity{TokenID: c.token.TokenID, Role: c.token.Role, PersonID: c.token.PersonID,
		CheckpointID: c.token.CheckpointID, Zone: zone})
	return nil
}
