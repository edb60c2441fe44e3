package graph

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
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

// firstSamples is a young client's data: the collector primed at first
// and wrote two samples, ten minutes apart, since; a commit and a
// rollback line, over r.
func firstSamples(first time.Time, r Range) *Data {
	def, _ := Lookup("transactions")
	pt := func(n int, v float64) Point {
		return Point{T: first.Add(time.Duration(n) * 10 * time.Minute), Seconds: 600, V: v, Min: v / 600, Max: v / 600}
	}
	return &Data{
		Def: def, Query: Query{Graph: def.Name, Range: r}, Resolution: string(resolution(r)),
		Series: []Series{
			{Label: "commit", Points: []Point{pt(1, 1200), pt(2, 2400)}},
			{Label: "rollback", Points: []Point{pt(1, 600), pt(2, 300)}},
		},
	}
}

// TestYoungGolden draws a client's first two samples over the day range
// (both at its right edge) and over the span since its first
// collection, compares each image with its golden file in testdata/
// (-update rewrites them), and finds in each a round marker of each
// line's colour centred on each sample's time: two visible points per
// line, not a one-pixel stroke.
func TestYoungGolden(t *testing.T) {
	first := utc(2026, 12, 6, 14, 20) // the priming run
	now := first.Add(21 * time.Minute)
	day, err := ParseRange(RangeDay, "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	since, err := ParseRange(RangeCustom, first.Format(time.RFC3339), "", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		r    Range
	}{{"young-day", day}, {"young-since", since}} {
		t.Run(tc.name, func(t *testing.T) {
			d := firstSamples(first, tc.r)
			var buf bytes.Buffer
			if err := d.PNG(&buf); err != nil {
				t.Fatal(err)
			}
			img := checkPNG(t, buf.Bytes(), defaultWidth, defaultHeight)
			golden := filepath.Join("testdata", tc.name+".png")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if n := differentPixels(t, img, golden); n > 0 {
				t.Errorf("%d pixels differ from %s (go test ./graph -run TestYoungGolden -update rewrites it)", n, golden)
			}
			left, right, bottom := plotBox(t, img)
			for i, s := range d.Series {
				col := palette()[i]
				var want []float64
				for _, p := range s.Points {
					// The plot maps From to the y axis's pixel column and To
					// to the x axis's last; a point is drawn at its pixel's
					// centre.
					f := p.T.Sub(tc.r.From).Seconds() / tc.r.To.Sub(tc.r.From).Seconds()
					want = append(want, float64(left)+f*float64(right-left)+0.5)
				}
				got := blobs(img, col, left, right, bottom)
				if len(got) != len(want) {
					t.Fatalf("line %s: %d markers at x %v, want %d at %v", s.Label, len(got), got, len(want), want)
				}
				for j := range want {
					if math.Abs(got[j]-want[j]) > 1 {
						t.Errorf("line %s: marker %d at x %.1f, want %.1f", s.Label, j, got[j], want[j])
					}
				}
			}
		})
	}
}

// differentPixels counts the pixels of img that differ from the PNG
// golden.
func differentPixels(t *testing.T, img image.Image, golden string) int {
	t.Helper()
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden image: %v (go test ./graph -run TestYoungGolden -update writes it)", err)
	}
	want, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode %s: %v", golden, err)
	}
	if want.Bounds() != img.Bounds() {
		return img.Bounds().Dx() * img.Bounds().Dy()
	}
	n := 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r1, g1, b1, _ := img.At(x, y).RGBA()
			r2, g2, b2, _ := want.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				n++
			}
		}
	}
	return n
}

// plotBox finds the plot in a graph image by its axes, the longest
// runs of the axis gray: the y axis's column (left), the x axis's last
// column (right) and its row (bottom).
func plotBox(t *testing.T, img image.Image) (left, right, bottom int) {
	t.Helper()
	axis := look().axis
	b := img.Bounds()
	// longest returns the longest run of gray along lines a (rows or
	// columns), each of positions c: the line and the run's last position.
	longest := func(as, cs [2]int, at func(a, c int) image.Point) (n, line, end int) {
		for a := as[0]; a < as[1]; a++ {
			run := 0
			for c := cs[0]; c < cs[1]; c++ {
				p := at(a, c)
				if !same(img.At(p.X, p.Y), axis) {
					run = 0
					continue
				}
				if run++; run > n {
					n, line, end = run, a, c
				}
			}
		}
		return n, line, end
	}
	xs, ys := [2]int{b.Min.X, b.Max.X}, [2]int{b.Min.Y, b.Max.Y}
	nx, bottom, right := longest(ys, xs, func(y, x int) image.Point { return image.Pt(x, y) })
	ny, left, _ := longest(xs, ys, func(x, y int) image.Point { return image.Pt(x, y) })
	if nx < b.Dx()/2 || ny < b.Dy()/3 {
		t.Fatalf("no axes in the image (longest gray runs %d px across, %d down)", nx, ny)
	}
	return left, right, bottom
}

// blobs returns, left to right, the centre x (pixel x spanning [x,
// x+1)) of each marker of colour col in
// the plot: each group of touching 2×2 blocks of pixels of exactly col
// above the x axis. A stroke 1.6 px wide has no such block (its full
// coverage is one pixel across), a marker's solid core several.
func blobs(img image.Image, col color.RGBA, left, right, bottom int) []float64 {
	core := func(p image.Point) bool {
		return p.Y+1 < bottom && same(img.At(p.X, p.Y), col) && same(img.At(p.X+1, p.Y), col) &&
			same(img.At(p.X, p.Y+1), col) && same(img.At(p.X+1, p.Y+1), col)
	}
	seen := map[image.Point]bool{}
	var out []float64
	for x := left - 4; x <= right+4; x++ {
		for y := img.Bounds().Min.Y; y < bottom; y++ {
			start := image.Pt(x, y)
			if seen[start] || !core(start) {
				continue
			}
			stack, n, sum := []image.Point{start}, 0, 0.0
			seen[start] = true
			for len(stack) > 0 {
				p := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				n, sum = n+1, sum+float64(p.X+1) // the block's centre
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						if q := p.Add(image.Pt(dx, dy)); !seen[q] && core(q) {
							seen[q] = true
							stack = append(stack, q)
						}
					}
				}
			}
			out = append(out, sum/float64(n))
		}
	}
	return out
}

// same reports whether c is exactly col (alpha aside).
func same(c color.Color, col color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	return uint8(r>>8) == col.R && uint8(g>>8) == col.G && uint8(b>>8) == col.B
}

// TestRenderConcurrently: images drawn at once, as the FastCGI server
// draws them, are each the image drawn alone (and, under -race, share
// nothing unguarded: the font is parsed once).
func TestRenderConcurrently(t *testing.T) {
	r := ranges(benchEnd)[RangeDay]
	names := []string{"buffers_written", "connections", "transactions", "buffers_written"}
	results := make([][]byte, len(names))
	done := make(chan int, len(names))
	for i, name := range names {
		go func() {
			var buf bytes.Buffer
			if err := synth(name, r, 1, time.Time{}).PNG(&buf); err != nil {
				t.Error(err)
			}
			results[i] = buf.Bytes()
			done <- i
		}()
	}
	for range names {
		<-done
	}
	for i, name := range names {
		var alone bytes.Buffer
		if err := synth(name, r, 1, time.Time{}).PNG(&alone); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(results[i], alone.Bytes()) || len(alone.Bytes()) == 0 {
			t.Errorf("%s drawn at once with others differs from %s drawn alone", name, name)
		}
	}
}
