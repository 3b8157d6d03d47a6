package blocks

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/smt-go/smt/pkg/blocks/blockstest"
	"github.com/smt-go/smt/pkg/scores"
)

// selection returns a real selection over the small model (attn+mlp, so
// two pools and several tensors).
func selection(t testing.TB) *Result {
	sm, sb := blockstest.Scores(small, 16, allKinds, map[string]float32{"v": 2}, 11)
	res, err := Select(sm, sb, Options{Policy: PolicyAttnMLP, Score: ScoreReference,
		Budget: Budget{Spec: "9", Kind: BudgetCount, Count: 9}, MLPBudget: Budget{Spec: "0.5%", Kind: BudgetRatio, Ratio: 0.005}})
	if err != nil {
		t.Fatal(err)
	}
	res.Meta.ScoresSHA256 = strings.Repeat("ab", 32)
	return res
}

func TestRoundTrip(t *testing.T) {
	res := selection(t)
	p := filepath.Join(t.TempDir(), "blocks.arrow")
	if err := Write(p, res.Meta, res.Entries); err != nil {
		t.Fatal(err)
	}
	meta, got, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(meta, res.Meta) {
		t.Errorf("meta\n%+v, want\n%+v", meta, res.Meta)
	}
	if !reflect.DeepEqual(got, res.Entries) {
		t.Errorf("entries differ:\n%+v\nwant\n%+v", got, res.Entries)
	}
	if meta.Counts[PoolAttn] != 9 || meta.Counts[PoolMLP] == 0 || meta.Budget != "9" || meta.MLPBudget != "0.5%" || meta.Score != ScoreReference {
		t.Errorf("meta %+v", meta)
	}
	// Tables group by tensor in file order.
	tabs := Tables(got)
	n := 0
	for name, tb := range tabs {
		if tb.Len() != len(tb.Cols) || TensorName(tb.Layer, tb.Kind) != name {
			t.Fatalf("table %s: %+v", name, tb)
		}
		n += tb.Len()
		var want []int32
		for _, e := range got {
			if e.Tensor == name {
				want = append(want, int32(e.Row))
			}
		}
		if !reflect.DeepEqual(want, tb.Rows) {
			t.Fatalf("table %s rows %v, want %v", name, tb.Rows, want)
		}
	}
	if n != len(got) {
		t.Fatalf("tables hold %d blocks of %d", n, len(got))
	}
	// Only the final file is left in the directory.
	if ents, _ := os.ReadDir(filepath.Dir(p)); len(ents) != 1 {
		t.Fatalf("%d files beside blocks.arrow", len(ents)-1)
	}
}

func TestReadRefusals(t *testing.T) {
	res := selection(t)
	first := res.Entries[0] // layer 0, the attn pool
	cases := []struct {
		name string
		meta func(*Meta)
		md   func(arrow.Metadata) arrow.Metadata
		edit func([]Entry) []Entry
		want string
	}{
		{name: "duplicate block", edit: func(es []Entry) []Entry {
			d := es[0]
			d.Rank = 999
			res := append([]Entry{d}, es...)
			return res
		}, want: "row 1: duplicate block"},
		{name: "outside its matrix", edit: func(es []Entry) []Entry {
			es[2].Row = 4 // k and v have 2 block rows, q 4: 4 is outside all
			return es
		}, want: "row 2: block (4, "},
		{name: "negative column", edit: func(es []Entry) []Entry { es[0].Col = -1; return es }, want: "row 0: block (" + strconv.Itoa(first.Row) + ", -1)"},
		{name: "unknown kind", edit: func(es []Entry) []Entry { es[1].Kind = "w"; return es }, want: `row 1: unknown matrix kind "w"`},
		{name: "norm kind", edit: func(es []Entry) []Entry { es[1].Kind = "attn_norm"; return es }, want: "row 1: kind \"attn_norm\""},
		{name: "unscored kind", meta: func(m *Meta) { delete(m.Shapes, first.Kind) }, want: "row 0: kind \"" + first.Kind + "\" has no shape"},
		{name: "tensor name", edit: func(es []Entry) []Entry { es[0].Tensor = "model.layers.1.x"; return es }, want: "row 0: tensor \"model.layers.1.x\" does not match"},
		{name: "layer", edit: func(es []Entry) []Entry {
			es[0].Layer = 9
			es[0].Tensor = TensorName(9, es[0].Kind)
			return es
		}, want: "row 0: layer 9 outside the model's 4 layers"},
		{name: "NaN", edit: func(es []Entry) []Entry { es[3].Score = float32(math.NaN()); return es }, want: "row 3: block"},
		{name: "rank twice", edit: func(es []Entry) []Entry { es[1].Rank = es[0].Rank; return es }, want: "row 1: rank"},
		{name: "negative rank", edit: func(es []Entry) []Entry { es[0].Rank = -3; return es }, want: "row 0: negative rank"},
		{name: "unknown pool", edit: func(es []Entry) []Entry { es[0].Pool = "ffn"; return es }, want: `row 0: pool "ffn"`},
		{name: "counts", meta: func(m *Meta) { m.Counts[PoolAttn]++ }, want: "smt.counts gives pool attn 10 blocks, the file has 9"},
		{name: "count pool", meta: func(m *Meta) { m.Counts["ffn"] = 1 }, want: `unknown pool "ffn"`},
		{name: "policy", meta: func(m *Meta) { m.Policy = "best" }, want: "smt.policy: unknown policy"},
		{name: "score", meta: func(m *Meta) { m.Score = "mean" }, want: "smt.score: unknown score"},
		{name: "sha", meta: func(m *Meta) { m.ScoresSHA256 = "xyz" }, want: "smt.scores_sha256"},
		{name: "shape", meta: func(m *Meta) { m.Shapes["q"] = [2]int{64, 60} }, want: "smt.shapes: q is 64×60"},
		{name: "shape kind", meta: func(m *Meta) { m.Shapes["qq"] = [2]int{64, 64} }, want: "smt.shapes: unknown matrix kind"},
		{name: "meta kinds", meta: func(m *Meta) { m.Kinds = append(m.Kinds, "zz") }, want: "smt.kinds"},
		{name: "format", md: func(md arrow.Metadata) arrow.Metadata { return setMD(md, "smt.format", "smt-scores/1") }, want: "smt.format \"smt-scores/1\""},
		{name: "block size", md: func(md arrow.Metadata) arrow.Metadata { return setMD(md, "smt.block_size", "0") }, want: "smt.block_size is 0"},
		{name: "layers", md: func(md arrow.Metadata) arrow.Metadata { return setMD(md, "smt.layers", "four") }, want: "smt.layers"},
		{name: "shapes json", md: func(md arrow.Metadata) arrow.Metadata { return setMD(md, "smt.shapes", "{") }, want: "smt.shapes"},
		{name: "counts json", md: func(md arrow.Metadata) arrow.Metadata { return setMD(md, "smt.counts", "[]") }, want: "smt.counts"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		m := res.Meta
		m.Shapes = map[string][2]int{}
		for k, v := range res.Meta.Shapes {
			m.Shapes[k] = v
		}
		m.Counts = map[string]int{}
		for k, v := range res.Meta.Counts {
			m.Counts[k] = v
		}
		m.Kinds = append([]string(nil), res.Meta.Kinds...)
		es := append([]Entry(nil), res.Entries...)
		if c.meta != nil {
			c.meta(&m)
		}
		if c.edit != nil {
			es = c.edit(es)
		}
		md := m.Encode()
		if c.md != nil {
			md = c.md(md)
		}
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".arrow")
		if err := writeFile(p, md, es); err != nil {
			t.Fatal(err)
		}
		_, _, err := Read(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", c.name, err, c.want)
		}
		// Write refuses what Read refuses (metadata edits through Meta
		// aside from those only the raw keys can express).
		if c.md == nil && Write(p, m, es) == nil {
			t.Errorf("%s: Write accepted it", c.name)
		}
	}
}

func setMD(md arrow.Metadata, key, val string) arrow.Metadata {
	keys, vals := append([]string(nil), md.Keys()...), append([]string(nil), md.Values()...)
	for i, k := range keys {
		if k == key {
			vals[i] = val
		}
	}
	return arrow.NewMetadata(keys, vals)
}

func TestReadNotBlocks(t *testing.T) {
	dir := t.TempDir()
	// A scores file has the wrong columns.
	sm, sb := blockstest.Scores(small, 16, []string{"q"}, nil, 1)
	sp := filepath.Join(dir, "scores.arrow")
	if err := scores.Write(sp, sm, sb); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Read(sp); err == nil || !strings.Contains(err.Error(), "10 columns, expected 8") {
		t.Errorf("scores file: %v", err)
	}
	junk := filepath.Join(dir, "junk.arrow")
	os.WriteFile(junk, []byte("not arrow at all"), 0o644)
	if _, _, err := Read(junk); err == nil || !strings.Contains(err.Error(), "not an Arrow IPC file") {
		t.Errorf("junk: %v", err)
	}
	if _, _, err := Read(filepath.Join(dir, "missing.arrow")); err == nil {
		t.Error("missing file read")
	}
}

// FuzzRead feeds mutated block files to the reader (decode: Read without
// the file, whose fsyncs would slow the fuzzer down): it must return an
// error, never crash, and what it accepts must pass Check and survive a
// round trip unchanged.
func FuzzRead(f *testing.F) {
	res := selection(f)
	var seed bytes.Buffer
	if err := encode(&seed, res.Meta.Encode(), res.Entries); err != nil {
		f.Fatal(err)
	}
	b := seed.Bytes()
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add(bytes.Replace(b, []byte("attn"), []byte("attx"), 1))
	f.Add(bytes.Replace(b, []byte("smt-blocks/1"), []byte("smt-blocks/2"), 1))
	f.Add([]byte("ARROW1\x00\x00ARROW1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		meta, es, err := decode(data)
		if err != nil {
			return
		}
		if err := Check(meta, es); err != nil {
			t.Fatalf("decode accepted what Check refuses: %v", err)
		}
		var out bytes.Buffer
		if err := encode(&out, meta.Encode(), es); err != nil {
			t.Fatal(err)
		}
		meta2, es2, err := decode(out.Bytes())
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		if !reflect.DeepEqual(meta, meta2) || !reflect.DeepEqual(es, es2) {
			t.Fatal("round trip changed the data")
		}
	})
}

// TestReadFile checks that Read goes through the file (a written file
// reads back; the fuzz target only covers decode).
func TestReadFile(t *testing.T) {
	res := selection(t)
	p := filepath.Join(t.TempDir(), "b.arrow")
	if err := Write(p, res.Meta, res.Entries); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	_, es, err := decode(data)
	if err != nil || len(es) != len(res.Entries) {
		t.Fatalf("decode of a written file: %d entries, %v", len(es), err)
	}
}
