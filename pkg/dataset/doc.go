// Package dataset streams instruction-tuning records out of LLM-Adapters /
// Alpaca style dataset files, one record at a time, so that a dataset of
// millions of records is read in memory bounded by its largest record.
//
// A dataset file is either a JSON array of objects (LLM-Adapters' and
// Alpaca's .json files) or JSON Lines (one object per line; blank lines are
// ignored). Each object has the string fields
//
//	instruction  required
//	input        optional (absent, null or "" all mean empty)
//	output       required (may be "")
//	answer       optional
//
// Other keys are ignored; key names are case-sensitive, as in Python.
// GSM8K's JSONL schema {"question", "answer"} is accepted too: an object with
// "question" but no "instruction" becomes instruction = question, output =
// answer (the rationale) and answer = the text after the last "####" (the
// final number).
//
// Files may be compressed with gzip (.gz) or zstd (.zst). Compression is
// recognised by its magic bytes (1f 8b, 28 b5 2f fd), or by the extension
// when the magic is not there (the decompressor then reports what is
// wrong). The layout is recognised from the first non-space byte of the
// (decompressed) text after an optional UTF-8 byte order mark: '[' is a JSON
// array, '{' is JSON Lines. Options.Format can force either.
//
// Records are numbered from 0 in the order they appear in the file; every
// element of the array or non-blank line counts, malformed ones included,
// so a record's index is its position in the file. Lines are numbered from
// 1; a record's line is the line its object starts on.
//
// Errors. Every error names the file and, when it concerns one record, its
// index and line (see Error). A record that is valid JSON but not a usable
// record (not an object, a required field missing, a field that is not a
// string, invalid UTF-8) and, in JSON Lines, a line that is not valid JSON,
// are record errors: Error.Skippable reports true and the next call to Next
// goes on with the following record. A syntax error inside a JSON array, a
// truncated file, data after the array, a decompression or I/O error, or a
// file with no records at all stop the reader: every later Next returns the
// same error.
package dataset
