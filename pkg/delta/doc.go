// Package delta reads and writes delta.safetensors, the file the train stage
// writes and the merge stage reads, and merges a delta into a base model
// directory.
//
// # Format (smt-delta/1)
//
// A delta is a safetensors file. For every trained weight matrix NAME (a
// Hugging Face tensor name such as model.layers.3.self_attn.v_proj.weight)
// it holds two tensors:
//
//	NAME::blocks  F32 [k, S, S]  the trained block values (not differences)
//	NAME::index   I32 [k, 2]     (row, col) of each block, in block units
//
// Block i replaces W[rows[i]·S : rows[i]·S+S, cols[i]·S : cols[i]·S+S] of the
// [out, in] matrix W: rows index output features, columns input features
// (PyTorch's y = x·Wᵀ). The matrices come in the model's layout order
// (embedding, then layer by layer q, k, v, o, gate, up, down, then the final
// norm and head), each as its ::blocks tensor followed by its ::index
// tensor, so the same training run always gives the same bytes.
//
// The header's "__metadata__" map carries:
//
//	smt.format           "smt-delta/1"
//	smt.base_model_hash  llama.HashWeights of the model dir train ran on
//	smt.block_size       S, in decimal
//	smt.blocks_sha256    "sha256:…" of the blocks.arrow used (optional)
//	smt.step             optimizer steps behind the kept values
//	smt.kept             "best" (lowest held-out loss) or "last"
//	smt.eval_loss        held-out loss of the kept values (optional)
//	smt.train            JSON of the training settings (optional, opaque)
//
// # Merge
//
// Merge writes a complete Hugging Face model directory: the base's weights
// with the delta's blocks written in, in each tensor's own dtype and with the
// base's shard files, tensor-to-shard assignment and index, plus every
// non-weight file of the base. Tensors are streamed one at a time, so memory
// stays near the size of the delta plus one band of S rows of a matrix.
package delta
