package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/riskledger/riskledger/domain"
)

// textValue is what every enum, id and Date implements.
type textValue interface {
	String() string
	IsZero() bool
	MarshalText() ([]byte, error)
}

// checkRoundTrip checks that every value of an enum parses from its name,
// marshals to it, and unmarshals back through JSON; and that the zero value
// and near misses are rejected.
func checkRoundTrip[T interface {
	comparable
	textValue
}](t *testing.T, values []T, parse func(string) (T, error), misses ...string) {
	t.Helper()
	var zero T
	for _, v := range values {
		if v.IsZero() {
			t.Errorf("value %q is zero", v)
		}
		got, err := parse(v.String())
		if err != nil || got != v {
			t.Errorf("parse %q: %v, %v", v, got, err)
		}
		b, err := json.Marshal(v)
		if err != nil || string(b) != `"`+v.String()+`"` {
			t.Errorf("marshal %q: %s, %v", v, b, err)
		}
		var back T
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("unmarshal %s: %v, %v", b, back, err)
		}
	}
	if !zero.IsZero() {
		t.Errorf("the zero value is not IsZero")
	}
	if _, err := json.Marshal(zero); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("marshalling the zero value: %v", err)
	}
	for _, s := range append([]string{""}, misses...) {
		v, err := parse(s)
		if domain.ErrorCode(err) != domain.Invalid || domain.ErrorMessage(err) == "" || v != zero {
			t.Errorf("parse %q: %v, %v", s, v, err)
		}
		var back T
		b, _ := json.Marshal(s)
		if err := json.Unmarshal(b, &back); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("unmarshal %s: %v", b, err)
		}
	}
}

func TestEnumsRoundTrip(t *testing.T) {
	t.Run("Colour", func(t *testing.T) {
		checkRoundTrip(t, domain.Colours(), domain.ParseColour, "Green", " green", "purple", "amber")
	})
	t.Run("DocumentType", func(t *testing.T) {
		checkRoundTrip(t, domain.DocumentTypes(), domain.ParseDocumentType, "Passport", "resident id", "driver_licence")
	})
	t.Run("VerificationMethod", func(t *testing.T) {
		checkRoundTrip(t, domain.VerificationMethods(), domain.ParseVerificationMethod, "id card", "retina")
	})
	t.Run("DiagnosisResult", func(t *testing.T) {
		checkRoundTrip(t, domain.DiagnosisResults(), domain.ParseDiagnosisResult, "positive", "ruled out", "RECOVERED")
	})
	t.Run("SymptomSource", func(t *testing.T) {
		checkRoundTrip(t, domain.SymptomSources(), domain.ParseSymptomSource, "doctor", "Self")
	})
	t.Run("ContactSource", func(t *testing.T) {
		checkRoundTrip(t, domain.ContactSources(), domain.ParseContactSource, "bluetooth")
	})
	t.Run("ScanMethod", func(t *testing.T) {
		checkRoundTrip(t, domain.ScanMethods(), domain.ParseScanMethod, "QR", "nfc")
	})
	t.Run("CheckpointKind", func(t *testing.T) {
		checkRoundTrip(t, domain.CheckpointKinds(), domain.ParseCheckpointKind, "airport", "housing compound")
	})
	t.Run("Symptom", func(t *testing.T) {
		checkRoundTrip(t, []domain.Symptom{domain.SymptomFever, domain.SymptomCough, domain.SymptomShortnessOfBreath},
			domain.ParseSymptom, "Fever", "sore throat", "_", "1fever", "fever!", strings.Repeat("a", 65))
	})
}

func TestEnumValuesMatchDesign(t *testing.T) {
	names := func(vs []string) string { return strings.Join(vs, ",") }
	for _, tc := range []struct {
		enum string
		got  []string
		want string
	}{
		{"colour", strs(domain.Colours()), "green,yellow,red"},
		{"document type", strs(domain.DocumentTypes()), "resident_id,passport,other"},
		{"verification method", strs(domain.VerificationMethods()), "id_card,face_scan,document_check,proxy"},
		{"diagnosis result", strs(domain.DiagnosisResults()), "suspected,confirmed,ruled_out,recovered"},
		{"symptom source", strs(domain.SymptomSources()), "self,clinic,checkpoint"},
		{"contact source", strs(domain.ContactSources()), "interview,sensor"},
		{"scan method", strs(domain.ScanMethods()), "qr,manual,imported"},
		{"checkpoint kind", strs(domain.CheckpointKinds()), "subway,bus,park,housing_compound,supermarket,restaurant,office,hospital,other"},
	} {
		if names(tc.got) != tc.want {
			t.Errorf("%s values %s, want %s", tc.enum, names(tc.got), tc.want)
		}
	}
}

func strs[T interface{ String() string }](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

func TestColourStrictness(t *testing.T) {
	if !domain.Red.StricterThan(domain.Yellow) || !domain.Yellow.StricterThan(domain.Green) || domain.Green.StricterThan(domain.Green) {
		t.Errorf("red > yellow > green does not hold")
	}
}

func TestIDsRoundTrip(t *testing.T) {
	const canonical = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
	misses := []string{"6f1c2d3e4b5a4c6d8e7f9a0b1c2d3e4f", "{6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f}",
		"urn:uuid:6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "00000000-0000-0000-0000-000000000000",
		"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4g", "person-1"}
	t.Run("PersonID", func(t *testing.T) {
		checkRoundTrip(t, []domain.PersonID{pid(canonical)}, domain.ParsePersonID, misses...)
		if id, err := domain.ParsePersonID(strings.ToUpper(canonical)); err != nil || id.String() != canonical {
			t.Errorf("upper case: %v, %v", id, err)
		}
	})
	t.Run("CheckpointID", func(t *testing.T) {
		id, _ := domain.ParseCheckpointID(canonical)
		checkRoundTrip(t, []domain.CheckpointID{id}, domain.ParseCheckpointID, misses...)
	})
	t.Run("EventID", func(t *testing.T) {
		id, _ := domain.ParseEventID(canonical)
		checkRoundTrip(t, []domain.EventID{id}, domain.ParseEventID, misses...)
		if back, err := domain.EventIDFromUUID(id.UUID()); err != nil || back != id {
			t.Errorf("from UUID: %v, %v", back, err)
		}
	})
}

func TestDateRoundTrip(t *testing.T) {
	checkRoundTrip(t, []domain.Date{date("2020-02-29"), date("1900-01-01"), date("9999-12-31")}, domain.ParseDate,
		"2021-02-29", "2020-3-1", "2020-03-01T00:00:00Z", "20200301", "01/03/2020", "1899-12-31", "2020-13-01", "2020-00-10", " 2020-03-01")
}

func TestDate(t *testing.T) {
	loc := shanghai(t)
	t.Run("given a date in Shanghai, when its start is taken, then it is local midnight", func(t *testing.T) {
		if got := date("2020-03-01").Start(loc); !got.Equal(at("2020-02-29T16:00:00Z")) {
			t.Errorf("start %v", got)
		}
	})
	t.Run("given a date, when its start is taken in UTC, then it is UTC midnight", func(t *testing.T) {
		if got := date("2020-03-01").Start(time.UTC); !got.Equal(at("2020-03-01T00:00:00Z")) {
			t.Errorf("start %v", got)
		}
	})
	t.Run("given the last day of a leap February, when the next is asked, then it is March 1st", func(t *testing.T) {
		if got := date("2020-02-29").Next(); got != date("2020-03-01") {
			t.Errorf("next %v", got)
		}
	})
	t.Run("given the last day of a year, when the next is asked, then it is New Year's day", func(t *testing.T) {
		if got := date("2019-12-31").Next(); got != date("2020-01-01") {
			t.Errorf("next %v", got)
		}
	})
	t.Run("given a date, when 14 days are added and taken away, then it is the same date", func(t *testing.T) {
		d := date("2020-02-20")
		if got := d.AddDays(14); got != date("2020-03-05") || got.AddDays(-14) != d {
			t.Errorf("add %v", got)
		}
	})
	t.Run("given 23:59:59.999 local, when its date is taken, then it is that local day", func(t *testing.T) {
		if got := domain.DateOf(at("2020-03-01T15:59:59.999Z"), loc); got != date("2020-03-01") {
			t.Errorf("date %v", got)
		}
	})
	t.Run("given local midnight, when its date is taken, then it is the new day, though UTC is still on the old one", func(t *testing.T) {
		if got := domain.DateOf(at("2020-03-01T16:00:00Z"), loc); got != date("2020-03-02") {
			t.Errorf("date %v", got)
		}
	})
	t.Run("given a day's start, when its date is taken, then it is the same day", func(t *testing.T) {
		for _, d := range []domain.Date{date("2020-01-01"), date("2020-06-30"), date("1990-04-15")} {
			if got := domain.DateOf(d.Start(loc), loc); got != d {
				t.Errorf("date of the start of %v is %v", d, got)
			}
		}
	})
	t.Run("given two dates, when compared, then the order is the calendar's", func(t *testing.T) {
		a, b := date("2020-02-29"), date("2020-03-01")
		if !a.Before(b) || !b.After(a) || a.Compare(a) != 0 || b.Compare(a) != 1 || date("2019-12-31").Compare(a) != -1 {
			t.Errorf("order of %v and %v", a, b)
		}
	})
	t.Run("given year, month and day, when built, then impossible days are rejected", func(t *testing.T) {
		if d, err := domain.NewDate(2020, time.February, 29); err != nil || d != date("2020-02-29") {
			t.Errorf("2020-02-29: %v, %v", d, err)
		}
		if _, err := domain.NewDate(2020, time.February, 30); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("2020-02-30: %v", err)
		}
	})
}

func TestRegionKey(t *testing.T) {
	a, _ := domain.ParseRegion("South Korea")
	b, _ := domain.ParseRegion("  south   KOREA ")
	if !a.Equal(b) || a.Key() != "south korea" || b.String() != "south   KOREA" {
		t.Errorf("%q (key %q) and %q (key %q)", a, a.Key(), b, b.Key())
	}
	for _, s := range []string{"", "   ", "Hu\x00bei", strings.Repeat("x", 201)} {
		if _, err := domain.ParseRegion(s); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("region %q: %v", s, err)
		}
	}
}
