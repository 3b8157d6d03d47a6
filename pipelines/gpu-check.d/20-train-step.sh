# gpu-check hook (sourced by pipelines/gpu-check.sh after the built-in
# checks): one SMT training step of stories260K through the stage binaries,
# bin/train --device cuda against --device cpu.
#
#   train-step   tokenize the shipped BoolQ slice, warm up and select 16×16
#                blocks of q,k,v (all on the CPU, once), then one optimizer
#                step of bin/train with the same seed, data and blocks on
#                cuda and on cpu (--steps 1 --eval-every 0 --keep last), and
#                compare the two delta.safetensors (smtcheck.py delta-diff).
#
# What is compared: the update Δ = trained − initial of every trained value,
# per tensor, as rel = ‖Δcuda − Δcpu‖₂ / ‖Δcpu‖₂. The CUDA backend holds
# the weights in bf16 and starts its float32 master copies from them, so
# its initial values are the base rounded to bf16 (delta-diff picks the
# initial values that fit, and says which); the CPU's are the float32 base.
# Two pairs of runs:
#
#   grad   --eps 1 --clip 0 --lr 1: AdamW's first step is
#          −lr·g/(|g| + eps) (m̂ = g, v̂ = g²), ≈ −lr·g here (|g| ≲ 0.1), so
#          Δ is proportional to the gradient and rel is the relative error of
#          the block gradients, magnitudes included (no clipping to hide a
#          scale error). The large lr makes Δ (~1e-2) dwarf the bf16
#          rounding of the initial values (~2e-4; misattributed it would
#          add ~0.4% to rel) and the float32 rounding of the results. Bounds: rel ≤ 0.1 over all blocks, ≤ 0.25 for the
#          worst tensor. Why: the GPU computes the forward and backward in
#          bf16 (8 significant bits, unit roundoff 2⁻⁹ ≈ 2e-3, one rounding
#          per stored activation, five layers deep) with fp32 accumulation;
#          a block gradient sums token contributions of both signs, so its
#          relative error grows with the cancellation, most for the tensors
#          with the smallest gradients. The kernel emulator of the
#          stand-in libraries, which rounds as the GPU's kernels do, gives
#          with these settings (batch 8 of the full examples) rel 0.023 over
#          all and 0.045 for the worst tensor (layer 3 k_proj); at the
#          standin settings below (batch 2 × 64 tokens) 0.044 and 0.10
#          (layer 1 q_proj). The built-in stories-train-step test bounds a
#          block gradient at 5e-2 (batch 2 × 24 random tokens). The bounds
#          leave 2.5-5× room; a gradient 10% off in scale reaches 0.1, a
#          transposed or misplaced block gives rel ≳ 1, a sign error 2.
#          (On the CPU, --threads 1 and 2 give byte-identical deltas.)
#   adamw  the defaults of SMT training (eps 1e-8, clip 1) at lr 2e-3: the
#          first step moves each value by ≈ ±lr (the sign of its gradient),
#          so rel measures only which values flip direction: those whose
#          gradient is below the bf16 noise (rel ≈ 2·√(flipped share); the
#          element-wise max is 2 by construction). Bound: ≥ 95% of the
#          values move the same way. The emulator gives 99.0% (rel 0.20)
#          with these settings, 98.5% (rel 0.25) at the standin settings;
#          unrelated gradients give ~50%.
#
# About 30 s on a GPU machine (most of it the CPU runs). With
# GPU_CHECK_MODE=standin the cuda runs use the stand-in libraries (kernels
# emulated on the CPU, ~1 s a step at this size): 64-token examples
# (--train-on-inputs), batch 2, one held-out example. Files in
# $OUT/train-step/, log in $OUT/train-step.log.

gc_train_step() {
	local dir=$1 small=$2 model=$ROOT/models/stories260K
	rm -rf "$dir"
	mkdir -p "$dir"
	local tok=(--max-len 512 --eval-split 16) batch=8
	if [ "$small" = 1 ]; then
		tok=(--max-len 64 --train-on-inputs --eval-split 1)
		batch=2
	fi
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
		--template smt "${tok[@]}" --seed 1234 --device cpu --quiet
	run warmup "$BIN/warmup" --model "$model" --data "$dir/shards" --out "$dir/scores.arrow" --steps 4 --batch "$batch" \
		--matrices q,k,v --block-size 16 --seed 1234 --device cpu
	run select "$BIN/select" --scores "$dir/scores.arrow" --out "$dir/blocks.arrow" --budget 10% --model "$model" \
		--no-heatmap --device cpu
	echo "prepared on the CPU in $((SECONDS - t0)) s: $(grep -m1 '^selected' "$dir/select.log" | sed 's/^selected *//; s/ = [0-9.]*% of.*//')"
	local common=(--model "$model" --data "$dir/shards" --blocks "$dir/blocks.arrow" --steps 1 --batch "$batch"
		--eval-every 0 --keep last --checkpoint-every 0 --seed 1234)
	local pair flags fail=0
	for pair in grad adamw; do
		case $pair in
		grad) flags=(--lr 1 --eps 1 --clip 0) ;;
		adamw) flags=(--lr 2e-3) ;;
		esac
		for dev in cuda cpu; do
			t0=$SECONDS
			run "$pair-$dev" "$BIN/train" "${common[@]}" "${flags[@]}" --out "$dir/$pair-$dev" --device "$dev"
			echo "$pair: train --device $dev ${flags[*]}: $(grep -m1 'device:' "$dir/$pair-$dev.log" | sed 's/^train: //'), $(grep -m1 '^training:' "$dir/$pair-$dev.log" | sed 's/^training: *//'), $((SECONDS - t0)) s"
		done
		case $pair in
		grad) flags=(--total-bound 0.1 --bound 0.25) ;;
		adamw) flags=(--dir-bound 0.95) ;;
		esac
		echo "== $pair: Δ on cuda (A) against the CPU (B)"
		"$PY" "$ROOT/pipelines/gpu-check.d/smtcheck.py" delta-diff --base "$model" --a-init auto --label "$pair" "${flags[@]}" \
			"$dir/$pair-cuda/delta.safetensors" "$dir/$pair-cpu/delta.safetensors" || fail=1
	done
	return $fail
}

fncheck train-step gc_train_step
unset -f gc_train_step
