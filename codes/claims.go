package codes

import (
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/riskledger/riskledger/domain"
)

// The private claims. The CWT claims both kinds of credential share are iss
// (1), exp (4) and iat (6), RFC 8392.
const (
	// claimHCert is the EU DCC's: a map whose entry 1 is the certificate.
	claimHCert = -260
	// claimCode is ours. CWT keys below -65536 are for private use (RFC 8392
	// §9.1), so it cannot collide with a registered claim. It is a map of
	// 1: pseudonym, 2: colour, 3: day, 4: ledger position (codeClaim).
	claimCode = -65537
)

// Claims is what a code says. For our codes (RL1:) every field but DCC is
// set; for an EU DCC (HC1:) Issuer, IssuedAt and Expires come from the CWT
// when present and DCC holds the certificate itself.
type Claims struct {
	// Issuer is the issuer id, the key of its entry in the trust list; for
	// an EU DCC, the iss claim as its issuer wrote it (a country code, or
	// sometimes a ministry's name).
	Issuer string `json:"issuer"`
	// IssuedAt and Expires bound the code; CWT keeps them to the second.
	// For our codes Expires is the end of Day in the issuer's zone,
	// Day.Next().Start(zone).
	IssuedAt time.Time `json:"issued_at,omitzero"`
	Expires  time.Time `json:"expires,omitzero"`
	// Pseudonym names the subject without identifying them to the scanner.
	Pseudonym string `json:"pseudonym,omitempty"`
	// Colour is the subject's colour for Day.
	Colour domain.Colour `json:"colour,omitzero"`
	// Day is the local day the code is valid on.
	Day domain.Date `json:"day,omitzero"`
	// Position is the ledger position of the colour decision the code
	// prints, so that a scan can be traced to it (positions start at 1).
	Position int64 `json:"position,omitempty"`
	// DCC is the certificate of an EU DCC (claim -260, entry 1: names, date
	// of birth, vaccinations, tests, recoveries), decoded as generic JSON
	// values; nil for our codes.
	DCC map[string]any `json:"dcc,omitempty"`
}

// validate checks the claims Issue needs; the first problem comes back as
// an Invalid error.
func (c Claims) validate() error {
	switch {
	case c.Issuer == "":
		return domain.Errorf(domain.Invalid, "code claims: the issuer is not set")
	case c.Pseudonym == "":
		return domain.Errorf(domain.Invalid, "code claims: the pseudonym is not set")
	case c.Colour.IsZero():
		return domain.Errorf(domain.Invalid, "code claims: the colour is not set")
	case c.Day.IsZero():
		return domain.Errorf(domain.Invalid, "code claims: the day is not set")
	case c.Position < 1:
		return domain.Errorf(domain.Invalid, "code claims: ledger position %d is not a position (they start at 1)", c.Position)
	case c.IssuedAt.IsZero() || c.Expires.IsZero():
		return domain.Errorf(domain.Invalid, "code claims: issued-at and expiry must both be set")
	case c.IssuedAt.Unix() < 0 || c.Expires.Unix() > lastUnix:
		return domain.Errorf(domain.Invalid, "code claims: issued-at and expiry must lie between 1970 and 9999")
	case !c.Expires.After(c.IssuedAt):
		return domain.Errorf(domain.Invalid, "code claims: expiry %s is not after issue %s", c.Expires.Format(time.RFC3339), c.IssuedAt.Format(time.RFC3339))
	case c.DCC != nil:
		return domain.Errorf(domain.Invalid, "code claims: our codes carry no DCC certificate")
	}
	return nil
}

// cwt is the CBOR form of our codes' claims.
type cwt struct {
	Issuer   string     `cbor:"1,keyasint"`      // iss
	Expires  int64      `cbor:"4,keyasint"`      // exp, seconds since the epoch
	IssuedAt int64      `cbor:"6,keyasint"`      // iat, seconds since the epoch
	Code     *codeClaim `cbor:"-65537,keyasint"` // claimCode
}

// codeClaim is our private claim.
type codeClaim struct {
	Pseudonym string `cbor:"1,keyasint"`
	Colour    string `cbor:"2,keyasint"` // "green", "yellow" or "red"
	Day       string `cbor:"3,keyasint"` // YYYY-MM-DD, local
	Position  int64  `cbor:"4,keyasint"` // of the colour decision
}

var (
	// cborEnc writes the canonical form (RFC 8949 §4.2.1), so that the same
	// claims always give the same bytes.
	cborEnc = mustEncMode(cbor.CoreDetEncOptions())
	// cborDec reads claims strictly enough that one text has one meaning: a
	// duplicate key is an error, not "the last one wins".
	cborDec = mustDecMode(cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF})
)

func mustEncMode(o cbor.EncOptions) cbor.EncMode {
	m, err := o.EncMode()
	if err != nil {
		panic("codes: cbor encoder options: " + err.Error())
	}
	return m
}

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic("codes: cbor decoder options: " + err.Error())
	}
	return m
}

// marshalClaims returns the CWT payload of our code.
func marshalClaims(c Claims) ([]byte, error) {
	return cborEnc.Marshal(cwt{
		Issuer:   c.Issuer,
		Expires:  c.Expires.Unix(),
		IssuedAt: c.IssuedAt.Unix(),
		Code: &codeClaim{
			Pseudonym: c.Pseudonym,
			Colour:    c.Colour.String(),
			Day:       c.Day.String(),
			Position:  c.Position,
		},
	})
}

// unmarshalClaims reads the CWT payload of our code. A payload that is not
// one, or whose private claim is missing or malformed, is an error whose
// text completes "the code's claims ...".
func unmarshalClaims(b []byte) (Claims, error) {
	var w cwt
	if err := cborDec.Unmarshal(b, &w); err != nil {
		return Claims{}, fmt.Errorf("are not a CWT claims map (%v)", err)
	}
	if w.Code == nil {
		return Claims{}, fmt.Errorf("lack the riskledger claim (key %d)", claimCode)
	}
	c := Claims{Issuer: w.Issuer, Pseudonym: w.Code.Pseudonym, Position: w.Code.Position}
	var ok1, ok2 bool
	c.IssuedAt, ok1 = unixTime(w.IssuedAt)
	c.Expires, ok2 = unixTime(w.Expires)
	if !ok1 || !ok2 || w.IssuedAt == 0 || w.Expires == 0 {
		return Claims{}, fmt.Errorf("lack an issue or expiry time between 1970 and 9999")
	}
	var err error
	if c.Colour, err = domain.ParseColour(w.Code.Colour); err != nil {
		return Claims{}, fmt.Errorf("hold no valid colour (%s)", domain.ErrorMessage(err))
	}
	if c.Day, err = domain.ParseDate(w.Code.Day); err != nil {
		return Claims{}, fmt.Errorf("hold no valid day (%s)", domain.ErrorMessage(err))
	}
	switch {
	case c.Issuer == "":
		return Claims{}, fmt.Errorf("name no issuer")
	case c.Pseudonym == "":
		return Claims{}, fmt.Errorf("name no subject")
	case c.Position < 1:
		return Claims{}, fmt.Errorf("hold no ledger position")
	}
	return c, nil
}
