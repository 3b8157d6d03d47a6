# The SMT pipeline as make rules chained through the files each stage
# writes, so that `make` re-runs only the stages whose inputs changed:
#
#   tokenize  → $(OUT)/shards/manifest.json
#   warmup    → $(OUT)/scores.arrow
#   select    → $(OUT)/blocks.arrow (+ blocks.png)
#   train     → $(OUT)/run/delta.safetensors (+ metrics.jsonl, summary.json, loss.png)
#   merge     → $(OUT)/merged/config.json
#   evaluate  → $(OUT)/eval-base/report.json and $(OUT)/eval-smt/report.json
#
# Use it directly (`make -f pipelines/pipeline.mk OUT=… MODEL=… all`) or
# through pipelines/demo.sh, commonsense.sh, math10k.sh, which set the
# variables below; `make -n` prints the exact commands. Any stage can be
# replaced by another program that reads and writes the same files: build
# its output file yourself and make skips the stage.

comma := ,
space := $(empty) $(empty)

BIN          ?= bin
MODEL        ?= models/stories260K
TRAIN_DATA   ?= data/llm-adapters/boolq/train.json
EVAL_DATA    ?= data/llm-adapters
TASKS        ?= boolq
OUT          ?= out

TEMPLATE     ?= smt
MAX_LEN      ?= 2048
EVAL_SPLIT   ?= 0.2
SEED         ?= 1234

WARMUP_STEPS ?= 100
WARMUP_BATCH ?= $(BATCH)
WARMUP_UPDATE?= none
BLOCK        ?= 256
MATRICES     ?= q,k,v
BUDGET       ?= 0.84%
SCORE        ?= mean_abs

EPOCHS       ?= 3
BATCH        ?= 16
GRAD_ACCUM   ?= 1
LR           ?= 1e-4
EVAL_EVERY   ?= 30
CHECKPOINT_EVERY ?= 100

EVAL_LIMIT   ?= 0
EVAL_BATCH   ?= 16
MAX_NEW      ?= 32
BEAMS        ?= 1
REP_PENALTY  ?= 1.0

# Extra flags for each stage.
COMMON_FLAGS   ?=
TOKENIZE_FLAGS ?=
WARMUP_FLAGS   ?=
SELECT_FLAGS   ?=
TRAIN_FLAGS    ?=
MERGE_FLAGS    ?=
EVAL_FLAGS     ?=

# With WARMUP_UPDATE=adamw the warm-up fine-tunes every weight (as the
# released SMT code does) and SMT training continues from the warmed model.
ifeq ($(WARMUP_UPDATE),adamw)
TRAIN_MODEL  := $(OUT)/warmed
WARMUP_SAVE  := --save-weights $(OUT)/warmed
else
TRAIN_MODEL  := $(MODEL)
WARMUP_SAVE  :=
endif

SHARDS  := $(OUT)/shards/manifest.json
SCORES  := $(OUT)/scores.arrow
BLOCKS  := $(OUT)/blocks.arrow
DELTA   := $(OUT)/run/delta.safetensors
MERGED  := $(OUT)/merged/config.json
EVAL_BASE := $(OUT)/eval-base/report.json
EVAL_SMT  := $(OUT)/eval-smt/report.json

.PHONY: all shards scores blocks delta merged eval-base eval-smt
all: $(EVAL_BASE) $(EVAL_SMT) $(OUT)/run/loss.png
shards: $(SHARDS)
scores: $(SCORES)
blocks: $(BLOCKS)
delta: $(DELTA)
merged: $(MERGED)
eval-base: $(EVAL_BASE)
eval-smt: $(EVAL_SMT)

$(SHARDS): $(wildcard $(subst $(comma),$(space),$(TRAIN_DATA)))
	$(BIN)/tokenize --model $(MODEL) --data $(TRAIN_DATA) --out $(OUT)/shards --template $(TEMPLATE) \
	  --max-len $(MAX_LEN) --eval-split $(EVAL_SPLIT) --seed $(SEED) $(COMMON_FLAGS) $(TOKENIZE_FLAGS)

$(SCORES): $(SHARDS)
	$(BIN)/warmup --model $(MODEL) --data $(OUT)/shards --out $@ --steps $(WARMUP_STEPS) --batch $(WARMUP_BATCH) \
	  --matrices $(MATRICES) --block-size $(BLOCK) --update $(WARMUP_UPDATE) $(WARMUP_SAVE) --seed $(SEED) \
	  $(COMMON_FLAGS) $(WARMUP_FLAGS)

$(BLOCKS): $(SCORES)
	$(BIN)/select --scores $< --out $@ --budget $(BUDGET) --score $(SCORE) --model $(TRAIN_MODEL) \
	  --heatmap $(OUT)/blocks.png $(COMMON_FLAGS) $(SELECT_FLAGS)

$(DELTA): $(BLOCKS) $(SHARDS)
	$(BIN)/train --model $(TRAIN_MODEL) --data $(OUT)/shards --blocks $(BLOCKS) --out $(OUT)/run \
	  --epochs $(EPOCHS) --batch $(BATCH) --grad-accum $(GRAD_ACCUM) --lr $(LR) --eval-every $(EVAL_EVERY) \
	  --checkpoint-every $(CHECKPOINT_EVERY) --seed $(SEED) $(COMMON_FLAGS) $(TRAIN_FLAGS)

$(OUT)/run/loss.png: $(DELTA)
	$(BIN)/plot-loss --metrics $(OUT)/run/metrics.jsonl --out $@

$(MERGED): $(DELTA)
	$(BIN)/merge --model $(TRAIN_MODEL) --delta $< --out $(OUT)/merged $(COMMON_FLAGS) $(MERGE_FLAGS)

EVAL_ARGS = --data $(EVAL_DATA) --tasks $(TASKS) --limit $(EVAL_LIMIT) --batch $(EVAL_BATCH) \
	--max-new-tokens $(MAX_NEW) --beams $(BEAMS) --repetition-penalty $(REP_PENALTY) --template $(TEMPLATE) \
	$(COMMON_FLAGS) $(EVAL_FLAGS)

$(EVAL_BASE):
	$(BIN)/evaluate --model $(MODEL) --out $(OUT)/eval-base $(EVAL_ARGS)

$(EVAL_SMT): $(MERGED)
	$(BIN)/evaluate --model $(OUT)/merged --out $(OUT)/eval-smt $(EVAL_ARGS)

