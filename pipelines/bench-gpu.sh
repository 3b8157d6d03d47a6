#!/usr/bin/env bash
# bench-gpu.sh: issue 8's GPU benchmark in one go, from a prebuilt binary on
# a machine with one NVIDIA GPU and PyTorch (no Go needed there). It runs
#
#   bin/bench-gpu   LLaMA-2-7B shape, SMT (863 blocks of 256², 0.84%), batch 16 × 512
#   bin/bench-gpu   TinyLlama-1.1B shape, SMT and full fine-tuning (memory ratio),
#                   once with the batch whole and once in 2 micro-batches of 8
#   bench/peers/lora_peft.py      PyTorch + PEFT LoRA r32, LLaMA-2-7B shape
#   bench/peers/full_ft_torch.py  PyTorch full fine-tuning, TinyLlama-1.1B shape
#                                 (and one bf16 8192³ matrix product for reference)
#
# and prints a Markdown table last: tokens/s, MFU (FLOP rule in
# bench/gpu/flops.go), peak memory of each, the ratios against the targets of
# DESIGN.md §5, card, driver and date. Estimated 2–4 minutes on an H100 (not
# yet measured; most of it Python imports and model construction); each run's
# warm-up steps absorb PTX JIT, cuBLAS heuristics and allocator growth and are
# not timed.
#
#   pipelines/bench-gpu.sh --build   # on a machine with Go: bin/bench-gpu (CGO_ENABLED=0)
#   pipelines/bench-gpu.sh           # on the GPU machine
#
# Environment: BIN (default bin), OUT (when set: $OUT/bench-gpu.md, the table;
# $OUT/bench-gpu.jsonl, every run's JSON line; $OUT/bench-gpu.log, every
# run's stderr), PY (default python3), STEPS (timed steps per run, default 3),
# RUN_LIMIT (seconds per run, default 240), TOTAL_LIMIT (seconds for all runs,
# default 420: a run that would start later is skipped, and each run's limit is
# cut to what is left; with the device tool, give timeout_s ≥ TOTAL_LIMIT + 30),
# LORA_1B=1 (also LoRA on the 1.1B
# shape), GRAD_CKPT (the LoRA peer's --grad-ckpt, default auto: off, retried
# with checkpointing if the step runs out of memory).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
PY=${PY:-$(command -v python3 || true)}
STEPS=${STEPS:-3}
RUN_LIMIT=${RUN_LIMIT:-240}
TOTAL_LIMIT=${TOTAL_LIMIT:-420}
GRAD_CKPT=${GRAD_CKPT:-auto}

if [ "${1:-}" = "--build" ]; then
	cd "$ROOT" || exit 1
	mkdir -p "$BIN"
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$BIN/bench-gpu" ./bench/gpu || exit 1
	echo "built $BIN/bench-gpu"
	exit 0
fi

if [ ! -x "$BIN/bench-gpu" ]; then
	echo "bench-gpu.sh: no $BIN/bench-gpu; run pipelines/bench-gpu.sh --build on a machine with Go and carry bin/bench-gpu" >&2
	exit 1
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RESULTS=$WORK/bench-gpu.jsonl
LOG=$WORK/bench-gpu.log
: >"$RESULTS"
: >"$LOG"
START=$(date +%s)
FAILED=0

# run NAME COMMAND...: one run with a time limit; its JSON lines go to
# RESULTS, its stderr to LOG and, once it ends, to our stderr.
run() {
	local name=$1 t0 rc limit left
	shift
	t0=$(date +%s)
	left=$((TOTAL_LIMIT - (t0 - START)))
	if [ $left -lt 20 ]; then
		echo "== $name: not run, TOTAL_LIMIT ($TOTAL_LIMIT s) reached" | tee -a "$LOG" >&2
		FAILED=$((FAILED + 1))
		return
	fi
	limit=$((left < RUN_LIMIT ? left : RUN_LIMIT))
	echo "== $name (limit $limit s): $*" | tee -a "$LOG" >&2
	timeout "$limit" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
	rc=$?
	tee -a "$LOG" <"$WORK/$name.err" >&2
	grep '^{' "$WORK/$name.out" >>"$RESULTS"
	grep -v '^{' "$WORK/$name.out" >>"$LOG"
	if [ $rc -ne 0 ]; then
		FAILED=$((FAILED + 1))
		[ $rc -eq 124 ] && echo "== $name: timed out after $limit s" | tee -a "$LOG" >&2
	fi
	echo "== $name: exit $rc after $(($(date +%s) - t0)) s" | tee -a "$LOG" >&2
}

CARD="" DRIVER=""
if command -v nvidia-smi >/dev/null; then
	IFS=, read -r CARD DRIVER < <(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)
	DRIVER=${DRIVER# }
	echo "== $CARD, driver $DRIVER" | tee -a "$LOG" >&2
else
	echo "== nvidia-smi not found" | tee -a "$LOG" >&2
fi

run go-7b "$BIN/bench-gpu" -json -shape llama2-7b -mode smt -steps "$STEPS"
run go-1b "$BIN/bench-gpu" -json -shape tinyllama-1.1b -mode smt,full -steps "$STEPS"
# The same 16 sequences per step in 2 micro-batches of 8: half the
# activations, for the memory ratio at equal batch.
run go-1b-accum2 "$BIN/bench-gpu" -json -shape tinyllama-1.1b -mode smt,full -accum 2 -steps "$STEPS"

# The peers use our peak figure, so every MFU has the same denominator.
PEAK=$(grep -o '"peak_tflops":[0-9.]*' "$RESULTS" | head -1 | cut -d: -f2)
PEAK=${PEAK:-0}
if [ -n "$PY" ]; then
	export PYTHONUNBUFFERED=1
	run lora-7b "$PY" "$ROOT/bench/peers/lora_peft.py" --shape llama2-7b --steps "$STEPS" --grad-ckpt "$GRAD_CKPT" --peak-tflops "$PEAK"
	run torch-full-1b "$PY" "$ROOT/bench/peers/full_ft_torch.py" --shape tinyllama-1.1b --steps "$STEPS" --measure-matmul --peak-tflops "$PEAK"
	if [ "${LORA_1B:-0}" = 1 ]; then
		run lora-1b "$PY" "$ROOT/bench/peers/lora_peft.py" --shape tinyllama-1.1b --steps "$STEPS" --grad-ckpt "$GRAD_CKPT" --peak-tflops "$PEAK"
	fi
else
	echo "== python3 not found: no PyTorch peers" | tee -a "$LOG" >&2
	FAILED=$((FAILED + 1))
fi

{
	echo "## GPU benchmark (issue 8): $(date -u +%Y-%m-%d) on ${CARD:-an unknown card}"
	echo
	echo "Batch 16 × 512 tokens, bf16, median of $STEPS warm steps; \`pipelines/bench-gpu.sh\`, $(($(date +%s) - START)) s."
	echo
	"$BIN/bench-gpu" report -card "$CARD" -driver "$DRIVER" -date "$(date -u +'%Y-%m-%d %H:%M UTC')" "$RESULTS"
} >"$WORK/bench-gpu.md"

if [ -n "${OUT:-}" ]; then
	mkdir -p "$OUT"
	cp "$WORK/bench-gpu.md" "$RESULTS" "$LOG" "$OUT/"
fi
if [ $FAILED -gt 0 ]; then
	echo "bench-gpu.sh: error: $FAILED run(s) failed or found no GPU (see the table and the log)" >&2
fi
echo
cat "$WORK/bench-gpu.md"
[ $FAILED -eq 0 ]
