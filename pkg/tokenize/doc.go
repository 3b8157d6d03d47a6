// Package tokenize is the library behind the tokenize stage: it reads
// instruction datasets (package dataset), renders each record with a
// prompt template (package prompt), tokenizes it the way the reference SMT
// code does, and writes train and eval token shards with a manifest
// (package shards) into a directory that appears atomically.
//
// Tokenization rule (SMT deepspeed/helpers/helper.py, SMT-REFERENCE §3.2).
// For a record the template gives source (the prompt) and target (the
// response; the SMT template removes literal "</s>" from it). Then
//
//	full   = Encode(source + target) followed by the EOS id
//	prompt = len(Encode(source))
//	loss_mask[t] = 0 for t < prompt, 1 for t ≥ prompt
//
// exactly as the reference tokenizes source+target as one string and masks
// the first len(tokens(source)) labels. (The reference appends the EOS
// token as the text "</s>" and lets the tokenizer parse it; since that text
// is split off as a special token, the ids are those of source+target with
// the EOS id appended.) Where the tokens of source+target do not start with
// the tokens of source — a BPE merge across the boundary, as happens with
// the llm-adapters template, whose source ends in 16 spaces that merge
// with the first word of the response — the mask still covers
// len(tokens(source)) positions, as in the reference: the first response
// token may be masked. TrainOnInputs sets every mask value to 1 but the
// first (input_ids[0] is never a target, see package shards).
//
// Special tokens are parsed in the text by default, as Hugging Face
// tokenizers do (the reference is a Hugging Face tokenizer); the SMT
// template's literal "<s> " thus becomes the BOS id followed by the tokens
// of " Below …" (see package tokenizer about the "legacy" dummy prefix).
// BOS is added as BOSMode says (ResolveBOS).
//
// Overflow: an example longer than MaxLen tokens (EOS included) is cut to
// its first MaxLen tokens (Truncate; counted as truncated; when no target
// is left it is kept and counted in no_targets) or left out (Drop;
// counted as dropped).
//
// Record numbering: the shards' record column is the record's index in
// the concatenation of the input files, in the order given, counting every
// record of every file (malformed, skipped and dropped ones included); the
// manifest's sources list each file's record count, so a global index maps
// back to a file and its 0-based position there.
//
// Eval split (EvalSplit): a fraction f puts each record in the eval split
// when a hash of (seed, global record index) falls below f — one pass, so
// the eval split holds about f of the records, the same ones for the same
// seed and input. A count k first counts the usable records in a cheap
// pass (parsing, no tokenizing) and then puts exactly k of them, chosen
// uniformly by a generator seeded with seed, in the eval split (before
// any --overflow drop).
package tokenize
