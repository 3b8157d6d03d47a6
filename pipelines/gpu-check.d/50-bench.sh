# gpu-check hook (sourced by pipelines/gpu-check.sh after the built-in
# checks): issue 8's GPU benchmark, pipelines/bench-gpu.sh — ours (SMT on the
# LLaMA-2-7B shape, SMT and full fine-tuning on TinyLlama-1.1B) against
# PyTorch + PEFT LoRA and PyTorch full fine-tuning on the same card. An
# estimated 2–4 minutes on an H100; GPU_CHECK_BENCH=0 leaves it out. Its table and JSON
# lines land in $OUT/bench-gpu/, its log in $OUT/bench-gpu.log; the row's
# detail holds the three headline numbers.
if [ "$MODE" = standin ]; then
	skip bench-gpu "GPU_CHECK_MODE=standin: the benchmark needs a GPU"
elif [ "${GPU_CHECK_BENCH:-1}" = 0 ]; then
	skip bench-gpu "GPU_CHECK_BENCH=0"
elif [ ! -x "$BIN/bench-gpu" ]; then
	skip bench-gpu "no $BIN/bench-gpu (run pipelines/bench-gpu.sh --build where Go is)"
else
	# The benchmark bounds each of its runs (RUN_LIMIT, 240 s); the check
	# gets room for all of them.
	LIMIT=${BENCH_GPU_LIMIT:-600} check bench-gpu env OUT="$OUT/bench-gpu" BIN="$BIN" "$ROOT/pipelines/bench-gpu.sh"
	if [ -s "$OUT/bench-gpu/bench-gpu.md" ]; then
		bench_pick() { grep -m1 -- "$1" "$OUT/bench-gpu/bench-gpu.md" | grep -o '\*\*[^*]*\*\*' | tr -d '*'; }
		note bench-gpu "7B MFU $(bench_pick 'llama2-7b, ours SMT MFU'), ÷LoRA $(bench_pick 'llama2-7b, tokens/s ours SMT'), mem SMT/full $(bench_pick 'tinyllama-1.1b, peak memory ours SMT ÷ ours full')"
		unset -f bench_pick
	fi
fi
