# gpu-check hook (sourced by pipelines/gpu-check.sh after the built-in
# checks): bin/train --resume on the GPU gives the bytes of an uninterrupted
# run.
#
#   train-resume   tokenize the shipped BoolQ slice, warm up and select
#                  16×16 blocks of q,k,v (on the CPU), then on cuda:
#                  A  bin/train --steps 12 --checkpoint-every 4, uninterrupted;
#                  B  the same into another directory, killed with SIGKILL as
#                     soon as checkpoints/checkpoint-00000004.safetensors
#                     appears (a busy wait on the file), then rerun with
#                     --resume.
#                  The two delta.safetensors must be byte-identical (cmp);
#                  the log also compares the metrics of every step (loss,
#                  grad_norm, lr) and, on a difference, the deltas' values.
#                  Both runs keep the last values (--keep last) and evaluate
#                  every 4 steps, so the checkpoint's held-out bookkeeping
#                  is carried across the kill too. If B finishes before the
#                  kill lands (the whole run is well under a second on a
#                  GPU), B is started again, three times at most.
#
# About 15 s on a GPU machine. With GPU_CHECK_MODE=standin (kernels emulated
# on the CPU, seconds a step) it runs 6 steps with a checkpoint every 2 and
# kills B after checkpoint 2, on 64-token examples, batch 1. Files in
# $OUT/train-resume/, log in $OUT/train-resume.log.

gc_train_resume() {
	local dir=$1 small=$2 model=$ROOT/models/stories260K
	rm -rf "$dir"
	mkdir -p "$dir"
	local tok=(--max-len 512 --eval-split 16) batch=8 steps=12 every=4
	if [ "$small" = 1 ]; then
		tok=(--max-len 64 --train-on-inputs --eval-split 1)
		batch=1 steps=6 every=2
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
	echo "prepared on the CPU in $((SECONDS - t0)) s"
	local train=("$BIN/train" --model "$model" --data "$dir/shards" --blocks "$dir/blocks.arrow" --steps "$steps"
		--batch "$batch" --lr 2e-3 --checkpoint-every "$every" --eval-every "$every" --keep last --seed 1234 --device cuda)
	echo "train: ${train[*]:1} --out DIR"

	t0=$SECONDS
	run A "${train[@]}" --out "$dir/A"
	echo "A: uninterrupted, $((SECONDS - t0)) s: $(grep -m1 'device:' "$dir/A.log" | sed 's/^train: //'); checkpoints: $(cd "$dir/A/checkpoints" 2>/dev/null && ls | tr '\n' ' ')"

	local ck
	ck=$(printf 'checkpoint-%08d.safetensors' "$every")
	local try pid rc killed=0
	for try in 1 2 3; do
		rm -rf "$dir/B"
		t0=$SECONDS
		"${train[@]}" --out "$dir/B" >"$dir/B-killed.log" 2>&1 &
		pid=$!
		# Busy wait: the file appears by an atomic rename.
		while [ ! -e "$dir/B/checkpoints/$ck" ] && kill -0 "$pid" 2>/dev/null; do :; done
		kill -KILL "$pid" 2>/dev/null
		{ wait "$pid"; } 2>/dev/null
		rc=$?
		if [ $rc = 137 ] && [ ! -e "$dir/B/delta.safetensors" ]; then
			killed=1
			break
		fi
		echo "B try $try: not interrupted (exit status $rc after $((SECONDS - t0)) s; $ck $([ -e "$dir/B/checkpoints/$ck" ] && echo present || echo absent)); again"
	done
	if [ $killed = 0 ]; then
		echo "--- FAIL: could not kill B between $ck and its end in 3 tries"
		return 1
	fi
	echo "B: killed (SIGKILL, exit status $rc) after $((SECONDS - t0)) s with $(cd "$dir/B/checkpoints" && ls | tr '\n' ' ')in B/checkpoints, no delta"
	t0=$SECONDS
	run B-resumed "${train[@]}" --out "$dir/B" --resume
	echo "B: resumed, $((SECONDS - t0)) s: $(grep -i -m1 'resum' "$dir/B-resumed.log")"

	local from mrc=0
	from=$(grep -o 'resumed from .*checkpoint-0*[0-9]*' "$dir/B-resumed.log" | head -1 | sed 's/.*checkpoint-0*/checkpoint /')
	"$PY" "$ROOT/pipelines/gpu-check.d/smtcheck.py" metrics-diff "$dir/A/metrics.jsonl" "$dir/B/metrics.jsonl" || mrc=1
	if ! cmp "$dir/A/delta.safetensors" "$dir/B/delta.safetensors"; then
		echo "--- FAIL: resumed from ${from:-?}: delta.safetensors differs from the uninterrupted run's"
		"$PY" "$ROOT/pipelines/gpu-check.d/smtcheck.py" delta-diff --base "$model" "$dir/B/delta.safetensors" "$dir/A/delta.safetensors" | tail -4
		return 1
	fi
	if [ $mrc != 0 ]; then
		echo "--- FAIL: resumed from ${from:-?}: delta.safetensors identical, but the metrics differ (above)"
		return 1
	fi
	echo "result: killed, resumed from ${from:-?} of $steps steps: delta byte-identical ($(wc -c <"$dir/A/delta.safetensors") B), metrics identical"
	return 0
}

fncheck train-resume gc_train_resume
unset -f gc_train_resume
