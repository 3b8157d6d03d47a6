// Package evaluate is the evaluate stage: it generates continuations of the
// LLM-Adapters test prompts with a model and scores them the way the SMT
// reference does (answer extraction and the report come from package eval).
//
// The pieces:
//
//   - Decoding says how tokens are picked: greedy (the default), beam search
//     as Hugging Face's generate(num_beams=4, repetition_penalty=1.1) does it
//     for the reference evaluation, or temperature / top-p sampling;
//   - Engine runs a model and its tokenizer with one Decoding over batches of
//     prompts (sorted by length, left-padded, with a key/value cache) and
//     turns the new tokens into text as the reference does: the decoded
//     prompt's characters removed from the decoded whole sequence;
//   - Run evaluates a set of tasks into a run directory: settings.json (the
//     settings a resumed run must share), predictions.jsonl (appended and
//     fsynced batch by batch, so an interrupted run resumes where it
//     stopped), report.json and report.md.
package evaluate
