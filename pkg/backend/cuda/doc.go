// Package cuda is the CUDA backend: backend.Backend on one NVIDIA GPU,
// with bf16 weights and activations and fp32 accumulation.
//
// See README.md beside this file for the design, what is verified where,
// and how to regenerate the kernels' PTX.
package cuda
