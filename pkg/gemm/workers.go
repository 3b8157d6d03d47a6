package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// task is a unit of work handed to a team: runWorker(tid) for each worker
// id 0..n-1.
type task interface {
	runWorker(tid int)
}

// Hand-offs between the caller and its workers go through atomics that
// both sides poll for up to spinFor before they sleep. Going through the
// Go scheduler instead (channels, WaitGroup) costs an OS thread wake-up —
// tens of µs on a VM — and, worse, a readied goroutine lands in the run
// queue of the P that readied it, where it may wait until that P's current
// goroutine (doing its own share of the product) finishes: the team then
// runs one after the other. In a training step Sgemm calls follow each
// other closely, so workers are usually still spinning when the next call
// comes.
const spinFor = 50 * time.Microsecond

// worker is a persistent goroutine that runs one work item at a time.
type worker struct {
	state atomic.Int32 // workerSpinning, workerSleeping or workerReady
	item  workItem     // written by post before state becomes workerReady
	wake  chan struct{}
}

// Worker states.
const (
	workerSpinning = iota // polling state for work
	workerSleeping        // blocked on wake
	workerReady           // item holds work to run
)

// workItem is one task, the worker id to run it as, and the team to report
// completion to.
type workItem struct {
	t    task
	tid  int
	team *teamScratch
}

var (
	poolMu   sync.Mutex
	poolIdle []*worker // workers not reserved by any call
)

// acquireWorkers reserves up to n idle workers (starting new ones as
// needed) for the caller's exclusive use, so concurrent calls never wait
// on each other's workers.
func acquireWorkers(dst []*worker, n int) []*worker {
	poolMu.Lock()
	for len(dst) < n && len(poolIdle) > 0 {
		last := len(poolIdle) - 1
		dst = append(dst, poolIdle[last])
		poolIdle = poolIdle[:last]
	}
	poolMu.Unlock()
	for len(dst) < n {
		w := &worker{wake: make(chan struct{}, 1)}
		go w.loop()
		dst = append(dst, w)
	}
	return dst
}

// post hands an item to a reserved worker and reports whether the worker
// had gone to sleep.
func (w *worker) post(it workItem) bool {
	w.item = it
	if w.state.Swap(workerReady) == workerSleeping {
		w.wake <- struct{}{}
		return true
	}
	return false
}

// await returns once an item has been posted, spinning first, then
// sleeping.
func (w *worker) await() {
	start := time.Now()
	for i := 1; w.state.Load() != workerReady; i++ {
		if i%256 == 0 && time.Since(start) > spinFor {
			if w.state.CompareAndSwap(workerSpinning, workerSleeping) {
				<-w.wake
			}
			return
		}
	}
}

// loop runs items until the process exits. A worker rejoins the idle list
// before it reports completion, so it is available as soon as the caller
// returns.
func (w *worker) loop() {
	for {
		w.await()
		it := w.item
		w.item = workItem{}
		w.state.Store(workerSpinning)
		it.t.runWorker(it.tid)
		poolMu.Lock()
		poolIdle = append(poolIdle, w)
		poolMu.Unlock()
		it.team.finish()
	}
}

// teamScratch is the reusable completion state of one runTeam call.
type teamScratch struct {
	workers []*worker
	// pending holds 2 × (workers still running) + 1 if the caller sleeps.
	pending atomic.Int32
	done    chan struct{}
}

// finish records that one worker is done and wakes the caller if it was
// the last and the caller sleeps. It is a worker's last access to the team.
func (ts *teamScratch) finish() {
	if ts.pending.Add(-2) == 1 {
		ts.done <- struct{}{}
	}
}

// wait returns when every worker has called finish.
func (ts *teamScratch) wait() {
	start := time.Now()
	for i := 1; ; i++ {
		v := ts.pending.Load()
		if v == 0 {
			return
		}
		if i%256 == 0 && time.Since(start) > spinFor && ts.pending.CompareAndSwap(v, v|1) {
			<-ts.done
			ts.pending.Store(0)
			return
		}
	}
}

// runTeam runs t.runWorker(tid) for tid = 0..n-1: tid 0 on the calling
// goroutine, the others on pool workers, and returns when all are done.
func runTeam(t task, n int, ts *teamScratch) {
	if n <= 1 {
		t.runWorker(0)
		return
	}
	if ts.done == nil {
		ts.done = make(chan struct{}, 1)
	}
	ts.workers = acquireWorkers(ts.workers[:0], n-1)
	ts.pending.Store(int32(2 * (n - 1)))
	woke := false
	for i, w := range ts.workers {
		woke = w.post(workItem{t: t, tid: i + 1, team: ts}) || woke
	}
	if woke {
		// A sleeping worker was readied onto this P's run queue; yield so
		// an idle P can pick one of us up rather than both running here
		// in turn.
		runtime.Gosched()
	}
	t.runWorker(0)
	ts.wait()
	clear(ts.workers)
}
