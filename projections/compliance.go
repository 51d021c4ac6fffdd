package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// CheckpointRefusals is a checkpoint's refusals of codes that verified and
// whose issuer the trust list holds, but which the checkpoint does not
// recognise: the refusals of neighbouring regions' codes seen in 2020.
type CheckpointRefusals struct {
	CheckpointID domain.CheckpointID `json:"checkpoint_id"`
	Name         string              `json:"name"`
	Denials      int                 `json:"denials"`
	Issuers      map[string]int      `json:"issuers"`
	First        time.Time           `json:"first"`
	Last         time.Time           `json:"last"`
}

// Compliance reads the ledger for the checkpoints that refused
// recognisable codes, most refusals first.
func Compliance(ctx context.Context, store eventstore.Store) ([]CheckpointRefusals, error) {
	by := map[domain.CheckpointID]*CheckpointRefusals{}
	names := map[domain.CheckpointID]string{}
	for after := int64(0); ; {
		evs, err := store.ReadAll(ctx, after, 10000)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			break
		}
		after = evs[len(evs)-1].Position
		for _, e := range evs {
			switch e.Type {
			case domain.EvCheckpointRegistered:
				var c domain.CheckpointRegistered
				if err := json.Unmarshal(e.Payload, &c); err != nil {
					return nil, fmt.Errorf("read checkpoint at %d: %w", e.Position, err)
				}
				names[c.CheckpointID] = c.Name
			case domain.EvScanRecorded:
				var s domain.ScanRecorded
				if err := json.Unmarshal(e.Payload, &s); err != nil {
					return nil, fmt.Errorf("read scan at %d: %w", e.Position, err)
				}
				if s.Admitted || !strings.HasPrefix(s.Reason, domain.ReasonIssuerUnrecognised+":") {
					continue
				}
				r := by[s.CheckpointID]
				if r == nil {
					r = &CheckpointRefusals{CheckpointID: s.CheckpointID, Issuers: map[string]int{}, First: e.OccurredAt}
					by[s.CheckpointID] = r
				}
				r.Denials++
				r.Issuers[s.Subject.Issuer]++
				if e.OccurredAt.Before(r.First) {
					r.First = e.OccurredAt
				}
				if e.OccurredAt.After(r.Last) {
					r.Last = e.OccurredAt
				}
			}
		}
	}
	out := []CheckpointRefusals{}
	for id, r := range by {
		r.Name = names[id]
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b CheckpointRefusals) int {
		if a.Denials != b.Denials {
			return b.Denials - a.Denials
		}
		return strings.Compare(a.CheckpointID.String(), b.CheckpointID.String())
	})
	return out, nil
}
