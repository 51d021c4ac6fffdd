package codes

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// scan reads a QR code from a PNG as a scanner would.
func scan(t testing.TB, b []byte) (text, level string) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	// The image is the symbol alone, as drawn: read it as a pure barcode.
	// (gozxing's finder-pattern search misses about 1 in 100 such images
	// of random codes, which its pure mode reads.)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("no QR code read from the PNG: %v", err)
	}
	level, _ = res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL].(string)
	return res.GetText(), level
}

// TestPNGRoundTrip draws a code, reads the image back with a QR decoder and
// verifies what it read.
func TestPNGRoundTrip(t *testing.T) {
	f := newFixture(t)
	code := issue(t, f.claims(t, "2020-02-04", "07:30"), f.key)
	b, err := PNG(code, 512)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != 512 || cfg.Height != 512 {
		t.Fatalf("PNG is %dx%d (%v), want 512x512", cfg.Width, cfg.Height, err)
	}
	text, level := scan(t, b)
	if text != code {
		t.Fatalf("scanned %q, drew %q", text, code)
	}
	if level != "Q" {
		t.Errorf("error correction level %q, want Q", level)
	}
	if r := Verify(text, f.trust, f.at(t, "2020-02-04 09:00:00"), f.sh); !r.Valid {
		t.Fatalf("the scanned code does not verify: %+v", r)
	}
}

// TestPNGOfTheLongestDCC: the longest credential of the DCC suite still
// fits a QR code at level Q and scans back whole.
func TestPNGOfTheLongestDCC(t *testing.T) {
	var longest string
	for _, c := range loadDCCCases(t) {
		if c.Prefix != nil && len(*c.Prefix) > len(longest) {
			longest = *c.Prefix
		}
	}
	b, err := PNG(longest, -3)
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := scan(t, b); text != longest {
		t.Fatalf("scanned %d characters, drew %d", len(text), len(longest))
	}
	t.Logf("%d characters", len(longest))
}

func TestPNGRejectsTooLongACode(t *testing.T) {
	if _, err := PNG(PrefixRL1+string(bytes.Repeat([]byte("A"), 5000)), 256); err == nil {
		t.Fatal("a 5,000-character code drew a QR code")
	}
}
