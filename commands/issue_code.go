package commands

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// Issuer is what signs codes: the issuer id our codes name, its key, and
// the zone whose days the codes are valid on.
type Issuer struct {
	ID       string
	Region   string
	Key      *ecdsa.PrivateKey
	Location *time.Location
}

// SetIssuer gives the handler the key that signs codes; scanned codes
// are checked against it and the ledger's trust list.
func (h *Handler) SetIssuer(i *Issuer) error {
	if _, err := i.Trusted(); err != nil {
		return err
	}
	h.issuer = i
	return nil
}

// IssueCode retrieves person's code for the local day of at, on behalf of
// requestedBy (the zero id: the person themself; for a dependent, their
// guardian). The code is valid on that day only and carries the colour the
// ledger knows for the person at at. It is refused (Forbidden) for an
// erased person and for a dependent's code asked by anyone but their
// guardian, and (Invalid) before the dependent's usable_from day.
func (h *Handler) IssueCode(ctx context.Context, person, requestedBy domain.PersonID, at time.Time, actor string) (domain.CodeIssued, error) {
	// Each retrieval is a new code: the key is new, not the content's.
	cmd := domain.Command{ID: "code:" + uuid.NewString(), At: at.UTC(), Body: domain.IssueCode{PersonID: person, RequestedBy: requestedBy}}
	r, err := h.Execute(ctx, cmd, actor)
	if err != nil {
		return domain.CodeIssued{}, err
	}
	var c domain.CodeIssued
	err = json.Unmarshal(r.Events[0].Payload, &c)
	return c, err
}

func (h *Handler) issueCode(cmd domain.Command, b domain.IssueCode) decision {
	return func(ctx context.Context, _ *turn) ([]change, error) {
		if h.issuer == nil {
			return nil, domain.Errorf(domain.Unavailable, "this node has no issuer key, so it cannot sign codes; set issuer_key_file")
		}
		if h.colours == nil {
			return nil, domain.Errorf(domain.Unavailable, "the colour view is not running, so no code can be issued; try again shortly")
		}
		st, err := h.loadPerson(ctx, b.PersonID)
		if err != nil {
			return nil, err
		}
		if st.erasedAt > 0 {
			return nil, domain.Errorf(domain.Forbidden, "person %s was erased; an erased person gets no code", b.PersonID)
		}
		reg := st.reg
		loc := h.issuer.Location
		day := domain.DateOf(cmd.At, loc)
		changes := []change{{stream: domain.PersonStream(b.PersonID), expected: eventstore.Exactly(st.version)}}
		switch guardian := reg.RegisteredBy; {
		case guardian.IsZero():
			if !b.RequestedBy.IsZero() && b.RequestedBy != b.PersonID {
				return nil, domain.Errorf(domain.Forbidden, "only person %s retrieves their own code", b.PersonID)
			}
		case b.RequestedBy != guardian:
			return nil, domain.Errorf(domain.Forbidden, "%s is a dependent: their guardian %s retrieves their code", b.PersonID, guardian)
		default:
			dep, version, err := h.dependency(ctx, guardian, b.PersonID)
			if err != nil {
				return nil, err
			}
			if day.Before(dep.UsableFrom) {
				return nil, domain.Errorf(domain.Invalid, "dependent %s's code is usable from %s, not on %s", b.PersonID, dep.UsableFrom, day)
			}
			changes = append(changes, change{stream: domain.PersonStream(guardian), expected: eventstore.Exactly(version)})
		}
		colour, position, err := h.colours.ColourAt(ctx, b.PersonID, cmd.At)
		if err != nil {
			return nil, err
		}
		var random [16]byte
		if _, err := rand.Read(random[:]); err != nil {
			return nil, err
		}
		pseudonym := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(random[:]))
		kid, err := codes.KeyID(h.issuer.Key.Public())
		if err != nil {
			return nil, err
		}
		code, err := codes.Issue(codes.Claims{Issuer: h.issuer.ID, IssuedAt: cmd.At, Expires: day.Next().Start(loc),
			Pseudonym: pseudonym, Colour: colour, Day: day, Position: position}, h.issuer.Key)
		if err != nil {
			return nil, err
		}
		issued := domain.CodeIssued{PersonID: b.PersonID, RequestedBy: b.RequestedBy, Day: day, Colour: colour, Basis: position,
			Pseudonym: pseudonym, Issuer: h.issuer.ID, KeyID: hex.EncodeToString(kid), Code: code}
		// The code's stream first: IssueCode reads the event from there.
		return append([]change{{stream: domain.CodeStream(pseudonym), expected: eventstore.NoStream,
			facts: []fact{{domain.EvCodeIssued, issued}}}}, changes...), nil
	}
}

// dependency returns the guardian's active application for dependent, and
// the version of the guardian's stream it was read at.
func (h *Handler) dependency(ctx context.Context, guardian, dependent domain.PersonID) (domain.DependentApplied, int64, error) {
	evs, err := h.store.ReadStream(ctx, domain.PersonStream(guardian), 0)
	if err != nil {
		return domain.DependentApplied{}, 0, err
	}
	var dep domain.DependentApplied
	active := false
	for _, e := range evs {
		if e.Type != domain.EvDependentApplied && e.Type != domain.EvDependentEnded {
			continue
		}
		var d domain.DependentApplied // DependentEnded has the same two ids
		if err := json.Unmarshal(e.Payload, &d); err != nil {
			return dep, 0, fmt.Errorf("read %s at %d: %w", e.Type, e.Position, err)
		}
		if d.DependentID == dependent {
			active = e.Type == domain.EvDependentApplied
			if active {
				dep = d
			}
		}
	}
	if !active {
		return dep, 0, domain.Errorf(domain.Forbidden, "%s is no longer a dependent of %s, so %s cannot retrieve their code", dependent, guardian, guardian)
	}
	return dep, evs[len(evs)-1].StreamVersion, nil
}

// GuardianOf tells whether dependent is, now, an active dependent of
// guardian: who may act for a person without a phone.
func (h *Handler) GuardianOf(ctx context.Context, guardian, dependent domain.PersonID) (bool, error) {
	_, _, err := h.dependency(ctx, guardian, dependent)
	if domain.ErrorCode(err) == domain.Forbidden {
		return false, nil
	}
	return err == nil, err
}
