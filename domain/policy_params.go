package domain

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// PolicyParams are the parameters of a risk policy version (DESIGN §3). They
// are data, carried by publish_policy and read by whatif, so that a replay
// knows which version was in force. In JSON the durations are Go duration
// strings ("336h", "30m", "20s").
//
// A params object need not name every field: the fields it leaves out take
// version 1's values (DefaultPolicyParams). A new version is therefore written
// as the change it makes ({"contact_window": "15m"}), and adding a parameter
// later does not invalidate the objects already in the ledger. What a
// published policy stores is the complete set, so the ledger never depends on
// what the defaults were when it was read.
type PolicyParams struct {
	// Quarantine is how long a red interval lasts (R1, R3).
	Quarantine time.Duration
	// Observation is how long a yellow interval lasts (Y1, Y2, Y3).
	Observation time.Duration
	// ContactWindow is how far apart two scans at one checkpoint may be and
	// still be a close contact (Y1), unless ContactWindowByKind overrides it.
	ContactWindow time.Duration
	// ContactWindowByKind overrides ContactWindow per checkpoint kind. Never
	// nil in a value from DefaultPolicyParams or ParsePolicyParams.
	ContactWindowByKind map[CheckpointKind]time.Duration
	// InfectiousLead is how long before the start of its onset day a case's
	// infectious window opens.
	InfectiousLead time.Duration
	// TriggeringSymptoms are the symptoms that make a person red (R1).
	TriggeringSymptoms []Symptom
	// FeverCelsius is the temperature at or above which a reading counts as
	// fever.
	FeverCelsius float64
	// ContactMinDuration is how much reported contact in one local day makes
	// a contact yellow (Y2).
	ContactMinDuration time.Duration
	// MergeGap is how far apart two sensor records of one pair may be and
	// still belong to one contact episode.
	MergeGap time.Duration
}

// Bounds of policy parameters. A duration longer than a year, or a fever
// threshold outside what a thermometer at a gate could mean, is a typo
// rather than a policy.
const (
	maxPolicyDuration = 366 * 24 * time.Hour
	minFeverCelsius   = 36.0
	maxFeverCelsius   = 42.0
)

// DefaultPolicyVersion is the version of the policy in force from the
// beginning of time, with DefaultPolicyParams. Published versions are higher.
const DefaultPolicyVersion = 1

// DefaultPolicyParams returns the parameters of policy version 1 (DESIGN §3).
// Each call returns fresh slices and maps, so a caller may change its copy.
func DefaultPolicyParams() PolicyParams {
	return PolicyParams{
		Quarantine:          14 * 24 * time.Hour,
		Observation:         14 * 24 * time.Hour,
		ContactWindow:       30 * time.Minute,
		ContactWindowByKind: map[CheckpointKind]time.Duration{},
		InfectiousLead:      48 * time.Hour,
		TriggeringSymptoms:  []Symptom{SymptomFever, SymptomCough, SymptomShortnessOfBreath},
		FeverCelsius:        37.3,
		ContactMinDuration:  15 * time.Minute,
		MergeGap:            20 * time.Second,
	}
}

// ContactWindowFor returns the contact window at checkpoints of kind k: its
// override if there is one, else ContactWindow.
func (p PolicyParams) ContactWindowFor(k CheckpointKind) time.Duration {
	if w, ok := p.ContactWindowByKind[k]; ok {
		return w
	}
	return p.ContactWindow
}

// Triggers reports whether s is one of the triggering symptoms.
func (p PolicyParams) Triggers(s Symptom) bool { return slices.Contains(p.TriggeringSymptoms, s) }

// Validate checks every parameter and returns one Invalid error naming all the
// problems: durations must be positive and at most 366 days, the symptom list
// non-empty without repeats, the fever threshold between 36 and 42 °C.
func (p PolicyParams) Validate() error {
	if problems := p.problems(""); len(problems) > 0 {
		return Errorf(Invalid, "policy: %s", strings.Join(problems, "; "))
	}
	return nil
}

// problems lists what is wrong with p, each naming its field with prefix
// ("params.") in front.
func (p PolicyParams) problems(prefix string) []string {
	var out []string
	duration := func(name string, d time.Duration) {
		if problem := durationProblem(d); problem != "" {
			out = append(out, fieldf(prefix+name, "%s", problem))
		}
	}
	duration("quarantine", p.Quarantine)
	duration("observation", p.Observation)
	duration("contact_window", p.ContactWindow)
	for _, k := range sortedKinds(p.ContactWindowByKind) {
		if k.IsZero() {
			out = append(out, fieldf(prefix+"contact_window_by_kind", "has an entry without a checkpoint kind"))
			continue
		}
		duration("contact_window_by_kind."+k.String(), p.ContactWindowByKind[k])
	}
	duration("infectious_lead", p.InfectiousLead)
	if len(p.TriggeringSymptoms) == 0 {
		out = append(out, fieldf(prefix+"triggering_symptoms", `must name at least one symptom (like "fever")`))
	}
	for i, s := range p.TriggeringSymptoms {
		name := prefix + "triggering_symptoms[" + itoa(i) + "]"
		switch {
		case s.IsZero():
			out = append(out, fieldf(name, "must not be empty"))
		case slices.Contains(p.TriggeringSymptoms[:i], s):
			out = append(out, fieldf(name, "repeats %q", s.String()))
		}
	}
	if !(p.FeverCelsius >= minFeverCelsius && p.FeverCelsius <= maxFeverCelsius) {
		out = append(out, fieldf(prefix+"fever_celsius", "must be between %g and %g °C, got %g", minFeverCelsius, maxFeverCelsius, p.FeverCelsius))
	}
	duration("contact_min_duration", p.ContactMinDuration)
	duration("merge_gap", p.MergeGap)
	return out
}

func durationProblem(d time.Duration) string {
	switch {
	case d <= 0:
		return "must be a positive duration, got " + formatDuration(d)
	case d > maxPolicyDuration:
		return "must be at most 366 days (8784h), got " + formatDuration(d)
	}
	return ""
}

// policyParamsJSON is PolicyParams as written in JSON.
type policyParamsJSON struct {
	Quarantine          string            `json:"quarantine"`
	Observation         string            `json:"observation"`
	ContactWindow       string            `json:"contact_window"`
	ContactWindowByKind map[string]string `json:"contact_window_by_kind"`
	InfectiousLead      string            `json:"infectious_lead"`
	TriggeringSymptoms  []Symptom         `json:"triggering_symptoms"`
	FeverCelsius        float64           `json:"fever_celsius"`
	ContactMinDuration  string            `json:"contact_min_duration"`
	MergeGap            string            `json:"merge_gap"`
}

// MarshalJSON writes every parameter, durations in their shortest Go form
// ("336h", not "336h0m0s"). Params that fail Validate are an Invalid error:
// they must not reach the ledger.
func (p PolicyParams) MarshalJSON() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	byKind := make(map[string]string, len(p.ContactWindowByKind))
	for k, d := range p.ContactWindowByKind {
		byKind[k.String()] = formatDuration(d)
	}
	return json.Marshal(policyParamsJSON{
		Quarantine:          formatDuration(p.Quarantine),
		Observation:         formatDuration(p.Observation),
		ContactWindow:       formatDuration(p.ContactWindow),
		ContactWindowByKind: byKind,
		InfectiousLead:      formatDuration(p.InfectiousLead),
		TriggeringSymptoms:  p.TriggeringSymptoms,
		FeverCelsius:        p.FeverCelsius,
		ContactMinDuration:  formatDuration(p.ContactMinDuration),
		MergeGap:            formatDuration(p.MergeGap),
	})
}

// UnmarshalJSON reads a params object as ParsePolicyParams does and returns
// its errors.
func (p *PolicyParams) UnmarshalJSON(b []byte) error {
	v, err := ParsePolicyParams(b)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParsePolicyParams reads one params object (a whatif policy file, say),
// strictly: unknown fields, repeated fields, wrong types and trailing data are
// Invalid errors, and so is any value Validate rejects. Fields left out take
// version 1's values.
func ParsePolicyParams(data []byte) (PolicyParams, error) {
	d := &decoder{prefix: "policy params"}
	raw, ok := d.document(data, "the object")
	if !ok {
		return PolicyParams{}, d.err()
	}
	p := d.policyParams(raw, "")
	if err := d.err(); err != nil {
		return PolicyParams{}, err
	}
	return p, nil
}

// formatDuration writes d in Go syntax without zero trailing units, the way
// people write policy durations: 336h, 30m, 1h30m, 20s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func sortedKinds(m map[CheckpointKind]time.Duration) []CheckpointKind {
	kinds := make([]CheckpointKind, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b CheckpointKind) int { return strings.Compare(a.s, b.s) })
	return kinds
}
