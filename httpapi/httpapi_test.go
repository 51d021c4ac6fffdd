package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/httpapi"
)

func TestHealthz(t *testing.T) {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: "s", Events: []eventstore.NewEvent{{Type: "E", Payload: json.RawMessage(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	api := &httpapi.Server{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "test"}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()

	var body struct {
		Status string          `json:"status"`
		Head   eventstore.Head `json:"head"`
	}
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || body.Status != "ok" || body.Head.Position != 1 {
		t.Fatalf("healthz: %d %+v", resp.StatusCode, body)
	}

	// A ledger that cannot be read takes the node out of rotation, and the
	// answer says so without internal detail.
	s.Close()
	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Code, Message string }
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || e.Code != "unavailable" || e.Message != "the ledger cannot be read" {
		t.Fatalf("healthz of a closed store: %d %+v", resp.StatusCode, e)
	}
}
