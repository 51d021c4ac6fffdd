package domain

import "strings"

// The enums below are structs with one unexported field, so that a value
// outside the package can only come from the exported values or from Parse:
// a Colour can never be "purple". The zero value of each means "not set"; it
// does not marshal.

// Colour is a health-code colour.
type Colour struct{ s string }

// The colours, from least to most strict.
var (
	Green  = Colour{"green"}
	Yellow = Colour{"yellow"}
	Red    = Colour{"red"}
)

// Colours returns every colour, from least to most strict.
func Colours() []Colour { return []Colour{Green, Yellow, Red} }

// ParseColour reads "green", "yellow" or "red"; anything else is an Invalid
// error.
func ParseColour(s string) (Colour, error) {
	return parseEnum("colour", s, Colours(), Colour.String)
}

// String returns the colour's name, or "" for the zero value.
func (c Colour) String() string { return c.s }

// IsZero reports whether c is the zero value (not set).
func (c Colour) IsZero() bool { return c.s == "" }

// StricterThan reports whether c admits fewer people than o (red is stricter
// than yellow, yellow than green); when a live colour is stricter than the
// one printed in a code, the live colour wins.
func (c Colour) StricterThan(o Colour) bool { return c.rank() > o.rank() }

func (c Colour) rank() int {
	switch c {
	case Yellow:
		return 1
	case Red:
		return 2
	}
	return 0
}

// MarshalText encodes the colour's name; the zero value is an Invalid error.
func (c Colour) MarshalText() ([]byte, error) { return enumText("colour", c.s) }

// UnmarshalText decodes through ParseColour and returns its errors.
func (c *Colour) UnmarshalText(b []byte) error { return unmarshalEnum(c, b, ParseColour) }

// DocumentType is the kind of identity document a person registers with.
type DocumentType struct{ s string }

// The document types.
var (
	DocumentResidentID = DocumentType{"resident_id"}
	DocumentPassport   = DocumentType{"passport"}
	DocumentOther      = DocumentType{"other"}
)

// DocumentTypes returns every document type.
func DocumentTypes() []DocumentType {
	return []DocumentType{DocumentResidentID, DocumentPassport, DocumentOther}
}

// ParseDocumentType reads "resident_id", "passport" or "other"; anything else
// is an Invalid error.
func ParseDocumentType(s string) (DocumentType, error) {
	return parseEnum("document type", s, DocumentTypes(), DocumentType.String)
}

// String returns the type's name, or "" for the zero value.
func (t DocumentType) String() string { return t.s }

// IsZero reports whether t is the zero value (not set).
func (t DocumentType) IsZero() bool { return t.s == "" }

// MarshalText encodes the type's name; the zero value is an Invalid error.
func (t DocumentType) MarshalText() ([]byte, error) { return enumText("document type", t.s) }

// UnmarshalText decodes through ParseDocumentType and returns its errors.
func (t *DocumentType) UnmarshalText(b []byte) error {
	return unmarshalEnum(t, b, ParseDocumentType)
}

// VerificationMethod is how a person's identity was verified.
type VerificationMethod struct{ s string }

// The verification methods.
var (
	VerifyIDCard        = VerificationMethod{"id_card"}
	VerifyFaceScan      = VerificationMethod{"face_scan"}
	VerifyDocumentCheck = VerificationMethod{"document_check"}
	VerifyProxy         = VerificationMethod{"proxy"}
)

// VerificationMethods returns every verification method.
func VerificationMethods() []VerificationMethod {
	return []VerificationMethod{VerifyIDCard, VerifyFaceScan, VerifyDocumentCheck, VerifyProxy}
}

// ParseVerificationMethod reads "id_card", "face_scan", "document_check" or
// "proxy"; anything else is an Invalid error.
func ParseVerificationMethod(s string) (VerificationMethod, error) {
	return parseEnum("verification method", s, VerificationMethods(), VerificationMethod.String)
}

// String returns the method's name, or "" for the zero value.
func (m VerificationMethod) String() string { return m.s }

// IsZero reports whether m is the zero value (not set).
func (m VerificationMethod) IsZero() bool { return m.s == "" }

// MarshalText encodes the method's name; the zero value is an Invalid error.
func (m VerificationMethod) MarshalText() ([]byte, error) {
	return enumText("verification method", m.s)
}

// UnmarshalText decodes through ParseVerificationMethod and returns its errors.
func (m *VerificationMethod) UnmarshalText(b []byte) error {
	return unmarshalEnum(m, b, ParseVerificationMethod)
}

// DiagnosisResult is what a clinic found.
type DiagnosisResult struct{ s string }

// The diagnosis results. DiagnosisRuledOut means tested negative: not a case.
var (
	DiagnosisSuspected = DiagnosisResult{"suspected"}
	DiagnosisConfirmed = DiagnosisResult{"confirmed"}
	DiagnosisRuledOut  = DiagnosisResult{"ruled_out"}
	DiagnosisRecovered = DiagnosisResult{"recovered"}
)

// DiagnosisResults returns every diagnosis result.
func DiagnosisResults() []DiagnosisResult {
	return []DiagnosisResult{DiagnosisSuspected, DiagnosisConfirmed, DiagnosisRuledOut, DiagnosisRecovered}
}

// ParseDiagnosisResult reads "suspected", "confirmed", "ruled_out" or
// "recovered"; anything else is an Invalid error.
func ParseDiagnosisResult(s string) (DiagnosisResult, error) {
	return parseEnum("diagnosis result", s, DiagnosisResults(), DiagnosisResult.String)
}

// String returns the result's name, or "" for the zero value.
func (r DiagnosisResult) String() string { return r.s }

// IsZero reports whether r is the zero value (not set).
func (r DiagnosisResult) IsZero() bool { return r.s == "" }

// MarshalText encodes the result's name; the zero value is an Invalid error.
func (r DiagnosisResult) MarshalText() ([]byte, error) { return enumText("diagnosis result", r.s) }

// UnmarshalText decodes through ParseDiagnosisResult and returns its errors.
func (r *DiagnosisResult) UnmarshalText(b []byte) error {
	return unmarshalEnum(r, b, ParseDiagnosisResult)
}

// SymptomSource is who reported symptoms.
type SymptomSource struct{ s string }

// The symptom sources: the person, a clinic, or a checkpoint's temperature
// check.
var (
	SymptomSourceSelf       = SymptomSource{"self"}
	SymptomSourceClinic     = SymptomSource{"clinic"}
	SymptomSourceCheckpoint = SymptomSource{"checkpoint"}
)

// SymptomSources returns every symptom source.
func SymptomSources() []SymptomSource {
	return []SymptomSource{SymptomSourceSelf, SymptomSourceClinic, SymptomSourceCheckpoint}
}

// ParseSymptomSource reads "self", "clinic" or "checkpoint"; anything else is
// an Invalid error.
func ParseSymptomSource(s string) (SymptomSource, error) {
	return parseEnum("symptom source", s, SymptomSources(), SymptomSource.String)
}

// String returns the source's name, or "" for the zero value.
func (s SymptomSource) String() string { return s.s }

// IsZero reports whether s is the zero value (not set).
func (s SymptomSource) IsZero() bool { return s.s == "" }

// MarshalText encodes the source's name; the zero value is an Invalid error.
func (s SymptomSource) MarshalText() ([]byte, error) { return enumText("symptom source", s.s) }

// UnmarshalText decodes through ParseSymptomSource and returns its errors.
func (s *SymptomSource) UnmarshalText(b []byte) error {
	return unmarshalEnum(s, b, ParseSymptomSource)
}

// ContactSource is how a contact between two persons became known.
type ContactSource struct{ s string }

// The contact sources: a contact tracer's interview, or one record of a
// proximity sensor's log.
var (
	ContactInterview = ContactSource{"interview"}
	ContactSensor    = ContactSource{"sensor"}
)

// ContactSources returns every contact source.
func ContactSources() []ContactSource { return []ContactSource{ContactInterview, ContactSensor} }

// ParseContactSource reads "interview" or "sensor"; anything else is an
// Invalid error.
func ParseContactSource(s string) (ContactSource, error) {
	return parseEnum("contact source", s, ContactSources(), ContactSource.String)
}

// String returns the source's name, or "" for the zero value.
func (s ContactSource) String() string { return s.s }

// IsZero reports whether s is the zero value (not set).
func (s ContactSource) IsZero() bool { return s.s == "" }

// MarshalText encodes the source's name; the zero value is an Invalid error.
func (s ContactSource) MarshalText() ([]byte, error) { return enumText("contact source", s.s) }

// UnmarshalText decodes through ParseContactSource and returns its errors.
func (s *ContactSource) UnmarshalText(b []byte) error {
	return unmarshalEnum(s, b, ParseContactSource)
}

// ScanMethod is how a checkpoint identified the subject of a scan.
type ScanMethod struct{ s string }

// The scan methods: a QR code, manual entry of an ID number, or a scan
// imported from another system.
var (
	ScanQR       = ScanMethod{"qr"}
	ScanManual   = ScanMethod{"manual"}
	ScanImported = ScanMethod{"imported"}
)

// ScanMethods returns every scan method.
func ScanMethods() []ScanMethod { return []ScanMethod{ScanQR, ScanManual, ScanImported} }

// ParseScanMethod reads "qr", "manual" or "imported"; anything else is an
// Invalid error.
func ParseScanMethod(s string) (ScanMethod, error) {
	return parseEnum("scan method", s, ScanMethods(), ScanMethod.String)
}

// String returns the method's name, or "" for the zero value.
func (m ScanMethod) String() string { return m.s }

// IsZero reports whether m is the zero value (not set).
func (m ScanMethod) IsZero() bool { return m.s == "" }

// MarshalText encodes the method's name; the zero value is an Invalid error.
func (m ScanMethod) MarshalText() ([]byte, error) { return enumText("scan method", m.s) }

// UnmarshalText decodes through ParseScanMethod and returns its errors.
func (m *ScanMethod) UnmarshalText(b []byte) error { return unmarshalEnum(m, b, ParseScanMethod) }

// CheckpointKind is what sort of place a checkpoint guards. The contact
// window of the risk policy may differ per kind.
type CheckpointKind struct{ s string }

// The checkpoint kinds.
var (
	KindSubway          = CheckpointKind{"subway"}
	KindBus             = CheckpointKind{"bus"}
	KindPark            = CheckpointKind{"park"}
	KindHousingCompound = CheckpointKind{"housing_compound"}
	KindSupermarket     = CheckpointKind{"supermarket"}
	KindRestaurant      = CheckpointKind{"restaurant"}
	KindOffice          = CheckpointKind{"office"}
	KindHospital        = CheckpointKind{"hospital"}
	KindOther           = CheckpointKind{"other"}
)

// CheckpointKinds returns every checkpoint kind.
func CheckpointKinds() []CheckpointKind {
	return []CheckpointKind{KindSubway, KindBus, KindPark, KindHousingCompound, KindSupermarket, KindRestaurant, KindOffice, KindHospital, KindOther}
}

// ParseCheckpointKind reads one of the kinds listed by CheckpointKinds;
// anything else is an Invalid error.
func ParseCheckpointKind(s string) (CheckpointKind, error) {
	return parseEnum("checkpoint kind", s, CheckpointKinds(), CheckpointKind.String)
}

// String returns the kind's name, or "" for the zero value.
func (k CheckpointKind) String() string { return k.s }

// IsZero reports whether k is the zero value (not set).
func (k CheckpointKind) IsZero() bool { return k.s == "" }

// MarshalText encodes the kind's name; the zero value is an Invalid error.
// Being a text marshaler also lets a kind key a JSON object.
func (k CheckpointKind) MarshalText() ([]byte, error) { return enumText("checkpoint kind", k.s) }

// UnmarshalText decodes through ParseCheckpointKind and returns its errors.
func (k *CheckpointKind) UnmarshalText(b []byte) error {
	return unmarshalEnum(k, b, ParseCheckpointKind)
}

// parseEnum finds s among values by exact name. Case and spaces are not
// forgiven: the names are a public contract and lines are compared by content.
func parseEnum[T any](what, s string, values []T, name func(T) string) (T, error) {
	for _, v := range values {
		if name(v) == s {
			return v, nil
		}
	}
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = name(v)
	}
	var zero T
	return zero, Errorf(Invalid, "%s %s is not one of %s", what, quoteShort(s), strings.Join(names, ", "))
}

func enumText(what, s string) ([]byte, error) {
	if s == "" {
		return nil, Errorf(Invalid, "%s is not set", what)
	}
	return []byte(s), nil
}

func unmarshalEnum[T any](dst *T, b []byte, parse func(string) (T, error)) error {
	v, err := parse(string(b))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
