package codes

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/veraison/go-cose"

	"github.com/riskledger/riskledger/domain"
)

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v", name, err)
	}
	return loc
}

func mustRegion(t testing.TB, s string) domain.Region {
	t.Helper()
	r, err := domain.ParseRegion(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustDate(t testing.TB, s string) domain.Date {
	t.Helper()
	d, err := domain.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixture is Shanghai's issuer "SH" with one key, trusted by a checkpoint
// that also recognises Jiangsu's "JS".
type fixture struct {
	sh       *time.Location
	key, jsK *ecdsa.PrivateKey
	trust    *Trust
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{sh: zone(t, "Asia/Shanghai"), key: newKey(t), jsK: newKey(t), trust: NewTrust()}
	for _, is := range []struct {
		id, region string
		key        *ecdsa.PrivateKey
	}{{"SH", "Shanghai", f.key}, {"JS", "Jiangsu", f.jsK}} {
		if err := f.trust.AddIssuer(is.id, mustRegion(t, is.region)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.trust.AddKey(is.id, &is.key.PublicKey, time.Time{}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// claims returns SH's green code for day, issued at the local time
// "15:04" of that day, expiring at its end in Shanghai.
func (f *fixture) claims(t testing.TB, day, issued string) Claims {
	t.Helper()
	d := mustDate(t, day)
	at, err := time.ParseInLocation(time.DateOnly+" 15:04", day+" "+issued, f.sh)
	if err != nil {
		t.Fatal(err)
	}
	return Claims{
		Issuer: "SH", IssuedAt: at, Expires: d.Next().Start(f.sh),
		Pseudonym: "p-7f3a9c", Colour: domain.Green, Day: d, Position: 4711,
	}
}

// at returns a Shanghai wall-clock instant.
func (f *fixture) at(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.ParseInLocation(time.DateTime, s, f.sh)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func issue(t testing.TB, c Claims, key *ecdsa.PrivateKey) string {
	t.Helper()
	code, err := Issue(c, key)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestIssueThenVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	c := f.claims(t, "2020-02-04", "07:30")
	code := issue(t, c, f.key)
	if !strings.HasPrefix(code, "RL1:") {
		t.Fatalf("code %q lacks the RL1: prefix", code)
	}
	if strings.Trim(code[4:], base45Alphabet) != "" {
		t.Fatalf("code %q has characters outside base45", code)
	}
	r := Verify(code, f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh)
	if !r.Valid || r.Step != StepDay || r.Prefix != "RL1" {
		t.Fatalf("Verify = %+v, want valid at step day", r)
	}
	kid, _ := KeyID(&f.key.PublicKey)
	if r.KeyID != hex.EncodeToString(kid) {
		t.Errorf("kid = %s, want %x", r.KeyID, kid)
	}
	want := c
	want.IssuedAt, want.Expires = c.IssuedAt.UTC(), c.Expires.UTC()
	if !reflect.DeepEqual(*r.Claims, want) {
		t.Errorf("claims = %+v, want %+v", *r.Claims, want)
	}
	t.Logf("a code of %d characters: %s", len(code), code)

	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["valid"] != true || m["step"] != "day" || m["reason"] == "" {
		t.Errorf("JSON %s lacks valid, step or reason", b)
	}
	claims, _ := m["claims"].(map[string]any)
	for k, v := range map[string]any{"issuer": "SH", "pseudonym": "p-7f3a9c", "colour": "green", "day": "2020-02-04", "position": 4711.0, "issued_at": "2020-02-03T23:30:00Z", "expires": "2020-02-04T16:00:00Z"} {
		if claims[k] != v {
			t.Errorf("JSON claims[%q] = %v, want %v (%s)", k, claims[k], v, b)
		}
	}
	if _, ok := claims["dcc"]; ok {
		t.Errorf("our code's claims carry a dcc field: %s", b)
	}
	if !strings.HasPrefix(string(b), `{"valid":true,"step":"day","reason":`) {
		t.Errorf("JSON %s does not start with valid, step, reason", b)
	}
}

// TestVerifySteps: given a code and a checkpoint, when it is verified, then
// the first failing step (or "day" for a valid code) is the one named.
func TestVerifySteps(t *testing.T) {
	f := newFixture(t)
	tokyo := zone(t, "Asia/Tokyo")
	today := f.claims(t, "2020-02-04", "07:30")

	other := newFixture(t) // a trust list where SH has another key
	unknownIssuer := NewTrust()

	forJS := today
	forJS.Issuer = "JS" // names Jiangsu but is signed with Shanghai's key

	tomorrow := f.claims(t, "2020-02-05", "07:30")
	tomorrow.IssuedAt = today.IssuedAt // issued in advance

	issuedLater := today
	issuedLater.IssuedAt = f.at(t, "2020-02-04 10:00:00")

	for _, tc := range []struct {
		name   string
		code   string
		trust  *Trust
		at     time.Time
		loc    *time.Location
		step   Step
		valid  bool
		reason string // a word the reason must contain
	}{
		{"today's code at 09:00 is valid", issue(t, today, f.key), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepDay, true, "green"},
		{"today's code in the last second of its day is valid", issue(t, today, f.key), f.trust, f.at(t, "2020-02-04 23:59:59"), f.sh, StepDay, true, "green"},
		{"today's code at the next midnight (its exp) has expired", issue(t, today, f.key), f.trust, f.at(t, "2020-02-05 00:00:00"), f.sh, StepExpiry, false, "expired"},
		{"yesterday's code in the same zone has expired", issue(t, f.claims(t, "2020-02-03", "07:30"), f.key), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepExpiry, false, "expired"},
		{"yesterday's code, checked where the day has already turned (Tokyo, an hour ahead)", issue(t, today, f.key), f.trust, f.at(t, "2020-02-04 23:30:00"), tokyo, StepDay, false, "today"},
		{"tomorrow's code issued today", issue(t, tomorrow, f.key), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepDay, false, "not valid yet"},
		{"a code issued within the clock skew after the check is valid", issue(t, issuedLater, f.key), f.trust, f.at(t, "2020-02-04 09:55:00"), f.sh, StepDay, true, "green"},
		{"a code issued beyond the clock skew after the check", issue(t, issuedLater, f.key), f.trust, f.at(t, "2020-02-04 09:54:59"), f.sh, StepExpiry, false, "clock"},
		{"an issuer the checkpoint does not recognise", issue(t, today, f.key), unknownIssuer, f.at(t, "2020-02-04 09:00:00"), f.sh, StepIssuer, false, `"SH"`},
		{"a recognised issuer, but a key not in the trust list", issue(t, today, f.key), other.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepIssuer, false, "trust list"},
		{"a code naming JS signed with SH's key", issue(t, forJS, f.key), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepIssuer, false, "forged"},
		{"a nil trust list trusts nobody", issue(t, today, f.key), nil, f.at(t, "2020-02-04 09:00:00"), f.sh, StepIssuer, false, "recognise"},
		{"a signature with a flipped byte", tamper(t, issue(t, today, f.key), flipSignature), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepSignature, false, "altered"},
		{"a payload turned red to green after signing", tamper(t, issue(t, colour(today, domain.Red), f.key), paintGreen), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepSignature, false, "altered"},
		{"empty text", "", f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepPrefix, false, "RL1:"},
		{"a web address", "https://example.org/code", f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepPrefix, false, "RL1:"},
		{"a lower-case prefix", "rl1:" + issue(t, today, f.key)[4:], f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepPrefix, false, "RL1:"},
		{"base64 after the prefix", "RL1:eJzT0yMAAGTvBe8=", f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepBase45, false, "damaged"},
		{"a code cut short, leaving a lone last character", loneLast(issue(t, today, f.key)), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepBase45, false, "cut short"},
		{"a code cut short by one group of three characters", func() string { c := issue(t, today, f.key); return c[:len(c)-3] }(), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepZlib, false, "damaged"},
		{"base45 of uncompressed text", "RL1:" + EncodeBase45([]byte("hello, checkpoint")), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepZlib, false, "zlib"},
		{"an uncompressed COSE_Sign1 of ours", "RL1:" + EncodeBase45(coseOf(t, issue(t, today, f.key))), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepZlib, false, "zlib"},
		{"a zlib stream with a broken checksum", "RL1:" + EncodeBase45(brokenChecksum(t, issue(t, today, f.key))), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepZlib, false, "damaged"},
		{"compressed text that is not COSE", encode(t, []byte("hello, checkpoint")), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepCOSE, false, "COSE_Sign1"},
		{"a COSE_Sign1 whose payload is not our claims", encode(t, signRaw(t, f.key, []byte{0xa1, 0x01, 0x62, 'S', 'H'})), f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepCOSE, false, "riskledger claim"},
		{"our code under the DCC prefix", "HC1:" + issue(t, today, f.key)[4:], f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh, StepCOSE, false, "health certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Verify(tc.code, tc.trust, tc.at, tc.loc)
			if r.Valid != tc.valid || r.Step != tc.step {
				t.Fatalf("Verify = {valid: %v, step: %s, reason: %q}; want {valid: %v, step: %s}", r.Valid, r.Step, r.Reason, tc.valid, tc.step)
			}
			if !strings.Contains(r.Reason, tc.reason) || !strings.HasSuffix(r.Reason, ".") {
				t.Errorf("reason %q should contain %q and be a sentence", r.Reason, tc.reason)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("result does not marshal: %v", err)
			}
		})
	}
}

// loneLast cuts a code short so that its base45 text ends with a single
// character.
func loneLast(code string) string {
	n := len(code) - 1
	for (n-len(PrefixRL1))%3 != 1 {
		n--
	}
	return code[:n]
}

func colour(c Claims, col domain.Colour) Claims {
	c.Colour = col
	return c
}

// coseOf returns the COSE_Sign1 inside a code of ours.
func coseOf(t testing.TB, code string) []byte {
	t.Helper()
	z, err := DecodeBase45(strings.TrimPrefix(code, PrefixRL1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := inflate(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encode makes a code of ours from a COSE_Sign1, as Issue does.
func encode(t testing.TB, signed []byte) string {
	t.Helper()
	return PrefixRL1 + EncodeBase45(zlibStored(signed))
}

func brokenChecksum(t testing.TB, code string) []byte {
	t.Helper()
	z := zlibStored(coseOf(t, code))
	z[len(z)-1] ^= 0x01 // the last byte of the Adler-32
	return z
}

// tamper decodes a code, changes its COSE_Sign1 and encodes it again.
func tamper(t testing.TB, code string, change func(testing.TB, *cose.Sign1Message)) string {
	t.Helper()
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(coseOf(t, code)); err != nil {
		t.Fatal(err)
	}
	change(t, &m)
	b, err := m.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return encode(t, b)
}

func flipSignature(_ testing.TB, m *cose.Sign1Message) { m.Signature[10] ^= 0x40 }

func paintGreen(t testing.TB, m *cose.Sign1Message) {
	c, err := unmarshalClaims(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	c.Colour = domain.Green
	if m.Payload, err = marshalClaims(c); err != nil {
		t.Fatal(err)
	}
}

// signRaw signs any payload as Issue would.
func signRaw(t testing.TB, key *ecdsa.PrivateKey, payload []byte) []byte {
	t.Helper()
	kid, _ := KeyID(&key.PublicKey)
	signer, err := cose.NewSigner(cose.AlgorithmES256, key)
	if err != nil {
		t.Fatal(err)
	}
	h := cose.Headers{Protected: cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256, cose.HeaderLabelKeyID: kid}}
	b, err := cose.Sign1(rand.Reader, signer, h, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRotatedKey: SH rotates its key at noon. Codes the old key signed in
// the morning stay valid to the end of their day; a code the old key signs
// after noon is not trusted.
func TestRotatedKey(t *testing.T) {
	f := newFixture(t)
	noon := f.at(t, "2020-02-04 12:00:00")
	old, fresh := newKey(t), newKey(t)
	trust := NewTrust()
	if err := trust.AddIssuer("SH", mustRegion(t, "Shanghai")); err != nil {
		t.Fatal(err)
	}
	if _, err := trust.AddKey("SH", &old.PublicKey, time.Time{}, noon); err != nil {
		t.Fatal(err)
	}
	if _, err := trust.AddKey("SH", &fresh.PublicKey, noon, time.Time{}); err != nil {
		t.Fatal(err)
	}
	evening := f.at(t, "2020-02-04 20:00:00")
	for _, tc := range []struct {
		name   string
		issued string
		key    *ecdsa.PrivateKey
		step   Step
		valid  bool
	}{
		{"the old key's morning code, checked in the evening", "07:30", old, StepDay, true},
		{"the old key's code of the last second before noon", "11:59", old, StepDay, true},
		{"the old key signing at noon", "12:00", old, StepIssuer, false},
		{"the new key's afternoon code", "13:00", fresh, StepDay, true},
		{"the new key signing before its validity", "11:00", fresh, StepIssuer, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Verify(issue(t, f.claims(t, "2020-02-04", tc.issued), tc.key), trust, evening, f.sh)
			if r.Valid != tc.valid || r.Step != tc.step {
				t.Fatalf("Verify = %+v; want valid %v at step %s", r, tc.valid, tc.step)
			}
		})
	}
}

func TestIssueRejectsIncompleteClaims(t *testing.T) {
	f := newFixture(t)
	good := f.claims(t, "2020-02-04", "07:30")
	for name, change := range map[string]func(*Claims){
		"no issuer":           func(c *Claims) { c.Issuer = "" },
		"no pseudonym":        func(c *Claims) { c.Pseudonym = "" },
		"no colour":           func(c *Claims) { c.Colour = domain.Colour{} },
		"no day":              func(c *Claims) { c.Day = domain.Date{} },
		"position 0":          func(c *Claims) { c.Position = 0 },
		"no issue time":       func(c *Claims) { c.IssuedAt = time.Time{} },
		"expiry before issue": func(c *Claims) { c.Expires = c.IssuedAt.Add(-time.Hour) },
		"a DCC certificate":   func(c *Claims) { c.DCC = map[string]any{"ver": "1.3.0"} },
	} {
		t.Run(name, func(t *testing.T) {
			c := good
			change(&c)
			if _, err := Issue(c, f.key); domain.ErrorCode(err) != domain.Invalid {
				t.Errorf("Issue = %v, want an Invalid error", err)
			}
		})
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]*ecdsa.PrivateKey{"no key": nil, "a P-384 key": p384} {
		if _, err := Issue(good, key); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("%s: Issue = %v, want an Invalid error", name, err)
		}
	}
}

func TestTrustErrors(t *testing.T) {
	f := newFixture(t)
	key := newKey(t)
	if _, err := f.trust.AddKey("AH", &key.PublicKey, time.Time{}, time.Time{}); domain.ErrorCode(err) != domain.NotFound {
		t.Errorf("a key of an unknown issuer: %v, want NotFound", err)
	}
	if err := f.trust.AddIssuer("SH", mustRegion(t, "Zhejiang")); domain.ErrorCode(err) != domain.Conflict {
		t.Errorf("SH for another region: %v, want Conflict", err)
	}
	if err := f.trust.AddIssuer("SH", mustRegion(t, "shanghai")); err != nil {
		t.Errorf("SH again for its region: %v", err)
	}
	if region, ok := f.trust.Region("SH"); !ok || region.String() != "Shanghai" {
		t.Errorf("Region(SH) = %v, %v", region, ok)
	}
	if _, err := f.trust.AddKey("SH", &f.key.PublicKey, time.Time{}, time.Time{}); domain.ErrorCode(err) != domain.Conflict {
		t.Errorf("the same key twice: %v, want Conflict", err)
	}
	from := time.Date(2020, 2, 4, 0, 0, 0, 0, time.UTC)
	if _, err := f.trust.AddKey("SH", &key.PublicKey, from, from); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("a key whose validity is empty: %v, want Invalid", err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.trust.AddKey("SH", &rsaKey.PublicKey, time.Time{}, time.Time{}); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("an RSA key for our codes: %v, want Invalid", err)
	}
	if _, err := f.trust.WithCertificate("", "not base64!"); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("a certificate that is not base64: %v, want Invalid", err)
	}
	if _, err := f.trust.WithCertificate("", "AAAA"); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("a certificate that is not DER: %v, want Invalid", err)
	}
}

// TestWithCertificateLeavesTheTrustListAlone: a certificate trusted for one
// check is not trusted for the next.
func TestWithCertificateLeavesTheTrustListAlone(t *testing.T) {
	c := loadDCCCases(t)[0] // AE/2DCode/raw/test.json
	at, err := c.clock()
	if err != nil {
		t.Fatal(err)
	}
	base := newFixture(t).trust
	once, err := base.WithCertificate("", c.Context.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if r := Verify(*c.Prefix, once, at, nil); !r.Valid {
		t.Fatalf("%s with its certificate: %+v", c.path, r)
	}
	if r := Verify(*c.Prefix, base, at, nil); r.Valid || r.Step != StepIssuer {
		t.Fatalf("%s without its certificate: %+v, want step issuer", c.path, r)
	}
	if _, ok := base.Region("AE"); ok {
		t.Error("WithCertificate added its issuer to the original trust list")
	}
	if _, ok := once.Region("SH"); !ok {
		t.Error("the copy lost the original's issuers")
	}
}

// TestZlibStoredInflates: the stored streams Issue writes are zlib streams
// that compress/zlib reads back, in one block or in several.
func TestZlibStoredInflates(t *testing.T) {
	for _, n := range []int{0, 1, 141, 0xffff, 0xffff + 1, 3*0xffff + 7} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		z := zlibStored(b)
		if !isZlib(z) {
			t.Fatalf("%d bytes: no zlib header", n)
		}
		r, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%d bytes: inflated %d bytes, %v", n, len(got), err)
		}
	}
}

// TestVerifyConcurrently: one trust list serves many scanners at once (run
// with -race).
func TestVerifyConcurrently(t *testing.T) {
	f := newFixture(t)
	code := issue(t, f.claims(t, "2020-02-04", "07:30"), f.key)
	bad := tamper(t, code, flipSignature)
	at := f.at(t, "2020-02-04 09:00:00")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if r := Verify(code, f.trust, at, f.sh); !r.Valid {
					t.Errorf("Verify = %+v", r)
				}
				if r := Verify(bad, f.trust, at, f.sh); r.Step != StepSignature {
					t.Errorf("Verify of a tampered code = %+v", r)
				}
			}
		})
	}
	wg.Wait()
}
