package simulate

import (
	"strconv"
	"time"

	"github.com/riskledger/riskledger/domain"
)

// hoursPerDay is the most hours a local day has (a day that ends daylight
// saving time).
const hoursPerDay = 25

// day is the day being built: its commands as records, which flush sorts by
// time and turns into commands.
type day struct {
	n       int
	start   time.Time // the day's first instant, in UTC
	length  int32     // seconds in the day
	weekday bool

	recs   []record
	sorted []record
	slots  []int32 // the counting sort's counters, one per second
	others []other
	// idblock and idends: the ids of a chunk of commands being emitted, and
	// where each ends.
	idblock []byte
	idends  []int32
	// athome lists the people who are infectious at home today.
	athome  []int32
	buckets []uint16 // infectious scans per checkpoint and hour
}

// record is one command of the day: scans and health forms, the bulk, are
// kept this small and become commands only when emitted; the other commands
// are built at once (others).
type record struct {
	off    int32 // seconds after the day's start
	person int32
	ref    int32 // the checkpoint of a scan; the index in others of another command
	what   uint8 // the command (cScan, ...)
	temp   uint8 // a temperature (see celsius)
	sym    uint8 // a health form's symptoms (see symptomSets)
	flags  uint8
}

const (
	flagInfectious = 1 << iota // a scan of an infectious person
	flagContact                // a health form declaring contact with a case
	flagTravel                 // a health form declaring a journey
	flagConfirmed              // a confirmed diagnosis
)

type other struct {
	id   string
	body domain.Body
}

// The commands the city sends, as indexes.
const (
	cRegisterCheckpoint = iota
	cDesignateKeyArea
	cLiftKeyArea
	cRegisterPerson
	cVerifyIdentity
	cApplyDependent
	cHealthForm
	cScan
	cReportSymptoms
	cRecordDiagnosis
	cReportContact
	numCmds
)

var cmdNames = [numCmds]string{
	cRegisterCheckpoint: domain.CmdRegisterCheckpoint,
	cDesignateKeyArea:   domain.CmdDesignateKeyArea,
	cLiftKeyArea:        domain.CmdLiftKeyArea,
	cRegisterPerson:     domain.CmdRegisterPerson,
	cVerifyIdentity:     domain.CmdVerifyIdentity,
	cApplyDependent:     domain.CmdApplyDependent,
	cHealthForm:         domain.CmdSubmitHealthForm,
	cScan:               domain.CmdRecordScan,
	cReportSymptoms:     domain.CmdReportSymptoms,
	cRecordDiagnosis:    domain.CmdRecordDiagnosis,
	cReportContact:      domain.CmdReportContact,
}

func (d *day) init(s *sim) {
	d.slots = make([]int32, hoursPerDay*3600+1)
	d.buckets = make([]uint16, len(s.cps)*hoursPerDay)
}

func hm(h, m int) int32 { return int32(h*3600 + m*60) }

// upto draws a number of seconds in [0, n).
func (s *sim) upto(n int32) int32 { return s.rng.Int32N(n) }

// between draws a number of seconds in [lo, hi).
func (s *sim) between(lo, hi int32) int32 { return lo + s.rng.Int32N(hi-lo) }

// chance draws true percent times in 100.
func (s *sim) chance(percent int) bool { return s.rng.IntN(100) < percent }

// id returns a command id, "sim<seed>:<kind>:<n>:...".
func (s *sim) id(kind string, nums ...int) string {
	s.idbuf = s.appendID(s.idbuf[:0], kind, nums...)
	return string(s.idbuf)
}

func (s *sim) appendID(b []byte, kind string, nums ...int) []byte {
	b = append(append(b, s.prefix...), kind...)
	for _, n := range nums {
		b = strconv.AppendInt(append(b, ':'), int64(n), 10)
	}
	return b
}

// add adds a record, kept within the day: a day that begins daylight saving
// time is an hour short.
func (s *sim) add(r record) {
	r.off = min(max(r.off, 0), s.length-1)
	s.recs = append(s.recs, r)
}

// other adds a command other than a scan or a health form.
func (s *sim) other(what uint8, off int32, id string, flags uint8, body domain.Body) {
	s.add(record{off: off, ref: int32(len(s.others)), what: what, flags: flags})
	s.others = append(s.others, other{id: id, body: body})
}

func (s *sim) beginDay(n int) {
	date := s.cfg.Start.AddDays(n)
	start := date.Start(s.cfg.Location)
	s.n, s.start = n, start.UTC()
	s.length = int32(date.Next().Start(s.cfg.Location).Sub(start) / time.Second)
	wd := time.Date(date.Year(), date.Month(), date.Day(), 12, 0, 0, 0, time.UTC).Weekday()
	s.weekday = wd != time.Saturday && wd != time.Sunday
	s.recs, s.others, s.athome = s.recs[:0], s.others[:0], s.athome[:0]
}

// plan builds day n: what the office learns first (checkpoints, key areas),
// then each person's illness, then each adult's day.
func (s *sim) plan(n int) {
	s.beginDay(n)
	if n == 0 {
		s.registerCheckpoints()
		s.designateKeyAreas()
	}
	if n == s.liftDay {
		s.other(cLiftKeyArea, hm(1, 0), s.id("lift_key_area", rSouthKorea), 0,
			domain.LiftKeyArea{Region: regions[rSouthKorea].region, From: s.cfg.Start.AddDays(n)})
	}
	for p := range int32(len(s.people)) {
		pr := &s.people[p]
		if pr.regDay > n {
			continue
		}
		if pr.regDay == n && pr.head == p {
			s.registerHousehold(p)
		}
		s.health(p)
	}
	for p := range int32(len(s.people)) {
		if pr := &s.people[p]; pr.adult() && pr.regDay <= n && !(pr.arrival && pr.regDay == n) {
			s.live(p)
		}
	}
}

func (s *sim) registerCheckpoints() {
	// In the first 50 minutes of the day, in order.
	every := 3000 / float64(len(s.cps))
	for i, cp := range s.cps {
		body := domain.RegisterCheckpoint{CheckpointID: cp.id, Kind: kinds[cp.kind].kind,
			Name:     kinds[cp.kind].label + " " + strconv.Itoa(i+1-int(s.kinds[cp.kind].first)),
			District: "district-" + pad(cp.district+1, 2)}
		if cp.kind == kHospital {
			body.Admits = []domain.Colour{domain.Green, domain.Yellow, domain.Red}
		}
		s.other(cRegisterCheckpoint, int32(float64(i)*every), s.id("register_checkpoint", i+1), 0, body)
	}
}

func (s *sim) designateKeyAreas() {
	s.other(cDesignateKeyArea, hm(1, 0), s.id("designate_key_area", rHubei), 0,
		domain.DesignateKeyArea{Region: regions[rHubei].region, From: s.cfg.Start.AddDays(hubeiFrom)})
	s.other(cDesignateKeyArea, hm(1, 0), s.id("designate_key_area", rSouthKorea), 0,
		domain.DesignateKeyArea{Region: regions[rSouthKorea].region, From: s.cfg.Start})
}

// registerHousehold registers the household of head on its first day: the
// adults (before dawn on day 0; on arrival for arriving households) and
// their identity checks, then the head's applications for the dependents.
// Arriving adults are scanned at their compound's gate and fill in a health
// form declaring the journey.
func (s *sim) registerHousehold(head int32) {
	n := s.n
	base := hm(4, 0) + s.upto(110*60)
	if n > 0 {
		base = hm(9, 0) + s.upto(8*3600)
	}
	h := &s.people[head]
	for i := range h.size {
		p := head + i
		pr := &s.people[p]
		num := int(p) + 1
		doc, nationality := s.document(pr, num)
		if !pr.adult() {
			s.other(cApplyDependent, base+120+30*i, s.id("apply_dependent", num), 0, domain.ApplyDependent{
				GuardianID: h.id, DependentID: pr.id, Document: doc, Name: "Resident " + strconv.Itoa(num),
				Nationality: nationality, UsableFrom: s.cfg.Start.AddDays(n + 1)})
			s.other(cVerifyIdentity, base+400+20*i, s.id("verify_identity", num), 0,
				domain.VerifyIdentity{PersonID: pr.id, Method: domain.VerifyProxy})
			continue
		}
		s.other(cRegisterPerson, base+20*i, s.id("register_person", num), 0, domain.RegisterPerson{
			PersonID: pr.id, Document: doc, Name: "Resident " + strconv.Itoa(num),
			Nationality: nationality, Phone: "+86 13" + pad(num, 9)})
		method := domain.VerifyFaceScan
		if pr.country != 0 {
			method = domain.VerifyDocumentCheck
		}
		s.other(cVerifyIdentity, base+300+20*i, s.id("verify_identity", num), 0,
			domain.VerifyIdentity{PersonID: pr.id, Method: method})
		if pr.arrival {
			fever, infectious := s.condition(pr)
			r := record{off: base + 1200 + 10*i, person: p, ref: pr.home, what: cScan, temp: s.temperature(fever)}
			if infectious {
				r.flags |= flagInfectious
			}
			s.add(r)
			s.healthForm(p, base+1800+20*i)
		}
	}
}

// document returns a person's identity document, a resident id or (for
// foreigners) a passport, with a number that shows it is synthetic, and
// their nationality.
func (s *sim) document(p *person, num int) (domain.Document, string) {
	country := countries[p.country]
	typ, letter := domain.DocumentResidentID, "R"
	if p.country != 0 {
		typ, letter = domain.DocumentPassport, "P"
	}
	return domain.Document{Type: typ, Country: country,
		Number: letter + strconv.FormatInt(s.cfg.Seed, 10) + "-" + pad(num, 8)}, country
}

// pad writes n with at least width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// condition returns whether a person shows a fever today, and is
// infectious.
func (s *sim) condition(p *person) (fever, infectious bool) {
	il := s.illnessOf(p)
	if il == nil {
		return false, false
	}
	return il.feverish(s.n), il.infectious(s.n)
}

// goesOut reports whether a person may leave home today.
func (s *sim) goesOut(p *person) bool {
	n := s.n
	if n < p.homeUntil || (n >= p.quarFrom && n < p.quarUntil) {
		return false
	}
	il := s.illnessOf(p)
	return il == nil || !(il.isolated(n) || il.hospitalised(n))
}

// live builds an adult's day: a commute or outings, and the morning's health
// form (not from hospital).
func (s *sim) live(p int32) {
	pr := &s.people[p]
	if il := s.illnessOf(pr); il != nil && il.hospitalised(s.n) {
		return
	}
	form := hm(7, 0) + s.upto(180*60)
	if s.goesOut(pr) {
		leave := int32(-1)
		if pr.office >= 0 && s.weekday {
			leave = s.commute(p)
		} else {
			leave = s.outings(p)
		}
		if leave >= 0 {
			form = leave - s.between(10*60, 40*60)
		}
	}
	s.healthForm(p, form)
}

// healthForm adds person p's health form: symptoms and, three times in ten, a
// temperature; a contact with a case while quarantined as one; a journey in
// the last 14 days.
func (s *sim) healthForm(p int32, off int32) {
	n := s.n
	pr := &s.people[p]
	r := record{off: off, person: p, what: cHealthForm}
	il := s.illnessOf(pr)
	ill := il != nil && il.formSymptoms(n)
	if ill {
		r.sym = il.sym
	}
	if s.rng.IntN(10) < 3 {
		r.temp = s.temperature(ill)
	}
	if n >= pr.quarFrom && n < pr.quarUntil {
		r.flags |= flagContact
	}
	if pr.travel >= 0 {
		if since := n - s.travels[pr.travel].day; since >= 0 && since < 14 {
			r.flags |= flagTravel
		}
	}
	s.add(r)
}

// scan adds a scan of person p at checkpoint cp, with a temperature as often
// as the checkpoint's kind measures one.
func (s *sim) scan(p, cp int32, off int32, fever, infectious bool) {
	r := record{off: off, person: p, ref: cp, what: cScan}
	if m := kinds[s.cps[cp].kind].measure; m > 0 && s.rng.Float64() < m {
		r.temp = s.temperature(fever)
	}
	if infectious {
		r.flags |= flagInfectious
	}
	s.add(r)
}

// commute builds a commuter's weekday and returns when they left home.
func (s *sim) commute(p int32) int32 {
	pr := &s.people[p]
	fever, inf := s.condition(pr)
	leave := hm(6, 50) + s.upto(100*60)
	s.scan(p, pr.home, leave, fever, inf)
	t := leave + s.between(4*60, 15*60)
	if pr.station[0] >= 0 {
		s.scan(p, pr.station[0], t, fever, inf)
	}
	s.scan(p, pr.office, t+s.between(20*60, 50*60), fever, inf)
	if s.chance(30) {
		if r := s.local(kRestaurant, s.cps[pr.office].district); r >= 0 {
			s.scan(p, r, hm(11, 45)+s.upto(90*60), fever, inf)
		}
	}
	back := hm(17, 15) + s.upto(105*60)
	if pr.station[1] >= 0 && s.chance(70) {
		s.scan(p, pr.station[1], back+s.between(3*60, 12*60), fever, inf)
	}
	if pr.fav[0] >= 0 && s.chance(30) {
		s.scan(p, pr.fav[0], back+s.between(40*60, 90*60), fever, inf)
	}
	return leave
}

// outings builds the day of an adult who does not commute today: a morning
// at a supermarket or a park (sometimes both), and an afternoon or evening
// at a restaurant, a supermarket or a park. It returns when they first left
// home, -1 if they did not go out in the morning.
func (s *sim) outings(p int32) int32 {
	morning, evening := 75, 60
	if !s.weekday {
		morning, evening = 65, 70
	}
	leave := int32(-1)
	if s.chance(morning) {
		leave = hm(8, 0) + s.upto(150*60)
		first, then := kSupermarket, kPark
		if s.chance(50) {
			first, then = kPark, kSupermarket
		}
		second := int32(-1)
		if s.chance(30) {
			second = s.place(p, then)
		}
		s.outing(p, leave, s.place(p, first), second)
	}
	if s.chance(evening) {
		kind := kPark
		switch x := s.rng.IntN(100); {
		case x < 40:
			kind = kRestaurant
		case x < 75:
			kind = kSupermarket
		}
		s.outing(p, hm(15, 0)+s.upto(210*60), s.place(p, kind), -1)
	}
	return leave
}

// place picks where person p goes for a kind of place: their favourite
// seven times in ten, else another in their district; -1 if the city has
// none.
func (s *sim) place(p int32, kind int) int32 {
	pr := &s.people[p]
	if s.chance(70) {
		switch kind {
		case kSupermarket:
			return pr.fav[0]
		case kPark:
			return pr.fav[1]
		case kRestaurant:
			return pr.fav[2]
		}
	}
	return s.local(kind, pr.district)
}

// outing scans adult p at the compound gate at leave, then at the places a
// and b (-1: none). Each of their dependents who may go out comes along six
// times in ten.
func (s *sim) outing(p int32, leave int32, a, b int32) {
	pr := &s.people[p]
	var group [5]int32
	var fever, inf [5]bool
	group[0] = p
	fever[0], inf[0] = s.condition(pr)
	size := 1
	for q := pr.head; q < pr.head+pr.size; q++ {
		qr := &s.people[q]
		if qr.guardian == p && qr.regDay < s.n && s.goesOut(qr) && s.chance(60) {
			group[size] = q
			fever[size], inf[size] = s.condition(qr)
			size++
		}
	}
	at := func(cp int32, t int32) {
		if cp < 0 {
			return
		}
		for i := range size {
			s.scan(group[i], cp, t+int32(i)*s.between(5, 30), fever[i], inf[i])
		}
	}
	at(pr.home, leave)
	t := leave + s.between(5*60, 20*60)
	at(a, t)
	if b >= 0 {
		at(b, t+s.between(30*60, 80*60))
	}
}

// flush sorts the day's records by time (a counting sort on the second,
// which keeps records of the same second in the order they were made) and
// emits them as commands.
func (s *sim) flush(emit func(domain.Command) error) error {
	slots := s.slots[:s.length+1]
	clear(slots)
	for i := range s.recs {
		slots[s.recs[i].off+1]++
	}
	for i := 1; i < len(slots); i++ {
		slots[i] += slots[i-1]
	}
	s.sorted = append(s.sorted[:0], s.recs...)
	for _, r := range s.recs {
		s.sorted[slots[r.off]] = r
		slots[r.off]++
	}
	scans := 0
	for lo := 0; lo < len(s.sorted); lo += emitChunk {
		chunk := s.sorted[lo:min(lo+emitChunk, len(s.sorted))]
		// The ids of a chunk's scans and forms are written into one buffer
		// and made one string, which each id is a slice of: one allocation
		// rather than one per command.
		block, ends := s.idblock[:0], s.idends[:0]
		for i := range chunk {
			switch r := &chunk[i]; r.what {
			case cScan:
				scans++
				block = s.appendID(block, "scan", s.n, scans)
			case cHealthForm:
				block = s.appendID(block, "form", s.n, int(r.person)+1)
			}
			ends = append(ends, int32(len(block)))
		}
		s.idblock, s.idends = block, ends
		ids, from := string(block), int32(0)
		for i := range chunk {
			r := &chunk[i]
			id := ids[from:ends[i]]
			from = ends[i]
			cmd := domain.Command{ID: id, At: s.start.Add(time.Duration(r.off) * time.Second)}
			switch r.what {
			case cScan:
				cmd.Body = domain.RecordScan{CheckpointID: s.cps[r.ref].id, PersonID: s.pids[r.person],
					Method: domain.ScanImported, TemperatureCelsius: celsius(r.temp)}
			case cHealthForm:
				travel := noTravel
				if r.flags&flagTravel != 0 {
					travel = s.travels[s.people[r.person].travel].list
				}
				cmd.Body = domain.SubmitHealthForm{PersonID: s.pids[r.person], Travel: travel,
					Symptoms: symptomSets[r.sym], TemperatureCelsius: celsius(r.temp), ContactWithCase: r.flags&flagContact != 0}
			default:
				o := &s.others[r.ref]
				cmd.ID, cmd.Body = o.id, o.body
			}
			if err := emit(cmd); err != nil {
				return err
			}
			s.count(r)
		}
	}
	return nil
}

// emitChunk is the number of commands whose ids share one string.
const emitChunk = 4096

// noTravel is the travel of a health form without a journey: empty, not nil,
// since the field is required.
var noTravel = []domain.Travel{}

// count adds an emitted command to the counters.
func (s *sim) count(r *record) {
	s.byCommand[r.what]++
	switch r.what {
	case cRegisterPerson:
		s.registered++
	case cApplyDependent:
		s.registered++
		s.dependents++
	case cRecordDiagnosis:
		if r.flags&flagConfirmed != 0 {
			s.diagnosed++
		}
	}
}

func (s *sim) summary() Stats {
	st := Stats{ByCommand: map[string]int{}, People: s.registered, Dependents: s.dependents,
		Checkpoints: s.byCommand[cRegisterCheckpoint], Infected: s.infected, Diagnosed: s.diagnosed}
	for c, n := range s.byCommand {
		if n > 0 {
			st.ByCommand[cmdNames[c]] = n
			st.Commands += n
		}
	}
	return st
}
