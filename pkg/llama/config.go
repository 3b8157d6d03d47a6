// Package llama is the LLaMA model: its Hugging Face configuration, the
// layout of its parameters in one flat buffer, and the forward (and, for
// training, backward) pass written layer by layer against the operations of
// package backend.
package llama

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// RopeScaling is the rope_scaling entry of config.json. Only the "llama3"
// type (LLaMA-3.1 and later) changes the frequencies; absent or "default"
// means plain RoPE.
type RopeScaling struct {
	Type                          string  `json:"rope_type"`
	LegacyType                    string  `json:"type"`
	Factor                        float64 `json:"factor"`
	LowFreqFactor                 float64 `json:"low_freq_factor"`
	HighFreqFactor                float64 `json:"high_freq_factor"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings"`
}

// Kind returns the scaling type ("rope_type", or the legacy "type").
func (r *RopeScaling) Kind() string {
	if r == nil {
		return "default"
	}
	if r.Type != "" {
		return r.Type
	}
	if r.LegacyType != "" {
		return r.LegacyType
	}
	return "default"
}

// Config is the part of a Hugging Face LlamaForCausalLM config.json the
// model needs. Field names follow config.json.
type Config struct {
	Architectures         []string     `json:"architectures,omitempty"`
	ModelType             string       `json:"model_type,omitempty"`
	HiddenSize            int          `json:"hidden_size"`
	IntermediateSize      int          `json:"intermediate_size"`
	NumHiddenLayers       int          `json:"num_hidden_layers"`
	NumAttentionHeads     int          `json:"num_attention_heads"`
	NumKeyValueHeads      int          `json:"num_key_value_heads"`
	HeadDim               int          `json:"head_dim,omitempty"`
	RMSNormEps            float64      `json:"rms_norm_eps"`
	RopeTheta             float64      `json:"rope_theta"`
	RopeScaling           *RopeScaling `json:"rope_scaling"`
	TieWordEmbeddings     bool         `json:"tie_word_embeddings"`
	VocabSize             int          `json:"vocab_size"`
	MaxPositionEmbeddings int          `json:"max_position_embeddings"`
	BOSTokenID            int          `json:"bos_token_id"`
	// EOSTokenIDs holds eos_token_id, which config.json writes as one id
	// or a list (LLaMA-3 instruct models stop on several).
	EOSTokenIDs    []int   `json:"-"`
	PadTokenID     *int    `json:"pad_token_id,omitempty"`
	TorchDType     string  `json:"torch_dtype,omitempty"`
	HiddenAct      string  `json:"hidden_act,omitempty"`
	AttentionBias  bool    `json:"attention_bias,omitempty"`
	MLPBias        bool    `json:"mlp_bias,omitempty"`
	PretrainingTP  int     `json:"pretraining_tp,omitempty"`
	InitializerRng float64 `json:"initializer_range,omitempty"`
}

type configJSON Config

// UnmarshalJSON reads config.json, accepting eos_token_id as a number or a
// list of numbers, and filling the defaults Hugging Face applies.
func (c *Config) UnmarshalJSON(b []byte) error {
	aux := struct {
		*configJSON
		EOS json.RawMessage `json:"eos_token_id"`
	}{configJSON: (*configJSON)(c)}
	c.RopeTheta = 10000
	c.RMSNormEps = 1e-6
	c.BOSTokenID = 1
	c.HiddenAct = "silu"
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	c.EOSTokenIDs = nil
	if len(aux.EOS) > 0 && string(aux.EOS) != "null" {
		var one int
		if err := json.Unmarshal(aux.EOS, &one); err == nil {
			c.EOSTokenIDs = []int{one}
		} else if err := json.Unmarshal(aux.EOS, &c.EOSTokenIDs); err != nil {
			return fmt.Errorf("eos_token_id: want a number or a list of numbers: %w", err)
		}
	} else {
		c.EOSTokenIDs = []int{2}
	}
	return nil
}

// MarshalJSON writes config.json with eos_token_id as a number when there
// is one, as a list otherwise.
func (c Config) MarshalJSON() ([]byte, error) {
	var eos any = c.EOSTokenIDs
	if len(c.EOSTokenIDs) == 1 {
		eos = c.EOSTokenIDs[0]
	}
	return json.Marshal(struct {
		configJSON
		EOS any `json:"eos_token_id"`
	}{configJSON(c), eos})
}

// Derived sizes.

// HeadSize returns head_dim, or hidden_size / num_attention_heads when the
// config does not set it.
func (c *Config) HeadSize() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// KVHeads returns num_key_value_heads (num_attention_heads when unset).
func (c *Config) KVHeads() int {
	if c.NumKeyValueHeads > 0 {
		return c.NumKeyValueHeads
	}
	return c.NumAttentionHeads
}

// QDim is the output width of q_proj: heads × head size.
func (c *Config) QDim() int { return c.NumAttentionHeads * c.HeadSize() }

// KVDim is the output width of k_proj and v_proj.
func (c *Config) KVDim() int { return c.KVHeads() * c.HeadSize() }

// EOS returns the first end-of-sequence id.
func (c *Config) EOS() int {
	if len(c.EOSTokenIDs) == 0 {
		return 2
	}
	return c.EOSTokenIDs[0]
}

// IsEOS reports whether id is one of the end-of-sequence ids.
func (c *Config) IsEOS(id int) bool {
	for _, e := range c.EOSTokenIDs {
		if e == id {
			return true
		}
	}
	return false
}

// Validate checks that the configuration describes a model this package
// can run.
func (c *Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", name, v))
		}
	}
	pos("hidden_size", c.HiddenSize)
	pos("intermediate_size", c.IntermediateSize)
	pos("num_hidden_layers", c.NumHiddenLayers)
	pos("num_attention_heads", c.NumAttentionHeads)
	pos("vocab_size", c.VocabSize)
	if c.NumAttentionHeads > 0 {
		if c.HeadDim == 0 && c.HiddenSize%c.NumAttentionHeads != 0 {
			errs = append(errs, fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads))
		}
		if c.KVHeads() <= 0 || c.NumAttentionHeads%c.KVHeads() != 0 {
			errs = append(errs, fmt.Errorf("num_attention_heads %d is not a multiple of num_key_value_heads %d", c.NumAttentionHeads, c.KVHeads()))
		}
		if c.HeadSize()%2 != 0 {
			errs = append(errs, fmt.Errorf("head size %d must be even for RoPE", c.HeadSize()))
		}
	}
	if c.RMSNormEps <= 0 {
		errs = append(errs, fmt.Errorf("rms_norm_eps must be positive, got %g", c.RMSNormEps))
	}
	if c.RopeTheta <= 0 {
		errs = append(errs, fmt.Errorf("rope_theta must be positive, got %g", c.RopeTheta))
	}
	switch k := c.RopeScaling.Kind(); k {
	case "default":
	case "llama3":
		r := c.RopeScaling
		if r.Factor <= 0 || r.LowFreqFactor <= 0 || r.HighFreqFactor <= r.LowFreqFactor || r.OriginalMaxPositionEmbeddings <= 0 {
			errs = append(errs, fmt.Errorf("rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0, got %+v", *r))
		}
	default:
		errs = append(errs, fmt.Errorf("rope_scaling type %q is not supported (default and llama3 are)", k))
	}
	if c.HiddenAct != "" && c.HiddenAct != "silu" {
		errs = append(errs, fmt.Errorf("hidden_act %q is not supported (silu is)", c.HiddenAct))
	}
	if c.AttentionBias || c.MLPBias {
		errs = append(errs, errors.New("attention_bias and mlp_bias are not supported"))
	}
	if c.PretrainingTP > 1 {
		errs = append(errs, fmt.Errorf("pretraining_tp %d is not supported", c.PretrainingTP))
	}
	if len(c.Architectures) > 0 && c.Architectures[0] != "LlamaForCausalLM" && c.Architectures[0] != "MistralForCausalLM" {
		errs = append(errs, fmt.Errorf("architecture %q is not LlamaForCausalLM", c.Architectures[0]))
	}
	return errors.Join(errs...)
}

// ReadConfig reads and validates dir/config.json.
func ReadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model config: %w", err)
	}
	return ParseConfig(b, path)
}

// ParseConfig parses and validates config.json bytes; name is used in
// errors.
func ParseConfig(b []byte, name string) (*Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}
