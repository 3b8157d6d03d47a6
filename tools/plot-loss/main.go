// Command plot-loss draws the loss curves of a training run's
// metrics.jsonl (training loss per step, held-out loss at each evaluation)
// as a PNG.
//
//	plot-loss --metrics run/metrics.jsonl --out run/loss.png
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/smt-go/smt/pkg/atomicfile"
	"github.com/smt-go/smt/pkg/cmdutil"
)

func main() {
	app := &cli.App{
		Name:      "plot-loss",
		Usage:     "draw training and held-out loss from a metrics.jsonl",
		UsageText: "plot-loss --metrics run/metrics.jsonl --out run/loss.png [--title TEXT]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "metrics", Required: true, Usage: "metrics.jsonl written by train or warmup"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "PNG to write"},
			&cli.StringFlag{Name: "title", Value: "SMT training loss"},
		},
		Action: func(c *cli.Context) error {
			train, eval, err := read(c.String("metrics"))
			if err != nil {
				return err
			}
			return draw(c.String("out"), c.String("title"), train, eval)
		},
	}
	cmdutil.Main(app)
}

// read returns (step, loss) of training steps and (step, eval_loss) of
// evaluations.
func read(path string) (train, eval plotter.XYs, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var rec struct {
			Step     *float64 `json:"step"`
			Loss     *float64 `json:"loss"`
			EvalLoss *float64 `json:"eval_loss"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if rec.Step == nil {
			continue
		}
		if rec.Loss != nil {
			train = append(train, plotter.XY{X: *rec.Step, Y: *rec.Loss})
		}
		if rec.EvalLoss != nil {
			eval = append(eval, plotter.XY{X: *rec.Step, Y: *rec.EvalLoss})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if len(train) == 0 && len(eval) == 0 {
		return nil, nil, fmt.Errorf("%s: no loss records", path)
	}
	return train, eval, nil
}

func draw(out, title string, train, eval plotter.XYs) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "optimizer step"
	p.Y.Label.Text = "cross-entropy loss (response tokens)"
	p.Add(plotter.NewGrid())
	if len(train) > 0 {
		l, err := plotter.NewLine(train)
		if err != nil {
			return err
		}
		l.Width = vg.Points(1)
		p.Add(l)
		p.Legend.Add("training (per step)", l)
	}
	if len(eval) > 0 {
		l, pts, err := plotter.NewLinePoints(eval)
		if err != nil {
			return err
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		l.Width = vg.Points(1.5)
		p.Add(l, pts)
		p.Legend.Add("held-out", l, pts)
	}
	p.Legend.Top = true
	w, err := p.WriterTo(8*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := atomicfile.Create(out)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := w.WriteTo(f); err != nil {
		return err
	}
	return f.Commit()
}
