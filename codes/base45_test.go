package codes

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/riskledger/riskledger/domain"
)

// The examples of RFC 9285 §4.3 and §4.4.
func TestBase45RFC9285Examples(t *testing.T) {
	for _, tc := range []struct{ bytes, text string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
	} {
		if got := EncodeBase45([]byte(tc.bytes)); got != tc.text {
			t.Errorf("EncodeBase45(%q) = %q, want %q", tc.bytes, got, tc.text)
		}
		got, err := DecodeBase45(tc.text)
		if err != nil || string(got) != tc.bytes {
			t.Errorf("DecodeBase45(%q) = %q, %v; want %q", tc.text, got, err, tc.bytes)
		}
	}
}

func TestBase45RejectsInvalidText(t *testing.T) {
	for name, text := range map[string]string{
		"a character outside the alphabet":        "QED8wEX0",
		"a character of base64 but not base45":    "BB8=",
		"a lone last character":                   "BB8B",
		"a lone character":                        "B",
		"a group worth 65536 (GGW, RFC 9285 §6)":  "GGW",
		"a group worth the most (:::)":            ":::",
		"a last pair worth more than a byte (::)": "BB8::",
		"a byte that is not ASCII":                "BB\xc3\xa9",
	} {
		t.Run(name, func(t *testing.T) {
			if b, err := DecodeBase45(text); domain.ErrorCode(err) != domain.Invalid {
				t.Errorf("DecodeBase45(%q) = %x, %v; want an Invalid error", text, b, err)
			}
		})
	}
}

func TestBase45RoundTripsEveryLength(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		if n > 0 {
			b[0], b[n-1] = 0xff, 0xff // the largest values at both ends
		}
		text := EncodeBase45(b)
		if want := n/2*3 + n%2*2; len(text) != want {
			t.Fatalf("%d bytes encode to %d characters, want %d", n, len(text), want)
		}
		got, err := DecodeBase45(text)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%d bytes: round trip gave %x, %v", n, got, err)
		}
	}
}
