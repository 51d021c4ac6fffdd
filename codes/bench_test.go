package codes

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/skip2/go-qrcode"
)

// The benchmarks come in pairs: ours, and a baseline of the work no
// implementation can avoid. Run them side by side:
//
//	go test ./codes -run X -bench . -benchmem

// BenchmarkVerify verifies a code of ours, every step.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	code := issue(b, f.claims(b, "2020-02-04", "07:30"), f.key)
	at := f.at(b, "2020-02-04 09:00:00")
	b.ReportAllocs()
	for b.Loop() {
		if r := Verify(code, f.trust, at, f.sh); !r.Valid {
			b.Fatal(r.Reason)
		}
	}
}

// BenchmarkVerifyBaseline inflates the same compressed bytes with a fresh
// zlib reader and checks an ECDSA P-256 signature over a message as long as
// the code's COSE_Sign1: the inflating and the cryptography of
// BenchmarkVerify, with nothing else.
func BenchmarkVerifyBaseline(b *testing.B) {
	f := newFixture(b)
	code := issue(b, f.claims(b, "2020-02-04", "07:30"), f.key)
	z, err := DecodeBase45(code[len(PrefixRL1):])
	if err != nil {
		b.Fatal(err)
	}
	msg := coseOf(b, code)
	digest := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, f.key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadAll(r); err != nil {
			b.Fatal(err)
		}
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&f.key.PublicKey, h[:], sig) {
			b.Fatal("signature does not verify")
		}
	}
}

// pngSize is the width of the QR codes the Issue benchmarks draw.
const pngSize = 256

// BenchmarkIssue signs and encodes a code and draws its QR code.
func BenchmarkIssue(b *testing.B) {
	f := newFixture(b)
	c := f.claims(b, "2020-02-04", "07:30")
	b.ReportAllocs()
	for b.Loop() {
		code, err := Issue(c, f.key)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := PNG(code, pngSize); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueBaseline draws the QR code of the same text with go-qrcode
// alone.
func BenchmarkIssueBaseline(b *testing.B) {
	f := newFixture(b)
	code := issue(b, f.claims(b, "2020-02-04", "07:30"), f.key)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := qrcode.Encode(code, qrcode.High, pngSize); err != nil {
			b.Fatal(err)
		}
	}
}
