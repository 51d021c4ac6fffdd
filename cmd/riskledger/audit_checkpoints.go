package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riskledger/riskledger/projections"
)

// CheckpointRefusals is a checkpoint's refusals of recognisable codes.
type CheckpointRefusals = projections.CheckpointRefusals

func runAuditCheckpoints(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	store, _, err := m.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	out, err := projections.Compliance(ctx, store)
	if err != nil {
		return err
	}
	if flagBool(fs, "json") {
		return json.NewEncoder(m.Stdout).Encode(out)
	}
	for _, r := range out {
		var iss []string
		for i, n := range r.Issuers {
			iss = append(iss, fmt.Sprintf("%s %d", i, n))
		}
		slices.Sort(iss)
		fmt.Fprintf(m.Stdout, "%s (%s): %d refusals of recognisable codes, %s to %s: %s\n", r.Name, r.CheckpointID, r.Denials,
			r.First.UTC().Format(time.RFC3339), r.Last.UTC().Format(time.RFC3339), strings.Join(iss, ", "))
	}
	fmt.Fprintf(m.Stdout, "%d checkpoints refused codes of trusted issuers they do not recognise\n", len(out))
	return nil
}
