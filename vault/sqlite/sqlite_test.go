package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/vault"
	"github.com/riskledger/riskledger/vault/sqlite"
	"github.com/riskledger/riskledger/vault/vaulttest"
)

func open(t *testing.T, cfg sqlite.Config) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open key store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	vaulttest.Run(t, func(t *testing.T) vaulttest.Backend {
		dir := t.TempDir()
		return func(t *testing.T) vault.KeyStore { return open(t, sqlite.Config{Dir: dir}) }
	})
}

// fileBytes returns the key store's bytes on disk: the file and its
// write-ahead log.
func fileBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	for _, name := range []string{sqlite.FileName, sqlite.FileName + "-wal", sqlite.FileName + "-journal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestTheFileNeverHoldsPlaintext(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, sqlite.Config{Dir: dir})
	v := vaulttest.NewVault(t, s, vaulttest.NewMasterKey(t))
	plain := []byte("Ouyang Xiaoming 110101199003071234")
	p := uuid.New()
	if _, err := v.Seal(ctx, p, "name", plain); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		t.Fatalf("the key store is not in its own file %s: %v", sqlite.FileName, err)
	}
	if b := fileBytes(t, dir); bytes.Contains(b, plain) || bytes.Contains(b, plain[:15]) {
		t.Fatal("the key store's file holds the plaintext")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if b := fileBytes(t, dir); bytes.Contains(b, plain) || bytes.Contains(b, plain[:15]) {
		t.Fatal("the key store's file holds the plaintext after closing")
	}
}

// TestEraseLeavesNoKeyOnDisk checks that an erased person's wrapped key is
// gone from the file and its log, not only unlinked from the table: the
// keys erased sit among others on one page, where a deleted row's bytes
// would stay unless they are overwritten.
func TestEraseLeavesNoKeyOnDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, sqlite.Config{Dir: dir})
	v := vaulttest.NewVault(t, s, vaulttest.NewMasterKey(t))
	var people []uuid.UUID
	var wrapped [][]byte
	for range 40 {
		p := uuid.New()
		if _, err := v.Seal(ctx, p, "name", []byte("x")); err != nil {
			t.Fatal(err)
		}
		k, err := s.Key(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		people, wrapped = append(people, p), append(wrapped, k.Wrapped)
	}
	if !bytes.Contains(fileBytes(t, dir), wrapped[0]) {
		t.Fatal("a wrapped key is not on disk before erasure: the test reads the wrong files")
	}
	for i := 10; i < 20; i++ {
		if err := v.Erase(ctx, people[i]); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(fileBytes(t, dir), wrapped[i]) {
			t.Fatalf("erased person %d's wrapped key is still on disk", i)
		}
	}
	b := fileBytes(t, dir)
	for i := range people {
		if erased := i >= 10 && i < 20; bytes.Contains(b, wrapped[i]) == erased {
			t.Fatalf("person %d (erased: %v): key on disk: %v", i, erased, !erased)
		}
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := sqlite.Open(ctx, sqlite.Config{Dir: dir, ReadOnly: true}); domain.ErrorCode(err) != domain.NotFound {
		t.Fatalf("read-only open of a missing key store: %v, want not found", err)
	}
	master := vaulttest.NewMasterKey(t)
	w := vaulttest.NewVault(t, open(t, sqlite.Config{Dir: dir}), master)
	p := uuid.New()
	sealed, err := w.Seal(ctx, p, "name", []byte("Huang Min"))
	if err != nil {
		t.Fatal(err)
	}

	ro := open(t, sqlite.Config{Dir: dir, ReadOnly: true})
	r := vaulttest.NewVault(t, ro, master)
	if got, err := r.Open(ctx, p, "name", sealed); err != nil || string(got) != "Huang Min" {
		t.Fatalf("open through a read-only store: %q, %v", got, err)
	}
	if _, err := r.Seal(ctx, uuid.New(), "name", []byte("x")); domain.ErrorCode(err) != domain.Forbidden {
		t.Fatalf("seal for a new person through a read-only store: %v, want forbidden", err)
	}
	if err := r.Erase(ctx, p); domain.ErrorCode(err) != domain.Forbidden {
		t.Fatalf("erase through a read-only store: %v, want forbidden", err)
	}
	if _, err := vault.New(ctx, vault.Config{Store: ro, MasterKey: vaulttest.NewMasterKey(t)}); !errors.Is(err, vault.ErrWrongMasterKey) {
		t.Fatalf("a read-only vault with another master key: %v, want ErrWrongMasterKey", err)
	}
	// The writer's erasure reaches the reader at once.
	if err := w.Erase(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Open(ctx, p, "name", sealed); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("open through a read-only store after erasure: %v, want ErrErased", err)
	}
}

func TestOpenRejectsOtherFiles(t *testing.T) {
	ctx := context.Background()

	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o600)
	if _, err := sqlite.Open(ctx, sqlite.Config{Dir: file}); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("a data directory that is a file: %v, want invalid", err)
	}

	junk := t.TempDir()
	os.WriteFile(filepath.Join(junk, sqlite.FileName), []byte("not a database at all, not at all"), 0o600)
	if _, err := sqlite.Open(ctx, sqlite.Config{Dir: junk}); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("a key store file that is not SQLite: %v, want invalid", err)
	}

	// A key store file with the ledger's application id.
	other := t.TempDir()
	open(t, sqlite.Config{Dir: other}).Close()
	ledger := t.TempDir()
	b, err := os.ReadFile(filepath.Join(other, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	// The application id is at offset 68 of the header.
	b[68], b[69], b[70], b[71] = 'R', 'L', 'D', 'G'
	os.WriteFile(filepath.Join(ledger, sqlite.FileName), b, 0o600)
	if _, err := sqlite.Open(ctx, sqlite.Config{Dir: ledger}); domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("another application's SQLite file: %v, want invalid", err)
	}
}
