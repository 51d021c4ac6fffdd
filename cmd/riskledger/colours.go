package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/projections"
)

func init() {
	timeFlags := func(fs *flag.FlagSet) {
		fs.String("at", "", "the time asked about (RFC 3339; default: now)")
		fs.String("known-at", "", "see only the events recorded at or before this time (RFC 3339; default: all)")
		fs.Bool("json", false, "print JSON (DESIGN §5.1)")
	}
	register("colour", &command{
		summary: "a person's colour at a time, as known at a time, with its reasons",
		usage:   "PERSON [--at T] [--known-at K] [--json]",
		flags:   timeFlags,
		run:     func(ctx context.Context, m *Main, fs *flag.FlagSet) error { return runColour(ctx, m, fs, false) },
	})
	register("colours", &command{
		summary: "every registered person's colour at a time, with the reasons",
		usage:   "[--at T] [--known-at K] [--json]",
		flags:   timeFlags,
		run:     runColours,
	})
	register("explain", &command{
		summary: "a person's red and yellow intervals, the policy version and the events that caused each",
		usage:   "PERSON [--at T] [--known-at K] [--json]",
		flags:   timeFlags,
		run:     func(ctx context.Context, m *Main, fs *flag.FlagSet) error { return runColour(ctx, m, fs, true) },
	})
}

// judgement evaluates the policy over the ledger as the flags ask.
func (m *Main) judgement(ctx context.Context, fs *flag.FlagSet) (*domain.Judgement, time.Time, error) {
	at := time.Now()
	var known time.Time
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"at", &at}, {"known-at", &known}} {
		if s := flagString(fs, f.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, at, &usageError{fmt.Sprintf("--%s %q is not an RFC 3339 time with an offset (like 2020-03-01T08:00:00+08:00)", f.name, s)}
			}
			*f.dst = t
		}
	}
	opts, err := m.parseOptions()
	if err != nil {
		return nil, at, err
	}
	store, _, err := m.openStore(ctx, true)
	if err != nil {
		return nil, at, err
	}
	defer store.Close()
	j, _, err := projections.Judge(ctx, store, known, opts.Location)
	return j, at, err
}

func runColour(ctx context.Context, m *Main, fs *flag.FlagSet, explain bool) error {
	if fs.NArg() != 1 {
		return &usageError{"name one PERSON (a person id)"}
	}
	p, err := domain.ParsePersonID(fs.Arg(0))
	if err != nil {
		return domain.Errorf(domain.Invalid, "%q is not a person id: %v", fs.Arg(0), domain.ErrorMessage(err))
	}
	j, at, err := m.judgement(ctx, fs)
	if err != nil {
		return err
	}
	a := j.ColourAt(p, at)
	if !explain {
		if flagBool(fs, "json") {
			return json.NewEncoder(m.Stdout).Encode(a)
		}
		fmt.Fprintln(m.Stdout, describeAnswer(a))
		return nil
	}
	ivs := j.Intervals(p)
	if flagBool(fs, "json") {
		return json.NewEncoder(m.Stdout).Encode(struct {
			domain.Answer
			At        time.Time         `json:"at"`
			Intervals []domain.Interval `json:"intervals"`
		}{a, at, append([]domain.Interval{}, ivs...)})
	}
	fmt.Fprintf(m.Stdout, "%s at %s\n", describeAnswer(a), at.Format(time.RFC3339))
	if len(ivs) == 0 {
		fmt.Fprintln(m.Stdout, "no red or yellow interval and no override")
	}
	for _, iv := range ivs {
		fmt.Fprintf(m.Stdout, "  %s\n", describeInterval(iv))
	}
	return nil
}

func runColours(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if err := noArgs(fs); err != nil {
		return err
	}
	j, at, err := m.judgement(ctx, fs)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(m.Stdout)
	counts := map[domain.Colour]int{}
	for _, p := range j.Persons() {
		a := j.ColourAt(p, at)
		counts[a.Colour]++
		if flagBool(fs, "json") {
			if err := enc.Encode(a); err != nil {
				return err
			}
		} else if a.Colour != domain.Green {
			fmt.Fprintln(m.Stdout, describeAnswer(a))
		}
	}
	if !flagBool(fs, "json") {
		fmt.Fprintf(m.Stdout, "at %s: %d green, %d yellow, %d red\n", at.Format(time.RFC3339), counts[domain.Green], counts[domain.Yellow], counts[domain.Red])
	}
	return nil
}

func describeAnswer(a domain.Answer) string {
	var rules []string
	for _, r := range a.Reasons {
		rules = append(rules, describeInterval(r))
	}
	if len(rules) == 0 {
		return fmt.Sprintf("%s: %s", a.PersonID, a.Colour)
	}
	return fmt.Sprintf("%s: %s (%s)", a.PersonID, a.Colour, strings.Join(rules, "; "))
}

func describeInterval(iv domain.Interval) string {
	until := "open"
	if !iv.Until.IsZero() {
		until = iv.Until.Format(time.RFC3339)
	}
	var evs []string
	for _, e := range iv.Events {
		evs = append(evs, fmt.Sprintf("%d", e.Position))
	}
	return fmt.Sprintf("%s %s from %s until %s, policy %d, events at %s", iv.Colour, iv.Rule, iv.From.Format(time.RFC3339), until, iv.Policy, strings.Join(evs, ", "))
}
