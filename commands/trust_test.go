package commands_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/commands"
	"github.com/riskledger/riskledger/domain"
)

// TestScanSeesTheTrustListChange: a handler that checked codes against the
// trust list as it was keeps it cached; when another handler (another
// node) trusts a new issuer, the first one's next scan of that issuer's
// code is decided on the list as it is now, not as cached.
func TestScanSeesTheTrustListChange(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ours, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err := e.h.SetIssuer(&commands.Issuer{ID: "riskledger", Region: "Shanghai", Key: ours, Location: shanghai}); err != nil {
			t.Fatal(err)
		}
		other := commands.New(e.store, e.vault)
		if err := other.SetIssuer(&commands.Issuer{ID: "riskledger", Region: "Shanghai", Key: ours, Location: shanghai}); err != nil {
			t.Fatal(err)
		}
		cp := uuid.New()
		e.ok(t, fmt.Sprintf(`{"command":"register_checkpoint","at":%q,"checkpoint_id":%q,"name":"Changzhou North","kind":"subway","district":"Xinbei","recognises":["jiangsu"]}`, e.at(), cp))
		jiangsu, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		today := domain.DateOf(e.now, shanghai)
		code, err := codes.Issue(codes.Claims{Issuer: "jiangsu", IssuedAt: e.now.Add(-2 * time.Hour), Expires: today.Next().Start(shanghai),
			Pseudonym: "j-1", Colour: domain.Green, Day: today, Position: 1}, jiangsu)
		if err != nil {
			t.Fatal(err)
		}
		scan := func(second int) domain.ScanRecorded {
			t.Helper()
			r := e.ok(t, fmt.Sprintf(`{"command":"record_scan","at":%q,"checkpoint_id":%q,"code":%q,"method":"qr"}`,
				e.now.Add(-time.Minute+time.Duration(second)*time.Second).Format(time.RFC3339), cp, code))
			var s domain.ScanRecorded
			if err := json.Unmarshal(r.Events[0].Payload, &s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		if s := scan(1); s.Admitted || !strings.HasPrefix(s.Reason, "code_invalid: issuer:") {
			t.Fatalf("a code of an issuer nobody trusts: %+v", s)
		}
		der, _ := x509.MarshalPKIXPublicKey(&jiangsu.PublicKey)
		region, _ := domain.ParseRegion("Jiangsu")
		if err := other.TrustIssuer(ctx, domain.IssuerTrusted{Issuer: "jiangsu", Region: region, Keys: []domain.TrustedKey{{PublicKey: der}}}, e.now, "test"); err != nil {
			t.Fatal(err)
		}
		if s := scan(2); !s.Admitted || s.Subject.Issuer != "jiangsu" {
			t.Fatalf("the same code once another node trusts its issuer: %+v", s)
		}
	})
}
