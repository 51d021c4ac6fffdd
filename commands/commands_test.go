package commands_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/eventstore/postgres"
	"github.com/riskledger/riskledger/eventstore/sqlite"
	"github.com/riskledger/riskledger/internal/pgtest"
	"github.com/riskledger/riskledger/vault"
	vaultsqlite "github.com/riskledger/riskledger/vault/sqlite"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// env is a ledger, a vault and a handler over them.
type env struct {
	store eventstore.Store
	vault *vault.Vault
	h     *commands.Handler
	now   time.Time
}

// stores runs fn against the embedded store and PostgreSQL.
func stores(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			fn(t, openEnv(t, name, time.Now()))
		})
	}
}

// newEnv is an embedded ledger of its own.
func newEnv(t *testing.T, now time.Time) *env { return openEnv(t, "sqlite", now) }

func openEnv(t *testing.T, name string, now time.Time) *env {
	ctx := context.Background()
	var store eventstore.Store
	var err error
	if name == "sqlite" {
		store, err = sqlite.Open(ctx, sqlite.Config{Dir: t.TempDir()})
	} else {
		url, schema := pgtest.NewSchema(t)
		store, err = postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ks, err := vaultsqlite.Open(ctx, vaultsqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	master := make([]byte, vault.MasterKeySize)
	rand.Read(master)
	v, err := vault.New(ctx, vault.Config{Store: ks, MasterKey: master})
	if err != nil {
		t.Fatal(err)
	}
	return &env{store: store, vault: v, h: commands.New(store, v), now: now}
}

// run parses a command line as the import and the API do, and executes it.
func (e *env) run(t *testing.T, line string) (commands.Result, error) {
	t.Helper()
	cmd, err := domain.ParseCommand([]byte(line), domain.ParseOptions{Now: func() time.Time { return e.now }, Location: shanghai})
	if err != nil {
		t.Fatalf("parse %s: %v", line, err)
	}
	return e.h.Execute(context.Background(), cmd, "test")
}

func (e *env) ok(t *testing.T, line string) commands.Result {
	t.Helper()
	r, err := e.run(t, line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return r
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
	if len(domain.ErrorMessage(err)) < 15 {
		t.Fatalf("error %v: the message does not say what to do", err)
	}
}

func (e *env) at() string { return e.now.Add(-time.Hour).Format(time.RFC3339) }

func (e *env) register(t *testing.T, id uuid.UUID, number string) string {
	return fmt.Sprintf(`{"command":"register_person","at":%q,"person_id":%q,"document":{"type":"resident_id","number":%q,"country":"CN"},"name":"Wang Fang","nationality":"CN","phone":"+86 138 0013 8000"}`,
		e.at(), id, number)
}

func (e *env) dependent(t *testing.T, guardian, dep uuid.UUID, number string) string {
	tomorrow := e.now.In(shanghai).AddDate(0, 0, 1).Format("2006-01-02")
	return fmt.Sprintf(`{"command":"apply_dependent","at":%q,"guardian_id":%q,"dependent_id":%q,"document":{"type":"resident_id","number":%q,"country":"CN"},"name":"Wang Xiaoming","nationality":"CN","usable_from":%q}`,
		e.now.Format(time.RFC3339), guardian, dep, number, tomorrow)
}

func TestRegisterPersonKeepsPersonalDataSealed(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		p := uuid.New()
		r := e.ok(t, e.register(t, p, "310101199001011234"))
		if len(r.Events) != 2 || r.Events[0].Type != domain.EvPersonRegistered || r.Events[1].Type != domain.EvDocumentClaimed {
			t.Fatalf("events: %+v", r.Events)
		}
		var all bytes.Buffer
		evs, _ := e.store.ReadAll(context.Background(), 0, 100)
		for _, ev := range evs {
			all.Write(ev.Payload)
			all.Write(ev.Metadata)
		}
		for _, secret := range []string{"310101199001011234", "Wang Fang", "138 0013"} {
			if strings.Contains(all.String(), secret) {
				t.Fatalf("the ledger holds %q in clear", secret)
			}
		}
		// The sealed values open for the person, and only under their field.
		var reg domain.PersonRegistered
		if err := json.Unmarshal(evs[0].Payload, &reg); err != nil {
			t.Fatal(err)
		}
		name, err := vault.ParseSealed(string(reg.Name))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.vault.Open(context.Background(), p, "name", name); err != nil || string(got) != "Wang Fang" {
			t.Fatalf("open the name: %q %v", got, err)
		}

		_, err = e.run(t, e.register(t, p, "other-number"))
		wantCode(t, err, domain.Conflict)
		_, err = e.run(t, e.register(t, uuid.New(), " 310101199001011234 "))
		wantCode(t, err, domain.Conflict)
	})
}

func TestOneDocumentRegistersOnePerson(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		const racers = 20
		var wins, conflicts atomic.Int64
		var wg sync.WaitGroup
		for range racers {
			wg.Go(func() {
				_, err := e.run(t, e.register(t, uuid.New(), "G12345678"))
				switch domain.ErrorCode(err) {
				case "":
					wins.Add(1)
				case domain.Conflict:
					conflicts.Add(1)
				default:
					t.Errorf("racer: %v", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != racers-1 {
			t.Fatalf("%d registrations won and %d were refused, want 1 and %d", wins.Load(), conflicts.Load(), racers-1)
		}
	})
}

func TestAGuardianHasAtMostFourDependents(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		g := uuid.New()
		e.ok(t, e.register(t, g, "guardian-doc"))
		const racers = 50
		var accepted, limited atomic.Int64
		deps := make([]uuid.UUID, racers)
		var wg sync.WaitGroup
		for i := range racers {
			deps[i] = uuid.New()
			wg.Go(func() {
				_, err := e.run(t, e.dependent(t, g, deps[i], fmt.Sprintf("child-%d", i)))
				switch domain.ErrorCode(err) {
				case "":
					accepted.Add(1)
				case domain.Limit:
					limited.Add(1)
				default:
					t.Errorf("application %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if accepted.Load() != commands.MaxDependents || limited.Load() != racers-commands.MaxDependents {
			t.Fatalf("%d accepted and %d refused for the limit, want %d and %d", accepted.Load(), limited.Load(), commands.MaxDependents, racers-commands.MaxDependents)
		}
		// Ending a dependency frees a slot; so does erasing a dependent.
		var active []uuid.UUID
		for _, d := range deps {
			if v, _ := e.store.StreamVersion(context.Background(), domain.PersonStream(mustPerson(d))); v > 0 {
				active = append(active, d)
			}
		}
		_, err := e.run(t, e.dependent(t, g, uuid.New(), "child-x"))
		wantCode(t, err, domain.Limit)
		e.ok(t, fmt.Sprintf(`{"command":"end_dependent","at":%q,"guardian_id":%q,"dependent_id":%q}`, e.at(), g, active[0]))
		e.ok(t, e.dependent(t, g, uuid.New(), "child-y"))
		e.ok(t, fmt.Sprintf(`{"command":"erase_person","at":%q,"person_id":%q,"reason":"request of the guardian"}`, e.at(), active[1]))
		e.ok(t, e.dependent(t, g, uuid.New(), "child-z"))
		_, err = e.run(t, e.dependent(t, g, uuid.New(), "child-w"))
		wantCode(t, err, domain.Limit)
	})
}

func TestCommandsAreIdempotent(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		p := uuid.New()
		line := strings.Replace(e.register(t, p, "P1"), `{"command"`, `{"id":"line-1","command"`, 1)
		first := e.ok(t, line)
		again := e.ok(t, line)
		if !again.AlreadyPresent || len(again.Events) != len(first.Events) || again.Events[0].Position != first.Events[0].Position {
			t.Fatalf("a repeated command: %+v, want the first's events", again)
		}
		// Without an id, the content is the key.
		form := fmt.Sprintf(`{"command":"submit_health_form","at":%q,"person_id":%q,"travel":[],"symptoms":["cough"],"contact_with_case":false}`, e.at(), p)
		a, b := e.ok(t, form), e.ok(t, form)
		if a.AlreadyPresent || !b.AlreadyPresent || a.Events[0].ID != b.Events[0].ID {
			t.Fatalf("a repeated form: %+v then %+v", a, b)
		}
		// The same id with other content is refused.
		_, err := e.run(t, strings.Replace(e.register(t, uuid.New(), "P2"), `{"command"`, `{"id":"line-1","command"`, 1))
		wantCode(t, err, domain.Conflict)
		head, _ := e.store.Head(context.Background())
		if head.Position != 3 {
			t.Fatalf("head %d after 2 commands of 2 and 1 events", head.Position)
		}
	})
}

func TestFactsNeedARegisteredPerson(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ghost := uuid.New()
		for _, line := range []string{
			fmt.Sprintf(`{"command":"record_diagnosis","at":%q,"person_id":%q,"result":"confirmed"}`, e.at(), ghost),
			fmt.Sprintf(`{"command":"report_symptoms","at":%q,"person_id":%q,"symptoms":["fever"],"source":"clinic"}`, e.at(), ghost),
			fmt.Sprintf(`{"command":"erase_person","at":%q,"person_id":%q,"reason":"x"}`, e.at(), ghost),
			fmt.Sprintf(`{"command":"apply_dependent","at":%q,"guardian_id":%q,"dependent_id":%q,"document":{"type":"other","number":"n","country":"CN"},"name":"x","nationality":"CN","usable_from":%q}`,
				e.now.Format(time.RFC3339), ghost, uuid.New(), e.now.In(shanghai).AddDate(0, 0, 2).Format("2006-01-02")),
			fmt.Sprintf(`{"command":"retract","at":%q,"event_id":%q,"reason":"x"}`, e.at(), uuid.New()),
		} {
			_, err := e.run(t, line)
			wantCode(t, err, domain.NotFound)
		}
		head, _ := e.store.Head(context.Background())
		if head.Position != 0 {
			t.Fatalf("refused commands appended %d events", head.Position)
		}
	})
}

func TestErasureShredsTheKey(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		p := uuid.New()
		r := e.ok(t, e.register(t, p, "E1"))
		var reg domain.PersonRegistered
		json.Unmarshal(r.Events[0].Payload, &reg)
		erase := fmt.Sprintf(`{"command":"erase_person","at":%q,"person_id":%q,"reason":"right to erasure"}`, e.at(), p)
		e.ok(t, erase)
		name, _ := vault.ParseSealed(string(reg.Name))
		if _, err := e.vault.Open(context.Background(), p, "name", name); !errors.Is(err, vault.ErrErased) {
			t.Fatalf("open after erasure: %v, want ErrErased", err)
		}
		if r := e.ok(t, erase); !r.AlreadyPresent {
			t.Fatalf("a repeated erasure appended again")
		}
		// Facts about an erased person still count.
		e.ok(t, fmt.Sprintf(`{"command":"record_diagnosis","at":%q,"person_id":%q,"result":"confirmed"}`, e.at(), p))
		if rep, err := eventstore.Verify(context.Background(), e.store); err != nil || !rep.OK {
			t.Fatalf("verify after erasure: %+v %v", rep, err)
		}
	})
}

func mustPerson(u uuid.UUID) domain.PersonID {
	p, err := domain.ParsePersonID(u.String())
	if err != nil {
		panic(err)
	}
	return p
}
