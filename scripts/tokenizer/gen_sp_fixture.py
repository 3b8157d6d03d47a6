#!/usr/bin/python3
"""Reference token ids from SentencePiece for pkg/tokenizer's tests.

Runs under Debian's /usr/bin/python3 with python3-sentencepiece 0.1.97:

    /usr/bin/python3 scripts/tokenizer/gen_sp_fixture.py [--data ../shared/data]

Writes pkg/tokenizer/testdata/sp_llama2.json.gz (the 32000-token LLaMA-2
tokenizer.model) and sp_stories260k.json.gz (testdata/stories260K.tokenizer.model,
which the Go tests write from llama2.c's tok512.bin; regenerate it first with
`go test ./pkg/tokenizer -run TestStoriesModelGolden -update`).

Fixture content (gzip'd JSON):
  sources      the LLM-Adapters files (relative to --data) with sha256; the Go
               test re-reads them and walks every record's "instruction" and
               "output" in this order, skipping strings seen before.
  digests      base64 of 6 bytes per unique source string: the first 6 bytes
               of sha256 over its ids as little-endian int32.
  full         the ids of every full_every-th unique string, for diffs.
  hard         the strings of testdata/hard_strings.json with ids,
               sp.decode(ids) and sp.decode([bos] + ids).
  hf_slow      for strings with "<s>"/"</s>"/"<unk>": what transformers'
               slow LlamaTokenizer (legacy=True, add_bos_token=False) gives:
               the text split at those tokens, each part sp.encode()d.
  decode       sp.decode of hand-picked id sequences.
"""
import argparse, base64, gzip, hashlib, json, os, struct, sys

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TESTDATA = os.path.join(REPO, "pkg", "tokenizer", "testdata")

SOURCES = sorted(
    [f"llm-adapters/dataset/{d}/{f}"
     for d in ["AQuA", "ARC-Challenge", "ARC-Easy", "AddSub", "MultiArith", "SVAMP", "SingleEq", "boolq",
               "gsm8k", "mathqa", "mawps", "openbookqa", "piqa", "social_i_qa", "winogrande"]
     for f in ["test.json", "train.json"]]
) + ["llm-adapters/ft-training_set/math_data.json"]
FIELDS = ["instruction", "output"]
FULL_EVERY = 25


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def digest(ids):
    return hashlib.sha256(struct.pack(f"<{len(ids)}i", *ids)).digest()[:6]


def source_strings(data):
    sources, texts, seen = [], [], set()
    for rel in SOURCES:
        path = os.path.join(data, rel)
        if not os.path.exists(path):
            continue
        sources.append({"path": rel, "sha256": sha256_file(path)})
        with open(path, encoding="utf-8") as f:
            for rec in json.load(f):
                for k in FIELDS:
                    s = rec.get(k, "")
                    if s not in seen:
                        seen.add(s)
                        texts.append(s)
    return sources, texts


def hf_slow_legacy(sp, text, specials):
    """transformers' slow LlamaTokenizer, legacy=True: split at added
    tokens (leftmost, longest), no stripping (AddedToken lstrip/rstrip
    False), sp.encode each remaining part."""
    ids, i, start = [], 0, 0
    while i < len(text):
        m = None
        for tok in sorted(specials, key=len, reverse=True):
            if text.startswith(tok, i):
                m = tok
                break
        if m is None:
            i += 1
            continue
        if i > start:
            ids += sp.encode(text[start:i])
        ids.append(sp.piece_to_id(m))
        i += len(m)
        start = i
    if start < len(text):
        ids += sp.encode(text[start:])
    return ids


def build(model_path, model_rel, data, out_path, sources, texts, hard):
    sp = spm.SentencePieceProcessor(model_file=model_path)
    bos = sp.bos_id()
    all_ids = sp.encode(texts)
    specials = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)]
    fx = {
        "generator": f"scripts/tokenizer/gen_sp_fixture.py with sentencepiece {spm.__version__}",
        "tokenizer": model_rel,
        "tokenizer_sha256": sha256_file(model_path),
        "sources": sources,
        "fields": FIELDS,
        "unique": len(texts),
        "tokens": sum(map(len, all_ids)),
        "digest": "first 6 bytes of sha256 over the ids as little-endian int32",
        "digests": base64.b64encode(b"".join(digest(x) for x in all_ids)).decode(),
        "full_every": FULL_EVERY,
        "full": [all_ids[i] for i in range(0, len(all_ids), FULL_EVERY)],
        "hard": [],
        "hf_slow": [],
        "decode": [],
    }
    for h in hard:
        ids = sp.encode(h["text"])
        fx["hard"].append({"name": h["name"], "text": h["text"], "ids": ids,
                           "decoded": sp.decode(ids), "decoded_bos": sp.decode([bos] + ids)})
        if any(s in h["text"] for s in specials):
            fx["hf_slow"].append({"name": h["name"], "text": h["text"], "ids": hf_slow_legacy(sp, h["text"], specials)})
    n = sp.get_piece_size()
    byte = lambda b: sp.piece_to_id("<0x%02X>" % b)
    seqs = [[bos], [bos, 2], [2, bos], [0], [bos, 0, 5], [byte(0x20)], [byte(0xE2), byte(0x82)],
            [byte(0xE2), byte(0x82), byte(0xAC)], [byte(0xF0), byte(0x9F), byte(0x98), byte(0x80), byte(0xFF)],
            [byte(0x41), n - 1, byte(0x80)], list(range(n - 10, n)), list(range(250, 300)), [n - 1, bos, n - 2]]
    sp_id = sp.piece_to_id("\u2581")
    if sp_id != sp.unk_id():
        seqs += [[sp_id], [sp_id, sp_id], [bos, sp_id, 100], [sp_id, byte(0x41)]]
    for s in seqs:
        fx["decode"].append({"ids": s, "text": sp.decode(s)})
    raw = json.dumps(fx, ensure_ascii=False, separators=(",", ":")).encode()
    with gzip.GzipFile(out_path, "wb", mtime=0) as f:
        f.write(raw)
    print(f"{out_path}: {len(texts)} unique source strings, {fx['tokens']} tokens, "
          f"{len(hard)} hard strings, {os.path.getsize(out_path)} bytes", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data"))
    args = ap.parse_args()
    data = os.path.abspath(args.data)
    with open(os.path.join(TESTDATA, "hard_strings.json"), encoding="utf-8") as f:
        hard = json.load(f)["strings"]
    sources, texts = source_strings(data)
    if not sources:
        sys.exit(f"no LLM-Adapters files under {data}")
    build(os.path.join(data, "llama2-tokenizer", "tokenizer.model"), "llama2-tokenizer/tokenizer.model", data,
          os.path.join(TESTDATA, "sp_llama2.json.gz"), sources, texts, hard)
    stories = os.path.join(TESTDATA, "stories260K.tokenizer.model")
    build(stories, "pkg/tokenizer/testdata/stories260K.tokenizer.model", data,
          os.path.join(TESTDATA, "sp_stories260k.json.gz"), sources, texts, hard)


if __name__ == "__main__":
    main()
