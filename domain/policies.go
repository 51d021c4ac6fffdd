package domain

import "time"

// Policies is the history of the risk policy a ledger holds: version 1 with
// DefaultPolicyParams from the beginning of time, and each published
// version from its effective time. At answers which version was in force.
//
// A fixed history (FixedPolicy) holds one set of parameters for all time
// and ignores what the ledger publishes: `whatif` replays a ledger under it.
type Policies struct {
	versions []policyVersion
	fixed    bool
}

// policyVersion is a published policy in force from its effective time.
type policyVersion struct {
	version  int
	from     time.Time
	params   PolicyParams
	position int64
}

// WhatifPolicyVersion is the version number a fixed history reports: no
// version the ledger can publish (those are 2 or more).
const WhatifPolicyVersion = 0

// NewPolicies returns the history of a ledger that has published nothing.
func NewPolicies() *Policies {
	return &Policies{versions: []policyVersion{{version: DefaultPolicyVersion, params: DefaultPolicyParams()}}}
}

// FixedPolicy returns a history in which params are in force at all times.
func FixedPolicy(params PolicyParams) *Policies {
	return &Policies{versions: []policyVersion{{version: WhatifPolicyVersion, params: params}}, fixed: true}
}

// Publish adds a published version (the fact at position). A fixed history
// ignores it.
func (ps *Policies) Publish(b PolicyPublished, position int64) {
	if !ps.fixed {
		ps.versions = append(ps.versions, policyVersion{version: b.Version, from: b.EffectiveFrom, params: b.Params, position: position})
	}
}

// At returns the policy in force at t and its version: the latest effective
// time at or before t (ties: the later in the ledger).
func (ps *Policies) At(t time.Time) (PolicyParams, int) {
	best := ps.versions[0]
	for _, p := range ps.versions[1:] {
		if !p.from.After(t) && (p.from.After(best.from) || p.from.Equal(best.from) && p.position > best.position) {
			best = p
		}
	}
	return best.params, best.version
}

// WidestWindow is the widest contact window of any version, for any kind of
// checkpoint: no two scans further apart can be a close contact.
func (ps *Policies) WidestWindow() time.Duration {
	var w time.Duration
	for _, pv := range ps.versions {
		w = max(w, pv.params.ContactWindow)
		for _, d := range pv.params.ContactWindowByKind {
			w = max(w, d)
		}
	}
	return w
}

// FeverFloor is the lowest fever threshold of any version.
func (ps *Policies) FeverFloor() float64 {
	floor := ps.versions[0].params.FeverCelsius
	for _, pv := range ps.versions {
		floor = min(floor, pv.params.FeverCelsius)
	}
	return floor
}
