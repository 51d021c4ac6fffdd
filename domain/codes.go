package domain

import "time"

// EvCodeIssued is the event of a code retrieved for a day.
const EvCodeIssued = "CodeIssued"

// CodeIssued: a person's code for a local day, as retrieved (by the person,
// or by their guardian for a dependent). The code carries no identity: its
// subject is a random pseudonym, whose stream (CodeStream) holds this
// event alone, so that a checkpoint's scan of the code finds the person.
type CodeIssued struct {
	PersonID PersonID `json:"person_id"`
	// RequestedBy is the guardian who retrieved a dependent's code.
	RequestedBy PersonID `json:"requested_by,omitzero"`
	Day         Date     `json:"day"`
	Colour      Colour   `json:"colour"`
	// Basis is the ledger position the colour was read at.
	Basis     int64  `json:"basis"`
	Pseudonym string `json:"pseudonym"`
	Issuer    string `json:"issuer"`
	KeyID     string `json:"kid"`
	// Code is the signed code itself (prefix RL1:), which holds no
	// personal data. Each retrieval issues a new one, with the colour of
	// its moment.
	Code string `json:"code"`
}

// CodeStream is the stream of the code issued under a pseudonym.
func CodeStream(pseudonym string) string { return "code-" + pseudonym }

// CmdIssueCode names the retrieval of a code. Codes are retrieved, not
// imported: it is no command of the command file (CommandNames).
const CmdIssueCode = "issue_code"

// IssueCode retrieves a person's code for the local day of the command's
// At: the person's own, or, for a dependent, their guardian's request.
type IssueCode struct {
	PersonID    PersonID `json:"person_id"`
	RequestedBy PersonID `json:"requested_by,omitzero"`
}

// CommandName returns "issue_code".
func (IssueCode) CommandName() string { return CmdIssueCode }

func (IssueCode) isBody() {}

// The trust list: the issuers whose codes checkpoints may recognise, with
// their keys, kept in the ledger (one stream, TrustStream) so that every
// node and every export agrees on it, and a replay knows what was trusted
// when.
const (
	EvIssuerTrusted = "IssuerTrusted"
	EvIssuerRevoked = "IssuerRevoked"
	TrustStream     = "trust"
)

// TrustedKey is one key of a trusted issuer: an ES256 public key (DER
// SubjectPublicKeyInfo) of a region's health-code issuer, or an EU DCC
// document signer's certificate (DER). Codes issued in [From, Until) verify
// under it (zero: open); a certificate's own validity bounds it too.
type TrustedKey struct {
	PublicKey   []byte    `json:"public_key,omitempty"`
	Certificate []byte    `json:"certificate,omitempty"`
	From        time.Time `json:"from,omitzero"`
	Until       time.Time `json:"until,omitzero"`
}

// IssuerTrusted: an issuer of a region is trusted with these keys, in
// place of what was trusted of it before.
type IssuerTrusted struct {
	Issuer string       `json:"issuer"`
	Region Region       `json:"region"`
	Keys   []TrustedKey `json:"keys"`
}

// IssuerRevoked: an issuer is no longer trusted.
type IssuerRevoked struct {
	Issuer string `json:"issuer"`
	Reason string `json:"reason"`
}

// Names of the trust list's changes (not commands of the command file:
// they are made with `trust add` and `trust revoke`).
const (
	CmdTrustIssuer  = "trust_issuer"
	CmdRevokeIssuer = "revoke_issuer"
)

// TrustIssuer trusts an issuer (IssuerTrusted).
type TrustIssuer IssuerTrusted

// RevokeIssuer revokes an issuer (IssuerRevoked).
type RevokeIssuer IssuerRevoked

// CommandName returns "trust_issuer".
func (TrustIssuer) CommandName() string { return CmdTrustIssuer }

// CommandName returns "revoke_issuer".
func (RevokeIssuer) CommandName() string { return CmdRevokeIssuer }

func (TrustIssuer) isBody()  {}
func (RevokeIssuer) isBody() {}

// EvIssuerKeyRetired: this ledger's own issuer stopped signing with a key
// (keys rotate). The key still verifies the codes it signed before Until,
// for as long as they last.
const EvIssuerKeyRetired = "IssuerKeyRetired"

// IssuerKeyRetired names the retired key, with Until set to its retirement.
type IssuerKeyRetired struct {
	Issuer string     `json:"issuer"`
	Key    TrustedKey `json:"key"`
}

// CmdRetireIssuerKey names a key's retirement (made by `keys rotate`).
const CmdRetireIssuerKey = "retire_issuer_key"

// RetireIssuerKey retires a key of our own issuer (IssuerKeyRetired).
type RetireIssuerKey IssuerKeyRetired

// CommandName returns "retire_issuer_key".
func (RetireIssuerKey) CommandName() string { return CmdRetireIssuerKey }

func (RetireIssuerKey) isBody() {}
