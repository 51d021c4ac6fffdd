package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"
	gojson "github.com/goccy/go-json"
)

// Metadata keys of the watermill messages a Relay publishes.
const (
	MetaPosition = "position"
	MetaType     = "type"
	MetaStream   = "stream"
)

// DefaultTopic is the topic committed events are published on.
const DefaultTopic = "riskledger.events"

// ColourChangesTopic delivers only the colour-assigned events of the
// ledger (the colour projection's decisions), in position order: the
// topic for the issuance layer's consumers inside the cluster.
const ColourChangesTopic = "riskledger.colour_changes"

// Relay publishes every committed event, in position order, on a watermill
// Publisher. The ledger is its own outbox: the relay tails Subscribe, so it
// works the same for a GoChannel in one process and for a cross-process
// pub/sub (watermill-sql, NATS JetStream), and after a restart it resumes
// from the position its caller last saw acknowledged. Delivery is
// at-least-once; consumers skip positions they have applied.
type Relay struct {
	Store     Store
	Publisher message.Publisher
	Topic     string // DefaultTopic when empty
}

// Run publishes the events after position after until ctx ends.
func (r *Relay) Run(ctx context.Context, after int64) error {
	topic := r.Topic
	if topic == "" {
		topic = DefaultTopic
	}
	return r.Store.Subscribe(ctx, after, func(e Event) error {
		msg, err := ToMessage(e)
		if err != nil {
			return err
		}
		if err := r.Publisher.Publish(topic, msg); err != nil {
			return fmt.Errorf("publish position %d: %w", e.Position, err)
		}
		return nil
	})
}

// ToMessage encodes an event as a watermill message: the UUID is the event
// id (so deduplicating consumers work), the payload the JSON envelope.
// Encoding is most of a relay's or a subscriber's work per event, and
// json.Marshal spends it on reflection and on re-validating and
// re-compacting the payload, which the ledger stored compact and valid:
// the envelope is written directly when it can be, byte for byte as
// json.Marshal writes it.
func ToMessage(e Event) (*message.Message, error) {
	// The keys and punctuation take 196 bytes, the numbers, ids, times and
	// hashes at most 370.
	size := 566 + len(e.Stream) + len(e.Type) + len(e.Actor) + len(e.Payload) + len(e.Metadata)
	body, ok := appendEventJSON(make([]byte, 0, size), &e)
	if !ok {
		var err error
		if body, err = json.Marshal(e); err != nil {
			return nil, fmt.Errorf("encode event %d: %w", e.Position, err)
		}
	}
	msg := message.NewMessage(e.ID.String(), body)
	msg.Metadata.Set(MetaPosition, strconv.FormatInt(e.Position, 10))
	msg.Metadata.Set(MetaType, e.Type)
	msg.Metadata.Set(MetaStream, e.Stream)
	return msg, nil
}

// FromMessage decodes a message written by ToMessage.
func FromMessage(msg *message.Message) (Event, error) {
	var e Event
	if err := gojson.Unmarshal(msg.Payload, &e); err != nil {
		return e, fmt.Errorf("decode event message %s: %w", msg.UUID, err)
	}
	return e, nil
}
