package codes

import (
	"encoding/json"
	"slices"
	"testing"
)

// FuzzVerify: whatever text a scanner reads, Verify returns a result that
// names a step, is valid only at the last step, and marshals to JSON; it
// never panics.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	code := issue(f, fx.claims(f, "2020-02-04", "07:30"), fx.key)
	at := fx.at(f, "2020-02-04 09:00:00")
	f.Add(code)
	f.Add(code[:len(code)/2])
	f.Add("HC1:" + code[4:])
	f.Add("RL1:")
	f.Add("")
	f.Add("RL1:" + EncodeBase45([]byte{0x78, 0xda}))
	f.Add(encode(f, []byte{0xd8, 0x3d, 0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40}))
	f.Add(encode(f, signRaw(f, fx.key, []byte{0xa1, 0x3a, 0x00, 0x01, 0x00, 0x00, 0xa0})))
	for i, c := range loadDCCCases(f) {
		if c.Prefix != nil && i%8 == 0 {
			f.Add(*c.Prefix)
		}
	}
	steps := []Step{StepPrefix, StepBase45, StepZlib, StepCOSE, StepSignature, StepIssuer, StepExpiry, StepDay}
	f.Fuzz(func(t *testing.T, s string) {
		r := Verify(s, fx.trust, at, fx.sh)
		if !slices.Contains(steps, r.Step) || r.Reason == "" {
			t.Fatalf("result %+v names no step or reason", r)
		}
		if r.Valid && r.Step != StepDay {
			t.Fatalf("valid at step %s", r.Step)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
	})
}
