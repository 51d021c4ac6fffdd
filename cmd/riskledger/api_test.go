package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// served is a running `riskledger serve` (the real Main, on port 0) and
// its first admin token.
type served struct {
	url   string
	admin string
	l     ledger
	// stop ends the server and waits for it.
	stop func()
}

// serve starts `serve` on l until the test ends. With the embedded store
// the admin token is the one serve makes at first start; with PostgreSQL
// it is made with `token create` first, as an operator would.
func serve(t *testing.T, l ledger) *served {
	t.Helper()
	s := &served{l: l}
	pg := len(l.args) > 0 && l.args[0] == "--database-url"
	if pg {
		code, out, errs := l.run(t, "token", "create", "--role", "admin", "--json")
		var tok struct{ Token string }
		if code != 0 || json.Unmarshal([]byte(out), &tok) != nil {
			t.Fatalf("token create: %d %q %q", code, out, errs)
		}
		s.admin = tok.Token
	}
	// Only a new embedded ledger gets a first admin token.
	tokenFile := ""
	if !pg {
		tokenFile = filepath.Join(l.args[1], AdminTokenFile)
	}
	_, err := os.Stat(tokenFile)
	first := !pg && err != nil
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	m := NewMain()
	m.Stdout, m.Stderr = pw, io.Discard
	m.Getenv = func(k string) string { return l.env[k] }
	done := make(chan int, 1)
	go func() {
		done <- m.Run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, l.args...))
		pw.Close()
	}()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("serve did not stop")
			}
		})
	}
	t.Cleanup(s.stop)
	out := bufio.NewReader(pr)
	line, err := out.ReadString('\n')
	if _, scanErr := fmt.Sscanf(line, "riskledger serving on %s", &s.url); err != nil || scanErr != nil {
		t.Fatalf("serve printed %q: %v", line, err)
	}
	s.url = strings.TrimSuffix(s.url, "/")
	if first {
		if line, err := out.ReadString('\n'); err != nil || !strings.Contains(line, AdminTokenFile) {
			t.Fatalf("serve printed %q, not where the admin token is: %v", line, err)
		}
	}
	if !pg {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			t.Fatal(err)
		}
		s.admin = strings.TrimSpace(string(b))
	}
	go io.Copy(io.Discard, out)
	return s
}

// do sends a request with token (none when ""), body as JSON unless it is
// a string or nil, and returns the status and the body.
func (s *served) do(t *testing.T, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// token makes a token with role (and a binding: "person" or "checkpoint"
// and its id) through the API, with the admin's token.
func (s *served) token(t *testing.T, role string, binding ...string) string {
	t.Helper()
	req := map[string]string{"role": role}
	if len(binding) == 2 {
		req[binding[0]+"_id"] = binding[1]
	}
	code, b := s.do(t, "POST", "/v1/tokens", s.admin, req)
	var tok struct{ Token string }
	if code != http.StatusCreated || json.Unmarshal(b, &tok) != nil {
		t.Fatalf("token %v: %d %s", req, code, b)
	}
	return tok.Token
}

// command sends a command as token and fails the test unless it is
// appended (201) or was already present (200).
func (s *served) command(t *testing.T, token, name string, body map[string]any) []byte {
	t.Helper()
	code, b := s.do(t, "POST", "/v1/commands/"+name, token, body)
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("%s %v: %d %s", name, body, code, b)
	}
	return b
}

// eventually polls check (every 50 ms, for up to 30 s) until it returns
// "", and fails with its last answer otherwise: the projection and the
// feed follow the ledger asynchronously.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	var last string
	for range 600 {
		if last = check(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal(last)
}
