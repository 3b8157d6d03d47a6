#!/usr/bin/env bash
# gpu-check.sh: the checks that need an NVIDIA GPU, run from prebuilt
# binaries on a machine without Go, in under 8 minutes. It prints a short
# table last (and writes it, with every check's log, to $OUT).
#
# Build on a machine with Go (CGO_ENABLED=0: the binaries load the CUDA
# libraries at run time and run anywhere with glibc), then copy the
# checkout with bin/ to the GPU machine:
#
#   pipelines/gpu-check.sh --build     # make build + test binaries in bin/tests + bin/gpu-bundle.tar.xz
#   pipelines/gpu-check.sh             # on the GPU machine (carry bin/gpu-bundle.tar.xz)
#
# Environment: OUT (default out/gpu-check), LIMIT (seconds per check,
# default 240), SMT_CUDA_LIBRARY_PATH (extra directories holding libcuda,
# cuBLAS, NCCL). The checks run with SMT_CUDA_TESTS=gpu, so a test binary
# that finds no GPU fails instead of falling back to the emulator;
# GPU_CHECK_MODE=standin runs the same checks on the stand-in libraries and
# kernel emulator instead (a dry run of this script where there is no GPU).
#
# Extension point: every pipelines/gpu-check.d/*.sh is sourced after the
# built-in checks, in name order, and adds rows to the table with
#   check NAME COMMAND [ARGS...]    run with a time limit; output in $OUT/NAME.log
#   note NAME TEXT                  set the detail column of row NAME
#   skip NAME REASON                a row for a check that cannot run here
#   gotest NAME PKG REGEXP [ENV=V…] run tests of a prebuilt test binary
#   fncheck NAME FUNC               run a hook's shell function (see below)
# Variables: ROOT, BIN, TESTS, OUT, PY (python3 if present). Planned there:
# stories260K greedy generation through bin/evaluate on the GPU, one SMT
# train step on the GPU against the CPU (bin/train --device cuda vs cpu),
# train resume bit-identity on the GPU, and loading a merged model dir
# with transformers' AutoModelForCausalLM.from_pretrained and comparing its
# logits with ours.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
TESTS=$BIN/tests
OUT=${OUT:-$ROOT/out/gpu-check}
LIMIT=${LIMIT:-240}
MODE=${GPU_CHECK_MODE:-gpu}
PY=$(command -v python3 || true)

# Test binaries: package directory → binary name in bin/tests.
TEST_PKGS="pkg/backend/cuda pkg/backend/choose pkg/cuda kernels"
test_bin() { local p=${1#pkg/}; echo "$TESTS/${p//\//_}.test"; }

if [ "${1:-}" = "--build" ]; then
	set -e
	cd "$ROOT"
	export CGO_ENABLED=0
	make build || echo "gpu-check: make build failed; the checks that need the stage binaries will skip" >&2
	mkdir -p "$TESTS"
	for p in $TEST_PKGS; do
		go test -c -ldflags="-s -w" -o "$(test_bin "$p")" "./$p"
	done
	./pipelines/bench-gpu.sh --build || echo "gpu-check: bench-gpu build failed; the benchmark row will skip" >&2
	# One compressed bundle: the device tool carries at most 64 MiB, and
	# bin/ is larger than that uncompressed.
	files=()
	for f in tokenize warmup select train merge evaluate plot-loss demo-report bench-gpu tests; do
		[ -e "$BIN/$f" ] && files+=("bin/$f")
	done
	tmp=$(mktemp "${TMPDIR:-/tmp}/gpu-bundle.XXXXXX")
	tar cJf "$tmp" -C "$ROOT" "${files[@]}"
	mv "$tmp" "$BIN/gpu-bundle.tar.xz"
	echo "built $BIN and $TESTS; bundle $BIN/gpu-bundle.tar.xz ($(du -h "$BIN/gpu-bundle.tar.xz" | cut -f1)): carry it and this script unpacks it"
	exit 0
fi

# On the GPU machine: unpack the bundle when only it was carried.
if [ -f "$BIN/gpu-bundle.tar.xz" ] && [ ! -x "$BIN/train" ]; then
	(cd "$ROOT" && { tar xJf "$BIN/gpu-bundle.tar.xz" 2>/dev/null ||
		python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(".")' "$BIN/gpu-bundle.tar.xz"; }) ||
		echo "gpu-check: could not unpack $BIN/gpu-bundle.tar.xz" >&2
fi

mkdir -p "$OUT"
NAMES=() STATUS=() SECS=() DETAILS=()
FAILED=0
START=$(date +%s)

# check NAME COMMAND...: runs a check with a time limit and adds its row.
check() {
	local name=$1
	shift
	local log="$OUT/$name.log" t0 rc status detail=""
	t0=$(date +%s)
	timeout "$LIMIT" "$@" >"$log" 2>&1
	rc=$?
	case $rc in
	0) status=ok ;;
	124) status=TIMEOUT ;;
	*) status=FAIL ;;
	esac
	if [ $rc -eq 0 ] && grep -q -- "--- SKIP" "$log" && ! grep -q -- "--- PASS" "$log"; then
		status=skip
		detail=$(grep -B1 -- "--- SKIP" "$log" | head -1 | sed "s/^ *//" | cut -c1-90)
	fi
	if [ "$status" = FAIL ] || [ "$status" = TIMEOUT ]; then
		FAILED=$((FAILED + 1))
		detail=$(grep -E -- "--- FAIL|Error|panic|error" "$log" | grep -v "^=== " | head -1 | sed 's/^ *//' | cut -c1-90)
	fi
	NAMES+=("$name") STATUS+=("$status") SECS+=("$(($(date +%s) - t0))s") DETAILS+=("$detail")
}

# note NAME TEXT sets the detail column of row NAME.
note() {
	local i
	for i in "${!NAMES[@]}"; do
		if [ "${NAMES[$i]}" = "$1" ] && [ "${STATUS[$i]}" = ok ]; then DETAILS[$i]=$2; fi
	done
}

# skip NAME REASON adds a row for a check that cannot run here.
skip() { NAMES+=("$1") STATUS+=(skip) SECS+=(-) DETAILS+=("$2"); }

# gotest NAME PKG RUN_REGEXP [ENV=VALUE...]: runs tests of a prebuilt test
# binary from its package directory (tests find the repository from there).
gotest() {
	local name=$1 pkg=$2 run=$3
	shift 3
	local bin
	bin=$(test_bin "$pkg")
	if [ ! -x "$bin" ]; then
		skip "$name" "no $bin (run --build on a machine with Go)"
		return
	fi
	check "$name" env SMT_CUDA_TESTS="$MODE" "$@" \
		sh -c 'cd "$1" && shift && exec "$@"' _ "$ROOT/$pkg" "$bin" -test.run "$run" -test.v -test.count=1
}

# fncheck NAME FUNC: runs the shell function FUNC (defined by a hook) as
# check NAME, as FUNC OUTDIR SMALL with ROOT, BIN and PY set. SMALL is 1 in
# standin mode (FUNC then uses its smallest settings, on the stand-in
# libraries) and 0 on a GPU. FUNC's "result: …" lines become the detail.
# Needs python3 (the hooks compare files with pipelines/gpu-check.d/smtcheck.py).
fncheck() {
	local name=$1 fn=$2 small=0 env=() libs
	if [ -z "$PY" ]; then
		skip "$name" "no python3 (needed for the comparison helpers)"
		return
	fi
	if [ "$MODE" = standin ]; then
		small=1
		if ! libs=$("$PY" "$ROOT/pipelines/gpu-check.d/smtcheck.py" standin-libs "$ROOT"); then
			skip "$name" "standin: no stand-in libraries built for these sources (run the built-in checks first)"
			return
		fi
		env=(SMT_CUDA_LIBRARY_PATH="$libs")
	fi
	export -f "$fn"
	check "$name" env ROOT="$ROOT" BIN="$BIN" PY="$PY" "${env[@]}" bash -c "$fn"' "$@"' _ "$OUT/$name" "$small"
	export -nf "$fn"
	note "$name" "$(sed -n 's/^result: //p' "$OUT/$name.log" | paste -sd';' | sed 's/;/; /g')$([ "$MODE" = standin ] && echo " (standin)")"
}

echo "== gpu-check: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
if command -v nvidia-smi >/dev/null; then
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/nvidia-smi.txt"
else
	echo "nvidia-smi not found"
fi

# --- Built-in checks -------------------------------------------------------
# Kernel PTX matches its sources; the bindings' stand-in tests (they skip
# without g++).
gotest kernels-ptx kernels 'TestPTXMatchesSources|TestEntries'
gotest bindings pkg/cuda '.'
# --device auto must pick the GPU here.
gotest device-auto pkg/backend/choose 'TestOpen'
# Every op on the GPU against the CPU float32 backend.
gotest ops-vs-cpu pkg/backend/cuda '^TestOps$' SMT_OPCHECK_OUT="$OUT/ops.tsv"
if [ -s "$OUT/ops.tsv" ]; then
	note ops-vs-cpu "$(awk -F'\t' '!/^#/ {n++; if ($4 != "ok") bad++} END {printf "%d results, %d over bound", n, bad}' "$OUT/ops.tsv")"
fi
gotest determinism pkg/backend/cuda '^TestDeterminism$'
# The real model code: stories260K greedy tokens (KV cache, batched with
# left padding) and one forward/backward with SMT block gradients vs CPU.
gotest stories-greedy pkg/backend/cuda '^TestModelStoriesGreedy$'
gotest stories-train-step pkg/backend/cuda '^TestModelStoriesTrainStep$'
if [ -f "$OUT/stories-train-step.log" ]; then
	note stories-train-step "$(grep -o "worst block/norm gradient relative error [0-9.e+-]*" "$OUT/stories-train-step.log" | head -1)"
fi
gotest perf pkg/backend/cuda '^TestGPUPerf$' SMT_PERF_OUT="$OUT/perf.txt"
if [ -s "$OUT/perf.txt" ]; then
	note perf "$(head -1 "$OUT/perf.txt")"
fi

# --- Extension checks (pipelines/gpu-check.d/*.sh) --------------------------
if [ -d "$ROOT/pipelines/gpu-check.d" ]; then
	for ext in "$ROOT"/pipelines/gpu-check.d/*.sh; do
		[ -e "$ext" ] || continue
		# shellcheck source=/dev/null
		. "$ext"
	done
fi

# --- Summary -----------------------------------------------------------------
{
	if [ -s "$OUT/ops.tsv" ]; then
		echo
		echo "op results (CUDA vs CPU float32; relative error, bound):"
		grep -v '^#' "$OUT/ops.tsv" | sort | awk -F'\t' '{printf "  %-38s %9s  %6s  %s\n", $1, $2, $3, $4}'
	fi
	if [ -s "$OUT/perf.txt" ]; then
		echo
		sed 's/^/  /' "$OUT/perf.txt"
	fi
	echo
	echo "== gpu-check summary ($(($(date +%s) - START)) s; logs in $OUT)"
	for i in "${!NAMES[@]}"; do
		printf '%-20s %-7s %5s  %s\n' "${NAMES[$i]}" "${STATUS[$i]}" "${SECS[$i]}" "${DETAILS[$i]}"
	done
	if [ $FAILED -eq 0 ]; then echo "all checks passed"; else echo "$FAILED check(s) failed"; fi
} | tee "$OUT/summary.txt"
[ $FAILED -eq 0 ]
