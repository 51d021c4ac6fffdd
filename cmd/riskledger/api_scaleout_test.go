package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/projections"
)

// TestTwoNodesOnePostgreSQL: two API nodes serve one PostgreSQL ledger;
// the first owns the colour projection, the second waits for its lease.
// Commands sent to either node are decided against the one ledger, both
// answer the same colours, and when the owning node stops, the other takes
// the projection over and loses nothing sent in between.
func TestTwoNodesOnePostgreSQL(t *testing.T) {
	l := postgresLedger(t)
	a := serve(t, l)
	persons := make([]string, 6)
	for i := range persons {
		persons[i] = uuid.NewString()
		a.command(t, a.admin, "register_person", map[string]any{"person_id": persons[i], "name": "N", "nationality": "CN",
			"document": map[string]any{"type": "resident_id", "number": fmt.Sprintf("31010119900101%04d", i), "country": "CN"}})
	}
	colour := func(s *served, token, p string) string {
		code, body := s.do(t, "GET", "/v1/persons/"+p+"/colour", token, nil)
		var row projections.Row
		if code != 200 || json.Unmarshal(body, &row) != nil {
			return fmt.Sprintf("%d %s", code, body)
		}
		return row.Colour.String()
	}
	issuanceA := a.token(t, "issuance")
	eventually(t, func() string {
		if c := colour(a, issuanceA, persons[0]); c != "green" {
			return "node a's projection has not caught up: " + c
		}
		return ""
	})

	b := serve(t, l)
	issuanceB := b.token(t, "issuance")
	clinicB := b.token(t, "clinic")
	// A diagnosis sent to b turns persons[1] red; both nodes answer it.
	b.command(t, clinicB, "record_diagnosis", map[string]any{"person_id": persons[1], "result": "confirmed"})
	for _, n := range []struct {
		name  string
		s     *served
		token string
	}{{"a", a, issuanceA}, {"b", b, issuanceB}} {
		eventually(t, func() string {
			if c := colour(n.s, n.token, persons[1]); c != "red" {
				return fmt.Sprintf("node %s answers %s for the diagnosed person", n.name, c)
			}
			return ""
		})
	}

	// The owner stops; what is sent to b meanwhile is projected once b
	// has the lease.
	a.stop()
	for _, p := range persons[2:] {
		b.command(t, clinicB, "record_diagnosis", map[string]any{"person_id": p, "result": "suspected"})
	}
	for _, p := range persons[2:] {
		eventually(t, func() string {
			if c := colour(b, issuanceB, p); c != domain.Red.String() {
				return fmt.Sprintf("after node a stopped, node b answers %s for %s", c, p)
			}
			return ""
		})
	}
	if c := colour(b, issuanceB, persons[0]); c != "green" {
		t.Errorf("the undiagnosed person is %s", c)
	}
}
