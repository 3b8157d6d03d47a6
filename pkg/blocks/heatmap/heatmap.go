// Package heatmap draws the select stage's picture: a heat map of the
// blocks selected per layer (rows, layer 0 at the top) and matrix kind
// (columns). Each cell shows the number of blocks selected from that
// matrix; its colour is the share of the matrix's blocks selected, on the
// scale of the colour bar at the right. Kinds that no pool of the policy
// could select from are grey.
//
// It lives apart from package blocks so that the stages that only read
// blocks.arrow do not link the plotting library.
package heatmap

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/smt-go/smt/pkg/atomicfile"
	"github.com/smt-go/smt/pkg/blocks"
)

// Write draws the picture of a selection and writes it to path as a PNG,
// atomically. Its signature fits blocks.RunOptions.Plot.
func Write(path string, s *blocks.Summary, _ []blocks.Entry) error {
	b, err := PNG(s)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}

// Sizes of the picture, in points (1/72 inch).
const (
	cellW     = 76
	minCellH  = 10
	maxCellH  = 34
	gridH     = 520 // height the cells aim to fill
	barW      = 96  // colour bar strip, its labels included
	dpi       = 96
	titleSize = 13
	tickSize  = 10
)

// PNG returns the picture of a selection as PNG bytes.
func PNG(s *blocks.Summary) ([]byte, error) {
	if s.Layers <= 0 || len(s.Kinds) == 0 {
		return nil, fmt.Errorf("nothing to draw: %d layers, %d kinds", s.Layers, len(s.Kinds))
	}
	nx, ny := len(s.Kinds), s.Layers
	cellH := math.Max(minCellH, math.Min(maxCellH, gridH/float64(ny)))
	g := newGrid(s)
	// White to dark blue (the luminance map wants increasing lightness).
	dark, err := moreland.NewLuminance([]color.Color{
		color.RGBA{0x08, 0x30, 0x6b, 0xff}, color.RGBA{0x42, 0x92, 0xc6, 0xff},
		color.RGBA{0x9e, 0xca, 0xe1, 0xff}, color.RGBA{0xf7, 0xfb, 0xff, 0xff}})
	if err != nil {
		return nil, fmt.Errorf("heat map palette: %w", err)
	}
	cmap := palette.Reverse(dark)
	cmap.SetMin(0)
	cmap.SetMax(g.max)

	p := plot.New()
	p.Title.Text = fmt.Sprintf("%d blocks of %d×%d", s.Selected, s.BlockSize, s.BlockSize)
	if s.Percent > 0 {
		p.Title.Text += fmt.Sprintf(" = %.3f%% of the model", s.Percent)
	}
	p.Title.Text += fmt.Sprintf("\npolicy %s, score %s", s.Policy, s.Score)
	p.Title.TextStyle.Font.Size = titleSize
	p.X.Label.Text, p.Y.Label.Text = "", "layer"
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Tick.Length, p.Y.Tick.Length = 0, 0
	p.X.LineStyle.Width, p.Y.LineStyle.Width = 0, 0
	p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = tickSize, tickSize
	p.X.Min, p.X.Max = -0.5, float64(nx)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(ny)-0.5
	var xt []plot.Tick
	for i, k := range s.Kinds {
		lab := fmt.Sprintf("%s_proj\n%d block%s\n%.2f%%", k.Kind, k.Selected, plural(k.Selected), 100*k.Fraction)
		if !k.Selectable {
			lab = fmt.Sprintf("%s_proj\nnot in a pool\n", k.Kind)
		}
		xt = append(xt, plot.Tick{Value: float64(i), Label: lab})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	step := 1
	for ny/step > 40 || float64(step)*cellH < 9 {
		step *= 2
	}
	var yt []plot.Tick
	for l := 0; l < ny; l++ {
		lab := ""
		if l%step == 0 || l == ny-1 && step == 1 {
			lab = fmt.Sprint(l)
		}
		yt = append(yt, plot.Tick{Value: g.y(l), Label: lab})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	p.Add(&cells{g: g, cmap: cmap, textSize: vg.Length(math.Min(10, cellH*0.62))})

	// Size the picture around the cells: the title and kind labels from
	// their measured text, the layer axis and the colour bar fixed.
	titleH := p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
	labelH := vg.Length(0)
	for _, t := range xt {
		labelH = max(labelH, p.X.Tick.Label.Rectangle(t.Label).Size().Y)
	}
	top, bottom := titleH+vg.Length(12), labelH+vg.Length(16)
	w := max(vg.Length(60+cellW*nx), p.Title.TextStyle.Width(p.Title.Text)+20) + barW
	h := top + bottom + vg.Length(cellH*float64(ny))
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	pc := draw.Crop(dc, 6, -barW, 6, -6)
	p.Draw(pc)
	drawBar(dc, p.DataCanvas(pc), w-barW+16, cmap, g.max)
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// grid holds the cell values: counts and shares of blocks per (kind,
// layer).
type grid struct {
	s     *blocks.Summary
	count [][]int     // [kind][layer]
	share [][]float64 // [kind][layer]; NaN for kinds outside every pool
	max   float64     // the colour scale's top
}

func newGrid(s *blocks.Summary) *grid {
	g := &grid{s: s, max: 0}
	for _, k := range s.Kinds {
		c, f := make([]int, s.Layers), make([]float64, s.Layers)
		per := float64(k.GridRows * k.GridCols)
		for l := range c {
			c[l] = s.PerLayer[l].Blocks[k.Kind]
			f[l] = float64(c[l]) / per
			if !k.Selectable {
				f[l] = math.NaN()
			} else {
				g.max = math.Max(g.max, f[l])
			}
		}
		g.count, g.share = append(g.count, c), append(g.share, f)
	}
	if g.max == 0 {
		g.max = 1
	}
	return g
}

// y is the plot coordinate of a layer's row: layer 0 at the top.
func (g *grid) y(layer int) float64 { return float64(g.s.Layers - 1 - layer) }

// cells is the plotter that draws the grid.
type cells struct {
	g        *grid
	cmap     palette.ColorMap
	textSize vg.Length
}

// Plot implements plot.Plotter.
func (c *cells) Plot(dc draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&dc)
	grey := color.Gray{0xe4}
	sty := text.Style{Font: font.From(plot.DefaultFont, c.textSize), Handler: plot.DefaultTextHandler,
		XAlign: draw.XCenter, YAlign: draw.YCenter}
	for x := range c.g.count {
		for l := range c.g.count[x] {
			y := c.g.y(l)
			x0, x1 := trX(float64(x)-0.5)+1, trX(float64(x)+0.5)-1
			y0, y1 := trY(y-0.5)+0.5, trY(y+0.5)-0.5
			f := c.g.share[x][l]
			var fill color.Color = grey
			dark := false
			if !math.IsNaN(f) {
				col, err := c.cmap.At(math.Min(f, c.g.max))
				if err == nil {
					fill = col
				}
				dark = f > 0.55*c.g.max
			}
			dc.FillPolygon(fill, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
			if n := c.g.count[x][l]; n > 0 && c.textSize >= 6 {
				sty.Color = color.Black
				if dark {
					sty.Color = color.White
				}
				dc.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, fmt.Sprint(n))
			}
		}
	}
}

// DataRange implements plot.DataRanger.
func (c *cells) DataRange() (xmin, xmax, ymin, ymax float64) {
	return -0.5, float64(len(c.g.count)) - 0.5, -0.5, float64(c.g.s.Layers) - 0.5
}

// drawBar draws the colour scale as a vertical bar at x, spanning the
// height of the data area da, with percent ticks and a caption.
func drawBar(dc draw.Canvas, da draw.Canvas, x vg.Length, cmap palette.ColorMap, top float64) {
	const bw, steps = 14, 200
	y0, y1 := da.Min.Y, da.Max.Y
	for i := 0; i < steps; i++ {
		col, err := cmap.At(top * (float64(i) + 0.5) / steps)
		if err != nil {
			continue
		}
		a := y0 + (y1-y0)*vg.Length(i)/steps
		b := min(y1, y0+(y1-y0)*vg.Length(i+1)/steps+0.5) // overlap: no seams
		dc.FillPolygon(col, []vg.Point{{X: x, Y: a}, {X: x + bw, Y: a}, {X: x + bw, Y: b}, {X: x, Y: b}})
	}
	line := draw.LineStyle{Color: color.Gray{0x60}, Width: 0.6}
	dc.StrokeLines(line, []vg.Point{{X: x, Y: y0}, {X: x + bw, Y: y0}, {X: x + bw, Y: y1}, {X: x, Y: y1}, {X: x, Y: y0}})
	sty := text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, tickSize), Handler: plot.DefaultTextHandler, YAlign: draw.YCenter}
	for _, t := range (percentTicks{}).Ticks(0, top) {
		if t.Label == "" || t.Value < 0 || t.Value > top {
			continue
		}
		y := y0 + (y1-y0)*vg.Length(t.Value/top)
		dc.StrokeLine2(line, x+bw, y, x+bw+4, y)
		dc.FillText(sty, vg.Point{X: x + bw + 6, Y: y}, t.Label)
	}
	sty.Rotation, sty.XAlign, sty.YAlign = math.Pi/2, draw.XCenter, draw.YTop
	dc.FillText(sty, vg.Point{X: x + bw + 44, Y: (y0 + y1) / 2}, "share of the matrix's blocks selected")
}

// percentTicks labels a [0, max] share axis in percent.
type percentTicks struct{}

// Ticks implements plot.Ticker.
func (percentTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min*100, max*100)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64) + "%"
		}
		ticks[i].Value /= 100
	}
	return ticks
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
