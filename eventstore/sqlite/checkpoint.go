package sqlite

import (
	"database/sql"
	"sync"
	"sync/atomic"
)

// The write-ahead log is copied back into the ledger file (a checkpoint)
// by a connection of its own, beside the writer rather than in its
// commits: a checkpoint writes and syncs every page the log holds, which
// under a bulk import is a tenth of the writer's time, and the writer is
// the one connection every append waits for. SQLite lets a passive
// checkpoint run while the writer appends to the log; the log starts over
// from its beginning once a checkpoint has copied all of it.
//
// The writer keeps SQLite's own checkpoint after a commit, at a higher
// mark (writerCheckpointPages), for the case where the log grows faster
// than the checkpoints here copy it.
const (
	// checkpointEvery is how many events are written between two
	// checkpoints: a batch of a bulk import, or some seconds of single
	// appends.
	checkpointEvery = 8192
	// writerCheckpointPages is the size of the log, in pages, at which
	// the writer checkpoints after a commit itself.
	writerCheckpointPages = 40000
)

type checkpointer struct {
	db      *sql.DB
	pending atomic.Int64 // events written since the last kick
	kick    chan struct{}
	done    chan struct{}
	once    sync.Once
	err     error
}

func newCheckpointer(path, synchronous string) (*checkpointer, error) {
	db, err := ledgerFile.Open(path, sqliteOptions(synchronous, 1, false, "wal_autocheckpoint(0)"))
	if err != nil {
		return nil, err
	}
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	for range c.kick {
		// Busy (another checkpoint, or a reader pinning the log) is not
		// an error: the next kick, or the writer's own, copies the rest.
		_, _ = c.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	}
}

// wrote counts n events committed, and starts a checkpoint when enough
// have been since the last.
func (c *checkpointer) wrote(n int) {
	if c.pending.Add(int64(n)) < checkpointEvery {
		return
	}
	c.pending.Store(0)
	select {
	case c.kick <- struct{}{}:
	default: // one is running or due: it will copy these too
	}
}

// close stops the checkpoints and closes their connection. Calling it
// again returns the first call's result.
func (c *checkpointer) close() error {
	c.once.Do(func() {
		close(c.kick)
		<-c.done
		c.err = c.db.Close()
	})
	return c.err
}
