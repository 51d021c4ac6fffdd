// Package console serves the web console (DESIGN §5): the pages with which
// epidemiologists and auditors look at a person's colour over time, chains
// of transmission, clusters and the audit, in Chinese and English, over
// the JSON API of package httpapi.
//
// The pages are built from web/ by build.sh into dist/, which is committed
// and embedded here, so that the binary serves them without npm or any
// file beside it.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed dist
var dist embed.FS

// file is one embedded file, ready to serve.
type file struct {
	name  string
	body  []byte
	gzip  []byte // nil when compressing does not pay
	etag  string
	ctype string
}

// contentTypes are the types of the console's files, so that no system
// MIME table decides them.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// load reads the embedded files, with their tags, types and gzipped
// bodies.
func load() (map[string]*file, error) {
	files := map[string]*file{}
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "dist/")
		sum := sha256.Sum256(body)
		f := &file{name: name, body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		if f.ctype = contentTypes[path.Ext(name)]; f.ctype == "" {
			if f.ctype = mime.TypeByExtension(path.Ext(name)); f.ctype == "" {
				f.ctype = "application/octet-stream"
			}
		}
		if len(body) > 1024 && (strings.HasPrefix(f.ctype, "text/") || f.ctype == "image/svg+xml" || f.ctype == "application/json") {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			zw.Write(body)
			zw.Close()
			if b.Len() < len(body) {
				f.gzip = b.Bytes()
			}
		}
		files[name] = f
		return nil
	})
	return files, err
}

// Handler serves the console: index.html at "/", the other files by their
// names, each with its content type. Every answer is revalidated (no-cache
// with an ETag of its content): a new binary's pages are seen at once, and
// an unchanged file costs a 304. Methods other than GET and HEAD get 405,
// unknown paths 404.
func Handler() http.Handler {
	files, err := load()
	if err != nil {
		panic("console: the embedded files cannot be read: " + err.Error()) // a broken build, not a condition to handle
	}
	return handler(files)
}

// handler serves its files by name.
type handler map[string]*file

func (files handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the console answers GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" {
		name = "index.html"
	}
	f, ok := files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if f.ctype == contentTypes[".html"] {
		// The console runs only its own script. Its pages place bands and
		// bars with style attributes, and cytoscape styles its elements,
		// hence style-src 'unsafe-inline'.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Frame-Options", "DENY")
	}
	body := f.body
	if f.gzip != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		h.Set("ETag", strings.TrimSuffix(f.etag, `"`)+`-gzip"`) // another representation, another tag
		body = f.gzip
	}
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip tells whether the request accepts a gzip body.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
