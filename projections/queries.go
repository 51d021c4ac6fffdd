package projections

import (
	"time"

	"github.com/riskledger/riskledger/domain"
)

// The contact queries of a long-running node judge only the persons a
// query needs, not the whole city (JudgeAll reads every fact): the index
// changes under them with every scan.

// ExposuresOf answers Contacts.Of for p, judging p and those p met.
func ExposuresOf(ix *Index, p domain.PersonID, from, to time.Time) []Exposure {
	met := map[domain.PersonID]bool{p: true}
	for _, e := range NewContacts(ix, ix.Judge(nil, 0)).Of(p, from, to) {
		if e.Foreign == nil {
			met[e.Other] = true
		}
	}
	persons := make([]domain.PersonID, 0, len(met))
	for q := range met {
		persons = append(persons, q)
	}
	return NewContacts(ix, ix.Judge(persons, 0)).Of(p, from, to)
}

// ChainFrom answers Contacts.ChainOf, which needs no judgement.
func ChainFrom(ix *Index, p domain.PersonID, depth int, upstream bool, from, to time.Time) Chain {
	return NewContacts(ix, ix.Judge(nil, 0)).ChainOf(p, depth, upstream, from, to)
}

// ClustersIn answers Contacts.Clusters, judging the persons who may be
// index cases.
func ClustersIn(ix *Index, from, to time.Time) []Cluster {
	var cases []domain.PersonID
	for n, p := range ix.ids {
		if ix.mayBeCase(int32(n)) {
			cases = append(cases, p)
		}
	}
	return NewContacts(ix, ix.Judge(cases, 0)).Clusters(from, to)
}

// StatsOf answers Contacts.Stats.
func StatsOf(ix *Index) ContactStats { return NewContacts(ix, ix.Judge(nil, 0)).Stats() }

// Knows tells whether any fact of the index names p.
func (ix *Index) Knows(p domain.PersonID) bool {
	_, ok := ix.numbers[p]
	return ok
}
