package commands

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// TrustIssuer adds an issuer to the ledger's trust list, or replaces what
// was trusted of it (its region, its keys). Keys that cannot be read are
// Invalid, and nothing is appended.
func (h *Handler) TrustIssuer(ctx context.Context, e domain.IssuerTrusted, at time.Time, actor string) error {
	if err := codes.NewTrust().AddTrusted(e); err != nil {
		return err
	}
	if e.Issuer == h.ownIssuer() {
		return domain.Errorf(domain.Conflict, "%q is this ledger's own issuer, trusted with its own key; name another issuer", e.Issuer)
	}
	_, err := h.Execute(ctx, domain.Command{At: at.UTC(), Body: domain.TrustIssuer(e)}, actor)
	return err
}

// RevokeIssuer removes an issuer from the trust list. An issuer that is not
// trusted is NotFound.
func (h *Handler) RevokeIssuer(ctx context.Context, issuer, reason string, at time.Time, actor string) error {
	_, err := h.Execute(ctx, domain.Command{At: at.UTC(), Body: domain.RevokeIssuer{Issuer: issuer, Reason: reason}}, actor)
	return err
}

// RetireIssuerKey records that this ledger's issuer stops signing with
// key at at: codes it signed before then still verify until they expire.
func (h *Handler) RetireIssuerKey(ctx context.Context, issuer string, key domain.TrustedKey, at time.Time, actor string) error {
	key.Until = at.UTC()
	_, err := h.Execute(ctx, domain.Command{At: at.UTC(), Body: domain.RetireIssuerKey{Issuer: issuer, Key: key}}, actor)
	return err
}

func (h *Handler) ownIssuer() string {
	if h.issuer == nil {
		return ""
	}
	return h.issuer.ID
}

func (h *Handler) changeTrust(b domain.Body) decision {
	return func(ctx context.Context, _ *turn) ([]change, error) {
		list, err := ReadTrustList(ctx, h.store)
		if err != nil {
			return nil, err
		}
		var f fact
		switch b := b.(type) {
		case domain.TrustIssuer:
			f = fact{domain.EvIssuerTrusted, domain.IssuerTrusted(b)}
		case domain.RevokeIssuer:
			if _, ok := list.Issuers[b.Issuer]; !ok {
				return nil, domain.Errorf(domain.NotFound, "issuer %q is not in the trust list", b.Issuer)
			}
			f = fact{domain.EvIssuerRevoked, domain.IssuerRevoked(b)}
		case domain.RetireIssuerKey:
			f = fact{domain.EvIssuerKeyRetired, domain.IssuerKeyRetired(b)}
		}
		return []change{{stream: domain.TrustStream, expected: eventstore.Exactly(list.Version), facts: []fact{f}}}, nil
	}
}

// TrustList is the ledger's trust list: each trusted issuer as last
// trusted, and the version of the trust stream it was read at.
type TrustList struct {
	Issuers map[string]domain.IssuerTrusted
	// Retired are the retired keys of issuers of our own (keys rotate),
	// the latest retirement of each key.
	Retired map[string][]domain.TrustedKey
	Version int64
}

// ReadTrustList folds the trust stream.
func ReadTrustList(ctx context.Context, store eventstore.Store) (TrustList, error) {
	evs, err := store.ReadStream(ctx, domain.TrustStream, 0)
	if err != nil {
		return TrustList{}, err
	}
	l := TrustList{Issuers: map[string]domain.IssuerTrusted{}, Retired: map[string][]domain.TrustedKey{}}
	for _, e := range evs {
		l.Version = e.StreamVersion
		switch e.Type {
		case domain.EvIssuerTrusted:
			var t domain.IssuerTrusted
			if err := json.Unmarshal(e.Payload, &t); err != nil {
				return l, fmt.Errorf("read trust list at %d: %w", e.Position, err)
			}
			l.Issuers[t.Issuer] = t
		case domain.EvIssuerRevoked:
			var r domain.IssuerRevoked
			if err := json.Unmarshal(e.Payload, &r); err != nil {
				return l, fmt.Errorf("read trust list at %d: %w", e.Position, err)
			}
			delete(l.Issuers, r.Issuer)
		case domain.EvIssuerKeyRetired:
			var r domain.IssuerKeyRetired
			if err := json.Unmarshal(e.Payload, &r); err != nil {
				return l, fmt.Errorf("read trust list at %d: %w", e.Position, err)
			}
			keys := slices.DeleteFunc(l.Retired[r.Issuer], func(k domain.TrustedKey) bool { return bytes.Equal(k.PublicKey, r.Key.PublicKey) })
			l.Retired[r.Issuer] = append(keys, r.Key)
		}
	}
	return l, nil
}

// Trust builds what a scanner verifies against: the list's issuers and,
// when own is given, this ledger's own issuer and key.
func (l TrustList) Trust(own *Issuer) (*codes.Trust, error) {
	t := codes.NewTrust()
	if own != nil {
		e, err := l.Own(own)
		if err != nil {
			return nil, err
		}
		if err := t.AddTrusted(e); err != nil {
			return nil, err
		}
	}
	for _, e := range l.Issuers {
		if err := t.AddTrusted(e); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Own is our own issuer as the trust list has it: its current key, and the
// keys it retired, each for the codes it signed before its retirement.
func (l TrustList) Own(own *Issuer) (domain.IssuerTrusted, error) {
	e, err := own.Trusted()
	if err != nil {
		return e, err
	}
	for _, k := range l.Retired[own.ID] {
		if !bytes.Equal(k.PublicKey, e.Keys[0].PublicKey) {
			e.Keys = append(e.Keys, k)
		}
	}
	return e, nil
}

// Trusted is the issuer as the trust list writes it: id, region, public key.
func (i *Issuer) Trusted() (domain.IssuerTrusted, error) {
	region, err := domain.ParseRegion(i.Region)
	if err != nil {
		return domain.IssuerTrusted{}, domain.Errorf(domain.Invalid, "the issuer's region: %s", domain.ErrorMessage(err))
	}
	der, err := x509.MarshalPKIXPublicKey(i.Key.Public())
	if err != nil {
		return domain.IssuerTrusted{}, err
	}
	return domain.IssuerTrusted{Issuer: i.ID, Region: region, Keys: []domain.TrustedKey{{PublicKey: der}}}, nil
}
