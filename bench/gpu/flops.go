package main

// The FLOP rule (issue 8). MFU counts the floating-point operations a
// training step must do, not what a particular kernel happens to do:
//
//   - Forward: 2 per weight per token for every matrix multiplied (the
//     seven linear weights of every layer and lm_head; the embedding is a
//     lookup and counts nothing).
//   - Attention forward: Q·Kᵀ and P·V, causal: query t of a sequence sees
//     t+1 keys, so 2·B·(H·HD)·T·(T+1) per layer (≈ 2·T·d per token per
//     layer, half of the non-causal 4·T·d).
//   - Attention backward: twice the forward (dV = Pᵀ·dO, dP = dO·Vᵀ,
//     dQ = dS·K, dK = dSᵀ·Q). Recomputing the scores from the saved
//     log-sum-exp, which flash-style kernels do, is not counted.
//   - Input gradients: 2 per weight per token for every dX = dY·W the step
//     needs: lm_head's, then every layer down to the lowest one that holds
//     a trained parameter; in that lowest layer the Q/K/V input gradient is
//     not needed (nothing below it trains) unless the embedding trains
//     (full fine-tuning: all of them). This is what pkg/llama's Backward
//     computes, and what PyTorch's autograd computes for a frozen base.
//   - Weight gradients: SMT, 2·S²·tokens per selected S×S block; full
//     fine-tuning, 2 per weight per token (every matrix, lm_head
//     included); LoRA, the adapters' own work, 2·r·(in+out) per token per
//     adapted matrix forward and twice that backward.
//   - Not counted: norms, RoPE, SwiGLU, softmax, cross-entropy, the
//     optimizer (all linear in the parameter or activation count).
//
// bench/peers/common_gpu.py implements the same rule for the PyTorch peers
// (a test checks that both give the same numbers).

// Flops is one training step's floating-point operations by part.
type Flops struct {
	Forward      float64 `json:"forward"`
	AttnForward  float64 `json:"attn_forward"`
	InputGrad    float64 `json:"input_grad"`
	AttnBackward float64 `json:"attn_backward"`
	WeightGrad   float64 `json:"weight_grad"`
	Adapter      float64 `json:"adapter"`
	Total        float64 `json:"total"`
}

// FlopParams are what a mode's count depends on beyond the shape.
type FlopParams struct {
	Blocks, BlockSize int // SMT: selected blocks and their size
	// Lowest is the lowest layer holding a trained parameter; -1 means the
	// embedding trains (full fine-tuning).
	Lowest int
	// LoRA: rank and the adapted kinds among q, k, v, o, gate, up, down.
	Rank    int
	Targets []string
}

// linearShapes returns [out, in] of each linear kind of a layer.
func linearShapes(s Shape) map[string][2]int {
	D, F, QD, KD := s.Dim, s.FFN, s.Dim, s.KV*s.HeadDim()
	return map[string][2]int{"q": {QD, D}, "k": {KD, D}, "v": {KD, D}, "o": {D, QD}, "gate": {F, D}, "up": {F, D}, "down": {D, F}}
}

// MatmulParams is N of the rule: the parameters of every multiplied matrix
// (per-layer linear weights and lm_head).
func MatmulParams(s Shape) float64 {
	var layer float64
	for _, sh := range linearShapes(s) {
		layer += float64(sh[0]) * float64(sh[1])
	}
	return float64(s.Layers)*layer + float64(s.Vocab)*float64(s.Dim)
}

// StepFlops counts one training step of mode smt, full or lora on shape s.
func StepFlops(s Shape, mode string, p FlopParams) Flops {
	N := float64(s.Tokens())
	D, F, QD, KD := float64(s.Dim), float64(s.FFN), float64(s.Dim), float64(s.KV*s.HeadDim())
	T := float64(s.Seq)
	var f Flops
	f.Forward = 2 * N * MatmulParams(s)
	attnLayer := 2 * float64(s.Batch) * QD * T * (T + 1)
	f.AttnForward = float64(s.Layers) * attnLayer
	lowest := p.Lowest
	if mode == "full" {
		lowest = -1
	}
	if mode == "lora" {
		lowest = 0
	}
	f.InputGrad = 2 * N * float64(s.Vocab) * D
	for l := s.Layers - 1; l >= max(lowest, 0); l-- {
		f.AttnBackward += 2 * attnLayer
		f.InputGrad += 2 * N * (3*D*F + QD*D)
		if l != lowest {
			f.InputGrad += 2 * N * D * (QD + 2*KD)
		}
	}
	switch mode {
	case "smt":
		S := float64(p.BlockSize)
		f.WeightGrad = 2 * N * S * S * float64(p.Blocks)
	case "full":
		f.WeightGrad = 2 * N * MatmulParams(s)
	case "lora":
		sh := linearShapes(s)
		for _, t := range p.Targets {
			if d, ok := sh[t]; ok {
				f.Adapter += 6 * N * float64(p.Rank) * float64(d[0]+d[1]) * float64(s.Layers)
			}
		}
	}
	f.Total = f.Forward + f.AttnForward + f.InputGrad + f.AttnBackward + f.WeightGrad + f.Adapter
	return f
}
