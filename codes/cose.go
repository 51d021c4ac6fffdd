package codes

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// maxCOSE bounds the inflated credential. The largest QR code holds 4,296
// alphanumeric characters, under 3 KiB once base45-decoded; a deflate
// stream that claims more than this is not a code but a decompression bomb.
const maxCOSE = 64 << 10

// isZlib reports whether b starts with a zlib header (RFC 1950): method 8
// (deflate) with a window of at most 32 KiB, and a header checksum that is
// a multiple of 31.
func isZlib(b []byte) bool {
	return len(b) >= 2 && b[0]&0x0f == 8 && b[0]>>4 <= 7 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}

// zlibReaders keeps inflaters between calls: a fresh one allocates its
// 32 KiB window and tables, which costs more than inflating a code.
var zlibReaders sync.Pool

// inflate decompresses a zlib stream, checking its Adler-32 checksum and
// refusing output beyond maxCOSE.
func inflate(b []byte) ([]byte, error) {
	src := bytes.NewReader(b)
	var r io.ReadCloser
	if pooled, ok := zlibReaders.Get().(io.ReadCloser); ok {
		if err := pooled.(zlib.Resetter).Reset(src, nil); err != nil {
			return nil, err
		}
		r = pooled
	} else {
		var err error
		if r, err = zlib.NewReader(src); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, 4*len(b))
	buf := bytes.NewBuffer(out)
	n, err := buf.ReadFrom(io.LimitReader(r, maxCOSE+1))
	zlibReaders.Put(r)
	switch {
	case err != nil:
		return nil, err
	case n > maxCOSE:
		return nil, fmt.Errorf("it inflates to more than %d KiB", maxCOSE>>10)
	case src.Len() != 0:
		return nil, fmt.Errorf("%d bytes follow the end of the stream", src.Len())
	}
	return buf.Bytes(), nil
}

// envelope is a decoded COSE_Sign1 (RFC 9052 §4.2): what was signed and
// what verification needs.
type envelope struct {
	msg *cose.Sign1Message
	// alg is the protected algorithm or, when there is none, the
	// unprotected one; algProtected says which.
	alg          cose.Algorithm
	algProtected bool
	// kid is the protected kid or, when there is none, the unprotected one
	// (the DCC rule: a kid the signature does not cover is only a hint, and
	// never overrides a protected one).
	kid []byte
}

// decodeEnvelope reads a COSE_Sign1, tagged (18) or untagged, and also
// inside a CWT tag (61), which some DCC issuers add. An error's text
// completes "the code ...".
func decodeEnvelope(b []byte) (*envelope, error) {
	// Tag 61 is always the two bytes d8 3d; what it wraps must itself be a
	// COSE_Sign1, so the tag carries nothing to keep.
	b = bytes.TrimPrefix(b, []byte{0xd8, 0x3d})
	if len(b) == 0 {
		return nil, errors.New("holds no data")
	}
	var m cose.Sign1Message
	var err error
	switch b[0] {
	case 0xd2: // tag 18
		err = m.UnmarshalCBOR(b)
	case 0x84: // an array of 4: untagged
		err = (*cose.UntaggedSign1Message)(&m).UnmarshalCBOR(b)
	default:
		return nil, fmt.Errorf("is not a COSE_Sign1 message (it starts with byte %#02x)", b[0])
	}
	if err != nil {
		return nil, fmt.Errorf("is not a well-formed COSE_Sign1 message (%v)", err)
	}
	if m.Payload == nil {
		return nil, errors.New("carries no payload")
	}
	e := &envelope{msg: &m}
	if e.alg, e.algProtected, err = headerAlg(m.Headers); err != nil {
		return nil, err
	}
	e.kid, err = headerKID(m.Headers.Protected)
	if err == nil && e.kid == nil {
		e.kid, err = headerKID(m.Headers.Unprotected)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// headerAlg returns the algorithm of the protected header, or else of the
// unprotected one, where some DCC issuers put it; 0 when neither has one.
func headerAlg(h cose.Headers) (cose.Algorithm, bool, error) {
	alg, err := h.Protected.Algorithm()
	if err == nil {
		return alg, true, nil
	}
	if !errors.Is(err, cose.ErrAlgorithmNotFound) {
		return 0, false, fmt.Errorf("names an unreadable signature algorithm (%v)", err)
	}
	v, ok := h.Unprotected[cose.HeaderLabelAlgorithm]
	if !ok {
		return 0, false, nil
	}
	if n, ok := v.(int64); ok {
		return cose.Algorithm(n), false, nil
	}
	return 0, false, errors.New("names an unreadable signature algorithm (not an integer)")
}

// verify checks the signature under a key that verifies e.alg. It builds
// the Sig_structure itself (RFC 9052 §4.4) rather than through go-cose's
// Verify, which refuses an algorithm outside the protected header: the key
// decides the algorithm here, so an unprotected one cannot be swapped for a
// weaker one.
func (e *envelope) verify(v cose.Verifier) error {
	protected := e.msg.Headers.RawProtected
	if len(protected) == 0 {
		protected = []byte{0x40} // an empty bstr
	}
	tbs, err := cborEnc.Marshal([]any{"Signature1", cbor.RawMessage(protected), []byte{}, e.msg.Payload})
	if err != nil {
		return err
	}
	return v.Verify(tbs, e.msg.Signature)
}

func headerKID(h map[any]any) ([]byte, error) {
	v, ok := h[cose.HeaderLabelKeyID]
	if !ok {
		return nil, nil
	}
	kid, ok := v.([]byte)
	if !ok || len(kid) == 0 {
		return nil, errors.New("has a key id (kid) that is not a non-empty byte string")
	}
	return kid, nil
}

// dccDec reads DCC payloads, written by many issuers' encoders: indefinite
// lengths are allowed, duplicate keys are not.
var dccDec = mustDecMode(cbor.DecOptions{
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	IntDec:           cbor.IntDecConvertNone,
	MaxNestedLevels:  16,
	MaxArrayElements: 4096,
	MaxMapPairs:      4096,
})

// dccCWT is the CWT payload of an EU DCC (hcert specification §3.3).
type dccCWT struct {
	Issuer   any                     `cbor:"1,keyasint"`
	Expires  any                     `cbor:"4,keyasint"`
	IssuedAt any                     `cbor:"6,keyasint"`
	HCert    map[any]cbor.RawMessage `cbor:"-260,keyasint"`
}

// unmarshalDCC reads a DCC payload into Claims. It requires the hcert claim
// with its certificate (entry 1); iss, iat and exp are read when present and
// checked by later steps. An error's text completes "the code's claims ...".
func unmarshalDCC(b []byte) (Claims, error) {
	var w dccCWT
	if err := dccDec.Unmarshal(b, &w); err != nil {
		return Claims{}, fmt.Errorf("are not a CWT claims map (%v)", err)
	}
	raw, ok := w.HCert[uint64(1)]
	if !ok {
		return Claims{}, fmt.Errorf("lack the health certificate (claim %d, entry 1)", claimHCert)
	}
	var cert any
	if err := dccDec.Unmarshal(raw, &cert); err != nil {
		return Claims{}, fmt.Errorf("hold an unreadable health certificate (%v)", err)
	}
	m, ok := jsonValue(cert).(map[string]any)
	if !ok {
		return Claims{}, errors.New("hold a health certificate that is not a map")
	}
	c := Claims{DCC: m}
	if w.Issuer != nil {
		if c.Issuer, ok = w.Issuer.(string); !ok {
			return Claims{}, errors.New("name an issuer (iss) that is not text")
		}
	}
	if w.IssuedAt != nil {
		if c.IssuedAt, ok = numericDate(w.IssuedAt); !ok {
			return Claims{}, errors.New("hold an issue time (iat) that is not a date")
		}
	}
	if w.Expires != nil {
		if c.Expires, ok = numericDate(w.Expires); !ok {
			return Claims{}, errors.New("hold an expiry (exp) that is not a date")
		}
	}
	return c, nil
}

// lastUnix is 9999-12-31T23:59:59Z: later instants do not fit RFC 3339.
const lastUnix = 253402300799

// unixTime returns the instant sec seconds after the epoch, in UTC, if it
// lies between the epoch and the year 9999.
func unixTime(sec int64) (time.Time, bool) {
	if sec < 0 || sec > lastUnix {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}

// numericDate reads a CWT NumericDate: seconds since the epoch, an integer
// or a float (RFC 8392 §2).
func numericDate(v any) (time.Time, bool) {
	switch x := v.(type) {
	case uint64:
		if x > lastUnix {
			return time.Time{}, false
		}
		return unixTime(int64(x))
	case int64:
		return unixTime(x)
	case float64:
		if math.IsNaN(x) || x < 0 || x > lastUnix {
			return time.Time{}, false
		}
		return unixTime(int64(x))
	}
	return time.Time{}, false
}

// jsonValue turns a generically decoded CBOR value into one encoding/json
// writes without error: map keys become text, tags give their content, and
// values JSON has no form for (NaN, big integers, dates past 9999) become text.
func jsonValue(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonValue(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonValue(e)
		}
		return x
	case cbor.Tag:
		return jsonValue(x.Content)
	case big.Int:
		return x.String()
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}
