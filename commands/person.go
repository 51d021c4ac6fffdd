package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/vault"
)

// PersonRecord is what the ledger and the vault know of a person: the
// registration with its personal data opened (none once erased), and the
// dependents and guardian.
type PersonRecord struct {
	PersonID     domain.PersonID  `json:"person_id"`
	Registered   time.Time        `json:"registered"`
	Position     int64            `json:"position"`
	Erased       bool             `json:"erased"`
	Name         string           `json:"name,omitempty"`
	Phone        string           `json:"phone,omitempty"`
	Nationality  string           `json:"nationality"`
	Document     *domain.Document `json:"document,omitempty"`
	RegisteredBy domain.PersonID  `json:"registered_by,omitzero"`
	Verified     []string         `json:"verified"`
	Dependents   []Dependent      `json:"dependents"`
}

// Dependent is a guardian's dependent.
type Dependent struct {
	PersonID   domain.PersonID `json:"person_id"`
	UsableFrom domain.Date     `json:"usable_from"`
	Ended      bool            `json:"ended"`
}

// Person reads p's record, opening their personal data: NotFound when p
// is not registered. Callers record the look first (RecordAccess).
func (h *Handler) Person(ctx context.Context, p domain.PersonID) (PersonRecord, error) {
	evs, err := h.store.ReadStream(ctx, domain.PersonStream(p), 0)
	if err != nil {
		return PersonRecord{}, err
	}
	if len(evs) == 0 {
		return PersonRecord{}, notRegistered(p)
	}
	r := PersonRecord{PersonID: p, Verified: []string{}, Dependents: []Dependent{}}
	var reg domain.PersonRegistered
	deps := map[domain.PersonID]int{}
	for _, e := range evs {
		switch e.Type {
		case domain.EvPersonRegistered:
			if err := json.Unmarshal(e.Payload, &reg); err != nil {
				return r, fmt.Errorf("read registration at %d: %w", e.Position, err)
			}
			r.Registered, r.Position = e.OccurredAt, e.Position
		case domain.EvIdentityVerified:
			var v domain.IdentityVerified
			if err := json.Unmarshal(e.Payload, &v); err != nil {
				return r, fmt.Errorf("read verification at %d: %w", e.Position, err)
			}
			r.Verified = append(r.Verified, v.Method.String())
		case domain.EvDependentApplied:
			var d domain.DependentApplied
			if err := json.Unmarshal(e.Payload, &d); err != nil {
				return r, fmt.Errorf("read dependent at %d: %w", e.Position, err)
			}
			deps[d.DependentID] = len(r.Dependents)
			r.Dependents = append(r.Dependents, Dependent{PersonID: d.DependentID, UsableFrom: d.UsableFrom})
		case domain.EvDependentEnded:
			var d domain.DependentEnded
			if err := json.Unmarshal(e.Payload, &d); err != nil {
				return r, fmt.Errorf("read dependent's end at %d: %w", e.Position, err)
			}
			if i, ok := deps[d.DependentID]; ok {
				r.Dependents[i].Ended = true
			}
		case domain.EvPersonErased:
			r.Erased = true
		}
	}
	r.Nationality, r.RegisteredBy = reg.Nationality, reg.RegisteredBy
	if r.Erased {
		return r, nil
	}
	open := func(field string, s domain.Sealed) (string, error) {
		if s == "" {
			return "", nil
		}
		sealed, err := vault.ParseSealed(string(s))
		if err != nil {
			return "", fmt.Errorf("%s of %s: %w", field, p, err)
		}
		b, err := h.vault.Open(ctx, p.UUID(), field, sealed)
		return string(b), err
	}
	number, err := open("document_number", reg.Document.Number)
	if err == nil {
		r.Name, err = open("name", reg.Name)
	}
	if err == nil {
		r.Phone, err = open("phone", reg.Phone)
	}
	if errors.Is(err, vault.ErrErased) {
		r.Erased, r.Name, r.Phone = true, "", ""
		return r, nil
	}
	if err != nil {
		return r, err
	}
	r.Document = &domain.Document{Type: reg.Document.Type, Number: number, Country: reg.Document.Country}
	return r, nil
}

// FindByDocument returns the person registered with doc (by its keyed
// hash: the document itself is never stored in clear): NotFound when
// nobody is.
func (h *Handler) FindByDocument(ctx context.Context, doc domain.Document) (domain.PersonID, error) {
	evs, err := h.store.ReadStream(ctx, domain.DocumentStream(h.vault.DocumentIndex(doc)), 0)
	if err != nil {
		return domain.PersonID{}, err
	}
	for _, e := range evs {
		if e.Type == domain.EvDocumentClaimed {
			var c domain.DocumentClaimed
			if err := json.Unmarshal(e.Payload, &c); err != nil {
				return domain.PersonID{}, fmt.Errorf("read document claim at %d: %w", e.Position, err)
			}
			return c.PersonID, nil
		}
	}
	return domain.PersonID{}, domain.Errorf(domain.NotFound, "nobody is registered with that %s; check its number and country", doc.Type)
}
