package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/riskledger/riskledger/httpapi"
)

// TestConsoleRoutes: GET and HEAD outside /v1/ go to the console; unknown
// endpoints of the API, and other methods, keep their JSON 404.
func TestConsoleRoutes(t *testing.T) {
	console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "console "+r.URL.Path)
	})
	api := &httpapi.Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Console: console}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()

	for _, c := range []struct {
		method, path string
		status       int
		console      bool
	}{
		{"GET", "/", 200, true},
		{"GET", "/app.js", 200, true},
		{"HEAD", "/", 200, true},
		{"GET", "/v1/nothing", 404, false},
		{"GET", "/v1/", 404, false},
		{"POST", "/", 404, false},
		{"GET", "/openapi.json", 200, false},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fromConsole := resp.Header.Get("Content-Type") == "text/html; charset=utf-8"
		if resp.StatusCode != c.status || fromConsole != c.console {
			t.Errorf("%s %s: %d %q %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if c.status == 404 {
			var e struct{ Code string }
			if json.Unmarshal(body, &e) != nil || e.Code != "not_found" {
				t.Errorf("%s %s: %s, want a JSON not_found", c.method, c.path, body)
			}
		}
	}
}
