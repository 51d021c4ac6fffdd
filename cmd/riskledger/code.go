package main

import (
	"context"
	"encoding/json"
	"flag"
	"strings"
	"time"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/keys"
)

func init() {
	register("code", &command{
		summary: "code verify: checks a code offline, step by step (prefix, base45, zlib, cose, signature, issuer, expiry, day): our RL1 codes and EU DCC HC1 codes",
		usage:   "verify [--at T] [--trust-cert BASE64_DER ...] CODE",
		flags: func(fs *flag.FlagSet) {
			fs.String("at", "", "the time of the check (RFC 3339; default: now)")
			fs.Var(&stringList{}, "trust-cert", "also trust this signer certificate (base64 DER) for this check; may be given more than once")
		},
		run: runCode,
	})
}

// stringList is a flag that may be given more than once.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runCode(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if fs.NArg() != 2 || fs.Arg(0) != "verify" {
		return &usageError{"usage: riskledger code verify [--at T] [--trust-cert BASE64_DER ...] CODE"}
	}
	at, err := timeFlag(fs, "at")
	if err != nil {
		return err
	}
	if at.IsZero() {
		at = time.Now()
	}
	opts, err := m.parseOptions()
	if err != nil {
		return err
	}
	trust, err := m.trust()
	if err != nil {
		return err
	}
	for _, cert := range *fs.Lookup("trust-cert").Value.(*stringList) {
		if trust, err = trust.WithCertificate("", cert); err != nil {
			return domain.Errorf(domain.Invalid, "--trust-cert: %s", domain.ErrorMessage(err))
		}
	}
	r := codes.Verify(strings.TrimSpace(fs.Arg(1)), trust, at, opts.Location)
	if err := json.NewEncoder(m.Stdout).Encode(r); err != nil {
		return err
	}
	if !r.Valid {
		return &exitError{exitFailed}
	}
	return nil
}

// trust is the trust list a check of codes uses: our own issuer's key,
// when this node has it.
func (m *Main) trust() (*codes.Trust, error) {
	t := codes.NewTrust()
	path, _, err := m.Config.issuerKeyPath()
	if err != nil {
		return t, nil // no key of ours here: only what the call adds is trusted
	}
	key, err := keys.LoadIssuerKey(path)
	if domain.ErrorCode(err) == domain.NotFound {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	region, err := domain.ParseRegion(m.Config.Region)
	if err != nil {
		return nil, domain.Errorf(domain.Invalid, "the region setting: %s", domain.ErrorMessage(err))
	}
	if err := t.AddIssuer(m.Config.Issuer, region); err != nil {
		return nil, err
	}
	if _, err := t.AddKey(m.Config.Issuer, key.Public(), time.Time{}, time.Time{}); err != nil {
		return nil, err
	}
	return t, nil
}
