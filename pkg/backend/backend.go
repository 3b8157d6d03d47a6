// Package backend defines the small set of operations the LLaMA model is
// written against. One model implementation (package llama) runs on every
// backend: the CPU backend (float32, or float64 for gradient checks) and
// the CUDA backend (bf16 weights and activations, fp32 accumulation).
//
// Conventions, used by every operation:
//   - Buffers are row-major. Shapes are given in the comments as [rows, cols].
//   - N is the number of token rows in a batch (B sequences × T positions),
//     D the model width, H the query heads, KV the key/value heads, HD the
//     head size, F the MLP width, V the vocabulary.
//   - Linear layers follow PyTorch: y = x·Wᵀ with W stored [out, in].
//   - Integer inputs (token ids, targets, positions, block tables) are host
//     slices; a device backend copies them over itself.
//   - A gradient argument documented as "accumulated" is added to (+=);
//     every other output is overwritten.
package backend

import "fmt"

// DType is the element type of a buffer.
type DType uint8

// Element types.
const (
	F32 DType = iota
	F64
	BF16
	F16
)

// Size returns the size in bytes of one element.
func (d DType) Size() int {
	switch d {
	case F32:
		return 4
	case F64:
		return 8
	case BF16, F16:
		return 2
	}
	panic(fmt.Sprintf("backend: unknown dtype %d", d))
}

func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case F64:
		return "f64"
	case BF16:
		return "bf16"
	case F16:
		return "f16"
	}
	return fmt.Sprintf("dtype(%d)", d)
}

// Buf is a range of elements in a backend's memory. Buffers are created by
// Alloc and narrowed with Slice; they are only meaningful to the backend
// that made them.
type Buf interface {
	// Len is the number of elements.
	Len() int
	// DType is the element type.
	DType() DType
}

// AttnShape describes one causal grouped-query attention call.
//
// Layouts: q and out are [B, Tq, H, HD] (contiguous); k and v are
// [B, ·, KV, HD] whose sequence b starts at element b·KVBatchStride, so a
// KV cache of capacity Tmax can be read in place (KVBatchStride =
// Tmax·KV·HD). Query i of sequence b sits at position Tk−Tq+i and attends
// to keys j with Start[b] ≤ j ≤ Tk−Tq+i. Start (left padding of batched
// generation) may be nil, meaning 0 for every sequence. Query head h reads
// key/value head h / (H/KV).
type AttnShape struct {
	B, Tq, Tk     int
	H, KV, HD     int
	KVBatchStride int
	Start         []int32
	Scale         float32 // usually 1/sqrt(HD)
}

// KVStride returns KVBatchStride, or Tk·KV·HD when it is zero.
func (s AttnShape) KVStride() int {
	if s.KVBatchStride != 0 {
		return s.KVBatchStride
	}
	return s.Tk * s.KV * s.HD
}

// AdamW holds the hyper-parameters of one AdamW update. Step counts from 1
// and drives the bias correction.
type AdamW struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int
}

// BlockTable lists square blocks of a weight matrix W [Out, In]: block i is
// W[Rows[i]·Size : +Size, Cols[i]·Size : +Size].
type BlockTable struct {
	Size    int
	Out, In int
	Rows    []int32
	Cols    []int32
}

// Len is the number of blocks.
func (t BlockTable) Len() int { return len(t.Rows) }

// Backend is the set of operations the model uses.
type Backend interface {
	// Name describes the backend and its device for logs.
	Name() string
	// DType is the element type of weights and activations on this backend.
	DType() DType

	// Alloc returns a zeroed buffer of n elements.
	Alloc(dt DType, n int) Buf
	// Slice returns elements [off, off+n) of b.
	Slice(b Buf, off, n int) Buf
	// Free releases a buffer made by Alloc (a no-op on the CPU).
	Free(b Buf)
	// Upload copies host values into dst, converting to dst's type.
	Upload(dst Buf, src []float32)
	// Download copies src into host memory as float32.
	Download(dst []float32, src Buf)
	// Zero sets every element of b to 0.
	Zero(b Buf)
	// Copy2D copies rows×cols elements: dst[r·dstStride+c] = src[r·srcStride+c].
	Copy2D(dst Buf, dstStride int, src Buf, srcStride int, rows, cols int)
	// Sync waits for queued work to finish (a no-op on the CPU).
	Sync()

	// MatMul computes C = alpha·op(A)·op(B) + beta·C with op(A) m×k,
	// op(B) k×n, C m×n; transA means A is stored k×m. With beta = 0, C is
	// not read.
	MatMul(transA, transB bool, m, n, k int, alpha float32, a Buf, lda int, b Buf, ldb int, beta float32, c Buf, ldc int)

	// Embedding gathers rows: out[i] = table[ids[i]]. out [N, D], table [V, D].
	Embedding(out, table Buf, ids []int32, D int)
	// EmbeddingBackward scatters: dtable[ids[i]] += dout[i] (accumulated).
	EmbeddingBackward(dtable, dout Buf, ids []int32, D int)

	// RMSNorm: out = x / sqrt(mean(x²) + eps) · w, row by row. x, out [N, D],
	// w [D]; rstd [N] receives 1/sqrt(mean(x²)+eps) when not nil.
	RMSNorm(out, rstd, x, w Buf, N, D int, eps float32)
	// RMSNormBackward: dx += ∂L/∂x (accumulated), dw += ∂L/∂w (accumulated,
	// skipped when dw is nil), given dout [N, D], the forward input x, w and
	// rstd.
	RMSNormBackward(dx, dw, dout, x, w, rstd Buf, N, D int)

	// RoPE rotates x [N, nh, HD] in place, the Hugging Face way (halves):
	// for i < HD/2, (x[i], x[i+HD/2]) is rotated by angle pos·θ_i, with
	// cos, sin tables [maxPos, HD/2] and pos [N]. inverse rotates by −angle
	// (the backward of the forward rotation).
	RoPE(x Buf, pos []int32, cos, sin Buf, N, nh, HD int, inverse bool)

	// Attention computes causal grouped-query attention (see AttnShape).
	// lse [B, H, Tq] receives the log-sum-exp of each query's scaled scores
	// (for the backward) when not nil.
	Attention(out, lse, q, k, v Buf, s AttnShape)
	// AttentionBackward computes dq [B, Tq, H, HD], dk and dv (laid out like
	// k and v, overwritten), from dout and the forward's q, k, v, out and lse.
	AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse Buf, s AttnShape)

	// SwiGLU: out = silu(gate)·up, elementwise over n values.
	SwiGLU(out, gate, up Buf, n int)
	// SwiGLUBackward: dgate, dup (overwritten) from dout, gate, up.
	SwiGLUBackward(dgate, dup, dout, gate, up Buf, n int)

	// Add: out = a + b over n values (out may alias a or b).
	Add(out, a, b Buf, n int)
	// AddAbs: out = a + |b| over n values (out may alias a), for
	// accumulating absolute gradients.
	AddAbs(out, a, b Buf, n int)
	// Cast copies n values from src to dst, converting between the buffers'
	// element types (rounding to nearest even when narrowing).
	Cast(dst, src Buf, n int)
	// Scale multiplies n values of x by s in place.
	Scale(x Buf, s float32, n int)
	// SumSquares returns Σ x² over n values, accumulated in float64.
	SumSquares(x Buf, n int) float64

	// CrossEntropy reads logits [N, V] and targets [N] (target < 0: the row
	// is ignored), writes each row's loss −log softmax(logits)[target] to
	// losses [N] (host; 0 for ignored rows) and, when gradScale ≠ 0,
	// overwrites logits with gradScale·∂loss/∂logits (0 for ignored rows).
	CrossEntropy(logits Buf, targets []int32, N, V int, gradScale float32, losses []float32)
	// Argmax returns the index of the largest value of each row of x [N, V]
	// (the first one on ties).
	Argmax(x Buf, N, V int) []int32

	// AdamWStep updates n float32 parameters p in place from gradients g
	// and moments m, v (all F32).
	AdamWStep(p, g, m, v Buf, n int, h AdamW)

	// GatherBlocks copies blocks of w [Out, In] into dst [k, Size, Size].
	GatherBlocks(dst, w Buf, t BlockTable)
	// ScatterBlocks writes src [k, Size, Size] into the blocks of w.
	ScatterBlocks(w, src Buf, t BlockTable)
	// BlockGrad computes for each block i of t the weight gradient
	// dst[i] = beta·dst[i] + dY[:, Rows[i]·S : +S]ᵀ · X[:, xcol[i] : +S],
	// with dY [N, ldy] and X [N, ldx] read in place; xcol[i] is the column
	// offset of block i's input slice in X (Cols[i]·S for a full input, or
	// the position of its slice in a compacted buffer). dst [k, S, S].
	BlockGrad(dst Buf, beta float32, dy Buf, ldy int, x Buf, ldx int, N int, t BlockTable, xcol []int32)
}
