package codes

import (
	"strings"

	"github.com/riskledger/riskledger/domain"
)

// base45Alphabet is the alphabet of RFC 9285: the 45 characters of a QR code's
// alphanumeric mode, which is why a base45 text fits a QR code more densely
// than base64 does.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// base45Value maps a character to its value, or -1 for a character outside
// the alphabet.
var base45Value = func() [256]int8 {
	var v [256]int8
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		v[base45Alphabet[i]] = int8(i)
	}
	return v
}()

// EncodeBase45 encodes b as RFC 9285 base45: each two bytes become three
// characters, a last odd byte two.
func EncodeBase45(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b)/2*3 + len(b)%2*2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		sb.WriteByte(base45Alphabet[n%45])
		sb.WriteByte(base45Alphabet[n/45%45])
		sb.WriteByte(base45Alphabet[n/(45*45)])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		sb.WriteByte(base45Alphabet[n%45])
		sb.WriteByte(base45Alphabet[n/45])
	}
	return sb.String()
}

// DecodeBase45 decodes an RFC 9285 base45 text. A character outside the
// alphabet, a lone last character, a group of three worth more than 65535
// or a last pair worth more than 255 is an Invalid error naming the offset.
func DecodeBase45(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, domain.Errorf(domain.Invalid, "base45 text of %d characters ends with a single character; a complete text has 3 characters for every 2 bytes and 2 for a last odd byte", len(s))
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		group := min(3, len(s)-i)
		n := 0
		for j := group - 1; j >= 0; j-- {
			v := base45Value[s[i+j]]
			if v < 0 {
				return nil, domain.Errorf(domain.Invalid, "base45 text has %q at offset %d, which is not in the base45 alphabet", s[i+j], i+j)
			}
			n = n*45 + int(v)
		}
		if group == 3 {
			if n > 0xffff {
				return nil, domain.Errorf(domain.Invalid, "base45 group %q at offset %d is worth %d, more than two bytes can hold", s[i:i+3], i, n)
			}
			out = append(out, byte(n>>8), byte(n))
			continue
		}
		if n > 0xff {
			return nil, domain.Errorf(domain.Invalid, "base45 pair %q at the end is worth %d, more than one byte can hold", s[i:], n)
		}
		out = append(out, byte(n))
	}
	return out, nil
}
