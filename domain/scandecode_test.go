package domain

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/google/uuid"
)

// scanPayloads are ScanRecorded payloads as encoding/json writes them, of
// every shape a scan takes, with odd temperatures, reasons and positions.
func scanPayloads(t testing.TB) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	reasons := []string{"imported scan", "", "red is not admitted here", `quote " and \ backslash`, "tab\there", "深圳 gate", "code_invalid: signature: bad"}
	temps := []float64{36.6, 37.3, 35, 42.123456789, 1e-7, 1e21, -0.5, math.SmallestNonzeroFloat64}
	var out [][]byte
	for i := range 400 {
		s := ScanRecorded{
			CheckpointID: CheckpointID{uuid.New()},
			Subject:      ScanSubject{Kind: SubjectPerson, PersonID: PersonID{uuid.New()}},
			Method:       ScanMethods()[i%3],
			Admitted:     i%2 == 0,
			Reason:       reasons[rng.IntN(len(reasons))],
			ViewPosition: rng.Int64N(1 << 40),
		}
		switch i % 5 {
		case 0:
			t := temps[rng.IntN(len(temps))]
			s.TemperatureCelsius = &t
		case 1:
			s.Colour = Colours()[rng.IntN(3)]
		case 2:
			s.Subject = ScanSubject{Kind: SubjectForeign, Issuer: "JS", Pseudonym: "p" + uuid.NewString()}
		case 3:
			s.Subject = ScanSubject{Kind: SubjectVisitor, VisitorIndex: "v"}
			s.ViewPosition = -s.ViewPosition
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestDecodeScanAgrees: the scan reader gives the general decoder's value
// whenever it reads a payload, and it reads the common ones.
func TestDecodeScanAgrees(t *testing.T) {
	read := 0
	for _, p := range scanPayloads(t) {
		want, err := decodeBody[ScanRecorded](p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got, ok := decodeScan(p)
		if !ok {
			continue
		}
		read++
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got  %+v\n want %+v", p, got, want)
		}
	}
	// Persons' scans whose reasons need no escapes: 3 in 5 of the payloads,
	// less the reasons with a quote, a tab or a non-ASCII letter.
	if read < 120 {
		t.Errorf("the scan reader read %d of 400 payloads; it should read every person's scan with a plain reason", read)
	}
	common := []byte(`{"checkpoint_id":"24281097-5f2c-5b65-ab64-57877c154605","subject":{"kind":"person","person_id":"43a37a59-4ac0-529c-b80b-dfd48b06a8e0"},"method":"imported","temperature_celsius":36.2,"admitted":true,"reason":"imported scan","view_position":0}`)
	if _, ok := decodeScan(common); !ok {
		t.Errorf("the scan reader does not read %s", common)
	}
}

// FuzzDecodeScan: whatever the scan reader accepts, the general decoder
// reads to the same value.
func FuzzDecodeScan(f *testing.F) {
	for _, p := range scanPayloads(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		got, ok := decodeScan(p)
		if !ok {
			return
		}
		want, err := decodeBody[ScanRecorded](p)
		if err != nil {
			t.Fatalf("%q: the scan reader took what the decoder refuses: %v", p, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got  %+v\n want %+v", p, got, want)
		}
	})
}

func BenchmarkDecodeScan(b *testing.B) {
	p := []byte(`{"checkpoint_id":"24281097-5f2c-5b65-ab64-57877c154605","subject":{"kind":"person","person_id":"43a37a59-4ac0-529c-b80b-dfd48b06a8e0"},"method":"imported","temperature_celsius":36.2,"admitted":true,"reason":"imported scan","view_position":0}`)
	b.Run("reader", func(b *testing.B) {
		for range b.N {
			if _, ok := decodeScan(p); !ok {
				b.Fatal("not read")
			}
		}
	})
	b.Run("decoder", func(b *testing.B) {
		for range b.N {
			if _, err := decodeBody[ScanRecorded](p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
