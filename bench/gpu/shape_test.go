package main

import (
	"testing"

	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/llama"
)

func TestSelectBlocks(t *testing.T) {
	s := presets["llama2-7b"]
	lay := llama.NewLayout(s.Config())
	for _, policy := range []string{"random", "v-heavy"} {
		tables, err := SelectBlocks(s, lay, 863, 256, policy, 1)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := SelectBlocks(s, lay, 863, 256, policy, 1)
		seen := map[[3]int32]bool{}
		n := 0
		for i, tb := range tables {
			tt := &lay.Tensors[i]
			if tt.Kind != llama.Q && tt.Kind != llama.K && tt.Kind != llama.V {
				t.Fatalf("%s: blocks in %s", policy, tt.Name)
			}
			if tb.Out != tt.Rows() || tb.In != tt.Cols() || tb.Size != 256 {
				t.Fatalf("%s: table %+v for %s", policy, tb, tt.Name)
			}
			a := again[i]
			for j := range tb.Rows {
				k := [3]int32{int32(i), tb.Rows[j], tb.Cols[j]}
				if seen[k] {
					t.Fatalf("%s: block %v twice", policy, k)
				}
				seen[k] = true
				if a.Rows[j] != tb.Rows[j] || a.Cols[j] != tb.Cols[j] {
					t.Fatalf("%s: not deterministic", policy)
				}
				n++
			}
		}
		if n != 863 {
			t.Errorf("%s: %d blocks", policy, n)
		}
		st := blockStats(lay, tables)
		t.Logf("%s: q %d k %d v %d, lowest layer %d, %d tensors", policy, st.Q, st.K, st.V, st.Lowest, len(tables))
		if policy == "v-heavy" && st.V != 863*6/10 {
			t.Errorf("v-heavy: %d blocks in v", st.V)
		}
	}
	if _, err := SelectBlocks(s, lay, 0, 256, "random", 1); err == nil {
		t.Error("0 blocks accepted")
	}
	if _, err := SelectBlocks(s, lay, 10, 256, "best", 1); err == nil {
		t.Error("unknown policy accepted")
	}
	if _, err := SelectBlocks(s, lay, 10, 300, "random", 1); err == nil {
		t.Error("block size 300 accepted")
	}
}

// TestInitWeights checks the fast initialiser on the CPU backend: every
// matrix value written, none zero, the spread asked for, norms one.
func TestInitWeights(t *testing.T) {
	s := presets["tiny"]
	be := cpu.New32(1)
	m := llama.New(s.Config(), be)
	initWeights(m, 3, 0.02)
	h := make([]float32, m.Layout.Total)
	be.Download(h, m.Params)
	for _, tt := range m.Layout.Tensors {
		v := h[tt.Offset : tt.Offset+tt.Size]
		switch tt.Kind {
		case llama.AttnNorm, llama.MLPNorm, llama.FinalNorm:
			for _, x := range v {
				if x != 1 {
					t.Fatalf("%s: %v, want 1", tt.Name, x)
				}
			}
			continue
		}
		var sum, sq float64
		for _, x := range v {
			if x == 0 || x > 0.0347 || x < -0.0347 {
				t.Fatalf("%s: value %v", tt.Name, x)
			}
			sum += float64(x)
			sq += float64(x) * float64(x)
		}
		n := float64(len(v))
		if mean, std := sum/n, sq/n; mean > 0.002 || mean < -0.002 || std < 0.00035 || std > 0.00045 {
			t.Errorf("%s: mean %v, variance %v (want about 0.0004)", tt.Name, mean, std)
		}
	}
	m2 := llama.New(s.Config(), be)
	initWeights(m2, 3, 0.02)
	h2 := make([]float32, m.Layout.Total)
	be.Download(h2, m2.Params)
	for i := range h {
		if h[i] != h2[i] {
			t.Fatal("initWeights is not deterministic in its seed")
		}
	}
}

func TestFillUniformNeverZero(t *testing.T) {
	v := make([]float32, 3<<20+17)
	fillUniform(v, 9, 1)
	for i, x := range v {
		if x == 0 || x >= 1 || x <= -1 {
			t.Fatalf("v[%d] = %v", i, x)
		}
	}
}

func TestOverlay(t *testing.T) {
	p := presets["llama2-7b"]
	if got := overlay(p, Shape{Batch: 16}); got != p {
		t.Errorf("overlay with the preset's own batch changed it: %+v", got)
	}
	got := overlay(p, Shape{Layers: 2, Seq: 128})
	if got.Layers != 2 || got.Seq != 128 || got.Dim != 4096 || got.Name != "llama2-7b*" {
		t.Errorf("overlay: %+v", got)
	}
}
