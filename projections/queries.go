package projections

import (
	"slices"
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

// Scan is a scan of a person as the ledger recorded it.
type Scan struct {
	Event              domain.EventRef `json:"event"`
	At                 time.Time       `json:"at"`
	Place              Place           `json:"place"`
	Method             string          `json:"method"`
	Admitted           bool            `json:"admitted"`
	Reason             string          `json:"reason"`
	Colour             domain.Colour   `json:"colour,omitzero"`
	TemperatureCelsius *float64        `json:"temperature_celsius,omitempty"`
	// Retracted: a later retraction took it back.
	Retracted bool `json:"retracted"`
}

// ScansOf returns p's scans with their time in [from, to), in time order.
func ScansOf(ix *Index, p domain.PersonID, from, to time.Time) []Scan {
	retracted := map[domain.EventID]bool{}
	for _, i := range ix.global {
		if r, ok := ix.facts[i].Body.(domain.FactRetracted); ok {
			retracted[r.EventID] = true
		}
	}
	b := newBounds(from, to)
	out := []Scan{}
	for _, i := range ix.factsNaming(p) {
		f := &ix.facts[i]
		s, ok := f.Body.(domain.ScanRecorded)
		if !ok || !b.has(f.OccurredAt.UnixNano()) {
			continue
		}
		place := Place{CheckpointID: s.CheckpointID}
		for _, k := range ix.checkpoints[s.CheckpointID] {
			if c, ok := ix.facts[k].Body.(domain.CheckpointRegistered); ok && !retracted[ix.facts[k].Ref.ID] {
				place = Place{CheckpointID: c.CheckpointID, Name: c.Name, Kind: c.Kind, District: c.District}
			}
		}
		out = append(out, Scan{Event: f.Ref, At: f.OccurredAt.UTC(), Place: place, Method: s.Method.String(), Admitted: s.Admitted,
			Reason: s.Reason, Colour: s.Colour, TemperatureCelsius: s.TemperatureCelsius, Retracted: retracted[f.Ref.ID]})
	}
	slices.SortStableFunc(out, func(a, b Scan) int { return a.At.Compare(b.At) })
	return out
}
