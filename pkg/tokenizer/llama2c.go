package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// ParseLlama2C builds a tokenizer from the bytes of a llama2.c
// tokenizer.bin: int32 max_token_length, then for each token a float32
// score, an int32 byte length and the bytes, all little-endian. Spaces
// stand for SentencePiece's "▁"; BOS and EOS are written "\n<s>\n" and
// "\n</s>\n". The result encodes like the SentencePiece model it was
// exported from (identity normalizer, dummy prefix, byte fallback when all
// 256 <0xNN> pieces are present). source names the file in errors.
func ParseLlama2C(data []byte, source string) (*Tokenizer, error) {
	m, err := parseLlama2C(data)
	if err != nil {
		return nil, fmt.Errorf("%s: llama2.c tokenizer: %w", where(source), err)
	}
	t, err := newFromSPModel(m, source)
	if err != nil {
		return nil, fmt.Errorf("%s: llama2.c tokenizer: %w", where(source), err)
	}
	return t, nil
}

func parseLlama2C(b []byte) (*spModel, error) {
	if len(b) < 4 {
		return nil, errors.New("file shorter than the 4-byte max_token_length header")
	}
	maxLen := int32(binary.LittleEndian.Uint32(b))
	if maxLen <= 0 || maxLen > 1<<16 {
		return nil, fmt.Errorf("max_token_length %d is out of range (1..65536)", maxLen)
	}
	m := defaultSPModel()
	m.modelType = spModelBPE
	m.normName = "identity"
	m.removeExtraWS = false
	m.unkID, m.bosID, m.eosID, m.padID = -1, -1, -1, -1
	off := 4
	nbytes := 0
	for off < len(b) {
		i := len(m.pieces)
		if len(b)-off < 8 {
			return nil, fmt.Errorf("token %d at byte %d: truncated header (%d bytes left)", i, off, len(b)-off)
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(b[off:]))
		n := int32(binary.LittleEndian.Uint32(b[off+4:]))
		off += 8
		if n <= 0 || n > maxLen {
			return nil, fmt.Errorf("token %d at byte %d: length %d is out of range (1..max_token_length %d)", i, off-4, n, maxLen)
		}
		if int(n) > len(b)-off {
			return nil, fmt.Errorf("token %d at byte %d: length %d runs past the end of the file", i, off-4, n)
		}
		raw := string(b[off : off+int(n)])
		off += int(n)
		if !utf8.ValidString(raw) {
			return nil, fmt.Errorf("token %d: bytes %q are not valid UTF-8", i, raw)
		}
		p := spPiece{score: score, typ: Normal}
		switch {
		case raw == "<unk>" && m.unkID < 0:
			p.piece, p.typ, m.unkID = raw, Unknown, int32(i)
		case raw == "\n<s>\n" && m.bosID < 0:
			p.piece, p.typ, m.bosID = "<s>", Control, int32(i)
		case raw == "\n</s>\n" && m.eosID < 0:
			p.piece, p.typ, m.eosID = "</s>", Control, int32(i)
		default:
			if _, ok := parseBytePiece(raw); ok {
				p.piece, p.typ = raw, Byte
				nbytes++
			} else {
				p.piece = strings.ReplaceAll(raw, " ", spaceSymbol)
			}
		}
		m.pieces = append(m.pieces, p)
	}
	if len(m.pieces) == 0 {
		return nil, errors.New("no tokens")
	}
	if m.unkID < 0 {
		return nil, errors.New("no <unk> token")
	}
	m.vocabSize = int32(len(m.pieces))
	m.byteFallback = nbytes > 0
	return &m, nil
}
