package domain

import (
	"slices"
	"time"
)

// Episode is a reported contact as the policy counts it: an interview's, or
// the sensor records of one pair merged into one contact (DESIGN §2).
type Episode struct {
	// Contact spans the episode: from the first record's window start to
	// the last record's timestamp. Its PersonID and OtherID are the first
	// record's.
	Contact ContactReported
	// Last is the fact of the episode's latest end.
	Last Fact
	// Events are the facts merged into it, in the order merged.
	Events []EventRef
}

// Episodes returns the reported contacts among facts as episodes: each
// interview is one; the sensor records of a pair (either way round) whose
// timestamps are no more than merge_gap apart (the policy in force at the
// later record) form one episode. Interviews come first, in ledger order,
// then sensor episodes in order of start.
func Episodes(facts []Fact, policies *Policies) []Episode {
	var out []Episode
	var sensors []Fact
	for _, f := range facts {
		b, ok := f.Body.(ContactReported)
		switch {
		case !ok:
		case b.Source == ContactSensor:
			sensors = append(sensors, f)
		default:
			out = append(out, Episode{Contact: b, Last: f, Events: []EventRef{f.Ref}})
		}
	}
	slices.SortStableFunc(sensors, func(a, b Fact) int {
		return a.Body.(ContactReported).End.Compare(b.Body.(ContactReported).End)
	})
	open := map[[2]PersonID]int{} // a pair's episode being merged → its index in out
	for _, f := range sensors {
		b := f.Body.(ContactReported)
		pair := [2]PersonID{b.PersonID, b.OtherID}
		if pair[0].Compare(pair[1]) > 0 {
			pair[0], pair[1] = pair[1], pair[0]
		}
		params, _ := policies.At(f.OccurredAt)
		if i, ok := open[pair]; ok && b.End.Sub(out[i].Contact.End) <= params.MergeGap {
			ep := &out[i]
			ep.Contact.End, ep.Last = b.End, f
			ep.Events = append(ep.Events, f.Ref)
			continue
		}
		open[pair] = len(out)
		out = append(out, Episode{Contact: b, Last: f, Events: []EventRef{f.Ref}})
	}
	return out
}

// Duration is the episode's length; zero for an interview without an end.
func (ep Episode) Duration() time.Duration {
	if ep.Contact.End.IsZero() {
		return 0
	}
	return ep.Contact.End.Sub(ep.Contact.Start)
}
