package codes

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"strings"
	"time"

	"github.com/veraison/go-cose"

	"github.com/riskledger/riskledger/domain"
)

// KeyIDSize is the length of a key id (kid): the first 8 bytes of a SHA-256,
// as in the EU DCC.
const KeyIDSize = 8

// KeyID returns the kid of one of our signing keys: the first 8 bytes of
// the SHA-256 of its DER SubjectPublicKeyInfo. A key x509 cannot encode is
// an Invalid error.
func KeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, domain.Errorf(domain.Invalid, "public key cannot be encoded: %v", err)
	}
	sum := sha256.Sum256(der)
	return sum[:KeyIDSize], nil
}

// certificateKeyID returns the kid of an EU DCC signer: the first 8 bytes
// of the SHA-256 of the whole certificate (hcert specification §3.3.1),
// unlike our keys, which are named by their public key alone.
func certificateKeyID(der []byte) []byte {
	sum := sha256.Sum256(der)
	return sum[:KeyIDSize]
}

// trustedKey is a trusted public key of an issuer.
type trustedKey struct {
	issuerID string
	kid      []byte
	public   crypto.PublicKey
	// from and until bound the time the key may sign in: a code whose
	// issued-at lies outside [from, until) is not trusted. A rotated-out
	// key keeps verifying the codes it signed before until for as long as
	// they last. A zero from or until leaves that side open.
	from, until time.Time

	// alg is the one algorithm the key verifies: ES256 for an ECDSA key,
	// PS256 for an RSA key.
	alg      cose.Algorithm
	verifier cose.Verifier
}

// inForce reports whether the key could sign at t.
func (k *trustedKey) inForce(t time.Time) bool {
	return (k.from.IsZero() || !t.Before(k.from)) && (k.until.IsZero() || t.Before(k.until))
}

// issuer is one trusted issuer and its keys.
type issuer struct {
	region domain.Region
	keys   []*trustedKey
}

// Trust is the trust list a scanner verifies codes against: issuer id →
// the issuer's region and its public keys, each found by its kid. Build it
// with AddIssuer, AddKey and AddCertificate before verifying; a built Trust
// may serve any number of concurrent Verify calls, but is not safe to change
// while it does (use WithCertificate for a one-off addition).
type Trust struct {
	issuers map[string]*issuer
	// byKID finds a code's keys: kids are short enough that two issuers' keys
	// may share one, so each kid maps to every key that has it.
	byKID map[string][]*trustedKey
}

// NewTrust returns an empty trust list, in which no code verifies.
func NewTrust() *Trust {
	return &Trust{issuers: map[string]*issuer{}, byKID: map[string][]*trustedKey{}}
}

// AddIssuer trusts the issuer id of a region ("SH" for Shanghai). Adding an
// issuer again with the same region does nothing; with another region it is
// a Conflict error. An empty id or a zero region is Invalid.
func (t *Trust) AddIssuer(id string, region domain.Region) error {
	if strings.TrimSpace(id) == "" {
		return domain.Errorf(domain.Invalid, "issuer id is empty")
	}
	if region.IsZero() {
		return domain.Errorf(domain.Invalid, "issuer %q has no region", id)
	}
	if is, ok := t.issuers[id]; ok {
		if !is.region.Equal(region) {
			return domain.Errorf(domain.Conflict, "issuer %q is already trusted for region %s, not %s", id, is.region, region)
		}
		return nil
	}
	t.issuers[id] = &issuer{region: region}
	return nil
}

// Region returns the region of a trusted issuer, and whether it is trusted.
func (t *Trust) Region(id string) (domain.Region, bool) {
	is, ok := t.issuer(id)
	if !ok {
		return domain.Region{}, false
	}
	return is.region, true
}

// AddKey trusts one of our issuers' ES256 keys (ECDSA P-256) for codes
// issued in [from, until) (a zero bound is open) and returns its kid (KeyID).
// An unknown issuer is a NotFound error; another kind of key, or the same
// key twice, is Invalid or Conflict.
func (t *Trust) AddKey(issuerID string, pub crypto.PublicKey, from, until time.Time) ([]byte, error) {
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, domain.Errorf(domain.Invalid, "issuer %q: codes are signed with ECDSA P-256 keys (ES256), not %T", issuerID, pub)
	}
	kid, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	if err := t.add(&trustedKey{issuerID: issuerID, kid: kid, public: pub, from: from, until: until}); err != nil {
		return nil, err
	}
	return kid, nil
}

// AddCertificate trusts the key of an EU DCC document signer certificate
// (DER) for the issuer, for credentials issued within the certificate's
// validity, under the DCC kid: the first 8 bytes of the SHA-256 of the
// certificate. It takes ECDSA keys (ES256) and RSA keys of at least 2048
// bits (PS256), the DCC's two algorithms. An unknown issuer is NotFound; an unreadable
// certificate or another kind of key is Invalid.
func (t *Trust) AddCertificate(issuerID string, der []byte) ([]byte, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, domain.Errorf(domain.Invalid, "certificate cannot be read: %v", err)
	}
	kid := certificateKeyID(der)
	k := &trustedKey{issuerID: issuerID, kid: kid, public: cert.PublicKey, from: cert.NotBefore, until: cert.NotAfter}
	if err := t.add(k); err != nil {
		return nil, err
	}
	return kid, nil
}

// WithCertificate returns a copy of t that also trusts one EU DCC signer
// certificate, given as base64 DER (as DCC trust lists carry it), for one
// verification; t itself is not changed. The certificate is the issuer's
// whose id is given, or, for "", the issuer named by the country of its
// subject; an issuer t does not know is trusted for the region of that
// name. Errors are those of AddCertificate, and Invalid for bad base64 or,
// with no id given, a subject that names no country.
func (t *Trust) WithCertificate(issuerID, b64 string) (*Trust, error) {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, domain.Errorf(domain.Invalid, "certificate is not base64: %v", err)
	}
	if issuerID == "" {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, domain.Errorf(domain.Invalid, "certificate cannot be read: %v", err)
		}
		if len(cert.Subject.Country) != 1 || cert.Subject.Country[0] == "" {
			return nil, domain.Errorf(domain.Invalid, "certificate subject %q names no country; say which issuer it signs for", cert.Subject)
		}
		issuerID = cert.Subject.Country[0]
	}
	c := t.clone()
	if _, ok := c.issuers[issuerID]; !ok {
		region, err := domain.ParseRegion(issuerID)
		if err != nil {
			return nil, err
		}
		c.issuers[issuerID] = &issuer{region: region}
	}
	if _, err := c.AddCertificate(issuerID, der); err != nil {
		return nil, err
	}
	return c, nil
}

// clone copies the maps and the slices a later add may append to; keys are
// shared, as nothing changes them once added.
func (t *Trust) clone() *Trust {
	c := NewTrust()
	if t == nil {
		return c
	}
	for id, is := range t.issuers {
		c.issuers[id] = &issuer{region: is.region, keys: append([]*trustedKey(nil), is.keys...)}
	}
	maps.Copy(c.byKID, t.byKID)
	for kid, ks := range c.byKID {
		c.byKID[kid] = append([]*trustedKey(nil), ks...)
	}
	return c
}

// add checks a key, prepares its verifier and files it under its issuer and
// kid.
func (t *Trust) add(k *trustedKey) error {
	is, ok := t.issuers[k.issuerID]
	if !ok {
		return domain.Errorf(domain.NotFound, "issuer %q is not in the trust list; add it first", k.issuerID)
	}
	if !k.until.IsZero() && !k.until.After(k.from) {
		return domain.Errorf(domain.Invalid, "key %s of issuer %q: its validity ends (%s) before it begins (%s)", hex.EncodeToString(k.kid), k.issuerID, k.until.Format(time.RFC3339), k.from.Format(time.RFC3339))
	}
	switch k.public.(type) {
	case *ecdsa.PublicKey:
		// ES256 is ECDSA with SHA-256. Our keys are P-256 (AddKey); a DCC
		// signer certificate's key may be on another curve, which DCC
		// verifiers accept (the DCC test suite has a P-384 signer).
		k.alg = cose.AlgorithmES256
	case *rsa.PublicKey:
		k.alg = cose.AlgorithmPS256
	default:
		return domain.Errorf(domain.Invalid, "key %s of issuer %q is a %T; codes are signed with ES256 or PS256", hex.EncodeToString(k.kid), k.issuerID, k.public)
	}
	v, err := cose.NewVerifier(k.alg, k.public)
	if err != nil {
		return domain.Errorf(domain.Invalid, "key %s of issuer %q cannot verify %s: %v", hex.EncodeToString(k.kid), k.issuerID, k.alg, err)
	}
	k.verifier = v
	for _, old := range is.keys {
		if bytes.Equal(old.kid, k.kid) {
			return domain.Errorf(domain.Conflict, "key %s is already trusted for issuer %q", hex.EncodeToString(k.kid), k.issuerID)
		}
	}
	is.keys = append(is.keys, k)
	t.byKID[string(k.kid)] = append(t.byKID[string(k.kid)], k)
	return nil
}

// keys returns the trusted keys with the kid.
func (t *Trust) keys(kid []byte) []*trustedKey {
	if t == nil {
		return nil
	}
	return t.byKID[string(kid)]
}

// issuer returns a trusted issuer.
func (t *Trust) issuer(id string) (*issuer, bool) {
	if t == nil {
		return nil, false
	}
	is, ok := t.issuers[id]
	return is, ok
}

// AddTrusted trusts an issuer as the ledger's trust list has it: its
// region and each of its keys (ES256 public keys, EU DCC signer
// certificates). Errors are those of AddIssuer, AddKey and AddCertificate.
func (t *Trust) AddTrusted(e domain.IssuerTrusted) error {
	if err := t.AddIssuer(e.Issuer, e.Region); err != nil {
		return err
	}
	for i, k := range e.Keys {
		var err error
		switch {
		case len(k.Certificate) > 0:
			_, err = t.AddCertificate(e.Issuer, k.Certificate)
		case len(k.PublicKey) > 0:
			var pub crypto.PublicKey
			if pub, err = x509.ParsePKIXPublicKey(k.PublicKey); err == nil {
				_, err = t.AddKey(e.Issuer, pub, k.From, k.Until)
			} else {
				err = domain.Errorf(domain.Invalid, "public key cannot be read: %v", err)
			}
		default:
			err = domain.Errorf(domain.Invalid, "names neither a public key nor a certificate")
		}
		if err != nil {
			return domain.Errorf(domain.ErrorCode(err), "issuer %q, key %d: %s", e.Issuer, i+1, domain.ErrorMessage(err))
		}
	}
	return nil
}
