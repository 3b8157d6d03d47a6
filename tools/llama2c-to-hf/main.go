// Command llama2c-to-hf converts a llama2.c checkpoint (legacy version-0
// format) and its tokenizer.bin into a Hugging Face model directory.
//
//	llama2c-to-hf --checkpoint stories260K.bin --tokenizer tok512.bin --out models/stories260K
package main

import (
	"os"

	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/llama2c"
	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Name:      "llama2c-to-hf",
		Usage:     "convert a llama2.c checkpoint to a Hugging Face model directory",
		UsageText: "llama2c-to-hf --checkpoint stories260K.bin --tokenizer tok512.bin --out models/stories260K [--notes ORIGIN.md]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "checkpoint", Required: true, Usage: "llama2.c model file (version 0)"},
			&cli.StringFlag{Name: "tokenizer", Required: true, Usage: "llama2.c tokenizer.bin"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "model directory to write (replaced atomically)"},
			&cli.StringFlag{Name: "notes", Usage: "a file copied into the directory as README.md (origin, license)"},
		},
		Action: func(c *cli.Context) error {
			var notes string
			if p := c.String("notes"); p != "" {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				notes = string(b)
			}
			return llama2c.Convert(c.String("checkpoint"), c.String("tokenizer"), c.String("out"), notes)
		},
	}
	cmdutil.Main(app)
}
