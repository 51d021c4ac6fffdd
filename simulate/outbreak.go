package simulate

import (
	"time"

	"github.com/riskledger/riskledger/domain"
)

// Chances of the outbreak.
const (
	// scanRisk is the chance that one infectious person scanned at a
	// checkpoint in an hour infects another scanned there in that hour.
	scanRisk = 0.012
	// homeRisk is the chance that an infectious person infects another member
	// of the household on a day.
	homeRisk = 0.10
	// fluOdds: one person in fluOdds catches a fever that is not the epidemic
	// on a given day.
	fluOdds = 4000
	// seedOdds: one person in seedOdds (and at least 3) is infected before
	// the run.
	seedOdds = 4000
	// caution: every case confirmed per caution people divides the risks by
	// one more (masks, fewer visits), which makes the epidemic peak.
	caution = 1000
)

// Symptom sets, shared by every command that lists them. The first is none;
// the epidemic shows one of sets 1 to 4, the other fever set 5.
var symptomSets = func() [][]domain.Symptom {
	s := func(names ...string) []domain.Symptom {
		out := []domain.Symptom{}
		for _, n := range names {
			sym, err := domain.ParseSymptom(n)
			if err != nil {
				panic("simulate: symptom " + n + ": " + err.Error())
			}
			out = append(out, sym)
		}
		return out
	}
	return [][]domain.Symptom{
		s(),
		s("fever", "cough"),
		s("fever", "cough", "fatigue"),
		s("fever", "shortness_of_breath"),
		s("cough", "fatigue"),
		s("fever", "sore_throat"),
	}
}()

const fluSymptoms = 5

// temperatures holds 36.0, 36.1, ... 39.9 °C: a record's temp k stands for
// temperatures[k-1], and 0 for none. Each value is the float64 that its
// decimal text parses to, so a reading survives a round trip through JSON.
var temperatures = func() (t [40]float64) {
	for i := range t {
		t[i] = float64(360+i) / 10
	}
	return t
}()

func celsius(k uint8) *float64 {
	if k == 0 {
		return nil
	}
	return &temperatures[k-1]
}

// temperature draws a reading: 36.1 to 37.0 °C, or 37.3 to 39.2 °C for a
// fever (the policy's fever threshold is 37.3 °C).
func (s *sim) temperature(fever bool) uint8 {
	if fever {
		return 14 + uint8(s.rng.IntN(20))
	}
	return 2 + uint8(s.rng.IntN(10))
}

// illness is the course of one infection, or of a fever that is not the
// epidemic (flu). Days are relative to day 0.
type illness struct {
	flu         bool
	infDay      int
	symptomatic bool
	// onset, report (report_symptoms), clinic (the hospital visit and the
	// diagnosis) and recover (recovered, or ruled_out for flu); noDay
	// without symptoms.
	onset, report, clinic, recover int
	// morning: the symptoms are reported the morning after the onset
	// rather than that evening.
	morning bool
	sym     uint8 // index in symptomSets
}

// isolated: the ill person stays home (the hospital visit aside).
func (il *illness) isolated(d int) bool {
	from := il.report + 1
	if il.morning {
		from = il.report
	}
	return il.symptomatic && d >= from && d <= il.recover
}

// feverish: a temperature taken this day shows a fever.
func (il *illness) feverish(d int) bool {
	return il.symptomatic && il.onset <= d && d <= il.clinic
}

// formSymptoms: the morning's health form lists the symptoms (they began the
// day before or earlier).
func (il *illness) formSymptoms(d int) bool {
	return il.symptomatic && il.onset < d && d <= il.clinic
}

// hospitalised: a confirmed case, in hospital until recovered.
func (il *illness) hospitalised(d int) bool {
	return !il.flu && il.symptomatic && il.clinic < d && d <= il.recover
}

// infectious: from 2 days before the onset to the diagnosis; without
// symptoms, from the 2nd to the 9th day after infection.
func (il *illness) infectious(d int) bool {
	switch {
	case il.flu:
		return false
	case il.symptomatic:
		return d >= max(il.infDay+1, il.onset-2) && d <= il.clinic
	}
	return d >= il.infDay+2 && d <= il.infDay+9
}

// illnessOf returns the person's latest illness, nil for none.
func (s *sim) illnessOf(p *person) *illness {
	if p.ill < 0 {
		return nil
	}
	return &s.ills[p.ill]
}

// infect starts an infection of person p on day d: symptoms (four times in
// five) 2 to 7 days later.
func (s *sim) infect(p int32, d int) *illness {
	il := illness{infDay: d, onset: noDay, report: noDay, clinic: noDay, recover: noDay}
	if s.rng.IntN(5) > 0 {
		s.fallIll(&il, d+2+s.rng.IntN(6), 1+uint8(s.rng.IntN(4)))
	}
	return s.addIllness(p, il)
}

// fallIll schedules the symptoms from onset: reported that evening or the
// next morning, confirmed at a hospital 1 or 2 days after the report,
// recovered 14 to 20 days later.
func (s *sim) fallIll(il *illness, onset int, sym uint8) {
	il.symptomatic, il.onset, il.sym = true, onset, sym
	il.morning = s.rng.IntN(5) < 2
	il.report = onset
	if il.morning {
		il.report++
	}
	il.clinic = il.report + 1 + s.rng.IntN(2)
	il.recover = il.clinic + 14 + s.rng.IntN(7)
}

func (s *sim) addIllness(p int32, il illness) *illness {
	pr := &s.people[p]
	if !il.flu {
		pr.infected = true
		s.infected++
	}
	pr.ill = int32(len(s.ills))
	s.ills = append(s.ills, il)
	return &s.ills[pr.ill]
}

// catchFlu gives person p a fever on day d: reported that evening,
// "suspected" at a hospital the next day and "ruled_out" the day after.
func (s *sim) catchFlu(p int32, d int) *illness {
	return s.addIllness(p, illness{flu: true, infDay: noDay, symptomatic: true, sym: fluSymptoms,
		onset: d, report: d, clinic: d + 1, recover: d + 2})
}

// susceptible: registered by day d, never infected, and not in the middle of
// a flu.
func (s *sim) susceptible(p int32, d int) bool {
	pr := &s.people[p]
	if pr.infected || pr.regDay > d {
		return false
	}
	il := s.illnessOf(pr)
	return il == nil || d > il.recover
}

// seedInfections infects a few residents before the run, so that they fall
// ill in its first three days. Seeds are adults of households of two or more
// where the city has them, so that the first cases have household contacts.
func (s *sim) seedInfections() {
	n := max(3, s.cfg.People/seedOdds)
	for range n {
		for try := range 50 {
			p := s.rng.Int32N(int32(len(s.people)))
			pr := &s.people[p]
			if pr.infected || pr.arrival || !pr.adult() || (pr.size < 2 && try < 40) {
				continue
			}
			onset := s.rng.IntN(min(3, s.cfg.Days))
			il := illness{infDay: onset - 2 - s.rng.IntN(6)}
			s.fallIll(&il, onset, 1+uint8(s.rng.IntN(3)))
			s.addIllness(p, il)
			break
		}
	}
}

// health plays the day's course of person p's illness, or gives them a flu.
func (s *sim) health(p int32) {
	d := s.n
	pr := &s.people[p]
	il := s.illnessOf(pr)
	if il == nil && pr.regDay < d && s.rng.IntN(fluOdds) == 0 {
		il = s.catchFlu(p, d)
	}
	if il == nil {
		return
	}
	switch d {
	case il.report:
		off := hm(19, 0) + s.upto(180*60)
		if il.morning {
			off = hm(7, 0) + s.upto(120*60)
		}
		s.other(cReportSymptoms, off, s.id("report_symptoms", d, int(p)+1), 0, domain.ReportSymptoms{
			PersonID: pr.id, Symptoms: symptomSets[il.sym], Onset: s.cfg.Start.AddDays(il.onset), Source: domain.SymptomSourceSelf})
	case il.clinic:
		s.diagnose(p, il)
	case il.recover:
		off, result := hm(10, 0)+s.upto(120*60), domain.DiagnosisRecovered
		if il.flu {
			off, result = hm(10, 0)+s.upto(180*60), domain.DiagnosisRuledOut
		}
		s.other(cRecordDiagnosis, off, s.id("record_diagnosis", d, int(p)+1), 0,
			domain.RecordDiagnosis{PersonID: pr.id, Result: result})
	}
	if il.infectious(d) && d != il.clinic {
		s.athome = append(s.athome, p)
	}
}

// diagnose takes person p to a hospital: "suspected" for a flu; "confirmed"
// for the epidemic, after which a contact tracer reports every other member of
// the household as a contact since that morning, and they stay home for 14
// days.
func (s *sim) diagnose(p int32, il *illness) {
	d := s.n
	pr := &s.people[p]
	visit := hm(9, 0) + s.upto(120*60)
	if h := s.local(kHospital, pr.district); h >= 0 {
		s.scan(p, h, visit, il.feverish(d), il.infectious(d))
	}
	id := s.id("record_diagnosis", d, int(p)+1)
	if il.flu {
		s.other(cRecordDiagnosis, visit+s.between(30*60, 120*60), id, 0,
			domain.RecordDiagnosis{PersonID: pr.id, Result: domain.DiagnosisSuspected})
		return
	}
	s.confirmed++
	diagnosed := visit + s.between(2*3600, 5*3600)
	s.other(cRecordDiagnosis, diagnosed, id, flagConfirmed,
		domain.RecordDiagnosis{PersonID: pr.id, Result: domain.DiagnosisConfirmed})
	since := s.start.Add(7 * time.Hour)
	for q := pr.head; q < pr.head+pr.size; q++ {
		qr := &s.people[q]
		if q == p || qr.regDay > d {
			continue
		}
		if qi := s.illnessOf(qr); qi != nil && qi.hospitalised(d) {
			continue
		}
		s.other(cReportContact, diagnosed+s.between(30*60, 180*60), s.id("report_contact", d, int(p)+1, int(q)+1), 0,
			domain.ReportContact{PersonID: pr.id, OtherID: qr.id, Source: domain.ContactInterview, Start: since})
		if qr.quarUntil <= d {
			qr.quarFrom = d + 1
		}
		qr.quarUntil = d + 15
	}
}

// spread infects, after day d: people scanned at a checkpoint in the same
// hour as infectious people, and household members of those infectious at
// home.
func (s *sim) spread(d int) {
	damping := 1 + float64(s.confirmed)*caution/float64(len(s.people))
	atScan, atHome := scanRisk/damping, homeRisk/damping
	clear(s.buckets)
	for i := range s.recs {
		if r := &s.recs[i]; r.what == cScan && r.flags&flagInfectious != 0 {
			s.buckets[bucket(r)]++
		}
	}
	for i := range s.recs {
		r := &s.recs[i]
		if r.what != cScan || r.flags&flagInfectious != 0 {
			continue
		}
		if c := s.buckets[bucket(r)]; c > 0 && s.susceptible(r.person, d) && s.rng.Float64() < atScan*float64(c) {
			s.infect(r.person, d)
		}
	}
	for _, p := range s.athome {
		pr := &s.people[p]
		for q := pr.head; q < pr.head+pr.size; q++ {
			if q != p && s.susceptible(q, d) && s.rng.Float64() < atHome {
				s.infect(q, d)
			}
		}
	}
}

// bucket is the scan's checkpoint and hour.
func bucket(r *record) int { return int(r.ref)*hoursPerDay + int(r.off/3600) }
