package vault

import (
	"encoding/base64"
	"strings"

	"github.com/riskledger/riskledger/domain"
)

// sealedPrefix starts the text of a sealed value in format version 1:
// AES-256-GCM under the person's data key, a 12-byte random nonce, and the
// person id followed by the field name as additional data. A later format
// gets a new prefix; values already in the ledger keep theirs.
const sealedPrefix = "v1."

const (
	nonceSize = 12
	tagSize   = 16
)

// Sealed is one field of personal data encrypted under its person's data
// key, ready to be put into an event payload. Its text form (JSON: a
// string) is "v1." followed by the unpadded base64url encoding of the nonce
// and the ciphertext. Only the vault that holds the person's key opens it,
// and no vault does once the person is erased. The zero value is "nothing
// sealed".
type Sealed struct {
	nonce      [nonceSize]byte
	ciphertext []byte // with the GCM tag at its end
}

// ParseSealed reads a sealed value from its text form. Text that is not a
// sealed value of a known format is an Invalid error.
func ParseSealed(s string) (Sealed, error) {
	rest, ok := strings.CutPrefix(s, sealedPrefix)
	if !ok {
		return Sealed{}, domain.Errorf(domain.Invalid, "a sealed value starts with %q", sealedPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return Sealed{}, domain.Errorf(domain.Invalid, "a sealed value is %q followed by unpadded base64url", sealedPrefix)
	}
	if len(b) < nonceSize+tagSize {
		return Sealed{}, domain.Errorf(domain.Invalid, "a sealed value of %d bytes is too short to be one", len(b))
	}
	var v Sealed
	copy(v.nonce[:], b)
	v.ciphertext = b[nonceSize:]
	return v, nil
}

// IsZero reports whether v is the zero value (nothing sealed), so that
// optional fields can be left out with `json:",omitzero"`.
func (v Sealed) IsZero() bool { return v.ciphertext == nil }

// String returns the text form, or "" for the zero value.
func (v Sealed) String() string {
	if v.IsZero() {
		return ""
	}
	b := make([]byte, 0, nonceSize+len(v.ciphertext))
	b = append(append(b, v.nonce[:]...), v.ciphertext...)
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// MarshalText encodes the text form. The zero value is an Invalid error:
// writing it would put a value that opens to nothing into the ledger.
func (v Sealed) MarshalText() ([]byte, error) {
	if v.IsZero() {
		return nil, domain.Errorf(domain.Invalid, "nothing was sealed")
	}
	return []byte(v.String()), nil
}

// UnmarshalText decodes through ParseSealed and returns its errors.
func (v *Sealed) UnmarshalText(b []byte) error {
	s, err := ParseSealed(string(b))
	if err != nil {
		return err
	}
	*v = s
	return nil
}
