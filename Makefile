# SMT in Go — build, test, demo, benchmarks.
#
#   make build   stage binaries into bin/
#   make test    all tests (what CI runs)
#   make demo    the whole pipeline on the shipped stories260K model, on the CPU
#   make bench   CPU benchmarks against peers in the same run (see BENCHMARKS.md)
#   make lint    gofmt and go vet

GO       ?= go
BIN      := bin
STAGES   := $(wildcard tokenize warmup select train merge evaluate)
TOOLS    := $(wildcard tools/*)
export CGO_ENABLED ?= 0

.PHONY: all build test test-short demo bench bench-gpu bench-gpu-build lint fuzz clean kernels

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags="-s -w" -o $(BIN)/ $(addprefix ./,$(STAGES) $(TOOLS))

test:
	$(GO) vet ./...
	$(GO) test -timeout 30m ./...

test-short:
	$(GO) test -short ./...

demo: build
	./pipelines/demo.sh

# CPU benchmarks, each against its peer in the same run (BENCHMARKS.md):
# the GEMM against OpenBLAS and PyTorch, a training step against PyTorch,
# the tokenize stage's throughput.
bench: build
	./bench/gemm.sh
	CGO_ENABLED=0 $(GO) build -o $(BIN)/bench-train ./bench/train
	$(BIN)/bench-train
	$(GO) test -run XXX -bench TokenizeLLMAdapters -benchtime 5x ./pkg/tokenize

# bin/bench-gpu for a GPU machine; bench-gpu runs it there with the PyTorch
# and PEFT peers (pipelines/bench-gpu.sh; table last).
bench-gpu-build:
	./pipelines/bench-gpu.sh --build

bench-gpu: bench-gpu-build
	./pipelines/bench-gpu.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Regenerates the committed PTX from kernels/*.cu (needs nvcc: Debian's
# nvidia-cuda-toolkit from non-free); CI only checks the recorded hashes.
kernels:
	$(MAKE) -C kernels

clean:
	rm -rf $(BIN)
