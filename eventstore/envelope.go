package eventstore

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// appendEventJSON appends to dst the bytes json.Marshal makes of e, or
// returns false when e holds what json.Marshal would change rather than
// copy: a string or a JSON text with characters it escapes (<, >, &,
// U+2028, U+2029, quotes, controls, invalid UTF-8), a JSON text that is not
// compact, or a time outside the years 0-9999.
func appendEventJSON(dst []byte, e *Event) ([]byte, bool) {
	for _, s := range []string{e.Stream, e.Type, e.Actor} {
		if !plainString(s) {
			return nil, false
		}
	}
	for _, raw := range []json.RawMessage{e.Payload, e.Metadata} {
		if !plainJSON(raw) {
			return nil, false
		}
	}
	for _, t := range []time.Time{e.OccurredAt, e.RecordedAt} {
		if y := t.Year(); y < 0 || y > 9999 || t.Location() != time.UTC {
			return nil, false
		}
	}
	str := func(s string) { dst = append(append(append(dst, '"'), s...), '"') }
	hex := func(b []byte) {
		dst = append(dst, '"')
		dst = hexAppend(dst, b)
		dst = append(dst, '"')
	}
	uuid := func(id [16]byte) {
		dst = append(dst, '"')
		dst = hexAppend(dst, id[0:4])
		dst = append(dst, '-')
		dst = hexAppend(dst, id[4:6])
		dst = append(dst, '-')
		dst = hexAppend(dst, id[6:8])
		dst = append(dst, '-')
		dst = hexAppend(dst, id[8:10])
		dst = append(dst, '-')
		dst = hexAppend(dst, id[10:16])
		dst = append(dst, '"')
	}
	tm := func(t time.Time) {
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	// The fields in the order, and under the names, of Event's JSON tags.
	dst = append(dst, `{"position":`...)
	dst = strconv.AppendInt(dst, e.Position, 10)
	dst = append(dst, `,"id":`...)
	uuid(e.ID)
	dst = append(dst, `,"stream":`...)
	str(e.Stream)
	dst = append(dst, `,"stream_version":`...)
	dst = strconv.AppendInt(dst, e.StreamVersion, 10)
	dst = append(dst, `,"type":`...)
	str(e.Type)
	dst = append(dst, `,"schema_version":`...)
	dst = strconv.AppendInt(dst, int64(e.SchemaVersion), 10)
	dst = append(dst, `,"occurred_at":`...)
	tm(e.OccurredAt)
	dst = append(dst, `,"recorded_at":`...)
	tm(e.RecordedAt)
	dst = append(dst, `,"actor":`...)
	str(e.Actor)
	dst = append(dst, `,"causation_id":`...)
	uuid(e.CausationID)
	dst = append(dst, `,"correlation_id":`...)
	uuid(e.CorrelationID)
	dst = append(dst, `,"payload":`...)
	dst = append(dst, e.Payload...)
	dst = append(dst, `,"metadata":`...)
	dst = append(dst, e.Metadata...)
	dst = append(dst, `,"prev_hash":`...)
	hex(e.PrevHash[:])
	dst = append(dst, `,"hash":`...)
	hex(e.Hash[:])
	return append(dst, '}'), true
}

func hexAppend(dst, b []byte) []byte {
	const digits = "0123456789abcdef"
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&0xf])
	}
	return dst
}

// plainString reports whether json.Marshal writes s as it is, between
// quotes.
func plainString(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		case c >= 0x80:
			ascii = false
		}
	}
	return ascii || utf8.ValidString(s) && !strings.ContainsRune(s, '\u2028') && !strings.ContainsRune(s, '\u2029')
}

// plainJSON reports whether json.Marshal writes raw, a json.RawMessage read
// from a json column, as it is: compact and without characters it escapes.
// That raw is valid JSON the column has checked already, by the same
// grammar as json.Marshal's.
func plainJSON(raw []byte) bool {
	inString := false
	ascii := true
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !jsonNotable[c] {
			continue
		}
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case c == '<', c == '>', c == '&':
			return false
		case c >= 0x80:
			ascii = false
		case !inString: // white space
			return false
		}
	}
	if !ascii && (bytes.Contains(raw, []byte("\u2028")) || bytes.Contains(raw, []byte("\u2029"))) {
		return false
	}
	return len(raw) > 0
}

// jsonNotable marks the bytes plainJSON looks at; it skips the rest.
var jsonNotable = func() (t [256]bool) {
	for _, c := range []byte("\"\\<>& \t\n\r") {
		t[c] = true
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	return t
}()
