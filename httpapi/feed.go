package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// ColourChange is one entry of the change feed: a colour-assigned event
// of the ledger (the live projection's decision), by its position.
type ColourChange struct {
	Position   int64                 `json:"position"`
	ID         uuid.UUID             `json:"id"`
	RecordedAt time.Time             `json:"recorded_at"`
	Change     domain.ColourAssigned `json:"change"`
}

// Feed follows the ledger and keeps its colour changes in order, so that
// the issuance layer follows them from a position (long-poll or
// Server-Sent Events) without reading the population's colours again.
// Consumers inside the cluster take the same changes from watermill, on
// eventstore.ColourChangesTopic (postgres.NewSubscriber). A Feed is safe
// for concurrent use; Run fills it.
type Feed struct {
	Store eventstore.Store

	mu      sync.Mutex
	changes []ColourChange
	encoded [][]byte
	read    int64         // the ledger position followed so far
	wake    chan struct{} // closed when changes arrive
	// codes are the positions of each person's issued codes, which live
	// in streams of their own (code-PSEUDONYM).
	codes map[domain.PersonID][]int64
}

// Run follows the ledger until ctx ends or reading it fails: from its
// start, and, called again after a failure, from where it stopped. With a
// store that reads events by type it reads only colour decisions and
// codes, looking for new ones every feedPoll; otherwise it reads every
// event.
func (f *Feed) Run(ctx context.Context) error {
	f.mu.Lock()
	after := f.read
	f.mu.Unlock()
	tr, ok := f.Store.(eventstore.TypedReader)
	if !ok {
		return f.Store.Subscribe(ctx, after, func(e eventstore.Event) error {
			if err := f.take(e); err != nil {
				return err
			}
			f.advance(e.Position)
			return nil
		})
	}
	types := []string{domain.EvColourAssigned, domain.EvCodeIssued}
	for {
		head, err := f.Store.Head(ctx)
		if err != nil {
			return err
		}
		if head.Position <= after {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(feedPoll):
			}
			continue
		}
		until := min(head.Position, after+100000)
		evs, err := tr.ReadTyped(ctx, after, until, types)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := f.take(e); err != nil {
				return err
			}
		}
		f.advance(until)
		after = until
	}
}

// feedPoll is how often a feed on a store that reads by type looks for
// new events.
const feedPoll = 50 * time.Millisecond

// advance records that the feed has followed the ledger up to pos.
func (f *Feed) advance(pos int64) {
	f.mu.Lock()
	f.read = max(f.read, pos)
	f.mu.Unlock()
}

// take keeps a colour decision (and wakes those who wait for one) or the
// position of an issued code; it ignores other events.
func (f *Feed) take(e eventstore.Event) error {
	switch e.Type {
	case domain.EvCodeIssued:
		var issued domain.CodeIssued
		if err := json.Unmarshal(e.Payload, &issued); err != nil {
			return fmt.Errorf("code at position %d: %w", e.Position, err)
		}
		f.mu.Lock()
		if f.codes == nil {
			f.codes = map[domain.PersonID][]int64{}
		}
		f.codes[issued.PersonID] = append(f.codes[issued.PersonID], e.Position)
		f.mu.Unlock()
	case domain.EvColourAssigned:
		c := ColourChange{Position: e.Position, ID: e.ID, RecordedAt: e.RecordedAt}
		if err := json.Unmarshal(e.Payload, &c.Change); err != nil {
			return fmt.Errorf("colour change at position %d: %w", e.Position, err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.changes = append(f.changes, c)
		f.encoded = append(f.encoded, b)
		if f.wake != nil {
			close(f.wake)
			f.wake = nil
		}
		f.mu.Unlock()
	}
	return nil
}

// after returns up to limit changes with Position > pos (as encoded JSON),
// the position followed so far, and a channel closed when more arrive.
func (f *Feed) after(pos int64, limit int) ([][]byte, []int64, int64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, _ := slices.BinarySearchFunc(f.changes, pos+1, func(c ColourChange, p int64) int { return int(min(max(c.Position-p, -1), 1)) })
	j := min(len(f.changes), i+limit)
	positions := make([]int64, 0, j-i)
	for _, c := range f.changes[i:j] {
		positions = append(positions, c.Position)
	}
	if f.wake == nil {
		f.wake = make(chan struct{})
	}
	return f.encoded[i:j:j], positions, f.read, f.wake
}

// codesOf returns the positions of p's codes, oldest first.
func (f *Feed) codesOf(p domain.PersonID) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.codes[p])
}

// FeedPage is the long-poll answer: the changes after the asked position,
// and where to ask next.
type FeedPage struct {
	Changes []json.RawMessage `json:"changes"`
	// Next is the position to ask after next time: the last change's, or
	// the asked one when there was none.
	Next int64 `json:"next"`
	// Read is the ledger position the feed has followed so far.
	Read int64 `json:"read"`
}

// feedPoll: GET /v1/feed/colours?after=P[&limit=N][&wait=D]: the changes
// after P; with none, it waits up to D (at most 60 s) for one.
func (s *Server) feedPoll(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if err := s.needs(s.Feed); err != nil {
		return err
	}
	after, err := queryInt(r, "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 1000, 1, 10000)
	if err != nil {
		return err
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 || wait > time.Minute {
			return domain.Errorf(domain.Invalid, "wait=%q is not a duration from 0s to 60s (like 25s)", v)
		}
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		changes, positions, read, more := s.Feed.after(after, int(limit))
		if len(changes) > 0 || wait == 0 {
			page := FeedPage{Changes: make([]json.RawMessage, len(changes)), Next: after, Read: read}
			for i, c := range changes {
				page.Changes[i] = c
			}
			if len(positions) > 0 {
				page.Next = positions[len(positions)-1]
			}
			writeJSON(w, http.StatusOK, page)
			return nil
		}
		select {
		case <-more:
		case <-deadline.C:
			wait = 0
		case <-r.Context().Done():
			return r.Context().Err()
		}
	}
}

// heartbeat keeps an idle stream's connection open through proxies.
const heartbeat = 15 * time.Second

// feedStream: GET /v1/feed/colours/stream: the changes as Server-Sent
// Events (id: the position; event: colour_assigned), from after the
// Last-Event-ID header (or ?after), for as long as the caller listens.
func (s *Server) feedStream(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if err := s.needs(s.Feed); err != nil {
		return err
	}
	after, err := queryInt(r, "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return domain.Errorf(domain.Invalid, "Last-Event-ID %q is not a ledger position", v)
		}
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		changes, positions, _, more := s.Feed.after(after, 1000)
		for i, c := range changes {
			if _, err := fmt.Fprintf(w, "id: %d\nevent: colour_assigned\ndata: %s\n\n", positions[i], c); err != nil {
				return nil
			}
			after = positions[i]
		}
		if len(changes) > 0 {
			if err := rc.Flush(); err != nil {
				return nil
			}
			continue
		}
		select {
		case <-more:
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
		case <-r.Context().Done():
			return nil
		}
	}
}
