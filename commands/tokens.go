package commands

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// TokenPrefix starts every bearer token: "rl_" + the token's id + "." +
// its secret. The id names the token in the ledger and in access records;
// only the secret's hash is kept.
const TokenPrefix = "rl_"

// CreateToken creates a bearer token with t's role and binding (t's id and
// hash are made here) and returns the token, which is shown once and
// never kept. A citizen or guardian token must name a registered person
// (NotFound otherwise), a checkpoint token a registered checkpoint; other
// roles name neither (Invalid).
func (h *Handler) CreateToken(ctx context.Context, t domain.TokenCreated, at time.Time, actor string) (string, domain.TokenCreated, error) {
	switch {
	case t.Role.IsZero():
		return "", t, domain.Errorf(domain.Invalid, "a token needs a role")
	case t.Role.BoundToPerson() && (t.PersonID.IsZero() || !t.CheckpointID.IsZero()):
		return "", t, domain.Errorf(domain.Invalid, "a token of the %s role names the person it acts for (person_id, --person), and no checkpoint", t.Role)
	case t.Role == domain.RoleCheckpoint && (t.CheckpointID.IsZero() || !t.PersonID.IsZero()):
		return "", t, domain.Errorf(domain.Invalid, "a checkpoint token names its checkpoint (--checkpoint), and no person")
	case !t.Role.BoundToPerson() && t.Role != domain.RoleCheckpoint && (!t.PersonID.IsZero() || !t.CheckpointID.IsZero()):
		return "", t, domain.Errorf(domain.Invalid, "a token of the %s role names no person and no checkpoint", t.Role)
	}
	id, secret := make([]byte, 8), make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return "", t, err
	}
	if _, err := rand.Read(secret); err != nil {
		return "", t, err
	}
	t.TokenID = hex.EncodeToString(id)
	s := base64.RawURLEncoding.EncodeToString(secret)
	t.Hash = hashSecret(s)
	if _, err := h.Execute(ctx, domain.Command{At: at.UTC(), Body: domain.CreateToken(t)}, actor); err != nil {
		return "", t, err
	}
	return TokenPrefix + t.TokenID + "." + s, t, nil
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// RevokeToken ends a token: NotFound when the ledger has no such token,
// Conflict when it was revoked before.
func (h *Handler) RevokeToken(ctx context.Context, id, reason string, at time.Time, actor string) error {
	if strings.TrimSpace(reason) == "" {
		return domain.Errorf(domain.Invalid, "say why the token is revoked (a reason)")
	}
	_, err := h.Execute(ctx, domain.Command{At: at.UTC(), Body: domain.RevokeToken{TokenID: strings.TrimPrefix(id, TokenPrefix), Reason: reason}}, actor)
	return err
}

// RecordAccess appends a record of a look at personal data. A look
// without a reason is Forbidden: it must not happen.
func (h *Handler) RecordAccess(ctx context.Context, a domain.AccessRecorded, at time.Time) error {
	if strings.TrimSpace(a.Reason) == "" {
		return domain.Errorf(domain.Forbidden, "the %s role reads personal data only with a reason: add ?reason=... saying why", a.Role)
	}
	_, err := h.Execute(ctx, domain.Command{At: at.UTC(), Body: domain.RecordAccess(a)}, a.Actor)
	return err
}

func (h *Handler) changeTokens(b domain.Body) decision {
	return func(ctx context.Context, _ *turn) ([]change, error) {
		ts, err := ReadTokens(ctx, h.store)
		if err != nil {
			return nil, err
		}
		var f fact
		switch b := b.(type) {
		case domain.CreateToken:
			if b.Role.BoundToPerson() {
				st, err := h.loadPerson(ctx, b.PersonID)
				if err != nil {
					return nil, err
				}
				if st.erasedAt != 0 {
					return nil, domain.Errorf(domain.Conflict, "person %s was erased: no token acts for them", b.PersonID)
				}
			}
			if b.Role == domain.RoleCheckpoint {
				v, err := h.store.StreamVersion(ctx, domain.CheckpointStream(b.CheckpointID))
				if err != nil {
					return nil, err
				}
				if v == 0 {
					return nil, domain.Errorf(domain.NotFound, "checkpoint %s is not registered; register it first", b.CheckpointID)
				}
			}
			f = fact{domain.EvTokenCreated, domain.TokenCreated(b)}
		case domain.RevokeToken:
			t, ok := ts.Tokens[b.TokenID]
			switch {
			case !ok:
				return nil, domain.Errorf(domain.NotFound, "no token has the id %q; `riskledger token list` shows them", b.TokenID)
			case t.Revoked:
				return nil, domain.Errorf(domain.Conflict, "token %s was revoked before", b.TokenID)
			}
			f = fact{domain.EvTokenRevoked, domain.TokenRevoked(b)}
		}
		return []change{{stream: domain.TokensStream, expected: eventstore.Exactly(ts.Version), facts: []fact{f}}}, nil
	}
}

// Token is a token as the ledger knows it.
type Token struct {
	domain.TokenCreated
	Created time.Time `json:"created"`
	Revoked bool      `json:"revoked"`
}

// Tokens are the ledger's tokens, by id, and the version of the tokens
// stream they were read at.
type Tokens struct {
	Tokens  map[string]*Token
	Version int64
}

// ReadTokens reads every token of the ledger.
func ReadTokens(ctx context.Context, store eventstore.Store) (Tokens, error) {
	ts := Tokens{Tokens: map[string]*Token{}}
	evs, err := store.ReadStream(ctx, domain.TokensStream, 0)
	if err != nil {
		return ts, err
	}
	for _, e := range evs {
		ts.Version = e.StreamVersion
		switch e.Type {
		case domain.EvTokenCreated:
			var c domain.TokenCreated
			if err := json.Unmarshal(e.Payload, &c); err != nil {
				return ts, fmt.Errorf("token at position %d: %w", e.Position, err)
			}
			ts.Tokens[c.TokenID] = &Token{TokenCreated: c, Created: e.OccurredAt}
		case domain.EvTokenRevoked:
			var r domain.TokenRevoked
			if err := json.Unmarshal(e.Payload, &r); err != nil {
				return ts, fmt.Errorf("token revocation at position %d: %w", e.Position, err)
			}
			if t := ts.Tokens[r.TokenID]; t != nil {
				t.Revoked = true
			}
		}
	}
	return ts, nil
}

// Authenticate finds the live token that bearer is: Forbidden (with no
// hint of which part was wrong) otherwise.
func (ts Tokens) Authenticate(bearer string) (*Token, error) {
	refused := domain.Errorf(domain.Forbidden, "the token is not valid; ask an administrator for one (`riskledger token create`)")
	id, secret, ok := strings.Cut(strings.TrimPrefix(bearer, TokenPrefix), ".")
	if !ok || !strings.HasPrefix(bearer, TokenPrefix) {
		return nil, refused
	}
	t := ts.Tokens[id]
	if t == nil || t.Revoked || subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hashSecret(secret))) != 1 {
		return nil, refused
	}
	return t, nil
}

// TokenID returns the id part of a bearer token (or the string itself).
func TokenID(bearer string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(bearer, TokenPrefix), ".")
	return id
}
