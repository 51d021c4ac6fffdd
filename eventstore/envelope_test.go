package eventstore_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riskledger/riskledger/eventstore"
)

// TestToMessageWritesWhatJSONMarshalWrites: the envelope ToMessage writes
// itself is, byte for byte, json.Marshal's, whatever the strings and JSON
// texts hold; FromMessage reads the event back.
func TestToMessageWritesWhatJSONMarshalWrites(t *testing.T) {
	at := time.Date(1969, 7, 20, 20, 17, 40, 123000, time.UTC)
	for i, c := range []struct{ stream, typ, actor, payload, metadata string }{
		{"person-1", "Scanned", "gate", `{"n":1,"s":"plain"}`, `{}`},
		{"person-<2>", "Scanned", "gate", `{"n":2}`, `{}`},
		{"person-3", `Scan"ned`, "gate\\x", `[1, 2, {"a" : "b"}]`, `{"k":"v"}`},
		{"person-4", "Scanned", "gaté", `{"html":"<b>&amp;</b>"}`, `{"line":"a\u2028b"}`},
		{"person-5", "Scanned", "gate\u2029", `{"name":"Zoë Ångström","tab":"\t"}`, `{"e":"\u00e9 😀"}`},
		{"person-6", "Scanned", "gate", `{"name":"Zoë"}`, `{"raw":"` + "\u2028" + `"}`},
		{"person-7", "Scanned", "", `"just a string"`, `{}`},
		{"person-8", "Scanné", "gaté", `{"name":"Zoë 😀","n":-1.5e3}`, `{"source":"émigré"}`},
		{"person-9", "Scanned", "gate", `{ "spaced" : true }`, "{\n}"},
	} {
		e := eventstore.Event{Position: int64(i + 1), ID: uuid.New(), Stream: c.stream, StreamVersion: 3, Type: c.typ, SchemaVersion: 2,
			OccurredAt: at, RecordedAt: at.Add(time.Hour), Actor: c.actor, CausationID: uuid.New(),
			Payload: json.RawMessage(c.payload), Metadata: json.RawMessage(c.metadata)}
		e.PrevHash[3], e.Hash[31] = 7, 9
		msg, err := eventstore.ToMessage(e)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if string(msg.Payload) != string(want) {
			t.Errorf("event %d:\nToMessage    %s\njson.Marshal %s", i, msg.Payload, want)
		}
		back, err := eventstore.FromMessage(msg)
		if err != nil || back.ID != e.ID || back.Hash != e.Hash || back.Position != e.Position || !back.RecordedAt.Equal(e.RecordedAt) {
			t.Errorf("event %d read back as %+v: %v", i, back, err)
		}
	}
}
