package domain

import (
	"cmp"
	"fmt"
	"time"
)

// Date is a local calendar date (a day in the configured zone), written
// YYYY-MM-DD: an arrival day, the day a key area is designated from, the
// first day a dependent's code is usable. It is not an instant; Start turns it
// into one in a given zone. The zero value means "no date"; a Date from
// ParseDate or DateOf is never zero.
type Date struct {
	year  int
	month time.Month
	day   int
}

// Dates and instants outside these years are rejected: before 1900 is a typo
// in a contact-tracing ledger, and after 9999 does not fit RFC 3339.
const (
	minYear = 1900
	maxYear = 9999
)

// ParseDate reads a date written exactly YYYY-MM-DD (years 1900 to 9999).
// Other layouts, impossible days (2021-02-29) and other years are an Invalid
// error.
func ParseDate(s string) (Date, error) {
	if len(s) != len("2006-01-02") {
		return Date{}, Errorf(Invalid, "date %s is not written YYYY-MM-DD", quoteShort(s))
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, Errorf(Invalid, "date %s is not a calendar date written YYYY-MM-DD", quoteShort(s))
	}
	if t.Year() < minYear {
		return Date{}, Errorf(Invalid, "date %s is before %d", quoteShort(s), minYear)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// NewDate returns the date year-month-day. Out-of-range values are an Invalid
// error rather than being normalised (2020-02-30 is not 2020-03-01).
func NewDate(year int, month time.Month, day int) (Date, error) {
	return ParseDate(fmt.Sprintf("%04d-%02d-%02d", year, int(month), day))
}

// DateOf returns the local calendar date of instant t in loc. A nil loc is
// UTC, as in the time package.
func DateOf(t time.Time, loc *time.Location) Date {
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	return Date{y, m, d}
}

// Start returns the instant the date begins in loc: local midnight, or the
// first instant of the day when a daylight-saving change skips midnight.
// A nil loc is UTC.
func (d Date) Start(loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(d.year, d.month, d.day, 0, 0, 0, 0, loc)
}

// Next returns the day after d.
func (d Date) Next() Date { return d.AddDays(1) }

// AddDays returns the date n days after d (before, for negative n).
func (d Date) AddDays(n int) Date {
	y, m, dd := time.Date(d.year, d.month, d.day+n, 12, 0, 0, 0, time.UTC).Date()
	return Date{y, m, dd}
}

// Year returns the date's year.
func (d Date) Year() int { return d.year }

// Month returns the date's month.
func (d Date) Month() time.Month { return d.month }

// Day returns the date's day of the month.
func (d Date) Day() int { return d.day }

// IsZero reports whether d is the zero value (no date).
func (d Date) IsZero() bool { return d == Date{} }

// Compare returns -1, 0 or +1 as d is before, the same as, or after o.
func (d Date) Compare(o Date) int {
	if c := cmp.Compare(d.year, o.year); c != 0 {
		return c
	}
	if c := cmp.Compare(d.month, o.month); c != 0 {
		return c
	}
	return cmp.Compare(d.day, o.day)
}

// Before reports whether d is an earlier day than o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is a later day than o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// String returns the date as YYYY-MM-DD, or "" for the zero value.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.year, int(d.month), d.day)
}

// MarshalText encodes the date as YYYY-MM-DD; the zero value is an Invalid
// error.
func (d Date) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return nil, Errorf(Invalid, "date is not set")
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes through ParseDate and returns its errors.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
