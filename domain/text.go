package domain

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Region is a place a person travelled from, or that is designated a key
// epidemic area: free text ("Hubei", "South Korea"), trimmed and never empty.
// Regions are compared case-insensitively and with runs of spaces collapsed,
// through Key; String keeps the text as given.
type Region struct{ s string }

// ParseRegion trims s and returns it as a region. Empty text, control
// characters and more than 200 characters are an Invalid error.
func ParseRegion(s string) (Region, error) {
	v, problem := cleanText(s, textRule{max: 200})
	if problem != "" {
		return Region{}, Errorf(Invalid, "region %s", problem)
	}
	return Region{v}, nil
}

// String returns the region as given (trimmed), or "" for the zero value.
func (r Region) String() string { return r.s }

// Key returns the form regions are compared by: lower case, with runs of
// white space collapsed to one space. "south  KOREA" and "South Korea" have
// the same key.
func (r Region) Key() string { return strings.ToLower(strings.Join(strings.Fields(r.s), " ")) }

// Equal reports whether r and o name the same region (same Key).
func (r Region) Equal(o Region) bool { return r.Key() == o.Key() }

// IsZero reports whether r is the zero value (no region).
func (r Region) IsZero() bool { return r.s == "" }

// MarshalText encodes the region's text; the zero value is an Invalid error.
func (r Region) MarshalText() ([]byte, error) {
	if r.s == "" {
		return nil, Errorf(Invalid, "region is not set")
	}
	return []byte(r.s), nil
}

// UnmarshalText decodes through ParseRegion and returns its errors.
func (r *Region) UnmarshalText(b []byte) error {
	v, err := ParseRegion(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Symptom is one symptom, written as a lower-case word of letters and
// underscores ("fever", "cough", "shortness_of_breath", "fatigue"). The set is
// open, so that clinics can report what they see; the risk policy names the
// ones that trigger red.
type Symptom struct{ s string }

// The symptoms that the default policy treats as triggering.
var (
	SymptomFever             = Symptom{"fever"}
	SymptomCough             = Symptom{"cough"}
	SymptomShortnessOfBreath = Symptom{"shortness_of_breath"}
)

const maxSymptomLen = 64

// ParseSymptom reads a symptom word: 1 to 64 characters from a-z and "_",
// starting with a letter. Anything else (upper case, spaces, "") is an Invalid
// error.
func ParseSymptom(s string) (Symptom, error) {
	if s == "" {
		return Symptom{}, Errorf(Invalid, `symptom must not be empty; write a lower-case word like "fever"`)
	}
	if len(s) > maxSymptomLen {
		return Symptom{}, Errorf(Invalid, "symptom %s is longer than %d characters", quoteShort(s), maxSymptomLen)
	}
	if s[0] < 'a' || s[0] > 'z' {
		return Symptom{}, Errorf(Invalid, "symptom %s must start with a lower-case letter (like \"fever\" or \"shortness_of_breath\")", quoteShort(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && c != '_' {
			return Symptom{}, Errorf(Invalid, "symptom %s must be a lower-case word of letters a-z and underscores (like \"shortness_of_breath\")", quoteShort(s))
		}
	}
	return Symptom{s}, nil
}

// String returns the symptom word, or "" for the zero value.
func (s Symptom) String() string { return s.s }

// IsZero reports whether s is the zero value (no symptom).
func (s Symptom) IsZero() bool { return s.s == "" }

// MarshalText encodes the symptom word; the zero value is an Invalid error.
func (s Symptom) MarshalText() ([]byte, error) { return enumText("symptom", s.s) }

// UnmarshalText decodes through ParseSymptom and returns its errors.
func (s *Symptom) UnmarshalText(b []byte) error { return unmarshalEnum(s, b, ParseSymptom) }

// Document is an identity document: its type, number and issuing country.
// Number is personal data; the ledger stores it encrypted and indexes it by a
// keyed hash.
type Document struct {
	Type    DocumentType `json:"type"`
	Number  string       `json:"number"`
	Country string       `json:"country"`
}

// Limits of free-text fields. They are generous for what the fields hold and
// keep one line, and so one ledger event, bounded.
const (
	maxNameLen     = 200
	maxCountryLen  = 100
	maxNumberLen   = 64
	maxReasonLen   = 2000
	maxCodeLen     = 8192
	maxIssuerLen   = 200
	maxPhoneLen    = 32
	maxIDLen       = 256
	maxQuotedRunes = 40
)

// textRule says what a free-text field accepts.
type textRule struct {
	max       int  // in characters (runes)
	multiline bool // newlines and tabs are allowed (reasons)
}

// cleanText trims s and checks it against rule. It returns the trimmed text,
// or a problem phrased to follow a field's name ("must not be empty").
func cleanText(s string, rule textRule) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "must not be empty"
	}
	if !utf8.ValidString(s) {
		return "", "must be valid UTF-8 text"
	}
	if n := utf8.RuneCountInString(s); n > rule.max {
		return "", "must be at most " + strconv.Itoa(rule.max) + " characters, got " + strconv.Itoa(n)
	}
	for _, r := range s {
		if rule.multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) {
			return "", "must not contain control characters (found " + strconv.QuoteRune(r) + ")"
		}
	}
	return s, ""
}

// cleanPhone checks a phone number: digits, spaces and + - ( ) only, "+" only
// first, 5 to 20 digits. Numbers are not rewritten to one form: the field is
// for calling back, not for matching.
func cleanPhone(s string) (string, string) {
	s, problem := cleanText(s, textRule{max: maxPhoneLen})
	if problem != "" {
		return "", problem
	}
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '(', r == ')':
		default:
			return "", "must be a phone number of digits, spaces and + - ( ) (like \"+86 138 0013 8000\"), got " + quoteShort(s)
		}
	}
	if digits < 5 || digits > 20 {
		return "", "must have 5 to 20 digits, got " + strconv.Itoa(digits)
	}
	return s, ""
}

// quoteShort quotes s for a message, cut to a readable length so that a huge
// or hostile value cannot flood a log line or an error response.
func quoteShort(s string) string {
	if utf8.RuneCountInString(s) <= maxQuotedRunes {
		return strconv.Quote(s)
	}
	n := 0
	for i := range s {
		if n == maxQuotedRunes {
			return strconv.Quote(s[:i]) + "…"
		}
		n++
	}
	return strconv.Quote(s)
}
