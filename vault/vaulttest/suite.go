// Package vaulttest is the conformance suite that every vault.KeyStore must
// pass: the store's own contract, and the vault's behaviour on top of it
// (sealing, erasure, concurrent first use, reopening, tampering, the wrong
// master key), so that each backend is checked for what callers rely on.
package vaulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/vault"
)

// Backend opens a key store over one storage. Every call reaches the same
// keys, as another process sharing the storage would; the store it returns
// is closed when t ends (and may be closed earlier by the test).
type Backend func(t *testing.T) vault.KeyStore

// NewBackend makes fresh, empty storage for t and returns its Backend.
type NewBackend func(t *testing.T) Backend

// Run runs the suite, each test on storage of its own.
func Run(t *testing.T, newBackend NewBackend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"KeyStore/NoKey", testNoKey},
		{"KeyStore/CreateKeyFirstWins", testCreateKeyFirstWins},
		{"KeyStore/CreateKeysInOneCall", testCreateKeys},
		{"KeyStore/EraseLeavesTombstone", testEraseLeavesTombstone},
		{"KeyStore/EraseUnknownPerson", testEraseUnknownPerson},
		{"KeyStore/ConcurrentCreateKey", testConcurrentCreateKey},
		{"KeyStore/Fingerprint", testFingerprint},
		{"KeyStore/Reopen", testStoreReopen},
		{"KeyStore/CloseTwice", testCloseTwice},
		{"Vault/RoundTrip", testRoundTrip},
		{"Vault/WrongPersonOrField", testWrongPersonOrField},
		{"Vault/Sealers", testSealers},
		{"Vault/Erase", testErase},
		{"Vault/EraseBeforeSeal", testEraseBeforeSeal},
		{"Vault/ConcurrentFirstSeal", testConcurrentFirstSeal},
		{"Vault/Reopen", testVaultReopen},
		{"Vault/Tampered", testTampered},
		{"Vault/WrongMasterKey", testWrongMasterKey},
		{"Vault/AlteredOrMovedKey", testAlteredOrMovedKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

// NewMasterKey returns a random master key.
func NewMasterKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, vault.MasterKeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	return k
}

// NewVault returns a vault over store with master key.
func NewVault(t testing.TB, store vault.KeyStore, master []byte) *vault.Vault {
	t.Helper()
	v, err := vault.New(context.Background(), vault.Config{Store: store, MasterKey: master})
	if err != nil {
		t.Fatalf("new vault: %v", err)
	}
	return v
}

func wrappedKey(version int) vault.WrappedKey {
	w := make([]byte, 60)
	_, _ = rand.Read(w)
	return vault.WrappedKey{MasterVersion: version, Wrapped: w}
}

func sameKey(a, b vault.WrappedKey) bool {
	return a.MasterVersion == b.MasterVersion && bytes.Equal(a.Wrapped, b.Wrapped)
}

func testNoKey(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b(t)
	_, err := s.Key(ctx, uuid.New())
	if !errors.Is(err, vault.ErrNoKey) {
		t.Fatalf("Key of an unknown person: %v, want ErrNoKey", err)
	}
	if errors.Is(err, vault.ErrErased) {
		t.Fatal("an unknown person reads as erased")
	}
}

func testCreateKeyFirstWins(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b(t)
	p, q := uuid.New(), uuid.New()
	k1, k2, kq := wrappedKey(1), wrappedKey(1), wrappedKey(1)
	got, err := s.CreateKey(ctx, p, k1)
	if err != nil || !sameKey(got, k1) {
		t.Fatalf("first CreateKey = %v, %v; want the key given", got, err)
	}
	got, err = s.CreateKey(ctx, p, k2)
	if err != nil || !sameKey(got, k1) {
		t.Fatalf("second CreateKey = %v, %v; want the first key", got, err)
	}
	if _, err := s.CreateKey(ctx, q, kq); err != nil {
		t.Fatal(err)
	}
	for person, want := range map[uuid.UUID]vault.WrappedKey{p: k1, q: kq} {
		got, err := s.Key(ctx, person)
		if err != nil || !sameKey(got, want) {
			t.Fatalf("Key(%s) = %v, %v; want %v", person, got, err, want)
		}
	}
}

// testCreateKeys: many persons in one call; a person with a key keeps it,
// an erased person is left out.
func testCreateKeys(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b(t)
	had, erased := uuid.New(), uuid.New()
	kept, err := s.CreateKey(ctx, had, wrappedKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Erase(ctx, erased); err != nil {
		t.Fatal(err)
	}
	ask := map[uuid.UUID]vault.WrappedKey{had: wrappedKey(1), erased: wrappedKey(1)}
	for range 300 {
		ask[uuid.New()] = wrappedKey(1)
	}
	got, err := s.CreateKeys(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ask)-1 {
		t.Fatalf("%d keys returned for %d persons of whom one was erased", len(got), len(ask))
	}
	if _, ok := got[erased]; ok {
		t.Fatal("an erased person got a key")
	}
	for p, want := range ask {
		if p == erased {
			continue
		}
		if p == had {
			want = kept
		}
		if !sameKey(got[p], want) {
			t.Fatalf("person %s: returned %v, want %v", p, got[p], want)
		}
		if k, err := s.Key(ctx, p); err != nil || !sameKey(k, want) {
			t.Fatalf("person %s: stored %v (%v), want %v", p, k, err, want)
		}
	}
	if _, err := s.Key(ctx, erased); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("the erased person reads %v, want ErrErased", err)
	}
}

func testEraseLeavesTombstone(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b(t)
	p, q := uuid.New(), uuid.New()
	if _, err := s.CreateKey(ctx, p, wrappedKey(1)); err != nil {
		t.Fatal(err)
	}
	kq, err := s.CreateKey(ctx, q, wrappedKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Erase(ctx, p); err != nil {
		t.Fatalf("erase: %v", err)
	}
	if _, err := s.Key(ctx, p); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("Key after erase: %v, want ErrErased", err)
	}
	if _, err := s.CreateKey(ctx, p, wrappedKey(1)); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("CreateKey after erase: %v, want ErrErased", err)
	}
	if err := s.Erase(ctx, p); err != nil {
		t.Fatalf("second erase: %v", err)
	}
	if _, err := s.Key(ctx, p); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("Key after the second erase: %v, want ErrErased", err)
	}
	if got, err := s.Key(ctx, q); err != nil || !sameKey(got, kq) {
		t.Fatalf("another person's key after erase = %v, %v", got, err)
	}
}

func testEraseUnknownPerson(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b(t)
	p := uuid.New()
	if err := s.Erase(ctx, p); err != nil {
		t.Fatalf("erase a person without a key: %v", err)
	}
	if _, err := s.CreateKey(ctx, p, wrappedKey(1)); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("CreateKey after erase: %v, want ErrErased", err)
	}
	if _, err := s.Key(ctx, p); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("Key after erase: %v, want ErrErased", err)
	}
}

// testConcurrentCreateKey races 50 goroutines, through two stores as two
// processes would, to create one person's key.
func testConcurrentCreateKey(t *testing.T, b Backend) {
	ctx := context.Background()
	stores := []vault.KeyStore{b(t), b(t)}
	p := uuid.New()
	const n = 50
	got := make([]vault.WrappedKey, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = stores[i%2].CreateKey(ctx, p, wrappedKey(1))
		})
	}
	close(start)
	wg.Wait()
	stored, err := stores[0].Key(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if !sameKey(got[i], stored) {
			t.Fatalf("goroutine %d got a key other than the one stored", i)
		}
	}
}

func testFingerprint(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b(t)
	fp1, fp2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	got, err := s.MasterKeyFingerprint(ctx, 1, fp1)
	if err != nil || !bytes.Equal(got, fp1) {
		t.Fatalf("first fingerprint = %x, %v; want %x", got, err, fp1)
	}
	got, err = s.MasterKeyFingerprint(ctx, 1, fp2)
	if err != nil || !bytes.Equal(got, fp1) {
		t.Fatalf("another fingerprint for version 1 = %x, %v; want the first, %x", got, err, fp1)
	}
	got, err = s.MasterKeyFingerprint(ctx, 2, fp2)
	if err != nil || !bytes.Equal(got, fp2) {
		t.Fatalf("fingerprint of version 2 = %x, %v; want %x", got, err, fp2)
	}
}

func testStoreReopen(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b(t)
	p, erased := uuid.New(), uuid.New()
	k, err := s.CreateKey(ctx, p, wrappedKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateKey(ctx, erased, wrappedKey(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Erase(ctx, erased); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s = b(t)
	if got, err := s.Key(ctx, p); err != nil || !sameKey(got, k) {
		t.Fatalf("Key after reopening = %v, %v; want %v", got, err, k)
	}
	if _, err := s.Key(ctx, erased); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("an erased person after reopening: %v, want ErrErased", err)
	}
}

func testCloseTwice(t *testing.T, b Backend) {
	s := b(t)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// testSealers: values sealed through Sealers open with Open, under the same
// key Seal uses; an erased person gets no sealer.
func testSealers(t *testing.T, b Backend) {
	ctx := context.Background()
	v := NewVault(t, b(t), NewMasterKey(t))
	old, erased, fresh := uuid.New(), uuid.New(), uuid.New()
	before, err := v.Seal(ctx, old, "name", []byte("Li Na"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Erase(ctx, erased); err != nil {
		t.Fatal(err)
	}
	sealers, err := v.Sealers(ctx, []uuid.UUID{old, erased, fresh, fresh})
	if err != nil {
		t.Fatal(err)
	}
	if len(sealers) != 2 || sealers[erased] != nil {
		t.Fatalf("sealers for %d persons, want 2 (the erased person has none)", len(sealers))
	}
	for _, p := range []uuid.UUID{old, fresh} {
		sealed := sealers[p].Seal("phone", []byte("+86 10 5555"))
		got, err := v.Open(ctx, p, "phone", sealed)
		if err != nil || string(got) != "+86 10 5555" {
			t.Fatalf("open what a sealer sealed: %q, %v", got, err)
		}
		if _, err := v.Open(ctx, p, "name", sealed); err == nil {
			t.Fatal("a value sealed for one field opened as another")
		}
	}
	if got, err := v.Open(ctx, old, "name", before); err != nil || string(got) != "Li Na" {
		t.Fatalf("Sealers replaced an existing key: %q, %v", got, err)
	}
	if _, err := v.Sealers(ctx, []uuid.UUID{uuid.Nil}); domain.ErrorCode(err) != domain.Invalid {
		t.Fatalf("nil person: %v, want invalid", err)
	}
}

func testRoundTrip(t *testing.T, b Backend) {
	ctx := context.Background()
	v := NewVault(t, b(t), NewMasterKey(t))
	p := uuid.New()
	for _, plain := range []string{"", "Zhang Wei", "张伟", "110101199003077777", strings.Repeat("x", 10000)} {
		s, err := v.Seal(ctx, p, "name", []byte(plain))
		if err != nil {
			t.Fatalf("seal %q: %v", plain, err)
		}
		if strings.Contains(s.String(), plain) && plain != "" {
			t.Fatalf("the sealed value shows the plaintext: %s", s)
		}
		// Through an event payload and back.
		type payload struct {
			Name  vault.Sealed `json:"name"`
			Phone vault.Sealed `json:"phone,omitzero"`
		}
		j, err := json.Marshal(payload{Name: s})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"name":"` + s.String() + `"}`; string(j) != want {
			t.Fatalf("JSON %s, want %s", j, want)
		}
		var back payload
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatal(err)
		}
		got, err := v.Open(ctx, p, "name", back.Name)
		if err != nil {
			t.Fatalf("open %q: %v", plain, err)
		}
		if string(got) != plain {
			t.Fatalf("opened %q, want %q", got, plain)
		}
	}
	a, _ := v.Seal(ctx, p, "name", []byte("same"))
	c, _ := v.Seal(ctx, p, "name", []byte("same"))
	if a.String() == c.String() {
		t.Fatal("sealing one value twice gives equal text: the nonce is not fresh")
	}
}

func testWrongPersonOrField(t *testing.T, b Backend) {
	ctx := context.Background()
	v := NewVault(t, b(t), NewMasterKey(t))
	p, q := uuid.New(), uuid.New()
	s, err := v.Seal(ctx, p, "name", []byte("Li Na"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Seal(ctx, q, "name", []byte("other")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		person uuid.UUID
		field  string
	}{
		{"another field", p, "phone"},
		{"another person", q, "name"},
		{"a field that extends the name", p, "name2"},
	} {
		if _, err := v.Open(ctx, c.person, c.field, s); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("%s: %v, want an invalid error", c.name, err)
		}
	}
	if _, err := v.Open(ctx, uuid.New(), "name", s); !errors.Is(err, vault.ErrNoKey) {
		t.Errorf("a person without a key: %v, want ErrNoKey", err)
	}
	for name, err := range map[string]error{
		"seal for no person":  second(v.Seal(ctx, uuid.Nil, "name", []byte("x"))),
		"seal with no field":  second(v.Seal(ctx, p, "", []byte("x"))),
		"open for no person":  second(v.Open(ctx, uuid.Nil, "name", s)),
		"open nothing sealed": second(v.Open(ctx, p, "name", vault.Sealed{})),
		"erase no person":     v.Erase(ctx, uuid.Nil),
	} {
		if domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("%s: %v, want an invalid error", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func testErase(t *testing.T, b Backend) {
	ctx := context.Background()
	v := NewVault(t, b(t), NewMasterKey(t))
	p, q := uuid.New(), uuid.New()
	sp, err := v.Seal(ctx, p, "name", []byte("Wang Fang"))
	if err != nil {
		t.Fatal(err)
	}
	sq, err := v.Seal(ctx, q, "name", []byte("Liu Yang"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Erase(ctx, p); err != nil {
		t.Fatalf("erase: %v", err)
	}
	_, err = v.Open(ctx, p, "name", sp)
	if !errors.Is(err, vault.ErrErased) {
		t.Fatalf("open after erase: %v, want ErrErased", err)
	}
	if domain.ErrorCode(err) != domain.NotFound || domain.ErrorMessage(err) != "the person's personal data was erased" {
		t.Fatalf("open after erase: code %q, message %q", domain.ErrorCode(err), domain.ErrorMessage(err))
	}
	if _, err := v.Seal(ctx, p, "name", []byte("Wang Fang")); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("seal after erase: %v, want ErrErased", err)
	}
	if err := v.Erase(ctx, p); err != nil {
		t.Fatalf("second erase: %v", err)
	}
	if got, err := v.Open(ctx, q, "name", sq); err != nil || string(got) != "Liu Yang" {
		t.Fatalf("another person after erase: %q, %v", got, err)
	}
}

func testEraseBeforeSeal(t *testing.T, b Backend) {
	ctx := context.Background()
	v := NewVault(t, b(t), NewMasterKey(t))
	p := uuid.New()
	if err := v.Erase(ctx, p); err != nil {
		t.Fatalf("erase a person with nothing sealed: %v", err)
	}
	if _, err := v.Seal(ctx, p, "name", []byte("x")); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("seal after erase: %v, want ErrErased", err)
	}
}

// testConcurrentFirstSeal races 50 goroutines, through two vaults on two
// stores as two processes would, to seal for one new person; every value
// must open, in either vault.
func testConcurrentFirstSeal(t *testing.T, b Backend) {
	ctx := context.Background()
	master := NewMasterKey(t)
	vaults := []*vault.Vault{NewVault(t, b(t), master), NewVault(t, b(t), master)}
	p := uuid.New()
	const n = 50
	sealed := make([]vault.Sealed, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			sealed[i], errs[i] = vaults[i%2].Seal(ctx, p, "name", fmt.Appendf(nil, "name %d", i))
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		for _, v := range vaults {
			got, err := v.Open(ctx, p, "name", sealed[i])
			if err != nil {
				t.Fatalf("value %d does not open: %v", i, err)
			}
			if want := fmt.Sprintf("name %d", i); string(got) != want {
				t.Fatalf("value %d opened as %q, want %q", i, got, want)
			}
		}
	}
}

func testVaultReopen(t *testing.T, b Backend) {
	ctx := context.Background()
	master := NewMasterKey(t)
	s := b(t)
	v := NewVault(t, s, master)
	p, erased := uuid.New(), uuid.New()
	sp, err := v.Seal(ctx, p, "document.number", []byte("E12345678"))
	if err != nil {
		t.Fatal(err)
	}
	se, err := v.Seal(ctx, erased, "name", []byte("Chen Jie"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Erase(ctx, erased); err != nil {
		t.Fatal(err)
	}
	index := v.BlindIndex(vault.KindDocument, "PASSPORT|CN|E12345678")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	v = NewVault(t, b(t), master)
	got, err := v.Open(ctx, p, "document.number", sp)
	if err != nil || string(got) != "E12345678" {
		t.Fatalf("open after reopening: %q, %v", got, err)
	}
	if _, err := v.Open(ctx, erased, "name", se); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("an erased person after reopening: %v, want ErrErased", err)
	}
	if _, err := v.Seal(ctx, erased, "name", []byte("Chen Jie")); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("seal for an erased person after reopening: %v, want ErrErased", err)
	}
	if got := v.BlindIndex(vault.KindDocument, "PASSPORT|CN|E12345678"); got != index {
		t.Fatalf("blind index changed across reopening: %s, then %s", index, got)
	}
}

func testTampered(t *testing.T, b Backend) {
	ctx := context.Background()
	v := NewVault(t, b(t), NewMasterKey(t))
	p := uuid.New()
	s, err := v.Seal(ctx, p, "name", []byte("Zhao Lei"))
	if err != nil {
		t.Fatal(err)
	}
	text := s.String()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(text, "v1."))
	if err != nil {
		t.Fatalf("the text form %q is not v1. and base64url: %v", text, err)
	}
	open := func(text string) error {
		s, err := vault.ParseSealed(text)
		if err != nil {
			return err
		}
		_, err = v.Open(ctx, p, "name", s)
		return err
	}
	enc := func(b []byte) string { return "v1." + base64.RawURLEncoding.EncodeToString(b) }
	for i := range raw {
		altered := bytes.Clone(raw)
		altered[i] ^= 0x01
		if err := open(enc(altered)); domain.ErrorCode(err) != domain.Invalid {
			t.Fatalf("byte %d altered: %v, want an invalid error", i, err)
		}
	}
	for name, text := range map[string]string{
		"truncated":          enc(raw[:len(raw)-1]),
		"extended":           enc(append(bytes.Clone(raw), 0)),
		"too short":          enc(raw[:20]),
		"unknown format":     "v2." + strings.TrimPrefix(text, "v1."),
		"no format":          strings.TrimPrefix(text, "v1."),
		"not base64":         "v1.!!!!",
		"padded base64":      "v1." + base64.URLEncoding.EncodeToString(raw[:len(raw)-1]),
		"empty":              "",
		"only the prefix":    "v1.",
		"nonce without text": enc(raw[:12]),
	} {
		if err := open(text); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("%s: %v, want an invalid error", name, err)
		}
	}
	var target struct {
		Name vault.Sealed `json:"name"`
	}
	if err := json.Unmarshal([]byte(`{"name":"v1.@@"}`), &target); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("unmarshal a malformed value: %v, want an invalid error", err)
	}
	if _, err := json.Marshal(target); err == nil {
		t.Error("marshalling the zero value (nothing sealed) succeeded")
	}
}

func testWrongMasterKey(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b(t)
	NewVault(t, s, NewMasterKey(t))
	_, err := vault.New(ctx, vault.Config{Store: s, MasterKey: NewMasterKey(t)})
	if !errors.Is(err, vault.ErrWrongMasterKey) {
		t.Fatalf("a vault with another master key: %v, want ErrWrongMasterKey", err)
	}
	if !strings.Contains(domain.ErrorMessage(err), "master key") {
		t.Fatalf("the error does not name the master key: %q", domain.ErrorMessage(err))
	}
	for name, cfg := range map[string]vault.Config{
		"short master key": {Store: s, MasterKey: make([]byte, 16)},
		"no store":         {MasterKey: NewMasterKey(t)},
	} {
		if _, err := vault.New(ctx, cfg); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("%s: %v, want an invalid error", name, err)
		}
	}
}

// alteringStore flips a bit of every key it reads, as an administrator
// editing the key store would.
type alteringStore struct{ vault.KeyStore }

func (a alteringStore) Key(ctx context.Context, person uuid.UUID) (vault.WrappedKey, error) {
	k, err := a.KeyStore.Key(ctx, person)
	if err == nil {
		k.Wrapped = bytes.Clone(k.Wrapped)
		k.Wrapped[len(k.Wrapped)-1] ^= 1
	}
	return k, err
}

// testAlteredOrMovedKey checks that a stored key that was altered, or
// copied from one person to another, does not unwrap.
func testAlteredOrMovedKey(t *testing.T, b Backend) {
	ctx := context.Background()
	master := NewMasterKey(t)
	s := b(t)
	v := NewVault(t, s, master)
	p, q := uuid.New(), uuid.New()
	sp, err := v.Seal(ctx, p, "name", []byte("Sun Li"))
	if err != nil {
		t.Fatal(err)
	}
	altered := NewVault(t, alteringStore{s}, master)
	if _, err := altered.Open(ctx, p, "name", sp); !errors.Is(err, vault.ErrWrongMasterKey) {
		t.Fatalf("open with an altered key: %v, want ErrWrongMasterKey", err)
	}

	kp, err := s.Key(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateKey(ctx, q, kp); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Seal(ctx, q, "name", []byte("x")); !errors.Is(err, vault.ErrWrongMasterKey) {
		t.Fatalf("seal with another person's key: %v, want ErrWrongMasterKey", err)
	}

	r := uuid.New()
	if _, err := s.CreateKey(ctx, r, vault.WrappedKey{MasterVersion: 2, Wrapped: kp.Wrapped}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Seal(ctx, r, "name", []byte("x")); domain.ErrorCode(err) != domain.Internal {
		t.Fatalf("seal with a key of an unknown master key version: %v, want an internal error", err)
	}
}
