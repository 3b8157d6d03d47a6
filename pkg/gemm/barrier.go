package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// barrier blocks a fixed team of workers until all have arrived. Waiters
// spin briefly (the team is usually balanced to within one tile) and then
// sleep, so a barrier never burns a core for long when the machine is
// loaded.
type barrier struct {
	n       int32
	arrived atomic.Int32
	gen     atomic.Uint32
	mu      sync.Mutex
	cond    *sync.Cond
}

// reset prepares the barrier for a team of n workers.
func (b *barrier) reset(n int) {
	b.n = int32(n)
	b.arrived.Store(0)
	if b.cond == nil {
		b.cond = sync.NewCond(&b.mu)
	}
}

// spinLimit bounds the busy-wait before a waiter sleeps (a few µs).
const spinLimit = 4000

// wait blocks until all n workers have called wait for this generation.
func (b *barrier) wait() {
	if b.n <= 1 {
		return
	}
	g := b.gen.Load()
	if b.arrived.Add(1) == b.n {
		b.arrived.Store(0)
		b.mu.Lock()
		b.gen.Add(1)
		b.cond.Broadcast()
		b.mu.Unlock()
		return
	}
	for i := 0; i < spinLimit; i++ {
		if b.gen.Load() != g {
			return
		}
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	b.mu.Lock()
	for b.gen.Load() == g {
		b.cond.Wait()
	}
	b.mu.Unlock()
}
