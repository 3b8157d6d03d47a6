#!/usr/bin/env bash
# The SMT paper's Math10K recipe on a real LLaMA model directory: math_10k
# with the SMT prompt, 25 warm-up steps, Q/K/V blocks of 256 with 0.84% of
# the 2-D parameter blocks, 3 epochs at 9.65e-6, batch 16, then the math
# test sets (gsm8k, SVAMP, AQuA, MultiArith, AddSub, SingleEq, mawps) with 4
# beams, repetition penalty 1.1 and up to 256 new tokens. MAWPS, AddSub,
# MultiArith and SingleEq overlap math_10k's training data (LLM-Adapters'
# note); read those numbers with that in mind.
set -euo pipefail
RECIPE=Math10K
TRAIN_EXAMPLE=ft-training_set/math_10k.json
DEFAULTS="TEMPLATE=smt MAX_LEN=2048 EVAL_SPLIT=0.2 SEED=1234 WARMUP_STEPS=25 WARMUP_UPDATE=adamw BATCH=16 BLOCK=256 MATRICES=q,k,v BUDGET=0.84% SCORE=mean_abs EPOCHS=3 LR=9.65e-6 EVAL_EVERY=30 CHECKPOINT_EVERY=200 TASKS=math EVAL_BATCH=16 MAX_NEW=256 BEAMS=4 REP_PENALTY=1.1 WARMUP_FLAGS=--lr=9.65e-6"
USAGE_EXTRA=""
# shellcheck source=recipe.sh
. "$(dirname "$0")/recipe.sh"
