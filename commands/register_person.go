package commands

import (
	"context"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

func (h *Handler) registerPerson(b domain.RegisterPerson) decision {
	return func(ctx context.Context) ([]change, error) {
		if err := h.unregistered(ctx, b.PersonID); err != nil {
			return nil, err
		}
		reg, claim, err := h.registration(ctx, b.PersonID, b.Document, b.Name, b.Nationality, b.Phone, domain.PersonID{})
		if err != nil {
			return nil, err
		}
		return []change{{stream: domain.PersonStream(b.PersonID), expected: eventstore.NoStream,
			facts: []fact{{domain.EvPersonRegistered, reg}}}, claim}, nil
	}
}

// unregistered fails when the person id is taken.
func (h *Handler) unregistered(ctx context.Context, p domain.PersonID) error {
	v, err := h.store.StreamVersion(ctx, domain.PersonStream(p))
	if err != nil {
		return err
	}
	if v > 0 {
		return domain.Errorf(domain.Conflict, "person %s is already registered", p)
	}
	return nil
}

// registration seals a person's personal data and claims their document:
// the PersonRegistered fact and the change that claims the document's
// stream, which fails if another person holds the document.
func (h *Handler) registration(ctx context.Context, p domain.PersonID, doc domain.Document, name, nationality, phone string,
	guardian domain.PersonID) (domain.PersonRegistered, change, error) {
	index := h.vault.DocumentIndex(doc)
	docStream := domain.DocumentStream(index)
	v, err := h.store.StreamVersion(ctx, docStream)
	if err != nil {
		return domain.PersonRegistered{}, change{}, err
	}
	if v > 0 {
		return domain.PersonRegistered{}, change{}, domain.Errorf(domain.Conflict,
			"a person with this %s is already registered; look them up instead of registering again", doc.Type)
	}
	seal := func(field, value string) (domain.Sealed, error) {
		if value == "" {
			return "", nil
		}
		sealed, err := h.vault.Seal(ctx, p.UUID(), field, []byte(value))
		return domain.Sealed(sealed.String()), err
	}
	reg := domain.PersonRegistered{PersonID: p, Nationality: nationality, RegisteredBy: guardian,
		Document: domain.SealedDocument{Type: doc.Type, Country: doc.Country, Index: index}}
	for _, f := range []struct {
		dst   *domain.Sealed
		field string
		value string
	}{{&reg.Document.Number, "document_number", doc.Number}, {&reg.Name, "name", name}, {&reg.Phone, "phone", phone}} {
		if *f.dst, err = seal(f.field, f.value); err != nil {
			return domain.PersonRegistered{}, change{}, err
		}
	}
	claim := change{stream: docStream, expected: eventstore.NoStream,
		facts: []fact{{domain.EvDocumentClaimed, domain.DocumentClaimed{PersonID: p}}}}
	return reg, claim, nil
}
