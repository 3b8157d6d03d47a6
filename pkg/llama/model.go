package llama

import (
	"fmt"
	"math"

	"github.com/smt-go/smt/pkg/backend"
)

// Model is a LLaMA model on a backend: the configuration, the layout, and
// the flat parameter buffer.
type Model struct {
	Cfg    *Config
	Layout *Layout
	BE     backend.Backend
	// Params holds every parameter, placed by Layout. [Layout.Total]
	Params backend.Buf

	ropeLen          int
	ropeCos, ropeSin backend.Buf // [ropeLen, HD/2]
}

// New returns a model with zeroed parameters on be.
func New(c *Config, be backend.Backend) *Model {
	lay := NewLayout(c)
	return &Model{Cfg: c, Layout: lay, BE: be, Params: be.Alloc(be.DType(), lay.Total)}
}

// W returns the parameter tensor of a kind in a layer as a backend buffer.
func (m *Model) W(k Kind, layer int) backend.Buf {
	t := m.Layout.Get(k, layer)
	return m.BE.Slice(m.Params, t.Offset, t.Size)
}

// EnsureRoPE makes the RoPE tables cover positions [0, n).
func (m *Model) EnsureRoPE(n int) {
	if n <= m.ropeLen {
		return
	}
	n = max(n, 2*m.ropeLen)
	cos, sin := RoPETables(m.Cfg, n)
	be := m.BE
	if m.ropeCos != nil {
		be.Free(m.ropeCos)
		be.Free(m.ropeSin)
	}
	m.ropeCos = be.Alloc(be.DType(), len(cos))
	m.ropeSin = be.Alloc(be.DType(), len(sin))
	be.Upload(m.ropeCos, cos)
	be.Upload(m.ropeSin, sin)
	m.ropeLen = n
}

// Scale is the attention score scale 1/sqrt(head_dim).
func (m *Model) Scale() float32 { return float32(1 / math.Sqrt(float64(m.Cfg.HeadSize()))) }

// InitRandom fills the parameters like Hugging Face's initialiser: linear
// and embedding weights normal with standard deviation std, norm weights 1.
// It is deterministic in seed.
func (m *Model) InitRandom(seed uint64, std float64) {
	r := newSplitMix(seed)
	host := make([]float32, m.Layout.Total)
	for _, t := range m.Layout.Tensors {
		dst := host[t.Offset : t.Offset+t.Size]
		switch t.Kind {
		case AttnNorm, MLPNorm, FinalNorm:
			for i := range dst {
				dst[i] = 1
			}
		default:
			for i := range dst {
				dst[i] = float32(r.norm() * std)
			}
		}
	}
	m.BE.Upload(m.Params, host)
}

// LinearShape returns [out, in] of a linear kind.
func (m *Model) LinearShape(k Kind) (out, in int) {
	t := m.Layout.Get(k, 0)
	return t.Rows(), t.Cols()
}

func (m *Model) String() string {
	c := m.Cfg
	return fmt.Sprintf("llama d=%d layers=%d heads=%d/%d head_dim=%d ffn=%d vocab=%d params=%d", c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.KVHeads(), c.HeadSize(), c.IntermediateSize, c.VocabSize, m.Layout.Total)
}

// splitMix is a small deterministic generator (SplitMix64) for parameter
// initialisation, so that a seed gives the same model on every machine.
type splitMix struct {
	s     uint64
	spare float64
	has   bool
}

func newSplitMix(seed uint64) *splitMix { return &splitMix{s: seed} }

func (r *splitMix) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *splitMix) uniform() float64 { return float64(r.next()>>11) / (1 << 53) }

// norm draws a standard normal value (Box–Muller).
func (r *splitMix) norm() float64 {
	if r.has {
		r.has = false
		return r.spare
	}
	u1 := r.uniform()
	for u1 == 0 {
		u1 = r.uniform()
	}
	u2 := r.uniform()
	rad := math.Sqrt(-2 * math.Log(u1))
	r.spare, r.has = rad*math.Sin(2*math.Pi*u2), true
	return rad * math.Cos(2*math.Pi*u2)
}
