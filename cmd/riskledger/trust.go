package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
)

func init() {
	register("trust", &command{
		summary: "the trust list in the ledger: trust add (an issuer of a region, with its keys), trust revoke, trust export (a signed file for offline scanners)",
		usage: "add --issuer ID --region R [--key-file PEM ...] [--cert BASE64_DER ...] [--from T] [--until T] | " +
			"revoke ID --reason TEXT | export [--out FILE]",
		flags: func(fs *flag.FlagSet) {
			fs.String("issuer", "", "add: the issuer id its codes carry (iss)")
			fs.String("region", "", "add: the region the issuer serves")
			fs.Var(&stringList{}, "key-file", "add: a PEM file of one of its ES256 public keys; may be given more than once")
			fs.Var(&stringList{}, "cert", "add: an EU DCC signer certificate (base64 DER); may be given more than once")
			fs.String("from", "", "add: the keys verify codes issued from this time (RFC 3339)")
			fs.String("until", "", "add: ... and before this time")
			fs.String("reason", "", "revoke: why")
			fs.String("out", "", "export: write to FILE (default: standard output)")
		},
		run: runTrust,
	})
}

func runTrust(ctx context.Context, m *Main, fs *flag.FlagSet) error {
	switch {
	case fs.NArg() == 1 && fs.Arg(0) == "add":
		e, err := trustedFromFlags(fs)
		if err != nil {
			return err
		}
		return m.withHandler(ctx, func(h *commands.Handler) error {
			if err := h.TrustIssuer(ctx, e, time.Now(), "trust add"); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "trusted issuer %s of %s with %d keys\n", e.Issuer, e.Region, len(e.Keys))
			return nil
		})
	case fs.NArg() == 2 && fs.Arg(0) == "revoke":
		reason := strings.TrimSpace(flagString(fs, "reason"))
		if reason == "" {
			return &usageError{"trust revoke needs --reason: say why the issuer is no longer trusted"}
		}
		return m.withHandler(ctx, func(h *commands.Handler) error {
			if err := h.RevokeIssuer(ctx, fs.Arg(1), reason, time.Now(), "trust revoke"); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "revoked issuer %s\n", fs.Arg(1))
			return nil
		})
	case fs.NArg() == 1 && fs.Arg(0) == "export":
		return m.exportTrust(ctx, flagString(fs, "out"))
	}
	return &usageError{"usage: riskledger trust add --issuer ID --region R [--key-file PEM ...] [--cert BASE64_DER ...] | trust revoke ID --reason TEXT | trust export [--out FILE]"}
}

// trustedFromFlags reads trust add's flags.
func trustedFromFlags(fs *flag.FlagSet) (domain.IssuerTrusted, error) {
	var e domain.IssuerTrusted
	e.Issuer = strings.TrimSpace(flagString(fs, "issuer"))
	if e.Issuer == "" {
		return e, &usageError{"trust add needs --issuer ID"}
	}
	region, err := domain.ParseRegion(flagString(fs, "region"))
	if err != nil {
		return e, &usageError{"trust add needs --region R, the region the issuer serves"}
	}
	e.Region = region
	from, err := timeFlag(fs, "from")
	if err != nil {
		return e, err
	}
	until, err := timeFlag(fs, "until")
	if err != nil {
		return e, err
	}
	for _, path := range *fs.Lookup("key-file").Value.(*stringList) {
		b, err := os.ReadFile(path)
		if err != nil {
			return e, domain.Errorf(domain.Invalid, "cannot read %s: %v", path, err)
		}
		block, _ := pem.Decode(b)
		if block == nil || block.Type != "PUBLIC KEY" {
			return e, domain.Errorf(domain.Invalid, "%s is not a PEM public key (a PUBLIC KEY block)", path)
		}
		e.Keys = append(e.Keys, domain.TrustedKey{PublicKey: block.Bytes, From: from, Until: until})
	}
	for _, c := range *fs.Lookup("cert").Value.(*stringList) {
		der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c))
		if err != nil {
			return e, domain.Errorf(domain.Invalid, "--cert is not base64: %v", err)
		}
		e.Keys = append(e.Keys, domain.TrustedKey{Certificate: der, From: from, Until: until})
	}
	if len(e.Keys) == 0 {
		return e, &usageError{"trust add needs at least one --key-file or --cert"}
	}
	return e, nil
}

// changeTrust runs fn with a handler that knows this node's issuer.
func (m *Main) withHandler(ctx context.Context, fn func(h *commands.Handler) error) error {
	b, closeBulk, err := m.openBulk(ctx, "trust")
	if err != nil {
		return err
	}
	defer closeBulk()
	return fn(b.h)
}

// exportTrust writes the trust list, this node's issuer included, signed
// with its issuer key.
func (m *Main) exportTrust(ctx context.Context, out string) error {
	own, err := m.issuer()
	if err != nil {
		return err
	}
	store, _, err := m.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	list, err := commands.ReadTrustList(ctx, store)
	if err != nil {
		return err
	}
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	self, err := list.Own(own)
	if err != nil {
		return err
	}
	doc := codes.TrustListDocument{Issuer: own.ID, ExportedAt: time.Now().UTC(), Position: head.Position, Issuers: []domain.IssuerTrusted{self}}
	var ids []string
	for id := range list.Issuers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		doc.Issuers = append(doc.Issuers, list.Issuers[id])
	}
	exp, err := codes.Export(doc, own.Key)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(exp, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if out == "" {
		_, err = m.Stdout.Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return domain.Errorf(domain.Invalid, "cannot write %s: %v", out, err)
	}
	fmt.Fprintf(m.Stdout, "wrote the trust list (%d issuers, signed by key %s) to %s\n", len(doc.Issuers), exp.KeyID, out)
	return nil
}
