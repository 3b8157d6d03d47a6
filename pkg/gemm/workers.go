package gemm

import "sync"

// task is a unit of work handed to a pool worker: run(tid) for one worker id.
type task interface {
	runWorker(tid int)
}

// worker is a persistent goroutine that runs one task at a time.
type worker struct {
	jobs chan workItem
}

// workItem is one task and the worker id to run it as.
type workItem struct {
	t   task
	tid int
	wg  *sync.WaitGroup
}

var (
	poolMu   sync.Mutex
	poolIdle []*worker // workers waiting for work
)

// acquireWorkers reserves up to n idle workers (starting new ones as
// needed) for the caller's exclusive use. Every reserved worker is
// guaranteed to start the task it is given, so teams that synchronise
// through a barrier cannot deadlock, however many Sgemm calls run at once.
func acquireWorkers(dst []*worker, n int) []*worker {
	poolMu.Lock()
	for len(dst) < n && len(poolIdle) > 0 {
		last := len(poolIdle) - 1
		dst = append(dst, poolIdle[last])
		poolIdle = poolIdle[:last]
	}
	poolMu.Unlock()
	for len(dst) < n {
		w := &worker{jobs: make(chan workItem, 1)}
		go w.loop()
		dst = append(dst, w)
	}
	return dst
}

// loop runs tasks until the process exits; after each it rejoins the idle
// list.
func (w *worker) loop() {
	for it := range w.jobs {
		it.t.runWorker(it.tid)
		poolMu.Lock()
		poolIdle = append(poolIdle, w)
		poolMu.Unlock()
		it.wg.Done()
	}
}

// runTeam runs t.runWorker(tid) for tid = 0..n-1: tid 0 on the calling
// goroutine, the others on pool workers, and returns when all are done.
func runTeam(t task, n int, scratch *teamScratch) {
	if n <= 1 {
		t.runWorker(0)
		return
	}
	scratch.workers = acquireWorkers(scratch.workers[:0], n-1)
	scratch.wg.Add(n - 1)
	for i, w := range scratch.workers {
		w.jobs <- workItem{t: t, tid: i + 1, wg: &scratch.wg}
	}
	t.runWorker(0)
	scratch.wg.Wait()
	clear(scratch.workers)
}

// teamScratch is reusable per-call bookkeeping for runTeam.
type teamScratch struct {
	workers []*worker
	wg      sync.WaitGroup
}
