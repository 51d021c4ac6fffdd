package domain

import (
	"bytes"
	"strconv"
)

// decodeScan reads a ScanRecorded payload as encoding/json writes it (its
// fields in declaration order, no spaces, strings of printable ASCII without
// escapes, the subject a person), which is how nearly every event of a
// ledger reads: scans are most of it, and a rebuild decodes them all. It
// reports false for anything else, which the general decoder then reads;
// both give the same value (TestDecodeScanAgrees).
func decodeScan(payload []byte) (ScanRecorded, bool) {
	var s ScanRecorded
	r := scanReader{b: payload}
	cp, ok := r.uuidField(`{"checkpoint_id":"`)
	if !ok {
		return s, false
	}
	s.CheckpointID = CheckpointID{cp}
	p, ok := r.uuidField(`,"subject":{"kind":"person","person_id":"`)
	if !ok || !r.literal(`}`) {
		return s, false
	}
	s.Subject = ScanSubject{Kind: SubjectPerson, PersonID: PersonID{p}}
	method, ok := r.stringField(`,"method":"`)
	if !ok {
		return s, false
	}
	if s.Method, ok = enumOf(method, ScanMethods(), ScanMethod.String); !ok {
		return s, false
	}
	if r.literal(`,"temperature_celsius":`) {
		n, ok := r.number()
		if !ok {
			return s, false
		}
		t, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return s, false
		}
		s.TemperatureCelsius = &t
	}
	switch {
	case r.literal(`,"admitted":true`):
		s.Admitted = true
	case r.literal(`,"admitted":false`):
	default:
		return s, false
	}
	reason, ok := r.stringField(`,"reason":"`)
	if !ok {
		return s, false
	}
	s.Reason = string(reason)
	if colour, ok := r.stringField(`,"colour":"`); ok {
		if s.Colour, ok = enumOf(colour, Colours(), Colour.String); !ok {
			return s, false
		}
	}
	if !r.literal(`,"view_position":`) {
		return s, false
	}
	n, ok := r.number()
	if !ok || bytes.ContainsAny(n, ".eE") {
		return s, false
	}
	if s.ViewPosition, ok = parseInt64(n); !ok || !r.literal(`}`) || len(r.b) != 0 {
		return s, false
	}
	return s, true
}

// scanReader consumes a payload from its front.
type scanReader struct{ b []byte }

// literal consumes lit if the payload goes on with it.
func (r *scanReader) literal(lit string) bool {
	if len(r.b) < len(lit) || string(r.b[:len(lit)]) != lit {
		return false
	}
	r.b = r.b[len(lit):]
	return true
}

// stringField consumes key (which ends with the string's opening quote)
// and the string up to its closing quote: printable ASCII, no escapes.
func (r *scanReader) stringField(key string) ([]byte, bool) {
	if len(r.b) < len(key) || string(r.b[:len(key)]) != key {
		return nil, false
	}
	rest := r.b[len(key):]
	for i, c := range rest {
		switch {
		case c == '"':
			r.b = rest[i+1:]
			return rest[:i], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// uuidField consumes key and a canonical UUID string (not the nil UUID).
func (r *scanReader) uuidField(key string) ([16]byte, bool) {
	s, ok := r.stringField(key)
	if !ok {
		return [16]byte{}, false
	}
	return canonicalUUID(s)
}

// number consumes a JSON number.
func (r *scanReader) number() ([]byte, bool) {
	b := r.b
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	start := i
	if n := digits(); n == 0 || n > 1 && b[start] == '0' {
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	r.b = b[i:]
	return b[:i], true
}

// parseInt64 reads an integer of at most 18 digits, so that it cannot
// overflow.
func parseInt64(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// enumOf finds the value named b without allocating.
func enumOf[T any](b []byte, values []T, name func(T) string) (T, bool) {
	for _, v := range values {
		if name(v) == string(b) {
			return v, true
		}
	}
	var zero T
	return zero, false
}
