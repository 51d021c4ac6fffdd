package codes

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// dccDir is the public EU DCC test suite (dgc-testdata), beside the
// repository.
var dccDir = filepath.Join("..", "..", "shared", "data", "dgc-testdata")

// The EXPECTED* flags the verifier covers, in pipeline order. The suite's
// other flags test what a scanner does not do (build a certificate from
// JSON, validate it against the DCC schema, check the key usage OIDs of the
// signer certificate, read the PNG).
var dccFlags = []string{
	"EXPECTEDUNPREFIX",
	"EXPECTEDB45DECODE",
	"EXPECTEDCOMPRESSION",
	"EXPECTEDDECODE",
	"EXPECTEDVERIFY",
	"EXPECTEDEXPIRATIONCHECK",
}

// dccCase is one file of the suite.
type dccCase struct {
	path    string // relative to dccDir, with slashes
	country string // its first directory (a country, or "common")

	Prefix     *string `json:"PREFIX"`
	Base45     *string `json:"BASE45"`
	Compressed *string `json:"COMPRESSED"`
	COSE       *string `json:"COSE"`
	CBOR       *string `json:"CBOR"`
	Context    struct {
		Certificate string `json:"CERTIFICATE"`
		Clock       string `json:"VALIDATIONCLOCK"`
		// Some files also carry the clock as validationClockInstant; where
		// both are present they are the same instant.
		ClockInstant string `json:"validationClockInstant"`
	} `json:"TESTCTX"`
	// Expected holds the flags. Three files nest a stray "EXPECTEDRESULTS":
	// true in it, hence any.
	Expected map[string]any `json:"EXPECTEDRESULTS"`
}

// expected returns the value of a flag, and whether the case tests it.
// Seven files (BG 1-4, ES 201-203) misspell the expiration flag
// EXPTECTEDEXPIRED; it is read as EXPECTEDEXPIRATIONCHECK, which none of
// them also has. Its value, true, is that flag's sense: their validation
// clocks lie within the credentials' iat and exp.
func (c *dccCase) expected(flag string) (bool, bool) {
	v, ok := c.Expected[flag].(bool)
	if !ok && flag == "EXPECTEDEXPIRATIONCHECK" {
		v, ok = c.Expected["EXPTECTEDEXPIRED"].(bool)
	}
	return v, ok
}

func loadDCCCases(t testing.TB) []*dccCase {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dccDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") && filepath.Base(filepath.Dir(p)) == "raw" && filepath.Base(filepath.Dir(filepath.Dir(p))) == "2DCode" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the DCC test suite is missing (%v); it belongs in shared/data/dgc-testdata beside the repository", err)
	}
	sort.Strings(files)
	var cases []*dccCase
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := &dccCase{}
		if err := json.Unmarshal(b, c); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		rel, _ := filepath.Rel(dccDir, p)
		c.path = filepath.ToSlash(rel)
		c.country = strings.SplitN(c.path, "/", 2)[0]
		cases = append(cases, c)
	}
	return cases
}

// clock parses the validation clock: ISO 8601 with or without a zone
// (without is UTC, as in the suite's runner) and with any number of
// fractional digits.
func (c *dccCase) clock() (time.Time, error) {
	s := c.Context.Clock
	if s == "" {
		s = c.Context.ClockInstant
	}
	for _, layout := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("validation clock %q is not ISO 8601", s)
}

// Each stage's input is the case's own field for it, as the suite
// prescribes, or, where the file leaves that field out, what the verifier
// makes of the previous stage's.
func (c *dccCase) base45() (string, bool) {
	if c.Base45 != nil {
		return *c.Base45, true
	}
	if c.Prefix == nil {
		return "", false
	}
	prefix, rest, f := unprefix(*c.Prefix)
	return rest, f == nil && prefix == PrefixHC1
}

func (c *dccCase) compressed() ([]byte, bool) {
	if c.Compressed != nil {
		b, err := hex.DecodeString(*c.Compressed)
		return b, err == nil
	}
	s, ok := c.base45()
	if !ok {
		return nil, false
	}
	b, err := DecodeBase45(s)
	return b, err == nil
}

func (c *dccCase) cose() ([]byte, bool) {
	if c.COSE != nil {
		b, err := hex.DecodeString(*c.COSE)
		return b, err == nil
	}
	z, ok := c.compressed()
	if !ok {
		return nil, false
	}
	b, _, f := decompress(PrefixHC1, z)
	return b, f == nil
}

// check runs the verifier's step for a flag on the case and reports whether
// it passed, with a note on why not.
func (c *dccCase) check(flag string) (bool, string) {
	switch flag {
	case "EXPECTEDUNPREFIX":
		if c.Prefix == nil {
			return false, "no PREFIX"
		}
		prefix, rest, f := unprefix(*c.Prefix)
		switch {
		case f != nil:
			return false, f.reason
		case prefix != PrefixHC1:
			return false, "prefix " + prefix + " is not a DCC's"
		case c.Base45 != nil && rest != *c.Base45:
			return false, "the text after the prefix differs from BASE45"
		}
		return true, ""
	case "EXPECTEDB45DECODE":
		s, ok := c.base45()
		if !ok {
			return false, "no base45 input"
		}
		b, err := DecodeBase45(s)
		if err != nil {
			return false, err.Error()
		}
		if c.Compressed != nil && hex.EncodeToString(b) != strings.ToLower(*c.Compressed) {
			return false, "decodes to other bytes than COMPRESSED"
		}
		return true, ""
	case "EXPECTEDCOMPRESSION":
		z, ok := c.compressed()
		if !ok {
			return false, "no compressed input"
		}
		b, compressed, f := decompress(PrefixHC1, z)
		switch {
		case f != nil:
			return false, f.reason
		case !compressed:
			return false, "not zlib-compressed (the verifier takes it uncompressed)"
		case c.COSE != nil && hex.EncodeToString(b) != strings.ToLower(*c.COSE):
			return false, "inflates to other bytes than COSE"
		}
		return true, ""
	case "EXPECTEDDECODE":
		b, ok := c.cose()
		if !ok {
			return false, "no COSE input"
		}
		env, _, f := decodeSigned(PrefixHC1, b)
		if f != nil {
			return false, f.reason
		}
		if c.CBOR != nil {
			if ok, why := sameCBOR(env.msg.Payload, *c.CBOR); !ok {
				return false, why
			}
		}
		return true, ""
	case "EXPECTEDVERIFY":
		env, claims, trust, why := c.signed()
		if env == nil {
			return false, why
		}
		key, f := checkSignature(PrefixHC1, env, claims, trust)
		switch {
		case f != nil:
			return false, f.reason
		case key == nil:
			return false, "the kid is not the certificate's"
		}
		return true, ""
	case "EXPECTEDEXPIRATIONCHECK":
		env, claims, trust, why := c.signed()
		if env == nil {
			return false, why
		}
		at, err := c.clock()
		if err != nil {
			return false, err.Error()
		}
		// The signer certificate bounds the credential's time like our
		// keys' validity does: issued within it.
		for _, k := range trust.keys(certificateKeyID(c.certDER())) {
			if !claims.IssuedAt.IsZero() && !k.inForce(claims.IssuedAt) {
				return false, "issued outside the signer certificate's validity"
			}
		}
		if f := checkExpiry(PrefixHC1, claims, at, time.UTC); f != nil {
			return false, f.reason
		}
		return true, ""
	}
	panic("unknown flag " + flag)
}

// issuerID is the issuer the case's certificate is trusted for: its
// subject's country, or, for the common cases' self-made certificates that
// name none, "XX".
func (c *dccCase) issuerID() string {
	cert, err := x509.ParseCertificate(c.certDER())
	if err == nil && len(cert.Subject.Country) == 1 {
		return ""
	}
	return "XX"
}

func (c *dccCase) certDER() []byte {
	der, _ := base64Std(c.Context.Certificate)
	return der
}

// signed decodes the case's COSE and trusts its certificate.
func (c *dccCase) signed() (*envelope, Claims, *Trust, string) {
	b, ok := c.cose()
	if !ok {
		return nil, Claims{}, nil, "no COSE input"
	}
	env, claims, f := decodeSigned(PrefixHC1, b)
	if f != nil {
		return nil, Claims{}, nil, f.reason
	}
	trust, err := NewTrust().WithCertificate(c.issuerID(), c.Context.Certificate)
	if err != nil {
		return nil, Claims{}, nil, "certificate: " + err.Error()
	}
	return env, claims, trust, ""
}

// sameCBOR compares a COSE payload with the case's CBOR field, which some
// issuers give as the whole CWT and others as the certificate alone; the
// same values in another order or encoding are the same.
func sameCBOR(payload []byte, field string) (bool, string) {
	want, err := hex.DecodeString(field)
	if err != nil {
		return false, "CBOR is not hex"
	}
	var got, exp any
	if err := dccDec.Unmarshal(payload, &got); err != nil {
		return false, "payload: " + err.Error()
	}
	if err := dccDec.Unmarshal(want, &exp); err != nil {
		return false, "CBOR field: " + err.Error()
	}
	if reflect.DeepEqual(got, exp) {
		return true, ""
	}
	if m, ok := got.(map[any]any); ok {
		if h, ok := m[int64(claimHCert)].(map[any]any); ok && reflect.DeepEqual(h[uint64(1)], exp) {
			return true, ""
		}
	}
	return false, "the payload differs from CBOR"
}

// knownDifference is a line of testdata/dcc_known_differences.txt.
type knownDifference struct{ path, flag, reason string }

func loadKnownDifferences(t testing.TB) map[[2]string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "dcc_known_differences.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := map[[2]string]string{}
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.SplitN(line, " ", 3)
		if len(fields) < 3 || !slices.Contains(dccFlags, fields[1]) || strings.TrimSpace(fields[2]) == "" {
			t.Fatalf("dcc_known_differences.txt:%d: want PATH FLAG REASON, got %q", n, line)
		}
		known[[2]string{fields[0], fields[1]}] = fields[2]
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return known
}

// dccTally counts one country's checks.
type dccTally struct {
	cases, casesAgreeing int
	checks, agree, known int
	whole, wholeValid    int               // credentials Verify should accept, and did
	perFlag              map[string][2]int // flag → {agree, checks}
}

// TestDCCSuite runs the verifier's steps on every case of the public EU DCC
// test suite and compares each result with the case's EXPECTED* flag. It
// fails on a disagreement not listed in testdata/dcc_known_differences.txt
// and on a listed one that no longer disagrees. A case whose every covered
// flag is true, with the signature and the expiry among them, is a valid
// credential: Verify must also accept its whole PREFIX text. With
// RISKLEDGER_WRITE_DCC_TABLE=1 the test rewrites DCC.md from the results.
func TestDCCSuite(t *testing.T) {
	cases := loadDCCCases(t)
	known := loadKnownDifferences(t)
	seen := map[[2]string]bool{}
	tallies := map[string]*dccTally{}
	total := &dccTally{perFlag: map[string][2]int{}}
	for _, c := range cases {
		tl := tallies[c.country]
		if tl == nil {
			tl = &dccTally{perFlag: map[string][2]int{}}
			tallies[c.country] = tl
		}
		caseAgrees := true
		for _, flag := range dccFlags {
			want, ok := c.expected(flag)
			if !ok {
				continue
			}
			got, why := c.check(flag)
			if testing.Verbose() && !want {
				t.Logf("%s %s: want false, got %v (%s)", c.path, flag, got, why)
			}
			agree := got == want
			key := [2]string{c.path, flag}
			pf := tl.perFlag[flag]
			pf[1]++
			tl.checks++
			if agree {
				pf[0]++
				tl.agree++
			} else {
				caseAgrees = false
				if _, ok := known[key]; ok {
					seen[key] = true
					tl.known++
				} else {
					t.Errorf("%s %s: want %v, got %v (%s)", c.path, flag, want, got, why)
				}
			}
			tl.perFlag[flag] = pf
		}
		tl.cases++
		if caseAgrees {
			tl.casesAgreeing++
		}
		if c.allTrue(known) {
			tl.whole++
			if c.verifyWhole(t) {
				tl.wholeValid++
			}
		}
	}
	for key := range known {
		if !seen[key] {
			t.Errorf("dcc_known_differences.txt lists %s %s, which now agrees with the suite (or is not tested): remove the line", key[0], key[1])
		}
	}
	countries := make([]string, 0, len(tallies))
	for c, tl := range tallies {
		countries = append(countries, c)
		total.cases += tl.cases
		total.casesAgreeing += tl.casesAgreeing
		total.checks += tl.checks
		total.agree += tl.agree
		total.known += tl.known
		total.whole += tl.whole
		total.wholeValid += tl.wholeValid
		for f, pf := range tl.perFlag {
			tp := total.perFlag[f]
			total.perFlag[f] = [2]int{tp[0] + pf[0], tp[1] + pf[1]}
		}
	}
	sort.Strings(countries)
	table := dccTable(countries, tallies, total)
	t.Logf("EU DCC test suite, %d cases:\n%s", total.cases, table)
	t.Logf("%d of %d whole credentials valid", total.wholeValid, total.whole)
	if total.whole < 400 {
		t.Errorf("only %d cases had every covered flag true; the suite has over 400", total.whole)
	}
	if total.cases != 577 {
		t.Errorf("found %d cases, want the suite's 577", total.cases)
	}
	if os.Getenv("RISKLEDGER_WRITE_DCC_TABLE") == "1" {
		if err := os.WriteFile("DCC.md", []byte(dccReport(table, known, total)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func dccTable(countries []string, tallies map[string]*dccTally, total *dccTally) string {
	var b strings.Builder
	b.WriteString("| country | cases | cases agreeing | checks | agreeing | known differences |")
	for _, f := range dccFlags {
		b.WriteString(" " + strings.TrimPrefix(f, "EXPECTED") + " |")
	}
	b.WriteString("\n|---|--:|--:|--:|--:|--:|" + strings.Repeat("--:|", len(dccFlags)) + "\n")
	row := func(name string, tl *dccTally) {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d |", name, tl.cases, tl.casesAgreeing, tl.checks, tl.agree, tl.known)
		for _, f := range dccFlags {
			if pf := tl.perFlag[f]; pf[1] > 0 {
				fmt.Fprintf(&b, " %d/%d |", pf[0], pf[1])
			} else {
				b.WriteString(" – |")
			}
		}
		b.WriteString("\n")
	}
	for _, c := range countries {
		row(c, tallies[c])
	}
	row("**total**", total)
	return b.String()
}

func dccReport(table string, known map[[2]string]string, total *dccTally) string {
	var b bytes.Buffer
	b.WriteString("# The EU DCC test suite\n\n")
	b.WriteString("Written by `RISKLEDGER_WRITE_DCC_TABLE=1 go test ./codes -run TestDCCSuite`; do not edit by hand.\n\n")
	fmt.Fprintf(&b, "`TestDCCSuite` runs the verifier's steps on the %d cases of the public EU Digital COVID Certificate\n", total.cases)
	b.WriteString("test suite (eu-digital-green-certificates/dgc-testdata, Apache-2.0, in `shared/data/dgc-testdata`)\n")
	b.WriteString("and compares each with the case's `EXPECTED*` flags, for the flags a scanner's checks cover:\n\n")
	b.WriteString("| flag | input | the verifier's check |\n|---|---|---|\n")
	b.WriteString("| UNPREFIX | `PREFIX` | starts with `HC1:` and the rest is `BASE45` |\n")
	b.WriteString("| B45DECODE | `BASE45` | decodes as RFC 9285 base45, to `COMPRESSED` |\n")
	b.WriteString("| COMPRESSION | `COMPRESSED` | is a zlib stream that inflates to `COSE` (the verifier also takes an uncompressed DCC, but the flag asks whether it was compressed) |\n")
	b.WriteString("| DECODE | `COSE` | a COSE_Sign1 (tag 18, untagged, or inside a CWT tag 61) whose payload is a CWT with the health certificate (claim -260, entry 1), the same values as `CBOR` |\n")
	b.WriteString("| VERIFY | `COSE`, `TESTCTX.CERTIFICATE` | the kid (protected, else unprotected) is the certificate's and the ES256 or PS256 signature verifies under its key |\n")
	b.WriteString("| EXPIRATIONCHECK | `COSE`, `TESTCTX.VALIDATIONCLOCK` | issued within the certificate's validity, the clock not after `exp` and not before `iat` less 5 minutes |\n\n")
	b.WriteString("A stage whose field a case leaves out takes what the verifier makes of the stage before. Other flags test what a\n")
	b.WriteString("scanner does not do (schema validation, building CBOR from JSON, key usage OIDs, reading the PNG).\n\n")
	b.WriteString("The suite's quirks: 3 files name the picture `_2DCODE` (no flag here reads it); 7 (BG 1-4, ES 201-203) spell the\n")
	b.WriteString("expiration flag `EXPTECTEDEXPIRED`, read as `EXPECTEDEXPIRATIONCHECK`; 15 repeat the clock as `validationClockInstant`,\n")
	b.WriteString("the same instant as `VALIDATIONCLOCK`, which is read first.\n\n")
	b.WriteString(table)
	fmt.Fprintf(&b, "\n%d of %d checks agree with the suite. ", total.agree, total.checks)
	fmt.Fprintf(&b, "The %d cases that expect every covered step to pass are also verified whole, from the `HC1:` text:\n", total.whole)
	fmt.Fprintf(&b, "Verify accepts %d of them.\n\n", total.wholeValid)
	if len(known) == 0 {
		b.WriteString("There are no known differences.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "Known differences (`codes/testdata/dcc_known_differences.txt`), %d:\n\n", len(known))
	b.WriteString("| case | flag | reason |\n|---|---|---|\n")
	keys := make([][2]string, 0, len(known))
	for k := range known {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k[0], strings.TrimPrefix(k[1], "EXPECTED"), known[k])
	}
	return b.String()
}

func base64Std(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimSpace(s))
}

// verifyWhole runs Verify on the case's PREFIX at its validation clock, with
// its certificate trusted, and reports whether it was valid with the
// certificate in its claims.
func (c *dccCase) verifyWhole(t *testing.T) bool {
	t.Helper()
	at, err := c.clock()
	if err != nil {
		t.Errorf("%s: %v", c.path, err)
		return false
	}
	trust, err := NewTrust().WithCertificate(c.issuerID(), c.Context.Certificate)
	if err != nil {
		t.Errorf("%s: %v", c.path, err)
		return false
	}
	r := Verify(*c.Prefix, trust, at, time.UTC)
	if !r.Valid || r.Step != StepDay || r.Prefix != "HC1" || r.Claims == nil || r.Claims.DCC == nil {
		t.Errorf("%s: Verify = %+v, want a valid credential", c.path, r)
		return false
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("%s: the result does not marshal: %v", c.path, err)
		return false
	}
	return true
}

// allTrue reports whether the case expects every covered step to pass,
// tests at least the signature and the expiry, and has no known difference.
func (c *dccCase) allTrue(known map[[2]string]string) bool {
	if c.Prefix == nil {
		return false
	}
	for _, flag := range dccFlags {
		want, ok := c.expected(flag)
		if ok && !want {
			return false
		}
		if _, ok := known[[2]string{c.path, flag}]; ok {
			return false
		}
	}
	_, verify := c.expected("EXPECTEDVERIFY")
	_, expiry := c.expected("EXPECTEDEXPIRATIONCHECK")
	return verify && expiry
}
