package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// scanCode decides the scan of a code: it verifies the code as an offline
// scanner would (prefix to day, at the scan's time); a code of ours names
// its person through the pseudonym's stream, and the stricter of the
// code's colour and the person's live colour decides ("code outdated");
// another issuer's code must be of an issuer the checkpoint recognises.
// A refused code is recorded as a denied scan, with the step that failed.
func (h *Handler) scanCode(ctx context.Context, cmd domain.Command, b domain.RecordScan, cp checkpointState,
	policy domain.PolicyParams, changes []change, scan domain.ScanRecorded) ([]change, error) {
	if h.issuer == nil {
		return nil, domain.Errorf(domain.Unavailable, "this node holds no trust list (no issuer key), so it cannot check codes; set issuer_key_file")
	}
	fever := b.TemperatureCelsius != nil && *b.TemperatureCelsius >= policy.FeverCelsius
	t, err := h.trusted(ctx)
	if err != nil {
		return nil, err
	}
	// The decision rests on the trust list as read (a cached list that
	// has since moved costs one retry).
	changes = append(changes, change{stream: domain.TrustStream, expected: eventstore.Exactly(t.list.Version)})
	r := codes.Verify(b.Code, t.trust, cmd.At, h.issuer.Location)
	scan.Subject = domain.ScanSubject{Kind: domain.SubjectForeign}
	if r.Claims != nil {
		scan.Subject.Issuer, scan.Subject.Pseudonym = r.Claims.Issuer, r.Claims.Pseudonym
	}
	switch {
	case !r.Valid:
		scan.Reason = fmt.Sprintf("%s: %s: %s", domain.ReasonCodeInvalid, r.Step, r.Reason)
		return h.recorded(changes, scan, false), nil
	case r.Prefix == "RL1" && r.Claims.Issuer == h.issuer.ID:
		issued, version, err := h.issuedCode(ctx, r.Claims.Pseudonym)
		if err != nil {
			return nil, err
		}
		scan.Subject = domain.ScanSubject{Kind: domain.SubjectPerson, PersonID: issued.PersonID}
		changes = append(changes, change{stream: domain.CodeStream(r.Claims.Pseudonym), expected: eventstore.Exactly(version)})
		if !fever {
			if err := h.admit(ctx, cp, &scan, issued.PersonID, cmd.At); err != nil {
				return nil, err
			}
			if live := scan.Colour; live.StricterThan(r.Claims.Colour) {
				scan.Reason = fmt.Sprintf("%s: the code says %s, the ledger now %s; %s", domain.ReasonCodeOutdated, r.Claims.Colour, live, scan.Reason)
			} else if r.Claims.Colour.StricterThan(live) {
				// The code is stricter than the ledger now: it decides.
				scan.Colour = r.Claims.Colour
				scan.Admitted = slices.Contains(cp.reg.Admits, scan.Colour)
				scan.Reason = fmt.Sprintf("the code says %s (the ledger now %s); %s is %s here", scan.Colour, live, scan.Colour, admittedWord(scan.Admitted))
			}
		} else {
			scan.Reason = feverReason(*b.TemperatureCelsius, policy)
		}
		return h.recorded(changes, scan, fever), nil
	case !slices.Contains(cp.reg.Recognises, r.Claims.Issuer):
		scan.Reason = fmt.Sprintf("%s: %s's codes are not recognised at this checkpoint", domain.ReasonIssuerUnrecognised, r.Claims.Issuer)
	case fever:
		scan.Reason = feverReason(*b.TemperatureCelsius, policy)
	default:
		scan.Colour = r.Claims.Colour
		if scan.Colour.IsZero() {
			scan.Colour = domain.Green // an EU DCC holder: a valid certificate, no colour of ours
		}
		scan.Admitted = slices.Contains(cp.reg.Admits, scan.Colour)
		scan.Reason = fmt.Sprintf("%s's %s code: %s is %s here", r.Claims.Issuer, scan.Colour, scan.Colour, admittedWord(scan.Admitted))
	}
	return h.recorded(changes, scan, false), nil
}

func admittedWord(admitted bool) string {
	if admitted {
		return "admitted"
	}
	return "not admitted"
}

// issuedCode reads the issuance of a pseudonym's code.
func (h *Handler) issuedCode(ctx context.Context, pseudonym string) (domain.CodeIssued, int64, error) {
	evs, err := h.store.ReadStream(ctx, domain.CodeStream(pseudonym), 0)
	if err != nil {
		return domain.CodeIssued{}, 0, err
	}
	if len(evs) == 0 {
		return domain.CodeIssued{}, 0, domain.Errorf(domain.NotFound, "the code's pseudonym %s was never issued by this ledger, though its signature is ours; report the code", pseudonym)
	}
	var c domain.CodeIssued
	if err := json.Unmarshal(evs[0].Payload, &c); err != nil {
		return c, 0, fmt.Errorf("read code at %d: %w", evs[0].Position, err)
	}
	return c, evs[len(evs)-1].StreamVersion, nil
}
