package commands

import (
	"context"
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
	return func(ctx context.Context, _ *turn) ([]change, error) {
		cp, err := h.checkpoint(ctx, b.CheckpointID)
		if err != nil {
			return nil, err
		}
		policies, err := h.policies(ctx)
		if err != nil {
			return nil, err
		}
		policy := policies.at(cmd.At)
		// What the decision read, as conditions of its append.
		changes := []change{
			{stream: domain.CheckpointStream(b.CheckpointID), expected: eventstore.Exactly(cp.version)},
			policies.condition(),
		}
		scan := domain.ScanRecorded{CheckpointID: b.CheckpointID, Method: b.Method, TemperatureCelsius: b.TemperatureCelsius}
		switch {
		case !b.PersonID.IsZero():
			scan.Subject = domain.ScanSubject{Kind: domain.SubjectPerson, PersonID: b.PersonID}
		case b.Visitor != nil:
			scan.Subject = domain.ScanSubject{Kind: domain.SubjectVisitor, VisitorIndex: h.vault.DocumentIndex(b.Visitor.Document)}
		default:
			return h.scanCode(ctx, cmd, b, cp, policy, changes, scan)
		}
		fever := b.TemperatureCelsius != nil && *b.TemperatureCelsius >= policy.FeverCelsius
		switch {
		case fever:
			scan.Reason = feverReason(*b.TemperatureCelsius, policy)
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
			if err := h.admit(ctx, cp, &scan, b.PersonID, cmd.At); err != nil {
				return nil, err
			}
		}
		return h.recorded(changes, scan, fever), nil
	}
}

// feverReason is the reason of a scan denied for its temperature.
func feverReason(celsius float64, policy domain.PolicyParams) string {
	return fmt.Sprintf("temperature %.1f °C is at or above %.1f °C", celsius, policy.FeverCelsius)
}

// admit decides the scan of person's own id on their live colour.
func (h *Handler) admit(ctx context.Context, cp checkpointState, scan *domain.ScanRecorded, person domain.PersonID, at time.Time) error {
	if h.colours == nil {
		return domain.Errorf(domain.Unavailable, "the colour view is not running, so the scan cannot be decided; try again shortly")
	}
	colour, pos, err := h.colours.ColourAt(ctx, person, at)
	if err != nil {
		return err
	}
	scan.Colour, scan.ViewPosition = colour, pos
	scan.Admitted = slices.Contains(cp.reg.Admits, colour)
	scan.Reason = colour.String() + " is not admitted here"
	if scan.Admitted {
		scan.Reason = colour.String() + " is admitted here"
	}
	return nil
}

// recorded appends the decided scan, and, for a scan of a person, the
// condition that they are registered and a fever reading's symptom report.
func (h *Handler) recorded(changes []change, scan domain.ScanRecorded, fever bool) []change {
	changes = append(changes, change{stream: domain.ScansStream(scan.CheckpointID), expected: eventstore.Any,
		facts: []fact{{domain.EvScanRecorded, scan}}})
	if scan.Subject.Kind == domain.SubjectPerson {
		person := registered(scan.Subject.PersonID)
		if fever {
			// The reading is a symptom report too, in the same atomic append.
			fv, _ := domain.ParseSymptom("fever")
			person.facts = []fact{{domain.EvSymptomsReported, domain.SymptomsReported{PersonID: scan.Subject.PersonID,
				Symptoms: []domain.Symptom{fv}, Source: domain.SymptomSourceCheckpoint}}}
		}
		changes = append(changes, person)
	}
	return changes
}
