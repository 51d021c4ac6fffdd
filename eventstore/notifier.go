package eventstore

import (
	"context"
	"sync"
	"time"
)

// Notifier tells waiting subscribers that the head moved. Stores advance it
// after their own commits and, for other processes' commits, from whatever
// signal the database offers (PostgreSQL's NOTIFY).
type Notifier struct {
	mu  sync.Mutex
	pos int64
	ch  chan struct{}
}

// NewNotifier returns a notifier at position 0.
func NewNotifier() *Notifier { return &Notifier{ch: make(chan struct{})} }

// Advance records that the head reached pos and wakes every waiter.
func (n *Notifier) Advance(pos int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if pos <= n.pos {
		return
	}
	n.pos = pos
	close(n.ch)
	n.ch = make(chan struct{})
}

// Wait returns when the head is known to be past after, when poll has
// elapsed (a safety net for missed signals), or with ctx.Err().
func (n *Notifier) Wait(ctx context.Context, after int64, poll time.Duration) error {
	n.mu.Lock()
	if n.pos > after {
		n.mu.Unlock()
		return nil
	}
	ch := n.ch
	n.mu.Unlock()
	t := time.NewTimer(poll)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
