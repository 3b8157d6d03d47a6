package blocks

import (
	"fmt"
	"slices"

	"github.com/smt-go/smt/pkg/scores"
)

// ScoreReference names the released SMT code's choice of score: abs_mean
// (|mean G|) for the attention matrices and mean_abs (mean |G|) for the MLP.
const ScoreReference = "reference"

// DefaultScore is the score ranked by unless told otherwise: mean_abs,
// the mean over the block of |G| (G the gradient summed over the
// warm-up). It is what the paper describes ("average absolute gradient"),
// it is the same statistic for every kind (so attention and MLP blocks are
// comparable in one pool), and unlike abs_mean = |mean G| it does not
// cancel a block's positive and negative entries, so a block with large
// gradients of both signs is not ranked as unimportant. The released
// code's abs_mean for Q/K/V is listed among its quirks (SMT-REFERENCE
// §1.11); ScoreReference reproduces it.
const DefaultScore = "mean_abs"

// Scores lists the accepted score names: the columns of scores.arrow and
// ScoreReference.
func Scores() []string { return append(slices.Clone(scores.ScoreColumns), ScoreReference) }

// CheckScore returns an error unless name is one of Scores().
func CheckScore(name string) error {
	if !slices.Contains(Scores(), name) {
		return fmt.Errorf("unknown score %q (want one of %v)", name, Scores())
	}
	return nil
}

// scoreIndex returns the index in scores.Block.Scores of the column a
// score name ranks a block of a kind by.
func scoreIndex(name, kind string) int {
	if name == ScoreReference {
		name = "abs_mean"
		if IsMLP(kind) {
			name = "mean_abs"
		}
	}
	return slices.Index(scores.ScoreColumns, name)
}
