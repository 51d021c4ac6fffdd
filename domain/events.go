package domain

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// The ledger's event types. A name, once written to a ledger, is never
// renamed and its payload's meaning never changes; a new shape gets a new
// schema version and an upcaster, so old ledgers replay as they were.
const (
	EvPersonRegistered     = "PersonRegistered"
	EvDocumentClaimed      = "DocumentClaimed"
	EvIdentityVerified     = "IdentityVerified"
	EvDependentApplied     = "DependentApplied"
	EvDependentEnded       = "DependentEnded"
	EvHealthFormSubmitted  = "HealthFormSubmitted"
	EvSymptomsReported     = "SymptomsReported"
	EvDiagnosisRecorded    = "DiagnosisRecorded"
	EvKeyAreaDesignated    = "KeyAreaDesignated"
	EvKeyAreaLifted        = "KeyAreaLifted"
	EvPolicyPublished      = "PolicyPublished"
	EvCheckpointRegistered = "CheckpointRegistered"
	EvScanRecorded         = "ScanRecorded"
	EvContactReported      = "ContactReported"
	EvColourOverridden     = "ColourOverridden"
	EvPersonErased         = "PersonErased"
	EvFactRetracted        = "FactRetracted"
	EvColourAssigned       = "ColourAssigned"
)

// EventTypes lists every event type with its current schema version.
func EventTypes() map[string]int {
	return map[string]int{
		EvPersonRegistered: 1, EvDocumentClaimed: 1, EvIdentityVerified: 1, EvDependentApplied: 1, EvDependentEnded: 1,
		EvHealthFormSubmitted: 1, EvSymptomsReported: 1, EvDiagnosisRecorded: 1,
		EvKeyAreaDesignated: 1, EvKeyAreaLifted: 1, EvPolicyPublished: 1,
		EvCheckpointRegistered: 1, EvScanRecorded: 1, EvContactReported: 1,
		EvColourOverridden: 1, EvPersonErased: 1, EvFactRetracted: 1, EvColourAssigned: 1, EvCodeIssued: 1,
		EvIssuerTrusted: 1, EvIssuerRevoked: 1, EvIssuerKeyRetired: 1,
		EvTokenCreated: 1, EvTokenRevoked: 1, EvAccessRecorded: 1,
	}
}

// Streams. Each aggregate's events share a stream, whose expected version
// guards the aggregate's invariants.

// PersonStream is a person's stream: registration, forms, reports,
// diagnoses, dependents (a guardian's dependents live in the guardian's
// stream, so the limit of four is checked against one version).
func PersonStream(id PersonID) string { return "person-" + id.String() }

// CheckpointStream is a checkpoint's stream: registration and scans.
func CheckpointStream(id CheckpointID) string { return "checkpoint-" + id.String() }

// ScansStream holds a checkpoint's scans, apart from its registration, so
// that deciding a scan reads the checkpoint's few registrations and not
// every scan it ever made.
func ScansStream(id CheckpointID) string { return "scans-" + id.String() }

// DocumentStream claims an identity document (by its keyed hash): appended
// with "no stream", it lets exactly one registration win a race.
func DocumentStream(index string) string { return "document-" + index }

// KeyAreasStream holds key-area designations and lifts.
const KeyAreasStream = "key-areas"

// PolicyStream holds published policy versions.
const PolicyStream = "policy"

// RetractionsStream holds retractions of earlier facts.
const RetractionsStream = "retractions"

// eventIDSpace is the UUIDv5 namespace of event ids derived from commands.
var eventIDSpace = uuid.MustParse("6f1d2a3c-9b7e-5c41-8d2f-0a1b2c3d4e5f")

// DeriveEventID returns the id of the n-th event (from 0) that the command
// with idempotency key key appends. The same command always yields the same
// ids, so a repeated command is recognised by the ledger as a retry.
func DeriveEventID(key string, n int) uuid.UUID {
	return uuid.NewSHA1(eventIDSpace, []byte(key+"#"+strconv.Itoa(n)))
}

// Sealed is personal data encrypted under its person's key: opaque text
// that only the vault opens, and that no one can open once the person is
// erased.
type Sealed string

// SealedDocument is an identity document in an event: its type and country
// in clear (they identify no one), its number sealed, and a keyed hash of
// the whole for finding duplicates without storing the number.
type SealedDocument struct {
	Type    DocumentType `json:"type"`
	Country string       `json:"country"`
	Number  Sealed       `json:"number"`
	Index   string       `json:"index"`
}

// PersonRegistered: a person was registered, by themselves or, for a
// dependent, by a guardian (RegisteredBy). Name and phone are sealed.
type PersonRegistered struct {
	PersonID     PersonID       `json:"person_id"`
	Document     SealedDocument `json:"document"`
	Name         Sealed         `json:"name"`
	Nationality  string         `json:"nationality"`
	Phone        Sealed         `json:"phone,omitempty"`
	RegisteredBy PersonID       `json:"registered_by,omitzero"`
}

// DocumentClaimed: an identity document (known by its keyed hash, the
// stream's name) now belongs to a person; the document's stream holds
// nothing else, so a second registration of the same document fails.
type DocumentClaimed struct {
	PersonID PersonID `json:"person_id"`
}

// IdentityVerified: a person's identity was checked.
type IdentityVerified struct {
	PersonID PersonID           `json:"person_id"`
	Method   VerificationMethod `json:"method"`
}

// DependentApplied: a guardian applied for a dependent, whose code is usable
// from UsableFrom.
type DependentApplied struct {
	GuardianID  PersonID `json:"guardian_id"`
	DependentID PersonID `json:"dependent_id"`
	UsableFrom  Date     `json:"usable_from"`
}

// DependentEnded: a guardian ended a dependency, freeing the slot.
type DependentEnded struct {
	GuardianID  PersonID `json:"guardian_id"`
	DependentID PersonID `json:"dependent_id"`
}

// HealthFormSubmitted: a person's health form.
type HealthFormSubmitted struct {
	PersonID           PersonID  `json:"person_id"`
	Travel             []Travel  `json:"travel"`
	Symptoms           []Symptom `json:"symptoms"`
	TemperatureCelsius *float64  `json:"temperature_celsius,omitempty"`
	ContactWithCase    bool      `json:"contact_with_case"`
}

// SymptomsReported: symptoms of a person, reported by the person, a clinic
// or a checkpoint's temperature check.
type SymptomsReported struct {
	PersonID PersonID      `json:"person_id"`
	Symptoms []Symptom     `json:"symptoms"`
	Onset    Date          `json:"onset,omitzero"`
	Source   SymptomSource `json:"source"`
}

// DiagnosisRecorded: a clinic's diagnosis.
type DiagnosisRecorded struct {
	PersonID PersonID        `json:"person_id"`
	Result   DiagnosisResult `json:"result"`
}

// KeyAreaDesignated: a region is a key epidemic area from a date.
type KeyAreaDesignated struct {
	Region Region `json:"region"`
	From   Date   `json:"from"`
}

// KeyAreaLifted: a region stops being a key epidemic area from a date.
type KeyAreaLifted struct {
	Region Region `json:"region"`
	From   Date   `json:"from"`
}

// PolicyPublished: a risk policy version, in force from EffectiveFrom.
type PolicyPublished struct {
	Version       int          `json:"version"`
	Params        PolicyParams `json:"params"`
	EffectiveFrom time.Time    `json:"effective_from"`
}

// CheckpointRegistered: a checkpoint and what it admits. Admits is never
// empty in the event: a registration without it admits green.
type CheckpointRegistered struct {
	CheckpointID CheckpointID   `json:"checkpoint_id"`
	Name         string         `json:"name"`
	Kind         CheckpointKind `json:"kind"`
	District     string         `json:"district"`
	Admits       []Colour       `json:"admits"`
	Recognises   []string       `json:"recognises"`
}

// Scan subjects.
const (
	SubjectPerson  = "person"  // a registered person of ours
	SubjectForeign = "foreign" // a foreign issuer's code holder
	SubjectVisitor = "visitor" // an unregistered visitor, by a keyed hash of the document
)

// ScanSubject is who was scanned: exactly the fields of its Kind are set.
type ScanSubject struct {
	Kind         string   `json:"kind"`
	PersonID     PersonID `json:"person_id,omitzero"`
	Issuer       string   `json:"issuer,omitempty"`
	Pseudonym    string   `json:"pseudonym,omitempty"`
	VisitorIndex string   `json:"visitor_index,omitempty"`
}

// Reasons of the decisions on scanned codes, as a scan records them (the
// first word of ScanRecorded.Reason), so that audits can count them.
const (
	ReasonCodeInvalid        = "code_invalid"
	ReasonCodeOutdated       = "code_outdated"
	ReasonIssuerUnrecognised = "issuer_not_recognised"
)

// ScanRecorded: a checkpoint scan and the ledger's admission decision.
// ViewPosition is the ledger position the decision's colour view had
// reached, so that an audit can re-derive the decision.
type ScanRecorded struct {
	CheckpointID       CheckpointID `json:"checkpoint_id"`
	Subject            ScanSubject  `json:"subject"`
	Method             ScanMethod   `json:"method"`
	TemperatureCelsius *float64     `json:"temperature_celsius,omitempty"`
	Admitted           bool         `json:"admitted"`
	Reason             string       `json:"reason"`
	Colour             Colour       `json:"colour,omitzero"`
	ViewPosition       int64        `json:"view_position"`
}

// ContactReported: a contact between two persons, from an interview (End
// zero when unknown) or one sensor record (the 20 s ending at End).
type ContactReported struct {
	PersonID PersonID      `json:"person_id"`
	OtherID  PersonID      `json:"other_id"`
	Source   ContactSource `json:"source"`
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end,omitzero"`
}

// ColourOverridden: an official's override, in force from the event's
// occurred_at until Until.
type ColourOverridden struct {
	PersonID PersonID  `json:"person_id"`
	Colour   Colour    `json:"colour"`
	Reason   string    `json:"reason"`
	Until    time.Time `json:"until"`
}

// PersonErased: the person's key was destroyed; their facts still count.
type PersonErased struct {
	PersonID PersonID `json:"person_id"`
	Reason   string   `json:"reason"`
}

// FactRetracted: an earlier event stops counting for knowledge times at or
// after this event's recording.
type FactRetracted struct {
	EventID EventID `json:"event_id"`
	Reason  string  `json:"reason"`
}
