package evaluate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/eval"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/tokenizer"
)

// Options configure Run.
type Options struct {
	// Model is the Hugging Face model directory.
	Model string
	// Data holds the LLM-Adapters test sets (see eval.Loader).
	Data string
	// HellaSwag is the HellaSwag validation text ("" searches beside Data).
	HellaSwag string
	// Tasks are the task names (see ParseTasks).
	Tasks []string
	// Out is the run directory.
	Out string
	// Limit keeps the first Limit examples of each task (0: all).
	Limit int
	// Batch is the number of prompts generated together.
	Batch int
	// Template is the prompt template's name (prompt.Get).
	Template string
	// Decoding says how tokens are picked.
	Decoding Decoding
}

// Result summarises a Run.
type Result struct {
	// Report is what report.json holds.
	Report *eval.Report
	// Examples is the number of examples evaluated (all tasks).
	Examples int
	// Generated counts the examples this run wrote to the predictions file
	// (skipped prompts included), Resumed those found there already.
	Generated, Resumed int
	// Skipped counts prompts that fill the model's context on their own
	// (scored wrong with an empty generation); Capped those whose new-token
	// budget was cut to fit the context.
	Skipped, Capped int
	// Dir is the run directory.
	Dir string
}

// ErrInterrupted is returned (wrapped) when ctx is cancelled between
// batches. The predictions so far are saved, and the report is written
// for them.
var ErrInterrupted = errors.New("evaluation interrupted; rerun with the same --out to resume")

// work is one task's examples with their prompts.
type work struct {
	task    eval.Task
	exs     []eval.Example
	prompts []string  // prompt texts
	ids     [][]int32 // prompt tokens
	todo    []int     // indices of exs not in the predictions file
}

// Run evaluates opt.Tasks with the model of opt.Model on be, resuming from
// opt.Out's predictions when there are any (and refusing with a
// *MismatchError when opt.Out was started with other settings).
func Run(ctx context.Context, opt Options, be backend.Backend, prog *cmdutil.Progress) (*Result, error) {
	if opt.Batch < 1 {
		return nil, fmt.Errorf("evaluate: batch size %d", opt.Batch)
	}
	if err := opt.Decoding.Validate(); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	tmpl, err := prompt.Get(opt.Template)
	if err != nil {
		return nil, err
	}
	cfg, err := llama.ReadConfig(opt.Model)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(opt.Model)
	if err != nil {
		return nil, err
	}
	addBOS, bosWhy := ResolveBOS(tok, tmpl)
	works, err := loadWork(opt, tmpl, tok, addBOS)
	if err != nil {
		return nil, err
	}

	settingsPath := filepath.Join(opt.Out, SettingsFile)
	old, err := ReadSettings(settingsPath)
	if err != nil {
		return nil, err
	}
	var known []FileID
	if old != nil {
		known = old.Model.Files
	}
	prog.Printf("identifying the model files of %s", opt.Model)
	mf, err := IdentifyModel(opt.Model, known)
	if err != nil {
		return nil, err
	}
	settings, err := ClaimRunDir(opt.Out, &Settings{Version: 1, Model: mf, Tokenizer: tok.Hash(), Template: tmpl.Name(), BOS: addBOS,
		DType: be.DType().String(), Decoding: opt.Decoding, Created: time.Now().UTC()})
	if err != nil {
		return nil, err
	}

	w, done, err := eval.OpenPredictions(filepath.Join(opt.Out, PredictionsFile))
	if err != nil {
		return nil, err
	}
	defer w.Close()
	res := &Result{Dir: opt.Out}
	for _, wk := range works {
		res.Examples += len(wk.exs)
		for i, ex := range wk.exs {
			p, ok := done.Get(ex.Task, ex.ID)
			if !ok {
				wk.todo = append(wk.todo, i)
				continue
			}
			if p.Prompt != wk.prompts[i] || p.Gold != ex.Answer {
				return nil, fmt.Errorf("evaluate: %s: task %s id %d was generated from another prompt or gold answer (the template or test set changed); use another --out",
					w.Path(), ex.Task, ex.ID)
			}
			res.Resumed++
		}
	}
	if res.Resumed > 0 {
		prog.Printf("resuming: %d of %d examples already in %s", res.Resumed, res.Examples, w.Path())
	}

	m, err := llama.Load(opt.Model, be)
	if err != nil {
		return nil, err
	}
	eng, err := NewEngine(m, tok, opt.Decoding)
	if err != nil {
		return nil, err
	}
	for _, wk := range works {
		for _, ids := range wk.ids {
			if b := eng.Budget(len(ids)); b < 1 {
				res.Skipped++
			} else if b < opt.Decoding.MaxNewTokens {
				res.Capped++
			}
		}
	}
	if res.Skipped+res.Capped > 0 {
		prog.Printf("%d prompts do not fit the model's %d positions (scored wrong); %d get fewer than %d new tokens",
			res.Skipped, cfg.MaxPositionEmbeddings, res.Capped, opt.Decoding.MaxNewTokens)
	}
	reserve(eng, works, opt.Batch)

	report := &eval.Report{Model: opt.Model, Template: tmpl.Name(), StartedAt: settings.Created,
		Generation: eval.Generation{Strategy: opt.Decoding.Strategy(), NumBeams: opt.Decoding.Beams, MaxNewTokens: opt.Decoding.MaxNewTokens,
			RepetitionPenalty: opt.Decoding.RepetitionPenalty, Temperature: opt.Decoding.Temperature, TopP: opt.Decoding.TopP,
			BatchSize: opt.Batch, Seed: int64(opt.Decoding.Seed)},
		Settings: map[string]any{"data": opt.Data, "predictions": w.Path(), "device": be.Name(), "dtype": be.DType().String(),
			"bos": bosWhy, "limit": opt.Limit, "prompts_too_long": res.Skipped, "prompts_capped": res.Capped}}
	res.Report = report

	mt := newMeter(prog, res.Examples, res.Resumed)
	written, runErr := generateAll(ctx, eng, works, opt.Batch, w, mt)
	res.Generated = len(written)
	preds := selected(works, done, written)
	report.SetTasks(eval.Summarize(preds, opt.Tasks))
	report.FinishedAt = time.Now().UTC()
	if err := eval.WriteReport(opt.Out, report); err != nil {
		return res, err
	}
	return res, runErr
}

// loadWork reads the test sets and builds the prompts.
func loadWork(opt Options, tmpl prompt.Template, tok *tokenizer.Tokenizer, addBOS bool) ([]*work, error) {
	loader := eval.Loader{DataDir: opt.Data, HellaSwagPath: opt.HellaSwag}
	var works []*work
	for _, name := range opt.Tasks {
		t, err := eval.Lookup(name)
		if err != nil {
			return nil, err
		}
		exs, err := loader.Load(t.Name)
		if err != nil {
			return nil, err
		}
		if opt.Limit > 0 && len(exs) > opt.Limit {
			exs = exs[:opt.Limit]
		}
		wk := &work{task: t, exs: exs}
		for _, ex := range exs {
			text := tmpl.Eval(ex.Record)
			wk.prompts = append(wk.prompts, text)
			ids := tok.Encode(text, tokenizer.EncodeOptions{ParseSpecial: true, AddBOS: addBOS && tok.BOS() >= 0})
			if len(ids) == 0 {
				return nil, fmt.Errorf("evaluate: task %s id %d: the prompt has no tokens", ex.Task, ex.ID)
			}
			wk.ids = append(wk.ids, ids)
		}
		works = append(works, wk)
	}
	return works, nil
}

// reserve sizes the cache once for every batch of the run.
func reserve(eng *Engine, works []*work, batch int) {
	positions, rows := 0, 0
	for _, wk := range works {
		lengths := make([]int, len(wk.todo))
		for k, i := range wk.todo {
			lengths[k] = len(wk.ids[i])
		}
		batches, _ := eng.Plan(lengths, batch)
		positions = max(positions, eng.Positions(lengths, batches))
		rows = max(rows, min(batch, len(wk.todo)))
	}
	if rows > 0 && positions > 0 {
		eng.Reserve(rows, positions)
	}
}

// generateAll completes the open examples task by task, writing each
// batch's predictions as it finishes, and returns what it wrote.
func generateAll(ctx context.Context, eng *Engine, works []*work, batch int, w *eval.PredictionWriter, mt *meter) ([]eval.Prediction, error) {
	var written []eval.Prediction
	for _, wk := range works {
		if len(wk.todo) == 0 {
			continue
		}
		prompts := make([][]int32, len(wk.todo))
		for k, i := range wk.todo {
			prompts[k] = wk.ids[i]
		}
		taskDone := len(wk.exs) - len(wk.todo)
		_, err := eng.Complete(prompts, batch, func(idx []int, out []Completion) error {
			preds := make([]eval.Prediction, len(idx))
			for k, j := range idx {
				i := wk.todo[j]
				ex := wk.exs[i]
				pred, ok := wk.task.Score(out[j].Text, ex.Answer)
				preds[k] = eval.Prediction{Task: ex.Task, ID: ex.ID, Prompt: wk.prompts[i], Generation: out[j].Text,
					Prediction: pred, Gold: ex.Answer, Correct: ok}
			}
			if err := w.Write(preds...); err != nil {
				return err
			}
			written = append(written, preds...)
			gen := !out[idx[0]].Skipped
			taskDone += len(idx)
			mt.add(wk.task.Name, len(idx), gen, taskDone, len(wk.exs))
			select {
			case <-ctx.Done():
				return fmt.Errorf("evaluate: %w", ErrInterrupted)
			default:
				return nil
			}
		})
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// selected returns the predictions of the run's examples: those resumed
// from the file and those written now. Other lines of the file (tasks or
// examples outside this run's --tasks and --limit) are left out.
func selected(works []*work, done *eval.Completed, written []eval.Prediction) []eval.Prediction {
	now := make(map[eval.Key]eval.Prediction, len(written))
	for _, p := range written {
		now[p.Key()] = p
	}
	var out []eval.Prediction
	for _, wk := range works {
		for _, ex := range wk.exs {
			if p, ok := done.Get(ex.Task, ex.ID); ok {
				out = append(out, p)
			} else if p, ok := now[eval.Key{Task: ex.Task, ID: ex.ID}]; ok {
				out = append(out, p)
			}
		}
	}
	return out
}
