package main

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/keys"
)

// TestCodeVerify checks codes offline from the command line: a code of
// ours for today passes every step; one for yesterday, one signed by a key
// this node does not trust and a tampered one are refused at the right
// step; an EU DCC of the public test suite verifies against its signer
// certificate given with --trust-cert, and not without it.
func TestCodeVerify(t *testing.T) {
	dir := t.TempDir()
	key, err := keys.LoadOrCreateIssuerKey(filepath.Join(dir, "keys", keys.IssuerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2020, 3, 4, 10, 0, 0, 0, shanghai)
	issue := func(day domain.Date, k *ecdsa.PrivateKey) string {
		t.Helper()
		code, err := codes.Issue(codes.Claims{Issuer: "riskledger", IssuedAt: day.Start(shanghai).Add(8 * time.Hour), Expires: day.Next().Start(shanghai),
			Pseudonym: "p-1", Colour: domain.Green, Day: day, Position: 42}, k)
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	today := domain.DateOf(now, shanghai)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := issue(today, key)
	// Flip the last byte of the signed message (the signature's), and
	// pack it again: every step before the signature passes.
	packed, err := codes.DecodeBase45(strings.TrimPrefix(good, codes.PrefixRL1))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(packed))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	signed[len(signed)-1] ^= 0x01
	var zb bytes.Buffer
	zw := zlib.NewWriter(&zb)
	zw.Write(signed)
	zw.Close()
	tampered := codes.PrefixRL1 + codes.EncodeBase45(zb.Bytes())

	verify := func(args ...string) (int, codes.Result) {
		t.Helper()
		code, out, errs := run(t, nil, append([]string{"code", "verify", "--data", dir, "--at", now.Format(time.RFC3339)}, args...)...)
		var r codes.Result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %d %q %q", args, code, out, errs)
		}
		return code, r
	}
	for _, tc := range []struct {
		name, code string
		exit       int
		step       codes.Step
	}{
		{"today's code", good, exitOK, "day"},
		{"yesterday's code", issue(today.AddDays(-1), key), exitFailed, "expiry"},
		{"a code of an issuer not trusted here", issue(today, other), exitFailed, "issuer"},
		{"a tampered code", string(tampered), exitFailed, "signature"},
		{"not a code", "RL2:ABC", exitFailed, "prefix"},
	} {
		exit, r := verify(tc.code)
		if exit != tc.exit || r.Step != tc.step || r.Valid != (tc.exit == exitOK) || r.Reason == "" {
			t.Errorf("%s: exit %d, %+v; want exit %d at step %s", tc.name, exit, r, tc.exit, tc.step)
		}
	}
	if exit, r := verify(good); exit == exitOK && (r.Claims == nil || r.Claims.Pseudonym != "p-1" || r.Claims.Colour != domain.Green || r.Claims.Position != 42) {
		t.Errorf("today's code claims: %+v", r.Claims)
	}

	var dcc struct {
		Prefix  string `json:"PREFIX"`
		TestCtx struct {
			Certificate string `json:"CERTIFICATE"`
			Clock       string `json:"VALIDATIONCLOCK"`
		} `json:"TESTCTX"`
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "data", "dgc-testdata", "DE", "2DCode", "raw", "1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dcc); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, nil, "code", "verify", "--data", dir, "--at", dcc.TestCtx.Clock, "--trust-cert", dcc.TestCtx.Certificate, dcc.Prefix)
	if code != exitOK || !strings.Contains(out, `"valid":true`) || !strings.Contains(out, `"prefix":"HC1"`) {
		t.Errorf("a DCC with its signer: %d %q", code, out)
	}
	code, out, _ = run(t, nil, "code", "verify", "--data", dir, "--at", dcc.TestCtx.Clock, dcc.Prefix)
	if code != exitFailed || !strings.Contains(out, `"step":"issuer"`) {
		t.Errorf("a DCC without its signer: %d %q", code, out)
	}
	if code, _, errs := run(t, nil, "code", "verify", "--data", dir, "--trust-cert", "not base64!", good); code != exitFailed || !strings.Contains(errs, "--trust-cert") {
		t.Errorf("a bad --trust-cert: %d %q", code, errs)
	}
	if code, _, errs := run(t, nil, "code", "check", good); code != exitUsage || !strings.Contains(errs, "code verify") {
		t.Errorf("an unknown code command: %d %q", code, errs)
	}
}
