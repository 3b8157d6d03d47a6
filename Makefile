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

.PHONY: all build test test-short demo bench lint fuzz clean kernels

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ $(addprefix ./,$(STAGES) $(TOOLS))

test:
	$(GO) vet ./...
	$(GO) test -timeout 30m ./...

test-short:
	$(GO) test -short ./...

demo: build
	./pipelines/demo.sh

bench: build
	./bench/gemm.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Regenerates the committed PTX from kernels/*.cu (needs nvcc: Debian's
# nvidia-cuda-toolkit from non-free); CI only checks the recorded hashes.
kernels:
	$(MAKE) -C kernels

clean:
	rm -rf $(BIN)
