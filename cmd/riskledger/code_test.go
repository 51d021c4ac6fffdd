package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/keys"
	"github.com/riskledger/riskledger/projections"
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

// TestCodeIssue retrieves codes on the embedded store: a person's code for
// today, drawn as a PNG, read back from the image with a QR decoder and
// verified; a dependent's code by their guardian only, and not before its
// usable_from day; no code for an erased person.
func TestCodeIssue(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	day := func(days int) string { return now.In(shanghaiZone(t)).AddDate(0, 0, days).Format("2006-01-02") }
	const (
		p  = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
		g  = "7a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8d"
		d1 = "8b3c4d5e-6f7a-4b2c-8d3e-4f5a6b7c8d9e"
		d2 = "9c4d5e6f-7a8b-4c3d-9e4f-5a6b7c8d9eaf"
	)
	lines := []string{
		`{"command":"register_person","at":"` + at(-72*time.Hour) + `","person_id":"` + p + `","document":{"type":"resident_id","number":"310101199001011234","country":"CN"},"name":"Li Wei","nationality":"CN"}`,
		`{"command":"register_person","at":"` + at(-72*time.Hour) + `","person_id":"` + g + `","document":{"type":"resident_id","number":"310101198001011234","country":"CN"},"name":"Wang Fang","nationality":"CN"}`,
		`{"command":"apply_dependent","at":"` + at(-48*time.Hour) + `","guardian_id":"` + g + `","dependent_id":"` + d1 + `","document":{"type":"passport","number":"E1","country":"CN"},"name":"Wang Xiao","nationality":"CN","usable_from":"` + day(-1) + `"}`,
		`{"command":"apply_dependent","at":"` + at(-time.Minute) + `","guardian_id":"` + g + `","dependent_id":"` + d2 + `","document":{"type":"passport","number":"E2","country":"CN"},"name":"Wang Da","nationality":"CN","usable_from":"` + day(1) + `"}`,
	}
	file := filepath.Join(dir, "people.jsonl")
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	data := filepath.Join(dir, "ledger")
	if code, out, errs := run(t, nil, "import", "--data", data, file); code != 0 {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}

	image := filepath.Join(dir, "code.png")
	code, out, errs := run(t, nil, "code", "issue", p, "--data", data, "--png", image, "--json")
	var issued domain.CodeIssued
	if code != 0 || json.Unmarshal([]byte(out), &issued) != nil || !strings.HasPrefix(issued.Code, codes.PrefixRL1) ||
		issued.Colour != domain.Green || issued.Day.String() != day(0) || issued.Issuer != "riskledger" {
		t.Fatalf("code issue: %d %q %q", code, out, errs)
	}
	png, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	text := readQR(t, png)
	if text != issued.Code {
		t.Fatalf("the PNG reads %q, the code is %q", text, issued.Code)
	}
	code, out, _ = run(t, nil, "code", "verify", "--data", data, text)
	var r codes.Result
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || !r.Valid || r.Claims.Pseudonym != issued.Pseudonym || r.Claims.Colour != domain.Green {
		t.Errorf("code verify of the PNG's code: %d %q", code, out)
	}
	if strings.Contains(issued.Code, p) || strings.Contains(string(mustDecode(t, issued.Code)), p) {
		t.Errorf("the code names the person")
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"code", "issue", d1}, exitFailed, "their guardian " + g + " retrieves their code"},
		{[]string{"code", "issue", d1, "--by", p}, exitFailed, "their guardian " + g + " retrieves their code"},
		{[]string{"code", "issue", d1, "--by", g}, exitOK, "green code of " + d1},
		{[]string{"code", "issue", d2, "--by", g}, exitFailed, "usable from " + day(1)},
		{[]string{"code", "issue", p, "--by", g}, exitFailed, "only person " + p + " retrieves their own code"},
		{[]string{"code", "issue", "1f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"}, exitFailed, "is not registered"},
	} {
		code, out, errs := run(t, nil, append(tc.args, "--data", data)...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("%v: %d %q %q, want %d and %q", tc.args, code, out, errs, tc.code, tc.want)
		}
	}
	erase := filepath.Join(dir, "erase.jsonl")
	os.WriteFile(erase, []byte(`{"command":"erase_person","at":"`+at(-time.Minute)+`","person_id":"`+p+`","reason":"request"}`+"\n"), 0o600)
	if code, _, errs := run(t, nil, "import", "--data", data, erase); code != 0 {
		t.Fatalf("erase: %q", errs)
	}
	if code, _, errs := run(t, nil, "code", "issue", p, "--data", data); code != exitFailed || !strings.Contains(errs, "an erased person gets no code") {
		t.Errorf("code of an erased person: %d %q", code, errs)
	}
}

func shanghaiZone(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// readQR reads the text of a QR code in a PNG.
func readQR(t *testing.T, b []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	// The image is the symbol alone, as drawn: read it as a pure barcode.
	// (gozxing's finder-pattern search misses about 1 in 100 such images
	// of random codes, which its pure mode reads; phone scanners look at
	// photographs, not at the drawing.)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("no QR code in the PNG: %v", err)
	}
	return res.GetText()
}

// mustDecode unpacks a code to its signed message.
func mustDecode(t *testing.T, code string) []byte {
	t.Helper()
	packed, err := codes.DecodeBase45(strings.TrimPrefix(code, codes.PrefixRL1))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(packed))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScanOfACode admits on codes: a green code of a person who has since
// turned yellow is denied as code_outdated; the same code at a checkpoint
// that admits yellow goes in, still marked outdated; a code signed by a key
// this ledger does not trust is denied as invalid, at the issuer step.
func TestScanOfACode(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "ledger")
	now := time.Now()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	const (
		p      = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
		green  = "9c4d5e6f-7a8b-4c3d-9e4f-5a6b7c8d9eaf"
		yellow = "ac4d5e6f-7a8b-4c3d-9e4f-5a6b7c8d9eaf"
	)
	importLines := func(lines ...string) {
		t.Helper()
		file := filepath.Join(dir, "lines.jsonl")
		os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
		if code, out, errs := run(t, nil, "import", "--data", data, file); code != 0 {
			t.Fatalf("import: %d %q %q", code, out, errs)
		}
	}
	importLines(
		`{"command":"register_person","at":"`+at(-72*time.Hour)+`","person_id":"`+p+`","document":{"type":"resident_id","number":"310101199001011234","country":"CN"},"name":"Li Wei","nationality":"CN"}`,
		`{"command":"register_checkpoint","at":"`+at(-72*time.Hour)+`","checkpoint_id":"`+green+`","name":"gate 3","kind":"subway","district":"Huangpu"}`,
		`{"command":"register_checkpoint","at":"`+at(-72*time.Hour)+`","checkpoint_id":"`+yellow+`","name":"market","kind":"supermarket","district":"Huangpu","admits":["green","yellow"]}`,
	)
	code, out, errs := run(t, nil, "code", "issue", p, "--data", data, "--json")
	var issued domain.CodeIssued
	if code != 0 || json.Unmarshal([]byte(out), &issued) != nil || issued.Colour != domain.Green {
		t.Fatalf("code issue: %d %q %q", code, out, errs)
	}
	shanghai := shanghaiZone(t)
	today := domain.DateOf(now, shanghai)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	foreign, err := codes.Issue(codes.Claims{Issuer: "riskledger", IssuedAt: now.Add(-time.Hour), Expires: today.Next().Start(shanghai),
		Pseudonym: issued.Pseudonym, Colour: domain.Green, Day: today, Position: 1}, other)
	if err != nil {
		t.Fatal(err)
	}
	importLines(
		// Since the code was issued: a declared contact with a case (Y3).
		`{"command":"submit_health_form","at":"`+at(-time.Minute)+`","person_id":"`+p+`","travel":[],"symptoms":[],"contact_with_case":true}`,
		`{"command":"record_scan","at":"`+at(0)+`","checkpoint_id":"`+green+`","code":"`+issued.Code+`","method":"qr"}`,
		`{"command":"record_scan","at":"`+at(0)+`","checkpoint_id":"`+yellow+`","code":"`+issued.Code+`","method":"qr"}`,
		`{"command":"record_scan","at":"`+at(0)+`","checkpoint_id":"`+green+`","code":"`+foreign+`","method":"qr"}`,
	)
	s, err := sqlite.Open(context.Background(), sqlite.Config{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, err := s.ReadAll(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var scans []domain.ScanRecorded
	for _, e := range evs {
		if e.Type == domain.EvScanRecorded {
			var sc domain.ScanRecorded
			json.Unmarshal(e.Payload, &sc)
			scans = append(scans, sc)
		}
	}
	if len(scans) != 3 {
		t.Fatalf("%d scans recorded, want 3", len(scans))
	}
	if sc := scans[0]; sc.Admitted || sc.Colour != domain.Yellow || sc.Subject.PersonID.String() != p || !strings.HasPrefix(sc.Reason, "code_outdated: the code says green, the ledger now yellow") {
		t.Errorf("a green code of a person now yellow, at a gate for green: %+v", sc)
	}
	if sc := scans[1]; !sc.Admitted || sc.Colour != domain.Yellow || !strings.HasPrefix(sc.Reason, "code_outdated:") {
		t.Errorf("the same code where yellow goes in: %+v", sc)
	}
	if sc := scans[2]; sc.Admitted || sc.Subject.Kind != domain.SubjectForeign || !strings.HasPrefix(sc.Reason, "code_invalid: issuer:") {
		t.Errorf("a code signed by a key not trusted: %+v", sc)
	}
}

// TestTrustListAcrossRegions: Shanghai's ledger trusts Jiangsu's issuer
// (trust add with its public key); a Jiangsu code is admitted at a gate
// that recognises Jiangsu and refused at one that does not, which `audit
// checkpoints` lists; the signed export verifies the code offline, and a
// changed export is refused; once revoked, Jiangsu's codes are invalid.
func TestTrustListAcrossRegions(t *testing.T) {
	dir := t.TempDir()
	sh, js := filepath.Join(dir, "shanghai"), filepath.Join(dir, "jiangsu")
	now := time.Now()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	importInto := func(data string, lines ...string) {
		t.Helper()
		file := filepath.Join(dir, "lines.jsonl")
		os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
		if code, out, errs := run(t, nil, "import", "--data", data, file); code != 0 {
			t.Fatalf("import: %d %q %q", code, out, errs)
		}
	}
	const (
		p       = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
		open    = "9c4d5e6f-7a8b-4c3d-9e4f-5a6b7c8d9eaf"
		closed  = "ac4d5e6f-7a8b-4c3d-9e4f-5a6b7c8d9eaf"
		jiangsu = "jiangsu"
	)
	env := map[string]string{"RISKLEDGER_ISSUER": jiangsu, "RISKLEDGER_REGION": "Jiangsu"}
	file := filepath.Join(dir, "p.jsonl")
	os.WriteFile(file, []byte(`{"command":"register_person","at":"`+at(-72*time.Hour)+`","person_id":"`+p+`","document":{"type":"resident_id","number":"320101199001011234","country":"CN"},"name":"Zhang San","nationality":"CN"}`+"\n"), 0o600)
	if code, _, errs := run(t, env, "import", "--data", js, file); code != 0 {
		t.Fatalf("jiangsu import: %q", errs)
	}
	code, out, errs := run(t, env, "code", "issue", p, "--data", js, "--json")
	var issued domain.CodeIssued
	if code != 0 || json.Unmarshal([]byte(out), &issued) != nil || issued.Issuer != jiangsu {
		t.Fatalf("jiangsu code issue: %d %q %q", code, out, errs)
	}
	key, err := keys.LoadIssuerKey(filepath.Join(js, "keys", keys.IssuerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pub := filepath.Join(dir, "jiangsu.pem")
	os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)

	importInto(sh,
		`{"command":"register_checkpoint","at":"`+at(-72*time.Hour)+`","checkpoint_id":"`+open+`","name":"Changzhou North","kind":"subway","district":"Xinbei","recognises":["jiangsu"]}`,
		`{"command":"register_checkpoint","at":"`+at(-72*time.Hour)+`","checkpoint_id":"`+closed+`","name":"Wujin market","kind":"supermarket","district":"Wujin"}`,
	)
	if code, out, errs := run(t, nil, "trust", "add", "--data", sh, "--issuer", jiangsu, "--region", "Jiangsu", "--key-file", pub); code != 0 || !strings.Contains(out, "trusted issuer jiangsu of Jiangsu with 1 keys") {
		t.Fatalf("trust add: %d %q %q", code, out, errs)
	}
	if code, _, errs := run(t, nil, "trust", "add", "--data", sh, "--issuer", "riskledger", "--region", "Shanghai", "--key-file", pub); code != exitFailed || !strings.Contains(errs, "own issuer") {
		t.Errorf("trusting our own issuer id with another key: %d %q", code, errs)
	}
	scan := func(cp string) string {
		return `{"command":"record_scan","at":"` + at(0) + `","checkpoint_id":"` + cp + `","code":"` + issued.Code + `","method":"qr"}`
	}
	importInto(sh, scan(open), scan(closed))
	// A Shanghai resident who went through the same gate at the same time
	// met Jiangsu's code holder: their contacts name the holder for
	// Jiangsu to trace; the refusal at the market is no contact.
	const q = "7a1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
	importInto(sh,
		`{"command":"register_person","at":"`+at(-72*time.Hour)+`","person_id":"`+q+`","document":{"type":"resident_id","number":"310101199001011234","country":"CN"},"name":"Li Si","nationality":"CN"}`,
		`{"command":"record_scan","at":"`+at(0)+`","checkpoint_id":"`+open+`","person_id":"`+q+`","method":"qr"}`,
		`{"command":"record_scan","at":"`+at(0)+`","checkpoint_id":"`+closed+`","person_id":"`+q+`","method":"qr"}`,
	)
	code, out, errs = run(t, nil, "contacts", q, "--data", sh, "--json")
	var met []projections.Exposure
	if code != 0 || json.Unmarshal([]byte(out), &met) != nil || len(met) != 1 || met[0].Foreign == nil ||
		*met[0].Foreign != (projections.Foreign{Issuer: jiangsu, Pseudonym: issued.Pseudonym}) || met[0].Place.Name != "Changzhou North" {
		t.Errorf("contacts of a resident who met Jiangsu's code holder: %d %q %q", code, out, errs)
	}
	code, out, _ = run(t, nil, "audit", "checkpoints", "--data", sh, "--json")
	var refusals []CheckpointRefusals
	if code != 0 || json.Unmarshal([]byte(out), &refusals) != nil || len(refusals) != 1 || refusals[0].Name != "Wujin market" ||
		refusals[0].Denials != 1 || refusals[0].Issuers[jiangsu] != 1 {
		t.Errorf("audit checkpoints: %d %q", code, out)
	}

	export := filepath.Join(dir, "trust.json")
	if code, out, errs := run(t, nil, "trust", "export", "--data", sh, "--out", export); code != 0 || !strings.Contains(out, "2 issuers") {
		t.Fatalf("trust export: %d %q %q", code, out, errs)
	}
	// An offline scanner with nothing but the export (an empty data
	// directory of its own issuer) checks Jiangsu's code.
	scanner := map[string]string{"RISKLEDGER_ISSUER": "scanner", "RISKLEDGER_REGION": "Changzhou"}
	if code, out, errs := run(t, scanner, "code", "verify", "--data", filepath.Join(dir, "scanner"), "--trust-file", export, issued.Code); code != 0 || !strings.Contains(out, `"valid":true`) {
		t.Errorf("verify with the export: %d %q %q", code, out, errs)
	}
	b, _ := os.ReadFile(export)
	changed := filepath.Join(dir, "changed.json")
	os.WriteFile(changed, []byte(strings.Replace(string(b), `Jiangsu`, `Zhejiang`, 1)), 0o600)
	if code, _, errs := run(t, scanner, "code", "verify", "--data", filepath.Join(dir, "scanner"), "--trust-file", changed, issued.Code); code != exitFailed || !strings.Contains(errs, "signature does not verify") {
		t.Errorf("verify with a changed export: %d %q", code, errs)
	}

	if code, out, errs := run(t, nil, "trust", "revoke", jiangsu, "--data", sh, "--reason", "key compromised"); code != 0 || !strings.Contains(out, "revoked issuer jiangsu") {
		t.Fatalf("trust revoke: %d %q %q", code, out, errs)
	}
	if code, out, _ := run(t, nil, "code", "verify", "--data", sh, issued.Code); code != exitFailed || !strings.Contains(out, `"step":"issuer"`) {
		t.Errorf("verify after the revocation: %d %q", code, out)
	}
}

// TestKeysRotate: after `keys rotate`, a code signed with the retired key
// before its retirement still verifies, new codes are signed with the new
// key, and a code the retired key signed after its retirement does not.
func TestKeysRotate(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "ledger")
	now := time.Now()
	const p = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
	file := filepath.Join(dir, "p.jsonl")
	os.WriteFile(file, []byte(`{"command":"register_person","at":"`+now.Add(-72*time.Hour).Format(time.RFC3339)+`","person_id":"`+p+
		`","document":{"type":"resident_id","number":"310101199001011234","country":"CN"},"name":"Li Wei","nationality":"CN"}`+"\n"), 0o600)
	if code, _, errs := run(t, nil, "import", "--data", data, file); code != 0 {
		t.Fatalf("import: %q", errs)
	}
	issue := func() domain.CodeIssued {
		t.Helper()
		code, out, errs := run(t, nil, "code", "issue", p, "--data", data, "--json")
		var c domain.CodeIssued
		if code != 0 || json.Unmarshal([]byte(out), &c) != nil {
			t.Fatalf("code issue: %d %q %q", code, out, errs)
		}
		return c
	}
	before := issue()
	old, err := keys.LoadIssuerKey(filepath.Join(data, "keys", keys.IssuerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, nil, "keys", "rotate", "--data", data)
	if code != 0 || !strings.Contains(out, "retired issuer key "+before.KeyID) {
		t.Fatalf("keys rotate: %d %q %q", code, out, errs)
	}
	after := issue()
	if after.KeyID == before.KeyID {
		t.Fatalf("the code after the rotation is signed with the old key %s", after.KeyID)
	}
	for name, c := range map[string]string{"signed before the rotation": before.Code, "signed after": after.Code} {
		if code, out, _ := run(t, nil, "code", "verify", "--data", data, c); code != 0 || !strings.Contains(out, `"valid":true`) {
			t.Errorf("a code %s: %d %q", name, code, out)
		}
	}
	shanghai := shanghaiZone(t)
	today := domain.DateOf(now, shanghai)
	late, err := codes.Issue(codes.Claims{Issuer: "riskledger", IssuedAt: time.Now().Add(time.Minute), Expires: today.Next().Start(shanghai),
		Pseudonym: before.Pseudonym, Colour: domain.Green, Day: today, Position: 1}, old)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ := run(t, nil, "code", "verify", "--data", data, "--at", time.Now().Add(2*time.Minute).Format(time.RFC3339), late); code != exitFailed || !strings.Contains(out, `"step":"issuer"`) {
		t.Errorf("a code the retired key signed after its retirement: %d %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(data, "keys", "issuer-"+before.KeyID+".key")); err != nil {
		t.Errorf("the retired key's file: %v", err)
	}
}
