# gpu-check hook (sourced by pipelines/gpu-check.sh after the built-in
# checks): stories260K greedy generation through the stage binary on the GPU.
#
#   gen-greedy   bin/evaluate generate --model models/stories260K --prompt ""
#                --max-new-tokens 256 --device cuda must print
#                pkg/evaluate/testdata/expected_greedy_t0.txt (llama2.c's
#                run.c output) byte for byte. On a difference the log names
#                the first differing byte and, from --json runs on the GPU
#                and on the CPU (float32, which reproduces the file), the
#                first differing token: bf16 weights and activations may
#                legitimately flip a near-tie late in the text, but the row
#                passes only on an exact match.
#
# About 5 s on a GPU. With GPU_CHECK_MODE=standin the binary runs on the
# stand-in libraries (kernels emulated on the CPU, ~0.13 s a token), so the
# row generates 64 tokens and compares them with the golden file's first 64
# (the CPU's 64-token text, checked to be a prefix of the file);
# GPU_CHECK_GEN_TOKENS=256 there runs the full comparison (~35 s). Files in
# $OUT/gen-greedy/, log in $OUT/gen-greedy.log.

gc_gen_greedy() {
	local dir=$1 n=$2 golden=$3 model=$ROOT/models/stories260K
	mkdir -p "$dir"
	local expected=$golden
	if [ "$n" != 256 ]; then
		# The golden file's first n tokens: the CPU's n-token text, which
		# must be a prefix of the file (its last byte is run.c's newline).
		if ! "$BIN/evaluate" generate --model "$model" --prompt "" --max-new-tokens "$n" --device cpu \
			>"$dir/cpu-$n.txt" 2>"$dir/cpu-$n.err"; then
			echo "--- FAIL: bin/evaluate generate --device cpu exited non-zero:"
			cat "$dir/cpu-$n.err"
			return 1
		fi
		local len
		len=$(($(wc -c <"$dir/cpu-$n.txt") - 1))
		if ! cmp -s -n "$len" "$dir/cpu-$n.txt" "$golden"; then
			echo "--- FAIL: the CPU's $n greedy tokens are not a prefix of $golden"
			return 1
		fi
		expected=$dir/cpu-$n.txt
		echo "expected: the first $n tokens of $golden ($len bytes, from the CPU run)"
	fi
	local t0=$SECONDS
	if ! "$BIN/evaluate" generate --model "$model" --prompt "" --max-new-tokens "$n" --device cuda \
		>"$dir/cuda.txt" 2>"$dir/cuda.err"; then
		echo "--- FAIL: bin/evaluate generate --device cuda exited non-zero:"
		cat "$dir/cuda.err"
		return 1
	fi
	cat "$dir/cuda.err"
	echo "generated $n tokens on cuda in $((SECONDS - t0)) s; text in $dir/cuda.txt"
	if cmp -s "$dir/cuda.txt" "$expected"; then
		echo "result: $n greedy tokens on cuda = $(basename "$golden")$([ "$n" = 256 ] || echo "'s first $n"), $(wc -c <"$expected") bytes identical"
		return 0
	fi
	# Where they part: the first byte, and the first token (--json runs).
	"$BIN/evaluate" generate --model "$model" --prompt "" --max-new-tokens "$n" --device cuda --json \
		>"$dir/cuda.json" 2>/dev/null
	"$BIN/evaluate" generate --model "$model" --prompt "" --max-new-tokens "$n" --device cpu --json \
		>"$dir/cpu.json" 2>/dev/null
	local why
	if [ -n "$PY" ]; then
		why=$("$PY" "$ROOT/pipelines/gpu-check.d/smtcheck.py" gen-diff --expected "$expected" --text "$dir/cuda.txt" \
			--ids-a "$dir/cuda.json" --ids-b "$dir/cpu.json" 2>&1)
	else
		why="summary: $(cmp "$expected" "$dir/cuda.txt" 2>&1 | sed 's/.*differ: //')"
	fi
	echo "--- FAIL: cuda text != golden at $(echo "$why" | sed -n 's/^summary: //p')"
	echo "$why" | grep -v '^summary: '
	echo "--- diff expected cuda (first lines):"
	diff "$expected" "$dir/cuda.txt" | head -12
	return 1
}

gc_gen_n=256
gc_gen_env=()
gc_gen_ok=1
if [ "$MODE" = standin ]; then
	gc_gen_n=${GPU_CHECK_GEN_TOKENS:-64}
	if [ -n "$PY" ] && gc_gen_libs=$("$PY" "$ROOT/pipelines/gpu-check.d/smtcheck.py" standin-libs "$ROOT"); then
		gc_gen_env=(SMT_CUDA_LIBRARY_PATH="$gc_gen_libs")
	else
		gc_gen_ok=0
		skip gen-greedy "standin: no stand-in libraries built for these sources (run the built-in checks first)"
	fi
fi
if [ $gc_gen_ok = 1 ]; then
	export -f gc_gen_greedy
	check gen-greedy env ROOT="$ROOT" BIN="$BIN" PY="$PY" "${gc_gen_env[@]}" \
		bash -c 'gc_gen_greedy "$@"' _ "$OUT/gen-greedy" "$gc_gen_n" "$ROOT/pkg/evaluate/testdata/expected_greedy_t0.txt"
	export -nf gc_gen_greedy
	note gen-greedy "$(sed -n 's/^result: //p' "$OUT/gen-greedy.log" | head -1)$([ "$MODE" = standin ] && echo " (standin)")"
fi
unset gc_gen_n gc_gen_env gc_gen_ok gc_gen_libs
unset -f gc_gen_greedy
