// Command warmup runs SMT's warm-up phase over token shards and writes
// scores.arrow: per-block statistics of the gradients of the Q/K/V (or
// other) matrices summed over the run.
package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/memstat"
	"github.com/smt-go/smt/pkg/train"
	"github.com/smt-go/smt/pkg/warmup"
)

func main() {
	app := &cli.App{
		Name:  "warmup",
		Usage: "sum the gradients of the matrices SMT selects from over a short run, and score their blocks",
		UsageText: `warmup --model DIR --data SHARDS [--out scores.arrow] [options]

Examples:
   warmup --model models/stories260K --data out/shards --block-size 32 --steps 20 --batch 8
   warmup --model Llama-2-7b-hf --data shards --steps 100 --batch 16 --update adamw --save-weights warmed`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Required: true, Usage: "Hugging Face model directory"},
			&cli.StringFlag{Name: "data", Required: true, Usage: "shard directory written by tokenize (its train split)"},
			&cli.StringFlag{Name: "out", Value: "scores.arrow", Usage: "scores file to write"},
			&cli.StringFlag{Name: "metrics", Usage: "metrics JSONL (default: warmup-metrics.jsonl beside --out)"},
			&cli.IntFlag{Name: "steps", Value: 100, Usage: "warm-up steps (the paper: 100 for commonsense, 25 for Math10K)"},
			&cli.IntFlag{Name: "batch", Value: 16, Usage: "sequences per micro-batch"},
			&cli.IntFlag{Name: "max-len", Usage: "longest sequence allowed (0: the model's max_position_embeddings)"},
			&cli.BoolFlag{Name: "pack", Usage: "pack several examples into each row instead of padding"},
			&cli.StringFlag{Name: "update", Value: "none", Usage: "none: gradients at the base weights; adamw: full fine-tuning steps as the released SMT code does"},
			&cli.StringFlag{Name: "matrices", Value: "q,k,v", Usage: "matrices to score: any of q,k,v,o,gate,up,down"},
			&cli.IntFlag{Name: "block-size", Value: 256, Usage: "block side; must divide the scored matrices' dimensions"},
			&cli.StringFlag{Name: "save-weights", Usage: "with --update adamw: write the warmed model directory here"},
		}, append(train.OptimizerFlags(9.65e-6, "constant"), cmdutil.CommonFlags()...)...),
		Action: run,
	}
	cmdutil.Main(app)
}

func run(c *cli.Context) error {
	com := cmdutil.ParseCommon(c)
	prog := cmdutil.NewProgress("warmup", com)
	kinds, err := warmup.ParseKinds(c.String("matrices"))
	if err != nil {
		return cmdutil.UsageError{Err: fmt.Errorf("--matrices: %w", err)}
	}
	opt := warmup.Options{
		Model: c.String("model"), Shards: c.String("data"), Out: c.String("out"), Metrics: c.String("metrics"),
		Steps: c.Int("steps"), Batch: c.Int("batch"), MaxLen: c.Int("max-len"), Pack: c.Bool("pack"), Seed: com.Seed,
		Update: c.String("update"), Kinds: kinds, BlockSize: c.Int("block-size"), SaveWeights: c.String("save-weights"),
		Opt: train.OptionsFromFlags(c),
	}
	if opt.Metrics == "" {
		opt.Metrics = filepath.Join(filepath.Dir(opt.Out), "warmup-metrics.jsonl")
	}
	if opt.Steps <= 0 || opt.Batch <= 0 {
		return cmdutil.Usagef("--steps and --batch must be positive")
	}
	run, err := cmdutil.StartRun(com, prog, opt.Model)
	if err != nil {
		return err
	}
	defer run.Close()
	if pc := run.Parallel(); pc != nil {
		opt.Comm = pc
	}
	res, err := warmup.Run(run.Ctx, run.Model, opt, prog)
	if err != nil {
		return err
	}
	if !run.Leader() {
		return nil // rank 0 reports
	}
	if com.JSON {
		b, _ := json.MarshalIndent(map[string]any{"scores": opt.Out, "result": res}, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	fmt.Printf("scores:       %s (%d blocks of %s, %d steps, %d tokens, %d loss tokens)\n", opt.Out, res.Blocks, c.String("matrices"), res.Steps, res.Tokens, res.Targets)
	fmt.Printf("loss:         %.4f → %.4f\n", res.FirstLoss, res.LastLoss)
	fmt.Printf("memory:       gradient sums %s, gradients %s, optimizer %s, activations %s; peak RSS %s\n",
		memstat.Bytes(res.AccumBytes), memstat.Bytes(res.GradBytes), memstat.Bytes(res.OptimizerBytes), memstat.Bytes(res.ActBytes), memstat.Bytes(res.PeakRSS))
	if opt.SaveWeights != "" {
		fmt.Printf("weights:      %s\n", opt.SaveWeights)
	}
	return nil
}
