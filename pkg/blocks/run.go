package blocks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/scores"
)

// RunOptions configures Run, the select stage.
type RunOptions struct {
	Scores  string // scores.arrow to read
	Out     string // blocks.arrow to write
	Model   string // optional model directory to check the scores against
	Heatmap string // optional picture to write with Plot
	Select  Options
	// Plot draws the heat map (package blocks/heatmap provides one); it is
	// called when Heatmap is set.
	Plot func(path string, s *Summary, entries []Entry) error
}

// Run selects blocks from o.Scores and writes o.Out (and the heat map),
// returning the summary. Mistakes in the options are cmdutil.UsageErrors.
func Run(o RunOptions, prog *cmdutil.Progress) (*Summary, error) {
	if err := o.Select.Check(); err != nil {
		return nil, cmdutil.UsageError{Err: err}
	}
	if o.Scores == "" || o.Out == "" {
		return nil, cmdutil.Usagef("both the scores file and the output file are needed")
	}
	if samePath(o.Scores, o.Out) || samePath(o.Out, o.Heatmap) || samePath(o.Scores, o.Heatmap) {
		return nil, cmdutil.Usagef("the scores, blocks and heat-map paths must differ")
	}
	sm, sb, err := scores.Read(o.Scores)
	if err != nil {
		return nil, err
	}
	sum, err := fileSHA256(o.Scores)
	if err != nil {
		return nil, err
	}
	prog.Event("scores", fmt.Sprintf("read %d blocks of %d×%d from %s", len(sb), sm.BlockSize, sm.BlockSize, o.Scores),
		map[string]any{"blocks": len(sb), "block_size": sm.BlockSize, "path": o.Scores})
	if o.Model != "" {
		cfg, err := llama.ReadConfig(o.Model)
		if err != nil {
			return nil, err
		}
		if err := CheckModel(sm, cfg); err != nil {
			return nil, fmt.Errorf("%s does not match model %s: %w", o.Scores, o.Model, err)
		}
	}
	res, err := Select(sm, sb, o.Select)
	if err != nil {
		return nil, fmt.Errorf("select from %s: %w", o.Scores, err)
	}
	res.Meta.ScoresSHA256 = sum
	if err := Write(o.Out, res.Meta, res.Entries); err != nil {
		return nil, err
	}
	s := Summarize(res)
	s.Scores, s.Out, s.Model = o.Scores, o.Out, o.Model
	prog.Event("blocks", fmt.Sprintf("wrote %d blocks to %s", len(res.Entries), o.Out), map[string]any{"blocks": len(res.Entries), "path": o.Out})
	if o.Heatmap != "" && o.Plot != nil {
		if err := o.Plot(o.Heatmap, s, res.Entries); err != nil {
			return nil, fmt.Errorf("heat map %s: %w", o.Heatmap, err)
		}
		s.Heatmap = o.Heatmap
	}
	return s, nil
}

// fileSHA256 returns the hex SHA-256 of a file.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func samePath(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}
