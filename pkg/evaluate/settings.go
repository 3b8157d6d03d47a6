package evaluate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/smt-go/smt/pkg/atomicfile"
)

// File names inside a run directory (besides eval.ReportJSON and
// eval.ReportMarkdown).
const (
	SettingsFile    = "settings.json"
	PredictionsFile = "predictions.jsonl"
)

// Settings are what the predictions of a run directory depend on. A run
// resumes only with equal settings: the same model weights and tokenizer,
// template, element type and decoding. Tasks, --limit and the batch size may
// change between runs (a result does not depend on its batch).
type Settings struct {
	// Version is the format version, 1.
	Version int `json:"version"`
	// Model identifies the model's files.
	Model ModelFiles `json:"model"`
	// Tokenizer is the tokenizer's content hash.
	Tokenizer string `json:"tokenizer"`
	// Template is the prompt template's name.
	Template string `json:"template"`
	// BOS says whether a BOS id is put in front of the prompt text.
	BOS bool `json:"bos"`
	// DType is the backend's element type (f32 on the CPU, bf16 on a GPU).
	DType string `json:"dtype"`
	// Decoding holds the generation settings.
	Decoding Decoding `json:"decoding"`
	// Created is when the run directory was started.
	Created time.Time `json:"created"`
}

// ModelFiles identifies a model directory by its files' contents.
type ModelFiles struct {
	// Dir is the directory the run was started with (informative only).
	Dir string `json:"dir"`
	// Files are config.json and the weight files, sorted by name.
	Files []FileID `json:"files"`
}

// FileID is one file's name, size, modification time and SHA-256. A file
// whose size and time match is taken to be unchanged without hashing it.
type FileID struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	SHA256  string    `json:"sha256"`
}

// modelFileNames lists the files of dir that hold the model: config.json,
// *.safetensors and their index.
func modelFileNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("evaluate: model directory: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
			if n == "config.json" || strings.HasSuffix(n, ".safetensors") || strings.HasSuffix(n, ".safetensors.index.json") {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

func statFile(path string) (FileID, error) {
	st, err := os.Stat(path)
	if err != nil {
		return FileID{}, fmt.Errorf("evaluate: %w", err)
	}
	return FileID{Name: filepath.Base(path), Size: st.Size(), ModTime: st.ModTime().UTC()}, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("evaluate: hash model file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("evaluate: hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// IdentifyModel stats and hashes the model files of dir. Files whose name,
// size and time equal an entry of known reuse its hash.
func IdentifyModel(dir string, known []FileID) (ModelFiles, error) {
	names, err := modelFileNames(dir)
	if err != nil {
		return ModelFiles{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	m := ModelFiles{Dir: abs}
	for _, n := range names {
		id, err := statFile(filepath.Join(dir, n))
		if err != nil {
			return ModelFiles{}, err
		}
		for _, k := range known {
			if k.Name == id.Name && k.Size == id.Size && k.ModTime.Equal(id.ModTime) {
				id.SHA256 = k.SHA256
			}
		}
		if id.SHA256 == "" {
			if id.SHA256, err = hashFile(filepath.Join(dir, n)); err != nil {
				return ModelFiles{}, err
			}
		}
		m.Files = append(m.Files, id)
	}
	return m, nil
}

// MismatchError says why a run directory's settings differ from the
// current ones.
type MismatchError struct {
	// Path is the settings file.
	Path string
	// Diffs lists the differences, one per setting.
	Diffs []string
}

// Error lists the differences.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: the run directory was started with other settings (%s); rerun with the same settings to resume, or use another --out",
		e.Path, strings.Join(e.Diffs, "; "))
}

// Diff lists the settings in which s and cur differ.
func (s *Settings) Diff(cur *Settings) []string {
	var d []string
	add := func(name string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			d = append(d, fmt.Sprintf("%s: was %v, now %v", name, a, b))
		}
	}
	add("template", s.Template, cur.Template)
	add("bos", s.BOS, cur.BOS)
	add("dtype", s.DType, cur.DType)
	add("tokenizer", s.Tokenizer, cur.Tokenizer)
	add("max new tokens", s.Decoding.MaxNewTokens, cur.Decoding.MaxNewTokens)
	add("beams", s.Decoding.Beams, cur.Decoding.Beams)
	add("repetition penalty", s.Decoding.RepetitionPenalty, cur.Decoding.RepetitionPenalty)
	add("temperature", s.Decoding.Temperature, cur.Decoding.Temperature)
	add("top-p", s.Decoding.TopP, cur.Decoding.TopP)
	add("seed", s.Decoding.Seed, cur.Decoding.Seed)
	hashes := func(m ModelFiles) string {
		var parts []string
		for _, f := range m.Files {
			parts = append(parts, f.Name+"="+f.SHA256)
		}
		return strings.Join(parts, ",")
	}
	if hashes(s.Model) != hashes(cur.Model) {
		d = append(d, fmt.Sprintf("model files: was %s (%s), now %s (%s)", s.Model.Dir, shortHashes(s.Model), cur.Model.Dir, shortHashes(cur.Model)))
	}
	return d
}

func shortHashes(m ModelFiles) string {
	var parts []string
	for _, f := range m.Files {
		h := f.SHA256
		if len(h) > 12 {
			h = h[:12]
		}
		parts = append(parts, f.Name+" "+h)
	}
	return strings.Join(parts, ", ")
}

// ReadSettings reads a settings file; a missing file is (nil, nil).
func ReadSettings(path string) (*Settings, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("evaluate: read settings: %w", err)
	}
	var s Settings
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("evaluate: read settings %s: %w", path, err)
	}
	if s.Version != 1 {
		return nil, fmt.Errorf("evaluate: settings %s: unknown version %d", path, s.Version)
	}
	return &s, nil
}

// WriteSettings writes s to path atomically.
func WriteSettings(path string, s *Settings) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("evaluate: encode settings: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(data, '\n')); err != nil {
		return fmt.Errorf("evaluate: write settings: %w", err)
	}
	return nil
}

// ClaimRunDir makes dir the run directory of settings cur: it creates dir
// and writes settings.json, or, when dir already has one, checks that it
// matches cur (identifying the model files again only where their size or
// time changed) and returns the stored settings. A directory with
// predictions but no settings file is refused.
func ClaimRunDir(dir string, cur *Settings) (*Settings, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("evaluate: run directory: %w", err)
	}
	path := filepath.Join(dir, SettingsFile)
	old, err := ReadSettings(path)
	if err != nil {
		return nil, err
	}
	if old == nil {
		if _, err := os.Stat(filepath.Join(dir, PredictionsFile)); err == nil {
			return nil, fmt.Errorf("evaluate: %s holds %s but no %s: cannot tell what produced it; use another --out", dir, PredictionsFile, SettingsFile)
		}
		if err := WriteSettings(path, cur); err != nil {
			return nil, err
		}
		return cur, nil
	}
	if d := old.Diff(cur); len(d) > 0 {
		return nil, &MismatchError{Path: path, Diffs: d}
	}
	return old, nil
}
