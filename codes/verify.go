package codes

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/veraison/go-cose"

	"github.com/riskledger/riskledger/domain"
)

// Step names a step of verification, in the order they run.
type Step string

// The steps. Verify stops at the first that fails.
const (
	// StepPrefix: the code starts with RL1: (ours) or HC1: (an EU DCC).
	StepPrefix Step = "prefix"
	// StepBase45: the rest is base45 (RFC 9285).
	StepBase45 Step = "base45"
	// StepZlib: that decodes to a zlib stream. An EU DCC may also be
	// uncompressed, as DCC verifiers accept; ours never are.
	StepZlib Step = "zlib"
	// StepCOSE: which holds a COSE_Sign1 whose payload is the CWT claims.
	StepCOSE Step = "cose"
	// StepSignature: the signature verifies under the trusted key with the
	// message's kid, in the algorithm the message names (ES256, or PS256 for
	// an EU DCC). Ours name it in the protected header; an EU DCC may name it
	// in the unprotected one, since the key's type decides it anyway.
	StepSignature Step = "signature"
	// StepIssuer: a key with that kid is trusted, it belongs to the issuer
	// the code names (an EU DCC's issuer is its signer's), and it was in
	// force when the code was issued.
	StepIssuer Step = "issuer"
	// StepExpiry: the time of the check is before the code's expiry (for an
	// EU DCC, not after it) and not before its issue, less ClockSkew.
	StepExpiry Step = "expiry"
	// StepDay: for our codes, the check falls on the local day the code is
	// for; an EU DCC has no day and passes.
	StepDay Step = "day"
)

// ClockSkew is how far a scanner's clock may be behind the issuer's: a code
// issued up to this long after the time of the check is still accepted.
const ClockSkew = 5 * time.Minute

// maxCode bounds the text Verify decodes: the largest QR code holds 4,296
// characters.
const maxCode = 8192

// Result is the outcome of Verify. As JSON:
//
//	{"valid": true, "step": "day", "reason": "...", "prefix": "RL1", "kid": "...", "claims": {...}}
//
// Step is the first step that failed, or the last step when Valid. Reason
// is a sentence for the person at the checkpoint. Claims are those the code
// states, present from the cose step on even when a later step fails: they
// are to be believed only when Valid.
type Result struct {
	Valid  bool   `json:"valid"`
	Step   Step   `json:"step"`
	Reason string `json:"reason"`
	// Prefix is "RL1" or "HC1" once the prefix step passed.
	Prefix string `json:"prefix,omitempty"`
	// KeyID is the kid of the signing key, in hex, once the cose step passed.
	KeyID  string  `json:"kid,omitempty"`
	Claims *Claims `json:"claims,omitempty"`
}

// failure is a step that failed, and why.
type failure struct {
	step   Step
	reason string
}

func fail(step Step, format string, args ...any) *failure {
	return &failure{step: step, reason: fmt.Sprintf(format, args...)}
}

// Verify checks a scanned code at the instant at, for a checkpoint whose
// local days are those of loc (nil is UTC), against the trust list (nil
// trusts nobody). It reads our codes (RL1:) and EU Digital COVID
// Certificates (HC1:), runs the steps in order and reports the first that
// fails; it never panics, whatever the text.
func Verify(code string, trust *Trust, at time.Time, loc *time.Location) Result {
	if loc == nil {
		loc = time.UTC
	}
	var r Result
	key, f := verify(&r, code, trust, at, loc)
	if f != nil {
		r.Step, r.Reason = f.step, f.reason
		return r
	}
	r.Valid, r.Step = true, StepDay
	issuer := key.issuerID
	if region, ok := trust.Region(key.issuerID); ok && region.Key() != strings.ToLower(issuer) {
		issuer += " (" + region.String() + ")"
	}
	if r.Prefix == "HC1" {
		r.Reason = fmt.Sprintf("Valid: an EU Digital COVID Certificate signed by trusted issuer %s, valid until %s.", issuer, formatTime(r.Claims.Expires, loc))
	} else {
		r.Reason = fmt.Sprintf("Valid: a %s code for %s from issuer %s.", r.Claims.Colour, r.Claims.Day, issuer)
	}
	return r
}

// verify runs the steps, filling r as they pass, and returns the key that
// signed a valid code or the step that failed.
func verify(r *Result, code string, trust *Trust, at time.Time, loc *time.Location) (*trustedKey, *failure) {
	prefix, text, f := unprefix(code)
	if f != nil {
		return nil, f
	}
	r.Prefix = strings.TrimSuffix(prefix, ":")
	data, f := decodeText(text)
	if f != nil {
		return nil, f
	}
	signed, _, f := decompress(prefix, data)
	if f != nil {
		return nil, f
	}
	env, claims, f := decodeSigned(prefix, signed)
	if f != nil {
		return nil, f
	}
	r.KeyID, r.Claims = hex.EncodeToString(env.kid), &claims
	key, f := checkSignature(prefix, env, claims, trust)
	if f != nil {
		return nil, f
	}
	if f := checkIssuer(prefix, env, key, claims, trust, loc); f != nil {
		return nil, f
	}
	if f := checkExpiry(prefix, claims, at, loc); f != nil {
		return nil, f
	}
	if prefix == PrefixRL1 {
		if f := checkDay(claims, at, loc); f != nil {
			return nil, f
		}
	}
	return key, nil
}

// unprefix splits the prefix off.
func unprefix(code string) (prefix, rest string, f *failure) {
	for _, p := range []string{PrefixRL1, PrefixHC1} {
		if rest, ok := strings.CutPrefix(code, p); ok {
			return p, rest, nil
		}
	}
	return "", "", fail(StepPrefix, "This is not a health code: it does not start with %s (a code of ours) or %s (an EU Digital COVID Certificate). Ask for the health code itself.", PrefixRL1, PrefixHC1)
}

// decodeText decodes the base45 text after the prefix.
func decodeText(text string) ([]byte, *failure) {
	if len(text) > maxCode {
		return nil, fail(StepBase45, "The code is %d characters long, more than any QR code holds; it was not read from a code.", len(text))
	}
	b, err := DecodeBase45(text)
	if err != nil {
		return nil, fail(StepBase45, "The code is damaged: %s. Scan it again; if it still fails, it was cut short or mistyped.", domain.ErrorMessage(err))
	}
	return b, nil
}

// decompress inflates the credential, and reports whether it was
// compressed: an EU DCC that is a bare COSE message passes uncompressed, as
// DCC verifiers take it.
func decompress(prefix string, data []byte) (signed []byte, compressed bool, f *failure) {
	if isZlib(data) {
		b, err := inflate(data)
		if err != nil {
			return nil, true, fail(StepZlib, "The code's compressed data is damaged (%v). Scan it again; if it still fails, the code was not made by a working issuer.", err)
		}
		return b, true, nil
	}
	if prefix == PrefixHC1 && len(data) > 0 && (data[0] == 0xd2 || data[0] == 0x84 || data[0] == 0xd8) {
		return data, false, nil
	}
	return nil, false, fail(StepZlib, "The code's data is not zlib-compressed, as every code must be. Scan it again; if it still fails, the code was not made by a working issuer.")
}

// decodeSigned reads the COSE_Sign1 and its claims.
func decodeSigned(prefix string, b []byte) (*envelope, Claims, *failure) {
	env, err := decodeEnvelope(b)
	if err != nil {
		return nil, Claims{}, fail(StepCOSE, "The code %s, so it holds no signed credential; it was not made by a working issuer.", err)
	}
	var claims Claims
	if prefix == PrefixRL1 {
		claims, err = unmarshalClaims(env.msg.Payload)
	} else {
		claims, err = unmarshalDCC(env.msg.Payload)
	}
	if err != nil {
		return nil, Claims{}, fail(StepCOSE, "The code's claims %s; it was not made by a working issuer.", err)
	}
	return env, claims, nil
}

// checkSignature finds the trusted key with the message's kid whose
// signature verifies; keys of the issuer the code names come first, since a
// kid of 8 bytes may be shared. No trusted key with the kid is not a failure
// here: it returns a nil key, and the issuer step says why.
func checkSignature(prefix string, env *envelope, claims Claims, trust *Trust) (*trustedKey, *failure) {
	if prefix == PrefixRL1 && !env.algProtected {
		return nil, fail(StepSignature, "The code does not name its signature algorithm in its protected header, as our codes do; reject it.")
	}
	if env.alg != cose.AlgorithmES256 && env.alg != cose.AlgorithmPS256 {
		if env.alg == 0 {
			return nil, fail(StepSignature, "The code does not name its signature algorithm, so its signature cannot be checked; reject it.")
		}
		return nil, fail(StepSignature, "The code is signed with %s; only ES256 and PS256 signatures are accepted. Reject it.", env.alg)
	}
	if env.kid == nil {
		return nil, fail(StepSignature, "The code does not name its signing key (kid), so its signature cannot be checked; reject it.")
	}
	keys := issuerFirst(trust.keys(env.kid), claims.Issuer)
	var other *trustedKey
	for _, k := range keys {
		if k.alg != env.alg {
			other = k
			continue
		}
		if err := env.verify(k.verifier); err == nil {
			return k, nil
		} else if !errors.Is(err, cose.ErrVerification) {
			return nil, fail(StepSignature, "The code's signature cannot be checked (%v); reject it.", err)
		}
	}
	switch {
	case len(keys) == 0:
		return nil, nil
	case other != nil && len(keys) == 1:
		return nil, fail(StepSignature, "The code is signed with %s, but trusted key %x of issuer %s verifies %s: it is forged or altered. Reject it.", env.alg, env.kid, other.issuerID, other.alg)
	}
	return nil, fail(StepSignature, "The code's signature does not match trusted key %x of issuer %s: the code was altered or forged. Reject it.", env.kid, keys[0].issuerID)
}

// issuerFirst puts the keys of the named issuer first.
func issuerFirst(keys []*trustedKey, issuer string) []*trustedKey {
	if len(keys) < 2 {
		return keys
	}
	out := make([]*trustedKey, 0, len(keys))
	for _, k := range keys {
		if k.issuerID == issuer {
			out = append(out, k)
		}
	}
	for _, k := range keys {
		if k.issuerID != issuer {
			out = append(out, k)
		}
	}
	return out
}

// checkIssuer checks that the signing key is trusted, that it belongs to
// the issuer the code names and that it was in force when the code was
// issued. An EU DCC's issuer is its signer certificate's: DCC issuers write
// the iss claim in forms of their own (a country code, or a ministry's
// name), and a trusted signer vouches for whatever it signs.
func checkIssuer(prefix string, env *envelope, key *trustedKey, claims Claims, trust *Trust, loc *time.Location) *failure {
	if key == nil {
		if prefix == PrefixRL1 {
			if _, ok := trust.issuer(claims.Issuer); !ok {
				return fail(StepIssuer, "The code comes from issuer %q, which this checkpoint does not recognise. Ask for a code of a recognised issuer.", claims.Issuer)
			}
		}
		return fail(StepIssuer, "The code is signed with key %x, which is not in the trust list of this checkpoint. Update the scanner's trust list; if the key is still unknown, reject the code.", env.kid)
	}
	if prefix == PrefixRL1 && claims.Issuer != key.issuerID {
		return fail(StepIssuer, "The code names issuer %q but is signed with a key of issuer %q: it is forged. Reject it.", claims.Issuer, key.issuerID)
	}
	if _, ok := trust.issuer(key.issuerID); !ok {
		return fail(StepIssuer, "The code comes from issuer %q, which this checkpoint does not recognise. Ask for a code of a recognised issuer.", key.issuerID)
	}
	if !claims.IssuedAt.IsZero() && !key.inForce(claims.IssuedAt) {
		return fail(StepIssuer, "The code was issued at %s with key %x of issuer %s, which signs only %s: it is forged or its key was misused. Reject it.", formatTime(claims.IssuedAt, loc), env.kid, key.issuerID, keyWindow(key, loc))
	}
	return nil
}

func keyWindow(k *trustedKey, loc *time.Location) string {
	switch {
	case k.from.IsZero() && k.until.IsZero():
		return "at any time"
	case k.from.IsZero():
		return "before " + formatTime(k.until, loc)
	case k.until.IsZero():
		return "from " + formatTime(k.from, loc)
	}
	return "from " + formatTime(k.from, loc) + " until " + formatTime(k.until, loc)
}

// checkExpiry checks the code's time: at is before its expiry and not
// before its issue, less ClockSkew. Our codes follow RFC 8392 (exp is the
// first instant the code is no longer valid: the next day's midnight); an
// EU DCC is valid through its exp second, as DCC verifiers and the DCC test
// suite take it.
func checkExpiry(prefix string, claims Claims, at time.Time, loc *time.Location) *failure {
	expired := !at.Before(claims.Expires)
	if prefix == PrefixHC1 {
		expired = at.After(claims.Expires)
	}
	switch {
	case claims.Expires.IsZero():
		return fail(StepExpiry, "The code does not say when it expires (no exp claim); reject it.")
	case claims.IssuedAt.IsZero():
		return fail(StepExpiry, "The code does not say when it was issued (no iat claim); reject it.")
	case expired:
		return fail(StepExpiry, "The code expired at %s. The holder needs a new code.", formatTime(claims.Expires, loc))
	case at.Before(claims.IssuedAt.Add(-ClockSkew)):
		return fail(StepExpiry, "The code was issued at %s, later than now (%s): check this scanner's clock.", formatTime(claims.IssuedAt, loc), formatTime(at, loc))
	}
	return nil
}

// checkDay checks that at falls on the code's local day in loc.
func checkDay(claims Claims, at time.Time, loc *time.Location) *failure {
	today := domain.DateOf(at, loc)
	switch c := claims.Day.Compare(today); {
	case c < 0:
		return fail(StepDay, "The code is for %s, but today is %s (%s): a code is valid only on its own day. The holder needs today's code.", claims.Day, today, loc)
	case c > 0:
		return fail(StepDay, "The code is for %s, a later day than today, %s (%s): it is not valid yet. The holder needs today's code.", claims.Day, today, loc)
	}
	return nil
}

func formatTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}
