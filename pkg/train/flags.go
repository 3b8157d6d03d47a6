package train

import "github.com/urfave/cli/v2"

// OptimizerFlags are the optimizer and schedule flags of the stages that
// train (warmup with --update adamw, train), with the given defaults.
func OptimizerFlags(lr float64, schedule string) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "grad-accum", Value: 1, Usage: "micro-batches per optimizer step"},
		&cli.Float64Flag{Name: "lr", Value: lr, Usage: "peak learning rate"},
		&cli.StringFlag{Name: "schedule", Value: schedule, Usage: "learning-rate schedule: linear (decay to 0), cosine, constant"},
		&cli.IntFlag{Name: "warmup-steps", Usage: "learning-rate warm-up steps"},
		&cli.Float64Flag{Name: "beta1", Value: 0.9, Usage: "AdamW β1"},
		&cli.Float64Flag{Name: "beta2", Value: 0.95, Usage: "AdamW β2"},
		&cli.Float64Flag{Name: "eps", Value: 1e-8, Usage: "AdamW ε"},
		&cli.Float64Flag{Name: "weight-decay", Value: 0, Usage: "AdamW weight decay"},
		&cli.Float64Flag{Name: "clip", Value: 1, Usage: "global gradient-norm clipping (0: none)"},
	}
}

// OptionsFromFlags reads the flags of OptimizerFlags.
func OptionsFromFlags(c *cli.Context) Options {
	return Options{LR: c.Float64("lr"), Schedule: c.String("schedule"), Warmup: c.Int("warmup-steps"),
		Beta1: c.Float64("beta1"), Beta2: c.Float64("beta2"), Eps: c.Float64("eps"),
		WeightDecay: c.Float64("weight-decay"), Clip: c.Float64("clip"), Accum: c.Int("grad-accum")}
}
