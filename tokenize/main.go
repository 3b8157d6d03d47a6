// Command tokenize turns an instruction dataset (LLM-Adapters / Alpaca
// JSON or JSONL, optionally .gz or .zst) into token shards for the warmup
// and train stages: Arrow IPC files of input_ids, loss_mask and record,
// split into train and eval, with a manifest.json. See README.md for the
// output format. `tokenize ids` prints the ids of strings read on stdin.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/dataset"
	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/tokenize"
	"github.com/smt-go/smt/pkg/tokenizer"
)

func main() {
	usageErr := func(c *cli.Context, err error, _ bool) error { return cmdutil.UsageError{Err: err} }
	app := &cli.App{
		Name:  "tokenize",
		Usage: "tokenize an instruction dataset into train/eval token shards for SMT fine-tuning",
		UsageText: `tokenize (--model DIR | --tokenizer PATH) --data FILE[,FILE...] --out DIR [options]
   tokenize ids --tokenizer PATH [--bos] [--parse-special] < strings.jsonl

Examples:
   tokenize --model models/stories260K --data train.json --out shards --max-len 512
   tokenize --model Llama-2-7b-hf --data commonsense_170k.json --out shards --eval-split 0.2 --seed 42
   tokenize --tokenizer tokenizer.model --data a.json,b.jsonl.zst --out shards --template llm-adapters --max-len 256 --train-on-inputs --eval-split 120
   tokenize --model DIR --data big.jsonl.gz --out shards --skip-bad --overflow drop --json
   echo '"Hello world"' | tokenize ids --tokenizer tokenizer.model       # 15043 3186`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "model directory whose tokenizer to use (tokenizer.json, tokenizer.model or tokenizer.bin and their configs)"},
			&cli.StringFlag{Name: "tokenizer", Usage: "tokenizer file (tokenizer.model, tokenizer.json, llama2.c tokenizer.bin) or model directory"},
			&cli.StringSliceFlag{Name: "data", Usage: "dataset files, comma-separated or repeated, read in order: JSON array or JSONL, optionally .gz/.zst"},
			&cli.StringFlag{Name: "out", Usage: "shard directory to write (replaced atomically if it holds earlier shards)"},
			&cli.StringFlag{Name: "template", Value: prompt.Default, Usage: "prompt template: " + strings.Join(prompt.Names(), ", ")},
			&cli.IntFlag{Name: "max-len", Value: 2048, Usage: "longest example in tokens, EOS included (0: no limit)"},
			&cli.StringFlag{Name: "overflow", Value: "truncate", Usage: "longer examples: truncate (keep the first max-len tokens) or drop"},
			&cli.StringFlag{Name: "eval-split", Usage: "held-out eval split: a fraction (0.2), a percentage (20%) or a count (120); chosen with --seed"},
			&cli.BoolFlag{Name: "train-on-inputs", Usage: "compute the loss on the prompt tokens too (only the first token is masked)"},
			&cli.BoolFlag{Name: "skip-bad", Usage: "skip and count malformed records instead of failing"},
			&cli.StringFlag{Name: "bos", Value: "auto", Usage: "add the BOS token: auto (template and tokenizer decide), yes or no"},
			&cli.BoolFlag{Name: "parse-special", Value: true, Usage: "recognise special tokens such as <s> written in the text, as Hugging Face tokenizers do (--parse-special=false: plain text, as SentencePiece)"},
			&cli.StringFlag{Name: "format", Value: "auto", Usage: "dataset layout: auto, json (array) or jsonl"},
			&cli.IntFlag{Name: "shard-records", Value: 100000, Usage: "most examples per shard file"},
			&cli.BoolFlag{Name: "uncompressed", Usage: "write shards without zstd (readers then map them without copying)"},
		}, cmdutil.CommonFlags()...),
		Action:       run,
		OnUsageError: usageErr,
		Commands: []*cli.Command{{
			Name:  "ids",
			Usage: "print the token ids of JSON strings read from stdin, one per line",
			UsageText: `tokenize ids (--tokenizer PATH | --model DIR) [--bos] [--eos] [--parse-special] < strings.jsonl

Each input line is a JSON string; each output line holds its ids separated by spaces.
Examples:
   printf '"Once upon a time"\n"Hello world"\n' | tokenize ids --tokenizer tokenizer.model
   # 9038 2501 263 931
   # 15043 3186
   echo '"<s> Below"' | tokenize ids --tokenizer tokenizer.model --parse-special    # 1 29871 13866`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "tokenizer", Usage: "tokenizer file or model directory"},
				&cli.StringFlag{Name: "model", Usage: "model directory (same as --tokenizer DIR)"},
				&cli.BoolFlag{Name: "bos", Usage: "put the BOS id first"},
				&cli.BoolFlag{Name: "eos", Usage: "put the EOS id last"},
				&cli.BoolFlag{Name: "parse-special", Usage: "recognise special tokens such as <s> in the text"},
			},
			Action:       runIDs,
			OnUsageError: usageErr,
		}},
	}
	cmdutil.Main(app)
}

// tokenizerPath returns the one of --model and --tokenizer given.
func tokenizerPath(c *cli.Context) (string, error) {
	m, t := c.String("model"), c.String("tokenizer")
	switch {
	case m != "" && t != "":
		return "", cmdutil.Usagef("give --model or --tokenizer, not both")
	case m != "":
		return m, nil
	case t != "":
		return t, nil
	}
	return "", cmdutil.Usagef("--model DIR or --tokenizer PATH is required")
}

func run(c *cli.Context) error {
	if c.NArg() > 0 {
		return cmdutil.Usagef("unexpected argument %q (inputs go in --data)", c.Args().First())
	}
	com := cmdutil.ParseCommon(c)
	tokPath, err := tokenizerPath(c)
	if err != nil {
		return err
	}
	var inputs []string
	for _, d := range c.StringSlice("data") {
		if d = strings.TrimSpace(d); d != "" {
			inputs = append(inputs, d)
		}
	}
	if len(inputs) == 0 {
		return cmdutil.Usagef("--data FILE is required")
	}
	if c.String("out") == "" {
		return cmdutil.Usagef("--out DIR is required")
	}
	if _, err := prompt.Get(c.String("template")); err != nil {
		return cmdutil.UsageError{Err: fmt.Errorf("--template: %w", err)}
	}
	overflow, err := tokenize.ParseOverflow(c.String("overflow"))
	if err != nil {
		return cmdutil.UsageError{Err: fmt.Errorf("--overflow: %w", err)}
	}
	split, err := tokenize.ParseEvalSplit(c.String("eval-split"))
	if err != nil {
		return cmdutil.UsageError{Err: fmt.Errorf("--eval-split: %w", err)}
	}
	bos, err := tokenize.ParseBOSMode(c.String("bos"))
	if err != nil {
		return cmdutil.UsageError{Err: fmt.Errorf("--bos: %w", err)}
	}
	var format dataset.Format
	switch c.String("format") {
	case "auto":
	case "json":
		format = dataset.FormatJSON
	case "jsonl":
		format = dataset.FormatJSONL
	default:
		return cmdutil.Usagef("--format %q: want auto, json or jsonl", c.String("format"))
	}
	if c.Int("max-len") < 0 || c.Int("shard-records") <= 0 {
		return cmdutil.Usagef("--max-len must be ≥ 0 and --shard-records > 0")
	}
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := tokenize.Run(ctx, tokenize.Options{
		Tokenizer: tok, TokenizerPath: tokPath, Template: c.String("template"),
		Inputs: inputs, Format: format, Out: c.String("out"),
		MaxLen: c.Int("max-len"), Overflow: overflow, TrainOnInputs: c.Bool("train-on-inputs"),
		BOS: bos, LiteralSpecial: !c.Bool("parse-special"),
		EvalSplit: split, Seed: com.Seed, SkipBad: c.Bool("skip-bad"),
		Uncompressed: c.Bool("uncompressed"), ShardRecords: c.Int("shard-records"),
		Threads: com.Threads, Progress: cmdutil.NewProgress("tokenize", com),
	})
	if err != nil {
		return err
	}
	if com.JSON {
		b, _ := json.MarshalIndent(map[string]any{
			"out": res.Out, "manifest": res.Manifest, "kept": res.Kept(), "tokens": res.Tokens(),
			"loss_tokens": res.LossTokens(), "elapsed_s": res.Elapsed.Seconds(), "tokens_per_s": res.TokensPerSecond(),
			"bos": res.AddsBOS, "bos_reason": res.BOSReason,
		}, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	res.WriteSummary(os.Stdout)
	return nil
}

func runIDs(c *cli.Context) error {
	if c.NArg() > 0 {
		return cmdutil.Usagef("unexpected argument %q (strings are read from stdin)", c.Args().First())
	}
	path, err := tokenizerPath(c)
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := tokenizer.EncodeOptions{AddBOS: c.Bool("bos"), AddEOS: c.Bool("eos"), ParseSpecial: c.Bool("parse-special")}
	return tokenize.WriteIDs(ctx, os.Stdin, os.Stdout, tok, opts)
}
