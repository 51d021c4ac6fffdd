package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file is a strict JSON reader for the command file and policy objects.
// encoding/json alone will not do: it matches field names case-insensitively,
// keeps the last of repeated fields, and its errors do not say which field
// held which bad value. Here every object declares its fields, each value is
// checked where it is read, and every problem is collected with the full path
// of its field (travel[0].arrived_on), so that one answer names everything
// that is wrong with a line.

// maxProblems bounds how many problems one error lists; a line that is wrong
// in more ways than this needs fixing from the start anyway.
const maxProblems = 10

// decoder collects the problems found while reading one document.
type decoder struct {
	prefix   string // what the message is about ("record_scan", "policy"); may be empty
	problems []string
	dropped  int
}

func (d *decoder) add(problem string) {
	if len(d.problems) == maxProblems {
		d.dropped++
		return
	}
	d.problems = append(d.problems, problem)
}

// count is how many problems were found, listed or not.
func (d *decoder) count() int { return len(d.problems) + d.dropped }

// err returns nil, or one Invalid error listing every problem.
func (d *decoder) err() error {
	if len(d.problems) == 0 {
		return nil
	}
	msg := strings.Join(d.problems, "; ")
	if d.dropped > 0 {
		msg += fmt.Sprintf("; and %d more problems", d.dropped)
	}
	if d.prefix != "" {
		msg = d.prefix + ": " + msg
	}
	return Errorf(Invalid, "%s", msg)
}

// fieldf phrases a problem with the field it is about.
func fieldf(name, format string, args ...any) string {
	return fmt.Sprintf("field %q ", name) + fmt.Sprintf(format, args...)
}

// document checks that data is exactly one JSON value in valid UTF-8, with
// nothing after it but white space, and returns that value. noun names the
// input in messages ("the line").
func (d *decoder) document(data []byte, noun string) (json.RawMessage, bool) {
	if !utf8.Valid(data) {
		d.add(noun + " is not valid UTF-8 text")
		return nil, false
	}
	if json.Valid(data) {
		return bytes.TrimSpace(data), true // one valid value; the slow path below says what is wrong with others
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var syntax *json.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			d.add(noun + " is empty; expected a JSON object")
		case errors.Is(err, io.ErrUnexpectedEOF):
			d.add(noun + " is not valid JSON: it ends in the middle of a value")
		case errors.As(err, &syntax):
			d.add(fmt.Sprintf("%s is not valid JSON: %s (at byte %d)", noun, syntax.Error(), syntax.Offset))
		default:
			d.add(noun + " is not valid JSON")
		}
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		d.add(fmt.Sprintf("%s has more data after its JSON object (at byte %d); write one object per line", noun, dec.InputOffset()))
		return nil, false
	}
	return raw, true
}

// object is one JSON object being read: its fields by name, the names it may
// have, and the path that qualifies them in messages.
type object struct {
	d        *decoder
	path     string // "" at the top, else "visitor.document", "travel[0]", ...
	vals     map[string]json.RawMessage
	fields   []string // the names this object may have
	keys     []string // the names as given, in order
	repeated []string // the names given more than once
}

// object reads raw as an object that may have only the given fields. Unknown
// and repeated fields are problems; the object is still returned so that
// its known fields are checked too. name is the path of the object itself
// ("" for the line), and what describes it when it is not an object.
func (d *decoder) object(name string, raw json.RawMessage, what string, fields ...string) (*object, bool) {
	if kindOf(raw) != '{' {
		if name == "" {
			d.add(fmt.Sprintf("%s must be a JSON object, got %s", what, describe(raw)))
		} else {
			d.add(fieldf(name, "must be an object (%s), got %s", what, describe(raw)))
		}
		return nil, false
	}
	o, ok := d.members(name, raw, what)
	if ok {
		o.check(what, fields)
	}
	return o, ok
}

// members reads raw, a JSON object, into its fields, without checking
// their names (check does).
func (d *decoder) members(name string, raw json.RawMessage, what string) (*object, bool) {
	o := &object{d: d, path: name, vals: map[string]json.RawMessage{}}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // the opening brace, checked by the caller
		d.add(what + " is not valid JSON")
		return nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		key, isKey := tok.(string)
		if err != nil || !isKey {
			d.add(what + " is not valid JSON")
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			d.add(what + " is not valid JSON")
			return nil, false
		}
		if _, repeated := o.vals[key]; repeated {
			o.repeated = append(o.repeated, key)
		}
		o.keys = append(o.keys, key)
		o.vals[key] = v
	}
	return o, true
}

// check reports the fields given more than once and those not among
// fields, in the order of the object, and sets fields as the object's.
func (o *object) check(what string, fields []string) {
	o.fields = fields
	reported := map[string]bool{}
	for _, key := range o.keys {
		switch {
		case slices.Contains(o.repeated, key) && !reported[key]:
			reported[key] = true
			o.d.add(fieldf(o.name(key), "is given more than once"))
		case !slices.Contains(fields, key) && !reported[key]:
			reported[key] = true
			o.d.add(fmt.Sprintf("unknown field %q; %s has only %s", o.name(key), o.describeSelf(what), quoteList(fields)))
		}
	}
}

func (o *object) describeSelf(what string) string {
	if o.path == "" {
		return what
	}
	return fmt.Sprintf("%q", o.path)
}

// name qualifies field with the object's path.
func (o *object) name(field string) string {
	if o.path == "" {
		return field
	}
	return o.path + "." + field
}

// has reports whether field is given with a value other than null.
func (o *object) has(field string) bool {
	o.mustKnow(field)
	raw, ok := o.vals[field]
	return ok && kindOf(raw) != 'n'
}

// get returns field's value. A field given as null counts as not given, so
// that clients which write absent optional values as null are understood. A
// required field that is not given is a problem.
func (o *object) get(field string, required bool) (json.RawMessage, bool) {
	if o.has(field) {
		return o.vals[field], true
	}
	if required {
		o.d.add(fieldf(o.name(field), "is required"))
	}
	return nil, false
}

// mustKnow guards against reading a field the object was not declared with:
// such a field would always be reported as unknown.
func (o *object) mustKnow(field string) {
	if !slices.Contains(o.fields, field) {
		panic("domain: field " + field + " read but not declared")
	}
}

// kindOf returns the first byte of a JSON value, which says its type:
// '{', '[', '"', 't', 'f', 'n', or '0' for a number (0 for nothing).
func kindOf(raw json.RawMessage) byte {
	if len(raw) == 0 {
		return 0
	}
	switch c := raw[0]; c {
	case '{', '[', '"', 't', 'f', 'n':
		return c
	}
	return '0'
}

// describe says what a JSON value is, for "got ..." in messages: strings and
// numbers as written (shortened), other values by their type.
func describe(raw json.RawMessage) string {
	switch kindOf(raw) {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'n':
		return "null"
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return quoteShort(s)
		}
		return "a string"
	case '0':
		if len(raw) > maxQuotedRunes {
			return string(raw[:maxQuotedRunes]) + "…"
		}
		return string(raw)
	}
	return "nothing"
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func itoa(i int) string { return strconv.Itoa(i) }

// Values. Each reads one JSON value already fetched, reports a problem under
// name if it does not fit, and says whether it did.

func (d *decoder) stringValue(name string, raw json.RawMessage, hint string) (string, bool) {
	if kindOf(raw) != '"' {
		d.add(fieldf(name, "must be a string%s, got %s", hint, describe(raw)))
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.add(fieldf(name, "is not a valid JSON string"))
		return "", false
	}
	return s, true
}

func (d *decoder) textValue(name string, raw json.RawMessage, rule textRule) (string, bool) {
	s, ok := d.stringValue(name, raw, "")
	if !ok {
		return "", false
	}
	v, problem := cleanText(s, rule)
	if problem != "" {
		d.add(fieldf(name, "%s", problem))
		return "", false
	}
	return v, true
}

// parsedValue reads a string and passes it through parse, reporting parse's
// message under the field's name.
func parsedValue[T any](d *decoder, name string, raw json.RawMessage, parse func(string) (T, error)) (T, bool) {
	var zero T
	s, ok := d.stringValue(name, raw, "")
	if !ok {
		return zero, false
	}
	v, err := parse(s)
	if err != nil {
		d.add(fmt.Sprintf("field %q: %s", name, ErrorMessage(err)))
		return zero, false
	}
	return v, true
}

// timeHint shows the expected form of a time in messages.
const timeHint = `an RFC 3339 time with offset, like "2020-03-01T08:30:00+08:00"`

// parseInstant reads an RFC 3339 time with offset (Z or ±hh:mm) and returns it
// in UTC: the offset only fixes the instant, and day boundaries come from the
// configured zone, so keeping one form makes equal instants equal content.
func parseInstant(s string) (time.Time, string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, "must be " + timeHint + ", got " + quoteShort(s)
	}
	t = t.UTC()
	if t.Year() < minYear || t.Year() > maxYear {
		return time.Time{}, fmt.Sprintf("must be between the years %d and %d, got %s", minYear, maxYear, quoteShort(s))
	}
	return t, ""
}

func (d *decoder) timeValue(name string, raw json.RawMessage) (time.Time, bool) {
	s, ok := d.stringValue(name, raw, " ("+timeHint+")")
	if !ok {
		return time.Time{}, false
	}
	t, problem := parseInstant(s)
	if problem != "" {
		d.add(fieldf(name, "%s", problem))
		return time.Time{}, false
	}
	return t, true
}

func (d *decoder) dateValue(name string, raw json.RawMessage) (Date, bool) {
	s, ok := d.stringValue(name, raw, ` (a date written YYYY-MM-DD, like "2020-03-01")`)
	if !ok {
		return Date{}, false
	}
	v, err := ParseDate(s)
	if err != nil {
		d.add(fieldf(name, `must be a date written YYYY-MM-DD, like "2020-03-01", got %s`, quoteShort(s)))
		return Date{}, false
	}
	return v, true
}

func (d *decoder) numberValue(name string, raw json.RawMessage) (float64, bool) {
	if kindOf(raw) != '0' {
		d.add(fieldf(name, "must be a number, got %s", describe(raw)))
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		d.add(fieldf(name, "must be a number in range, got %s", describe(raw)))
		return 0, false
	}
	return f, true
}

func (d *decoder) integerValue(name string, raw json.RawMessage) (int64, bool) {
	if kindOf(raw) != '0' {
		d.add(fieldf(name, "must be a whole number, got %s", describe(raw)))
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		d.add(fieldf(name, "must be a whole number, got %s", describe(raw)))
		return 0, false
	}
	return n, true
}

func (d *decoder) boolValue(name string, raw json.RawMessage) (bool, bool) {
	switch kindOf(raw) {
	case 't':
		return true, true
	case 'f':
		return false, true
	}
	d.add(fieldf(name, "must be true or false, got %s", describe(raw)))
	return false, false
}

func (d *decoder) arrayValue(name string, raw json.RawMessage) ([]json.RawMessage, bool) {
	if kindOf(raw) != '[' {
		d.add(fieldf(name, "must be an array, got %s", describe(raw)))
		return nil, false
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		d.add(fieldf(name, "is not a valid JSON array"))
		return nil, false
	}
	return items, true
}

// durationValue reads a Go duration string ("336h", "30m", "20s").
func (d *decoder) durationValue(name string, raw json.RawMessage) (time.Duration, bool) {
	s, ok := d.stringValue(name, raw, ` (a Go duration like "336h", "30m" or "20s")`)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.add(fieldf(name, `must be a Go duration like "336h", "30m" or "20s", got %s`, quoteShort(s)))
		return 0, false
	}
	return v, true
}

// Fields. Each fetches a field of an object and reads it as the value
// functions above do. A field that is not given leaves the zero value and
// reports false (and a problem, when required).

func (o *object) text(field string, required bool, rule textRule) (string, bool) {
	raw, ok := o.get(field, required)
	if !ok {
		return "", false
	}
	return o.d.textValue(o.name(field), raw, rule)
}

func parsedField[T any](o *object, field string, required bool, parse func(string) (T, error)) (T, bool) {
	raw, ok := o.get(field, required)
	if !ok {
		var zero T
		return zero, false
	}
	return parsedValue(o.d, o.name(field), raw, parse)
}

func (o *object) time(field string, required bool) (time.Time, bool) {
	raw, ok := o.get(field, required)
	if !ok {
		return time.Time{}, false
	}
	return o.d.timeValue(o.name(field), raw)
}

func (o *object) date(field string, required bool) (Date, bool) {
	raw, ok := o.get(field, required)
	if !ok {
		return Date{}, false
	}
	return o.d.dateValue(o.name(field), raw)
}

func (o *object) number(field string, required bool) (float64, bool) {
	raw, ok := o.get(field, required)
	if !ok {
		return 0, false
	}
	return o.d.numberValue(o.name(field), raw)
}

func (o *object) integer(field string, required bool) (int64, bool) {
	raw, ok := o.get(field, required)
	if !ok {
		return 0, false
	}
	return o.d.integerValue(o.name(field), raw)
}

func (o *object) boolean(field string, required bool) (bool, bool) {
	raw, ok := o.get(field, required)
	if !ok {
		return false, false
	}
	return o.d.boolValue(o.name(field), raw)
}

func (o *object) array(field string, required bool) ([]json.RawMessage, bool) {
	raw, ok := o.get(field, required)
	if !ok {
		return nil, false
	}
	return o.d.arrayValue(o.name(field), raw)
}

func (o *object) duration(field string) (time.Duration, bool) {
	raw, ok := o.get(field, false)
	if !ok {
		return 0, false
	}
	return o.d.durationValue(o.name(field), raw)
}

// child reads field as a nested object with the given fields.
func (o *object) child(field string, required bool, what string, fields ...string) (*object, bool) {
	raw, ok := o.get(field, required)
	if !ok {
		return nil, false
	}
	return o.d.object(o.name(field), raw, what, fields...)
}

// policyParams reads a params object (at path name, "" for a whole file);
// fields left out keep version 1's values. Values are checked as Validate
// checks them once every field has been read.
func (d *decoder) policyParams(raw json.RawMessage, name string) PolicyParams {
	p := DefaultPolicyParams()
	o, ok := d.object(name, raw, "a policy parameter object",
		"quarantine", "observation", "contact_window", "contact_window_by_kind", "infectious_lead",
		"triggering_symptoms", "fever_celsius", "contact_min_duration", "merge_gap")
	if !ok {
		return p
	}
	before := d.count()
	for _, f := range []struct {
		field string
		dst   *time.Duration
	}{
		{"quarantine", &p.Quarantine},
		{"observation", &p.Observation},
		{"contact_window", &p.ContactWindow},
		{"infectious_lead", &p.InfectiousLead},
		{"contact_min_duration", &p.ContactMinDuration},
		{"merge_gap", &p.MergeGap},
	} {
		if v, ok := o.duration(f.field); ok {
			*f.dst = v
		}
	}
	if byKind, ok := o.get("contact_window_by_kind", false); ok {
		p.ContactWindowByKind = d.windowsByKind(o.name("contact_window_by_kind"), byKind)
	}
	if items, ok := o.array("triggering_symptoms", false); ok {
		p.TriggeringSymptoms = d.symptoms(o.name("triggering_symptoms"), items)
	}
	if v, ok := o.number("fever_celsius", false); ok {
		p.FeverCelsius = v
	}
	// Range checks only when every value could be read, so a field is not
	// reported twice.
	if d.count() == before {
		prefix := ""
		if name != "" {
			prefix = name + "."
		}
		for _, problem := range p.problems(prefix) {
			d.add(problem)
		}
	}
	return p
}

// windowsByKind reads {"subway": "10m", ...}. Any key that is not a
// checkpoint kind is a problem.
func (d *decoder) windowsByKind(name string, raw json.RawMessage) map[CheckpointKind]time.Duration {
	out := map[CheckpointKind]time.Duration{}
	if kindOf(raw) != '{' {
		d.add(fieldf(name, "must be an object from checkpoint kind to duration, like {\"subway\": \"10m\"}, got %s", describe(raw)))
		return out
	}
	kinds := make([]string, 0, len(CheckpointKinds()))
	for _, k := range CheckpointKinds() {
		kinds = append(kinds, k.String())
	}
	o, ok := d.object(name, raw, "a map from checkpoint kind to duration", kinds...)
	if !ok {
		return out
	}
	for _, k := range CheckpointKinds() {
		if v, ok := o.duration(k.String()); ok {
			out[k] = v
		}
	}
	return out
}

// symptoms reads an array of symptom words; repeats are a problem, since a
// list with one symptom twice is most likely a typo for another one.
func (d *decoder) symptoms(name string, items []json.RawMessage) []Symptom {
	out := make([]Symptom, 0, len(items))
	for i, raw := range items {
		itemName := name + "[" + itoa(i) + "]"
		s, ok := parsedValue(d, itemName, raw, ParseSymptom)
		if !ok {
			continue
		}
		if slices.Contains(out, s) {
			d.add(fieldf(itemName, "repeats %q", s.String()))
			continue
		}
		out = append(out, s)
	}
	return out
}
