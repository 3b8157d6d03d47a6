# Shared by commonsense.sh and math10k.sh: option parsing and the make call.
# The caller sets RECIPE (a name), DEFAULTS (make variable assignments) and
# USAGE_EXTRA, then sources this file with "$@".

usage() {
  cat <<USAGE
usage: $(basename "$0") --model DIR --data TRAIN.json --eval-data DATASET_DIR --out OUT [options] [VAR=value ...]

Runs the SMT paper's $RECIPE recipe through pipelines/pipeline.mk:
tokenize → warmup → select → train → merge → evaluate (base and merged).
make re-runs only the stages whose inputs changed.

  --model DIR        Hugging Face LLaMA model directory (the base)
  --data FILE        training set (LLM-Adapters JSON), e.g. $TRAIN_EXAMPLE
  --eval-data DIR    LLM-Adapters dataset/ directory holding <task>/test.json
  --out DIR          output directory (shards, scores, blocks, run, merged, eval-*)
  --device D         auto (default), cpu, cuda, cuda:N
  -n, --dry-run      print the exact stage commands without running them
  -h, --help         this help
  VAR=value          override any pipeline.mk variable, e.g. BATCH=8 EVAL_LIMIT=100 WARMUP_UPDATE=none

Settings of this recipe (pipeline.mk variables):
$(printf '  %s\n' $DEFAULTS)
$USAGE_EXTRA
USAGE
}

model="" data="" evaldata="" out="" device=auto dry="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --eval-data) evaldata=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    -n|--dry-run) dry=-n; shift ;;
    -h|--help) usage; exit 0 ;;
    *=*) extra+=("$1"); shift ;;
    *) echo "$(basename "$0"): unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$model" ] || [ -z "$data" ] || [ -z "$evaldata" ] || [ -z "$out" ]; then
  usage >&2
  exit 2
fi
cd "$(dirname "$0")/.."
if [ -z "$dry" ]; then
  for b in tokenize warmup select train merge evaluate plot-loss; do
    [ -x "bin/$b" ] || { echo "$(basename "$0"): bin/$b is missing: run 'make build' first" >&2; exit 1; }
  done
  mkdir -p "$out"
  export SMT_STATS_FILE="$out/stats.jsonl"
fi
# shellcheck disable=SC2086
exec make --no-print-directory $dry -f pipelines/pipeline.mk all \
  MODEL="$model" TRAIN_DATA="$data" EVAL_DATA="$evaldata" OUT="$out" \
  COMMON_FLAGS="--device $device" $DEFAULTS "${extra[@]}"
