package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
	"github.com/riskledger/riskledger/internal/postgresdb"
)

// Consuming the ledger through watermill-sql.
//
// The ledger is its own outbox: its events table already holds every event
// once, in commit order, under a gapless position. A consumer in another
// process therefore needs no copy of the events in a messages table of its
// own, only a record of how far its consumer group has got. WatermillSchema
// and WatermillOffsets give watermill-sql's Subscriber exactly that: each
// query reads the next batch of the events table by keyset on position,
// after the position the group last acked, through the primary key; so a
// query costs the same at the head of a backlog of millions as at its end.

// offsetsTable records, per consumer group, the last position it acked.
const offsetsTable = "riskledger_watermill_offsets"

// Subscriber defaults.
const (
	defaultSubscribeBatch = 1000
	defaultAckDeadline    = 30 * time.Second
)

// SubscriberConfig says which ledger a Subscriber reads and for which
// consumer group.
type SubscriberConfig struct {
	// Schema holds the ledger's tables (as in Config); "public" when empty.
	// The group offsets are kept there too, in riskledger_watermill_offsets.
	Schema string
	// ConsumerGroup names the readers that share one acked position: each
	// group receives every event; the subscribers of one group take turns,
	// a batch at a time.
	ConsumerGroup string
	// BatchSize is how many events one query reads and one transaction
	// acks; 1000 when zero. The group's position moves when a batch's
	// transaction commits, so a subscriber that stops inside a batch has
	// at least the batch's unacked messages delivered again.
	BatchSize int
	// PollInterval is how long a subscriber that has caught up waits before
	// it looks for new events; one second when zero.
	PollInterval time.Duration
	// AckDeadline is how long a delivered message may stay unacked before
	// it is delivered again, with the messages after it; 30 seconds when
	// zero.
	AckDeadline time.Duration
	// Logger receives watermill-sql's log; none when nil.
	Logger watermill.LoggerAdapter
}

func (c *SubscriberConfig) setDefaults() {
	if c.Schema == "" {
		c.Schema = "public"
	}
	if c.BatchSize == 0 {
		c.BatchSize = defaultSubscribeBatch
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.AckDeadline == 0 {
		c.AckDeadline = defaultAckDeadline
	}
	if c.Logger == nil {
		c.Logger = watermill.NopLogger{}
	}
}

// Validate reports every problem with the configuration as one Invalid error.
func (c *SubscriberConfig) Validate() error {
	var problems []string
	if strings.TrimSpace(c.ConsumerGroup) == "" {
		problems = append(problems, "the consumer group is empty; name the readers that share a position")
	} else if !cleanGroup(c.ConsumerGroup) {
		problems = append(problems, "the consumer group has a NUL byte or is not valid UTF-8")
	}
	if c.BatchSize < 0 {
		problems = append(problems, fmt.Sprintf("batch size %d is negative", c.BatchSize))
	}
	if c.PollInterval < 0 || c.AckDeadline < 0 {
		problems = append(problems, "the poll interval and the ack deadline must not be negative")
	}
	problems = append(problems, postgresdb.SchemaProblems(c.Schema)...)
	if len(problems) > 0 {
		return domain.Errorf(domain.Invalid, "%s", strings.Join(problems, "; "))
	}
	return nil
}

// NewSubscriber returns a watermill Subscriber that delivers the events of
// the ledger in cfg.Schema, read from its events table through pool, as
// the messages eventstore.ToMessage makes of them. Subscribe takes
// eventstore.DefaultTopic (every event) or eventstore.ColourChangesTopic
// (the colour-assigned events alone); any other topic is an Invalid
// error. A consumer group keeps a position per topic. On its
// first call it creates the offsets table if missing, and fails if the
// schema holds no ledger.
//
// Delivery is at-least-once and, within a consumer group, in position
// order: a batch is read and acked in one transaction that holds the
// group's offset row locked, so the subscribers of one group, in any
// number of processes, deliver batch after batch. A nacked message is
// delivered again before the next; one not acked within the deadline is
// delivered again with those after it. A new group starts at the
// beginning of the ledger.
//
// A malformed configuration is an Invalid error. The caller keeps pool,
// and closes it after the Subscriber.
func NewSubscriber(pool *pgxpool.Pool, cfg SubscriberConfig) (message.Subscriber, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, domain.Errorf(domain.Invalid, "the subscriber needs a connection pool")
	}
	deadline := cfg.AckDeadline
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(pool), wsql.SubscriberConfig{
		ConsumerGroup:    cfg.ConsumerGroup,
		AckDeadline:      &deadline,
		PollInterval:     cfg.PollInterval,
		SchemaAdapter:    WatermillSchema{Schema: cfg.Schema, BatchSize: cfg.BatchSize},
		OffsetsAdapter:   WatermillOffsets{Schema: cfg.Schema},
		InitializeSchema: true,
	}, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("new watermill subscriber: %w", err)
	}
	return sub, nil
}

// WatermillSchema is a watermill-sql SchemaAdapter that reads the ledger's
// own events table, for subscribing only: its select query reads the next
// BatchSize events after the position the offsets adapter says the
// consumer group acked (keyset on the primary key), and each row becomes
// the message eventstore.ToMessage makes of the event, with the position
// as its offset. The ledger is appended to through eventstore.Store, never
// through a watermill Publisher: InsertQuery fails.
//
// The offsets adapter's NextOffsetQuery must return the acked position as
// a column offset_acked (WatermillOffsets does).
type WatermillSchema struct {
	// Schema holds the ledger's tables; "public" when empty.
	Schema string
	// BatchSize is how many events one query reads; 1000 when zero.
	BatchSize int
}

var _ wsql.SchemaAdapter = WatermillSchema{}

// InsertQuery fails with an Invalid error: the ledger takes events only
// through its Append, which checks stream versions and extends the hash
// chain.
func (s WatermillSchema) InsertQuery(wsql.InsertQueryParams) (wsql.Query, error) {
	return wsql.Query{}, domain.Errorf(domain.Invalid,
		"the ledger cannot be published to through watermill: append events with eventstore.Store.Append, and subscribe here")
}

// SelectQuery reads the group's next batch. At READ COMMITTED (see
// SubscribeIsolationLevel) a statement sees every event committed before it
// began, and since positions are assigned in commit order that is always
// a prefix of the log: the batch never skips a position that a later query
// would find.
func (s WatermillSchema) SelectQuery(p wsql.SelectQueryParams) (wsql.Query, error) {
	if err := checkTopic(p.Topic); err != nil {
		return wsql.Query{}, err
	}
	if p.OffsetsAdapter == nil {
		return wsql.Query{}, domain.Errorf(domain.Invalid, "the ledger's schema adapter needs an offsets adapter")
	}
	next, err := p.OffsetsAdapter.NextOffsetQuery(wsql.NextOffsetQueryParams{Topic: p.Topic, ConsumerGroup: p.ConsumerGroup})
	if err != nil {
		return wsql.Query{}, err
	}
	only := ""
	if p.Topic == eventstore.ColourChangesTopic {
		only = ` AND type = '` + domain.EvColourAssigned + `'` // the partial index events_colour_changes
	}
	q := `WITH acked AS (` + next.Query + `)
		SELECT ` + eventColumns + ` FROM ` + qualified(s.Schema, "events") + `
		WHERE position > (SELECT offset_acked FROM acked)` + only + `
		ORDER BY position
		LIMIT ` + strconv.Itoa(s.batchSize())
	return wsql.Query{Query: q, Args: next.Args}, nil
}

func (s WatermillSchema) batchSize() int {
	if s.BatchSize <= 0 {
		return defaultSubscribeBatch
	}
	return s.BatchSize
}

// UnmarshalMessage decodes one row of SelectQuery into the message
// eventstore.ToMessage makes of its event. A row that cannot be read back
// as an event is an *eventstore.CorruptError.
func (s WatermillSchema) UnmarshalMessage(p wsql.UnmarshalMessageParams) (wsql.Row, error) {
	var e eventstore.Event
	var id, causation, correlation pgtype.UUID
	var payload, metadata, prev, hash []byte
	if err := p.Row.Scan(&e.Position, &id, &e.Stream, &e.StreamVersion, &e.Type, &e.SchemaVersion,
		&e.OccurredAt, &e.RecordedAt, &e.Actor, &causation, &correlation, &payload, &metadata, &prev, &hash); err != nil {
		return wsql.Row{}, &eventstore.CorruptError{Position: e.Position, Reason: err.Error()}
	}
	if err := fill(&e, id, causation, correlation, payload, metadata, prev, hash); err != nil {
		return wsql.Row{}, err
	}
	msg, err := eventstore.ToMessage(e)
	if err != nil {
		return wsql.Row{}, err
	}
	return wsql.Row{Offset: e.Position, Payload: msg.Payload, Msg: msg}, nil
}

// SchemaInitializingQueries checks that the schema holds a ledger (the
// events table is the ledger's to create, in Open), under an advisory lock
// that keeps subscribers starting together from racing to create the
// offsets table.
func (s WatermillSchema) SchemaInitializingQueries(p wsql.SchemaInitializingQueriesParams) ([]wsql.Query, error) {
	if err := checkTopic(p.Topic); err != nil {
		return nil, err
	}
	return []wsql.Query{
		{Query: `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, Args: []any{"riskledger.watermill:" + schemaOrPublic(s.Schema)}},
		{Query: `SELECT position FROM ` + qualified(s.Schema, "events") + ` LIMIT 0`},
	}, nil
}

// SubscribeIsolationLevel is READ COMMITTED: enough for a log whose
// positions are committed in order (see SelectQuery), and the level at
// which a second subscriber of a group, once the first releases the
// group's row, reads the position the first acked rather than failing on
// the concurrent update.
func (s WatermillSchema) SubscribeIsolationLevel() sql.IsolationLevel {
	return sql.LevelReadCommitted
}

// RequiresTransaction makes watermill-sql run the initializing queries in
// one transaction, so that the advisory lock is held while the offsets
// table is created.
func (s WatermillSchema) RequiresTransaction() bool { return true }

// WatermillOffsets is the watermill-sql OffsetsAdapter of WatermillSchema:
// the table riskledger_watermill_offsets in the ledger's schema holds, per
// consumer group and topic, the last position it acked (a group's row for
// eventstore.DefaultTopic is named by the group alone, for another topic
// by "topic/group").
type WatermillOffsets struct {
	// Schema holds the ledger's tables; "public" when empty.
	Schema string
}

var _ wsql.OffsetsAdapter = WatermillOffsets{}

func (a WatermillOffsets) table() string { return qualified(a.Schema, offsetsTable) }

// create is the statement that creates the offsets table if it is missing.
func (a WatermillOffsets) create() string {
	return `CREATE TABLE IF NOT EXISTS ` + a.table() + ` (
		consumer_group text PRIMARY KEY,
		offset_acked   bigint NOT NULL
	)`
}

// SchemaInitializingQueries creates the offsets table if it is missing.
func (a WatermillOffsets) SchemaInitializingQueries(wsql.OffsetsSchemaInitializingQueriesParams) ([]wsql.Query, error) {
	return []wsql.Query{{Query: a.create()}}, nil
}

// SeekGroup sets the position after which the consumer group's next
// subscriber starts: a consumer that has caught up by reading the store
// itself (a projection that rebuilds its state at start) skips what it has
// already applied.
func SeekGroup(ctx context.Context, pool *pgxpool.Pool, schema, group string, position int64) error {
	a := WatermillOffsets{Schema: schema}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "riskledger.watermill:"+schemaOrPublic(schema)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, a.create()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+a.table()+` (consumer_group, offset_acked) VALUES ($1, $2)
			ON CONFLICT (consumer_group) DO UPDATE SET offset_acked = excluded.offset_acked`, group, position)
		return err
	})
}

// BeforeSubscribingQueries gives a new group its row at position 0, so
// that NextOffsetQuery has a row to lock from the first batch on.
func (a WatermillOffsets) BeforeSubscribingQueries(p wsql.BeforeSubscribingQueriesParams) ([]wsql.Query, error) {
	return []wsql.Query{{
		Query: `INSERT INTO ` + a.table() + ` (consumer_group, offset_acked) VALUES ($1, 0) ON CONFLICT DO NOTHING`,
		Args:  []any{groupKey(p.Topic, p.ConsumerGroup)},
	}}, nil
}

// groupKey names a consumer group's row for a topic.
func groupKey(topic, group string) string {
	if topic == eventstore.DefaultTopic {
		return group
	}
	return topic + "/" + group
}

// NextOffsetQuery reads the group's acked position and locks its row until
// the batch's transaction ends.
func (a WatermillOffsets) NextOffsetQuery(p wsql.NextOffsetQueryParams) (wsql.Query, error) {
	return wsql.Query{
		Query: `SELECT offset_acked FROM ` + a.table() + ` WHERE consumer_group = $1 FOR UPDATE`,
		Args:  []any{groupKey(p.Topic, p.ConsumerGroup)},
	}, nil
}

// AckMessageQuery records the last position of the acked part of a batch.
func (a WatermillOffsets) AckMessageQuery(p wsql.AckMessageQueryParams) (wsql.Query, error) {
	return wsql.Query{
		Query: `INSERT INTO ` + a.table() + ` (consumer_group, offset_acked) VALUES ($1, $2)
			ON CONFLICT (consumer_group) DO UPDATE SET offset_acked = excluded.offset_acked`,
		Args: []any{groupKey(p.Topic, p.ConsumerGroup), p.LastRow.Offset},
	}, nil
}

// ConsumedMessageQuery is empty: the group's row lock already keeps two
// subscribers of a group from delivering the same batch.
func (a WatermillOffsets) ConsumedMessageQuery(wsql.ConsumedMessageQueryParams) (wsql.Query, error) {
	return wsql.Query{}, nil
}

// checkTopic accepts the topics the ledger is delivered on.
func checkTopic(topic string) error {
	if topic != eventstore.DefaultTopic && topic != eventstore.ColourChangesTopic {
		return domain.Errorf(domain.Invalid, "topic %q is not the ledger's; subscribe to %q or %q", topic, eventstore.DefaultTopic, eventstore.ColourChangesTopic)
	}
	return nil
}

func schemaOrPublic(schema string) string {
	if schema == "" {
		return "public"
	}
	return schema
}

// qualified names table in schema, quoted.
func qualified(schema, table string) string {
	return pgx.Identifier{schemaOrPublic(schema), table}.Sanitize()
}

// cleanGroup reports whether a consumer group can be stored as text.
func cleanGroup(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
