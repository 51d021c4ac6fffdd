package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/riskledger/riskledger/domain"
)

// RowCache keeps the rows a node of the API has read from a PostgreSQL
// read model, so that the issuance layer's colour reads do not each make
// a round trip. It holds rows only while it follows the model's
// notifications (Follow): each save names the persons whose rows it wrote,
// and those rows are dropped when it commits. While it is not following
// (before Follow has listened, after its connection failed), every read
// goes to the model. It implements ReadModel; only Row is cached.
type RowCache struct {
	*PostgresModel
	following atomic.Bool
	mu        sync.RWMutex
	rows      map[domain.PersonID]cachedRow
	// gen counts the notifications taken: a row read while one arrived
	// may be older than what it dropped, and is not kept.
	gen uint64
}

type cachedRow struct {
	row      []byte
	position int64
}

// maxCachedRows bounds the cache; past it, it starts again empty.
const maxCachedRows = 1 << 20

// NewRowCache caches the rows of m.
func NewRowCache(m *PostgresModel) *RowCache {
	return &RowCache{PostgresModel: m, rows: map[domain.PersonID]cachedRow{}}
}

// Row implements ReadModel.Row, from the cache when it can.
func (c *RowCache) Row(ctx context.Context, p domain.PersonID) ([]byte, int64, bool, error) {
	if c.following.Load() {
		c.mu.RLock()
		r, ok := c.rows[p]
		c.mu.RUnlock()
		if ok {
			return r.row, r.position, true, nil
		}
	}
	c.mu.RLock()
	gen := c.gen
	c.mu.RUnlock()
	row, pos, ok, err := c.PostgresModel.Row(ctx, p)
	if err == nil && ok && c.following.Load() {
		c.mu.Lock()
		if c.gen == gen {
			if len(c.rows) >= maxCachedRows {
				clear(c.rows)
			}
			c.rows[p] = cachedRow{row: row, position: pos}
		}
		c.mu.Unlock()
	}
	return row, pos, ok, err
}

// Follow listens to the model's notifications until ctx ends or its
// connection fails, dropping the rows each save wrote; the cache serves
// rows only meanwhile. It starts empty: notifications missed while it did
// not listen are unknown.
func (c *RowCache) Follow(ctx context.Context) error {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `LISTEN `+ChangedRowsChannel); err != nil {
		return err
	}
	defer c.stop()
	c.mu.Lock()
	clear(c.rows)
	c.gen++
	c.mu.Unlock()
	c.following.Store(true)
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var ch rowsChanged
		if err := json.Unmarshal([]byte(n.Payload), &ch); err != nil {
			return fmt.Errorf("a notification of changed rows: %w", err)
		}
		if ch.Schema != c.schema {
			continue
		}
		c.mu.Lock()
		c.gen++
		if ch.All {
			clear(c.rows)
		}
		for _, s := range ch.Persons {
			if p, err := domain.ParsePersonID(s); err == nil {
				delete(c.rows, p)
			}
		}
		c.mu.Unlock()
	}
}

// stop makes reads go to the model again, and forgets what was cached.
func (c *RowCache) stop() {
	c.following.Store(false)
	c.mu.Lock()
	clear(c.rows)
	c.gen++
	c.mu.Unlock()
}
