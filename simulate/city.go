package simulate

import (
	"math/rand/v2"
	"strconv"

	"github.com/google/uuid"
	"github.com/riskledger/riskledger/domain"
)

// Namespace is the UUIDv5 namespace of the ids of simulated persons and
// checkpoints.
var Namespace = uuid.MustParse("6f1c2a9e-3b7d-5e40-8c21-9d4a7b0e5f13")

// PersonID returns the id of the n-th person (from 1) of the city with the
// given seed: UUIDv5 of "sim:<seed>:person:<n>" in Namespace.
func PersonID(seed int64, n int) domain.PersonID {
	id, err := domain.ParsePersonID(simUUID(seed, "person", n).String())
	if err != nil {
		panic("simulate: a UUIDv5 is a valid person id: " + err.Error())
	}
	return id
}

// CheckpointID returns the id of the n-th checkpoint (from 1) of the city
// with the given seed: UUIDv5 of "sim:<seed>:checkpoint:<n>" in Namespace.
func CheckpointID(seed int64, n int) domain.CheckpointID {
	id, err := domain.ParseCheckpointID(simUUID(seed, "checkpoint", n).String())
	if err != nil {
		panic("simulate: a UUIDv5 is a valid checkpoint id: " + err.Error())
	}
	return id
}

func simUUID(seed int64, what string, n int) uuid.UUID {
	name := "sim:" + strconv.FormatInt(seed, 10) + ":" + what + ":" + strconv.Itoa(n)
	return uuid.NewSHA1(Namespace, []byte(name))
}

// The kinds of checkpoint, in the order they are given out when the city has
// fewer checkpoints than kinds.
const (
	kCompound = iota
	kSupermarket
	kOffice
	kSubway
	kPark
	kRestaurant
	kBus
	kHospital
	numKinds
)

type kindInfo struct {
	kind  domain.CheckpointKind
	label string
	// share is the per cent of the checkpoints of this kind.
	share int
	// measure is the share of scans that carry a temperature. Patients are
	// not measured at the hospital door: the clinic takes their temperature.
	measure float64
}

var kinds = [numKinds]kindInfo{
	kCompound:    {domain.KindHousingCompound, "Housing compound", 30, 0.6},
	kSupermarket: {domain.KindSupermarket, "Supermarket", 12, 0.6},
	kOffice:      {domain.KindOffice, "Office", 20, 0.5},
	kSubway:      {domain.KindSubway, "Subway station", 8, 0.4},
	kPark:        {domain.KindPark, "Park", 6, 0.2},
	kRestaurant:  {domain.KindRestaurant, "Restaurant", 12, 0.4},
	kBus:         {domain.KindBus, "Bus stop", 10, 0.1},
	kHospital:    {domain.KindHospital, "Hospital", 2, 0},
}

// kindCounts splits m checkpoints among the kinds: one of each first (in
// kind order while there are too few), the rest in proportion to the shares.
func kindCounts(m int) [numKinds]int {
	var c [numKinds]int
	if m < numKinds {
		for k := range m {
			c[k] = 1
		}
		return c
	}
	rest, given := m-numKinds, 0
	for k := range numKinds {
		c[k] = 1 + rest*kinds[k].share/100
		given += c[k]
	}
	for k := 0; given < m; k = (k + 1) % numKinds {
		c[k]++
		given++
	}
	return c
}

// span is the checkpoints of one kind: indexes first to first+n-1.
type span struct{ first, n int32 }

type checkpoint struct {
	id       domain.CheckpointID
	kind     int
	district int
}

// Regions travellers come from. Hubei and South Korea are the key areas.
const (
	rHubei = iota
	rSouthKorea
	rZhejiang
	rGuangdong
	rJapan
)

var regions = []struct {
	region domain.Region
	weight int // per cent of the travellers
	// country is the index in countries of a traveller's passport when the
	// region is abroad, 0 (a resident) otherwise.
	country int
}{
	rHubei:      {mustRegion("Hubei"), 30, 0},
	rSouthKorea: {mustRegion("South Korea"), 20, 1},
	rZhejiang:   {mustRegion("Zhejiang"), 20, 0},
	rGuangdong:  {mustRegion("Guangdong"), 20, 0},
	rJapan:      {mustRegion("Japan"), 10, 2},
}

// hubeiFrom is the day, relative to day 0, from which Hubei is a key area.
const hubeiFrom = -10

// countries of documents and nationalities; the first is the city's own.
var countries = []string{"CN", "KR", "JP", "US", "GB", "FR", "DE"}

func mustRegion(s string) domain.Region {
	r, err := domain.ParseRegion(s)
	if err != nil {
		panic("simulate: region " + s + ": " + err.Error())
	}
	return r
}

// travel is a journey declared on health forms.
type travel struct {
	region int
	day    int // arrival, relative to day 0
	list   []domain.Travel
}

// noDay is a day that never comes.
const noDay = -1 << 30

type person struct {
	id domain.PersonID
	// head is the household's first member (an adult, the guardian of its
	// dependents); the members are head to head+size-1.
	head     int32
	size     int32
	guardian int32 // -1 for an adult
	home     int32 // the compound
	district int
	office   int32    // -1 for those who do not commute
	station  [2]int32 // near home and near the office; -1 for none
	fav      [3]int32 // supermarket, park, restaurant; -1 for none
	country  int      // index in countries
	regDay   int      // the day of registration
	arrival  bool     // arrives (and registers) during the run, on regDay
	// homeUntil: a traveller from a key area stays home before this day.
	homeUntil int
	// quarFrom, quarUntil: a household contact of a case stays home and
	// declares the contact on these days.
	quarFrom, quarUntil int
	travel              int32 // index in sim.travels; -1 for none
	ill                 int32 // the latest illness, index in sim.ills; -1 for none
	infected            bool
}

func (p *person) adult() bool { return p.guardian < 0 }

// sim is the city and the day being built.
type sim struct {
	cfg    Config
	rng    *rand.Rand
	prefix []byte // "sim<seed>:", the start of every command id
	idbuf  []byte

	cps       []checkpoint
	kinds     [numKinds]span
	districts int
	people    []person
	pids      []domain.PersonID // the people's ids, apart for a cache-friendly emit
	travels   []travel
	ills      []illness
	liftDay   int // the day South Korea stops being a key area; noDay for never
	confirmed int // cases confirmed so far

	day
	counters
}

// counters are what Stats reports.
type counters struct {
	byCommand             [numCmds]int
	dependents, infected  int
	diagnosed, registered int
}

func newSim(cfg Config) *sim {
	s := &sim{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed_c17e)),
		prefix:  strconv.AppendInt([]byte("sim"), cfg.Seed, 10),
		liftDay: noDay,
	}
	s.prefix = append(s.prefix, ':')
	if cfg.Days >= 21 {
		s.liftDay = cfg.Days - 7
	}
	s.buildCheckpoints()
	s.buildPeople()
	s.seedInfections()
	s.day.init(s)
	return s
}

func (s *sim) buildCheckpoints() {
	m := s.cfg.Checkpoints
	s.districts = min(max(m/25, 1), 16)
	s.cps = make([]checkpoint, 0, m)
	for k, n := range kindCounts(m) {
		s.kinds[k] = span{int32(len(s.cps)), int32(n)}
		for j := range n {
			s.cps = append(s.cps, checkpoint{id: CheckpointID(s.cfg.Seed, len(s.cps)+1), kind: k, district: j % s.districts})
		}
	}
}

// local picks a checkpoint of kind k in district, or anywhere when the
// district has none; -1 when the city has none of the kind.
func (s *sim) local(k, district int) int32 {
	sp := s.kinds[k]
	if sp.n == 0 {
		return -1
	}
	d := int32(s.districts)
	c := sp.n / d
	if int32(district) < sp.n%d {
		c++
	}
	if c == 0 {
		return sp.first + s.rng.Int32N(sp.n)
	}
	return sp.first + int32(district) + d*s.rng.Int32N(c)
}

// anywhere picks a checkpoint of kind k in the whole city; -1 when there is
// none.
func (s *sim) anywhere(k int) int32 {
	sp := s.kinds[k]
	if sp.n == 0 {
		return -1
	}
	return sp.first + s.rng.Int32N(sp.n)
}

// householdSize draws a size: 1 (20%), 2 (30%), 3 (25%), 4 (15%) or 5 (10%).
func (s *sim) householdSize() int {
	switch x := s.rng.IntN(100); {
	case x < 20:
		return 1
	case x < 50:
		return 2
	case x < 75:
		return 3
	case x < 90:
		return 4
	}
	return 5
}

func (s *sim) pickRegion() int {
	x := s.rng.IntN(100)
	for r, reg := range regions {
		if x < reg.weight {
			return r
		}
		x -= reg.weight
	}
	return len(regions) - 1
}

// keyArea reports whether region r is a key area on day d.
func (s *sim) keyArea(r, d int) bool {
	switch r {
	case rHubei:
		return d >= hubeiFrom
	case rSouthKorea:
		return d >= 0 && (s.liftDay == noDay || d < s.liftDay)
	}
	return false
}

func (s *sim) buildPeople() {
	n := s.cfg.People
	s.people = make([]person, 0, n)
	s.pids = make([]domain.PersonID, 0, n)
	for len(s.people) < n {
		size := min(s.householdSize(), n-len(s.people))
		head := int32(len(s.people))
		home := s.anywhere(kCompound)
		district := s.cps[home].district
		country, regDay, region := 0, 0, -1
		if s.rng.IntN(100) < 2 {
			country = 1 + s.rng.IntN(len(countries)-1)
		}
		if s.cfg.Days >= 2 && s.rng.IntN(1000) < 4 {
			regDay, region = 1+s.rng.IntN(s.cfg.Days-1), s.pickRegion()
			if c := regions[region].country; c != 0 {
				country = c
			}
		}
		for i := range int32(size) {
			p := person{
				id: PersonID(s.cfg.Seed, len(s.people)+1), head: head, size: int32(size), guardian: -1,
				home: home, district: district, office: -1, station: [2]int32{-1, -1},
				country: country, regDay: regDay, arrival: regDay > 0,
				homeUntil: noDay, quarFrom: noDay, quarUntil: noDay, travel: -1, ill: -1,
			}
			if i > 0 && s.rng.IntN(100) < 22 {
				p.guardian = head
			}
			p.fav = [3]int32{s.local(kSupermarket, district), s.local(kPark, district), s.local(kRestaurant, district)}
			if p.adult() {
				s.adultLife(&p, region)
			}
			s.people = append(s.people, p)
			s.pids = append(s.pids, p.id)
		}
	}
}

// adultLife decides whether an adult commutes and travelled. region is the
// region an arriving household comes from, -1 for residents.
func (s *sim) adultLife(p *person, region int) {
	if s.kinds[kOffice].n > 0 && s.rng.IntN(2) == 0 {
		p.office = s.anywhere(kOffice)
		station := kSubway
		if s.kinds[kSubway].n == 0 || (s.kinds[kBus].n > 0 && s.rng.IntN(5) < 2) {
			station = kBus
		}
		p.station = [2]int32{s.local(station, p.district), s.local(station, s.cps[p.office].district)}
	}
	day := 0
	switch {
	case region >= 0:
		day = p.regDay
	case s.rng.IntN(100) == 0:
		region, day = s.pickRegion(), -1-s.rng.IntN(13)
	default:
		return
	}
	p.travel = int32(len(s.travels))
	s.travels = append(s.travels, travel{region: region, day: day,
		list: []domain.Travel{{Region: regions[region].region, ArrivedOn: s.cfg.Start.AddDays(day)}}})
	if s.keyArea(region, day) {
		p.homeUntil = day + 14
	}
}
