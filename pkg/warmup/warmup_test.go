package warmup

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/smt-go/smt/internal/testshards"
	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/scores"
	"github.com/smt-go/smt/pkg/shards"
	"github.com/smt-go/smt/pkg/train"
)

func loadStories(t *testing.T) (*llama.Model, string) {
	dir := testutil.RepoRoot(t) + "/models/stories260K"
	m, err := llama.Load(dir, cpu.New32(2))
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

// TestScoresMatchDirectGradients runs warmup on stories260K with 8×8
// blocks and checks every score in scores.arrow against gradients computed
// directly with the model's backward pass on the same batches.
func TestScoresMatchDirectGradients(t *testing.T) {
	data := testshards.Build(t, "llm-adapters/dataset/ARC-Easy/train.json", 48, 0, 384)
	m, modelDir := loadStories(t)
	out := filepath.Join(t.TempDir(), "scores.arrow")
	opt := Options{Model: modelDir, Shards: data, Out: out, Steps: 3, Batch: 4, MaxLen: 512, Seed: 7,
		Update: "none", Kinds: []llama.Kind{llama.Q, llama.K, llama.V}, BlockSize: 8,
		Opt: train.Options{LR: 0, Schedule: "constant", Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Accum: 2}}
	res, err := Run(context.Background(), m, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	meta, blocks, err := scores.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	// 5 layers × (q 8×8 + k 4×8 + v 4×8) blocks.
	if len(blocks) != 5*(64+32+32) || res.Blocks != len(blocks) || meta.BlockSize != 8 || meta.Steps != 3 || meta.Update != "none" {
		t.Fatalf("%d blocks, meta %+v", len(blocks), meta)
	}

	// The same batches, gradients by hand.
	m2, _ := loadStories(t)
	split, err := shards.OpenSplit(data, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer split.Close()
	l, _ := train.NewLoader(split, 4, 512, false, 7)
	G, A := map[string][]float32{}, map[string][]float32{}
	var pos train.Pos
	for s := 0; s < 3; s++ {
		var bs []*train.Batch
		total := 0
		for k := 0; k < 2; k++ {
			var b *train.Batch
			b, pos = l.Next(pos)
			bs = append(bs, b)
			total += b.Count
		}
		g := m2.NewGradTargets()
		for i, tn := range m2.Layout.Tensors {
			if tn.Kind == llama.Q || tn.Kind == llama.K || tn.Kind == llama.V {
				g.Dense[i] = m2.BE.Alloc(backend.F32, tn.Size)
			}
		}
		for _, b := range bs {
			a := m2.NewTrainActs(b.B, b.T, g)
			m2.Forward(a, b.IDs)
			m2.LossSum(a, b.Targets, float32(1/float64(total)))
			m2.Backward(a, b.IDs, g, m2.NewGradScratch(b.B*b.T))
		}
		for i, tn := range m2.Layout.Tensors {
			if g.Dense[i] == nil {
				continue
			}
			gs := cpu.Data[float32](g.Dense[i])
			if G[tn.Name] == nil {
				G[tn.Name], A[tn.Name] = make([]float32, tn.Size), make([]float32, tn.Size)
			}
			for j, v := range gs {
				G[tn.Name][j] += v
				A[tn.Name][j] += float32(math.Abs(float64(v)))
			}
		}
	}
	for _, bl := range blocks {
		tn, _ := m2.Layout.ByName(bl.Tensor)
		want := scores.Compute(G[bl.Tensor], A[bl.Tensor], tn.Rows(), tn.Cols(), 8)[bl.Row*(tn.Cols()/8)+bl.Col]
		for k := range want {
			if d := math.Abs(float64(bl.Scores[k] - want[k])); d > 1e-4*math.Abs(float64(want[k]))+1e-9 {
				t.Fatalf("%s block (%d,%d) %s = %g, direct %g", bl.Tensor, bl.Row, bl.Col, scores.ScoreColumns[k], bl.Scores[k], want[k])
			}
		}
		if bl.Scores[0] <= 0 {
			t.Fatalf("%s block (%d,%d) has zero gradient", bl.Tensor, bl.Row, bl.Col)
		}
	}

	// The file read by Arrow's own IPC reader, schema checked field by field.
	f, _ := os.Open(out)
	defer f.Close()
	fr, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		typ  arrow.DataType
	}{{"tensor", arrow.BinaryTypes.String}, {"layer", arrow.PrimitiveTypes.Int32}, {"kind", arrow.BinaryTypes.String},
		{"block_row", arrow.PrimitiveTypes.Int32}, {"block_col", arrow.PrimitiveTypes.Int32},
		{"mean_abs", arrow.PrimitiveTypes.Float32}, {"abs_mean", arrow.PrimitiveTypes.Float32}, {"l1", arrow.PrimitiveTypes.Float32},
		{"l2", arrow.PrimitiveTypes.Float32}, {"mean_abs_step", arrow.PrimitiveTypes.Float32}}
	sc := fr.Schema()
	if sc.NumFields() != len(want) {
		t.Fatalf("schema %v", sc)
	}
	for i, w := range want {
		if f := sc.Field(i); f.Name != w.name || !arrow.TypeEqual(f.Type, w.typ) {
			t.Errorf("field %d: %s %s, want %s %s", i, f.Name, f.Type, w.name, w.typ)
		}
	}
	rows := 0
	for i := 0; i < fr.NumRecords(); i++ {
		rec, _ := fr.RecordBatch(i)
		rows += int(rec.NumRows())
	}
	if rows != len(blocks) {
		t.Errorf("arrow reader sees %d rows, we read %d", rows, len(blocks))
	}
}

func TestBlockSizeMustDivide(t *testing.T) {
	m, _ := loadStories(t)
	err := CheckBlockSize(m, []llama.Kind{llama.Q, llama.K}, 24)
	if err == nil || !strings.Contains(err.Error(), "block size 24 does not divide the q matrix [64, 64]") {
		t.Fatalf("error %v", err)
	}
}
