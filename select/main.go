// Command select reads the warm-up scores (scores.arrow), picks the blocks
// SMT trains under a selection policy and a budget, and writes the block
// index blocks.arrow, a summary per kind and layer, and a heat map.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/smt-go/smt/pkg/blocks"
	"github.com/smt-go/smt/pkg/blocks/heatmap"
	"github.com/smt-go/smt/pkg/cmdutil"
)

func main() {
	app := &cli.App{
		Name:  "select",
		Usage: "pick the blocks SMT trains from warm-up scores and write the block index",
		UsageText: `select --scores scores.arrow [--out blocks.arrow] [--budget 0.84%] [--policy attn] [options]

Policies:
   attn        one pool over the Q/K/V blocks of every layer, global top n (the released SMT code)
   attn+mlp    the Q/K/V pool with --budget and a gate/up/down pool with --mlp-budget
   mixed       one pool over every scored block; budget --budget (+ --mlp-budget)
   per-matrix  the top n/M blocks of each of the M scored matrices

Budgets:
   890, 890 blocks       a block count
   0.84%, 0.0084         a share of all 2-D parameter blocks of the model, embeddings and head
                         included: n = int(ratio × model_params_2d / S²), as the released code
   58M, 58.3e6 params    a parameter count: n = floor(params / S²)
   all                   every block of the pool
   A budget beyond its pool is an error, not clamped.

Scores (--score): mean_abs = mean |G| (default: the paper's "average absolute gradient"),
   abs_mean = |mean G|, l1, l2, mean_abs_step, or reference = abs_mean for attention and
   mean_abs for the MLP, exactly what the released code ranks by. Equal scores are broken
   as the released code does: the larger ((module name, layer), row, col) wins.

Examples:
   select --scores run/scores.arrow --out run/blocks.arrow
   select --scores scores.arrow --budget 890 --score reference --model Llama-2-7b-hf
   select --scores scores.arrow --policy attn+mlp --budget 0.84% --mlp-budget 0.5%
   select --scores scores.arrow --budget 58M --kinds v --json > summary.json
   select --scores out/scores.arrow --budget all --policy per-matrix --no-heatmap`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "scores", Required: true, Usage: "scores file written by warmup"},
			&cli.StringFlag{Name: "out", Value: "blocks.arrow", Usage: "block index to write"},
			&cli.StringFlag{Name: "budget", Value: "0.84%", Usage: "blocks to select: a count, a percentage or fraction of the model's 2-D parameter blocks, a parameter count, or all"},
			&cli.StringFlag{Name: "policy", Value: string(blocks.PolicyAttn), Usage: "attn, attn+mlp, mixed or per-matrix"},
			&cli.StringFlag{Name: "score", Value: blocks.DefaultScore, Usage: "score to rank by: " + strings.Join(blocks.Scores(), ", ")},
			&cli.StringFlag{Name: "mlp-budget", Usage: "budget of the gate/up/down pool (attn+mlp; added to --budget with mixed)"},
			&cli.StringFlag{Name: "kinds", Usage: "select only from these kinds, e.g. v or q,k,v (default: every kind the policy's pools hold)"},
			&cli.StringFlag{Name: "model", Usage: "model directory: refuse scores whose shapes, layers or block size do not fit its config.json"},
			&cli.StringFlag{Name: "heatmap", Usage: "heat-map PNG to write (default: beside --out, named after it with .png)"},
			&cli.BoolFlag{Name: "no-heatmap", Usage: "write no heat map"},
		}, cmdutil.CommonFlags()...),
		Action: run,
	}
	cmdutil.Main(app)
}

func run(c *cli.Context) error {
	if c.NArg() > 0 {
		return cmdutil.Usagef("unexpected arguments %v", c.Args().Slice())
	}
	com := cmdutil.ParseCommon(c)
	budget, err := blocks.ParseBudget(c.String("budget"))
	if err != nil {
		return cmdutil.Usagef("--budget: %w", err)
	}
	mlp, err := blocks.ParseBudget(c.String("mlp-budget"))
	if err != nil {
		return cmdutil.Usagef("--mlp-budget: %w", err)
	}
	var kinds []string
	if k := c.String("kinds"); k != "" {
		for _, s := range strings.Split(k, ",") {
			kinds = append(kinds, strings.TrimSpace(s))
		}
	}
	o := blocks.RunOptions{
		Scores: c.String("scores"), Out: c.String("out"), Model: c.String("model"), Heatmap: c.String("heatmap"),
		Select: blocks.Options{Policy: blocks.Policy(c.String("policy")), Score: c.String("score"), Budget: budget, MLPBudget: mlp, Kinds: kinds},
		Plot:   heatmap.Write,
	}
	if o.Heatmap == "" {
		o.Heatmap = strings.TrimSuffix(o.Out, filepath.Ext(o.Out)) + ".png"
	}
	if c.Bool("no-heatmap") {
		o.Heatmap = ""
	}
	s, err := blocks.Run(o, cmdutil.NewProgress("select", com))
	if err != nil {
		return err
	}
	if com.JSON {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(os.Stdout, string(b))
		return err
	}
	return s.WriteText(os.Stdout)
}
