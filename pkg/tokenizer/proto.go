package tokenizer

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file reads and writes SentencePiece's ModelProto
// (sentencepiece_model.proto) by field number, without generated code.

// spModel is the part of a SentencePiece ModelProto this package uses.
type spModel struct {
	pieces []spPiece

	// trainer_spec (field 2)
	modelType               int32 // 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
	vocabSize               int32
	byteFallback            bool
	treatWhitespaceAsSuffix bool
	unkID, bosID, eosID     int32
	padID                   int32
	unkPiece, bosPiece      string
	eosPiece, padPiece      string
	unkSurface              string

	// normalizer_spec (field 3)
	normName            string
	precompiledCharsmap []byte
	addDummyPrefix      bool
	removeExtraWS       bool
	escapeWS            bool
	normRuleTSV         string
}

type spPiece struct {
	piece string
	score float32
	typ   PieceType
}

// Field numbers of sentencepiece_model.proto.
const (
	fModelPieces     = 1
	fModelTrainer    = 2
	fModelNormalizer = 3

	fPiecePiece = 1
	fPieceScore = 2
	fPieceType  = 3

	fTrainerModelType        = 3
	fTrainerVocabSize        = 4
	fTrainerWSAsSuffix       = 24
	fTrainerByteFallback     = 35
	fTrainerUnkID            = 40
	fTrainerBosID            = 41
	fTrainerEosID            = 42
	fTrainerPadID            = 43
	fTrainerUnkSurface       = 44
	fTrainerUnkPiece         = 45
	fTrainerBosPiece         = 46
	fTrainerEosPiece         = 47
	fTrainerPadPiece         = 48
	fTrainerSplitByWS        = 22
	fTrainerAllowWSOnly      = 26
	fTrainerVocabOutputScore = 32

	fNormName           = 1
	fNormCharsmap       = 2
	fNormAddDummyPrefix = 3
	fNormRemoveExtraWS  = 4
	fNormEscapeWS       = 5
	fNormRuleTSV        = 6

	spModelUnigram = 1
	spModelBPE     = 2
)

// defaultSPModel returns a model with proto2 defaults.
func defaultSPModel() spModel {
	return spModel{
		modelType:      spModelUnigram,
		vocabSize:      8000,
		unkID:          0,
		bosID:          1,
		eosID:          2,
		padID:          -1,
		unkPiece:       "<unk>",
		bosPiece:       "<s>",
		eosPiece:       "</s>",
		padPiece:       "<pad>",
		unkSurface:     " \u2047 ",
		addDummyPrefix: true,
		removeExtraWS:  true,
		escapeWS:       true,
	}
}

// protoField is one decoded field of a message.
type protoField struct {
	num  protowire.Number
	typ  protowire.Type
	v    uint64 // varint, fixed32, fixed64
	data []byte // bytes
}

// walkMessage calls fn for every field of b, failing on malformed input.
func walkMessage(b []byte, fn func(f protoField) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		f := protoField{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.v = uint64(v)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.data, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (f protoField) want(t protowire.Type, name string) error {
	if f.typ != t {
		return fmt.Errorf("field %s (%d) has wire type %d, want %d", name, f.num, f.typ, t)
	}
	return nil
}

func (f protoField) str(name string) (string, error) {
	if err := f.want(protowire.BytesType, name); err != nil {
		return "", err
	}
	if !utf8.Valid(f.data) {
		return "", fmt.Errorf("field %s is not valid UTF-8", name)
	}
	return string(f.data), nil
}

func (f protoField) int32v(name string) (int32, error) {
	if err := f.want(protowire.VarintType, name); err != nil {
		return 0, err
	}
	return int32(f.v), nil
}

func (f protoField) boolv(name string) (bool, error) {
	if err := f.want(protowire.VarintType, name); err != nil {
		return false, err
	}
	return f.v != 0, nil
}

// parseSPModel decodes a serialized ModelProto.
func parseSPModel(b []byte) (*spModel, error) {
	m := defaultSPModel()
	if len(b) == 0 {
		return nil, errors.New("empty file")
	}
	var hasTrainer bool
	err := walkMessage(b, func(f protoField) error {
		switch f.num {
		case fModelPieces:
			if err := f.want(protowire.BytesType, "pieces"); err != nil {
				return err
			}
			p, err := parseSPPiece(f.data)
			if err != nil {
				return fmt.Errorf("pieces[%d]: %w", len(m.pieces), err)
			}
			m.pieces = append(m.pieces, p)
		case fModelTrainer:
			if err := f.want(protowire.BytesType, "trainer_spec"); err != nil {
				return err
			}
			hasTrainer = true
			if err := parseTrainerSpec(f.data, &m); err != nil {
				return fmt.Errorf("trainer_spec: %w", err)
			}
		case fModelNormalizer:
			if err := f.want(protowire.BytesType, "normalizer_spec"); err != nil {
				return err
			}
			if err := parseNormalizerSpec(f.data, &m); err != nil {
				return fmt.Errorf("normalizer_spec: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(m.pieces) == 0 {
		return nil, errors.New("no pieces (not a SentencePiece model?)")
	}
	if !hasTrainer {
		return nil, errors.New("no trainer_spec (not a SentencePiece model?)")
	}
	return &m, nil
}

func parseSPPiece(b []byte) (spPiece, error) {
	p := spPiece{typ: Normal}
	var hasPiece bool
	err := walkMessage(b, func(f protoField) error {
		var err error
		switch f.num {
		case fPiecePiece:
			p.piece, err = f.str("piece")
			hasPiece = true
		case fPieceScore:
			if err = f.want(protowire.Fixed32Type, "score"); err == nil {
				p.score = math.Float32frombits(uint32(f.v))
			}
		case fPieceType:
			var v int32
			if v, err = f.int32v("type"); err == nil {
				if v < int32(Normal) || v > int32(Byte) {
					err = fmt.Errorf("invalid type %d", v)
				}
				p.typ = PieceType(v)
			}
		}
		return err
	})
	if err == nil && !hasPiece {
		err = errors.New("missing piece string")
	}
	return p, err
}

func parseTrainerSpec(b []byte, m *spModel) error {
	return walkMessage(b, func(f protoField) error {
		var err error
		switch f.num {
		case fTrainerModelType:
			m.modelType, err = f.int32v("model_type")
		case fTrainerVocabSize:
			m.vocabSize, err = f.int32v("vocab_size")
		case fTrainerWSAsSuffix:
			m.treatWhitespaceAsSuffix, err = f.boolv("treat_whitespace_as_suffix")
		case fTrainerByteFallback:
			m.byteFallback, err = f.boolv("byte_fallback")
		case fTrainerUnkID:
			m.unkID, err = f.int32v("unk_id")
		case fTrainerBosID:
			m.bosID, err = f.int32v("bos_id")
		case fTrainerEosID:
			m.eosID, err = f.int32v("eos_id")
		case fTrainerPadID:
			m.padID, err = f.int32v("pad_id")
		case fTrainerUnkSurface:
			m.unkSurface, err = f.str("unk_surface")
		case fTrainerUnkPiece:
			m.unkPiece, err = f.str("unk_piece")
		case fTrainerBosPiece:
			m.bosPiece, err = f.str("bos_piece")
		case fTrainerEosPiece:
			m.eosPiece, err = f.str("eos_piece")
		case fTrainerPadPiece:
			m.padPiece, err = f.str("pad_piece")
		}
		return err
	})
}

func parseNormalizerSpec(b []byte, m *spModel) error {
	return walkMessage(b, func(f protoField) error {
		var err error
		switch f.num {
		case fNormName:
			m.normName, err = f.str("name")
		case fNormCharsmap:
			if err = f.want(protowire.BytesType, "precompiled_charsmap"); err == nil {
				m.precompiledCharsmap = f.data
			}
		case fNormAddDummyPrefix:
			m.addDummyPrefix, err = f.boolv("add_dummy_prefix")
		case fNormRemoveExtraWS:
			m.removeExtraWS, err = f.boolv("remove_extra_whitespaces")
		case fNormEscapeWS:
			m.escapeWS, err = f.boolv("escape_whitespaces")
		case fNormRuleTSV:
			m.normRuleTSV, err = f.str("normalization_rule_tsv")
		}
		return err
	})
}

// marshal encodes the model as a ModelProto. Every field this package
// reads is written explicitly, so readers with other defaults agree.
func (m *spModel) marshal() []byte {
	var b []byte
	for _, p := range m.pieces {
		var pb []byte
		pb = protowire.AppendTag(pb, fPiecePiece, protowire.BytesType)
		pb = protowire.AppendString(pb, p.piece)
		pb = protowire.AppendTag(pb, fPieceScore, protowire.Fixed32Type)
		pb = protowire.AppendFixed32(pb, math.Float32bits(p.score))
		pb = protowire.AppendTag(pb, fPieceType, protowire.VarintType)
		pb = protowire.AppendVarint(pb, uint64(p.typ))
		b = protowire.AppendTag(b, fModelPieces, protowire.BytesType)
		b = protowire.AppendBytes(b, pb)
	}

	var tb []byte
	appendInt := func(num protowire.Number, v int32) {
		tb = protowire.AppendTag(tb, num, protowire.VarintType)
		tb = protowire.AppendVarint(tb, uint64(int64(v))) // int32: sign-extended
	}
	appendBool := func(num protowire.Number, v bool) {
		tb = protowire.AppendTag(tb, num, protowire.VarintType)
		tb = protowire.AppendVarint(tb, protowire.EncodeBool(v))
	}
	appendStr := func(num protowire.Number, s string) {
		tb = protowire.AppendTag(tb, num, protowire.BytesType)
		tb = protowire.AppendString(tb, s)
	}
	appendInt(fTrainerModelType, m.modelType)
	appendInt(fTrainerVocabSize, m.vocabSize)
	appendBool(fTrainerSplitByWS, true)
	appendBool(fTrainerWSAsSuffix, m.treatWhitespaceAsSuffix)
	appendBool(fTrainerAllowWSOnly, true)
	appendBool(fTrainerVocabOutputScore, true)
	appendBool(fTrainerByteFallback, m.byteFallback)
	appendInt(fTrainerUnkID, m.unkID)
	appendInt(fTrainerBosID, m.bosID)
	appendInt(fTrainerEosID, m.eosID)
	appendInt(fTrainerPadID, m.padID)
	appendStr(fTrainerUnkSurface, m.unkSurface)
	appendStr(fTrainerUnkPiece, m.unkPiece)
	appendStr(fTrainerBosPiece, m.bosPiece)
	appendStr(fTrainerEosPiece, m.eosPiece)
	appendStr(fTrainerPadPiece, m.padPiece)
	b = protowire.AppendTag(b, fModelTrainer, protowire.BytesType)
	b = protowire.AppendBytes(b, tb)

	var nb []byte
	nb = protowire.AppendTag(nb, fNormName, protowire.BytesType)
	nb = protowire.AppendString(nb, m.normName)
	nb = protowire.AppendTag(nb, fNormCharsmap, protowire.BytesType)
	nb = protowire.AppendBytes(nb, m.precompiledCharsmap)
	for _, f := range []struct {
		num protowire.Number
		v   bool
	}{{fNormAddDummyPrefix, m.addDummyPrefix}, {fNormRemoveExtraWS, m.removeExtraWS}, {fNormEscapeWS, m.escapeWS}} {
		nb = protowire.AppendTag(nb, f.num, protowire.VarintType)
		nb = protowire.AppendVarint(nb, protowire.EncodeBool(f.v))
	}
	b = protowire.AppendTag(b, fModelNormalizer, protowire.BytesType)
	b = protowire.AppendBytes(b, nb)
	return b
}
