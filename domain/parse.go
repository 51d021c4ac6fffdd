package domain

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// DefaultMaxClockSkew is how far in the future a client's `at` may lie before
// it is rejected, when ParseOptions does not say: clients' clocks drift, but a
// fact cannot have happened after the ledger learns of it.
const DefaultMaxClockSkew = 5 * time.Minute

// MaxLineBytes is the longest line ParseCommand and ParseJSONL accept. The
// largest legitimate line, a publish_policy with every override, is a few
// kilobytes.
const MaxLineBytes = 1 << 20

// ParseOptions are what ParseCommand needs besides the line.
type ParseOptions struct {
	// Now is the ledger's clock; nil means time.Now.
	Now func() time.Time
	// MaxClockSkew is how far after Now an `at` (or a contact's start and
	// end) may lie; 0 means DefaultMaxClockSkew. Negative is an error.
	MaxClockSkew time.Duration
	// Location is the zone of calendar dates (DESIGN §2: Asia/Shanghai by
	// default, configurable). Required: the local day of `at` decides
	// whether a usable_from, an arrival date or an onset is plausible.
	Location *time.Location
	// AllowRecordedAt takes each line's recorded_at (import
	// --preserve-recorded-at). Without it a line's recorded_at is still
	// checked to be a time, but not used.
	AllowRecordedAt bool
}

// setDefaults fills what was left out.
func (o *ParseOptions) setDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxClockSkew == 0 {
		o.MaxClockSkew = DefaultMaxClockSkew
	}
}

// Validate reports options that cannot work, as an Internal error: they are a
// fault of the caller's wiring, not of the line being read.
func (o ParseOptions) Validate() error {
	var problems []string
	if o.Location == nil {
		problems = append(problems, "Location is required (the zone of calendar dates)")
	}
	if o.MaxClockSkew < 0 {
		problems = append(problems, fmt.Sprintf("MaxClockSkew must not be negative, got %s", o.MaxClockSkew))
	}
	if len(problems) > 0 {
		return Errorf(Internal, "parse options: %s", strings.Join(problems, "; "))
	}
	return nil
}

// envelopeFields returns the fields every line may have besides its
// command's.
func envelopeFields() []string { return []string{"command", "id", "at", "recorded_at"} }

// ParseCommand reads one line of the command file (DESIGN §5.1), or one API
// request body, into a Command, applying every rule that needs only the line,
// the clock and the zone.
//
// The JSON is read strictly: unknown and repeated fields (at any depth),
// trailing data, wrong types, and values outside their enum or form are
// rejected. A field given as null counts as not given. Text fields are
// trimmed; times are kept in UTC.
//
// Every problem with the line is an Invalid *Error whose message names the
// command and each offending field ("record_scan: field
// \"temperature_celsius\" must be a number, got \"hot\""); several problems
// are listed together. Options that fail Validate are an Internal error.
func ParseCommand(line []byte, opts ParseOptions) (Command, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return Command{}, err
	}
	if len(line) > MaxLineBytes {
		return Command{}, Errorf(Invalid, "the line is %d bytes long; at most %d are accepted", len(line), MaxLineBytes)
	}
	d := &decoder{}
	raw, ok := d.document(line, "the line")
	if !ok {
		return Command{}, d.err()
	}
	if kindOf(raw) != '{' {
		return Command{}, Errorf(Invalid, "the line must be a JSON object, got %s", describe(raw))
	}
	o, ok := d.members("", raw, "the line")
	if !ok {
		return Command{}, d.err()
	}
	name, ok := commandName(d, o.vals)
	if !ok {
		return Command{}, d.err()
	}
	d.prefix = name
	o.check(name, append(bodyFields(name), envelopeFields()...))
	p := &parser{d: d, o: o, opts: opts, now: opts.Now()}
	cmd := p.envelope()
	cmd.Body = p.body(name, cmd.At)
	if err := d.err(); err != nil {
		return Command{}, err
	}
	return cmd, nil
}

// commandName reads the "command" field before anything else, since it says
// which fields the line may have.
func commandName(d *decoder, fields map[string]json.RawMessage) (string, bool) {
	v, ok := fields["command"]
	if !ok || kindOf(v) == 'n' {
		d.add(fmt.Sprintf("field \"command\" is required; it names the command, one of %s", strings.Join(CommandNames(), ", ")))
		return "", false
	}
	name, ok := d.stringValue("command", v, "")
	if !ok {
		return "", false
	}
	if bodyFields(name) == nil {
		d.add(fieldf("command", "must be one of %s, got %s", strings.Join(CommandNames(), ", "), quoteShort(name)))
		return "", false
	}
	return name, true
}

// bodyFields lists the fields of each command, nil for an unknown name.
func bodyFields(name string) []string {
	switch name {
	case CmdRegisterPerson:
		return []string{"person_id", "document", "name", "nationality", "phone"}
	case CmdVerifyIdentity:
		return []string{"person_id", "method"}
	case CmdApplyDependent:
		return []string{"guardian_id", "dependent_id", "document", "name", "nationality", "usable_from"}
	case CmdEndDependent:
		return []string{"guardian_id", "dependent_id"}
	case CmdSubmitHealthForm:
		return []string{"person_id", "travel", "symptoms", "temperature_celsius", "contact_with_case"}
	case CmdReportSymptoms:
		return []string{"person_id", "symptoms", "onset", "source"}
	case CmdRecordDiagnosis:
		return []string{"person_id", "result"}
	case CmdDesignateKeyArea, CmdLiftKeyArea:
		return []string{"region", "from"}
	case CmdRegisterCheckpoint:
		return []string{"checkpoint_id", "name", "kind", "district", "admits", "recognises"}
	case CmdRecordScan:
		return []string{"checkpoint_id", "person_id", "code", "visitor", "method", "temperature_celsius"}
	case CmdReportContact:
		return []string{"person_id", "other_id", "source", "start", "end"}
	case CmdOverrideColour:
		return []string{"person_id", "colour", "reason", "until"}
	case CmdPublishPolicy:
		return []string{"version", "params", "effective_from"}
	case CmdErasePerson:
		return []string{"person_id", "reason"}
	case CmdRetract:
		return []string{"event_id", "reason"}
	}
	return nil
}

// parser reads one line's fields into a Command.
type parser struct {
	d    *decoder
	o    *object
	opts ParseOptions
	now  time.Time
}

// notFuture reports t (a time in the world) if it lies beyond now plus the
// allowed clock skew.
func (p *parser) notFuture(field string, t time.Time) {
	if limit := p.now.Add(p.opts.MaxClockSkew); t.After(limit) {
		p.d.add(fieldf(field, "is %s in the future (more than the %s allowed for clock skew); check the sender's clock",
			t.Sub(p.now).Round(time.Second), p.opts.MaxClockSkew))
	}
}

func (p *parser) envelope() Command {
	var cmd Command
	if raw, ok := p.o.get("id", false); ok {
		if id, ok := p.d.stringValue("id", raw, ""); ok {
			switch {
			case id == "":
				p.d.add(fieldf("id", "must not be empty; leave it out to key the line by its content"))
			case len(id) > maxIDLen:
				p.d.add(fieldf("id", "must be at most %d bytes, got %d", maxIDLen, len(id)))
			default:
				cmd.ID = id
			}
		}
	}
	if at, ok := p.o.time("at", true); ok {
		cmd.At = at
		p.notFuture("at", at)
	}
	if rec, ok := p.o.time("recorded_at", false); ok && p.opts.AllowRecordedAt {
		switch {
		case rec.After(p.now):
			p.d.add(fieldf("recorded_at", "is in the future (%s after now); a preserved recording time must have passed",
				rec.Sub(p.now).Round(time.Second)))
		case !cmd.At.IsZero() && cmd.At.After(rec.Add(p.opts.MaxClockSkew)):
			p.d.add(fieldf("at", "is %s after recorded_at; a fact cannot occur after it was recorded",
				cmd.At.Sub(rec).Round(time.Second)))
		default:
			cmd.RecordedAt = rec
		}
	}
	return cmd
}

func (p *parser) body(name string, at time.Time) Body {
	switch name {
	case CmdRegisterPerson:
		return p.registerPerson()
	case CmdVerifyIdentity:
		return p.verifyIdentity()
	case CmdApplyDependent:
		return p.applyDependent(at)
	case CmdEndDependent:
		return p.endDependent()
	case CmdSubmitHealthForm:
		return p.submitHealthForm(at)
	case CmdReportSymptoms:
		return p.reportSymptoms(at)
	case CmdRecordDiagnosis:
		return p.recordDiagnosis()
	case CmdDesignateKeyArea:
		region, from := p.keyArea()
		return DesignateKeyArea{Region: region, From: from}
	case CmdLiftKeyArea:
		region, from := p.keyArea()
		return LiftKeyArea{Region: region, From: from}
	case CmdRegisterCheckpoint:
		return p.registerCheckpoint()
	case CmdRecordScan:
		return p.recordScan()
	case CmdReportContact:
		return p.reportContact()
	case CmdOverrideColour:
		return p.overrideColour(at)
	case CmdPublishPolicy:
		return p.publishPolicy()
	case CmdErasePerson:
		return p.erasePerson()
	case CmdRetract:
		return p.retract()
	}
	panic("domain: no parser for command " + name)
}

func (p *parser) personID(field string) PersonID {
	id, _ := parsedField(p.o, field, true, ParsePersonID)
	return id
}

// document reads a document object at o.field.
func (p *parser) document(o *object, field string) Document {
	var doc Document
	c, ok := o.child(field, true, `with "type", "number" and "country"`, "type", "number", "country")
	if !ok {
		return doc
	}
	doc.Type, _ = parsedField(c, "type", true, ParseDocumentType)
	doc.Number, _ = c.text("number", true, textRule{max: maxNumberLen})
	doc.Country, _ = c.text("country", true, textRule{max: maxCountryLen})
	return doc
}

// distinct reports a command that names one person in two roles.
func (p *parser) distinct(a, b PersonID, fieldA, fieldB string) {
	if !a.IsZero() && a == b {
		p.d.add(fmt.Sprintf("fields %q and %q must name two different persons", fieldA, fieldB))
	}
}

// temperature reads an optional body temperature. The range catches readings
// in Fahrenheit and broken sensors; it is wide enough for a cold forehead at
// an outdoor gate and for the highest fevers.
func (p *parser) temperature() *float64 {
	t, ok := p.o.number("temperature_celsius", false)
	if !ok {
		return nil
	}
	if t < minTemperature || t > maxTemperature {
		p.d.add(fieldf("temperature_celsius", "must be a body temperature in °C between %g and %g, got %g", minTemperature, maxTemperature, t))
		return nil
	}
	return &t
}

const (
	minTemperature = 25.0
	maxTemperature = 45.0
)

// localDay is the local date of the command's `at`, zero when at is unknown.
func (p *parser) localDay(at time.Time) Date {
	if at.IsZero() {
		return Date{}
	}
	return DateOf(at, p.opts.Location)
}

func (p *parser) symptomList(field string, atLeastOne bool) []Symptom {
	items, ok := p.o.array(field, true)
	if !ok {
		return []Symptom{}
	}
	if atLeastOne && len(items) == 0 {
		p.d.add(fieldf(field, `must list at least one symptom (like ["fever"])`))
	}
	return p.d.symptoms(field, items)
}

func (p *parser) registerPerson() RegisterPerson {
	var c RegisterPerson
	c.PersonID = p.personID("person_id")
	c.Document = p.document(p.o, "document")
	c.Name, _ = p.o.text("name", true, textRule{max: maxNameLen})
	c.Nationality, _ = p.o.text("nationality", true, textRule{max: maxCountryLen})
	if raw, ok := p.o.get("phone", false); ok {
		if s, ok := p.d.stringValue("phone", raw, ""); ok {
			phone, problem := cleanPhone(s)
			if problem != "" {
				p.d.add(fieldf("phone", "%s", problem))
			}
			c.Phone = phone
		}
	}
	return c
}

func (p *parser) verifyIdentity() VerifyIdentity {
	var c VerifyIdentity
	c.PersonID = p.personID("person_id")
	c.Method, _ = parsedField(p.o, "method", true, ParseVerificationMethod)
	return c
}

func (p *parser) applyDependent(at time.Time) ApplyDependent {
	var c ApplyDependent
	c.GuardianID = p.personID("guardian_id")
	c.DependentID = p.personID("dependent_id")
	p.distinct(c.GuardianID, c.DependentID, "guardian_id", "dependent_id")
	c.Document = p.document(p.o, "document")
	c.Name, _ = p.o.text("name", true, textRule{max: maxNameLen})
	c.Nationality, _ = p.o.text("nationality", true, textRule{max: maxCountryLen})
	var ok bool
	if c.UsableFrom, ok = p.o.date("usable_from", true); ok {
		// A dependent's code is usable from the day after the application
		// at the earliest (DESIGN §2), so that a code cannot be taken out
		// for someone who was never seen the day they were applied for.
		if day := p.localDay(at); !day.IsZero() && c.UsableFrom.Before(day.Next()) {
			p.d.add(fieldf("usable_from", "must be %s (the day after the application's local day) or later, got %s",
				day.Next(), c.UsableFrom))
		}
	}
	return c
}

func (p *parser) endDependent() EndDependent {
	var c EndDependent
	c.GuardianID = p.personID("guardian_id")
	c.DependentID = p.personID("dependent_id")
	p.distinct(c.GuardianID, c.DependentID, "guardian_id", "dependent_id")
	return c
}

func (p *parser) submitHealthForm(at time.Time) SubmitHealthForm {
	c := SubmitHealthForm{Travel: []Travel{}}
	c.PersonID = p.personID("person_id")
	day := p.localDay(at)
	if items, ok := p.o.array("travel", true); ok {
		for i, raw := range items {
			name := "travel[" + itoa(i) + "]"
			t, ok := p.d.object(name, raw, `with "region" and "arrived_on"`, "region", "arrived_on")
			if !ok {
				continue
			}
			var tr Travel
			tr.Region, _ = parsedField(t, "region", true, ParseRegion)
			var dated bool
			if tr.ArrivedOn, dated = t.date("arrived_on", true); dated && !day.IsZero() && tr.ArrivedOn.After(day) {
				p.d.add(fieldf(t.name("arrived_on"), "is %s, after the form's local day %s; declare arrivals that have happened", tr.ArrivedOn, day))
			}
			c.Travel = append(c.Travel, tr)
		}
	}
	c.Symptoms = p.symptomList("symptoms", false)
	c.TemperatureCelsius = p.temperature()
	c.ContactWithCase, _ = p.o.boolean("contact_with_case", true)
	return c
}

func (p *parser) reportSymptoms(at time.Time) ReportSymptoms {
	var c ReportSymptoms
	c.PersonID = p.personID("person_id")
	c.Symptoms = p.symptomList("symptoms", true)
	var ok bool
	if c.Onset, ok = p.o.date("onset", false); ok {
		if day := p.localDay(at); !day.IsZero() && c.Onset.After(day) {
			p.d.add(fieldf("onset", "is %s, after the report's local day %s; symptoms cannot begin after they are reported", c.Onset, day))
		}
	}
	c.Source, _ = parsedField(p.o, "source", true, ParseSymptomSource)
	return c
}

func (p *parser) recordDiagnosis() RecordDiagnosis {
	var c RecordDiagnosis
	c.PersonID = p.personID("person_id")
	c.Result, _ = parsedField(p.o, "result", true, ParseDiagnosisResult)
	return c
}

func (p *parser) keyArea() (Region, Date) {
	region, _ := parsedField(p.o, "region", true, ParseRegion)
	from, _ := p.o.date("from", true)
	return region, from
}

func (p *parser) registerCheckpoint() RegisterCheckpoint {
	var c RegisterCheckpoint
	c.CheckpointID, _ = parsedField(p.o, "checkpoint_id", true, ParseCheckpointID)
	c.Name, _ = p.o.text("name", true, textRule{max: maxNameLen})
	c.Kind, _ = parsedField(p.o, "kind", true, ParseCheckpointKind)
	c.District, _ = p.o.text("district", true, textRule{max: maxNameLen})
	if items, ok := p.o.array("admits", false); ok {
		// Given but empty would be a checkpoint that admits nobody, which
		// is a closed gate rather than a checkpoint (DESIGN §5.1).
		if len(items) == 0 {
			p.d.add(fieldf("admits", `must list at least one colour (like ["green"]), or be left out to admit green only`))
		}
		for i, raw := range items {
			name := "admits[" + itoa(i) + "]"
			colour, ok := parsedValue(p.d, name, raw, ParseColour)
			switch {
			case !ok:
			case slices.Contains(c.Admits, colour):
				p.d.add(fieldf(name, "repeats %q", colour.String()))
			default:
				c.Admits = append(c.Admits, colour)
			}
		}
	}
	if items, ok := p.o.array("recognises", false); ok {
		for i, raw := range items {
			name := "recognises[" + itoa(i) + "]"
			issuer, ok := p.d.textValue(name, raw, textRule{max: maxIssuerLen})
			switch {
			case !ok:
			case slices.Contains(c.Recognises, issuer):
				p.d.add(fieldf(name, "repeats %q", issuer))
			default:
				c.Recognises = append(c.Recognises, issuer)
			}
		}
	}
	return c
}

func (p *parser) recordScan() RecordScan {
	var c RecordScan
	c.CheckpointID, _ = parsedField(p.o, "checkpoint_id", true, ParseCheckpointID)
	var given []string
	for _, f := range []string{"person_id", "code", "visitor"} {
		if p.o.has(f) {
			given = append(given, f)
		}
	}
	switch len(given) {
	case 0:
		p.d.add(`the subject is missing: give exactly one of "person_id", "code" or "visitor"`)
	case 1:
		switch given[0] {
		case "person_id":
			c.PersonID = p.personID("person_id")
		case "code":
			c.Code, _ = p.o.text("code", true, textRule{max: maxCodeLen})
		case "visitor":
			if v, ok := p.o.child("visitor", true, `with "document"`, "document"); ok {
				c.Visitor = &Visitor{Document: p.document(v, "document")}
			}
		}
	default:
		p.d.add(fmt.Sprintf("give exactly one of \"person_id\", \"code\" or \"visitor\" as the subject, not %s", quoteList(given)))
	}
	c.Method, _ = parsedField(p.o, "method", true, ParseScanMethod)
	c.TemperatureCelsius = p.temperature()
	return c
}

func (p *parser) reportContact() ReportContact {
	var c ReportContact
	c.PersonID = p.personID("person_id")
	c.OtherID = p.personID("other_id")
	p.distinct(c.PersonID, c.OtherID, "person_id", "other_id")
	c.Source, _ = parsedField(p.o, "source", true, ParseContactSource)
	switch c.Source {
	case ContactSensor:
		// One sensor record covers the 20 s ending at its timestamp (DESIGN
		// §2): the timestamp is "end" and "start" follows from it. A start
		// that says anything else contradicts the record.
		end, hasEnd := p.o.time("end", false)
		if !hasEnd && !p.o.has("end") {
			p.d.add(fieldf("end", "is required for a sensor contact: it is the sensor record's timestamp"))
		}
		start, hasStart := p.o.time("start", false)
		if hasEnd {
			c.End, c.Start = end, end.Add(-SensorRecordSpan)
			if hasStart && !start.Equal(c.Start) {
				p.d.add(fieldf("start", "must be %s (\"end\" minus 20s) for a sensor record, or be left out; got %s",
					c.Start.Format(time.RFC3339), start.Format(time.RFC3339)))
			}
		}
	case ContactInterview:
		var ok bool
		c.Start, ok = p.o.time("start", true)
		end, hasEnd := p.o.time("end", false)
		if hasEnd {
			if ok && end.Before(c.Start) {
				p.d.add(fieldf("end", "must not precede \"start\" (%s), got %s", c.Start.Format(time.RFC3339), end.Format(time.RFC3339)))
			}
			c.End = end
		}
	default:
		// The source is unreadable, so which of start and end are required
		// is unknown; still check that what is given are times.
		p.o.time("start", false)
		p.o.time("end", false)
	}
	if !c.Start.IsZero() {
		p.notFuture("start", c.Start)
	}
	if !c.End.IsZero() {
		p.notFuture("end", c.End)
	}
	return c
}

func (p *parser) overrideColour(at time.Time) OverrideColour {
	var c OverrideColour
	c.PersonID = p.personID("person_id")
	c.Colour, _ = parsedField(p.o, "colour", true, ParseColour)
	c.Reason, _ = p.o.text("reason", true, textRule{max: maxReasonLen, multiline: true})
	var ok bool
	if c.Until, ok = p.o.time("until", true); ok && !at.IsZero() && !c.Until.After(at) {
		p.d.add(fieldf("until", "must be after \"at\" (%s), got %s; an override is in force over [at, until)",
			at.Format(time.RFC3339), c.Until.Format(time.RFC3339)))
	}
	return c
}

func (p *parser) publishPolicy() PublishPolicy {
	var c PublishPolicy
	if v, ok := p.o.integer("version", true); ok {
		switch {
		case v <= DefaultPolicyVersion:
			p.d.add(fieldf("version", "must be %d or more: version %d is the built-in default policy, got %d",
				DefaultPolicyVersion+1, DefaultPolicyVersion, v))
		case v > 1<<31-1:
			p.d.add(fieldf("version", "must be at most %d, got %d", 1<<31-1, v))
		default:
			c.Version = int(v)
		}
	}
	if raw, ok := p.o.get("params", true); ok {
		c.Params = p.d.policyParams(raw, "params")
	}
	c.EffectiveFrom, _ = p.o.time("effective_from", true)
	return c
}

func (p *parser) erasePerson() ErasePerson {
	var c ErasePerson
	c.PersonID = p.personID("person_id")
	c.Reason, _ = p.o.text("reason", true, textRule{max: maxReasonLen, multiline: true})
	return c
}

func (p *parser) retract() Retract {
	var c Retract
	c.EventID, _ = parsedField(p.o, "event_id", true, ParseEventID)
	c.Reason, _ = p.o.text("reason", true, textRule{max: maxReasonLen, multiline: true})
	return c
}

// ParseJSONL reads a command file from r and calls fn for each non-blank
// line, in order, with the line's number (from 1) and either the parsed
// command or the Invalid error that rejects the line. A rejected line does
// not stop the reading: the caller decides, and stops it by returning an
// error from fn, which ParseJSONL returns as is.
//
// Lines end in "\n" or "\r\n"; lines of white space are skipped; a UTF-8 byte
// order mark before the first line is ignored. A line longer than
// MaxLineBytes is rejected as a line, and reading goes on after it. An error
// from r is returned wrapped with the line number it interrupted; options
// that fail Validate are an Internal error, before anything is read.
func ParseJSONL(r io.Reader, opts ParseOptions, fn func(lineNo int, cmd Command, err error) error) error {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read line %d: %w", lineNo, err)
		}
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		switch {
		case tooLong:
			if ferr := fn(lineNo, Command{}, Errorf(Invalid, "the line is longer than %d bytes", MaxLineBytes)); ferr != nil {
				return ferr
			}
		case len(bytes.TrimSpace(line)) > 0:
			cmd, perr := ParseCommand(line, opts)
			if ferr := fn(lineNo, cmd, perr); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// readLine reads one line without its "\n" or "\r\n". A line over
// MaxLineBytes is consumed to its end but not kept (tooLong). err is io.EOF
// when the input ended with this line.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, rerr := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > MaxLineBytes+2 { // room for "\r\n"
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		switch {
		case rerr == nil:
			return trimEOL(line), tooLong, nil
		case errors.Is(rerr, bufio.ErrBufferFull):
			continue
		default:
			return trimEOL(line), tooLong, rerr
		}
	}
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}
