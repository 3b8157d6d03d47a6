package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/evaluate"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/tokenizer"
)

func generateCommand() *cli.Command {
	return &cli.Command{
		Name:  "generate",
		Usage: "continue a prompt with a model (greedy by default) and print the new text",
		UsageText: `evaluate generate --model DIR --prompt TEXT [options]

Examples:
   evaluate generate --model models/stories260K --prompt "" --max-new-tokens 256
   evaluate generate --model models/stories260K --prompt "Once upon a time" --temperature 1 --top-p 0.9 --seed 133742
   evaluate generate --model merged --template smt --prompt "Please answer the following question with true or false, question: is the sky blue?" --beams 4 --repetition-penalty 1.1

The prompt's special tokens ("<s>") are read as their ids. An empty prompt is
the BOS token alone, as llama2.c's run.c starts.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "Hugging Face model directory"},
			&cli.StringFlag{Name: "prompt", Usage: "text to continue"},
			&cli.IntFlag{Name: "max-new-tokens", Value: 256, Usage: "new tokens at most"},
			&cli.Float64Flag{Name: "temperature", Usage: "sampling temperature (0: greedy)"},
			&cli.Float64Flag{Name: "top-p", Value: 0.9, Usage: "nucleus size when sampling (0 or 1: the whole distribution)"},
			&cli.IntFlag{Name: "beams", Value: 1, Usage: "beam width (with temperature 0)"},
			&cli.Float64Flag{Name: "repetition-penalty", Value: 1, Usage: "Hugging Face repetition_penalty"},
			&cli.BoolFlag{Name: "bos", Usage: "put the BOS token in front (default: as the tokenizer's configuration says; always for an empty prompt)"},
			&cli.StringFlag{Name: "template", Usage: "wrap the prompt as the instruction of this template's evaluation prompt (smt, llm-adapters, alpaca, raw)"},
			&cli.BoolFlag{Name: "echo", Usage: "print the prompt text before the completion"},
		}, cmdutil.CommonFlags()...),
		Action: generate,
	}
}

func generate(c *cli.Context) error {
	if c.NArg() > 0 {
		return cmdutil.Usagef("unexpected argument %q", c.Args().First())
	}
	com := cmdutil.ParseCommon(c)
	prog := cmdutil.NewProgress("generate", com)
	dir := c.String("model")
	if dir == "" {
		return cmdutil.Usagef("--model is required")
	}
	dec := evaluate.Decoding{MaxNewTokens: c.Int("max-new-tokens"), Beams: c.Int("beams"), RepetitionPenalty: c.Float64("repetition-penalty"),
		Temperature: c.Float64("temperature"), TopP: c.Float64("top-p"), Seed: uint64(com.Seed)}
	if dec.Temperature == 0 {
		dec.TopP = 0
	}
	if err := dec.Validate(); err != nil {
		return cmdutil.Usagef("%v", err)
	}
	text := c.String("prompt")
	var tmpl prompt.Template
	if name := c.String("template"); name != "" {
		t, err := prompt.Get(name)
		if err != nil {
			return cmdutil.Usagef("--template: %v", err)
		}
		tmpl, text = t, t.Eval(prompt.Record{Instruction: text})
	}
	be, err := cmdutil.OpenBackend(com, prog)
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return err
	}
	m, err := llama.Load(dir, be)
	if err != nil {
		return err
	}
	eng, err := evaluate.NewEngine(m, tok, dec)
	if err != nil {
		return err
	}
	var addBOS bool
	switch {
	case c.IsSet("bos"):
		addBOS = c.Bool("bos")
	case tmpl != nil:
		addBOS, _ = evaluate.ResolveBOS(tok, tmpl)
	default:
		addBOS = tok.AddsBOS()
	}
	ids := eng.Encode(text, addBOS || text == "")
	if len(ids) == 0 {
		return fmt.Errorf("the prompt has no tokens and the tokenizer no BOS token")
	}
	if eng.Budget(len(ids)) < 1 {
		return fmt.Errorf("the prompt's %d tokens fill the model's %d positions", len(ids), m.Cfg.MaxPositionEmbeddings)
	}
	out, err := eng.Complete([][]int32{ids}, 1, nil)
	if err != nil {
		return err
	}
	if com.JSON {
		b, _ := json.MarshalIndent(map[string]any{"prompt": text, "prompt_ids": ids, "ids": out[0].Tokens, "completion": out[0].Text,
			"strategy": dec.Strategy()}, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	if c.Bool("echo") {
		fmt.Print(text)
	}
	fmt.Println(out[0].Text)
	return nil
}
