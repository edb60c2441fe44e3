package graph

import (
	"bytes"
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var samples = flag.String("samples", "", "write sample PNGs into this directory")

// TestSamplePNGs renders every graph over every named range from
// synthetic data, checks each PNG, and with -samples DIR keeps them.
func TestSamplePNGs(t *testing.T) {
	end := time.Date(2025, 6, 18, 14, 37, 0, 0, time.UTC)
	dir := *samples
	if dir == "" {
		dir = t.TempDir()
	}
	for rn, r := range ranges(end) {
		for _, def := range Defs() {
			d := synth(def.Name, r, 1, r.From.Add(r.To.Sub(r.From)/3))
			var buf bytes.Buffer
			if err := d.PNG(&buf); err != nil {
				t.Fatalf("%s %s: %v", def.Name, rn, err)
			}
			checkPNG(t, buf.Bytes(), defaultWidth, defaultHeight)
			if err := os.WriteFile(filepath.Join(dir, def.Name+"-"+rn+".png"), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Small images still fit their labels and legend.
	for _, name := range []string{"tuples", "table_size", "sessions"} {
		d := synth(name, ranges(end)[RangeWeek], 2, time.Time{})
		d.Query.Width, d.Query.Height = 400, 200
		var buf bytes.Buffer
		if err := d.PNG(&buf); err != nil {
			t.Fatal(err)
		}
		checkPNG(t, buf.Bytes(), 400, 200)
		if err := os.WriteFile(filepath.Join(dir, name+"-week-400x200.png"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkPNG decodes a PNG and checks its size and that it is not blank.
func checkPNG(t *testing.T, b []byte, w, h int) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode png: %v", err)
	}
	if got := img.Bounds().Size(); got != (image.Point{w, h}) {
		t.Fatalf("png size %v, want %dx%d", got, w, h)
	}
	return img
}
