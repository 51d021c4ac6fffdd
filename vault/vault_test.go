package vault_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/vault"
	"github.com/riskledger/riskledger/vault/sqlite"
	"github.com/riskledger/riskledger/vault/vaulttest"
)

// newVault returns a vault with master key over a key store of its own.
func newVault(t *testing.T, master []byte) *vault.Vault {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return vaulttest.NewVault(t, s, master)
}

func TestBlindIndex(t *testing.T) {
	master := vaulttest.NewMasterKey(t)
	v := newVault(t, master)
	doc := vault.DocumentValue("passport", "FR", "AB123456")
	idx := v.BlindIndex(vault.KindDocument, doc)

	if len(idx) != 64 {
		t.Fatalf("index %q is not 64 hex digits", idx)
	}
	if _, err := hex.DecodeString(idx); err != nil {
		t.Fatalf("index %q is not hex: %v", idx, err)
	}
	if got := v.BlindIndex(vault.KindDocument, doc); got != idx {
		t.Fatalf("the same value indexed twice: %s, then %s", idx, got)
	}
	if got := newVault(t, master).BlindIndex(vault.KindDocument, doc); got != idx {
		t.Fatal("another vault with the same master key (another node) gives another index")
	}
	plain := sha256.Sum256([]byte(doc))
	if idx == hex.EncodeToString(plain[:]) {
		t.Fatal("the index is an unkeyed hash: anyone could recompute it")
	}

	same := map[string]string{
		"lower case and spaces": v.BlindIndex(vault.KindDocument, vault.DocumentValue(" Passport ", " fr", "ab123456 ")),
		"spaces around it all":  v.BlindIndex(vault.KindDocument, "  "+doc+"\n"),
		"index of the document": v.DocumentIndex(domain.Document{Type: domain.DocumentPassport, Country: "fr", Number: " ab123456"}),
	}
	for name, got := range same {
		if got != idx {
			t.Errorf("%s: %s, want %s", name, got, idx)
		}
	}

	different := map[string]string{
		"another number":      v.BlindIndex(vault.KindDocument, vault.DocumentValue("passport", "FR", "AB123457")),
		"another country":     v.BlindIndex(vault.KindDocument, vault.DocumentValue("passport", "DE", "AB123456")),
		"another type":        v.BlindIndex(vault.KindDocument, vault.DocumentValue("other", "FR", "AB123456")),
		"another kind":        v.BlindIndex("phone", doc),
		"another master key":  newVault(t, vaulttest.NewMasterKey(t)).BlindIndex(vault.KindDocument, doc),
		"kind and value move": v.BlindIndex(vault.KindDocument+"P", doc[1:]),
	}
	for name, got := range different {
		if got == idx {
			t.Errorf("%s gives the same index", name)
		}
	}
	if v.BlindIndex("ab", "C") == v.BlindIndex("a", "BC") {
		t.Error("kind and value are not separated: (ab, C) and (a, BC) collide")
	}
}

func TestDocumentValue(t *testing.T) {
	if got, want := vault.DocumentValue(" resident_id", "cn ", " 11010119900307123x "), "RESIDENT_ID|CN|11010119900307123X"; got != want {
		t.Fatalf("DocumentValue = %q, want %q", got, want)
	}
}

func TestParseSealedZero(t *testing.T) {
	var s vault.Sealed
	if !s.IsZero() || s.String() != "" {
		t.Fatalf("zero value: IsZero %v, String %q", s.IsZero(), s.String())
	}
	if _, err := s.MarshalText(); domain.ErrorCode(err) != domain.Invalid {
		t.Fatalf("marshal the zero value: %v, want invalid", err)
	}
}
