// Command evaluate scores a model on the LLM-Adapters test sets the way the
// SMT reference evaluation does, and continues prompts for a quick look at a
// model (evaluate generate).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/eval"
	"github.com/smt-go/smt/pkg/evaluate"
	"github.com/smt-go/smt/pkg/prompt"
)

func main() {
	app := &cli.App{
		Name:  "evaluate",
		Usage: "generate answers to the LLM-Adapters test sets and score them (per-task accuracy, predictions, report)",
		UsageText: `evaluate --model DIR --data DIR --tasks LIST --out RUN_DIR [options]
   evaluate generate --model DIR --prompt TEXT [options]

Examples:
   evaluate --model models/stories260K --data ../shared/data/llm-adapters --tasks boolq,ARC-Easy,gsm8k --limit 5 --out out/eval
   evaluate --model merged --data llm-adapters/dataset --tasks commonsense --beams 4 --repetition-penalty 1.1 --max-new-tokens 256 --out out/eval-ref
   evaluate generate --model models/stories260K --prompt "" --max-new-tokens 256

An interrupted run (Ctrl-C, a crash) resumes when rerun with the same --out;
the settings that change predictions (model, template, decoding) must match.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "Hugging Face model directory"},
			&cli.StringFlag{Name: "data", Usage: "LLM-Adapters test sets: DIR/<task>/test.json or DIR/dataset/<task>/test.json"},
			&cli.StringFlag{Name: "tasks", Value: "commonsense", Usage: "comma-separated tasks, or commonsense, math, all"},
			&cli.StringFlag{Name: "out", Usage: "run directory: settings.json, predictions.jsonl, report.json, report.md"},
			&cli.IntFlag{Name: "limit", Usage: "evaluate only the first N examples of each task (0: all)"},
			&cli.IntFlag{Name: "batch", Value: 16, Usage: "prompts generated together"},
			&cli.IntFlag{Name: "max-new-tokens", Value: 32, Usage: "new tokens per answer (the SMT reference: 256)"},
			&cli.IntFlag{Name: "beams", Value: 1, Usage: "beam width; 1 is greedy decoding (the SMT reference: 4)"},
			&cli.Float64Flag{Name: "repetition-penalty", Value: 1, Usage: "Hugging Face repetition_penalty (the SMT reference: 1.1)"},
			&cli.StringFlag{Name: "template", Value: prompt.Default, Usage: "prompt template: smt, llm-adapters, alpaca, raw"},
			&cli.StringFlag{Name: "hellaswag", Usage: "HellaSwag validation text (klosax format, .bz2 or plain) when DATA has no hellaswag/test.json"},
		}, cmdutil.CommonFlags()...),
		Action:   run,
		Commands: []*cli.Command{generateCommand()},
	}
	cmdutil.Main(app)
}

func run(c *cli.Context) error {
	if c.NArg() > 0 {
		return cmdutil.Usagef("unexpected argument %q (the subcommand is generate)", c.Args().First())
	}
	com := cmdutil.ParseCommon(c)
	prog := cmdutil.NewProgress("evaluate", com)
	for _, f := range []string{"model", "data", "out"} {
		if c.String(f) == "" {
			return cmdutil.Usagef("--%s is required", f)
		}
	}
	tasks, err := evaluate.ParseTasks(c.String("tasks"))
	if err != nil {
		return cmdutil.Usagef("--tasks: %v", err)
	}
	if _, err := prompt.Get(c.String("template")); err != nil {
		return cmdutil.Usagef("--template: %v", err)
	}
	opt := evaluate.Options{
		Model: c.String("model"), Data: c.String("data"), HellaSwag: c.String("hellaswag"), Tasks: tasks, Out: c.String("out"),
		Limit: c.Int("limit"), Batch: c.Int("batch"), Template: c.String("template"),
		Decoding: evaluate.Decoding{MaxNewTokens: c.Int("max-new-tokens"), Beams: c.Int("beams"), RepetitionPenalty: c.Float64("repetition-penalty")},
	}
	if opt.Limit < 0 || opt.Batch < 1 {
		return cmdutil.Usagef("--limit must be ≥ 0 and --batch ≥ 1")
	}
	if err := opt.Decoding.Validate(); err != nil {
		return cmdutil.Usagef("%v", err)
	}
	be, err := cmdutil.OpenBackend(com, prog)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			prog.Printf("interrupted: finishing the current batch (interrupt again to stop at once)")
			stop() // a second signal kills the process
		case <-finished:
		}
	}()
	res, err := evaluate.Run(ctx, opt, be, prog)
	var mismatch *evaluate.MismatchError
	if errors.As(err, &mismatch) {
		return cmdutil.UsageError{Err: err}
	}
	if err != nil && res == nil {
		return err
	}
	if com.JSON {
		b, _ := json.MarshalIndent(res.Report, "", "  ")
		fmt.Println(string(b))
	} else {
		printSummary(res)
	}
	return err
}

func printSummary(res *evaluate.Result) {
	n := 0
	for _, t := range res.Report.Tasks {
		fmt.Printf("%-14s %5s%%  (%d/%d)\n", t.Display, eval.Percent(t.Accuracy), t.Correct, t.N)
		if t.N > 0 {
			n++
		}
	}
	fmt.Printf("%-14s %5s%%  (unweighted mean over %d tasks)\n", "average", eval.Percent(res.Report.Average), n)
	fmt.Printf("examples:      %d (%d generated now, %d resumed, %d too long for the model, %d with fewer new tokens)\n",
		res.Examples, res.Generated, res.Resumed, res.Skipped, res.Capped)
	fmt.Printf("report:        %s/%s, %s/%s\n", res.Dir, eval.ReportMarkdown, res.Dir, eval.ReportJSON)
}
