// Command merge writes the trained SMT blocks of a delta.safetensors into a
// base model and saves the result as a complete Hugging Face model
// directory, with the base's dtypes, shards and non-weight files.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/delta"
)

func main() {
	app := &cli.App{
		Name:  "merge",
		Usage: "write the trained blocks of delta.safetensors into a base model; save a Hugging Face model directory",
		UsageText: `merge --model DIR --delta delta.safetensors --out DIR [--force] [--json]

Examples:
   merge --model models/stories260K --delta out/run/delta.safetensors --out out/merged
   merge --model Llama-2-7b-hf --delta run --out Llama-2-7b-smt      # run dir: reads run/delta.safetensors
   merge --model Llama-2-7b-hf --delta run/delta.safetensors --out merged --json > merge.json

The output keeps the base's dtype per tensor (trained float32 values are rounded
to nearest even), its shard files and index, and copies config.json, tokenizer
and other non-weight files. It appears atomically, replacing an earlier model
directory at --out. A delta trained on another model (smt.base_model_hash) is
refused unless --force is given.

Exit status: 0 merged, 1 failed or refused, 2 usage error.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"base"}, Usage: "base Hugging Face model directory (the one train ran on)"},
			&cli.StringFlag{Name: "delta", Usage: "delta.safetensors written by train, or its run directory"},
			&cli.StringFlag{Name: "out", Usage: "model directory to write (created or replaced atomically)"},
			&cli.BoolFlag{Name: "force", Usage: "merge even if the delta was trained on a model with another hash (warns)"},
		}, cmdutil.CommonFlags()...),
		Action: run,
	}
	cmdutil.Main(app)
}

func run(c *cli.Context) error {
	if c.NArg() > 0 {
		return cmdutil.Usagef("unexpected argument %q (use --model, --delta and --out)", c.Args().First())
	}
	var missing []string
	for _, f := range []string{"model", "delta", "out"} {
		if c.String(f) == "" {
			missing = append(missing, "--"+f)
		}
	}
	if len(missing) > 0 {
		return cmdutil.Usagef("missing %s (see merge --help)", strings.Join(missing, ", "))
	}
	com := cmdutil.ParseCommon(c)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := delta.Merge(ctx, c.String("model"), c.String("delta"), c.String("out"),
		delta.MergeOptions{Force: c.Bool("force"), Progress: cmdutil.NewProgress("merge", com)})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; nothing written: %w", err)
		}
		return err
	}
	if com.JSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	}
	printSummary(rep)
	return nil
}

func printSummary(r delta.MergeReport) {
	fmt.Printf("merged:   %s\n", r.Out)
	fmt.Printf("from:     %s + %s (step %d, %s)\n", r.Base, r.Delta, r.Step, r.Kept)
	fmt.Printf("tensors:  %d patched, %d blocks of %d×%d\n", r.Tensors, r.Blocks, r.BlockSize, r.BlockSize)
	pct := 0.0
	if r.ModelParams > 0 {
		pct = 100 * float64(r.ParamsPatched) / float64(r.ModelParams)
	}
	fmt.Printf("params:   %d overwritten (%.3f%% of %d), %d changed value\n", r.ParamsPatched, pct, r.ModelParams, r.ParamsChanged)
	fmt.Printf("weights:  %s\n", strings.Join(r.WeightFiles, ", "))
	if len(r.Copied) > 0 {
		fmt.Printf("copied:   %s\n", strings.Join(r.Copied, ", "))
	}
	for _, w := range r.Warnings {
		fmt.Printf("warning:  %s\n", w)
	}
}
