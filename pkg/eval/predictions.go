package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// Prediction is one line of the predictions file (JSON Lines).
type Prediction struct {
	// Task is the task name, e.g. "boolq".
	Task string `json:"task"`
	// ID is the example's index in the task's test file.
	ID int `json:"id"`
	// Prompt is the text the model was given.
	Prompt string `json:"prompt"`
	// Generation is the model's continuation of the prompt.
	Generation string `json:"generation"`
	// Prediction is the answer extracted from Generation ("" for none).
	Prediction string `json:"prediction"`
	// Gold is the test set's answer.
	Gold string `json:"gold"`
	// Correct is whether Prediction matches Gold.
	Correct bool `json:"correct"`
}

// Key identifies an example across runs.
type Key struct {
	// Task is the task name.
	Task string
	// ID is the example's index in the test file.
	ID int
}

// Key returns p's (task, id).
func (p Prediction) Key() Key { return Key{p.Task, p.ID} }

func (p Prediction) check() error {
	if p.Task == "" {
		return errors.New(`missing or empty "task"`)
	}
	if p.ID < 0 {
		return fmt.Errorf(`negative "id" %d`, p.ID)
	}
	return nil
}

// Completed holds the predictions already in a predictions file.
type Completed struct {
	preds []Prediction
	index map[Key]int
}

// Has reports whether the example (task, id) is done.
func (c *Completed) Has(task string, id int) bool {
	_, ok := c.index[Key{task, id}]
	return ok
}

// Get returns the stored prediction of (task, id). A caller that resumes
// should compare its Prompt with the prompt it would build now: a mismatch
// means the template or data changed between the runs.
func (c *Completed) Get(task string, id int) (Prediction, bool) {
	i, ok := c.index[Key{task, id}]
	if !ok {
		return Prediction{}, false
	}
	return c.preds[i], true
}

// Len returns the number of completed examples.
func (c *Completed) Len() int { return len(c.preds) }

// Keys returns the completed (task, id) pairs in file order.
func (c *Completed) Keys() []Key {
	keys := make([]Key, len(c.preds))
	for i, p := range c.preds {
		keys[i] = p.Key()
	}
	return keys
}

// Predictions returns the completed predictions in file order.
func (c *Completed) Predictions() []Prediction { return append([]Prediction(nil), c.preds...) }

// ParsePredictions parses predictions JSON Lines from r (name appears in
// errors). Only complete lines count: bytes after the last '\n' are a torn
// write and are ignored. It returns the predictions and the length of the
// valid prefix (up to and including the last '\n'). A complete line that is
// not a prediction object, an empty line, and a (task, id) seen twice are
// *FormatError values naming the file and line.
func ParsePredictions(r io.Reader, name string) (*Completed, int64, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, fmt.Errorf("eval: read %s: %w", name, err)
	}
	valid := bytes.LastIndexByte(data, '\n') + 1
	c := &Completed{index: map[Key]int{}}
	line := 0
	for off := 0; off < valid; {
		end := off + bytes.IndexByte(data[off:valid], '\n')
		text := data[off:end]
		off = end + 1
		line++
		if len(bytes.TrimSpace(text)) == 0 {
			return nil, 0, formatErr(name, line, -1, "empty line")
		}
		var p Prediction
		if err := decodePrediction(text, &p); err != nil {
			return nil, 0, &FormatError{File: name, Line: line, Record: -1, Err: err}
		}
		if prev, dup := c.index[p.Key()]; dup {
			return nil, 0, formatErr(name, line, -1, "task %q id %d already on line %d", p.Task, p.ID, prev+1)
		}
		c.index[p.Key()] = len(c.preds)
		c.preds = append(c.preds, p)
	}
	return c, int64(valid), nil
}

// decodePrediction decodes one line strictly: a single JSON object with
// "task" and "id" present and valid.
func decodePrediction(text []byte, p *Prediction) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(text, &keys); err != nil || keys == nil {
		if err == nil {
			err = errors.New("null")
		}
		return fmt.Errorf("not a JSON object: %v", err)
	}
	for _, k := range [...]string{"task", "id"} {
		if _, ok := keys[k]; !ok {
			return fmt.Errorf("missing %q", k)
		}
	}
	if err := json.Unmarshal(text, p); err != nil {
		return err
	}
	return p.check()
}

// Resume reads the predictions file at path so that an interrupted run can
// skip what it finished. A missing file is an empty result. If the file ends
// in a torn write (bytes after the last '\n'), the file is truncated to its
// last complete line and synced, so that appending continues cleanly.
// Malformed complete lines are errors naming the file and line; the file is
// left untouched then.
func Resume(path string) (*Completed, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return &Completed{index: map[Key]int{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eval: resume: %w", err)
	}
	defer f.Close()
	c, valid, err := ParsePredictions(f, path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("eval: resume: %w", err)
	}
	if st.Size() != valid {
		if err := f.Truncate(valid); err != nil {
			return nil, fmt.Errorf("eval: resume: cut torn last line of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("eval: resume: sync %s: %w", path, err)
		}
	}
	return c, nil
}

// PredictionWriter appends predictions to a JSON Lines file. Every Write
// ends with an fsync, so a crash loses at most the batch being written, and
// Resume cuts any torn line away. It is safe for concurrent use.
type PredictionWriter struct {
	mu   sync.Mutex
	f    *os.File
	path string
	size int64 // bytes known to be good; a failed write is cut back to it
	done map[Key]bool
}

// OpenPredictions resumes the predictions file at path (see Resume; it is
// created if missing) and opens it for appending. It returns the examples
// already done; the writer refuses to write them again.
func OpenPredictions(path string) (*PredictionWriter, *Completed, error) {
	c, err := Resume(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("eval: open predictions: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("eval: open predictions: %w", err)
	}
	w := &PredictionWriter{f: f, path: path, size: st.Size(), done: make(map[Key]bool, c.Len())}
	for _, k := range c.Keys() {
		w.done[k] = true
	}
	return w, c, nil
}

// CreatePredictions starts a fresh predictions file at path, discarding any
// previous content.
func CreatePredictions(path string) (*PredictionWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("eval: create predictions: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("eval: create predictions: %w", err)
	}
	return &PredictionWriter{f: f, path: path, done: map[Key]bool{}}, nil
}

// Path returns the file the writer appends to.
func (w *PredictionWriter) Path() string { return w.path }

// Write appends ps as one write, one line each, and fsyncs the file. It
// fails without writing anything if a prediction lacks a task, has a
// negative id, or repeats a (task, id) already written. If the write or the
// fsync fails, the file is cut back to its previous length so that no torn
// line is left in the middle of it.
func (w *PredictionWriter) Write(ps ...Prediction) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("eval: write %s: writer closed", w.path)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<s>" readable in prompts
	batch := make(map[Key]bool, len(ps))
	for _, p := range ps {
		if err := p.check(); err != nil {
			return fmt.Errorf("eval: write %s: %w", w.path, err)
		}
		if w.done[p.Key()] || batch[p.Key()] {
			return fmt.Errorf("eval: write %s: task %q id %d already written", w.path, p.Task, p.ID)
		}
		batch[p.Key()] = true
		if err := enc.Encode(p); err != nil {
			return fmt.Errorf("eval: write %s: %w", w.path, err)
		}
	}
	if _, err := w.f.Write(buf.Bytes()); err != nil {
		return w.rollback(fmt.Errorf("eval: write %s: %w", w.path, err))
	}
	if err := w.f.Sync(); err != nil {
		return w.rollback(fmt.Errorf("eval: sync %s: %w", w.path, err))
	}
	w.size += int64(buf.Len())
	for k := range batch {
		w.done[k] = true
	}
	return nil
}

// rollback cuts the file back to w.size after a failed write; if that fails
// too, the writer is closed so that nothing is appended after a torn line.
func (w *PredictionWriter) rollback(err error) error {
	if terr := w.f.Truncate(w.size); terr != nil {
		w.f.Close()
		w.f = nil
		return fmt.Errorf("%w (and cutting back failed: %v; writer closed)", err, terr)
	}
	return err
}

// Close closes the file.
func (w *PredictionWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("eval: close %s: %w", w.path, err)
	}
	return nil
}
