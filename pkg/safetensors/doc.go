// Package safetensors reads and writes the Hugging Face safetensors format,
// for single files and for sharded checkpoints with a
// model.safetensors.index.json.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// UTF-8 JSON, then a byte buffer. The JSON maps each tensor name to its dtype,
// shape and [begin, end) data_offsets into the buffer; the optional key
// "__metadata__" holds a string-to-string map. Tensors are stored row-major,
// little-endian, and cover the buffer exactly: no gaps, no overlaps, no
// trailing bytes.
//
// Reading maps the file into memory (mmap) and hands out tensors one by one,
// either as zero-copy byte views (Bytes) or converted to float32
// (Float32, ReadFloat32). Every header is validated before any tensor is
// served; errors name the file and the tensor at fault.
//
// Writing streams: NewWriter computes every offset from the tensor specs up
// front, writes the header, and then takes the tensors one at a time in spec
// order, so a model never has to be in memory at once. Files are written
// through package atomicfile (temporary file, fsync, rename), so an
// interrupted write never leaves a partial file under the final name.
// NewShardedWriter and WriteModel split a model into
// model-0000K-of-0000N.safetensors shards at a size limit and write the index
// the way Hugging Face transformers does.
//
// The float conversions (BF16ToFloat32, Float32ToBF16, F16ToFloat32,
// Float32ToF16, EncodeFloat32, DecodeFloat32) give the same bits as PyTorch on
// the CPU, which the tests check against a fixture made by PyTorch.
package safetensors
