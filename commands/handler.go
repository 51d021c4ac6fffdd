// Package commands is the write side: every fact enters the ledger through
// a command that is validated (by domain.ParseCommand), decided against the
// current state, and appended with expected versions, so that concurrent
// commands cannot together break an invariant (a guardian's fifth
// dependent, a document registered twice). One use case per file.
package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/vault"
)

// Handler executes commands against a ledger. It is safe for concurrent
// use.
type Handler struct {
	store       eventstore.Store
	vault       *vault.Vault
	colours     ColourView // nil until the colour projection runs
	issuer      *Issuer    // nil on a node that signs no codes
	maxAttempts int
	cache       cache
}

// New returns a Handler over store, with personal data sealed in vault.
func New(store eventstore.Store, vault *vault.Vault) *Handler {
	return &Handler{store: store, vault: vault, maxAttempts: 64}
}

// Result is what a command appended, or found already appended.
type Result struct {
	Events []eventstore.Event
	// AlreadyPresent: the command (same idempotency key, same content) was
	// in the ledger before; nothing was appended.
	AlreadyPresent bool
}

// change is what a decision appends to one stream, or, with no facts, a
// condition on a stream it read: every stream a decision reads is named in
// its changes with the version it saw (or the existence it relied on), so
// that the append fails if the stream moved before the commit.
type change struct {
	stream   string
	expected eventstore.Expected
	facts    []fact
	// refused is the error when expected is NoStream or StreamExists and
	// does not hold: retrying cannot help, the command is refused.
	refused error
}

type fact struct {
	typ  string
	data any
}

// decision decides a command's changes against the ledger as it reads it
// now. It is run again when a stream it read moved before its append.
type decision func(ctx context.Context, t *turn) ([]change, error)

// turn is what a decision may use besides the ledger: the data keys of the
// persons a batch registers, made in one go (nil for a single command).
type turn struct {
	sealers map[uuid.UUID]*vault.Sealer
}

// prepared is a command with its idempotency key and content digest.
type prepared struct {
	cmd         domain.Command
	key, digest string
}

func prepare(cmd domain.Command) (prepared, error) {
	content := cmd
	content.ID = ""
	digest, err := domain.IdempotencyKey(content) // the key of a command without an id
	if err != nil {
		return prepared{}, err
	}
	key := cmd.ID
	if key == "" {
		key = digest
	}
	return prepared{cmd: cmd, key: key, digest: digest}, nil
}

// Execute decides and appends cmd on behalf of actor. It returns an Invalid
// error for a command that breaks a rule, NotFound for a person or
// checkpoint that is not registered, Conflict for a state that forbids it
// (or an idempotency key reused with other content), Limit when a quota is
// full, and Unavailable when the ledger cannot be written.
func (h *Handler) Execute(ctx context.Context, cmd domain.Command, actor string) (Result, error) {
	p, err := prepare(cmd)
	if err != nil {
		return Result{}, err
	}
	r, err := h.execute(ctx, p, actor)
	return r, h.after(ctx, cmd, err)
}

// execute is Execute for a prepared command, without after.
func (h *Handler) execute(ctx context.Context, p prepared, actor string) (Result, error) {
	if r, ok, err := h.replayed(ctx, p.key, p.digest); ok || err != nil {
		return r, err
	}
	decide, err := h.decision(p.cmd)
	if err != nil {
		return Result{}, err
	}
	for attempt := 1; ; attempt++ {
		changes, err := decide(ctx, nil)
		if err != nil {
			return Result{}, err
		}
		appends, err := stamp(changes, p, actor)
		if err != nil {
			return Result{}, err
		}
		evs, err := h.store.Append(ctx, appends...)
		var conflict *eventstore.ConflictError
		switch {
		case err == nil:
			h.wrote(changes, evs)
			return Result{Events: evs}, nil
		case errors.As(err, &conflict):
			if e := refusal(changes, conflict); e != nil {
				return Result{}, e
			}
			h.cache.forget(conflict.Stream)
			if attempt < h.maxAttempts {
				continue // a stream this command read moved: decide again
			}
			return Result{}, domain.Errorf(domain.Conflict, "the ledger kept changing while this command was decided (%d attempts); send it again", attempt)
		case domain.ErrorCode(err) == domain.Conflict:
			// The same key is being appended by another call right now.
			if r, ok, rerr := h.replayed(ctx, p.key, p.digest); ok || rerr != nil {
				return r, rerr
			}
		}
		return Result{}, err
	}
}

// wrote updates the cache with what a command wrote: it forgets the
// streams written and learns the checkpoints registered.
func (h *Handler) wrote(changes []change, evs []eventstore.Event) {
	for _, c := range changes {
		if len(c.facts) == 0 {
			continue
		}
		h.cache.forget(c.stream)
		if reg, ok := c.facts[len(c.facts)-1].data.(domain.CheckpointRegistered); ok {
			for _, e := range evs {
				if e.Stream == c.stream {
					h.cache.learn(c.stream, checkpointState{reg: reg, version: e.StreamVersion})
				}
			}
		}
	}
}

// after finishes what a command does outside the ledger, also when it is
// replayed (an erasure whose key destruction failed is completed by
// sending it again).
func (h *Handler) after(ctx context.Context, cmd domain.Command, err error) error {
	if err != nil {
		return err
	}
	if e, ok := cmd.Body.(domain.ErasePerson); ok {
		if err := h.vault.Erase(ctx, e.PersonID.UUID()); err != nil {
			return fmt.Errorf("destroy the key of person %s: %w", e.PersonID, err)
		}
	}
	return nil
}

// replayed finds a command already in the ledger by its first event's id.
func (h *Handler) replayed(ctx context.Context, key, digest string) (Result, bool, error) {
	first, ok, err := h.store.ReadEvent(ctx, domain.DeriveEventID(key, 0))
	if err != nil || !ok {
		return Result{}, false, err
	}
	if err := sameCommand(first, key, digest); err != nil {
		return Result{}, false, err
	}
	evs := []eventstore.Event{first}
	for n := 1; ; n++ {
		e, ok, err := h.store.ReadEvent(ctx, domain.DeriveEventID(key, n))
		if err != nil {
			return Result{}, false, err
		}
		if !ok {
			return Result{Events: evs, AlreadyPresent: true}, true, nil
		}
		evs = append(evs, e)
	}
}

// sameCommand checks that the first event of a stored command was appended
// for the same content as the command now sent under its key.
func sameCommand(first eventstore.Event, key, digest string) error {
	var meta struct {
		Digest string `json:"digest"`
	}
	_ = json.Unmarshal(first.Metadata, &meta)
	if meta.Digest != digest {
		return domain.Errorf(domain.Conflict,
			"a command with id %q is already in the ledger with other content (at position %d); use a new id", key, first.Position)
	}
	return nil
}

// stamp turns decided changes into appends: event ids derived from the
// idempotency key, the command's time, its actor, and metadata that ties
// each event to its command.
func stamp(changes []change, p prepared, actor string) ([]eventstore.StreamAppend, error) {
	cmd, key := p.cmd, p.key
	meta, err := json.Marshal(struct {
		Command        string `json:"command"`
		Digest         string `json:"digest"`
		IdempotencyKey string `json:"idempotency_key"`
		// Imported marks events whose recorded_at came from another
		// system (import --preserve-recorded-at), not from this ledger's clock.
		Imported bool `json:"imported,omitempty"`
	}{cmd.Name(), p.digest, key, !cmd.RecordedAt.IsZero()})
	if err != nil {
		return nil, err
	}
	versions := domain.EventTypes()
	var out []eventstore.StreamAppend
	n := 0
	for _, c := range changes {
		a := eventstore.StreamAppend{Stream: c.stream, Expected: c.expected}
		for _, f := range c.facts {
			payload, err := json.Marshal(f.data)
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", f.typ, err)
			}
			a.Events = append(a.Events, eventstore.NewEvent{
				ID: domain.DeriveEventID(key, n), Type: f.typ, SchemaVersion: versions[f.typ],
				OccurredAt: cmd.At, RecordedAt: cmd.RecordedAt, Actor: actor,
				Payload: payload, Metadata: meta,
			})
			n++
		}
		out = append(out, a)
	}
	return out, nil
}

// refusal returns the refusal of the change whose existence condition
// failed (a stream that must exist and has no events, or one that must not
// exist and has), or nil when the conflict is a stream that moved.
func refusal(changes []change, c *eventstore.ConflictError) error {
	for _, ch := range changes {
		if ch.stream == c.Stream && ch.refused != nil &&
			(ch.expected == eventstore.StreamExists || ch.expected == eventstore.NoStream) {
			return ch.refused
		}
	}
	return nil
}

// decision picks the use case for the command's body.
func (h *Handler) decision(cmd domain.Command) (decision, error) {
	switch b := cmd.Body.(type) {
	case domain.RegisterPerson:
		return h.registerPerson(b), nil
	case domain.ApplyDependent:
		return h.applyDependent(b), nil
	case domain.EndDependent:
		return h.endDependent(b), nil
	case domain.VerifyIdentity:
		return personFact(b.PersonID, domain.EvIdentityVerified, domain.IdentityVerified(b)), nil
	case domain.SubmitHealthForm:
		return personFact(b.PersonID, domain.EvHealthFormSubmitted, domain.HealthFormSubmitted(b)), nil
	case domain.ReportSymptoms:
		return personFact(b.PersonID, domain.EvSymptomsReported, domain.SymptomsReported(b)), nil
	case domain.RecordDiagnosis:
		return personFact(b.PersonID, domain.EvDiagnosisRecorded, domain.DiagnosisRecorded(b)), nil
	case domain.OverrideColour:
		return personFact(b.PersonID, domain.EvColourOverridden, domain.ColourOverridden(b)), nil
	case domain.ErasePerson:
		return h.erasePerson(b), nil
	case domain.DesignateKeyArea:
		return fixed(domain.KeyAreasStream, domain.EvKeyAreaDesignated, domain.KeyAreaDesignated(b)), nil
	case domain.LiftKeyArea:
		return fixed(domain.KeyAreasStream, domain.EvKeyAreaLifted, domain.KeyAreaLifted(b)), nil
	case domain.RegisterCheckpoint:
		return fixed(domain.CheckpointStream(b.CheckpointID), domain.EvCheckpointRegistered, domain.CheckpointRegistered{
			CheckpointID: b.CheckpointID, Name: b.Name, Kind: b.Kind, District: b.District,
			Admits: b.AdmittedColours(), Recognises: append([]string{}, b.Recognises...),
		}), nil
	case domain.IssueCode:
		return h.issueCode(cmd, b), nil
	case domain.TrustIssuer, domain.RevokeIssuer, domain.RetireIssuerKey:
		return h.changeTrust(b), nil
	case domain.CreateToken, domain.RevokeToken:
		return h.changeTokens(b), nil
	case domain.RecordAccess:
		return fixed(domain.AccessStream, domain.EvAccessRecorded, domain.AccessRecorded(b)), nil
	case domain.ReportContact:
		return h.reportContact(b), nil
	case domain.PublishPolicy:
		return h.publishPolicy(b), nil
	case domain.Retract:
		return h.retract(b), nil
	case domain.RecordScan:
		return h.recordScan(cmd, b), nil
	}
	return nil, domain.Errorf(domain.Invalid, "command %s cannot be executed by this version of riskledger yet", cmd.Name())
}

// fixed appends one fact to a stream whatever its state.
func fixed(stream, typ string, data any) decision {
	return func(context.Context, *turn) ([]change, error) {
		return []change{{stream: stream, expected: eventstore.Any, facts: []fact{{typ, data}}}}, nil
	}
}

// personFact appends one fact to a registered person's stream.
func personFact(p domain.PersonID, typ string, data any) decision {
	return func(context.Context, *turn) ([]change, error) {
		return []change{{stream: domain.PersonStream(p), expected: eventstore.StreamExists,
			facts: []fact{{typ, data}}, refused: notRegistered(p)}}, nil
	}
}

// registered is the condition that a person is registered.
func registered(p domain.PersonID) change {
	return change{stream: domain.PersonStream(p), expected: eventstore.StreamExists, refused: notRegistered(p)}
}

func notRegistered(p domain.PersonID) error {
	return domain.Errorf(domain.NotFound, "person %s is not registered; register them first", p)
}

// Store returns the ledger the handler appends to.
func (h *Handler) Store() eventstore.Store { return h.store }
