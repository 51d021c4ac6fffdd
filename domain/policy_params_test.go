package domain_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/riskledger/riskledger/domain"
)

// designPolicyV1 is the parameter object of DESIGN §3, verbatim.
const designPolicyV1 = `{"quarantine": "336h", "observation": "336h", "contact_window": "30m",
"contact_window_by_kind": {}, "infectious_lead": "48h", "triggering_symptoms": ["fever",
"cough", "shortness_of_breath"], "fever_celsius": 37.3, "contact_min_duration": "15m",
"merge_gap": "20s"}`

func TestDefaultPolicyParamsAreDesignsVersion1(t *testing.T) {
	t.Run("given DESIGN's object, when parsed, then it equals the defaults", func(t *testing.T) {
		got, err := domain.ParsePolicyParams([]byte(designPolicyV1))
		if err != nil {
			t.Fatal(err)
		}
		if want := domain.DefaultPolicyParams(); !reflect.DeepEqual(got, want) {
			t.Errorf("DESIGN %#v\ndefaults %#v", got, want)
		}
	})
	t.Run("given the defaults, when marshalled, then the JSON is DESIGN's object", func(t *testing.T) {
		b, err := json.Marshal(domain.DefaultPolicyParams())
		if err != nil {
			t.Fatal(err)
		}
		var got, want map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(designPolicyV1), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("marshalled %s\nDESIGN %s", b, designPolicyV1)
		}
	})
	t.Run("given the defaults in prose, when compared, then they agree", func(t *testing.T) {
		p := domain.DefaultPolicyParams()
		day := 24 * time.Hour
		if p.Quarantine != 14*day || p.Observation != 14*day || p.ContactWindow != 30*time.Minute ||
			len(p.ContactWindowByKind) != 0 || p.InfectiousLead != 48*time.Hour || p.FeverCelsius != 37.3 ||
			p.ContactMinDuration != 15*time.Minute || p.MergeGap != 20*time.Second ||
			!reflect.DeepEqual(strs(p.TriggeringSymptoms), []string{"fever", "cough", "shortness_of_breath"}) {
			t.Errorf("defaults %#v", p)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("the defaults do not validate: %v", err)
		}
	})
	t.Run("given the defaults, when one caller changes its copy, then the next copy is untouched", func(t *testing.T) {
		p := domain.DefaultPolicyParams()
		p.TriggeringSymptoms[0] = domain.SymptomCough
		p.ContactWindowByKind[domain.KindBus] = time.Minute
		if q := domain.DefaultPolicyParams(); q.TriggeringSymptoms[0] != domain.SymptomFever || len(q.ContactWindowByKind) != 0 {
			t.Errorf("defaults changed: %#v", q)
		}
	})
}

func TestParsePolicyParams(t *testing.T) {
	t.Run("given a partial object, when parsed, then the fields left out take version 1's values", func(t *testing.T) {
		got, err := domain.ParsePolicyParams([]byte(`{"contact_window": "15m", "contact_window_by_kind": {"subway": "5m"}, "fever_celsius": 37.0}`))
		if err != nil {
			t.Fatal(err)
		}
		want := domain.DefaultPolicyParams()
		want.ContactWindow = 15 * time.Minute
		want.ContactWindowByKind[domain.KindSubway] = 5 * time.Minute
		want.FeverCelsius = 37.0
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %#v\nwant %#v", got, want)
		}
		if got.ContactWindowFor(domain.KindSubway) != 5*time.Minute || got.ContactWindowFor(domain.KindPark) != 15*time.Minute {
			t.Errorf("windows %v %v", got.ContactWindowFor(domain.KindSubway), got.ContactWindowFor(domain.KindPark))
		}
	})
	t.Run("given an empty object, when parsed, then it is version 1", func(t *testing.T) {
		got, err := domain.ParsePolicyParams([]byte("{}\n"))
		if err != nil || !reflect.DeepEqual(got, domain.DefaultPolicyParams()) {
			t.Errorf("got %#v, %v", got, err)
		}
	})
	t.Run("given params, when marshalled and parsed again, then they are equal", func(t *testing.T) {
		p := domain.DefaultPolicyParams()
		p.Quarantine = 21*24*time.Hour + 90*time.Minute
		p.MergeGap = 1500 * time.Millisecond
		p.ContactWindowByKind[domain.KindHospital] = time.Hour
		fatigue, _ := domain.ParseSymptom("fatigue")
		p.TriggeringSymptoms = append(p.TriggeringSymptoms, fatigue)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"quarantine":"505h30m"`) || !strings.Contains(string(b), `"merge_gap":"1.5s"`) {
			t.Errorf("durations not in their short form: %s", b)
		}
		var back domain.PolicyParams
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, p) {
			t.Errorf("back %#v, %v", back, err)
		}
	})
	for _, tc := range []struct{ name, in, want string }{
		{"given two objects, when parsed, then trailing data is an error", `{} {}`, "more data after"},
		{"given an array, when parsed, then an object is asked for", `[]`, "must be a JSON object"},
		{"given an unknown field, when parsed, then it is named", `{"quarantine": "336h", "isolation": "7d"}`, `unknown field "isolation"`},
		{"given a field twice, when parsed, then the repeat is an error", `{"merge_gap": "20s", "merge_gap": "30s"}`, `field "merge_gap" is given more than once`},
		{"given a symptom list with a repeat, when parsed, then the repeat is named", `{"triggering_symptoms": ["fever", "fever"]}`, `field "triggering_symptoms[1]" repeats "fever"`},
		{"given a fever threshold of 100, when parsed, then Fahrenheit is caught", `{"fever_celsius": 100}`, `field "fever_celsius" must be between 36 and 42`},
		{"given a fever threshold as text, when parsed, then a number is asked for", `{"fever_celsius": "37.3"}`, `field "fever_celsius" must be a number, got "37.3"`},
		{"given a negative lead, when parsed, then durations must be positive", `{"infectious_lead": "-48h"}`, `field "infectious_lead" must be a positive duration`},
		{"given windows by kind as a list, when parsed, then a map is asked for", `{"contact_window_by_kind": ["subway"]}`, `field "contact_window_by_kind" must be an object from checkpoint kind to duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.ParsePolicyParams([]byte(tc.in))
			if domain.ErrorCode(err) != domain.Invalid || !strings.Contains(domain.ErrorMessage(err), tc.want) {
				t.Errorf("got %v, want a message with %q", err, tc.want)
			}
			if !strings.HasPrefix(domain.ErrorMessage(err), "policy params: ") {
				t.Errorf("message %q does not say what it is about", domain.ErrorMessage(err))
			}
		})
	}
}

func TestPolicyParamsValidate(t *testing.T) {
	p := domain.DefaultPolicyParams()
	p.Quarantine = 0
	p.MergeGap = -time.Second
	p.TriggeringSymptoms = nil
	p.FeverCelsius = 0
	p.ContactWindowByKind[domain.KindBus] = 400 * 24 * time.Hour
	err := p.Validate()
	if domain.ErrorCode(err) != domain.Invalid {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{`"quarantine" must be a positive duration, got 0s`, `"merge_gap" must be a positive duration, got -1s`,
		`"triggering_symptoms" must name at least one symptom`, `"fever_celsius" must be between 36 and 42`,
		`"contact_window_by_kind.bus" must be at most 366 days`} {
		if !strings.Contains(domain.ErrorMessage(err), want) {
			t.Errorf("message %q lacks %q", domain.ErrorMessage(err), want)
		}
	}
	if _, err := json.Marshal(p); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("invalid params marshalled: %v", err)
	}
}
