// Package eval holds everything of the evaluation stage that does not need a
// model: the LLM-Adapters test sets (and HellaSwag built from its validation
// text), the task registry, answer extraction and scoring exactly as the
// reference scripts do it, the per-example predictions file (appended and
// fsynced record by record so that an interrupted run resumes), and the
// report.json / report.md summaries.
//
// The evaluate binary wires these to a model's batched generation, roughly:
//
//	task, _ := eval.Lookup("boolq")
//	exs, _ := eval.LoadTask(dataDir, task.Name)
//	w, done, _ := eval.OpenPredictions("predictions.jsonl")
//	for each batch of exs with !done.Has(ex.Task, ex.ID):
//	    prompt := tmpl.Eval(ex.Record) // pkg/prompt
//	    gen := <the model's continuation of prompt>
//	    pred, ok := task.Score(gen, ex.Answer)
//	    w.Write(eval.Prediction{Task: ex.Task, ID: ex.ID, Prompt: prompt,
//	        Generation: gen, Prediction: pred, Gold: ex.Answer, Correct: ok})
//	report.SetTasks(eval.Summarize(done + new predictions, tasks))
//	eval.WriteReport(outDir, &report)
//
// Reference behaviour (see SMT-REFERENCE.md §3.3): SMT's
// deepspeed/evaluation/run_commonsense_parallel.py for the eight commonsense
// tasks, LLM-Adapters' evaluate.py (extract_answer_number,
// extract_answer_letter) for the math tasks.
package eval
