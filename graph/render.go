package graph

// This file is the one seam around go-chart/v2 (archived upstream): only
// Render and its helpers use it, through its raster Renderer (freetype
// strokes and fills, the embedded Roboto font, text measuring). Layout,
// axes, grid and legend are drawn here, so the library's own axis and
// range logic (which fails on NaN and has no aligned time ticks) is not
// used at all.

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/wcharczuk/go-chart/v2"
	"github.com/wcharczuk/go-chart/v2/drawing"
)

// Look of a graph. Sizes are pixels (the renderer runs at 72 DPI, so a
// font size in points is one in pixels).
const (
	titleSize  = 14
	labelSize  = 11
	smallSize  = 10
	lineWidth  = 1.6
	markerSize = 3.0 // a marker's radius (Line.Markers, a lone point)
	pieceLen   = 64  // points per stroke: freetype is quadratic in one long path
	legendRow  = 17
	swatchLen  = 16
	tickLabelY = 15 // x labels' baseline below the plot
)

// theme is the colors of the background, the frame and the text.
type theme struct {
	background, text, dim, axis, gridMajor, gridMinor color.RGBA
}

// look returns the one theme: white, grays, near-black text.
func look() theme {
	return theme{
		background: color.RGBA{0xff, 0xff, 0xff, 0xff},
		text:       color.RGBA{0x22, 0x22, 0x22, 0xff},
		dim:        color.RGBA{0x66, 0x66, 0x66, 0xff},
		axis:       color.RGBA{0x99, 0x99, 0x99, 0xff},
		gridMajor:  color.RGBA{0xe0, 0xe0, 0xe0, 0xff},
		gridMinor:  color.RGBA{0xf2, 0xf2, 0xf2, 0xff},
	}
}

// rgbaCollector receives go-chart's image instead of its PNG encoding
// (chart.RGBACollector), so the encoding can be the fast one.
type rgbaCollector struct{ img *image.RGBA }

func (c *rgbaCollector) SetRGBA(i *image.RGBA) { c.img = i }

// Write discards: go-chart only writes when the writer is no collector.
func (c *rgbaCollector) Write(p []byte) (int, error) { return len(p), nil }

var _ chart.RGBACollector = (*rgbaCollector)(nil)

// Render draws c as a PNG image into w. It draws and encodes into memory
// first: on error nothing is written. A Chart whose lines hold a NaN or
// an infinity, or with empty axes, is an error.
func Render(w io.Writer, c Chart) error {
	if err := c.check(); err != nil {
		return fmt.Errorf("render graph: %w", err)
	}
	img, err := raster(c)
	if err != nil {
		return fmt.Errorf("render graph: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(c.Width * c.Height / 8)
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, paletted(img, c.colors(), c.markColors())); err != nil {
		return fmt.Errorf("render graph: encode png: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("render graph: write png: %w", err)
	}
	return nil
}

// colors returns every color drawn on white: the frame's and the lines'.
func (c Chart) colors() []color.RGBA {
	t := look()
	out := []color.RGBA{t.text, t.dim, t.axis, t.gridMajor, t.gridMinor}
	for _, l := range c.Lines {
		if !slices.Contains(out, l.Color) {
			out = append(out, l.Color)
		}
	}
	for _, t := range c.Thresholds {
		if !slices.Contains(out, t.Color) {
			out = append(out, t.Color)
		}
	}
	return out
}

// rampLevels is how many shades of each color the palette holds: an
// anti-aliased edge is that color over white at some coverage.
const rampLevels = 16

// paletted returns img as a paletted image whose palette is white,
// rampLevels shades of each base color over white and markLevels' shades
// of each marks color (at most 256 entries), every pixel mapped to its
// nearest entry. A chart is mostly white and flat colors, so this loses
// nothing visible, and the PNG is a third of the bytes to filter and
// compress: encoding takes a fraction of the time of RGB's. When the
// palette would hold more, img is returned as it is.
func paletted(img *image.RGBA, base, marks []color.RGBA) image.Image {
	if len(base)*rampLevels+len(marks)*len(markLevels())+1 > 256 {
		return img
	}
	white := look().background
	pal := color.Palette{white}
	for _, c := range base {
		for k := 1; k <= rampLevels; k++ {
			pal = append(pal, shade(c, k))
		}
	}
	for _, c := range marks {
		for _, k := range markLevels() {
			pal = append(pal, shade(c, k))
		}
	}
	out := image.NewPaletted(img.Rect, pal)
	cache := map[[3]uint8]uint8{{0xff, 0xff, 0xff}: 0}
	last, lastIndex := [3]uint8{0xff, 0xff, 0xff}, uint8(0) // runs: grid lines, text
	w := img.Rect.Dx()
	for y := 0; y < img.Rect.Dy(); y++ {
		src := img.Pix[y*img.Stride : y*img.Stride+4*w]
		dst := out.Pix[y*out.Stride : y*out.Stride+w]
		for x := range w {
			p := src[4*x : 4*x+3 : 4*x+3]
			if p[0] == 0xff && p[1] == 0xff && p[2] == 0xff {
				continue // white: index 0, as allocated
			}
			k := [3]uint8{p[0], p[1], p[2]}
			if k != last {
				i, ok := cache[k]
				if !ok {
					i = uint8(pal.Index(color.RGBA{k[0], k[1], k[2], 0xff}))
					cache[k] = i
				}
				last, lastIndex = k, i
			}
			dst[x] = lastIndex
		}
	}
	return out
}

// shade is c over white at k/rampLevels coverage: one of the palette's
// entries (paletted).
func shade(c color.RGBA, k int) color.RGBA {
	a := float64(k) / rampLevels
	mix := func(v uint8) uint8 { return uint8(math.Round(float64(v)*a + 255*(1-a))) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 0xff}
}

// bandShade is the coverage of a stacked band's fill, in rampLevels.
const bandShade = 6

// check validates a Chart before drawing.
func (c Chart) check() error {
	switch {
	case c.Width < minWidth || c.Width > maxWidth || c.Height < minHeight || c.Height > maxHeight:
		return fmt.Errorf("size %d×%d outside %d×%d to %d×%d", c.Width, c.Height, minWidth, minHeight, maxWidth, maxHeight)
	case !finite(c.XMin, c.XMax, c.YMin, c.YMax) || c.XMax <= c.XMin || c.YMax <= c.YMin:
		return fmt.Errorf("empty or invalid axes x [%g, %g], y [%g, %g]", c.XMin, c.XMax, c.YMin, c.YMax)
	}
	for _, m := range c.Marks {
		if !finite(m.X, m.X2) {
			return fmt.Errorf("event %s at (%g, %g) is not finite", m.Letter, m.X, m.X2)
		}
	}
	for _, l := range c.Lines {
		for _, s := range append(slices.Clone(l.Segments), l.Base...) {
			for _, p := range s {
				if !finite(p.X, p.Y) {
					return fmt.Errorf("line %q: point (%g, %g) is not finite", l.Label, p.X, p.Y)
				}
			}
		}
		if l.Base == nil {
			continue
		}
		same := len(l.Base) == len(l.Segments)
		for i := 0; same && i < len(l.Base); i++ {
			same = len(l.Base[i]) == len(l.Segments[i])
		}
		if !same {
			return fmt.Errorf("line %q: its base is not point for point its segments", l.Label)
		}
	}
	return nil
}

// finite reports whether every v is neither NaN nor infinite.
func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// canvas is a go-chart renderer with the box of the plot.
type canvas struct {
	r                        chart.Renderer
	img                      *image.RGBA // the renderer's own image, for crisp fills
	left, top, right, bottom int         // the plot, in pixels
	c                        Chart
	t                        theme
}

// defaultFont is go-chart's embedded Roboto, parsed once. go-chart's
// GetDefaultFont parses it on first use without a lock: images drawn at
// once (the FastCGI server) would race on it. Once parsed it is only
// read.
var defaultFont = sync.OnceValues(chart.GetDefaultFont)

// raster draws c into an image.
func raster(c Chart) (*image.RGBA, error) {
	font, err := defaultFont()
	if err != nil {
		return nil, fmt.Errorf("load font: %w", err)
	}
	r, err := chart.PNG(c.Width, c.Height)
	if err != nil {
		return nil, err
	}
	r.SetDPI(72)
	r.SetFont(font)
	// The raster renderer hands its image to a collector on Save and goes
	// on drawing into it: taking it first lets rect fill pixels directly,
	// far cheaper than a freetype path and always crisp.
	var img rgbaCollector
	if err := r.Save(&img); err != nil || img.img == nil {
		return nil, fmt.Errorf("get the renderer's image: %v", err)
	}
	v := &canvas{r: r, img: img.img, c: c, t: look()}
	v.layout()
	v.rect(0, 0, c.Width, c.Height, v.t.background)
	v.grid()
	v.marks()
	v.lines()
	v.thresholds()
	v.axes()
	v.header()
	v.legend()
	if c.Message != "" {
		v.font(14, v.t.dim)
		b := r.MeasureText(c.Message)
		r.Text(c.Message, (v.left+v.right-b.Width())/2, (v.top+v.bottom+b.Height())/2)
	}
	var out rgbaCollector
	if err := r.Save(&out); err != nil {
		return nil, err
	}
	if out.img != v.img {
		return nil, errors.New("the renderer changed its image")
	}
	return out.img, nil
}

// font sets the font size and color of the next text.
func (v *canvas) font(size float64, col color.RGBA) {
	v.r.SetFontSize(size)
	v.r.SetFontColor(drawing.Color(col))
}

// measure returns the width and height of s at size.
func (v *canvas) measure(s string, size float64) (int, int) {
	v.r.SetFontSize(size)
	b := v.r.MeasureText(s)
	return b.Width(), b.Height()
}

// legendItem is one entry of the legend: a swatch (a dashed one for the
// previous period, or an event's letter) and a label.
type legendItem struct {
	label  string
	color  color.RGBA
	dashed bool
	letter string
}

// legendItems are the legend's entries: the lines (not the dashed ones),
// the previous period, the event kinds drawn.
func (v *canvas) legendItems() []legendItem {
	var out []legendItem
	for _, l := range v.c.Lines {
		if !l.Dashed {
			out = append(out, legendItem{label: l.Label, color: l.Color})
		}
	}
	if v.c.Previous != "" {
		out = append(out, legendItem{label: v.c.Previous, color: v.t.dim, dashed: true})
	}
	for _, k := range v.c.Keys {
		out = append(out, legendItem{label: k.Label, color: k.Color, letter: k.Letter})
	}
	return out
}

// legendRows splits the legend's entries into rows that fit width.
func (v *canvas) legendRows(width int) [][]int {
	var (
		rows [][]int
		row  []int
		used int
	)
	for i, l := range v.legendItems() {
		w, _ := v.measure(l.label, labelSize)
		w += swatchLen + 6 + 18
		if len(row) > 0 && used+w > width {
			rows, row, used = append(rows, row), nil, 0
		}
		row, used = append(row, i), used+w
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}

// layout places the plot: room for the title above, the y labels and
// the unit left, the x labels and the legend below.
func (v *canvas) layout() {
	c := v.c
	yw := 0
	for _, t := range c.YTicks {
		w, _ := v.measure(t.Label, labelSize)
		yw = max(yw, w)
	}
	v.left = 10 + yw + 7
	if c.Unit != "" {
		_, h := v.measure(c.Unit, labelSize)
		v.left += h + 8
	}
	v.left = max(v.left, 40)
	v.top = 32
	if len(c.Marks) > 0 {
		v.top += markRow // the events' letters
	}
	v.right = c.Width - 20
	rows := len(v.legendRows(v.right - v.left))
	v.bottom = c.Height - 8 - rows*legendRow - tickLabelY - 8
}

// px maps a point to pixels, clamped to the plot.
func (v *canvas) px(p XY) (int, int) {
	c := v.c
	fx := (p.X - c.XMin) / (c.XMax - c.XMin)
	fy := (p.Y - c.YMin) / (c.YMax - c.YMin)
	x := float64(v.left) + math.Min(math.Max(fx, 0), 1)*float64(v.right-v.left)
	y := float64(v.bottom) - math.Min(math.Max(fy, 0), 1)*float64(v.bottom-v.top)
	return int(math.Round(x)), int(math.Round(y))
}

// rect fills [x0, x1) × [y0, y1) with an opaque color, clipped to the
// image: crisp edges, unlike a stroked line.
func (v *canvas) rect(x0, y0, x1, y1 int, col color.RGBA) {
	b := image.Rect(x0, y0, x1, y1).Intersect(v.img.Rect)
	if b.Empty() {
		return
	}
	px := [4]uint8{col.R, col.G, col.B, 0xff}
	row := v.img.Pix[v.img.PixOffset(b.Min.X, b.Min.Y) : v.img.PixOffset(b.Max.X-1, b.Min.Y)+4]
	for i := 0; i < len(row); i += 4 {
		copy(row[i:i+4], px[:])
	}
	for y := b.Min.Y + 1; y < b.Max.Y; y++ {
		o := v.img.PixOffset(b.Min.X, y)
		copy(v.img.Pix[o:o+len(row)], row)
	}
}

// grid draws the horizontal lines of the y ticks and the vertical lines
// of the x ticks, minor ones lighter.
func (v *canvas) grid() {
	for _, t := range v.c.XTicks {
		if t.Value < v.c.XMin || t.Value > v.c.XMax {
			continue
		}
		x, _ := v.px(XY{X: t.Value, Y: v.c.YMin})
		col := v.t.gridMajor
		if t.Label == "" {
			col = v.t.gridMinor
		}
		v.rect(x, v.top, x+1, v.bottom, col)
	}
	for _, t := range v.c.YTicks {
		_, y := v.px(XY{X: v.c.XMin, Y: t.Value})
		v.rect(v.left, y, v.right, y+1, v.t.gridMajor)
	}
}

// lines strokes every line, each segment in pieces of pieceLen points,
// then marks its points (Line.Markers) above its strokes; a segment of
// one point is a marker alone.
func (v *canvas) lines() {
	for _, l := range v.c.Lines {
		for i := range l.Base {
			v.band(l.Segments[i], l.Base[i], shade(l.Color, bandShade))
		}
	}
	r := v.r
	var marks []pixel
	for _, l := range v.c.Lines {
		if l.Dashed {
			v.dashed(l)
			continue
		}
		col := drawing.Color(l.Color)
		marks = marks[:0]
		for _, seg := range l.Segments {
			pts := v.pixels(seg)
			if l.Markers || len(pts) == 1 {
				marks = append(marks, pts...)
			}
			for start := 0; start < len(pts)-1; start += pieceLen - 1 {
				end := min(start+pieceLen, len(pts))
				r.SetStrokeColor(col)
				r.SetStrokeWidth(lineWidth)
				r.MoveTo(pts[start].x, pts[start].y)
				for _, p := range pts[start+1 : end] {
					r.LineTo(p.x, p.y)
				}
				r.Stroke()
			}
		}
		for _, p := range marks {
			v.marker(p, l.Color)
		}
	}
}

// band fills the area between top and base (point for point the same
// x), one pixel column at a time, each edge linear between its points:
// crisp, and linear in the band's width.
func (v *canvas) band(top, base []XY, col color.RGBA) {
	for i := 0; i+1 < len(top); i++ {
		x0, t0 := v.px(top[i])
		x1, t1 := v.px(top[i+1])
		_, b0 := v.px(base[i])
		_, b1 := v.px(base[i+1])
		for x := x0; x < x1; x++ {
			f := float64(x-x0) / float64(x1-x0)
			yt := int(math.Round(float64(t0) + f*float64(t1-t0)))
			yb := int(math.Round(float64(b0) + f*float64(b1-b0)))
			v.rect(x, yt, x+1, yb, col)
		}
	}
}

// marker paints a filled disc of radius markerSize centred on pixel p,
// where strokes and grid lines put that point, straight into the image:
// each pixel blended with col by the share of it the disc covers (4×4
// samples). Round, anti-aliased, and far cheaper than a freetype fill.
func (v *canvas) marker(p pixel, col color.RGBA) {
	const n = 4 // samples per pixel side
	ext := int(math.Ceil(markerSize))
	b := image.Rect(p.x-ext, p.y-ext, p.x+ext+1, p.y+ext+1).Intersect(v.img.Rect)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			in := 0
			for sy := range n {
				dy := float64(y-p.y) + (float64(sy)+0.5)/n - 0.5
				for sx := range n {
					dx := float64(x-p.x) + (float64(sx)+0.5)/n - 0.5
					if dx*dx+dy*dy <= markerSize*markerSize {
						in++
					}
				}
			}
			if in == 0 {
				continue
			}
			a := float64(in) / (n * n)
			o := v.img.PixOffset(x, y)
			px := v.img.Pix[o : o+4 : o+4]
			for i, c := range [3]uint8{col.R, col.G, col.B} {
				px[i] = uint8(math.Round(float64(c)*a + float64(px[i])*(1-a)))
			}
			px[3] = 0xff
		}
	}
}

// pixel is a point in the image.
type pixel struct{ x, y int }

// pixels maps a segment to pixels, dropping a point that lands on the
// previous one.
func (v *canvas) pixels(seg []XY) []pixel {
	out := make([]pixel, 0, len(seg))
	for _, p := range seg {
		x, y := v.px(p)
		if n := len(out); n > 0 && out[n-1] == (pixel{x, y}) {
			continue
		}
		out = append(out, pixel{x, y})
	}
	return out
}

// axes draws the axis lines, the tick labels and the unit.
func (v *canvas) axes() {
	c, r := v.c, v.r
	v.rect(v.left, v.bottom, v.right+1, v.bottom+1, v.t.axis)
	v.rect(v.left, v.top, v.left+1, v.bottom+1, v.t.axis)
	for _, t := range c.XTicks {
		if t.Label == "" || t.Value < c.XMin || t.Value > c.XMax {
			continue
		}
		x, _ := v.px(XY{X: t.Value, Y: c.YMin})
		v.rect(x, v.bottom+1, x+1, v.bottom+5, v.t.axis)
		w, h := v.measure(t.Label, labelSize)
		lx := min(max(x-w/2, 2), c.Width-w-2)
		v.font(labelSize, v.t.text)
		r.Text(t.Label, lx, v.bottom+5+h)
	}
	for _, t := range c.YTicks {
		_, y := v.px(XY{X: c.XMin, Y: t.Value})
		v.rect(v.left-4, y, v.left, y+1, v.t.axis)
		w, h := v.measure(t.Label, labelSize)
		v.font(labelSize, v.t.text)
		r.Text(t.Label, v.left-7-w, y+h/2)
	}
	if c.Unit != "" {
		w, h := v.measure(c.Unit, labelSize)
		v.font(labelSize, v.t.dim)
		r.SetTextRotation(chart.DegreesToRadians(270))
		r.Text(c.Unit, 8+h, (v.top+v.bottom+w)/2)
		r.ClearTextRotation()
	}
}

// header draws the title (left) and the subtitle (right).
func (v *canvas) header() {
	c, r := v.c, v.r
	_, h := v.measure("Hg", titleSize)
	base := 8 + h
	v.font(titleSize, v.t.text)
	r.Text(c.Title, v.left, base)
	if c.Subtitle != "" {
		tw, _ := v.measure(c.Title, titleSize)
		w, _ := v.measure(c.Subtitle, smallSize)
		if v.left+tw+16 < v.right-w { // drop it rather than overlap the title
			v.font(smallSize, v.t.dim)
			r.Text(c.Subtitle, v.right-w, base)
		}
	}
}

// legend draws a swatch and the label of every line below the x labels.
func (v *canvas) legend() {
	r := v.r
	y := v.bottom + tickLabelY + 8
	items := v.legendItems()
	for _, row := range v.legendRows(v.right - v.left) {
		x := v.left
		y += legendRow
		for _, i := range row {
			l := items[i]
			w, h := v.measure(l.label, labelSize)
			switch {
			case l.letter != "":
				lw, _ := v.measure(l.letter, labelSize)
				v.rect(x+swatchLen/2, y-h-1, x+swatchLen/2+1, y+2, shade(l.color, markShade))
				v.font(labelSize, l.color)
				r.Text(l.letter, x+swatchLen/2-lw-2, y)
			case l.dashed:
				for dx := 0; dx < swatchLen; dx += 2 * dashLen {
					v.rect(x+dx, y-h/2-2, x+min(dx+dashLen, swatchLen), y-h/2+1, l.color)
				}
			default:
				v.rect(x, y-h/2-2, x+swatchLen, y-h/2+1, l.color)
			}
			v.font(labelSize, v.t.text)
			r.Text(l.label, x+swatchLen+6, y)
			x += swatchLen + 6 + w + 18
		}
	}
}
