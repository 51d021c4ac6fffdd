package postgresdb

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/riskledger/riskledger/domain"
)

func TestLoadMigrations(t *testing.T) {
	m := Migrations{Dir: "migrations", Files: fstest.MapFS{
		"migrations/0002_more.sql":  {Data: []byte("two")},
		"migrations/0001_first.sql": {Data: []byte("one")},
		"migrations/README":         {Data: []byte("not a migration")},
	}}
	all, err := m.load()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].version != 1 || all[0].name != "0001_first.sql" || all[0].sql != "one" ||
		all[1].version != 2 || all[1].name != "0002_more.sql" {
		t.Fatalf("loaded %+v", all)
	}

	m.Files = fstest.MapFS{"migrations/first.sql": {Data: []byte("x")}}
	if _, err := m.load(); err == nil || err.Error() != "migration first.sql does not start with a positive number" {
		t.Fatalf("unnumbered file: %v", err)
	}
}

func TestMigrationMessages(t *testing.T) {
	ledger := Migrations{}
	keys := Migrations{Store: "key store"}
	cases := []struct {
		err  error
		want string
	}{
		{ledger.newer("s", 3, 2), "schema s was migrated by a newer riskledger (migration 3; this one knows up to 2); upgrade riskledger"},
		{keys.newer("s", 3, 2), "key store schema s was migrated by a newer riskledger (migration 3; this one knows up to 2); upgrade riskledger"},
		{ledger.foreignTables("s", "m"), "schema s already holds tables that riskledger did not create (m); give riskledger a schema of its own"},
		{keys.foreignTables("s", "m"), "schema s already holds tables that riskledger's key store did not create (m); give the key store a schema of its own"},
	}
	for _, tc := range cases {
		if domain.ErrorCode(tc.err) != domain.Invalid {
			t.Errorf("%v: code %q, want Invalid", tc.err, domain.ErrorCode(tc.err))
		}
		var derr *domain.Error
		if !errors.As(tc.err, &derr) || derr.Message != tc.want {
			t.Errorf("message %v\nwant    %s", tc.err, tc.want)
		}
	}
}
