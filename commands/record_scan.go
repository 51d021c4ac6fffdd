package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// ColourView answers a person's colour at a time as the ledger knows it now,
// and the ledger position that answer reflects. The colour projection
// provides it; admission records the position so that an audit can
// re-derive the decision.
type ColourView interface {
	ColourAt(ctx context.Context, person domain.PersonID, at time.Time) (domain.Colour, int64, error)
}

// SetColours gives the handler the colour view that scans of codes and
// manual checks are decided against.
func (h *Handler) SetColours(v ColourView) { h.colours = v }

func (h *Handler) recordScan(cmd domain.Command, b domain.RecordScan) decision {
	return func(ctx context.Context) ([]change, error) {
		cp, err := h.loadCheckpoint(ctx, b.CheckpointID)
		if err != nil {
			return nil, err
		}
		policy, err := h.policyAt(ctx, cmd.At)
		if err != nil {
			return nil, err
		}
		scan := domain.ScanRecorded{CheckpointID: b.CheckpointID, Method: b.Method, TemperatureCelsius: b.TemperatureCelsius}
		switch {
		case !b.PersonID.IsZero():
			v, err := h.store.StreamVersion(ctx, domain.PersonStream(b.PersonID))
			if err != nil {
				return nil, err
			}
			if v == 0 {
				return nil, notRegistered(b.PersonID)
			}
			scan.Subject = domain.ScanSubject{Kind: domain.SubjectPerson, PersonID: b.PersonID}
		case b.Visitor != nil:
			scan.Subject = domain.ScanSubject{Kind: domain.SubjectVisitor, VisitorIndex: h.vault.DocumentIndex(b.Visitor.Document)}
		default:
			return nil, domain.Errorf(domain.Invalid, "scans of a code are not accepted by this version: scan the person's id (person_id) or record a visitor")
		}
		fever := b.TemperatureCelsius != nil && *b.TemperatureCelsius >= policy.FeverCelsius
		switch {
		case fever:
			scan.Reason = fmt.Sprintf("temperature %.1f °C is at or above %.1f °C", *b.TemperatureCelsius, policy.FeverCelsius)
		case b.Method == domain.ScanImported:
			scan.Admitted, scan.Reason = true, "imported scan"
		case scan.Subject.Kind == domain.SubjectVisitor:
			// No code at all: admitted on temperature alone.
			scan.Admitted = b.TemperatureCelsius != nil
			scan.Reason = "no code: admitted on a normal temperature"
			if !scan.Admitted {
				scan.Reason = "no code and no temperature reading: measure the temperature"
			}
		default:
			if h.colours == nil {
				return nil, domain.Errorf(domain.Unavailable, "the colour view is not running, so the scan cannot be decided; try again shortly")
			}
			colour, pos, err := h.colours.ColourAt(ctx, b.PersonID, cmd.At)
			if err != nil {
				return nil, err
			}
			scan.Colour, scan.ViewPosition = colour, pos
			scan.Admitted = slices.Contains(cp.Admits, colour)
			scan.Reason = colour.String() + " is not admitted here"
			if scan.Admitted {
				scan.Reason = colour.String() + " is admitted here"
			}
		}
		changes := []change{{stream: domain.ScansStream(b.CheckpointID), expected: eventstore.Any,
			facts: []fact{{domain.EvScanRecorded, scan}}}}
		if fever && scan.Subject.Kind == domain.SubjectPerson {
			// The reading is a symptom report too, in the same atomic append.
			fv, _ := domain.ParseSymptom("fever")
			changes = append(changes, change{stream: domain.PersonStream(b.PersonID), expected: eventstore.StreamExists,
				facts: []fact{{domain.EvSymptomsReported, domain.SymptomsReported{PersonID: b.PersonID,
					Symptoms: []domain.Symptom{fv}, Source: domain.SymptomSourceCheckpoint}}}})
		}
		return changes, nil
	}
}

// loadCheckpoint returns a checkpoint's latest registration.
func (h *Handler) loadCheckpoint(ctx context.Context, id domain.CheckpointID) (domain.CheckpointRegistered, error) {
	var cp domain.CheckpointRegistered
	evs, err := h.store.ReadStream(ctx, domain.CheckpointStream(id), 0)
	if err != nil {
		return cp, err
	}
	found := false
	for _, e := range evs {
		if e.Type == domain.EvCheckpointRegistered {
			if err := json.Unmarshal(e.Payload, &cp); err != nil {
				return cp, fmt.Errorf("read checkpoint at %d: %w", e.Position, err)
			}
			found = true
		}
	}
	if !found {
		return cp, domain.Errorf(domain.NotFound, "checkpoint %s is not registered; register it first", id)
	}
	return cp, nil
}

// policyAt returns the parameters in force at t: version 1's defaults, or
// the published version with the latest effective time at or before t.
func (h *Handler) policyAt(ctx context.Context, t time.Time) (domain.PolicyParams, error) {
	params := domain.DefaultPolicyParams()
	evs, err := h.store.ReadStream(ctx, domain.PolicyStream, 0)
	if err != nil {
		return params, err
	}
	var from time.Time
	for _, e := range evs {
		var p domain.PolicyPublished
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			return params, fmt.Errorf("read policy at %d: %w", e.Position, err)
		}
		if !p.EffectiveFrom.After(t) && !p.EffectiveFrom.Before(from) {
			params, from = p.Params, p.EffectiveFrom
		}
	}
	return params, nil
}
