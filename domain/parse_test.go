package domain_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests use Asia/Shanghai wherever they run

	"github.com/riskledger/riskledger/domain"
)

// Fixture ids, written into test lines through expand.
const (
	person1    = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
	person2    = "7a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8d"
	dependent1 = "8b3c4d5e-6f7a-4b2c-8d3e-4f5a6b7c8d9e"
	checkpoint = "9c4d5e6f-7a8b-4c3d-9e4f-5a6b7c8d9eaf"
	event1     = "0d5e6f7a-8b9c-4d4e-8f5a-6b7c8d9eafb0"
)

// expand replaces $P1, $P2, $D1, $C1 and $E1 in a test line with the fixture
// ids, so that the lines stay readable.
func expand(line string) string {
	return strings.NewReplacer("$P1", person1, "$P2", person2, "$D1", dependent1, "$C1", checkpoint, "$E1", event1).Replace(line)
}

// shanghai is the default zone of DESIGN §2.
func shanghai(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	return loc
}

// testNow is the ledger's clock in these tests: 2020-03-10 12:00 in Shanghai.
var testNow = time.Date(2020, 3, 10, 4, 0, 0, 0, time.UTC)

func testOptions(t testing.TB) domain.ParseOptions {
	t.Helper()
	return domain.ParseOptions{Now: func() time.Time { return testNow }, Location: shanghai(t)}
}

// validLines holds one valid line per command, in the order of DESIGN §5.1.
// They seed the fuzz test too.
var validLines = []string{
	`{"command":"register_person","id":"reg-1","at":"2020-03-01T09:00:00+08:00","person_id":"$P1","document":{"type":"resident_id","number":"310101199001011234","country":"CN"},"name":"Li Wei","nationality":"CN","phone":"+86 138 0013 8000"}`,
	`{"command":"verify_identity","at":"2020-03-01T09:05:00+08:00","person_id":"$P1","method":"face_scan"}`,
	`{"command":"apply_dependent","at":"2020-03-01T09:10:00+08:00","guardian_id":"$P1","dependent_id":"$D1","document":{"type":"passport","number":"E12345678","country":"CHN"},"name":"Li Xiaoming","nationality":"CN","usable_from":"2020-03-02"}`,
	`{"command":"end_dependent","at":"2020-03-05T18:00:00+08:00","guardian_id":"$P1","dependent_id":"$D1"}`,
	`{"command":"submit_health_form","at":"2020-03-02T07:30:00+08:00","person_id":"$P1","travel":[{"region":"Hubei","arrived_on":"2020-02-25"}],"symptoms":["cough"],"temperature_celsius":37.6,"contact_with_case":false}`,
	`{"command":"report_symptoms","at":"2020-03-02T10:00:00+08:00","person_id":"$P1","symptoms":["fever","fatigue"],"onset":"2020-02-28","source":"clinic"}`,
	`{"command":"record_diagnosis","at":"2020-03-03T11:00:00+08:00","person_id":"$P1","result":"confirmed"}`,
	`{"command":"designate_key_area","at":"2020-02-26T00:00:00+08:00","region":"South Korea","from":"2020-02-26"}`,
	`{"command":"lift_key_area","at":"2020-03-09T00:00:00+08:00","region":"Hubei","from":"2020-03-25"}`,
	`{"command":"register_checkpoint","at":"2020-02-01T08:00:00+08:00","checkpoint_id":"$C1","name":"People's Square, gate 3","kind":"subway","district":"Huangpu","admits":["green","yellow"],"recognises":["CN-JS","CN-ZJ"]}`,
	`{"command":"record_scan","at":"2020-03-01T08:15:00+08:00","checkpoint_id":"$C1","person_id":"$P1","method":"qr","temperature_celsius":36.5}`,
	`{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"sensor","end":"2020-03-01T08:16:40+08:00"}`,
	`{"command":"override_colour","at":"2020-03-04T09:00:00+08:00","person_id":"$P2","colour":"green","reason":"negative test at the border","until":"2020-03-05T09:00:00+08:00"}`,
	`{"command":"publish_policy","at":"2020-03-06T00:00:00+08:00","version":2,"params":{"contact_window":"15m"},"effective_from":"2020-03-07T00:00:00+08:00"}`,
	`{"command":"erase_person","at":"2020-03-08T00:00:00+08:00","person_id":"$P2","reason":"request under PIPL art. 47"}`,
	`{"command":"retract","at":"2020-03-08T00:00:00+08:00","event_id":"$E1","reason":"scan of the wrong person"}`,
}

func mustParse(t *testing.T, line string, opts domain.ParseOptions) domain.Command {
	t.Helper()
	cmd, err := domain.ParseCommand([]byte(expand(line)), opts)
	if err != nil {
		t.Fatalf("parse %s: %v", line, err)
	}
	return cmd
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func date(s string) domain.Date {
	d, err := domain.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func pid(s string) domain.PersonID {
	id, err := domain.ParsePersonID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func ptr[T any](v T) *T { return &v }

func TestParseCommandAcceptsAValidLineOfEveryCommand(t *testing.T) {
	opts := testOptions(t)
	cid, _ := domain.ParseCheckpointID(checkpoint)
	eid, _ := domain.ParseEventID(event1)
	hubei, _ := domain.ParseRegion("Hubei")
	korea, _ := domain.ParseRegion("South Korea")
	fatigue, _ := domain.ParseSymptom("fatigue")
	policy := domain.DefaultPolicyParams()
	policy.ContactWindow = 15 * time.Minute
	want := []domain.Command{
		{ID: "reg-1", At: at("2020-03-01T01:00:00Z"), Body: domain.RegisterPerson{
			PersonID: pid(person1), Name: "Li Wei", Nationality: "CN", Phone: "+86 138 0013 8000",
			Document: domain.Document{Type: domain.DocumentResidentID, Number: "310101199001011234", Country: "CN"}}},
		{At: at("2020-03-01T01:05:00Z"), Body: domain.VerifyIdentity{PersonID: pid(person1), Method: domain.VerifyFaceScan}},
		{At: at("2020-03-01T01:10:00Z"), Body: domain.ApplyDependent{
			GuardianID: pid(person1), DependentID: pid(dependent1), Name: "Li Xiaoming", Nationality: "CN",
			Document:   domain.Document{Type: domain.DocumentPassport, Number: "E12345678", Country: "CHN"},
			UsableFrom: date("2020-03-02")}},
		{At: at("2020-03-05T10:00:00Z"), Body: domain.EndDependent{GuardianID: pid(person1), DependentID: pid(dependent1)}},
		{At: at("2020-03-01T23:30:00Z"), Body: domain.SubmitHealthForm{
			PersonID: pid(person1), Travel: []domain.Travel{{Region: hubei, ArrivedOn: date("2020-02-25")}},
			Symptoms: []domain.Symptom{domain.SymptomCough}, TemperatureCelsius: ptr(37.6)}},
		{At: at("2020-03-02T02:00:00Z"), Body: domain.ReportSymptoms{
			PersonID: pid(person1), Symptoms: []domain.Symptom{domain.SymptomFever, fatigue},
			Onset: date("2020-02-28"), Source: domain.SymptomSourceClinic}},
		{At: at("2020-03-03T03:00:00Z"), Body: domain.RecordDiagnosis{PersonID: pid(person1), Result: domain.DiagnosisConfirmed}},
		{At: at("2020-02-25T16:00:00Z"), Body: domain.DesignateKeyArea{Region: korea, From: date("2020-02-26")}},
		{At: at("2020-03-08T16:00:00Z"), Body: domain.LiftKeyArea{Region: hubei, From: date("2020-03-25")}},
		{At: at("2020-02-01T00:00:00Z"), Body: domain.RegisterCheckpoint{
			CheckpointID: cid, Name: "People's Square, gate 3", Kind: domain.KindSubway, District: "Huangpu",
			Admits: []domain.Colour{domain.Green, domain.Yellow}, Recognises: []string{"CN-JS", "CN-ZJ"}}},
		{At: at("2020-03-01T00:15:00Z"), Body: domain.RecordScan{
			CheckpointID: cid, PersonID: pid(person1), Method: domain.ScanQR, TemperatureCelsius: ptr(36.5)}},
		{At: at("2020-03-01T00:20:00Z"), Body: domain.ReportContact{
			PersonID: pid(person1), OtherID: pid(person2), Source: domain.ContactSensor,
			Start: at("2020-03-01T00:16:20Z"), End: at("2020-03-01T00:16:40Z")}},
		{At: at("2020-03-04T01:00:00Z"), Body: domain.OverrideColour{
			PersonID: pid(person2), Colour: domain.Green, Reason: "negative test at the border", Until: at("2020-03-05T01:00:00Z")}},
		{At: at("2020-03-05T16:00:00Z"), Body: domain.PublishPolicy{Version: 2, Params: policy, EffectiveFrom: at("2020-03-06T16:00:00Z")}},
		{At: at("2020-03-07T16:00:00Z"), Body: domain.ErasePerson{PersonID: pid(person2), Reason: "request under PIPL art. 47"}},
		{At: at("2020-03-07T16:00:00Z"), Body: domain.Retract{EventID: eid, Reason: "scan of the wrong person"}},
	}
	if len(validLines) != len(domain.CommandNames()) || len(want) != len(validLines) {
		t.Fatalf("%d lines and %d expectations for %d commands", len(validLines), len(want), len(domain.CommandNames()))
	}
	for i, line := range validLines {
		name := domain.CommandNames()[i]
		t.Run("given a valid "+name+", when parsed, then every field is read", func(t *testing.T) {
			got := mustParse(t, line, opts)
			if got.Name() != name {
				t.Errorf("name %q, want %q", got.Name(), name)
			}
			if !reflect.DeepEqual(got, want[i]) {
				t.Errorf("got  %#v\nwant %#v", got, want[i])
			}
		})
	}
}

func TestParseCommandRoundTripsThroughMarshalJSON(t *testing.T) {
	opts := testOptions(t)
	opts.AllowRecordedAt = true
	lines := append([]string{
		`{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"interview","start":"2020-03-01T08:00:00+08:00"}`,
		`{"command":"record_scan","at":"2020-03-01T08:15:00+08:00","recorded_at":"2020-03-01T08:15:01+08:00","checkpoint_id":"$C1","visitor":{"document":{"type":"other","number":"X1","country":"Laos"}},"method":"manual"}`,
		`{"command":"submit_health_form","at":"2020-03-02T07:30:00+08:00","person_id":"$P1","travel":[],"symptoms":[],"contact_with_case":true}`,
	}, validLines...)
	for _, line := range lines {
		first := mustParse(t, line, opts)
		b, err := json.Marshal(first)
		if err != nil {
			t.Fatalf("marshal %s: %v", line, err)
		}
		second := mustParse(t, string(b), opts)
		if !reflect.DeepEqual(first, second) {
			t.Errorf("round trip of %s through %s:\n got  %#v\nwant %#v", line, b, second, first)
		}
	}
}

// invalidCase is a line that must be rejected with an Invalid error whose
// message contains every string of want.
type invalidCase struct {
	name string
	line string
	opts func(*domain.ParseOptions)
	want []string
}

func TestParseCommandRejects(t *testing.T) {
	cases := []invalidCase{
		// The line as JSON.
		{name: "given an empty line, when parsed, then it is not a command",
			line: ``, want: []string{"the line is empty"}},
		{name: "given text that is not JSON, when parsed, then the syntax error is named",
			line: `command=record_scan`, want: []string{"not valid JSON", "at byte"}},
		{name: "given a truncated object, when parsed, then it ends in the middle",
			line: `{"command":"retract","event_id":`, want: []string{"ends in the middle"}},
		{name: "given a second object on the line, when parsed, then trailing data is an error",
			line: `{"command":"retract","at":"2020-03-01T00:00:00Z","event_id":"$E1","reason":"x"} {}`, want: []string{"more data after its JSON object"}},
		{name: "given trailing garbage, when parsed, then trailing data is an error",
			line: `{"command":"retract","at":"2020-03-01T00:00:00Z","event_id":"$E1","reason":"x"}x`, want: []string{"more data after"}},
		{name: "given an array, when parsed, then a line must be an object",
			line: `[{"command":"retract"}]`, want: []string{"must be a JSON object, got an array"}},
		{name: "given invalid UTF-8, when parsed, then it is rejected",
			line: "{\"command\":\"erase_person\",\"at\":\"2020-03-01T00:00:00Z\",\"person_id\":\"$P1\",\"reason\":\"\xff\"}", want: []string{"not valid UTF-8"}},

		// The command and the envelope.
		{name: "given no command field, when parsed, then the command names are listed",
			line: `{"at":"2020-03-01T00:00:00Z"}`, want: []string{`field "command" is required`, "register_person", "retract"}},
		{name: "given an unknown command, when parsed, then the command names are listed",
			line: `{"command":"register_dog","at":"2020-03-01T00:00:00Z"}`, want: []string{`field "command" must be one of`, `got "register_dog"`}},
		{name: "given a command that is not a string, when parsed, then its type is named",
			line: `{"command":7}`, want: []string{`field "command" must be a string, got 7`}},
		{name: "given a missing at, when parsed, then at is required",
			line: `{"command":"record_diagnosis","person_id":"$P1","result":"confirmed"}`, want: []string{"record_diagnosis: ", `field "at" is required`}},
		{name: "given an at without offset, when parsed, then RFC 3339 with offset is asked for",
			line: `{"command":"record_diagnosis","at":"2020-03-01T10:00:00","person_id":"$P1","result":"confirmed"}`, want: []string{`field "at" must be an RFC 3339 time with offset`, `got "2020-03-01T10:00:00"`}},
		{name: "given an at that is a date, when parsed, then a time is asked for",
			line: `{"command":"record_diagnosis","at":"2020-03-01","person_id":"$P1","result":"confirmed"}`, want: []string{`field "at" must be an RFC 3339 time`}},
		{name: "given an at as a number, when parsed, then a string is asked for",
			line: `{"command":"record_diagnosis","at":1583020800,"person_id":"$P1","result":"confirmed"}`, want: []string{`field "at" must be a string (an RFC 3339 time`, "got 1583020800"}},
		{name: "given an at beyond the clock skew, when parsed, then it is in the future",
			line: `{"command":"record_diagnosis","at":"2020-03-10T12:05:01+08:00","person_id":"$P1","result":"confirmed"}`, want: []string{`field "at" is 5m1s in the future`, "5m0s allowed for clock skew"}},
		{name: "given a one-minute skew, when an at is two minutes ahead, then it is in the future",
			line: `{"command":"record_diagnosis","at":"2020-03-10T12:02:00+08:00","person_id":"$P1","result":"confirmed"}`,
			opts: func(o *domain.ParseOptions) { o.MaxClockSkew = time.Minute }, want: []string{`field "at" is 2m0s in the future`}},
		{name: "given an at in year 1800, when parsed, then it is out of range",
			line: `{"command":"record_diagnosis","at":"1800-03-01T00:00:00Z","person_id":"$P1","result":"confirmed"}`, want: []string{`field "at" must be between the years 1900 and 9999`}},
		{name: "given an empty id, when parsed, then the id must be left out instead",
			line: `{"command":"record_diagnosis","id":"","at":"2020-03-01T00:00:00Z","person_id":"$P1","result":"confirmed"}`, want: []string{`field "id" must not be empty`}},
		{name: "given an id that is a number, when parsed, then a string is asked for",
			line: `{"command":"record_diagnosis","id":17,"at":"2020-03-01T00:00:00Z","person_id":"$P1","result":"confirmed"}`, want: []string{`field "id" must be a string, got 17`}},
		{name: "given an id of 300 bytes, when parsed, then it is too long",
			line: `{"command":"record_diagnosis","id":"` + strings.Repeat("x", 300) + `","at":"2020-03-01T00:00:00Z","person_id":"$P1","result":"confirmed"}`, want: []string{`field "id" must be at most 256 bytes`}},
		{name: "given a recorded_at that is not a time, when it is not read, then it is still checked",
			line: `{"command":"record_diagnosis","at":"2020-03-01T00:00:00Z","recorded_at":"last week","person_id":"$P1","result":"confirmed"}`, want: []string{`field "recorded_at" must be an RFC 3339 time`}},
		{name: "given a recorded_at in the future, when recorded_at is allowed, then it is rejected",
			line: `{"command":"record_diagnosis","at":"2020-03-01T00:00:00Z","recorded_at":"2020-03-10T12:00:01+08:00","person_id":"$P1","result":"confirmed"}`,
			opts: func(o *domain.ParseOptions) { o.AllowRecordedAt = true }, want: []string{`field "recorded_at" is in the future`}},
		{name: "given an at later than recorded_at by more than the skew, when recorded_at is allowed, then the fact is from the future",
			line: `{"command":"record_diagnosis","at":"2020-03-02T00:00:00Z","recorded_at":"2020-03-01T00:00:00Z","person_id":"$P1","result":"confirmed"}`,
			opts: func(o *domain.ParseOptions) { o.AllowRecordedAt = true }, want: []string{`field "at" is 24h0m0s after recorded_at`}},

		// Strictness about fields.
		{name: "given an unknown field, when parsed, then it is named with the fields there are",
			line: `{"command":"record_diagnosis","at":"2020-03-01T00:00:00Z","person_id":"$P1","result":"confirmed","clinic":"Ruijin"}`, want: []string{`unknown field "clinic"`, `record_diagnosis has only "person_id", "result"`}},
		{name: "given a field name in another case, when parsed, then it is unknown",
			line: `{"command":"record_diagnosis","at":"2020-03-01T00:00:00Z","Person_ID":"$P1","result":"confirmed"}`, want: []string{`unknown field "Person_ID"`, `field "person_id" is required`}},
		{name: "given an unknown field in a document, when parsed, then its path is named",
			line: `{"command":"register_person","at":"2020-03-01T00:00:00Z","person_id":"$P1","document":{"type":"passport","number":"E1","country":"CN","expires":"2030-01-01"},"name":"A","nationality":"CN"}`, want: []string{`unknown field "document.expires"`}},
		{name: "given an unknown field in a visitor's document, when parsed, then its path is named",
			line: `{"command":"record_scan","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","visitor":{"document":{"type":"passport","number":"E1","country":"CN","photo":"..."}},"method":"manual"}`, want: []string{`unknown field "visitor.document.photo"`}},
		{name: "given an unknown field in a travel entry, when parsed, then its index is named",
			line: `{"command":"submit_health_form","at":"2020-03-02T00:00:00Z","person_id":"$P1","travel":[{"region":"Hubei","arrived_on":"2020-02-25","by":"train"}],"symptoms":[],"contact_with_case":false}`, want: []string{`unknown field "travel[0].by"`}},
		{name: "given an unknown policy parameter, when parsed, then it is named",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":{"quarantine_days":14},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`unknown field "params.quarantine_days"`}},
		{name: "given a field twice, when parsed, then the repeat is an error",
			line: `{"command":"record_diagnosis","at":"2020-03-01T00:00:00Z","person_id":"$P1","result":"confirmed","result":"ruled_out"}`, want: []string{`field "result" is given more than once`}},
		{name: "given a required field as null, when parsed, then it is missing",
			line: `{"command":"record_diagnosis","at":"2020-03-01T00:00:00Z","person_id":null,"result":"confirmed"}`, want: []string{`field "person_id" is required`}},
		{name: "given several problems, when parsed, then all are listed",
			line: `{"command":"record_diagnosis","at":"2020-03-01T00:00:00Z","person_id":"me","result":"positive"}`, want: []string{`field "person_id": person id "me" is not a UUID`, `field "result": diagnosis result "positive" is not one of suspected, confirmed, ruled_out, recovered`}},

		// Wrong types.
		{name: "given a temperature as text, when a scan is parsed, then a number is asked for",
			line: `{"command":"record_scan","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","person_id":"$P1","method":"qr","temperature_celsius":"hot"}`, want: []string{`record_scan: field "temperature_celsius" must be a number, got "hot"`}},
		{name: "given contact_with_case as yes, when a form is parsed, then true or false is asked for",
			line: `{"command":"submit_health_form","at":"2020-03-02T00:00:00Z","person_id":"$P1","travel":[],"symptoms":[],"contact_with_case":"yes"}`, want: []string{`field "contact_with_case" must be true or false, got "yes"`}},
		{name: "given symptoms as a string, when a form is parsed, then an array is asked for",
			line: `{"command":"submit_health_form","at":"2020-03-02T00:00:00Z","person_id":"$P1","travel":[],"symptoms":"cough","contact_with_case":false}`, want: []string{`field "symptoms" must be an array, got "cough"`}},
		{name: "given a document as a string, when parsed, then an object is asked for",
			line: `{"command":"register_person","at":"2020-03-01T00:00:00Z","person_id":"$P1","document":"E1","name":"A","nationality":"CN"}`, want: []string{`field "document" must be an object`, `got "E1"`}},
		{name: "given a fractional version, when a policy is parsed, then a whole number is asked for",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2.5,"params":{},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "version" must be a whole number, got 2.5`}},
		{name: "given a version as text, when a policy is parsed, then a whole number is asked for",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":"2","params":{},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "version" must be a whole number, got "2"`}},
		{name: "given a temperature in Fahrenheit, when a scan is parsed, then it is out of range",
			line: `{"command":"record_scan","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","person_id":"$P1","method":"qr","temperature_celsius":98.6}`, want: []string{`field "temperature_celsius" must be a body temperature in °C between 25 and 45, got 98.6`}},
		{name: "given a temperature of 1e400, when a form is parsed, then it is out of range",
			line: `{"command":"submit_health_form","at":"2020-03-02T00:00:00Z","person_id":"$P1","travel":[],"symptoms":[],"temperature_celsius":1e400,"contact_with_case":false}`, want: []string{`field "temperature_celsius" must be a number in range`}},

		// Required fields.
		{name: "given a registration without a document number, when parsed, then the nested field is required",
			line: `{"command":"register_person","at":"2020-03-01T00:00:00Z","person_id":"$P1","document":{"type":"passport","country":"CN"},"name":"A","nationality":"CN"}`, want: []string{`field "document.number" is required`}},
		{name: "given a form without contact_with_case, when parsed, then it is required",
			line: `{"command":"submit_health_form","at":"2020-03-02T00:00:00Z","person_id":"$P1","travel":[],"symptoms":[]}`, want: []string{`field "contact_with_case" is required`}},
		{name: "given a form without travel, when parsed, then travel is required",
			line: `{"command":"submit_health_form","at":"2020-03-02T00:00:00Z","person_id":"$P1","symptoms":[],"contact_with_case":false}`, want: []string{`field "travel" is required`}},
		{name: "given an erasure without a reason, when parsed, then a reason is required",
			line: `{"command":"erase_person","at":"2020-03-01T00:00:00Z","person_id":"$P1"}`, want: []string{`field "reason" is required`}},
		{name: "given a blank reason, when a retraction is parsed, then it must not be empty",
			line: `{"command":"retract","at":"2020-03-01T00:00:00Z","event_id":"$E1","reason":"   "}`, want: []string{`field "reason" must not be empty`}},
		{name: "given a name with a control character, when parsed, then it is rejected",
			line: `{"command":"register_person","at":"2020-03-01T00:00:00Z","person_id":"$P1","document":{"type":"passport","number":"E1","country":"CN"},"name":"A\u0007B","nationality":"CN"}`, want: []string{`field "name" must not contain control characters`}},
		{name: "given a phone with letters, when a person is registered, then a phone number is asked for",
			line: `{"command":"register_person","at":"2020-03-01T00:00:00Z","person_id":"$P1","document":{"type":"passport","number":"E1","country":"CN"},"name":"A","nationality":"CN","phone":"call me"}`, want: []string{`field "phone" must be a phone number`}},

		// Ids.
		{name: "given the nil UUID as a person, when parsed, then it is rejected",
			line: `{"command":"verify_identity","at":"2020-03-01T00:00:00Z","person_id":"00000000-0000-0000-0000-000000000000","method":"id_card"}`, want: []string{`field "person_id": person id must not be the nil UUID`}},
		{name: "given a UUID in braces, when parsed, then only the canonical form is accepted",
			line: `{"command":"verify_identity","at":"2020-03-01T00:00:00Z","person_id":"{$P1}","method":"id_card"}`, want: []string{`field "person_id": person id "{`}},
		{name: "given a retraction of a non-UUID event, when parsed, then the event id is rejected",
			line: `{"command":"retract","at":"2020-03-01T00:00:00Z","event_id":"42","reason":"x"}`, want: []string{`field "event_id": event id "42" is not a UUID`}},
		{name: "given a guardian who is their own dependent, when parsed, then two persons are asked for",
			line: `{"command":"end_dependent","at":"2020-03-01T00:00:00Z","guardian_id":"$P1","dependent_id":"$P1"}`, want: []string{`fields "guardian_id" and "dependent_id" must name two different persons`}},
		{name: "given a contact of a person with themself, when parsed, then two persons are asked for",
			line: `{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P1","source":"interview","start":"2020-03-01T08:00:00+08:00"}`, want: []string{`fields "person_id" and "other_id" must name two different persons`}},

		// Enums.
		{name: "given a document type driver_licence, when parsed, then the types are listed",
			line: `{"command":"register_person","at":"2020-03-01T00:00:00Z","person_id":"$P1","document":{"type":"driver_licence","number":"E1","country":"CN"},"name":"A","nationality":"CN"}`, want: []string{`field "document.type": document type "driver_licence" is not one of resident_id, passport, other`}},
		{name: "given a verification by retina, when parsed, then the methods are listed",
			line: `{"command":"verify_identity","at":"2020-03-01T00:00:00Z","person_id":"$P1","method":"retina"}`, want: []string{`field "method": verification method "retina" is not one of id_card, face_scan, document_check, proxy`}},
		{name: "given a symptom source neighbour, when parsed, then the sources are listed",
			line: `{"command":"report_symptoms","at":"2020-03-01T00:00:00Z","person_id":"$P1","symptoms":["fever"],"source":"neighbour"}`, want: []string{`field "source": symptom source "neighbour" is not one of self, clinic, checkpoint`}},
		{name: "given a contact source gossip, when parsed, then the sources are listed",
			line: `{"command":"report_contact","at":"2020-03-01T00:00:00Z","person_id":"$P1","other_id":"$P2","source":"gossip","start":"2020-03-01T00:00:00Z"}`, want: []string{`field "source": contact source "gossip" is not one of interview, sensor`}},
		{name: "given a scan by nfc, when parsed, then the methods are listed",
			line: `{"command":"record_scan","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","person_id":"$P1","method":"nfc"}`, want: []string{`field "method": scan method "nfc" is not one of qr, manual, imported`}},
		{name: "given a checkpoint kind airport, when parsed, then the kinds are listed",
			line: `{"command":"register_checkpoint","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","name":"T2","kind":"airport","district":"Pudong"}`, want: []string{`field "kind": checkpoint kind "airport" is not one of subway, bus, park, housing_compound, supermarket, restaurant, office, hospital, other`}},
		{name: "given an override to purple, when parsed, then the colours are listed",
			line: `{"command":"override_colour","at":"2020-03-01T00:00:00Z","person_id":"$P1","colour":"purple","reason":"x","until":"2020-03-02T00:00:00Z"}`, want: []string{`field "colour": colour "purple" is not one of green, yellow, red`}},
		{name: "given an enum in capitals, when parsed, then it is not forgiven",
			line: `{"command":"record_diagnosis","at":"2020-03-01T00:00:00Z","person_id":"$P1","result":"Confirmed"}`, want: []string{`diagnosis result "Confirmed" is not one of`}},

		// Symptoms.
		{name: "given an empty symptom word, when symptoms are reported, then it is rejected",
			line: `{"command":"report_symptoms","at":"2020-03-01T00:00:00Z","person_id":"$P1","symptoms":["fever",""],"source":"self"}`, want: []string{`field "symptoms[1]": symptom must not be empty`}},
		{name: "given a symptom in capitals, when a form is parsed, then lower case is asked for",
			line: `{"command":"submit_health_form","at":"2020-03-02T00:00:00Z","person_id":"$P1","travel":[],"symptoms":["Fever"],"contact_with_case":false}`, want: []string{`field "symptoms[0]": symptom "Fever" must start with a lower-case letter`}},
		{name: "given a symptom of two words, when parsed, then underscores are asked for",
			line: `{"command":"report_symptoms","at":"2020-03-01T00:00:00Z","person_id":"$P1","symptoms":["short breath"],"source":"self"}`, want: []string{`field "symptoms[0]": symptom "short breath" must be a lower-case word`}},
		{name: "given a symptom twice, when parsed, then the repeat is an error",
			line: `{"command":"report_symptoms","at":"2020-03-01T00:00:00Z","person_id":"$P1","symptoms":["cough","cough"],"source":"self"}`, want: []string{`field "symptoms[1]" repeats "cough"`}},
		{name: "given no symptoms, when symptoms are reported, then at least one is asked for",
			line: `{"command":"report_symptoms","at":"2020-03-01T00:00:00Z","person_id":"$P1","symptoms":[],"source":"self"}`, want: []string{`field "symptoms" must list at least one symptom`}},
		{name: "given a symptom that is a number, when parsed, then a string is asked for",
			line: `{"command":"report_symptoms","at":"2020-03-01T00:00:00Z","person_id":"$P1","symptoms":[38],"source":"self"}`, want: []string{`field "symptoms[0]" must be a string, got 38`}},

		// Dates.
		{name: "given a usable_from without leading zeros, when parsed, then YYYY-MM-DD is asked for",
			line: `{"command":"apply_dependent","at":"2020-03-01T09:10:00+08:00","guardian_id":"$P1","dependent_id":"$D1","document":{"type":"passport","number":"E1","country":"CN"},"name":"B","nationality":"CN","usable_from":"2020-3-2"}`, want: []string{`field "usable_from" must be a date written YYYY-MM-DD`, `got "2020-3-2"`}},
		{name: "given a usable_from of February 30th, when parsed, then it is not a date",
			line: `{"command":"apply_dependent","at":"2020-03-01T09:10:00+08:00","guardian_id":"$P1","dependent_id":"$D1","document":{"type":"passport","number":"E1","country":"CN"},"name":"B","nationality":"CN","usable_from":"2020-02-30"}`, want: []string{`field "usable_from" must be a date`}},
		{name: "given a usable_from as a time, when parsed, then a date is asked for",
			line: `{"command":"apply_dependent","at":"2020-03-01T09:10:00+08:00","guardian_id":"$P1","dependent_id":"$D1","document":{"type":"passport","number":"E1","country":"CN"},"name":"B","nationality":"CN","usable_from":"2020-03-02T00:00:00+08:00"}`, want: []string{`field "usable_from" must be a date written YYYY-MM-DD`}},
		{name: "given a usable_from on the application's day, when parsed, then the day after is the earliest",
			line: `{"command":"apply_dependent","at":"2020-03-01T23:59:59+08:00","guardian_id":"$P1","dependent_id":"$D1","document":{"type":"passport","number":"E1","country":"CN"},"name":"B","nationality":"CN","usable_from":"2020-03-01"}`, want: []string{`field "usable_from" must be 2020-03-02 (the day after the application's local day) or later, got 2020-03-01`}},
		{name: "given an application at 00:30 local time that is the previous day in UTC, when usable_from is the local day, then the local day decides",
			line: `{"command":"apply_dependent","at":"2020-03-01T16:30:00Z","guardian_id":"$P1","dependent_id":"$D1","document":{"type":"passport","number":"E1","country":"CN"},"name":"B","nationality":"CN","usable_from":"2020-03-02"}`, want: []string{`must be 2020-03-03 (the day after`}},
		{name: "given a key area from yesterday as a word, when parsed, then a date is asked for",
			line: `{"command":"designate_key_area","at":"2020-03-01T00:00:00Z","region":"Hubei","from":"yesterday"}`, want: []string{`field "from" must be a date written YYYY-MM-DD`}},
		{name: "given an arrival after the form's local day, when parsed, then it has not happened",
			line: `{"command":"submit_health_form","at":"2020-03-02T07:30:00+08:00","person_id":"$P1","travel":[{"region":"Hubei","arrived_on":"2020-03-03"}],"symptoms":[],"contact_with_case":false}`, want: []string{`field "travel[0].arrived_on" is 2020-03-03, after the form's local day 2020-03-02`}},
		{name: "given a bad arrival date, when parsed, then its index is named",
			line: `{"command":"submit_health_form","at":"2020-03-02T07:30:00+08:00","person_id":"$P1","travel":[{"region":"Hubei","arrived_on":"2020-02-25"},{"region":"Italy","arrived_on":"25/02/2020"}],"symptoms":[],"contact_with_case":false}`, want: []string{`field "travel[1].arrived_on" must be a date`}},
		{name: "given an onset after the report's local day, when parsed, then it is rejected",
			line: `{"command":"report_symptoms","at":"2020-03-02T10:00:00+08:00","person_id":"$P1","symptoms":["fever"],"onset":"2020-03-03","source":"self"}`, want: []string{`field "onset" is 2020-03-03, after the report's local day 2020-03-02`}},

		// Regions.
		{name: "given a blank region, when a key area is designated, then it must not be empty",
			line: `{"command":"designate_key_area","at":"2020-03-01T00:00:00Z","region":"  ","from":"2020-03-01"}`, want: []string{`field "region": region must not be empty`}},
		{name: "given a blank travel region, when a form is parsed, then it must not be empty",
			line: `{"command":"submit_health_form","at":"2020-03-02T07:30:00+08:00","person_id":"$P1","travel":[{"region":"","arrived_on":"2020-02-25"}],"symptoms":[],"contact_with_case":false}`, want: []string{`field "travel[0].region": region must not be empty`}},

		// Checkpoints.
		{name: "given admits as an empty list, when a checkpoint is registered, then it would admit nobody",
			line: `{"command":"register_checkpoint","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","name":"Gate","kind":"park","district":"Xuhui","admits":[]}`, want: []string{`field "admits" must list at least one colour`}},
		{name: "given admits with blue, when a checkpoint is registered, then the colours are listed",
			line: `{"command":"register_checkpoint","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","name":"Gate","kind":"park","district":"Xuhui","admits":["green","blue"]}`, want: []string{`field "admits[1]": colour "blue" is not one of green, yellow, red`}},
		{name: "given admits with green twice, when a checkpoint is registered, then the repeat is an error",
			line: `{"command":"register_checkpoint","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","name":"Gate","kind":"park","district":"Xuhui","admits":["green","green"]}`, want: []string{`field "admits[1]" repeats "green"`}},
		{name: "given an empty issuer, when a checkpoint is registered, then it must not be empty",
			line: `{"command":"register_checkpoint","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","name":"Gate","kind":"park","district":"Xuhui","recognises":[""]}`, want: []string{`field "recognises[0]" must not be empty`}},

		// Scans.
		{name: "given a scan without a subject, when parsed, then one of the three is asked for",
			line: `{"command":"record_scan","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","method":"qr"}`, want: []string{`give exactly one of "person_id", "code" or "visitor"`}},
		{name: "given a scan of a person and a code, when parsed, then only one subject is allowed",
			line: `{"command":"record_scan","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","person_id":"$P1","code":"RL1:ABC","method":"qr"}`, want: []string{`not "person_id", "code"`}},
		{name: "given a scan of all three subjects, when parsed, then only one subject is allowed",
			line: `{"command":"record_scan","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","person_id":"$P1","code":"RL1:ABC","visitor":{"document":{"type":"passport","number":"E1","country":"CN"}},"method":"manual"}`, want: []string{`not "person_id", "code", "visitor"`}},
		{name: "given a scan with an empty code, when parsed, then the code must not be empty",
			line: `{"command":"record_scan","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","code":"","method":"qr"}`, want: []string{`field "code" must not be empty`}},
		{name: "given a visitor without a document, when parsed, then the document is required",
			line: `{"command":"record_scan","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","visitor":{},"method":"manual"}`, want: []string{`field "visitor.document" is required`}},

		// Contacts.
		{name: "given a sensor contact without end, when parsed, then the record's timestamp is asked for",
			line: `{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"sensor","start":"2020-03-01T08:16:20+08:00"}`, want: []string{`field "end" is required for a sensor contact`}},
		{name: "given a sensor contact whose start is not end minus 20 s, when parsed, then start contradicts the record",
			line: `{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"sensor","start":"2020-03-01T08:10:00+08:00","end":"2020-03-01T08:16:40+08:00"}`, want: []string{`field "start" must be 2020-03-01T00:16:20Z ("end" minus 20s) for a sensor record`}},
		{name: "given an interview contact without start, when parsed, then start is required",
			line: `{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"interview","end":"2020-03-01T08:16:40+08:00"}`, want: []string{`field "start" is required`}},
		{name: "given an interview contact that ends before it starts, when parsed, then end must not precede start",
			line: `{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"interview","start":"2020-03-01T08:00:00+08:00","end":"2020-03-01T07:59:59+08:00"}`, want: []string{`field "end" must not precede "start"`}},
		{name: "given a contact that ends in the future, when parsed, then it has not happened",
			line: `{"command":"report_contact","at":"2020-03-10T12:00:00+08:00","person_id":"$P1","other_id":"$P2","source":"interview","start":"2020-03-10T11:00:00+08:00","end":"2020-03-10T14:00:00+08:00"}`, want: []string{`field "end" is 2h0m0s in the future`}},
		{name: "given a contact with an unknown source and a bad start, when parsed, then both are named",
			line: `{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"tv","start":"noon"}`, want: []string{`field "source"`, `field "start" must be an RFC 3339 time`}},

		// Overrides.
		{name: "given an override until the moment it starts, when parsed, then until must be after at",
			line: `{"command":"override_colour","at":"2020-03-04T09:00:00+08:00","person_id":"$P1","colour":"green","reason":"x","until":"2020-03-04T09:00:00+08:00"}`, want: []string{`field "until" must be after "at"`}},
		{name: "given an override that ends before it starts, when parsed, then until must be after at",
			line: `{"command":"override_colour","at":"2020-03-04T09:00:00+08:00","person_id":"$P1","colour":"red","reason":"x","until":"2020-03-03T09:00:00+08:00"}`, want: []string{`field "until" must be after "at"`}},

		// Policies.
		{name: "given version 1, when a policy is published, then version 1 is the built-in one",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":1,"params":{},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "version" must be 2 or more: version 1 is the built-in default policy`}},
		{name: "given a negative quarantine, when a policy is published, then durations must be positive",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":{"quarantine":"-1h"},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "params.quarantine" must be a positive duration, got -1h`}},
		{name: "given a zero merge gap, when a policy is published, then durations must be positive",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":{"merge_gap":"0s"},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "params.merge_gap" must be a positive duration`}},
		{name: "given a quarantine of 14d, when a policy is published, then Go duration syntax is asked for",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":{"quarantine":"14d"},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "params.quarantine" must be a Go duration like "336h"`, `got "14d"`}},
		{name: "given a duration as a number, when a policy is published, then a duration string is asked for",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":{"observation":336},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "params.observation" must be a string (a Go duration`, "got 336"}},
		{name: "given a window for an unknown kind, when a policy is published, then the kinds are listed",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":{"contact_window_by_kind":{"airport":"10m"}},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`unknown field "params.contact_window_by_kind.airport"`, `"subway"`}},
		{name: "given a zero window for a kind, when a policy is published, then it must be positive",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":{"contact_window_by_kind":{"bus":"0s"}},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "params.contact_window_by_kind.bus" must be a positive duration`}},
		{name: "given no triggering symptoms, when a policy is published, then at least one is asked for",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":{"triggering_symptoms":[]},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "params.triggering_symptoms" must name at least one symptom`}},
		{name: "given a fever threshold of 35, when a policy is published, then a sane threshold is asked for",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":{"fever_celsius":35},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "params.fever_celsius" must be between 36 and 42 °C, got 35`}},
		{name: "given a quarantine of two years, when a policy is published, then it is too long",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":{"quarantine":"17520h"},"effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "params.quarantine" must be at most 366 days`}},
		{name: "given params as a string, when a policy is published, then an object is asked for",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":"default","effective_from":"2020-03-02T00:00:00Z"}`, want: []string{`field "params" must be an object`}},
		{name: "given no effective_from, when a policy is published, then it is required",
			line: `{"command":"publish_policy","at":"2020-03-01T00:00:00Z","version":2,"params":{}}`, want: []string{`field "effective_from" is required`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions(t)
			if tc.opts != nil {
				tc.opts(&opts)
			}
			cmd, err := domain.ParseCommand([]byte(expand(tc.line)), opts)
			if err == nil {
				t.Fatalf("accepted: %#v", cmd)
			}
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.Invalid {
				t.Fatalf("error %v (%T) is not an Invalid *domain.Error", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(de.Message, expand(w)) {
					t.Errorf("message %q\n lacks %q", de.Message, expand(w))
				}
			}
			if cmd.Body != nil {
				t.Errorf("a rejected line returned a body: %#v", cmd.Body)
			}
		})
	}
}

// TestParseCommandBoundaries covers the edges where a value is still
// accepted.
func TestParseCommandBoundaries(t *testing.T) {
	opts := testOptions(t)
	t.Run("given an at exactly now plus the skew, when parsed, then it is accepted", func(t *testing.T) {
		mustParse(t, `{"command":"record_diagnosis","at":"2020-03-10T12:05:00+08:00","person_id":"$P1","result":"confirmed"}`, opts)
	})
	t.Run("given a usable_from of the day after at 23:59:59 local, when parsed, then it is accepted", func(t *testing.T) {
		mustParse(t, `{"command":"apply_dependent","at":"2020-03-01T23:59:59+08:00","guardian_id":"$P1","dependent_id":"$D1","document":{"type":"passport","number":"E1","country":"CN"},"name":"B","nationality":"CN","usable_from":"2020-03-02"}`, opts)
	})
	t.Run("given an interview contact that ends when it starts, when parsed, then it is accepted", func(t *testing.T) {
		cmd := mustParse(t, `{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"interview","start":"2020-03-01T08:00:00+08:00","end":"2020-03-01T08:00:00+08:00"}`, opts)
		c := cmd.Body.(domain.ReportContact)
		if !c.Start.Equal(c.End) {
			t.Errorf("start %v end %v", c.Start, c.End)
		}
	})
	t.Run("given an interview contact without end, when parsed, then end is zero", func(t *testing.T) {
		cmd := mustParse(t, `{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"interview","start":"2020-03-01T08:00:00+08:00"}`, opts)
		if c := cmd.Body.(domain.ReportContact); !c.End.IsZero() {
			t.Errorf("end %v", c.End)
		}
	})
	t.Run("given a sensor contact with start exactly end minus 20 s, when parsed, then it is accepted", func(t *testing.T) {
		cmd := mustParse(t, `{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"sensor","start":"2020-03-01T00:16:20Z","end":"2020-03-01T08:16:40+08:00"}`, opts)
		if c := cmd.Body.(domain.ReportContact); c.End.Sub(c.Start) != domain.SensorRecordSpan {
			t.Errorf("span %v", c.End.Sub(c.Start))
		}
	})
	t.Run("given an arrival on the form's local day, when parsed, then it is accepted", func(t *testing.T) {
		mustParse(t, `{"command":"submit_health_form","at":"2020-03-02T00:10:00+08:00","person_id":"$P1","travel":[{"region":"Hubei","arrived_on":"2020-03-02"}],"symptoms":[],"contact_with_case":false}`, opts)
	})
	t.Run("given optional fields as null, when parsed, then they are not given", func(t *testing.T) {
		cmd := mustParse(t, `{"command":"register_person","id":null,"at":"2020-03-01T00:00:00Z","recorded_at":null,"person_id":"$P1","document":{"type":"other","number":"X","country":"Laos"},"name":"A","nationality":"LA","phone":null}`, opts)
		if cmd.ID != "" || cmd.Body.(domain.RegisterPerson).Phone != "" {
			t.Errorf("got %#v", cmd)
		}
	})
	t.Run("given padded text, when parsed, then it is trimmed", func(t *testing.T) {
		cmd := mustParse(t, `{"command":"designate_key_area","at":"2020-03-01T00:00:00Z","region":"  South Korea ","from":"2020-03-01"}`, opts)
		if r := cmd.Body.(domain.DesignateKeyArea).Region; r.String() != "South Korea" || r.Key() != "south korea" {
			t.Errorf("region %q key %q", r, r.Key())
		}
	})
	t.Run("given a recorded_at, when it is not allowed, then it is ignored", func(t *testing.T) {
		cmd := mustParse(t, `{"command":"record_diagnosis","at":"2020-03-01T00:00:00Z","recorded_at":"2020-03-01T00:00:01Z","person_id":"$P1","result":"confirmed"}`, opts)
		if !cmd.RecordedAt.IsZero() {
			t.Errorf("recorded_at %v", cmd.RecordedAt)
		}
	})
	t.Run("given a recorded_at, when it is allowed, then it is taken", func(t *testing.T) {
		allow := opts
		allow.AllowRecordedAt = true
		cmd := mustParse(t, `{"command":"record_diagnosis","at":"2020-03-01T00:00:00Z","recorded_at":"2020-03-01T08:00:01+08:00","person_id":"$P1","result":"confirmed"}`, allow)
		if !cmd.RecordedAt.Equal(at("2020-03-01T00:00:01Z")) {
			t.Errorf("recorded_at %v", cmd.RecordedAt)
		}
	})
	t.Run("given a checkpoint without admits, when parsed, then it admits green only", func(t *testing.T) {
		cmd := mustParse(t, `{"command":"register_checkpoint","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","name":"Gate","kind":"housing_compound","district":"Xuhui"}`, opts)
		c := cmd.Body.(domain.RegisterCheckpoint)
		if c.Admits != nil || !reflect.DeepEqual(c.AdmittedColours(), []domain.Colour{domain.Green}) {
			t.Errorf("admits %v, admitted %v", c.Admits, c.AdmittedColours())
		}
	})
	t.Run("given a scan of a visitor by manual entry, when parsed, then the visitor's document is kept", func(t *testing.T) {
		cmd := mustParse(t, `{"command":"record_scan","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","visitor":{"document":{"type":"resident_id","number":" 310101 ","country":"CN"}},"method":"manual","temperature_celsius":37.3}`, opts)
		s := cmd.Body.(domain.RecordScan)
		if s.Visitor == nil || s.Visitor.Document.Number != "310101" || !s.PersonID.IsZero() || s.Code != "" {
			t.Errorf("scan %#v", s)
		}
	})
	t.Run("given a scan by code, when parsed, then the code is kept", func(t *testing.T) {
		cmd := mustParse(t, `{"command":"record_scan","at":"2020-03-01T00:00:00Z","checkpoint_id":"$C1","code":"HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEMWK4MI6UOS03CR83KLBJ","method":"imported"}`, opts)
		if s := cmd.Body.(domain.RecordScan); s.Code == "" || s.Visitor != nil {
			t.Errorf("scan %#v", s)
		}
	})
}

func TestParseCommandRejectsOptionsThatCannotWork(t *testing.T) {
	line := []byte(expand(validLines[1]))
	_, err := domain.ParseCommand(line, domain.ParseOptions{})
	if domain.ErrorCode(err) != domain.Internal || !strings.Contains(domain.ErrorMessage(err), "Location is required") {
		t.Errorf("no location: %v", err)
	}
	_, err = domain.ParseCommand(line, domain.ParseOptions{Location: time.UTC, MaxClockSkew: -time.Second})
	if domain.ErrorCode(err) != domain.Internal || !strings.Contains(domain.ErrorMessage(err), "MaxClockSkew") {
		t.Errorf("negative skew: %v", err)
	}
	if _, err := domain.ParseCommand(line, domain.ParseOptions{Location: time.UTC}); err != nil {
		t.Errorf("defaults for Now and MaxClockSkew: %v", err)
	}
}

func TestParseCommandRejectsAnOverlongLine(t *testing.T) {
	line := []byte(`{"command":"retract","at":"2020-03-01T00:00:00Z","event_id":"` + event1 + `","reason":"` + strings.Repeat("a", domain.MaxLineBytes) + `"}`)
	_, err := domain.ParseCommand(line, testOptions(t))
	if domain.ErrorCode(err) != domain.Invalid || !strings.Contains(domain.ErrorMessage(err), "at most 1048576 are accepted") {
		t.Errorf("got %v", err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	opts := testOptions(t)
	opts.AllowRecordedAt = true
	key := func(line string) string {
		t.Helper()
		k, err := domain.IdempotencyKey(mustParse(t, line, opts))
		if err != nil {
			t.Fatalf("key of %s: %v", line, err)
		}
		return k
	}
	base := key(`{"command":"record_scan","at":"2020-03-01T08:15:00+08:00","checkpoint_id":"$C1","person_id":"$P1","method":"qr","temperature_celsius":36.5}`)
	if !strings.HasPrefix(base, "sha256:") || len(base) != len("sha256:")+64 {
		t.Fatalf("content key %q", base)
	}
	same := map[string]string{
		"given other white space and key order, when keyed, then the key is the same":    ` { "method" : "qr", "temperature_celsius": 36.50, "person_id":"$P1", "checkpoint_id":"$C1", "at":"2020-03-01T08:15:00+08:00", "command":"record_scan" } `,
		"given the same instant at another offset, when keyed, then the key is the same": `{"command":"record_scan","at":"2020-03-01T00:15:00Z","checkpoint_id":"$C1","person_id":"$P1","method":"qr","temperature_celsius":36.5}`,
		"given upper-case ids, when keyed, then the key is the same":                     `{"command":"record_scan","at":"2020-03-01T00:15:00Z","checkpoint_id":"` + strings.ToUpper(checkpoint) + `","person_id":"` + strings.ToUpper(person1) + `","method":"qr","temperature_celsius":36.5}`,
		"given a recorded_at, when keyed, then the key is the same":                      `{"command":"record_scan","at":"2020-03-01T00:15:00Z","recorded_at":"2020-03-01T00:16:00Z","checkpoint_id":"$C1","person_id":"$P1","method":"qr","temperature_celsius":36.5}`,
	}
	for name, line := range same {
		t.Run(name, func(t *testing.T) {
			if got := key(line); got != base {
				t.Errorf("key %s, want %s", got, base)
			}
		})
	}
	differ := map[string]string{
		"given another temperature, when keyed, then the key differs": `{"command":"record_scan","at":"2020-03-01T08:15:00+08:00","checkpoint_id":"$C1","person_id":"$P1","method":"qr","temperature_celsius":36.6}`,
		"given another instant, when keyed, then the key differs":     `{"command":"record_scan","at":"2020-03-01T08:15:01+08:00","checkpoint_id":"$C1","person_id":"$P1","method":"qr","temperature_celsius":36.5}`,
		"given another person, when keyed, then the key differs":      `{"command":"record_scan","at":"2020-03-01T08:15:00+08:00","checkpoint_id":"$C1","person_id":"$P2","method":"qr","temperature_celsius":36.5}`,
	}
	for name, line := range differ {
		t.Run(name, func(t *testing.T) {
			if got := key(line); got == base {
				t.Errorf("key %s is the base key", got)
			}
		})
	}
	t.Run("given an id, when keyed, then the id is the key", func(t *testing.T) {
		if got := key(`{"command":"record_diagnosis","id":"clinic-7/2020-03-01/17","at":"2020-03-01T00:00:00Z","person_id":"$P1","result":"confirmed"}`); got != "clinic-7/2020-03-01/17" {
			t.Errorf("key %q", got)
		}
	})
	t.Run("given a sensor contact with and without its implied start, when keyed, then the key is the same", func(t *testing.T) {
		a := key(`{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"sensor","end":"2020-03-01T08:16:40+08:00"}`)
		b := key(`{"command":"report_contact","at":"2020-03-01T08:20:00+08:00","person_id":"$P1","other_id":"$P2","source":"sensor","start":"2020-03-01T08:16:20+08:00","end":"2020-03-01T08:16:40+08:00"}`)
		if a != b {
			t.Errorf("%s != %s", a, b)
		}
	})
	t.Run("given a partial policy and the same policy in full, when keyed, then the key is the same", func(t *testing.T) {
		a := key(`{"command":"publish_policy","at":"2020-03-06T00:00:00+08:00","version":2,"params":{"contact_window":"15m"},"effective_from":"2020-03-07T00:00:00+08:00"}`)
		b := key(`{"command":"publish_policy","at":"2020-03-06T00:00:00+08:00","version":2,"params":{"quarantine":"336h","observation":"336h","contact_window":"15m","contact_window_by_kind":{},"infectious_lead":"48h","triggering_symptoms":["fever","cough","shortness_of_breath"],"fever_celsius":37.3,"contact_min_duration":"15m","merge_gap":"20s"},"effective_from":"2020-03-07T00:00:00+08:00"}`)
		if a != b {
			t.Errorf("%s != %s", a, b)
		}
	})
	t.Run("given a hand-built command with an unset enum, when keyed, then it is invalid", func(t *testing.T) {
		_, err := domain.IdempotencyKey(domain.Command{At: testNow, Body: domain.RecordDiagnosis{PersonID: pid(person1)}})
		if domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("got %v", err)
		}
	})
}

// TestMarshalJSONIsSortedKeysOfTheBodyAndEnvelope: the command file's
// canonical form (which IdempotencyKey hashes, so it must never change) is
// the body's JSON and the envelope's fields as one object with sorted keys,
// exactly as encoding/json writes a map of them.
func TestMarshalJSONIsSortedKeysOfTheBodyAndEnvelope(t *testing.T) {
	opts := testOptions(t)
	opts.AllowRecordedAt = true
	lines := append([]string{
		`{"id":"a<b>&c","command":"record_scan","at":"2020-03-01T08:15:00+08:00","recorded_at":"2020-03-01T08:15:01+08:00","checkpoint_id":"$C1","visitor":{"document":{"type":"other","number":"X1 \"q\" <&>","country":"Laos"}},"method":"manual"}`,
		`{"command":"register_person","at":"2020-03-01T08:15:00+08:00","person_id":"$P1","document":{"type":"passport","number":"E1\\u00e9","country":"FR"},"name":"Zoë {[,]} \\\\ \"","nationality":"FR"}`,
	}, validLines...)
	for _, line := range lines {
		cmd := mustParse(t, line, opts)
		got, err := json.Marshal(cmd)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(cmd.Body)
		fields := map[string]json.RawMessage{}
		if err := json.Unmarshal(body, &fields); err != nil {
			t.Fatal(err)
		}
		fields["command"], _ = json.Marshal(cmd.Name())
		fields["at"], _ = json.Marshal(cmd.At)
		if cmd.ID != "" {
			fields["id"], _ = json.Marshal(cmd.ID)
		}
		if !cmd.RecordedAt.IsZero() {
			fields["recorded_at"], _ = json.Marshal(cmd.RecordedAt)
		}
		want, _ := json.Marshal(fields)
		if string(got) != string(want) {
			t.Errorf("%s:\n got  %s\n want %s", line, got, want)
		}
	}
}
