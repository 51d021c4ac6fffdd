package domain_test

import (
	"testing"
	"time"

	"github.com/riskledger/riskledger/domain"
)

// DESIGN §2: sensor records of a pair whose timestamps are no more than
// merge_gap apart form one episode, from the first record's window start to
// the last record's timestamp.
func TestSensorRecordsMergeWhileTheirTimestampsAreAtMostMergeGapApart(t *testing.T) {
	l := &ledger{t: t}
	a, b, c := newPerson(l), newPerson(l), newPerson(l)
	sensor := func(p, q domain.PersonID, end string) {
		e := at(end)
		l.add(end, domain.ContactReported{PersonID: p, OtherID: q, Source: domain.ContactSensor, Start: e.Add(-domain.SensorRecordSpan), End: e})
	}
	sensor(a, b, "2020-03-04T01:00:00Z")
	sensor(b, a, "2020-03-04T01:00:20Z") // 20 s after: the same episode, either way round
	sensor(a, b, "2020-03-04T01:00:40Z")
	sensor(a, b, "2020-03-04T01:01:01Z") // 21 s after: a new one
	sensor(a, c, "2020-03-04T01:00:20Z") // another pair
	l.add("2020-03-04T02:00:00Z", domain.ContactReported{PersonID: a, OtherID: c, Source: domain.ContactInterview, Start: at("2020-03-04T01:30:00Z")})

	got := domain.Episodes(l.facts, domain.NewPolicies())
	type span struct {
		source     domain.ContactSource
		start, end string
		records    int
		duration   time.Duration
	}
	want := []span{
		{domain.ContactInterview, "2020-03-04T01:30:00Z", "", 1, 0},
		{domain.ContactSensor, "2020-03-04T00:59:40Z", "2020-03-04T01:00:40Z", 3, time.Minute},
		{domain.ContactSensor, "2020-03-04T01:00:00Z", "2020-03-04T01:00:20Z", 1, 20 * time.Second},
		{domain.ContactSensor, "2020-03-04T01:00:41Z", "2020-03-04T01:01:01Z", 1, 20 * time.Second},
	}
	if len(got) != len(want) {
		t.Fatalf("%d episodes, want %d: %+v", len(got), len(want), got)
	}
	for i, ep := range got {
		end := ""
		if !ep.Contact.End.IsZero() {
			end = ep.Contact.End.Format(time.RFC3339)
		}
		g := span{ep.Contact.Source, ep.Contact.Start.Format(time.RFC3339), end, len(ep.Events), ep.Duration()}
		if g != want[i] {
			t.Errorf("episode %d: %+v, want %+v", i, g, want[i])
		}
	}

	// A wider merge_gap joins the fourth record too.
	wide := domain.DefaultPolicyParams()
	wide.MergeGap = 30 * time.Second
	if n := len(domain.Episodes(l.facts, domain.FixedPolicy(wide))); n != 3 {
		t.Errorf("merge_gap 30s: %d episodes, want 3", n)
	}
}
