# gpu-check hook (sourced by pipelines/gpu-check.sh after the built-in
# checks): a merged model directory against Hugging Face transformers.
#
#   merge-weights  on the CPU: tokenize the shipped BoolQ slice, warm up,
#                  select 16×16 blocks of q,k,v, train 8 steps, bin/merge the
#                  delta into models/stories260K; then compare_hf.py weights:
#                  every merged tensor is the base's with the delta's blocks
#                  written in, bit for bit (standard-library Python, no torch).
#   hf-merged      compare_hf.py hf on the GPU (the python3 that imports torch
#                  and transformers): AutoModelForCausalLM.from_pretrained of
#                  the merged directory (float32) loads with no missing,
#                  unexpected or mismatched tensors; the base loaded the same
#                  way with the delta's blocks written in by Python
#                  (NAME::blocks [k,S,S] at NAME::index [k,2]) has the same
#                  weights and the same logits on 4×64 token ids (rel ≤ 1e-6;
#                  the delta must move them ≥ 1e-4 from the base); and our
#                  float32 greedy continuations (bin/evaluate generate
#                  --device cpu --json on the merged model, 64 tokens, three
#                  prompts) equal transformers' greedy generate from the same
#                  prompt ids and the merged model's teacher-forced argmax.
#                  bin/evaluate prints no logits, so the logits are compared
#                  between transformers' two loads, and ours through the
#                  greedy tokens (the smallest top-1 margin is printed).
#                  Skipped when no python3 imports transformers
#                  (GPU_CHECK_HF_REFERENCE=torch: a dry run with
#                  compare_hf.py's own small LLaMA in torch instead).
#
# About 30 s on a GPU machine (prep ~10 s, importing transformers and
# starting CUDA most of the rest). GPU_CHECK_MODE=standin runs the same
# (nothing here uses our CUDA backend), transformers on the CPU if torch
# has no GPU. Files in $OUT/hf/, logs in $OUT/merge-weights.log and
# $OUT/hf-merged.log.

gc_hf_prep() {
	local dir=$1 model=$ROOT/models/stories260K
	rm -rf "$dir"
	mkdir -p "$dir"
	run() { # run NAME CMD...: the command's output in $dir/NAME.log
		local name=$1
		shift
		if ! "$@" >"$dir/$name.log" 2>&1; then
			echo "--- FAIL: $name exited non-zero: $*"
			tail -20 "$dir/$name.log"
			exit 1
		fi
	}
	local t0=$SECONDS
	run tokenize "$BIN/tokenize" --model "$model" --data "$ROOT/data/llm-adapters/boolq/train.json" --out "$dir/shards" \
		--template smt --max-len 512 --eval-split 16 --seed 1234 --device cpu --quiet
	run warmup "$BIN/warmup" --model "$model" --data "$dir/shards" --out "$dir/scores.arrow" --steps 4 --batch 8 \
		--matrices q,k,v --block-size 16 --seed 1234 --device cpu
	run select "$BIN/select" --scores "$dir/scores.arrow" --out "$dir/blocks.arrow" --budget 10% --model "$model" \
		--no-heatmap --device cpu
	run train "$BIN/train" --model "$model" --data "$dir/shards" --blocks "$dir/blocks.arrow" --out "$dir/run" \
		--steps 8 --batch 8 --lr 2e-3 --eval-every 0 --keep last --checkpoint-every 0 --seed 1234 --device cpu
	run merge "$BIN/merge" --model "$model" --delta "$dir/run/delta.safetensors" --out "$dir/merged" --device cpu
	echo "prepared on the CPU in $((SECONDS - t0)) s: $(grep -m1 '^training:' "$dir/train.log" | sed 's/^training: *//'); $(grep -m1 '^tensors:' "$dir/merge.log" | sed 's/^tensors: *//')"
	# Our float32 greedy continuations of the merged model.
	local i=0 prompt
	for prompt in "" "Once upon a time, Lily found a" "do iran and afghanistan speak the same language?"; do
		i=$((i + 1))
		local tmpl=()
		[ $i = 3 ] && tmpl=(--template smt)
		if ! "$BIN/evaluate" generate --model "$dir/merged" --prompt "$prompt" "${tmpl[@]}" --max-new-tokens 64 \
			--device cpu --json >"$dir/gen$i.json" 2>"$dir/gen$i.log"; then
			echo "--- FAIL: bin/evaluate generate --device cpu exited non-zero (prompt \"$prompt\"):"
			tail -5 "$dir/gen$i.log"
			exit 1
		fi
	done
	"$PY" "$ROOT/pipelines/gpu-check.d/compare_hf.py" weights --base "$model" --delta "$dir/run/delta.safetensors" \
		--merged "$dir/merged"
}

if [ -z "$PY" ]; then
	skip merge-weights "no python3"
	skip hf-merged "no python3"
else
	export -f gc_hf_prep
	check merge-weights env ROOT="$ROOT" BIN="$BIN" PY="$PY" bash -c 'gc_hf_prep "$@"' _ "$OUT/hf"
	export -nf gc_hf_prep
	note merge-weights "$(sed -n 's/^result: //p' "$OUT/merge-weights.log" | head -1)"

	# The python3 that imports torch and transformers; with
	# GPU_CHECK_HF_REFERENCE=torch (a dry run without transformers) one that
	# imports torch runs compare_hf.py's own small LLaMA instead.
	gc_hf_py="" gc_hf_ref=transformers
	for gc_hf_c in "$PY" /usr/bin/python3; do
		if [ -x "$gc_hf_c" ] && "$gc_hf_c" -c 'import torch, transformers' >/dev/null 2>&1; then
			gc_hf_py=$gc_hf_c
			break
		fi
	done
	if [ -z "$gc_hf_py" ] && [ "${GPU_CHECK_HF_REFERENCE:-}" = torch ]; then
		for gc_hf_c in "$PY" /usr/bin/python3; do
			if [ -x "$gc_hf_c" ] && "$gc_hf_c" -c 'import torch' >/dev/null 2>&1; then
				gc_hf_py=$gc_hf_c gc_hf_ref=torch
				break
			fi
		done
	fi
	if [ -z "$gc_hf_py" ]; then
		skip hf-merged "transformers not importable ($PY$([ "$PY" != /usr/bin/python3 ] && [ -x /usr/bin/python3 ] && echo ", /usr/bin/python3"))"
	elif [ ! -f "$OUT/hf/merged/config.json" ] || [ ! -f "$OUT/hf/gen3.json" ]; then
		skip hf-merged "no merged model or greedy outputs (merge-weights failed)"
	else
		gc_hf_dev=cuda
		[ "$MODE" = standin ] && gc_hf_dev=auto
		check hf-merged env HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 \
			"$gc_hf_py" "$ROOT/pipelines/gpu-check.d/compare_hf.py" hf --device "$gc_hf_dev" --reference "$gc_hf_ref" \
			--base "$ROOT/models/stories260K" --delta "$OUT/hf/run/delta.safetensors" --merged "$OUT/hf/merged" \
			--ours "$OUT/hf/gen1.json" "$OUT/hf/gen2.json" "$OUT/hf/gen3.json"
		note hf-merged "$(sed -n 's/^result: //p' "$OUT/hf-merged.log" | head -1)$([ "$gc_hf_ref" = torch ] && echo " (torch reference, NOT transformers)")"
	fi
	unset gc_hf_py gc_hf_c gc_hf_dev gc_hf_ref
fi
unset -f gc_hf_prep
