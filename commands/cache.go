package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/riskledger/riskledger/codes"
	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// cache keeps what scans read on every decision, checkpoint registrations
// and the published policies, with the stream version each was read at. A
// decision that uses a cached value names that version as a condition of
// its append, so a stale entry costs one retry, never a wrong decision.
type cache struct {
	mu          sync.Mutex
	checkpoints map[string]checkpointState // by stream
	policy      *policyState
	trust       *trustState
}

// trustState is the trust list as read, and what a check of codes trusts
// with it (this node's issuer included).
type trustState struct {
	list  TrustList
	trust *codes.Trust
}

// maxCachedCheckpoints bounds the cache; past it, it starts again empty.
const maxCachedCheckpoints = 1 << 18

type checkpointState struct {
	reg     domain.CheckpointRegistered
	version int64
}

type policyState struct {
	published []domain.PolicyPublished
	version   int64
}

// forget drops what the cache holds of stream.
func (c *cache) forget(stream string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch stream {
	case domain.PolicyStream:
		c.policy = nil
	case domain.TrustStream:
		c.trust = nil
	}
	delete(c.checkpoints, stream)
}

// learn keeps st as what stream says.
func (c *cache) learn(stream string, st checkpointState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checkpoints == nil || len(c.checkpoints) >= maxCachedCheckpoints {
		c.checkpoints = make(map[string]checkpointState)
	}
	c.checkpoints[stream] = st
}

// checkpoint returns a checkpoint's latest registration and the version of
// its stream. A checkpoint that is not registered is a NotFound error.
func (h *Handler) checkpoint(ctx context.Context, id domain.CheckpointID) (checkpointState, error) {
	stream := domain.CheckpointStream(id)
	h.cache.mu.Lock()
	st, ok := h.cache.checkpoints[stream]
	h.cache.mu.Unlock()
	if ok {
		return st, nil
	}
	evs, err := h.store.ReadStream(ctx, stream, 0)
	if err != nil {
		return st, err
	}
	found := false
	for _, e := range evs {
		if e.Type == domain.EvCheckpointRegistered {
			if err := json.Unmarshal(e.Payload, &st.reg); err != nil {
				return st, fmt.Errorf("read checkpoint at %d: %w", e.Position, err)
			}
			found = true
		}
		st.version = e.StreamVersion
	}
	if !found {
		return st, domain.Errorf(domain.NotFound, "checkpoint %s is not registered; register it first", id)
	}
	h.cache.learn(stream, st)
	return st, nil
}

// policies returns the published policy versions and the policy stream's
// version.
func (h *Handler) policies(ctx context.Context) (policyState, error) {
	h.cache.mu.Lock()
	p := h.cache.policy
	h.cache.mu.Unlock()
	if p != nil {
		return *p, nil
	}
	evs, err := h.store.ReadStream(ctx, domain.PolicyStream, 0)
	if err != nil {
		return policyState{}, err
	}
	st := policyState{published: make([]domain.PolicyPublished, 0, len(evs))}
	for _, e := range evs {
		var pp domain.PolicyPublished
		if err := json.Unmarshal(e.Payload, &pp); err != nil {
			return policyState{}, fmt.Errorf("read policy at %d: %w", e.Position, err)
		}
		st.published = append(st.published, pp)
		st.version = e.StreamVersion
	}
	h.cache.mu.Lock()
	h.cache.policy = &st
	h.cache.mu.Unlock()
	return st, nil
}

// trusted returns the trust list and what it trusts, for checks of codes
// by this node's issuer.
func (h *Handler) trusted(ctx context.Context) (trustState, error) {
	h.cache.mu.Lock()
	t := h.cache.trust
	h.cache.mu.Unlock()
	if t != nil {
		return *t, nil
	}
	list, err := ReadTrustList(ctx, h.store)
	if err != nil {
		return trustState{}, err
	}
	trust, err := list.Trust(h.issuer)
	if err != nil {
		return trustState{}, err
	}
	st := trustState{list: list, trust: trust}
	h.cache.mu.Lock()
	h.cache.trust = &st
	h.cache.mu.Unlock()
	return st, nil
}

// at returns the parameters in force at t: version 1's defaults, or the
// published version with the latest effective time at or before t.
func (p policyState) at(t time.Time) domain.PolicyParams {
	params := domain.DefaultPolicyParams()
	var from time.Time
	for _, pp := range p.published {
		if !pp.EffectiveFrom.After(t) && !pp.EffectiveFrom.Before(from) {
			params, from = pp.Params, pp.EffectiveFrom
		}
	}
	return params
}

// condition is the append condition that the policy stream is still as read.
func (p policyState) condition() change {
	return change{stream: domain.PolicyStream, expected: eventstore.Exactly(p.version)}
}
