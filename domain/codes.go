package domain

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
