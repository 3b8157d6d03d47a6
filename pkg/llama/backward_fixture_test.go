package llama

import (
	"math"
	"testing"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/safetensors"
)

// TestGradientsMatchPyTorch compares the loss and every parameter gradient
// of a masked batch with PyTorch autograd in float64
// (testdata/tiny-gqa/train.safetensors, written by gen_fixture.py).
func TestGradientsMatchPyTorch(t *testing.T) {
	dir := "testdata/tiny-gqa"
	fx, err := safetensors.Open(dir + "/train.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer fx.Close()
	ids64, _ := fx.Int64s("ids")
	lab64, _ := fx.Int64s("labels")
	info, _ := fx.Info("ids")
	B, T := info.Shape[0], info.Shape[1]
	ids, labels := make([]int32, len(ids64)), make([]int32, len(lab64))
	for i := range ids64 {
		ids[i], labels[i] = int32(ids64[i]), int32(lab64[i])
	}
	wantLoss, _ := fx.Float32("loss")

	be := cpu.New32(0)
	m, err := Load(dir, be)
	if err != nil {
		t.Fatal(err)
	}
	g := m.NewGradTargets()
	for i, tn := range m.Layout.Tensors {
		g.Dense[i] = be.Alloc(backend.F32, tn.Size)
	}
	a := m.NewTrainActs(B, T, g)
	m.Forward(a, ids)
	loss, _ := m.Loss(a, shiftLabels(labels, B, T), true)
	m.Backward(a, ids, g, m.NewGradScratch(B*T))
	if math.Abs(loss-float64(wantLoss[0])) > 1e-4*float64(wantLoss[0]) {
		t.Errorf("loss %.7f, PyTorch %.7f", loss, wantLoss[0])
	}
	for i, tn := range m.Layout.Tensors {
		want, err := fx.Float32("grad." + tn.Name)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, tn.Size)
		be.Download(got, g.Dense[i])
		if e := maxRelErr(got, want); e > 1e-4 {
			t.Errorf("%s: gradient max relative error %.3g > 1e-4", tn.Name, e)
		}
	}
}
