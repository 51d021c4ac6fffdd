package codes

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/adler32"

	"github.com/skip2/go-qrcode"
	"github.com/veraison/go-cose"

	"github.com/riskledger/riskledger/domain"
)

// The prefixes a code starts with: ours, and the EU DCC's.
const (
	PrefixRL1 = "RL1:"
	PrefixHC1 = "HC1:"
)

// Issue signs the claims with the issuer's ES256 key (ECDSA P-256) and
// returns the code: "RL1:" and the base45 text of the zlib stream of the
// COSE_Sign1 whose payload is the CWT of c. The protected header holds the
// algorithm and the key's kid (KeyID). Times are kept to the second.
// Claims that are incomplete (see Claims), or a key that is not P-256, are
// an Invalid error.
func Issue(c Claims, key *ecdsa.PrivateKey) (string, error) {
	if err := c.validate(); err != nil {
		return "", err
	}
	if key == nil || key.Curve != elliptic.P256() {
		return "", domain.Errorf(domain.Invalid, "codes are signed with an ECDSA P-256 key (ES256)")
	}
	payload, err := marshalClaims(c)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	kid, err := KeyID(&key.PublicKey)
	if err != nil {
		return "", err
	}
	signer, err := cose.NewSigner(cose.AlgorithmES256, key)
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	msg := cose.Sign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{
			cose.HeaderLabelAlgorithm: cose.AlgorithmES256,
			cose.HeaderLabelKeyID:     kid,
		}},
		Payload: payload,
	}
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		return "", fmt.Errorf("sign code: %w", err)
	}
	signed, err := msg.MarshalCBOR()
	if err != nil {
		return "", fmt.Errorf("encode COSE_Sign1: %w", err)
	}
	return PrefixRL1 + EncodeBase45(zlibStored(signed)), nil
}

// zlibStored wraps b in a zlib stream (RFC 1950) of stored deflate blocks
// (RFC 1951 §3.2.4), which every zlib reader inflates. A code's COSE_Sign1
// is about 140 bytes, nearly half of them a random signature: deflate cannot
// shrink it (compress/zlib at every level gives 16 bytes more than it
// takes), so the stream stores it, 11 bytes more, without the half
// megabyte of tables a compressor allocates.
func zlibStored(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/0xffff*5+11)
	// Deflate with a 32 KiB window and no dictionary; 0x7801 is a multiple
	// of 31, as the header check requires.
	out = append(out, 0x78, 0x01)
	rest := b
	for {
		n := min(len(rest), 0xffff)
		final := byte(0)
		if n == len(rest) {
			final = 1
		}
		out = append(out, final, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
		out = append(out, rest[:n]...)
		rest = rest[n:]
		if final == 1 {
			break
		}
	}
	return binary.BigEndian.AppendUint32(out, adler32.Checksum(b))
}

// PNG renders a code as a QR code image in PNG, size pixels wide (a
// negative size makes each module -size pixels instead), with error
// correction level Q, which still reads with a quarter of the symbol
// smudged or covered.
// A code too long for a QR code is an Invalid error.
func PNG(code string, size int) ([]byte, error) {
	// go-qrcode names the levels Low, Medium, High and Highest: they are
	// L, M, Q and H, so Q is qrcode.High (its Highest is H).
	png, err := qrcode.Encode(code, qrcode.High, size)
	if err != nil {
		return nil, domain.Errorf(domain.Invalid, "code cannot be drawn as a QR code: %v", err)
	}
	return png, nil
}
