package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/keys"
)

func init() {
	register("code", &command{
		summary: "code issue: a person's signed code for today, as text and a QR PNG; code verify: checks a code offline, step by step (prefix, base45, zlib, cose, signature, issuer, expiry, day): our RL1 codes and EU DCC HC1 codes",
		usage:   "issue PERSON [--by GUARDIAN] [--png FILE] [--json] | verify [--at T] [--trust-file FILE] [--trust-cert BASE64_DER ...] CODE",
		flags: func(fs *flag.FlagSet) {
			fs.String("at", "", "verify: the time of the check (RFC 3339; default: now)")
			fs.Var(&stringList{}, "trust-cert", "verify: also trust this signer certificate (base64 DER) for this check; may be given more than once")
			fs.String("trust-file", "", "verify: the trust list from this export (trust export), instead of the ledger's")
			fs.String("by", "", "issue: the guardian retrieving a dependent's code")
			fs.String("png", "", "issue: also write the code as a QR image (PNG, error correction Q) to FILE")
			fs.Bool("json", false, "issue: print the CodeIssued event as JSON")
		},
		run: runCode,
	})
}

// stringList is a flag that may be given more than once.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runCode(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	if fs.NArg() == 2 && fs.Arg(0) == "issue" {
		return runCodeIssue(ctx, m, fs)
	}
	if fs.NArg() != 2 || fs.Arg(0) != "verify" {
		return &usageError{"usage: riskledger code issue PERSON [--by GUARDIAN] [--png FILE] | code verify [--at T] [--trust-cert BASE64_DER ...] CODE"}
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
	trust, err := m.trust(ctx, flagString(fs, "trust-file"))
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

// runCodeIssue issues a person's code for today (local) and prints it.
func runCodeIssue(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	person, err := domain.ParsePersonID(fs.Arg(1))
	if err != nil {
		return domain.Errorf(domain.Invalid, "%q is not a person id: %v", fs.Arg(1), domain.ErrorMessage(err))
	}
	var by domain.PersonID
	if s := flagString(fs, "by"); s != "" {
		if by, err = domain.ParsePersonID(s); err != nil {
			return domain.Errorf(domain.Invalid, "--by %q is not a person id: %v", s, domain.ErrorMessage(err))
		}
	}
	if _, err := m.issuer(); err != nil {
		return err
	}
	b, closeBulk, err := m.openBulk(ctx, "code issue")
	if err != nil {
		return err
	}
	defer closeBulk()
	issued, err := b.h.IssueCode(ctx, person, by, time.Now(), "code issue")
	if err != nil {
		return err
	}
	if png := flagString(fs, "png"); png != "" {
		img, err := codes.PNG(issued.Code, 512)
		if err != nil {
			return err
		}
		if err := os.WriteFile(png, img, 0o644); err != nil {
			return domain.Errorf(domain.Invalid, "cannot write %s: %v", png, err)
		}
	}
	if flagBool(fs, "json") {
		return json.NewEncoder(m.Stdout).Encode(issued)
	}
	_, err = fmt.Fprintf(m.Stdout, "%s\n%s code of %s for %s (position %d)\n", issued.Code, issued.Colour, person, issued.Day, issued.Basis)
	return err
}

// issuer is this node's code issuer: its key (made with the embedded store
// on first use), id, region and zone. Without a key file it is an error
// that says how to make one.
func (m *Main) issuer() (*commands.Issuer, error) {
	path, create, err := m.Config.issuerKeyPath()
	if err != nil {
		return nil, err
	}
	load := keys.LoadIssuerKey
	if create {
		load = keys.LoadOrCreateIssuerKey
	}
	key, err := load(path)
	if err != nil {
		return nil, err
	}
	opts, err := m.parseOptions()
	if err != nil {
		return nil, err
	}
	return &commands.Issuer{ID: m.Config.Issuer, Region: m.Config.Region, Key: key, Location: opts.Location}, nil
}

// nodeIssuer is this node's issuer, or nil on a PostgreSQL node that has
// no issuer_key_file (it signs no codes and trusts only the ledger's list).
func (m *Main) nodeIssuer() (*commands.Issuer, error) {
	if m.Config.DatabaseURL != "" && m.Config.IssuerKeyFile == "" {
		return nil, nil
	}
	return m.issuer()
}

// trust is the trust list a check of codes uses: a signed export (file),
// or else this node's own issuer and the ledger's trust list.
func (m *Main) trust(ctx context.Context, file string) (*codes.Trust, error) {
	own, err := m.nodeIssuer()
	if err != nil {
		return nil, err
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, domain.Errorf(domain.Invalid, "cannot read the trust list %s: %v", file, err)
		}
		var exp codes.TrustExport
		if err := json.Unmarshal(b, &exp); err != nil {
			return nil, domain.Errorf(domain.Invalid, "%s is not a trust list export: %v", file, err)
		}
		var doc codes.TrustListDocument
		_ = json.Unmarshal(exp.List, &doc)
		var pinned *ecdsa.PublicKey
		if own != nil && doc.Issuer == own.ID {
			pinned = &own.Key.PublicKey // ours: it must be signed with our key
		}
		t, _, err := exp.Load(pinned)
		if err != nil {
			return nil, domain.Errorf(domain.Invalid, "%s: %s", file, domain.ErrorMessage(err))
		}
		return t, nil
	}
	list := commands.TrustList{}
	if store, _, err := m.openStore(ctx, true); err == nil {
		list, err = commands.ReadTrustList(ctx, store)
		store.Close()
		if err != nil {
			return nil, err
		}
	}
	return list.Trust(own)
}
