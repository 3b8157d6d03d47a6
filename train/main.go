// Command train fine-tunes the blocks a block index selects (SMT) and
// writes delta.safetensors with the trained blocks.
package main

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/urfave/cli/v2"

	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/memstat"
	"github.com/smt-go/smt/pkg/smttrain"
	"github.com/smt-go/smt/pkg/train"
)

func main() {
	app := &cli.App{
		Name:  "train",
		Usage: "sparse fine-tuning of the selected blocks (SMT); writes delta.safetensors",
		UsageText: `train --model DIR --data SHARDS --blocks blocks.arrow --out RUN [options]

Examples:
   train --model models/stories260K --data out/shards --blocks out/blocks.arrow --out out/run --steps 200 --batch 8 --lr 1e-3
   train --model Llama-2-7b-hf --data shards --blocks blocks.arrow --out run --epochs 3 --batch 16 --lr 1e-4 --checkpoint-every 200
   train ... --resume          # continue an interrupted run from its latest checkpoint`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Required: true, Usage: "Hugging Face model directory (the base, or warmed weights)"},
			&cli.StringFlag{Name: "data", Required: true, Usage: "shard directory written by tokenize (train split; eval split for held-out loss)"},
			&cli.StringFlag{Name: "blocks", Required: true, Usage: "block index written by select"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "run directory: delta.safetensors, metrics.jsonl, checkpoints/"},
			&cli.Float64Flag{Name: "epochs", Value: 3, Usage: "epochs over the train split (when --steps is 0)"},
			&cli.IntFlag{Name: "steps", Usage: "optimizer steps (overrides --epochs)"},
			&cli.IntFlag{Name: "batch", Value: 16, Usage: "sequences per micro-batch"},
			&cli.IntFlag{Name: "max-len", Usage: "longest sequence allowed (0: the model's max_position_embeddings)"},
			&cli.BoolFlag{Name: "pack", Usage: "pack several examples into each row instead of padding"},
			&cli.IntFlag{Name: "eval-every", Value: 30, Usage: "held-out loss every N steps (and at the start and the end)"},
			&cli.IntFlag{Name: "eval-batch", Usage: "sequences per held-out batch (0: --batch)"},
			&cli.StringFlag{Name: "keep", Value: "best", Usage: "values written to the delta: best (lowest held-out loss) or last"},
			&cli.IntFlag{Name: "checkpoint-every", Value: 100, Usage: "write a checkpoint every N steps (0: never)"},
			&cli.BoolFlag{Name: "resume", Usage: "continue from the latest checkpoint in --out"},
		}, append(train.OptimizerFlags(1e-4, "linear"), cmdutil.CommonFlags()...)...),
		Action: run,
	}
	cmdutil.Main(app)
}

func run(c *cli.Context) error {
	com := cmdutil.ParseCommon(c)
	prog := cmdutil.NewProgress("train", com)
	opt := smttrain.Options{
		Model: c.String("model"), Shards: c.String("data"), Blocks: c.String("blocks"), Out: c.String("out"),
		Epochs: c.Float64("epochs"), Steps: c.Int("steps"), Batch: c.Int("batch"), MaxLen: c.Int("max-len"),
		Pack: c.Bool("pack"), Seed: com.Seed,
		Opt:       train.OptionsFromFlags(c),
		EvalEvery: c.Int("eval-every"), EvalBatch: c.Int("eval-batch"), Keep: c.String("keep"),
		CheckpointEvery: c.Int("checkpoint-every"), Resume: c.Bool("resume"),
	}
	if opt.Batch <= 0 {
		return cmdutil.Usagef("--batch must be positive")
	}
	run, err := cmdutil.StartRun(com, prog, opt.Model)
	if err != nil {
		return err
	}
	defer run.Close()
	if pc := run.Parallel(); pc != nil {
		opt.Comm = pc
	}
	res, err := smttrain.Run(run.Ctx, run.Model, opt, prog)
	if err != nil {
		return err
	}
	if !run.Leader() {
		return nil // rank 0 reports
	}
	if com.JSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	frac := 100 * float64(res.TrainedParams) / float64(res.ModelParams)
	fmt.Printf("delta:        %s (%d blocks, %d values = %.3f%% of %d parameters; kept %s", res.Delta, res.Blocks, res.TrainedParams, frac, res.ModelParams, res.Kept)
	if res.Kept == "best" {
		fmt.Printf(" from step %d", res.BestStep)
	}
	fmt.Println(")")
	fmt.Printf("training:     %d steps, %.2f epochs, loss %.4f → %.4f, %.0f tokens/s\n", res.Steps, res.Epochs, res.FirstLoss, res.LastLoss, float64(res.Tokens)/math.Max(res.Seconds, 1e-9))
	if !math.IsNaN(res.BestEvalLoss) {
		fmt.Printf("held-out:     %.4f at the start → %.4f (lowest, step %d)\n", res.BaseEvalLoss, res.BestEvalLoss, res.BestStep)
	}
	mm, ff := res.Memory, res.FullFT
	fmt.Printf("memory:       %-22s %12s %12s\n", "", "SMT", "full FT")
	for _, row := range []struct {
		name string
		a, b int64
	}{{"optimizer state", mm.Optimizer, ff.Optimizer}, {"gradients", mm.Gradients, ff.Gradients}, {"master copies", mm.Master, ff.Master},
		{"saved activations", mm.Activations, ff.Activations}, {"scratch", mm.Scratch, ff.Scratch}, {"weights", mm.Weights, ff.Weights},
		{"total", mm.Total(), ff.Total()}} {
		fmt.Printf("              %-22s %12s %12s\n", row.name, memstat.Bytes(row.a), memstat.Bytes(row.b))
	}
	fmt.Printf("              peak RSS %s\n", memstat.Bytes(res.PeakRSS))
	return nil
}
