package domain

import (
	"slices"
	"strings"
)

// Role is what a caller of the API may do (DESIGN §5): each bearer token
// has exactly one.
type Role struct{ s string }

// Roles.
var (
	RoleCitizen        = Role{"citizen"}        // bound to a person: their own data and commands
	RoleGuardian       = Role{"guardian"}       // bound to a person: theirs and their dependents'
	RoleCheckpoint     = Role{"checkpoint"}     // bound to a checkpoint: its scans
	RoleClinic         = Role{"clinic"}         // symptoms and diagnoses
	RoleEpidemiologist = Role{"epidemiologist"} // contacts, chains, clusters, interviews
	RoleAuditor        = Role{"auditor"}        // replays and access logs
	RoleIssuance       = Role{"issuance"}       // projected colours, the change feed, codes
	RoleAdmin          = Role{"admin"}          // everything
)

// Roles returns every role, in the order of DESIGN §5.
func Roles() []Role {
	return []Role{RoleCitizen, RoleGuardian, RoleCheckpoint, RoleClinic, RoleEpidemiologist, RoleAuditor, RoleIssuance, RoleAdmin}
}

// ParseRole reads a role's name; any other is Invalid.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if r.s == s {
			return r, nil
		}
	}
	names := make([]string, 0, 8)
	for _, r := range Roles() {
		names = append(names, r.s)
	}
	return Role{}, Errorf(Invalid, "role %q is not one of %s", s, strings.Join(names, ", "))
}

func (r Role) String() string { return r.s }

// IsZero reports whether r is no role.
func (r Role) IsZero() bool { return r.s == "" }

// BoundToPerson tells the roles whose tokens name a person.
func (r Role) BoundToPerson() bool { return r == RoleCitizen || r == RoleGuardian }

// People tells the roles held by people who look at others' personal
// data: each of their reads of it needs a reason and is recorded.
func (r Role) People() bool {
	return slices.Contains([]Role{RoleEpidemiologist, RoleAuditor, RoleAdmin}, r)
}

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.s), nil }

// UnmarshalText reads a role's name.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	*r = v
	return err
}

// Tokens: bearer tokens of the API, kept in the ledger (one stream,
// TokensStream) so that every node knows them and an audit knows who held
// which role when. Only a token's hash is kept.
const (
	EvTokenCreated = "TokenCreated"
	EvTokenRevoked = "TokenRevoked"
	TokensStream   = "tokens"
)

// TokenCreated: a token with a role, bound to a person (citizen,
// guardian) or a checkpoint (checkpoint), or to neither.
type TokenCreated struct {
	TokenID string `json:"token_id"`
	// Hash is the hex SHA-256 of the token's secret.
	Hash         string       `json:"hash"`
	Role         Role         `json:"role"`
	PersonID     PersonID     `json:"person_id,omitzero"`
	CheckpointID CheckpointID `json:"checkpoint_id,omitzero"`
	Note         string       `json:"note,omitempty"`
}

// TokenRevoked: a token no longer opens anything.
type TokenRevoked struct {
	TokenID string `json:"token_id"`
	Reason  string `json:"reason"`
}

// Names of the token changes (made with `token create` and `token
// revoke`, not commands of the command file).
const (
	CmdCreateToken = "create_token"
	CmdRevokeToken = "revoke_token"
)

// CreateToken creates a token (TokenCreated).
type CreateToken TokenCreated

// RevokeToken revokes a token (TokenRevoked).
type RevokeToken TokenRevoked

// CommandName returns "create_token".
func (CreateToken) CommandName() string { return CmdCreateToken }

// CommandName returns "revoke_token".
func (RevokeToken) CommandName() string { return CmdRevokeToken }

func (CreateToken) isBody() {}
func (RevokeToken) isBody() {}

// Access records: every look by a person at others' personal data, scan
// histories or contact chains (DESIGN §5), appended before the answer is
// given, in one stream (AccessStream).
const (
	EvAccessRecorded = "AccessRecorded"
	AccessStream     = "access"
	CmdRecordAccess  = "record_access"
)

// AccessRecorded: who (the token and its role) looked at what (the
// query), about whom (a person, or none for a query of many), and why.
type AccessRecorded struct {
	Actor    string   `json:"actor"`
	Role     Role     `json:"role"`
	Query    string   `json:"query"`
	PersonID PersonID `json:"person_id,omitzero"`
	Reason   string   `json:"reason"`
}

// RecordAccess records a look (AccessRecorded).
type RecordAccess AccessRecorded

// CommandName returns "record_access".
func (RecordAccess) CommandName() string { return CmdRecordAccess }

func (RecordAccess) isBody() {}
