package commands

import (
	"context"
	"errors"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/vault"
)

func (h *Handler) registerPerson(b domain.RegisterPerson) decision {
	return func(ctx context.Context, t *turn) ([]change, error) {
		reg, claim, err := h.registration(ctx, t, b.PersonID, b.Document, b.Name, b.Nationality, b.Phone, domain.PersonID{})
		if err != nil {
			return nil, err
		}
		return []change{unregistered(b.PersonID, reg), claim}, nil
	}
}

// unregistered is the change that registers a person whose id must be new.
func unregistered(p domain.PersonID, reg domain.PersonRegistered) change {
	return change{stream: domain.PersonStream(p), expected: eventstore.NoStream,
		facts:   []fact{{domain.EvPersonRegistered, reg}},
		refused: domain.Errorf(domain.Conflict, "person %s is already registered", p)}
}

// registration seals a person's personal data and claims their document:
// the PersonRegistered fact and the change that claims the document's
// stream, which fails if another person holds the document.
func (h *Handler) registration(ctx context.Context, t *turn, p domain.PersonID, doc domain.Document, name, nationality, phone string,
	guardian domain.PersonID) (domain.PersonRegistered, change, error) {
	index := h.vault.DocumentIndex(doc)
	sealer := t.sealer(p)
	seal := func(field, value string) (domain.Sealed, error) {
		if value == "" {
			return "", nil
		}
		if sealer != nil {
			return domain.Sealed(sealer.Seal(field, []byte(value)).String()), nil
		}
		sealed, err := h.vault.Seal(ctx, p.UUID(), field, []byte(value))
		if errors.Is(err, vault.ErrErased) {
			// Only a registered person is ever erased.
			return "", domain.Errorf(domain.Conflict, "person %s is already registered (and was erased)", p)
		}
		return domain.Sealed(sealed.String()), err
	}
	reg := domain.PersonRegistered{PersonID: p, Nationality: nationality, RegisteredBy: guardian,
		Document: domain.SealedDocument{Type: doc.Type, Country: doc.Country, Index: index}}
	var err error
	for _, f := range []struct {
		dst   *domain.Sealed
		field string
		value string
	}{{&reg.Document.Number, "document_number", doc.Number}, {&reg.Name, "name", name}, {&reg.Phone, "phone", phone}} {
		if *f.dst, err = seal(f.field, f.value); err != nil {
			return domain.PersonRegistered{}, change{}, err
		}
	}
	claim := change{stream: domain.DocumentStream(index), expected: eventstore.NoStream,
		facts: []fact{{domain.EvDocumentClaimed, domain.DocumentClaimed{PersonID: p}}},
		refused: domain.Errorf(domain.Conflict,
			"a person with this %s is already registered; look them up instead of registering again", doc.Type)}
	return reg, claim, nil
}

// sealer returns the batch's sealer for p, or nil.
func (t *turn) sealer(p domain.PersonID) *vault.Sealer {
	if t == nil {
		return nil
	}
	return t.sealers[p.UUID()]
}
