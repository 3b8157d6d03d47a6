// Package tokenizer implements the tokenizers of the LLaMA model family
// with exactly the token ids of their reference implementations:
//
//   - SentencePiece BPE with byte fallback (LLaMA-1/2, Mistral, the llama2.c
//     stories models), loaded from a SentencePiece tokenizer.model
//     (ModelProto), from a llama2.c tokenizer.bin, or from a Hugging Face
//     tokenizer.json of the same family (model BPE with byte_fallback and
//     the Prepend/Replace normalizer or the Metaspace pre-tokenizer);
//   - byte-level BPE as LLaMA-3 uses it, from tokenizer.json (the LLaMA-3
//     split pattern is a hand-written scanner, see pretokenize.go).
//
// A Tokenizer is immutable after loading and safe for concurrent use.
//
// Reference behaviour. Files loaded from tokenizer.model or tokenizer.bin
// encode like SentencePiece (0.1.97): normalize (dummy prefix, spaces to
// U+2581), split into characters, repeatedly merge the adjacent pair whose
// concatenation is a piece with the highest score (ties: leftmost), then
// map characters that are no piece to their UTF-8 bytes (<0xNN> pieces).
// Files loaded from tokenizer.json encode like Hugging Face tokenizers:
// merges ranked by their position in "merges", byte fallback applied to
// characters before merging.
//
// Special tokens. SentencePiece itself never recognises "<s>" in text;
// Hugging Face tokenizers always do. EncodeOptions.ParseSpecial selects the
// Hugging Face behaviour: the text is split at special and added tokens, and
// each piece of text in between is encoded on its own. With the LLaMA
// tokenizers' "legacy" behaviour (the default of transformers 4.38 and of
// every LLaMA-1/2 checkpoint), every such piece gets its own dummy-prefix
// space, so "<s> Below" encodes as [<s>, "▁", "▁Below"] = [1, 29871, 13866]
// (the space after "<s>" is kept and a dummy prefix is added in front of it;
// SentencePiece's BPE splits "▁▁Below" into "▁" + "▁Below"). With
// legacy=false (tokenizer_config.json) or a Metaspace pre-tokenizer with
// prepend_scheme "first", only text at the very start of the input gets the
// dummy prefix, and "<s> Below" encodes as [1, 13866].
package tokenizer
