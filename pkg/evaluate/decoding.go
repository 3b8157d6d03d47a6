package evaluate

import (
	"errors"
	"fmt"

	"github.com/smt-go/smt/pkg/llama"
)

// Decoding selects how continuations are generated.
type Decoding struct {
	// MaxNewTokens caps each continuation (the reference: 256; LLM-Adapters'
	// commonsense evaluation: 32).
	MaxNewTokens int `json:"max_new_tokens"`
	// Beams is the beam width; 1 means no beam search (the reference: 4).
	Beams int `json:"num_beams"`
	// RepetitionPenalty is Hugging Face's repetition_penalty; 1 means none
	// (the reference: 1.1).
	RepetitionPenalty float64 `json:"repetition_penalty"`
	// Temperature 0 means greedy decoding (or beam search); above 0, tokens
	// are sampled (llama2.c's sampler).
	Temperature float64 `json:"temperature,omitempty"`
	// TopP is the nucleus of top-p sampling (0 or 1: the whole distribution).
	TopP float64 `json:"top_p,omitempty"`
	// Seed seeds the sampler: prompt i of a batch draws from a generator
	// seeded with Seed+i (one prompt alone: Seed, as llama2.c's -s).
	Seed uint64 `json:"seed,omitempty"`
}

// Strategy returns "greedy", "beam" or "sample".
func (d Decoding) Strategy() string {
	switch {
	case d.Beams > 1:
		return "beam"
	case d.Temperature > 0:
		return "sample"
	}
	return "greedy"
}

// Validate checks the settings.
func (d Decoding) Validate() error {
	var errs []error
	if d.MaxNewTokens < 1 {
		errs = append(errs, fmt.Errorf("max new tokens must be at least 1, got %d", d.MaxNewTokens))
	}
	if d.Beams < 1 {
		errs = append(errs, fmt.Errorf("beams must be at least 1, got %d", d.Beams))
	}
	if d.RepetitionPenalty <= 0 {
		errs = append(errs, fmt.Errorf("repetition penalty must be positive, got %g", d.RepetitionPenalty))
	}
	if d.Temperature < 0 {
		errs = append(errs, fmt.Errorf("temperature must not be negative, got %g", d.Temperature))
	}
	if d.TopP < 0 || d.TopP > 1 {
		errs = append(errs, fmt.Errorf("top-p must be in [0, 1], got %g", d.TopP))
	}
	if d.Beams > 1 && d.Temperature > 0 {
		errs = append(errs, errors.New("beam search and sampling do not mix: use beams 1 with a temperature"))
	}
	return errors.Join(errs...)
}

// Rows returns the generator sequences one prompt needs.
func (d Decoding) Rows() int { return max(1, d.Beams) }

// generate runs one batch on g with d.
func (d Decoding) generate(g *llama.Generator, prompts [][]int32, maxNew int) ([][]int32, error) {
	pen := float32(d.RepetitionPenalty)
	switch d.Strategy() {
	case "beam":
		res, err := g.BeamSearch(prompts, maxNew, llama.BeamOptions{NumBeams: d.Beams, RepetitionPenalty: pen})
		if err != nil {
			return nil, err
		}
		out := make([][]int32, len(res))
		for i, r := range res {
			out[i] = r.Tokens
		}
		return out, nil
	case "sample":
		return g.Sample(prompts, maxNew, llama.SampleOptions{RepetitionPenalty: pen, Temperature: float32(d.Temperature), TopP: float32(d.TopP), Seed: d.Seed})
	}
	if pen != 1 {
		return g.Sample(prompts, maxNew, llama.SampleOptions{RepetitionPenalty: pen})
	}
	return g.Generate(prompts, maxNew, nil)
}
