package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The commands of the write side's public contract (DESIGN §5.1): one JSON
// object per line of an import file, and the same fields in the API's request
// bodies. The JSON names are public and are never renamed.
//
// A Command is what ParseCommand returns: the envelope every line carries and
// one Body, the command proper. A Body from ParseCommand has passed every
// check that needs nothing but the line, the clock and the zone; checks that
// need the ledger's state (an unknown checkpoint, a fifth dependent, a reused
// id) are the commands layer's.

// Command names, as written in the "command" field.
const (
	CmdRegisterPerson     = "register_person"
	CmdVerifyIdentity     = "verify_identity"
	CmdApplyDependent     = "apply_dependent"
	CmdEndDependent       = "end_dependent"
	CmdSubmitHealthForm   = "submit_health_form"
	CmdReportSymptoms     = "report_symptoms"
	CmdRecordDiagnosis    = "record_diagnosis"
	CmdDesignateKeyArea   = "designate_key_area"
	CmdLiftKeyArea        = "lift_key_area"
	CmdRegisterCheckpoint = "register_checkpoint"
	CmdRecordScan         = "record_scan"
	CmdReportContact      = "report_contact"
	CmdOverrideColour     = "override_colour"
	CmdPublishPolicy      = "publish_policy"
	CmdErasePerson        = "erase_person"
	CmdRetract            = "retract"
)

// CommandNames returns every command name, in the order of DESIGN §5.1.
func CommandNames() []string {
	return []string{
		CmdRegisterPerson, CmdVerifyIdentity, CmdApplyDependent, CmdEndDependent,
		CmdSubmitHealthForm, CmdReportSymptoms, CmdRecordDiagnosis, CmdDesignateKeyArea,
		CmdLiftKeyArea, CmdRegisterCheckpoint, CmdRecordScan, CmdReportContact,
		CmdOverrideColour, CmdPublishPolicy, CmdErasePerson, CmdRetract,
	}
}

// Command is one parsed command: its envelope and its body.
type Command struct {
	// ID is the client's idempotency key, or "" when the line has none (then
	// IdempotencyKey derives one from the content).
	ID string
	// At is when the fact occurred in the world (occurred_at), in UTC.
	At time.Time
	// RecordedAt is the line's recorded_at, in UTC, when the parse options
	// allowed it and the line had one; otherwise zero (the ledger's clock
	// decides).
	RecordedAt time.Time
	// Body is the command proper: one of the types that implement Body in
	// this package (RegisterPerson, RecordScan, ...), as a value.
	Body Body
}

// Name returns the command's name ("record_scan"), or "" without a body.
func (c Command) Name() string {
	if c.Body == nil {
		return ""
	}
	return c.Body.CommandName()
}

// Body is the command proper. Only this package's command types implement
// it, so a switch over them is complete.
type Body interface {
	// CommandName returns the name written in the "command" field.
	CommandName() string
	isBody()
}

// MarshalJSON writes the command as one line of the command file, which
// ParseCommand reads back to an equal Command: the envelope fields and the
// body's fields in one object, keys sorted, at and recorded_at in UTC (every
// time is in UTC in a command from ParseCommand). A command whose
// body holds unset or invalid values is an Invalid error.
func (c Command) MarshalJSON() ([]byte, error) {
	return c.marshal(true)
}

// marshal writes the command as one compact object with sorted keys. With
// envelope false it leaves out id and recorded_at: what remains is the
// line's content, which IdempotencyKey hashes.
func (c Command) marshal(envelope bool) ([]byte, error) {
	if c.Body == nil {
		return nil, Errorf(Invalid, "command has no body")
	}
	if c.At.IsZero() {
		return nil, Errorf(Invalid, "%s: field \"at\" is not set", c.Name())
	}
	body, err := json.Marshal(c.Body)
	if err != nil {
		return nil, err
	}
	members, err := splitObject(body)
	if err != nil {
		return nil, err
	}
	put := func(k string, v any) error {
		b, err := json.Marshal(v)
		members = append(members, member{key: k, value: b})
		return err
	}
	if err := put("command", c.Name()); err != nil {
		return nil, err
	}
	if err := put("at", c.At.UTC()); err != nil {
		return nil, err
	}
	if envelope && c.ID != "" {
		if err := put("id", c.ID); err != nil {
			return nil, err
		}
	}
	if envelope && !c.RecordedAt.IsZero() {
		if err := put("recorded_at", c.RecordedAt.UTC()); err != nil {
			return nil, err
		}
	}
	// Sorted keys and compact values: the same command always gives the
	// same bytes.
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
	n := 2
	for _, m := range members {
		n += len(m.key) + len(m.value) + 4
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, m.key...)
		out = append(out, '"', ':')
		out = append(out, m.value...)
	}
	return append(out, '}'), nil
}

// member is one key and value of a JSON object.
type member struct {
	key   string // as written between the quotes
	value []byte
}

// splitObject splits the compact JSON object that encoding/json wrote for
// a struct into its members. The keys are the struct's field names, which
// need no escaping.
func splitObject(b []byte) ([]member, error) {
	bad := func() ([]member, error) { return nil, fmt.Errorf("command body %.40q is not a compact JSON object", b) }
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return bad()
	}
	var out []member
	i := 1
	for i < len(b)-1 {
		if b[i] != '"' {
			return bad()
		}
		end := bytes.IndexByte(b[i+1:], '"')
		if end < 0 || i+end+2 >= len(b) || b[i+end+2] != ':' {
			return bad()
		}
		key := string(b[i+1 : i+1+end])
		i += end + 3
		start, depth, inString := i, 0, false
	value:
		for ; i < len(b); i++ {
			switch ch := b[i]; {
			case inString:
				switch ch {
				case '\\':
					i++
				case '"':
					inString = false
				}
			case ch == '"':
				inString = true
			case ch == '{' || ch == '[':
				depth++
			case (ch == '}' || ch == ']') && depth > 0:
				depth--
			case (ch == ',' || ch == '}') && depth == 0:
				break value
			}
		}
		if i >= len(b) {
			return bad()
		}
		out = append(out, member{key: key, value: b[start:i]})
		if b[i] == ',' {
			i++
		}
	}
	return out, nil
}

// IdempotencyKey returns the key under which the ledger recognises a repeated
// command: the line's own id when it has one, and otherwise "sha256:"
// followed by the hex SHA-256 of the command's content in canonical form.
//
// The canonical form is the parsed command written back (MarshalJSON without
// id and recorded_at), not the raw line: two lines that differ only in white
// space, key order, time offsets or in fields left at their defaults are the
// same content and get the same key. recorded_at is left out because it says
// when a ledger learnt the fact, not what the fact is: importing one file
// with and without --preserve-recorded-at must not append it twice.
//
// A command that cannot be written (an unset field in a hand-built body) is
// an Invalid error.
func IdempotencyKey(cmd Command) (string, error) {
	if cmd.ID != "" {
		return cmd.ID, nil
	}
	content, err := cmd.marshal(false)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(content)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// RegisterPerson registers a person with an identity document. Document
// numbers and names are personal data.
type RegisterPerson struct {
	PersonID    PersonID `json:"person_id"`
	Document    Document `json:"document"`
	Name        string   `json:"name"`
	Nationality string   `json:"nationality"`
	// Phone is optional ("" when not given).
	Phone string `json:"phone,omitempty"`
}

// VerifyIdentity records that a person's identity was checked.
type VerifyIdentity struct {
	PersonID PersonID           `json:"person_id"`
	Method   VerificationMethod `json:"method"`
}

// ApplyDependent is a guardian's application for a dependent who has no
// phone. The dependent becomes a registered person with its own id.
type ApplyDependent struct {
	GuardianID  PersonID `json:"guardian_id"`
	DependentID PersonID `json:"dependent_id"`
	Document    Document `json:"document"`
	Name        string   `json:"name"`
	Nationality string   `json:"nationality"`
	// UsableFrom is the first day the dependent's code may be used: the day
	// after the application's local day at the earliest.
	UsableFrom Date `json:"usable_from"`
}

// EndDependent ends a guardian's dependency, freeing one of the guardian's
// dependent slots.
type EndDependent struct {
	GuardianID  PersonID `json:"guardian_id"`
	DependentID PersonID `json:"dependent_id"`
}

// Travel is one declared arrival from a region.
type Travel struct {
	Region    Region `json:"region"`
	ArrivedOn Date   `json:"arrived_on"`
}

// SubmitHealthForm is a person's daily health form.
type SubmitHealthForm struct {
	PersonID PersonID `json:"person_id"`
	// Travel lists arrivals in the last 14 days; empty (never nil from
	// ParseCommand) when there were none.
	Travel []Travel `json:"travel"`
	// Symptoms lists current symptoms; empty (never nil from ParseCommand)
	// when there are none.
	Symptoms []Symptom `json:"symptoms"`
	// TemperatureCelsius is optional (nil when not measured).
	TemperatureCelsius *float64 `json:"temperature_celsius,omitempty"`
	ContactWithCase    bool     `json:"contact_with_case"`
}

// ReportSymptoms reports symptoms of a person, by the person, a clinic or a
// checkpoint.
type ReportSymptoms struct {
	PersonID PersonID `json:"person_id"`
	// Symptoms has at least one symptom.
	Symptoms []Symptom `json:"symptoms"`
	// Onset is optional (zero when not given); it is the day the symptoms
	// began, which opens the infectious window.
	Onset  Date          `json:"onset,omitzero"`
	Source SymptomSource `json:"source"`
}

// RecordDiagnosis records a clinic's diagnosis of a person.
type RecordDiagnosis struct {
	PersonID PersonID        `json:"person_id"`
	Result   DiagnosisResult `json:"result"`
}

// DesignateKeyArea makes a region a key epidemic area from a date.
type DesignateKeyArea struct {
	Region Region `json:"region"`
	From   Date   `json:"from"`
}

// LiftKeyArea ends a region's key-area status from a date.
type LiftKeyArea struct {
	Region Region `json:"region"`
	From   Date   `json:"from"`
}

// RegisterCheckpoint registers a checkpoint, or re-registers it with new
// details.
type RegisterCheckpoint struct {
	CheckpointID CheckpointID   `json:"checkpoint_id"`
	Name         string         `json:"name"`
	Kind         CheckpointKind `json:"kind"`
	District     string         `json:"district"`
	// Admits lists the colours the checkpoint admits, without repeats; nil
	// when not given, which means green only (see AdmittedColours).
	Admits []Colour `json:"admits,omitempty"`
	// Recognises lists the foreign code issuers whose codes the checkpoint
	// accepts, without repeats; nil for none.
	Recognises []string `json:"recognises,omitempty"`
}

// AdmittedColours returns the colours the checkpoint admits: Admits, or green
// alone when Admits was not given.
func (c RegisterCheckpoint) AdmittedColours() []Colour {
	if len(c.Admits) == 0 {
		return []Colour{Green}
	}
	return append([]Colour(nil), c.Admits...)
}

// Visitor is the subject of a scan who is not registered with us and has no
// code: identified by the document shown (stored as a keyed hash).
type Visitor struct {
	Document Document `json:"document"`
}

// RecordScan is a checkpoint scan. Exactly one of PersonID, Code and Visitor
// is set: our person, a code (ours or a foreign issuer's, verified by the
// codes layer), or an unregistered visitor. The decision to admit is the
// ledger's, not the client's.
type RecordScan struct {
	CheckpointID CheckpointID `json:"checkpoint_id"`
	PersonID     PersonID     `json:"person_id,omitzero"`
	Code         string       `json:"code,omitempty"`
	Visitor      *Visitor     `json:"visitor,omitempty"`
	Method       ScanMethod   `json:"method"`
	// TemperatureCelsius is optional (nil when not measured).
	TemperatureCelsius *float64 `json:"temperature_celsius,omitempty"`
}

// SensorRecordSpan is the time one proximity-sensor record covers: the 20 s
// ending at its timestamp.
const SensorRecordSpan = 20 * time.Second

// ReportContact reports a contact between two persons. From an interview it
// has a Start and, when known, an End; from a sensor it is one record: End is
// the record's timestamp and Start is End - SensorRecordSpan.
type ReportContact struct {
	PersonID PersonID      `json:"person_id"`
	OtherID  PersonID      `json:"other_id"`
	Source   ContactSource `json:"source"`
	Start    time.Time     `json:"start"`
	// End is zero for an interview that did not establish it.
	End time.Time `json:"end,omitzero"`
}

// OverrideColour is an official's override of a person's colour, in force
// from the command's At until Until.
type OverrideColour struct {
	PersonID PersonID  `json:"person_id"`
	Colour   Colour    `json:"colour"`
	Reason   string    `json:"reason"`
	Until    time.Time `json:"until"`
}

// PublishPolicy publishes a risk policy version, in force from EffectiveFrom.
// Params is complete: fields the line left out hold version 1's values.
type PublishPolicy struct {
	// Version is 2 or more: version 1 is the built-in default policy.
	Version       int          `json:"version"`
	Params        PolicyParams `json:"params"`
	EffectiveFrom time.Time    `json:"effective_from"`
}

// ErasePerson erases a person's personal data (crypto-shredding); the
// person's facts still count.
type ErasePerson struct {
	PersonID PersonID `json:"person_id"`
	Reason   string   `json:"reason"`
}

// Retract withdraws an earlier fact, which stops counting for knowledge times
// at or after the retraction's recording.
type Retract struct {
	EventID EventID `json:"event_id"`
	Reason  string  `json:"reason"`
}

// CommandName returns "register_person".
func (RegisterPerson) CommandName() string { return CmdRegisterPerson }

// CommandName returns "verify_identity".
func (VerifyIdentity) CommandName() string { return CmdVerifyIdentity }

// CommandName returns "apply_dependent".
func (ApplyDependent) CommandName() string { return CmdApplyDependent }

// CommandName returns "end_dependent".
func (EndDependent) CommandName() string { return CmdEndDependent }

// CommandName returns "submit_health_form".
func (SubmitHealthForm) CommandName() string { return CmdSubmitHealthForm }

// CommandName returns "report_symptoms".
func (ReportSymptoms) CommandName() string { return CmdReportSymptoms }

// CommandName returns "record_diagnosis".
func (RecordDiagnosis) CommandName() string { return CmdRecordDiagnosis }

// CommandName returns "designate_key_area".
func (DesignateKeyArea) CommandName() string { return CmdDesignateKeyArea }

// CommandName returns "lift_key_area".
func (LiftKeyArea) CommandName() string { return CmdLiftKeyArea }

// CommandName returns "register_checkpoint".
func (RegisterCheckpoint) CommandName() string { return CmdRegisterCheckpoint }

// CommandName returns "record_scan".
func (RecordScan) CommandName() string { return CmdRecordScan }

// CommandName returns "report_contact".
func (ReportContact) CommandName() string { return CmdReportContact }

// CommandName returns "override_colour".
func (OverrideColour) CommandName() string { return CmdOverrideColour }

// CommandName returns "publish_policy".
func (PublishPolicy) CommandName() string { return CmdPublishPolicy }

// CommandName returns "erase_person".
func (ErasePerson) CommandName() string { return CmdErasePerson }

// CommandName returns "retract".
func (Retract) CommandName() string { return CmdRetract }

func (RegisterPerson) isBody()     {}
func (VerifyIdentity) isBody()     {}
func (ApplyDependent) isBody()     {}
func (EndDependent) isBody()       {}
func (SubmitHealthForm) isBody()   {}
func (ReportSymptoms) isBody()     {}
func (RecordDiagnosis) isBody()    {}
func (DesignateKeyArea) isBody()   {}
func (LiftKeyArea) isBody()        {}
func (RegisterCheckpoint) isBody() {}
func (RecordScan) isBody()         {}
func (ReportContact) isBody()      {}
func (OverrideColour) isBody()     {}
func (PublishPolicy) isBody()      {}
func (ErasePerson) isBody()        {}
func (Retract) isBody()            {}
