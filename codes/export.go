package codes

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/riskledger/riskledger/domain"
)

// TrustExport is the trust list as offline scanners load it: the list, and
// an ES256 signature over its compact JSON by the exporting issuer's key.
type TrustExport struct {
	// List is a TrustListDocument, kept as the bytes signed.
	List      json.RawMessage `json:"list"`
	KeyID     string          `json:"kid"`
	Signature []byte          `json:"signature"`
}

// TrustListDocument is what a trust export lists.
type TrustListDocument struct {
	// Issuer is the exporting issuer (its key signs the export).
	Issuer     string                 `json:"issuer"`
	ExportedAt time.Time              `json:"exported_at"`
	Position   int64                  `json:"position"`
	Issuers    []domain.IssuerTrusted `json:"issuers"`
}

// Export signs a trust list document with key.
func Export(doc TrustListDocument, key *ecdsa.PrivateKey) (TrustExport, error) {
	list, err := json.Marshal(doc)
	if err != nil {
		return TrustExport{}, err
	}
	kid, err := KeyID(key.Public())
	if err != nil {
		return TrustExport{}, err
	}
	sum := sha256.Sum256(list)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return TrustExport{}, err
	}
	return TrustExport{List: list, KeyID: hex.EncodeToString(kid), Signature: sig}, nil
}

// Load checks an export's signature and returns the trust it lists. The
// signing key must be pinned's (the key a scanner was given when it was
// set up), or, with pinned nil, the exporting issuer's own key in the list.
// A signature that does not verify, or a key that is not the exporter's,
// is Invalid.
func (e TrustExport) Load(pinned *ecdsa.PublicKey) (*Trust, TrustListDocument, error) {
	var doc TrustListDocument
	if err := json.Unmarshal(e.List, &doc); err != nil {
		return nil, doc, domain.Errorf(domain.Invalid, "the trust list cannot be read: %v", err)
	}
	key := pinned
	if key == nil {
		for _, is := range doc.Issuers {
			if is.Issuer != doc.Issuer {
				continue
			}
			for _, k := range is.Keys {
				pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
				if ec, ok := pub.(*ecdsa.PublicKey); err == nil && ok {
					if kid, err := KeyID(ec); err == nil && hex.EncodeToString(kid) == e.KeyID {
						key = ec
					}
				}
			}
		}
	}
	if key == nil {
		return nil, doc, domain.Errorf(domain.Invalid, "the trust list is signed with key %s, which is not issuer %q's", e.KeyID, doc.Issuer)
	}
	// The signature is over the list as json.Marshal writes it: compact,
	// so that an export may be re-indented.
	var compact bytes.Buffer
	if err := json.Compact(&compact, e.List); err != nil {
		return nil, doc, domain.Errorf(domain.Invalid, "the trust list cannot be read: %v", err)
	}
	sum := sha256.Sum256(compact.Bytes())
	if !ecdsa.VerifyASN1(key, sum[:], e.Signature) {
		return nil, doc, domain.Errorf(domain.Invalid, "the trust list's signature does not verify: it was changed after it was exported, or signed by another key")
	}
	t := NewTrust()
	for _, is := range doc.Issuers {
		if err := t.AddTrusted(is); err != nil {
			return nil, doc, err
		}
	}
	return t, doc, nil
}
