package projections_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/projections"
)

// busyTown is a ledger as dense as the simulated city's busiest hours:
// 5,000 persons, each scanned 40 times over a fortnight's daytime at one of
// 50 checkpoints, so a person has about 700 co-presences; 20 are confirmed
// cases.
func busyTown(b *testing.B) (*projections.Contacts, []domain.PersonID) {
	return scannedTown(b, 5000, 50)
}

// scannedTown is a ledger of persons scanned 40 times each over a fortnight's
// daytime at one of checkpoints, uniformly; 20 are confirmed cases.
func scannedTown(b *testing.B, people, checkpoints int) (*projections.Contacts, []domain.PersonID) {
	rng := rand.New(rand.NewPCG(1, 2))
	l := &randomLedger{base: time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)}
	var persons []domain.PersonID
	for range people {
		p, _ := domain.ParsePersonID(uuid.NewString())
		persons = append(persons, p)
		l.add(l.base, domain.PersonRegistered{PersonID: p, Document: domain.SealedDocument{Type: domain.DocumentResidentID}})
	}
	var cps []domain.CheckpointID
	for range checkpoints {
		cp, _ := domain.ParseCheckpointID(uuid.NewString())
		cps = append(cps, cp)
		l.add(l.base, domain.CheckpointRegistered{CheckpointID: cp, Name: "gate", Kind: domain.KindSubway, Admits: []domain.Colour{domain.Green}})
	}
	for range 40 * len(persons) {
		at := l.base.Add(time.Duration(rng.IntN(14))*24*time.Hour + 7*time.Hour + time.Duration(rng.Int64N(int64(14*time.Hour))))
		l.add(at, domain.ScanRecorded{CheckpointID: cps[rng.IntN(len(cps))], Method: domain.ScanImported, Admitted: true,
			Subject: domain.ScanSubject{Kind: domain.SubjectPerson, PersonID: persons[rng.IntN(len(persons))]}})
	}
	for _, p := range persons[:20] {
		l.add(l.base.Add(7*24*time.Hour), domain.DiagnosisRecorded{PersonID: p, Result: domain.DiagnosisConfirmed})
	}
	c := projections.NewColours(shanghai)
	if err := c.ApplyAll(l.events); err != nil {
		b.Fatal(err)
	}
	return projections.NewContacts(c.Index(), c.Index().JudgeAll()), persons
}

func BenchmarkContactsOf(b *testing.B) {
	cs, persons := busyTown(b)
	exposures := 0
	b.ResetTimer()
	for i := range b.N {
		exposures += len(cs.Of(persons[i%len(persons)], time.Time{}, time.Time{}))
	}
	b.ReportMetric(float64(exposures)/float64(b.N), "exposures/op")
}

// BenchmarkContactsOfCity asks on a city-sized index: 100,000 persons, 4M
// scans at 2,000 checkpoints (about 450 co-presences a person), where the
// index no longer fits in the processor's caches.
func BenchmarkContactsOfCity(b *testing.B) {
	cs, persons := scannedTown(b, 100000, 2000)
	exposures := 0
	b.ResetTimer()
	for i := range b.N {
		exposures += len(cs.Of(persons[(i*7919)%len(persons)], time.Time{}, time.Time{}))
	}
	b.ReportMetric(float64(exposures)/float64(b.N), "exposures/op")
}

// BenchmarkContactsOfCityLatency asks as BenchmarkContactsOfCity does and
// also reports the median and the 99th percentile of the single queries.
func BenchmarkContactsOfCityLatency(b *testing.B) {
	cs, persons := scannedTown(b, 100000, 2000)
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		cs.Of(persons[(i*7919)%len(persons)], time.Time{}, time.Time{})
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2]), "p50-ns")
	b.ReportMetric(float64(took[len(took)*99/100]), "p99-ns")
}

func BenchmarkChainOfDepth3(b *testing.B) {
	cs, persons := busyTown(b)
	reached := 0
	from := time.Date(2020, 3, 8, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := range b.N {
		reached += len(cs.ChainOf(persons[i%len(persons)], 3, false, from, from.Add(24*time.Hour)).Nodes)
	}
	b.ReportMetric(float64(reached)/float64(b.N), "persons/op")
}
