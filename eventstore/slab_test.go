package eventstore_test

import (
	"bytes"
	"testing"

	"github.com/riskledger/riskledger/eventstore"
)

// TestPayloadSlab: copies hold their bytes, appending to one leaves its
// neighbour alone, and a short read allocates a small array.
func TestPayloadSlab(t *testing.T) {
	var s eventstore.PayloadSlab
	a := s.Copy([]byte(`{"n":1}`))
	b := s.Copy([]byte(`{"n":2}`))
	if cap(a) > 4<<10 {
		t.Fatalf("the first array holds %d bytes, want at most 4 KiB", cap(a))
	}
	a = append(a, 'x')
	if string(b) != `{"n":2}` || string(a) != `{"n":1}x` {
		t.Fatalf("a = %s, b = %s", a, b)
	}
	big := bytes.Repeat([]byte("y"), 3<<20)
	c := s.Copy(big)
	if !bytes.Equal(c, big) {
		t.Fatal("a payload larger than the largest array is not copied whole")
	}
	var copies [][]byte
	for i := range 5000 {
		copies = append(copies, s.Copy([]byte{byte(i), byte(i >> 8)}))
	}
	for i, c := range copies {
		if c[0] != byte(i) || c[1] != byte(i>>8) {
			t.Fatalf("copy %d reads %v", i, c)
		}
	}
}
