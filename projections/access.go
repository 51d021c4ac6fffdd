package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// Access is one recorded look at personal data: who (a token and its
// role), what (the query), about whom, why, and when it was recorded.
type Access struct {
	Position   int64     `json:"position"`
	RecordedAt time.Time `json:"recorded_at"`
	domain.AccessRecorded
}

// AccessLog returns the recorded looks, oldest first: those about person
// (zero: any) by actor (a token id or "token:ID"; "": any).
func AccessLog(ctx context.Context, store eventstore.Store, person domain.PersonID, actor string) ([]Access, error) {
	evs, err := store.ReadStream(ctx, domain.AccessStream, 0)
	if err != nil {
		return nil, err
	}
	out := []Access{}
	for _, e := range evs {
		if e.Type != domain.EvAccessRecorded {
			continue
		}
		var a domain.AccessRecorded
		if err := json.Unmarshal(e.Payload, &a); err != nil {
			return nil, fmt.Errorf("access record at position %d: %w", e.Position, err)
		}
		if !person.IsZero() && a.PersonID != person || actor != "" && a.Actor != actor && a.Actor != "token:"+actor {
			continue
		}
		out = append(out, Access{Position: e.Position, RecordedAt: e.RecordedAt, AccessRecorded: a})
	}
	return out, nil
}
