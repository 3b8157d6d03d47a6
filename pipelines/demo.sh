#!/usr/bin/env bash
# The whole SMT pipeline on the model and data shipped in the repository,
# on the CPU: tokenize a BoolQ slice with the stories260K tokenizer,
# evaluate the base model, warm up, select blocks, train them, merge, and
# evaluate again; then print what changed. `make demo` runs it after
# `make build`.
#
#   pipelines/demo.sh            fresh run into demo-out/
#   OUT=dir pipelines/demo.sh    another output directory
#   KEEP=1 pipelines/demo.sh     keep earlier outputs (make re-runs only stale stages)
#   pipelines/demo.sh -n         print the stage commands without running them
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-demo-out}
BIN=${BIN:-bin}
dry=""
case "${1:-}" in
  -n|--dry-run) dry="-n" ;;
  -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
esac

for b in tokenize warmup select train merge evaluate plot-loss demo-report; do
  if [ ! -x "$BIN/$b" ]; then
    echo "demo: $BIN/$b is missing; run 'make build' first (or 'make demo')" >&2
    exit 1
  fi
done

if [ -z "$dry" ] && [ "${KEEP:-0}" != 1 ]; then
  rm -rf "$OUT"
fi
mkdir -p "$OUT"
export SMT_STATS_FILE="$PWD/$OUT/stats.jsonl"

SECONDS=0
# The settings of this run; each is a variable of pipelines/pipeline.mk.
make --no-print-directory $dry -f pipelines/pipeline.mk all \
  BIN="$BIN" OUT="$OUT" MODEL=models/stories260K \
  TRAIN_DATA=data/llm-adapters/boolq/train.json EVAL_DATA=data/llm-adapters TASKS=boolq \
  TEMPLATE=smt MAX_LEN=512 EVAL_SPLIT=200 SEED=1234 \
  WARMUP_STEPS=20 BATCH=16 BLOCK=16 MATRICES=q,k,v BUDGET=3% SCORE=mean_abs \
  EPOCHS=1 LR=2e-3 EVAL_EVERY=20 CHECKPOINT_EVERY=100 \
  EVAL_LIMIT=0 EVAL_BATCH=100 MAX_NEW=24 \
  COMMON_FLAGS="--device cpu"
[ -n "$dry" ] && exit 0
elapsed=$SECONDS

echo
echo "SMT demo: stories260K (260K parameters, llama2.c's TinyStories model) fine-tuned on 1,800 BoolQ"
echo "training examples (200 held out) with the SMT prompt, on the CPU; BoolQ test slice of 400 questions."
"$BIN/demo-report" --out "$OUT"
printf '\nTotal wall time: %d s on %s (%s cores).\n' "$elapsed" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)"
