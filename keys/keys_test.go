package keys_test

import (
	"os"
	"path/filepath"
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
