package eventstore

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/riskledger/riskledger/domain"
)

// Statement is a signed record of the ledger's head, meant to be kept outside
// the database: an administrator who rewrites history and recomputes the
// chain cannot produce a ledger that still matches it.
type Statement struct {
	Ledger     string    `json:"ledger"`
	Position   int64     `json:"position"`
	Hash       Hash      `json:"hash"`
	RecordedAt time.Time `json:"recorded_at"`
	SignedAt   time.Time `json:"signed_at"`
	KeyID      string    `json:"key_id"`
	Algorithm  string    `json:"alg"`
	Signature  []byte    `json:"signature"`
}

// KeyID names a public key: hex of the first 8 bytes of SHA-256 of its
// PKIX DER encoding (the EU DCC's kid rule).
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // cannot happen for a well-formed ed25519 key
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}

// SignHead returns a statement of h signed with key at time now.
func SignHead(h Head, key ed25519.PrivateKey, now time.Time) Statement {
	s := Statement{
		Ledger: "riskledger", Position: h.Position, Hash: h.Hash,
		RecordedAt: h.RecordedAt.UTC(), SignedAt: now.UTC().Truncate(time.Microsecond),
		KeyID: KeyID(key.Public().(ed25519.PublicKey)), Algorithm: "Ed25519",
	}
	s.Signature = ed25519.Sign(key, s.signedBytes())
	return s
}

func (s *Statement) signedBytes() []byte {
	b := []byte("riskledger/head/v1\x00")
	b = binary.BigEndian.AppendUint64(b, uint64(s.Position))
	b = append(b, s.Hash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.RecordedAt.UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(s.SignedAt.UnixMicro()))
	return append(b, s.KeyID...)
}

// Check verifies the statement's signature with pub. It returns an Invalid
// error when the statement was not signed by that key or was altered.
func (s *Statement) Check(pub ed25519.PublicKey) error {
	if s.Ledger != "riskledger" || s.Algorithm != "Ed25519" {
		return domain.Errorf(domain.Invalid, "this is not a riskledger head statement (ledger %q, alg %q)", s.Ledger, s.Algorithm)
	}
	if s.KeyID != KeyID(pub) {
		return domain.Errorf(domain.Invalid, "the statement was signed by key %s, not by this ledger's key %s", s.KeyID, KeyID(pub))
	}
	if !ed25519.Verify(pub, s.signedBytes(), s.Signature) {
		return domain.Errorf(domain.Invalid, "the statement's signature does not verify: it was altered after signing")
	}
	return nil
}

// String is a one-line summary for logs.
func (s Statement) String() string {
	return fmt.Sprintf("head %d %s signed %s by %s", s.Position, s.Hash, s.SignedAt.Format(time.RFC3339), s.KeyID)
}
