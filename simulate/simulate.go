// Package simulate is a deterministic synthetic city: it produces the
// commands (DESIGN §5.1) that a city's health-code office would receive over
// a number of days, for tests, benchmarks and demos.
//
// # The city
//
// Checkpoints are split among kinds in fixed proportions of Config.Checkpoints:
// housing compounds 30%, offices 20%, supermarkets 12%, restaurants 12%, bus
// stops 10%, subway stations 8%, parks 6% and hospitals 2% (every kind has at
// least one checkpoint once there are 8; below that the compounds,
// supermarkets and offices come first). The k-th checkpoint of a kind lies in
// district k mod D ("district-01" to "district-NN", D = Checkpoints/25
// between 1 and 16). Hospitals admit green, yellow and red; every other
// checkpoint admits the default, green alone. All checkpoints are registered
// in the first hour of day 0.
//
// People live in households of 1 to 5 in a housing compound, and shop, walk
// and eat in their compound's district, mostly at a favourite supermarket,
// park and restaurant. Each household has a first adult; each further member
// is, with some probability, a dependent without a phone (a child or an
// elderly parent), applied for by that adult (apply_dependent, usable from
// the next day; a household of 5 has at most 4 dependents). About half the
// adults commute on weekdays, by subway or bus, to an office anywhere in the
// city. About 2% of households are foreign and register with passports.
// Document numbers are visibly synthetic ("R1-00000042": the seed and the
// person's number), so that no generated record can be a real person's.
//
// Nearly everybody registers (register_person, then verify_identity) between
// 04:00 and 06:00 on day 0. A few households arrive during the run: they register the
// day they arrive, are scanned at their compound's gate on arrival, and
// declare the journey on their health forms for 14 days. A few residents
// returned from a trip in the 13 days before day 0. Hubei is a key area from
// 10 days before day 0 and South Korea from day 0 (designate_key_area on
// day 0); in runs of 21 days or more South Korea is lifted 7 days before the
// end. Travellers who arrived from a region while it was a key area stay home
// for 14 days after arrival.
//
// Every day every registered adult submits a health form in the morning.
// Commuters leave between 06:50 and 08:30: their compound's gate, their home
// station, their office, sometimes lunch at a restaurant near the office,
// the station near the office on the way back and sometimes their
// supermarket. Others (and everybody at weekends) go out in the morning to a
// supermarket or a park and in the afternoon or evening to a restaurant, a
// supermarket or a park, and their dependents come along to some of these
// outings. Every outing is scanned at the compound gate when leaving and at
// each place visited. Scans are imported records of past checkpoint
// decisions (method "imported"); a share of them carries a temperature,
// which depends on the kind of checkpoint.
//
// # The outbreak
//
// A few people (one per 4,000, at least 3) are infected before the run and
// fall ill in its first three days. Each day the infection spreads from
// infectious people to others scanned at the same checkpoint in the same hour
// and, at home, to the other members of the household, each with a small
// probability. An infected person falls ill 2 to 7 days later (one in five
// never does); ill people show a fever at checkpoints that measure it (the
// ledger then denies them and records a symptom report), report their
// symptoms (report_symptoms, source "self", with the onset date) that
// evening or the next morning, stay home, and are confirmed at a hospital 1
// or 2 days after the report (a hospital scan, then record_diagnosis
// "confirmed"). A contact tracer's interview then reports every other member
// of the household as a contact from 07:00 of the diagnosis day
// (report_contact, source "interview", without an end); those members stay
// home and declare the contact on their forms for 14 days. Confirmed cases
// stay in hospital and are "recovered" 14 to 20 days later. People are
// infectious from 2 days before the onset until they are confirmed (without
// symptoms: from the 2nd to the 9th day after infection). The city grows
// careful as cases are confirmed: the chances of infection are divided by one
// plus the number of confirmed cases per 1,000 people, so that the epidemic
// peaks and fades (in a city of 100,000, two to three weeks after day 0).
//
// Apart from the epidemic, about one person in 4,000 a day catches a fever
// that is not it: they report it, are "suspected" at a hospital the next day
// and "ruled_out" the day after.
//
// # Commands and their order
//
// Every command has a deterministic id, unique within a run and distinct
// between seeds ("sim1:scan:3:1042", "sim1:register_person:17"); person and
// checkpoint ids are UUIDv5 of "sim:<seed>:person:<n>" and
// "sim:<seed>:checkpoint:<n>" in a fixed namespace (see PersonID and
// CheckpointID). Commands come in non-decreasing At, so a ledger that takes
// them in order finds every person, guardian and checkpoint registered before
// it is named. Everything happens between 00:00 and 23:00 of the simulated
// days in the city's zone.
package simulate

import (
	"fmt"
	"strings"
	"time"

	"github.com/riskledger/riskledger/domain"
)

// Limits of a Config: a run of a year at most, and a city that fits in
// memory (a run holds about 650 MB per million people on day 0, when everybody
// registers, and less afterwards).
const (
	MaxDays        = 366
	MaxPeople      = 2_000_000
	MaxCheckpoints = 1_000_000
)

// DefaultZone is the city's zone when Config.Location is nil.
const DefaultZone = "Asia/Shanghai"

// Config describes the city and the period to simulate.
type Config struct {
	// People is the number of persons in the city, dependents included.
	People int
	// Checkpoints is the number of checkpoints; DefaultCheckpoints gives a
	// sensible number for a city of a given size.
	Checkpoints int
	// Days is the number of days simulated, 1 to MaxDays.
	Days int
	// Seed chooses the city and its history: the same Config always gives the
	// same commands.
	Seed int64
	// Start is the first simulated day; zero means 2020-02-01. A ledger
	// takes only commands of the past, so the run must end before today.
	Start domain.Date
	// Location is the city's zone, which places the days; nil means
	// DefaultZone (or a fixed UTC+08:00 zone where the zone database is
	// missing).
	Location *time.Location
}

// DefaultCheckpoints returns the number of checkpoints of a city of people
// persons when none is given: one per 20 persons, and at least 10.
func DefaultCheckpoints(people int) int { return max(people/20, 10) }

// Validate reports every problem of the configuration together, as one
// domain.Invalid error.
func (c Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch {
	case c.People < 1:
		add("the number of people must be at least 1, got %d", c.People)
	case c.People > MaxPeople:
		add("the number of people must be at most %d, got %d", MaxPeople, c.People)
	}
	switch {
	case c.Checkpoints < 1:
		add("the number of checkpoints must be at least 1, got %d (for %d people, %d is a sensible number)",
			c.Checkpoints, max(c.People, 1), DefaultCheckpoints(max(c.People, 1)))
	case c.Checkpoints > MaxCheckpoints:
		add("the number of checkpoints must be at most %d, got %d", MaxCheckpoints, c.Checkpoints)
	}
	if c.Days < 1 || c.Days > MaxDays {
		add("the number of days must be between 1 and %d, got %d", MaxDays, c.Days)
	}
	if !c.Start.IsZero() && (c.Start.Year() < 1901 || c.Start.Year() > 9998) {
		add("the first day must be in the years 1901 to 9998, got %s", c.Start)
	}
	if len(problems) > 0 {
		return domain.Errorf(domain.Invalid, "cannot simulate: %s", strings.Join(problems, "; "))
	}
	return nil
}

// FirstDay is the first simulated day: Start, or 2020-02-01 when it is
// zero.
func (c Config) FirstDay() domain.Date {
	if c.Start.IsZero() {
		d, _ := domain.NewDate(2020, time.February, 1)
		return d
	}
	return c.Start
}

// withDefaults fills what was left out.
func (c Config) withDefaults() Config {
	c.Start = c.FirstDay()
	if c.Location == nil {
		c.Location = defaultLocation()
	}
	return c
}

// defaultLocation loads DefaultZone, or stands in a zone with its offset
// where the zone database is missing: Shanghai has kept UTC+08:00 since 1991.
func defaultLocation() *time.Location {
	loc, err := time.LoadLocation(DefaultZone)
	if err != nil {
		return time.FixedZone("CST", 8*60*60)
	}
	return loc
}

// Stats sums up a run.
type Stats struct {
	// Commands is the number of commands emitted.
	Commands int
	// ByCommand counts the commands emitted by name ("record_scan"), for the
	// names that occurred.
	ByCommand map[string]int
	// People is the number of persons registered (register_person and
	// apply_dependent), Dependents those of them applied for by a guardian.
	People, Dependents int
	// Checkpoints is the number of checkpoints registered.
	Checkpoints int
	// Infected is the number of people infected before the run or during
	// it; Diagnosed the number confirmed (record_diagnosis "confirmed").
	Infected, Diagnosed int
}

// Run simulates the city described by cfg and calls emit with each command,
// in non-decreasing At, day by day: it holds one day's commands at a time.
// A cfg that fails Validate is a domain.Invalid error before anything is
// emitted. The first error from emit stops the run and is returned
// unchanged, with the Stats of what was emitted before it.
//
// The emitted commands share some values that never change (symptom lists,
// temperatures, travel lists): treat them as read-only.
func Run(cfg Config, emit func(domain.Command) error) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	s := newSim(cfg.withDefaults())
	for d := range cfg.Days {
		s.plan(d)
		s.spread(d)
		if err := s.flush(emit); err != nil {
			return s.summary(), err
		}
	}
	return s.summary(), nil
}
