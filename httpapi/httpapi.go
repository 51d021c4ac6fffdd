// Package httpapi serves riskledger over HTTP with JSON bodies.
package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// Server holds what the handlers need.
type Server struct {
	Store   eventstore.Store
	Logger  *slog.Logger
	Version string
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	return mux
}

// healthz answers 200 with the ledger head when the store can be read, and
// 503 when it cannot (so a load balancer takes the node out).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	h, err := s.Store.Head(r.Context())
	if err != nil {
		s.Logger.Error("health check", "err", err)
		writeError(w, domain.Errorf(domain.Unavailable, "the ledger cannot be read"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "version": s.Version, "head": h})
}

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	domain.Invalid:     http.StatusBadRequest,
	domain.Conflict:    http.StatusConflict,
	domain.NotFound:    http.StatusNotFound,
	domain.Forbidden:   http.StatusForbidden,
	domain.Limit:       http.StatusUnprocessableEntity,
	domain.Unavailable: http.StatusServiceUnavailable,
	domain.Internal:    http.StatusInternalServerError,
}

func writeError(w http.ResponseWriter, err error) {
	code := domain.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, map[string]string{"code": code, "message": domain.ErrorMessage(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
