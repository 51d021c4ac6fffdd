package keys_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/keys"
)

func TestLoadOrCreateKeepsTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", keys.HeadKeyFile)
	a, err := keys.LoadOrCreateEd25519(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := keys.LoadOrCreateEd25519(path)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) {
		t.Fatal("the second load made a new key")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := keys.CreateEd25519(path); domain.ErrorCode(err) != domain.Conflict {
		t.Fatalf("create over an existing key: %v, want a conflict", err)
	}
}

func TestLoadRejectsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not a key"), 0o600)
	if _, err := keys.LoadEd25519(junk); domain.ErrorCode(err) != domain.Invalid {
		t.Fatalf("junk: %v", err)
	}
	if _, err := keys.LoadEd25519(filepath.Join(dir, "missing")); domain.ErrorCode(err) != domain.NotFound {
		t.Fatalf("missing: %v", err)
	}
}

func TestMasterKeyIsMadeOnceAndKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", keys.MasterKeyFile)
	a, err := keys.LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != keys.MasterKeySize {
		t.Fatalf("master key of %d bytes, want %d", len(a), keys.MasterKeySize)
	}
	b, err := keys.LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Fatal("the second load made a new master key")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := keys.CreateMasterKey(path); domain.ErrorCode(err) != domain.Conflict {
		t.Fatalf("create over an existing master key: %v, want a conflict", err)
	}
	c, err := keys.CreateMasterKey(filepath.Join(t.TempDir(), keys.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) == string(c) {
		t.Fatal("two new master keys are equal")
	}
}

func TestLoadMasterKeyRejectsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	head := filepath.Join(dir, keys.HeadKeyFile)
	if _, err := keys.CreateEd25519(head); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("-----BEGIN RISKLEDGER MASTER KEY-----\nAAAA\n-----END RISKLEDGER MASTER KEY-----\n"), 0o600)
	for name, path := range map[string]string{"an Ed25519 key": head, "a short key": short} {
		if _, err := keys.LoadMasterKey(path); domain.ErrorCode(err) != domain.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if _, err := keys.LoadMasterKey(filepath.Join(dir, "missing")); domain.ErrorCode(err) != domain.NotFound {
		t.Fatalf("missing: %v", err)
	}
}

func TestIssuerKeyIsMadeOnceAndReadBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, keys.IssuerKeyFile)
	made, err := keys.LoadOrCreateIssuerKey(path)
	if err != nil {
		t.Fatal(err)
	}
	read, err := keys.LoadIssuerKey(path)
	if err != nil || !read.Equal(made) {
		t.Fatalf("read back: %v, equal %v", err, err == nil && read.Equal(made))
	}
	if _, err := keys.CreateIssuerKey(path); domain.ErrorCode(err) != domain.Conflict {
		t.Errorf("a second create: %v, want a conflict", err)
	}
	head := filepath.Join(dir, keys.HeadKeyFile)
	if _, err := keys.CreateEd25519(head); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadIssuerKey(head); domain.ErrorCode(err) != domain.Invalid || !strings.Contains(err.Error(), "not an ECDSA key") {
		t.Errorf("an Ed25519 file as the issuer key: %v", err)
	}
	if _, err := keys.LoadIssuerKey(filepath.Join(dir, "none.key")); domain.ErrorCode(err) != domain.NotFound {
		t.Errorf("a missing file: %v", err)
	}
}
