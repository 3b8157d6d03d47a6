package cmdutil

import (
	"errors"
	"fmt"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestExitCode(t *testing.T) {
	app := &cli.App{Name: "x", Flags: []cli.Flag{&cli.StringFlag{Name: "model", Required: true}}, Action: func(*cli.Context) error { return nil }}
	missing := app.Run([]string{"x"})
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailure},
		{Usagef("bad flag"), ExitUsage},
		{fmt.Errorf("wrapped: %w", Usagef("bad")), ExitUsage},
		{missing, ExitUsage},
		{cli.Exit("custom", 3), 3},
	} {
		if got := ExitCode("test", c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
