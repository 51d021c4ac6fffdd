package console_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/riskledger/riskledger/console"
)

func get(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// TestConsoleHandler serves index.html at "/" and the bundle by name, each with
// its content type, revalidated by ETag, gzipped when asked.
func TestConsoleHandler(t *testing.T) {
	h := console.Handler()
	for _, c := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<script src="app.js">`},
		{"/index.html", "text/html; charset=utf-8", `<div id="app">`},
		{"/app.js", "text/javascript; charset=utf-8", "cytoscape"},
		{"/app.css", "text/css; charset=utf-8", ".timeline"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
	} {
		resp := get(t, h, "GET", c.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != c.ctype || !bytes.Contains(body, []byte(c.contains)) {
			t.Errorf("GET %s: %d %q, %d bytes", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("ETag") == "" {
			t.Errorf("GET %s: Cache-Control %q, ETag %q: a new binary's files must be seen at once", c.path, resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
		}
	}
	if csp := get(t, h, "GET", "/").Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("the page's Content-Security-Policy is %q", csp)
	}

	// An unchanged file costs a 304.
	etag := get(t, h, "GET", "/app.js").Header.Get("ETag")
	if resp := get(t, h, "GET", "/app.js", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET /app.js with its ETag: %d, want 304", resp.StatusCode)
	}

	// The bundle travels compressed to a browser that accepts it.
	plain, _ := io.ReadAll(get(t, h, "GET", "/app.js").Body)
	resp := get(t, h, "GET", "/app.js", "Accept-Encoding", "gzip, deflate, br")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("ETag") == etag {
		t.Fatalf("gzip: Content-Encoding %q, ETag %q (plain %q)", resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag"), etag)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) {
		t.Error("the gzipped bundle is not the bundle")
	}
	if resp := get(t, h, "GET", "/app.js", "Accept-Encoding", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip was sent to a client that refused it")
	}

	if resp := get(t, h, "GET", "/no-such-file.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET of an unknown file: %d", resp.StatusCode)
	}
	if resp := get(t, h, "POST", "/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", resp.StatusCode)
	}
	if resp := get(t, h, "HEAD", "/"); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /: %d", resp.StatusCode)
	}
}

// TestConsoleBundle checks that dist/ was built from the sources as they
// are: build.sh writes the hash of web/ and the build's files, as
// sha256sum lists them, to dist/sources.txt.
func TestConsoleBundle(t *testing.T) {
	var files []string
	for _, root := range []string{"web", "package.json", "package-lock.json", "tsconfig.json", "build.sh"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, filepath.ToSlash(p))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(files)
	var list strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&list, "%x  %s\n", sha256.Sum256(b), f)
	}
	want, err := os.ReadFile(filepath.Join("dist", "sources.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%x", sha256.Sum256([]byte(list.String()))); got != strings.TrimSpace(string(want)) {
		t.Errorf("console/dist was built from other sources than console/web and its build files: run console/build.sh and commit dist/ (sources %s, dist/sources.txt %s)", got, want)
	}

	js, _ := io.ReadAll(get(t, console.Handler(), "GET", "/app.js").Body)
	for _, hook := range []string{"data-testid", "chain-graph", "/v1/whoami", "风险账本控制台"} {
		if !bytes.Contains(js, []byte(hook)) {
			t.Errorf("the bundle has no %q", hook)
		}
	}
}
