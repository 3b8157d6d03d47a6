package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unsafe"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/safetensors"
)

// State is the part of a run a checkpoint stores besides the trained
// values: enough to continue exactly where the run stopped.
type State struct {
	Step     int     `json:"step"`      // optimizer steps done
	Pos      Pos     `json:"data_pos"`  // next data position
	N        int     `json:"n"`         // trained values
	BestLoss float64 `json:"best_loss"` // lowest held-out loss so far (NaN: none)
	BestStep int     `json:"best_step"`
	Options  Options `json:"options"`
	// Fingerprint identifies the run's inputs (model, data, blocks,
	// settings); a checkpoint of another run is refused.
	Fingerprint string `json:"fingerprint"`
}

// bestJSON writes NaN as null.
func (s State) marshal() string {
	type alias State
	a := alias(s)
	if math.IsNaN(a.BestLoss) {
		a.BestLoss = -1
	}
	b, _ := json.Marshal(a)
	return string(b)
}

func hostBytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// SaveCheckpoint writes the trainer's state, master values, AdamW moments
// and (when keeping the best) the best values to path, atomically.
func (r *Runner) SaveCheckpoint(path string) error {
	t := r.T
	be := t.M.BE
	st := State{Step: t.Step, Pos: t.Pos, N: t.T.N, BestLoss: r.BestLoss, BestStep: r.BestStep, Options: t.Opt, Fingerprint: r.Fingerprint}
	bufs := []struct {
		name string
		b    backend.Buf
	}{{"master", t.T.Master}, {"adam.m", t.T.M}, {"adam.v", t.T.V}, {"best", r.Best}}
	var tensors []safetensors.Tensor
	for _, x := range bufs {
		if x.b == nil {
			continue
		}
		host := make([]float32, t.T.N)
		be.Download(host, x.b)
		tensors = append(tensors, safetensors.Tensor{
			Info: safetensors.TensorInfo{Name: x.name, DType: safetensors.F32, Shape: []int{t.T.N}},
			Data: hostBytes(host),
		})
	}
	return safetensors.WriteFile(path, tensors, map[string]string{"smt.checkpoint": st.marshal()})
}

// LoadCheckpoint restores a checkpoint written by SaveCheckpoint into the
// runner (trained values, moments, best values, step, data position) and
// writes the restored values into the model.
func (r *Runner) LoadCheckpoint(path string) error {
	t := r.T
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var st State
	if err := json.Unmarshal([]byte(f.Metadata()["smt.checkpoint"]), &st); err != nil {
		return fmt.Errorf("checkpoint %s: state: %w", path, err)
	}
	if st.N != t.T.N {
		return fmt.Errorf("checkpoint %s holds %d trained values, this run trains %d", path, st.N, t.T.N)
	}
	if st.Fingerprint != r.Fingerprint {
		return fmt.Errorf("checkpoint %s belongs to another run (fingerprint %s, this run %s): different model, data, blocks or settings", path, st.Fingerprint, r.Fingerprint)
	}
	host := make([]float32, t.T.N)
	for name, b := range map[string]backend.Buf{"master": t.T.Master, "adam.m": t.T.M, "adam.v": t.T.V, "best": r.Best} {
		if b == nil {
			continue
		}
		if err := f.ReadFloat32(name, host); err != nil {
			return fmt.Errorf("checkpoint %s: %w", path, err)
		}
		t.M.BE.Upload(b, host)
	}
	t.Step, t.Pos = st.Step, st.Pos
	r.BestLoss, r.BestStep = st.BestLoss, st.BestStep
	if r.BestLoss < 0 {
		r.BestLoss = math.NaN()
	}
	t.T.Sync()
	return nil
}

// CheckpointName is the file name of the checkpoint after step steps.
func CheckpointName(step int) string { return fmt.Sprintf("checkpoint-%08d.safetensors", step) }

// Checkpoints lists the checkpoints in dir, oldest first.
func Checkpoints(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, "checkpoint-") && strings.HasSuffix(n, ".safetensors") {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}
