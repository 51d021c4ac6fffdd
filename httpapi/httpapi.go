// Package httpapi serves riskledger over HTTP with JSON bodies (DESIGN §5):
// every command of the command file and every query, for callers holding
// bearer tokens with one role each; looks at personal data by people are
// recorded in the ledger before they are answered.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/projections"
)

// Server holds what the handlers need. Store and Logger are required for
// every route; the others for the routes that use them (a route whose part
// is missing answers 503).
type Server struct {
	Store  eventstore.Store
	Logger *slog.Logger
	// Version is reported by /healthz.
	Version string
	// Commands decides and appends commands (and access records).
	Commands *commands.Handler
	// Model is the colour read model: the projected colours the issuance
	// layer reads.
	Model projections.ReadModel
	// Reader answers explanations and contact queries.
	Reader *projections.Reader
	// Issuer is this node's code issuer (nil: it signs no codes).
	Issuer *commands.Issuer
	// Feed serves colour changes; its Run must be running.
	Feed *Feed
	// Options parse command bodies as the command file is parsed (zone,
	// clock skew).
	Options domain.ParseOptions
	// Metrics (nil: none are kept; NewMetrics makes them).
	Metrics *Metrics
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Console serves the web console's pages for GET and HEAD requests
	// outside /v1/ (nil: none; those paths answer 404 like any other).
	Console http.Handler

	tokens tokenCache
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// maxBodyBytes bounds a request body: a command is one line of the command
// file.
const maxBodyBytes = domain.MaxLineBytes

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /openapi.json", serveOpenAPI)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics.Handler())
	}
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.endpoint(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if s.Console != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !strings.HasPrefix(r.URL.Path, "/v1/") {
			s.Console.ServeHTTP(w, r)
			return
		}
		writeError(w, s.Logger, domain.Errorf(domain.NotFound, "no endpoint %s %s; /openapi.json lists them", r.Method, r.URL.Path))
	})
	return mux
}

// route is one endpoint: who may call it, and whether a person's call is a
// look at personal data that needs a reason and is recorded.
type route struct {
	pattern string
	roles   []domain.Role
	// personal: epidemiologists, auditors and admins give a reason, and
	// the look is recorded as query before it is answered.
	personal bool
	query    string
	handle   func(w http.ResponseWriter, r *http.Request, c *caller) error
}

// Routes lists every endpoint's pattern and the roles that may call it, in
// the order of the OpenAPI file.
func (s *Server) Routes() map[string][]domain.Role {
	out := map[string][]domain.Role{}
	for _, rt := range s.routes() {
		out[rt.pattern] = rt.roles
	}
	return out
}

func (s *Server) routes() []route {
	var (
		citizen, guardian, checkpoint = domain.RoleCitizen, domain.RoleGuardian, domain.RoleCheckpoint
		epi, auditor                  = domain.RoleEpidemiologist, domain.RoleAuditor
		issuance, admin               = domain.RoleIssuance, domain.RoleAdmin
	)
	return []route{
		{pattern: "POST /v1/commands/{command}", roles: domain.Roles(), handle: s.command},
		{pattern: "POST /v1/persons/{person}/code", roles: []domain.Role{citizen, guardian, issuance, admin}, handle: s.issueCode},
		{pattern: "POST /v1/codes/verify", roles: []domain.Role{checkpoint, issuance, auditor, admin}, handle: s.verifyCode},
		{pattern: "GET /v1/persons/{person}/colour", roles: []domain.Role{citizen, guardian, issuance, epi, auditor, admin},
			personal: true, query: "colour", handle: s.colour},
		{pattern: "GET /v1/persons/{person}/explain", roles: []domain.Role{citizen, guardian, epi, auditor, admin},
			personal: true, query: "explain", handle: s.explain},
		{pattern: "GET /v1/persons", roles: []domain.Role{epi, auditor, admin}, personal: true, query: "search by document", handle: s.findPerson},
		{pattern: "GET /v1/persons/{person}", roles: []domain.Role{citizen, guardian, epi, auditor, admin}, personal: true, query: "person", handle: s.person},
		{pattern: "GET /v1/persons/{person}/scans", roles: []domain.Role{citizen, guardian, epi, auditor, admin}, personal: true, query: "scans", handle: s.scans},
		{pattern: "GET /v1/persons/{person}/codes", roles: []domain.Role{citizen, guardian, epi, auditor, admin}, personal: true, query: "codes", handle: s.codes},
		{pattern: "GET /v1/persons/{person}/contacts", roles: []domain.Role{epi, admin}, personal: true, query: "contacts", handle: s.contacts},
		{pattern: "GET /v1/persons/{person}/chain", roles: []domain.Role{epi, admin}, personal: true, query: "chain", handle: s.chain},
		{pattern: "GET /v1/colours", roles: []domain.Role{issuance, epi, auditor, admin}, personal: true, query: "colours", handle: s.colours},
		{pattern: "GET /v1/clusters", roles: []domain.Role{epi, admin}, personal: true, query: "clusters", handle: s.clusters},
		{pattern: "GET /v1/contacts/stats", roles: []domain.Role{epi, auditor, admin}, handle: s.contactStats},
		{pattern: "GET /v1/audit/replay", roles: []domain.Role{auditor, admin}, handle: s.auditReplay},
		{pattern: "GET /v1/audit/verify", roles: []domain.Role{auditor, admin}, handle: s.auditVerify},
		{pattern: "GET /v1/audit/checkpoints", roles: []domain.Role{auditor, admin}, handle: s.auditCheckpoints},
		{pattern: "GET /v1/audit/access", roles: []domain.Role{auditor, admin}, personal: true, query: "access log", handle: s.auditAccess},
		{pattern: "GET /v1/feed/colours", roles: []domain.Role{issuance, admin}, handle: s.feedPoll},
		{pattern: "GET /v1/feed/colours/stream", roles: []domain.Role{issuance, admin}, handle: s.feedStream},
		{pattern: "POST /v1/tokens", roles: []domain.Role{admin}, handle: s.createToken},
		{pattern: "DELETE /v1/tokens/{token}", roles: []domain.Role{admin}, handle: s.revokeToken},
		{pattern: "GET /v1/whoami", roles: domain.Roles(), handle: s.whoami},
	}
}

// requestTimeout bounds a request's work (the event stream excepted): a
// chain over a whole city takes seconds, not minutes.
const requestTimeout = time.Minute

// caller is who is calling: their token.
type caller struct {
	token *commands.Token
}

func (c *caller) role() domain.Role { return c.token.Role }

// actor names the caller in the ledger's metadata and access records.
func (c *caller) actor() string { return "token:" + c.token.TokenID }

// endpoint authenticates, authorises, records a person's look at personal
// data, and maps the handler's error to an answer.
func (s *Server) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if !strings.HasSuffix(rt.pattern, "/stream") {
			ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		sw := &statusWriter{ResponseWriter: w}
		err := s.serveSafely(sw, r, rt)
		if err != nil && sw.status == 0 {
			writeError(sw, s.Logger, err)
		}
		d := time.Since(start)
		if s.Metrics != nil {
			s.Metrics.request(rt.pattern, sw.status, d)
		}
		if s.Logger.Enabled(r.Context(), slog.LevelDebug) {
			s.Logger.Debug("request", "route", rt.pattern, "path", r.URL.Path, "status", sw.status, "duration", d, "code", domain.ErrorCode(err))
		}
	})
}

// serveSafely turns a panic of a handler into an internal error: logged
// with its stack, answered as a 500 like any other.
func (s *Server) serveSafely(w http.ResponseWriter, r *http.Request, rt route) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.Logger.Error("a handler panicked", "route", rt.pattern, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = domain.Errorf(domain.Internal, "An internal error occurred; it has been logged.")
		}
	}()
	return s.serve(w, r, rt)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route) error {
	c, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if !hasRole(rt.roles, c.role()) {
		return domain.Errorf(domain.Forbidden, "the %s role may not call %s", c.role(), rt.pattern)
	}
	if rt.personal && c.role().People() {
		a := domain.AccessRecorded{Actor: c.actor(), Role: c.role(), Query: rt.query, Reason: r.URL.Query().Get("reason")}
		if v := r.PathValue("person"); v != "" {
			p, err := pathPerson(r)
			if err != nil {
				return err
			}
			a.PersonID = p
		}
		if v := r.URL.Query().Get("person"); v != "" && a.PersonID.IsZero() {
			a.PersonID, _ = domain.ParsePersonID(v)
		}
		if err := s.needs(s.Commands); err != nil {
			return err
		}
		if err := s.Commands.RecordAccess(r.Context(), a, s.now()); err != nil {
			return err
		}
	}
	if rt.personal && c.role() == domain.RoleIssuance && s.Metrics != nil {
		s.Metrics.colourRead()
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	return rt.handle(w, r, c)
}

func hasRole(roles []domain.Role, r domain.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// needs reports a part of the server this node runs without.
func (s *Server) needs(parts ...any) error {
	for _, p := range parts {
		switch v := p.(type) {
		case *commands.Handler:
			if v == nil {
				return domain.Errorf(domain.Unavailable, "this node takes no commands")
			}
		case *projections.Reader:
			if v == nil {
				return domain.Errorf(domain.Unavailable, "this node answers no contact queries")
			}
		case projections.ReadModel:
			if v == nil {
				return domain.Errorf(domain.Unavailable, "this node has no colour read model")
			}
		case *Feed:
			if v == nil {
				return domain.Errorf(domain.Unavailable, "this node serves no change feed")
			}
		}
	}
	return nil
}

// tokenCache holds the ledger's tokens. It looks at the tokens stream's
// version again when a token is not among them (one made since) and at
// most every tokenTTL otherwise (one revoked since), and reads the stream
// again only when the version moved.
type tokenCache struct {
	mu      sync.Mutex
	tokens  commands.Tokens
	checked time.Time
}

// tokenTTL is how long a revoked token may still be accepted by a node.
const tokenTTL = 5 * time.Second

func (s *Server) authenticate(r *http.Request) (*caller, error) {
	h := r.Header.Get("Authorization")
	bearer, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || bearer == "" {
		return nil, domain.Errorf(Unauthenticated, "send a token: Authorization: Bearer rl_...")
	}
	tc := &s.tokens
	tc.mu.Lock()
	defer tc.mu.Unlock()
	_, known := tc.tokens.Tokens[commands.TokenID(bearer)]
	if tc.tokens.Tokens == nil || !known || time.Since(tc.checked) > tokenTTL {
		v, err := s.Store.StreamVersion(r.Context(), domain.TokensStream)
		if err != nil {
			return nil, err
		}
		if tc.tokens.Tokens == nil || v != tc.tokens.Version {
			ts, err := commands.ReadTokens(r.Context(), s.Store)
			if err != nil {
				return nil, err
			}
			tc.tokens = ts
		}
		tc.checked = time.Now()
	}
	t, err := tc.tokens.Authenticate(bearer)
	if err != nil {
		return nil, domain.Errorf(Unauthenticated, "%s", domain.ErrorMessage(err))
	}
	return &caller{token: t}, nil
}

// pathPersonFor reads the {person} of the path and checks that the caller
// may act for them (mayActFor).
func (s *Server) pathPersonFor(r *http.Request, c *caller) (domain.PersonID, error) {
	p, err := pathPerson(r)
	if err != nil {
		return p, err
	}
	return p, s.mayActFor(r.Context(), c, p)
}

// mayActFor checks that a caller bound to a person acts for that person,
// or, a guardian, for one of their dependents.
func (s *Server) mayActFor(ctx context.Context, c *caller, p domain.PersonID) error {
	if !c.role().BoundToPerson() || c.token.PersonID == p {
		return nil
	}
	if c.role() == domain.RoleGuardian {
		if err := s.needs(s.Commands); err != nil {
			return err
		}
		ok, err := s.Commands.GuardianOf(ctx, c.token.PersonID, p)
		if err != nil || ok {
			return err
		}
	}
	return domain.Errorf(domain.Forbidden, "this %s token acts for %s, not for %s", c.role(), c.token.PersonID, p)
}

// Unauthenticated: the request carries no valid token (401).
const Unauthenticated = "unauthenticated"

// TooLarge: the request body is larger than the API accepts (413).
const TooLarge = "too_large"

// healthz answers 200 with the ledger head when the store can be read, and
// 503 when it cannot (so a load balancer takes the node out).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	h, err := s.Store.Head(r.Context())
	if err != nil {
		s.Logger.Error("health check", "err", err)
		writeError(w, s.Logger, domain.Errorf(domain.Unavailable, "the ledger cannot be read"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "version": s.Version, "head": h})
}

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	domain.Invalid:     http.StatusBadRequest,
	Unauthenticated:    http.StatusUnauthorized,
	domain.Forbidden:   http.StatusForbidden,
	domain.NotFound:    http.StatusNotFound,
	domain.Conflict:    http.StatusConflict,
	TooLarge:           http.StatusRequestEntityTooLarge,
	domain.Limit:       http.StatusUnprocessableEntity,
	domain.Unavailable: http.StatusServiceUnavailable,
	domain.Internal:    http.StatusInternalServerError,
}

// writeError answers err as {"code", "message"}; an internal error is
// logged and answered with a sentence that leaks nothing.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		err = domain.Errorf(TooLarge, "the body is larger than %d bytes", tooLarge.Limit)
	}
	if errors.Is(err, context.Canceled) {
		return // the caller went away
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = domain.Errorf(domain.Unavailable, "the request took longer than %s; narrow it (from, to, depth) or try again", requestTimeout)
	}
	code := domain.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if code == domain.Internal && log != nil {
		log.Error("request failed", "err", err.Error())
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="riskledger"`)
	}
	writeJSON(w, status, map[string]string{"code": code, "message": domain.ErrorMessage(err)})
}

// writeJSON answers v with status. It encodes before it writes, so that a
// value that cannot be encoded is a 500, never a 200 with a cut body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		slog.Error("encode an answer", "err", err.Error())
		buf.Reset()
		status = http.StatusInternalServerError
		json.NewEncoder(&buf).Encode(map[string]string{"code": domain.Internal, "message": domain.ErrorMessage(err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// statusWriter remembers the status written, for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes and
// deadlines of the change feed's stream).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// pathPerson reads the {person} of the path.
func pathPerson(r *http.Request) (domain.PersonID, error) {
	v := r.PathValue("person")
	p, err := domain.ParsePersonID(v)
	if err != nil {
		return p, domain.Errorf(domain.Invalid, "%q in the path is not a person id (a UUID)", v)
	}
	return p, nil
}

// queryTime reads an RFC 3339 time parameter; absent, zero.
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, domain.Errorf(domain.Invalid, "%s=%q is not an RFC 3339 time with an offset (like 2020-03-01T08:00:00+08:00)", name, v)
	}
	return t, nil
}

// queryInt reads an integer parameter in [min, max]; absent, def.
func queryInt(r *http.Request, name string, def, min, max int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		return 0, domain.Errorf(domain.Invalid, "%s=%q is not a whole number from %d to %d", name, v, min, max)
	}
	return n, nil
}
