package eventstore

import (
	"context"
	"errors"
	"strconv"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/domain"
)

// Store is the ledger. Implementations must pass eventstore/storetest.
type Store interface {
	// Append adds the events of one or more streams atomically: all of them
	// or none. Each stream's Expected must hold, or the call fails with a
	// *ConflictError (code Conflict) carrying the current version. Events
	// whose IDs are all in the ledger already with the same content make
	// the call a no-op that returns the stored events; an ID stored with
	// other content is a Conflict. Invalid input is an Invalid error. The
	// returned events are complete envelopes in position order.
	//
	// When ctx ends while the append is queued or committing, Append returns
	// ctx.Err() and the events may or may not have been committed (as with
	// any lost reply); retrying with the same IDs is safe.
	Append(ctx context.Context, appends ...StreamAppend) ([]Event, error)

	// AppendEach queues calls to be made in order, each as Append would
	// make it, stopping at the first that fails, and returns at once (see
	// Committer.AppendEach): a bulk import's path to group commit without a
	// goroutine per call, which can decide its next calls while these
	// commit.
	AppendEach(ctx context.Context, calls [][]StreamAppend, after *Pending) *Pending

	// ReadStream returns the events of stream with StreamVersion > after, in
	// version order. An unknown stream has no events (no error).
	ReadStream(ctx context.Context, stream string, after int64) ([]Event, error)

	// ReadEvent returns the event with the given id, and false when the
	// ledger has none.
	ReadEvent(ctx context.Context, id uuid.UUID) (Event, bool, error)

	// ReadEvents returns the stored events among ids, by id; ids the ledger
	// does not hold are absent from the map.
	ReadEvents(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Event, error)

	// StreamVersion returns the stream's current version: the number of its
	// events, 0 for a stream that has none.
	StreamVersion(ctx context.Context, stream string) (int64, error)

	// ReadAll returns up to limit events (limit < 0: all) with Position >
	// after, in position order. Positions are gapless and only committed events are returned,
	// so a reader never sees position p+1 before p.
	ReadAll(ctx context.Context, after int64, limit int) ([]Event, error)

	// Subscribe calls handle for every event with Position > after, in
	// position order: first those already committed, then new ones as they
	// commit, until ctx ends (it returns ctx.Err()) or handle fails (it
	// returns that error).
	Subscribe(ctx context.Context, after int64, handle func(Event) error) error

	// Head returns the last committed position and its hash.
	Head(ctx context.Context) (Head, error)

	// Close waits for queued appends and releases the store.
	Close() error
}

// TypedReader is implemented by stores that can read the events of some
// types alone, skipping the others where they are stored: a reader that
// follows one kind of event (the change feed follows colour decisions)
// then reads no other.
type TypedReader interface {
	// ReadTyped returns the events of the given types with Position in
	// (after, until], in position order; every position up to until must
	// be committed (until at most the head).
	ReadTyped(ctx context.Context, after, until int64, types []string) ([]Event, error)
}

// FoldReader is implemented by stores that can read the log for a fold
// that does not check the hash chain (a projection's rebuild or catch-up):
// only the fields a fold reads, so that the store sends and decodes less.
type FoldReader interface {
	// ReadFold is ReadAll with Position, ID, Type, SchemaVersion,
	// OccurredAt, RecordedAt and Payload filled in, the other fields zero.
	ReadFold(ctx context.Context, after int64, limit int) ([]Event, error)
}

// ErrClosed is returned by calls made after Close.
var ErrClosed = domain.Errorf(domain.Unavailable, "the ledger is closed")

// CorruptError reports a row that cannot be read back as an event: a
// ledger altered outside riskledger.
type CorruptError struct {
	Position int64
	Reason   string
}

func (e *CorruptError) Error() string {
	return "ledger row at position " + strconv.FormatInt(e.Position, 10) + " is corrupt: " + e.Reason
}

// ReadFunc reads a page of the log; Subscribe and Verify are built on it.
type ReadFunc func(ctx context.Context, after int64, limit int) ([]Event, error)

// subscribePage is how many events Subscribe reads per query while catching up.
const subscribePage = 1000

// Subscribe implements Store.Subscribe for any store: it pages through read,
// then waits for wait to say the head moved past the last delivered event.
// It checks the gapless-order promise itself and fails loudly if a store
// ever breaks it.
func Subscribe(ctx context.Context, read ReadFunc, wait func(ctx context.Context, after int64) error,
	after int64, handle func(Event) error) error {
	for {
		evs, err := read(ctx, after, subscribePage)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Position != after+1 {
				return &CorruptError{Position: after + 1, Reason: "missing from the log (next read position " + strconv.FormatInt(e.Position, 10) + ")"}
			}
			if err := handle(e); err != nil {
				return err
			}
			after = e.Position
		}
		if len(evs) < subscribePage {
			if err := wait(ctx, after); err != nil {
				return err
			}
		}
	}
}

// IsConflict reports whether err is a stream version conflict.
func IsConflict(err error) bool {
	var c *ConflictError
	return errors.As(err, &c)
}

// PayloadSlab hands out copies of a read's payloads from shared arrays:
// the first holds 4 KiB, each next one twice the last, up to 1 MiB, so a
// read of a few events allocates little and a read of a page few times.
type PayloadSlab struct{ buf []byte }

// Copy returns a copy of b, capped so that appending to it copies again.
func (s *PayloadSlab) Copy(b []byte) []byte {
	if cap(s.buf)-len(s.buf) < len(b) {
		size := min(max(2*cap(s.buf), 4<<10), 1<<20)
		s.buf = make([]byte, 0, max(size, len(b)))
	}
	n := len(s.buf)
	s.buf = append(s.buf, b...)
	return s.buf[n:len(s.buf):len(s.buf)]
}
