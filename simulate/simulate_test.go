package simulate_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/simulate"
)

// shanghai is the zone the tests run the city in, as Run would choose it.
func shanghai(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(simulate.DefaultZone)
	if err != nil {
		return time.FixedZone("CST", 8*60*60)
	}
	return loc
}

// run runs cfg and returns every command.
func run(t testing.TB, cfg simulate.Config) ([]domain.Command, simulate.Stats) {
	t.Helper()
	var cmds []domain.Command
	st, err := simulate.Run(cfg, func(c domain.Command) error {
		cmds = append(cmds, c)
		return nil
	})
	if err != nil {
		t.Fatalf("Run(%+v): %v", cfg, err)
	}
	return cmds, st
}

func smallCity(t testing.TB) simulate.Config {
	return simulate.Config{People: 300, Checkpoints: 30, Days: 7, Seed: 1, Location: shanghai(t)}
}

func TestCommandsRoundTripThroughParseCommand(t *testing.T) {
	cfg := smallCity(t)
	cmds, _ := run(t, cfg)
	opts := domain.ParseOptions{Location: cfg.Location,
		Now: func() time.Time { return time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC) }}
	names := map[string]bool{}
	kinds := map[domain.CheckpointKind]bool{}
	for i, c := range cmds {
		if b, ok := c.Body.(domain.RegisterCheckpoint); ok {
			kinds[b.Kind] = true
			if admitsRed := len(b.AdmittedColours()) == 3; admitsRed != (b.Kind == domain.KindHospital) {
				t.Errorf("%s (%s) admits %v", b.Name, b.Kind, b.AdmittedColours())
			}
		}
		line, err := c.MarshalJSON()
		if err != nil {
			t.Fatalf("command %d (%s %s): marshal: %v", i, c.Name(), c.ID, err)
		}
		parsed, err := domain.ParseCommand(line, opts)
		if err != nil {
			t.Fatalf("command %d: ParseCommand(%s): %v", i, line, err)
		}
		again, err := parsed.MarshalJSON()
		if err != nil {
			t.Fatalf("command %d: marshal the parsed command: %v", i, err)
		}
		if !bytes.Equal(line, again) {
			t.Fatalf("command %d changed in a round trip:\n got %s\nwant %s", i, again, line)
		}
		if !parsed.At.Equal(c.At) || parsed.ID != c.ID || parsed.ID == "" {
			t.Fatalf("command %d: envelope changed: %q %s, want %q %s", i, parsed.ID, parsed.At, c.ID, c.At)
		}
		names[c.Name()] = true
	}
	if len(kinds) != 8 {
		t.Errorf("checkpoints of %d kinds (%v), want the 8 kinds of places", len(kinds), kinds)
	}
	for _, want := range []string{domain.CmdRegisterCheckpoint, domain.CmdDesignateKeyArea, domain.CmdRegisterPerson,
		domain.CmdVerifyIdentity, domain.CmdApplyDependent, domain.CmdSubmitHealthForm, domain.CmdRecordScan} {
		if !names[want] {
			t.Errorf("no %s among %d commands", want, len(cmds))
		}
	}
}

// digest runs cfg and hashes the command stream as JSON Lines.
func digest(t *testing.T, cfg simulate.Config) [32]byte {
	t.Helper()
	h := sha256.New()
	_, err := simulate.Run(cfg, func(c domain.Command) error {
		line, err := c.MarshalJSON()
		h.Write(append(line, '\n'))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

func TestRunIsDeterministic(t *testing.T) {
	cfg := smallCity(t)
	first, second := digest(t, cfg), digest(t, cfg)
	if first != second {
		t.Errorf("two runs of %+v differ", cfg)
	}
	cfg.Seed = 2
	if other := digest(t, cfg); other == first {
		t.Errorf("seeds 1 and 2 give the same commands")
	}
}

// TestStreamIsConsistent checks what a ledger taking the commands in order
// relies on.
func TestStreamIsConsistent(t *testing.T) {
	// Big and long enough for arrivals, a lifted key area and recoveries.
	cfg := simulate.Config{People: 2000, Checkpoints: 100, Days: 30, Seed: 11, Location: shanghai(t)}
	cmds, _ := run(t, cfg)
	loc := cfg.Location
	first := time.Date(2020, time.February, 1, 0, 0, 0, 0, loc)
	end := first.AddDate(0, 0, cfg.Days)
	persons := map[domain.PersonID]bool{}
	checkpoints := map[domain.CheckpointID]bool{}
	dependents := map[domain.PersonID]int{}
	usableFrom := map[domain.PersonID]domain.Date{}
	ids := map[string]int{}
	seen := map[string]int{}
	person := func(i int, role string, p domain.PersonID) {
		t.Helper()
		if !persons[p] {
			t.Errorf("command %d (%s) names %s %s before it is registered", i, cmds[i].ID, role, p)
		}
	}
	var last time.Time
	for i, c := range cmds {
		if c.At.Before(last) {
			t.Fatalf("command %d (%s) at %s comes after %s", i, c.ID, c.At, last)
		}
		last = c.At
		if c.At.Before(first) || !c.At.Before(end) {
			t.Errorf("command %d (%s) at %s is outside the simulated days", i, c.ID, c.At.In(loc))
		}
		if j, dup := ids[c.ID]; dup {
			t.Errorf("commands %d and %d share the id %q", j, i, c.ID)
		}
		ids[c.ID] = i
		switch b := c.Body.(type) {
		case domain.RegisterCheckpoint:
			checkpoints[b.CheckpointID] = true
		case domain.RegisterPerson:
			if persons[b.PersonID] {
				t.Errorf("command %d registers %s again", i, b.PersonID)
			}
			persons[b.PersonID] = true
			if !c.At.Before(first.AddDate(0, 0, 1)) {
				seen["a registration after day 0"]++
			}
		case domain.ApplyDependent:
			person(i, "guardian", b.GuardianID)
			if persons[b.DependentID] {
				t.Errorf("command %d applies for %s, who is registered", i, b.DependentID)
			}
			persons[b.DependentID] = true
			usableFrom[b.DependentID] = b.UsableFrom
			if dependents[b.GuardianID]++; dependents[b.GuardianID] > 4 {
				t.Errorf("command %d gives guardian %s a fifth dependent", i, b.GuardianID)
			}
			if day := domain.DateOf(c.At, loc); b.UsableFrom.Before(day.Next()) {
				t.Errorf("command %d: usable_from %s is before the day after %s", i, b.UsableFrom, day)
			}
		case domain.VerifyIdentity:
			person(i, "person", b.PersonID)
		case domain.SubmitHealthForm:
			person(i, "person", b.PersonID)
			if _, ok := usableFrom[b.PersonID]; ok {
				t.Errorf("command %d: a health form of dependent %s", i, b.PersonID)
			}
			if len(b.Travel) > 0 {
				seen["a form declaring a journey"]++
			}
		case domain.RecordScan:
			person(i, "person", b.PersonID)
			if from, ok := usableFrom[b.PersonID]; ok && domain.DateOf(c.At, loc).Before(from) {
				t.Errorf("command %d scans dependent %s before %s, the day their code is usable", i, b.PersonID, from)
			}
			if !checkpoints[b.CheckpointID] {
				t.Errorf("command %d scans at checkpoint %s before it is registered", i, b.CheckpointID)
			}
			if b.Method != domain.ScanImported {
				t.Errorf("command %d: scan method %s", i, b.Method)
			}
		case domain.ReportSymptoms:
			person(i, "person", b.PersonID)
		case domain.RecordDiagnosis:
			person(i, "person", b.PersonID)
			seen["a diagnosis "+b.Result.String()]++
		case domain.ReportContact:
			person(i, "person", b.PersonID)
			person(i, "other", b.OtherID)
			if b.Start.After(c.At) {
				t.Errorf("command %d reports a contact starting at %s, after the report", i, b.Start)
			}
		case domain.DesignateKeyArea:
		case domain.LiftKeyArea:
			seen["a lifted key area"]++
		default:
			t.Errorf("command %d: unexpected %s", i, c.Name())
		}
	}
	if len(checkpoints) != cfg.Checkpoints {
		t.Errorf("%d checkpoints registered, want %d", len(checkpoints), cfg.Checkpoints)
	}
	if len(persons) != cfg.People {
		t.Errorf("%d persons registered, want %d", len(persons), cfg.People)
	}
	t.Logf("%d commands; %v", len(cmds), seen)
	for _, want := range []string{"a registration after day 0", "a form declaring a journey", "a lifted key area",
		"a diagnosis confirmed", "a diagnosis recovered", "a diagnosis suspected", "a diagnosis ruled_out"} {
		if seen[want] == 0 {
			t.Errorf("no %s in %d days", want, cfg.Days)
		}
	}
}

// TestOutbreakHappens: in two weeks, the seed cases are confirmed, their
// households are reported as contacts, and the infection spreads.
func TestOutbreakHappens(t *testing.T) {
	cfg := simulate.Config{People: 2000, Checkpoints: 100, Days: 14, Seed: 7, Location: shanghai(t)}
	var symptoms, confirmed, contacts, feverScans, contactForms int
	st, err := simulate.Run(cfg, func(c domain.Command) error {
		switch b := c.Body.(type) {
		case domain.ReportSymptoms:
			symptoms++
		case domain.RecordDiagnosis:
			if b.Result == domain.DiagnosisConfirmed {
				confirmed++
			}
		case domain.ReportContact:
			contacts++
		case domain.RecordScan:
			if b.TemperatureCelsius != nil && *b.TemperatureCelsius >= 37.3 {
				feverScans++
			}
		case domain.SubmitHealthForm:
			if b.ContactWithCase {
				contactForms++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seeds := 3
	t.Logf("infected %d, symptom reports %d, confirmed %d, contacts %d, fever scans %d, contact forms %d",
		st.Infected, symptoms, confirmed, contacts, feverScans, contactForms)
	if st.Infected <= seeds {
		t.Errorf("%d infected: the infection did not spread from the %d seeds", st.Infected, seeds)
	}
	for what, n := range map[string]int{"symptom reports": symptoms, "confirmed diagnoses": confirmed,
		"reported contacts": contacts, "scans with a fever": feverScans, "forms declaring a contact": contactForms} {
		if n == 0 {
			t.Errorf("no %s", what)
		}
	}
	if st.Diagnosed != confirmed {
		t.Errorf("Stats.Diagnosed = %d, want the %d confirmed diagnoses", st.Diagnosed, confirmed)
	}
}

func TestStatsCountTheCommands(t *testing.T) {
	cfg := simulate.Config{People: 2000, Checkpoints: simulate.DefaultCheckpoints(2000), Days: 7, Seed: 3}
	byName := map[string]int{}
	var total, people, dependents, checkpoints, confirmed int
	st, err := simulate.Run(cfg, func(c domain.Command) error {
		total++
		byName[c.Name()]++
		switch b := c.Body.(type) {
		case domain.RegisterPerson:
			people++
		case domain.ApplyDependent:
			people++
			dependents++
		case domain.RegisterCheckpoint:
			checkpoints++
		case domain.RecordDiagnosis:
			if b.Result == domain.DiagnosisConfirmed {
				confirmed++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if st.Commands != total {
		t.Errorf("Stats.Commands = %d, emitted %d", st.Commands, total)
	}
	if len(st.ByCommand) != len(byName) {
		t.Errorf("Stats.ByCommand = %v, emitted %v", st.ByCommand, byName)
	}
	for name, n := range byName {
		if st.ByCommand[name] != n {
			t.Errorf("Stats.ByCommand[%s] = %d, emitted %d", name, st.ByCommand[name], n)
		}
	}
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"People", st.People, people}, {"People (configured)", st.People, cfg.People},
		{"Dependents", st.Dependents, dependents}, {"Checkpoints", st.Checkpoints, checkpoints},
		{"Checkpoints (configured)", st.Checkpoints, cfg.Checkpoints}, {"Diagnosed", st.Diagnosed, confirmed},
	} {
		if c.got != c.want {
			t.Errorf("Stats.%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	if st.Dependents == 0 || st.Infected < st.Diagnosed {
		t.Errorf("implausible stats %+v", st)
	}
	// About 3 to 4 scans a person a day.
	if perDay := float64(st.ByCommand[domain.CmdRecordScan]) / float64(cfg.People*cfg.Days); perDay < 2.5 || perDay > 4.5 {
		t.Errorf("%.2f scans a person a day", perDay)
	}
}

func TestDefaults(t *testing.T) {
	cmds, _ := run(t, simulate.Config{People: 20, Checkpoints: 1, Days: 1})
	if len(cmds) == 0 {
		t.Fatal("no commands")
	}
	loc := shanghai(t)
	want := time.Date(2020, time.February, 1, 0, 0, 0, 0, loc)
	for _, c := range cmds {
		if day := domain.DateOf(c.At, loc); day.String() != "2020-02-01" {
			t.Fatalf("%s at %s: want every command on 2020-02-01 in %s", c.ID, c.At.In(loc), loc)
		}
	}
	if first := cmds[0]; first.Name() != domain.CmdRegisterCheckpoint || first.At.Before(want) {
		t.Errorf("the first command is %s at %s, want the checkpoint's registration", first.Name(), first.At)
	}
	if got := simulate.DefaultCheckpoints(100_000); got != 5000 {
		t.Errorf("DefaultCheckpoints(100000) = %d, want 5000", got)
	}
	if got := simulate.DefaultCheckpoints(50); got != 10 {
		t.Errorf("DefaultCheckpoints(50) = %d, want 10", got)
	}
}

func TestTinyCities(t *testing.T) {
	for _, cfg := range []simulate.Config{
		{People: 1, Checkpoints: 1, Days: 1},
		{People: 7, Checkpoints: 3, Days: 2, Seed: -4},
		{People: 50, Checkpoints: 9, Days: 40, Seed: 5},
	} {
		cmds, st := run(t, cfg)
		if st.People != cfg.People || st.Checkpoints != cfg.Checkpoints || st.Commands != len(cmds) {
			t.Errorf("%+v: stats %+v from %d commands", cfg, st, len(cmds))
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  simulate.Config
		want string
	}{
		{"no people", simulate.Config{People: 0, Checkpoints: 10, Days: 1}, "people must be at least 1"},
		{"no checkpoints", simulate.Config{People: 100, Checkpoints: 0, Days: 1}, "checkpoints must be at least 1, got 0 (for 100 people, 10"},
		{"no days", simulate.Config{People: 1, Checkpoints: 1, Days: 0}, "days must be between 1 and 366, got 0"},
		{"367 days", simulate.Config{People: 1, Checkpoints: 1, Days: 367}, "days must be between 1 and 366, got 367"},
		{"too many people", simulate.Config{People: simulate.MaxPeople + 1, Checkpoints: 1, Days: 1}, "people must be at most"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if domain.ErrorCode(err) != domain.Invalid || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an invalid error saying %q", err, c.want)
			}
			called := false
			if _, err := simulate.Run(c.cfg, func(domain.Command) error { called = true; return nil }); domain.ErrorCode(err) != domain.Invalid || called {
				t.Errorf("Run: %v (emitted: %v), want the invalid error before anything is emitted", err, called)
			}
		})
	}
	err := simulate.Config{}.Validate()
	for _, want := range []string{"people", "checkpoints", "days"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() of the zero Config = %v, want every problem, %s among them", err, want)
		}
	}
	if err := smallCity(t).Validate(); err != nil {
		t.Errorf("Validate() of a good config: %v", err)
	}
}

func TestRunReturnsEmitsError(t *testing.T) {
	stop := errors.New("disk full")
	calls := 0
	st, err := simulate.Run(smallCity(t), func(domain.Command) error {
		if calls++; calls == 100 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("Run() = %v, want emit's error unchanged", err)
	}
	if calls != 100 || st.Commands != 99 {
		t.Errorf("emit called %d times, Stats.Commands %d; want a stop at the error after 99 commands", calls, st.Commands)
	}
}

func benchmarkRun(b *testing.B, cfg simulate.Config) {
	b.ReportAllocs()
	var st simulate.Stats
	for b.Loop() {
		var err error
		if st, err = simulate.Run(cfg, func(domain.Command) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Commands), "commands")
	b.ReportMetric(float64(st.Commands)*float64(b.N)/b.Elapsed().Seconds(), "commands/s")
}

// BenchmarkRun generates a city of 20,000 people for a week.
func BenchmarkRun(b *testing.B) {
	benchmarkRun(b, simulate.Config{People: 20_000, Checkpoints: simulate.DefaultCheckpoints(20_000), Days: 7, Seed: 1})
}

// BenchmarkRunLargeCity generates the city of DESIGN §7, 100,000 people, for
// two weeks (more than 5 million commands); run it with -benchtime=1x.
func BenchmarkRunLargeCity(b *testing.B) {
	benchmarkRun(b, simulate.Config{People: 100_000, Checkpoints: simulate.DefaultCheckpoints(100_000), Days: 14, Seed: 1})
}
