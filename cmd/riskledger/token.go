package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/projections"
)

func init() {
	register("token", &command{
		summary: "bearer tokens of the HTTP API: token create (prints the token once; the ledger keeps its hash), token revoke, token list",
		usage:   "create --role R [--person P | --checkpoint C] [--note TEXT] | revoke ID --reason TEXT | list [--json]",
		flags: func(fs *flag.FlagSet) {
			fs.String("role", "", "create: citizen, guardian, checkpoint, clinic, epidemiologist, auditor, issuance or admin")
			fs.String("person", "", "create: the person a citizen or guardian token acts for")
			fs.String("checkpoint", "", "create: the checkpoint a checkpoint token records scans of")
			fs.String("note", "", "create: whose token it is, for the list (no personal data)")
			fs.String("reason", "", "revoke: why")
			fs.Bool("json", false, "print as JSON")
		},
		run: runToken,
	})
}

func runToken(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	switch {
	case fs.NArg() == 1 && fs.Arg(0) == "create":
		t, err := tokenFromFlags(fs)
		if err != nil {
			return err
		}
		return m.withHandler(ctx, func(h *commands.Handler) error {
			token, t, err := h.CreateToken(ctx, t, time.Now(), "token create")
			if err != nil {
				return err
			}
			if flagBool(fs, "json") {
				return json.NewEncoder(m.Stdout).Encode(map[string]string{"token": token, "token_id": t.TokenID, "role": t.Role.String()})
			}
			fmt.Fprintln(m.Stdout, token)
			fmt.Fprintf(m.Stderr, "token %s (%s): it is shown this once; keep it secret\n", t.TokenID, t.Role)
			return nil
		})
	case fs.NArg() == 2 && fs.Arg(0) == "revoke":
		reason := strings.TrimSpace(flagString(fs, "reason"))
		if reason == "" {
			return &usageError{"token revoke needs --reason: say why the token ends"}
		}
		return m.withHandler(ctx, func(h *commands.Handler) error {
			if err := h.RevokeToken(ctx, fs.Arg(1), reason, time.Now(), "token revoke"); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "revoked token %s\n", commands.TokenID(fs.Arg(1)))
			return nil
		})
	case fs.NArg() == 1 && fs.Arg(0) == "list":
		store, _, err := m.openStore(ctx, true)
		if err != nil {
			return err
		}
		defer store.Close()
		ts, err := commands.ReadTokens(ctx, store)
		if err != nil {
			return err
		}
		list := make([]*commands.Token, 0, len(ts.Tokens))
		for _, t := range ts.Tokens {
			t.Hash = "" // of no use to a reader
			list = append(list, t)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Created.Before(list[j].Created) })
		if flagBool(fs, "json") {
			return json.NewEncoder(m.Stdout).Encode(list)
		}
		for _, t := range list {
			state := "live"
			if t.Revoked {
				state = "revoked"
			}
			bound := ""
			switch {
			case !t.PersonID.IsZero():
				bound = " for person " + t.PersonID.String()
			case !t.CheckpointID.IsZero():
				bound = " for checkpoint " + t.CheckpointID.String()
			}
			fmt.Fprintf(m.Stdout, "%s  %-14s %s%s  created %s  %s\n", t.TokenID, t.Role, state, bound, t.Created.Format(time.RFC3339), t.Note)
		}
		return nil
	}
	return &usageError{"usage: riskledger token create --role R [--person P | --checkpoint C] | token revoke ID --reason TEXT | token list"}
}

// tokenFromFlags reads token create's flags.
func tokenFromFlags(fs *flag.FlagSet) (domain.TokenCreated, error) {
	var t domain.TokenCreated
	role, err := domain.ParseRole(flagString(fs, "role"))
	if err != nil {
		return t, &usageError{"token create needs --role: " + domain.ErrorMessage(err)}
	}
	t.Role, t.Note = role, flagString(fs, "note")
	if v := flagString(fs, "person"); v != "" {
		if t.PersonID, err = domain.ParsePersonID(v); err != nil {
			return t, &usageError{fmt.Sprintf("--person %q is not a person id", v)}
		}
	}
	if v := flagString(fs, "checkpoint"); v != "" {
		if t.CheckpointID, err = domain.ParseCheckpointID(v); err != nil {
			return t, &usageError{fmt.Sprintf("--checkpoint %q is not a checkpoint id", v)}
		}
	}
	return t, nil
}

// runAuditAccess lists who looked at whom: `audit access [--person P]
// [--actor A]`.
func runAuditAccess(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	var p domain.PersonID
	if v := flagString(fs, "person"); v != "" {
		var err error
		if p, err = domain.ParsePersonID(v); err != nil {
			return &usageError{fmt.Sprintf("--person %q is not a person id", v)}
		}
	}
	store, _, err := m.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	log, err := projections.AccessLog(ctx, store, p, flagString(fs, "actor"))
	if err != nil {
		return err
	}
	if flagBool(fs, "json") {
		return json.NewEncoder(m.Stdout).Encode(log)
	}
	for _, a := range log {
		whom := "(many)"
		if !a.PersonID.IsZero() {
			whom = a.PersonID.String()
		}
		fmt.Fprintf(m.Stdout, "%s  %s (%s) %s of %s: %q\n", a.RecordedAt.Format(time.RFC3339), a.Actor, a.Role, a.Query, whom, a.Reason)
	}
	fmt.Fprintf(m.Stdout, "%d looks\n", len(log))
	return nil
}
