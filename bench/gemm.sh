#!/bin/sh
# Builds and runs the GEMM benchmark: pkg/gemm (1 and all threads) against
# OpenBLAS loaded in-process and Debian's PyTorch, as a Markdown table.
# Built with CGO_ENABLED=0: OpenBLAS is loaded with purego, no cgo needed.
# Extra arguments go to the program (e.g. -reps 10, -quick, -torch off).
set -eu
cd "$(dirname "$0")/.."
mkdir -p bin
CGO_ENABLED=0 go build -o bin/bench-gemm ./bench/gemm
uptime >&2
exec ./bin/bench-gemm "$@"
