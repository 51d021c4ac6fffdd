// Package codes issues and verifies health codes: signed credentials that a
// scanner checks offline against its trust list.
//
// A code of ours is the text
//
//	"RL1:" + base45(zlib(COSE_Sign1(ES256, CWT claims)))
//
// the pipeline of the EU Digital COVID Certificate (DCC, "HC1:"), with our
// own prefix. The CWT holds iss (1, the issuer id), iat (6), exp (4, the end
// of the local day the code is for) and a private claim, key -65537 (CWT
// keys below -65536 are for private use, RFC 8392 §9.1), a map of
// 1: the subject's pseudonym, 2: the colour, 3: the day (YYYY-MM-DD, local)
// and 4: the ledger position of the colour decision. The COSE protected
// header holds the algorithm (ES256) and the kid: the first 8 bytes of the
// SHA-256 of the signing key's DER SubjectPublicKeyInfo (KeyID).
//
// Verify also accepts EU DCC credentials (HC1:) signed with ES256 or PS256
// by a trusted signer certificate (Trust.AddCertificate, whose kid is the
// DCC's: the first 8 bytes of the SHA-256 of the certificate), and passes
// the public DCC test suite (see DCC.md). Verification runs the steps named
// by Step, in order, and reports the first that fails in a Result.
//
// The package does no I/O: the trust list is built by the caller, from the
// ledger or a signed export.
package codes
