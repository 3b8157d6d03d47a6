package cuda

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"runtime"
	"sync"
	"unsafe"

	"github.com/smt-go/smt/kernels"
	"github.com/smt-go/smt/pkg/backend"
	cu "github.com/smt-go/smt/pkg/cuda"
)

// Options configure a backend beyond the device number.
type Options struct {
	// Load says where to find libcuda and cuBLAS (the zero value searches
	// the standard places; tests point it at stand-in libraries).
	Load cu.LoadOptions
	// SyncEachOp synchronizes the stream after every operation, so that an
	// asynchronous fault is reported by the operation that caused it (slow;
	// also enabled by SMT_CUDA_SYNC=1).
	SyncEachOp bool
}

// Backend is the CUDA implementation of backend.Backend for one device.
// It is safe for use from several goroutines (operations are serialized);
// see the package documentation for the threading model.
type Backend struct {
	mu   sync.Mutex
	drv  *cu.Driver
	blas *cu.BLAS
	ctx  *cu.Context
	h    *cu.BLASHandle
	st   cu.Stream
	mods []cu.Module
	fns  map[string]cu.Function
	smem map[string]int // dynamic shared memory enabled per kernel

	name      string
	sms       int
	smemOptin int
	syncEach  bool

	args      *cu.Args
	arena     arena
	ring      ring
	workspace cu.DevicePtr
	hostBuf   []uint16 // staging for bf16/f16 conversions

	live      map[cu.DevicePtr]int // allocations → bytes
	allocated int64                // bytes in live allocations, the arena and the workspace
	peak      int64
	closed    bool
}

var _ backend.Backend = (*Backend)(nil)

// workspaceBytes is the cuBLAS workspace (NVIDIA recommends 32 MiB on
// Hopper).
const workspaceBytes = 32 << 20

// New opens CUDA device number device: it loads libcuda and cuBLAS, makes
// the device's primary context current, creates a stream and a cuBLAS
// handle on it, and loads the kernels.
func New(device int) (*Backend, error) { return NewWithOptions(device, Options{}) }

// NewWithOptions is New with options.
func NewWithOptions(device int, o Options) (be *Backend, err error) {
	var drv *cu.Driver
	if len(o.Load.Dirs) == 0 && !o.Load.OnlyDirs && !o.Load.Local {
		drv, err = cu.Default()
	} else {
		drv, err = cu.LoadDriver(o.Load)
	}
	if err != nil {
		return nil, err
	}
	n, err := drv.DeviceCount()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("cuda: the driver (%s) sees no CUDA device", drv.Path())
	}
	if device < 0 || device >= n {
		return nil, fmt.Errorf("cuda: no device %d (the driver sees %d)", device, n)
	}
	dev, err := drv.Device(device)
	if err != nil {
		return nil, err
	}
	blas, err := cu.LoadBLAS(o.Load, drv.Version())
	if err != nil {
		return nil, err
	}
	ctx, err := dev.PrimaryContext()
	if err != nil {
		return nil, err
	}
	be = &Backend{drv: drv, blas: blas, ctx: ctx, fns: map[string]cu.Function{}, smem: map[string]int{},
		args: new(cu.Args), live: map[cu.DevicePtr]int{}, syncEach: o.SyncEachOp || os.Getenv("SMT_CUDA_SYNC") == "1"}
	be.arena.be = be
	be.ring.be = be
	if err := ctx.Enter(); err != nil {
		_ = ctx.Release()
		return nil, err
	}
	defer ctx.Exit()
	if err := be.init(dev); err != nil {
		be.closeLocked()
		return nil, err
	}
	return be, nil
}

// entryRe finds the kernels of a PTX module.
var entryRe = regexp.MustCompile(`\.entry\s+(\w+)\(`)

func (be *Backend) init(dev cu.Device) error {
	name, err := dev.Name()
	if err != nil {
		return err
	}
	mem, err := dev.TotalMem()
	if err != nil {
		return err
	}
	attr := func(a int) int {
		if err != nil {
			return 0
		}
		var v int
		v, err = dev.Attribute(a)
		return v
	}
	major, minor := attr(cu.AttrComputeCapabilityMajor), attr(cu.AttrComputeCapabilityMinor)
	be.sms = max(attr(cu.AttrMultiprocessorCount), 1)
	be.smemOptin = attr(cu.AttrMaxSharedMemPerBlockOptin)
	if err != nil {
		return err
	}
	if major < 8 {
		return fmt.Errorf("cuda: %s has compute capability %d.%d; the kernels need 8.0 (A100) or newer for bf16", name, major, minor)
	}
	v := be.drv.Version()
	bv := be.blas.Version()
	be.name = fmt.Sprintf("cuda:%d (%s, %.0f GiB, sm_%d%d, driver CUDA %d.%d, cuBLAS %d.%d.%d)", dev.Ordinal, name,
		float64(mem)/(1<<30), major, minor, v/1000, v%1000/10, bv/10000, bv/100%100, bv%100)

	if be.st, err = be.drv.StreamCreate(0); err != nil {
		return err
	}
	if be.h, err = be.blas.Create(); err != nil {
		return err
	}
	if err = be.h.SetStream(be.st); err != nil {
		return err
	}
	if be.workspace, err = be.drv.MemAlloc(workspaceBytes); err != nil {
		return err
	}
	be.account(workspaceBytes)
	if err = be.h.SetWorkspace(be.workspace, workspaceBytes); err != nil {
		return err
	}
	// fp32 accumulation everywhere: no TF32 for fp32 GEMMs (the default
	// math mode), and no reductions in bf16 when the output is bf16.
	if err = be.h.SetMathMode(cu.MathDefault | cu.MathDisallowReducedPrecisionReduction); err != nil {
		return err
	}
	for _, m := range kernels.Modules() {
		mod, err := be.drv.ModuleLoadData(m.Name+".ptx", m.PTX)
		if err != nil {
			return err
		}
		be.mods = append(be.mods, mod)
		for _, e := range entryRe.FindAllSubmatch(m.PTX, -1) {
			f, err := be.drv.ModuleFunction(mod, string(e[1]))
			if err != nil {
				return err
			}
			be.fns[f.Name] = f
		}
	}
	return nil
}

// Close releases the device memory the backend holds (every buffer it
// allocated included), its stream, cuBLAS handle and modules. The backend
// must not be used afterwards.
func (be *Backend) Close() error {
	be.mu.Lock()
	defer be.mu.Unlock()
	if be.closed {
		return nil
	}
	if err := be.ctx.Enter(); err != nil {
		return err
	}
	defer be.ctx.Exit()
	return be.closeLocked()
}

func (be *Backend) closeLocked() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if be.st != 0 {
		keep(be.drv.StreamSynchronize(be.st))
	}
	for p := range be.live {
		keep(be.drv.MemFree(p))
	}
	be.live = nil
	be.arena.free()
	be.ring.free()
	if be.workspace != 0 {
		keep(be.drv.MemFree(be.workspace))
	}
	if be.h != nil {
		keep(be.h.Destroy())
	}
	for _, m := range be.mods {
		keep(be.drv.ModuleUnload(m))
	}
	if be.st != 0 {
		keep(be.drv.StreamDestroy(be.st))
	}
	keep(be.ctx.Release())
	be.closed = true
	return first
}

// Name implements backend.Backend.
func (be *Backend) Name() string { return be.name }

// DType implements backend.Backend: weights and activations are bf16.
func (be *Backend) DType() backend.DType { return backend.BF16 }

// Driver returns the loaded driver (for tools that need more of the API).
func (be *Backend) Driver() *cu.Driver { return be.drv }

// MemStats reports device memory use.
type MemStats struct {
	Allocated   int64 // bytes the backend holds now: buffers, scratch arena, cuBLAS workspace
	Peak        int64 // the most Allocated has been since New or ResetPeak
	DeviceUsed  int64 // bytes in use on the device by every process (total − free)
	DeviceTotal int64
}

// Memory returns the current memory statistics.
func (be *Backend) Memory() MemStats {
	be.enter()
	defer be.exit()
	free, total, err := be.drv.MemGetInfo()
	be.must("Memory", err)
	return MemStats{Allocated: be.allocated, Peak: be.peak, DeviceUsed: total - free, DeviceTotal: total}
}

// ResetPeak sets the peak to the current allocation.
func (be *Backend) ResetPeak() {
	be.mu.Lock()
	be.peak = be.allocated
	be.mu.Unlock()
}

func (be *Backend) account(bytes int) {
	be.allocated += int64(bytes)
	be.peak = max(be.peak, be.allocated)
}

// enter starts an operation: it takes the backend's lock, pins the
// goroutine to its OS thread and makes the context current there, and
// makes the scratch arena empty.
func (be *Backend) enter() {
	be.mu.Lock()
	if be.closed {
		be.mu.Unlock()
		panic("cuda backend: used after Close")
	}
	if err := be.ctx.Enter(); err != nil {
		be.mu.Unlock()
		panic(fmt.Errorf("cuda backend: %w", err))
	}
	be.arena.reset()
}

// exit ends an operation started by enter.
func (be *Backend) exit() {
	if be.syncEach && !be.closed {
		err := be.drv.StreamSynchronize(be.st)
		if err != nil {
			be.ctx.Exit()
			be.mu.Unlock()
			panic(fmt.Errorf("cuda backend: after the last operation: %w", err))
		}
	}
	be.ctx.Exit()
	be.mu.Unlock()
}

// must panics with err, naming the operation: backend.Backend has no error
// returns, and a failing device call leaves nothing sensible to continue
// with. Callers that want to survive it can recover the error.
func (be *Backend) must(op string, err error) {
	if err != nil {
		panic(fmt.Errorf("cuda backend: %s: %w", op, err))
	}
}

// Buf is a device buffer: a range of one allocation.
type Buf struct {
	ptr  cu.DevicePtr
	n    int
	dt   backend.DType
	base cu.DevicePtr // the allocation's start, for Free
}

// Len implements backend.Buf.
func (b *Buf) Len() int { return b.n }

// DType implements backend.Buf.
func (b *Buf) DType() backend.DType { return b.dt }

// Ptr is the buffer's device address.
func (b *Buf) Ptr() cu.DevicePtr { return b.ptr }

func (b *Buf) bytes() int { return b.n * b.dt.Size() }

// buf unwraps a backend.Buf (nil stays nil).
func buf(b backend.Buf) *Buf {
	if b == nil {
		return nil
	}
	cb, ok := b.(*Buf)
	if !ok {
		panic(fmt.Sprintf("cuda backend: a %T is not a CUDA buffer", b))
	}
	return cb
}

// ptr returns b's address, or 0 for nil.
func ptr(b *Buf) cu.DevicePtr {
	if b == nil {
		return 0
	}
	return b.ptr
}

// need panics unless b holds at least n elements.
func need(op, what string, b *Buf, n int) {
	if b == nil {
		panic(fmt.Sprintf("cuda backend: %s: %s is nil", op, what))
	}
	if b.n < n {
		panic(fmt.Sprintf("cuda backend: %s: %s has %d elements, needs %d", op, what, b.n, n))
	}
}

func checkDType(dt backend.DType) {
	switch dt {
	case backend.F32, backend.BF16, backend.F16:
	default:
		panic(fmt.Sprintf("cuda backend: %s buffers are not supported (f32, bf16, f16 are)", dt))
	}
}

// Alloc implements backend.Backend: a zeroed buffer of n elements of type
// dt (F32, BF16 or F16).
func (be *Backend) Alloc(dt backend.DType, n int) backend.Buf {
	checkDType(dt)
	if n < 0 {
		panic(fmt.Sprintf("cuda backend: Alloc of %d elements", n))
	}
	be.enter()
	defer be.exit()
	if n == 0 {
		return &Buf{dt: dt}
	}
	bytes := (n*dt.Size() + 255) &^ 255
	p, err := be.drv.MemAlloc(bytes)
	be.must("Alloc", err)
	be.live[p] = bytes
	be.account(bytes)
	be.must("Alloc", be.drv.MemsetD8Async(p, 0, bytes, be.st))
	return &Buf{ptr: p, n: n, dt: dt, base: p}
}

// Slice implements backend.Backend.
func (be *Backend) Slice(b backend.Buf, off, n int) backend.Buf {
	cb := buf(b)
	if off < 0 || n < 0 || off+n > cb.n {
		panic(fmt.Sprintf("cuda backend: slice [%d:%d] of a buffer of %d", off, off+n, cb.n))
	}
	return &Buf{ptr: cb.ptr + cu.DevicePtr(off*cb.dt.Size()), n: n, dt: cb.dt, base: cb.base}
}

// Free implements backend.Backend: it frees the allocation b came from
// (b must be a buffer returned by Alloc, not a slice of one).
func (be *Backend) Free(b backend.Buf) {
	cb := buf(b)
	if cb == nil || cb.base == 0 {
		return
	}
	if cb.ptr != cb.base {
		panic("cuda backend: Free of a slice; free the buffer Alloc returned")
	}
	be.enter()
	defer be.exit()
	bytes, ok := be.live[cb.base]
	if !ok {
		panic("cuda backend: Free of a buffer that is not allocated (freed twice?)")
	}
	// Work queued on the stream may still use the buffer.
	be.must("Free", be.drv.StreamSynchronize(be.st))
	be.must("Free", be.drv.MemFree(cb.base))
	delete(be.live, cb.base)
	be.allocated -= int64(bytes)
	cb.n = 0
}

// Sync implements backend.Backend.
func (be *Backend) Sync() {
	be.enter()
	defer be.exit()
	be.must("Sync", be.drv.StreamSynchronize(be.st))
}

// chunk is the number of elements converted per host staging round.
const chunk = 1 << 22

// Upload implements backend.Backend, converting float32 to dst's type.
func (be *Backend) Upload(dst backend.Buf, src []float32) {
	d := buf(dst)
	if len(src) > d.n {
		panic(fmt.Sprintf("cuda backend: upload of %d values into %d", len(src), d.n))
	}
	if len(src) == 0 {
		return
	}
	be.enter()
	defer be.exit()
	if d.dt == backend.F32 {
		be.must("Upload", be.drv.MemcpyHtoDAsync(d.ptr, unsafe.Pointer(&src[0]), 4*len(src), be.st))
		return
	}
	for off := 0; off < len(src); off += chunk {
		part := src[off:min(off+chunk, len(src))]
		h := be.staging(len(part))
		convertTo(h, part, d.dt)
		be.must("Upload", be.drv.MemcpyHtoDAsync(d.ptr+cu.DevicePtr(2*off), unsafe.Pointer(&h[0]), 2*len(part), be.st))
	}
}

// Download implements backend.Backend, converting to float32. It waits
// for the work queued before it.
func (be *Backend) Download(dst []float32, src backend.Buf) {
	s := buf(src)
	if len(dst) > s.n {
		panic(fmt.Sprintf("cuda backend: download of %d values from %d", len(dst), s.n))
	}
	if len(dst) == 0 {
		return
	}
	be.enter()
	defer be.exit()
	if s.dt == backend.F32 {
		be.must("Download", be.drv.MemcpyDtoHAsync(unsafe.Pointer(&dst[0]), s.ptr, 4*len(dst), be.st))
		be.must("Download", be.drv.StreamSynchronize(be.st))
		return
	}
	for off := 0; off < len(dst); off += chunk {
		part := dst[off:min(off+chunk, len(dst))]
		h := be.staging(len(part))
		be.must("Download", be.drv.MemcpyDtoHAsync(unsafe.Pointer(&h[0]), s.ptr+cu.DevicePtr(2*off), 2*len(part), be.st))
		be.must("Download", be.drv.StreamSynchronize(be.st))
		convertFrom(part, h, s.dt)
	}
}

func (be *Backend) staging(n int) []uint16 {
	if cap(be.hostBuf) < n {
		be.hostBuf = make([]uint16, n)
	}
	return be.hostBuf[:n]
}

// convertTo narrows src into dst (bf16 or f16 bits), in parallel.
func convertTo(dst []uint16, src []float32, dt backend.DType) {
	parallel(len(src), func(lo, hi int) {
		if dt == backend.BF16 {
			for i := lo; i < hi; i++ {
				dst[i] = cu.BF16(src[i])
			}
		} else {
			for i := lo; i < hi; i++ {
				dst[i] = cu.F16(src[i])
			}
		}
	})
}

// convertFrom widens src (bf16 or f16 bits) into dst, in parallel.
func convertFrom(dst []float32, src []uint16, dt backend.DType) {
	parallel(len(dst), func(lo, hi int) {
		if dt == backend.BF16 {
			for i := lo; i < hi; i++ {
				dst[i] = cu.FromBF16(src[i])
			}
		} else {
			for i := lo; i < hi; i++ {
				dst[i] = cu.FromF16(src[i])
			}
		}
	})
}

func parallel(n int, fn func(lo, hi int)) {
	w := min(runtime.NumCPU(), n/(1<<16)+1)
	if w <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(n*k/w, n*(k+1)/w)
	}
	wg.Wait()
}

// Zero implements backend.Backend.
func (be *Backend) Zero(b backend.Buf) {
	cb := buf(b)
	if cb.n == 0 {
		return
	}
	be.enter()
	defer be.exit()
	be.must("Zero", be.drv.MemsetD8Async(cb.ptr, 0, cb.bytes(), be.st))
}

// dts packs the element types of kernel buffer arguments, 4 bits each.
func dts(bufs ...*Buf) int32 {
	var v int32
	for i, b := range bufs {
		if b != nil {
			v |= int32(b.dt) << (4 * i)
		}
	}
	return v
}

// launch runs kernel name with be.args.
func (be *Backend) launch(op, name string, grid, block cu.Dim3, shared int) {
	f, ok := be.fns[name]
	if !ok {
		panic(fmt.Sprintf("cuda backend: %s: kernel %s is not in the embedded PTX", op, name))
	}
	if shared > 48<<10 && be.smem[name] < shared {
		if shared > be.smemOptin {
			panic(fmt.Sprintf("cuda backend: %s: %s needs %d bytes of shared memory; the device allows %d", op, name, shared, be.smemOptin))
		}
		be.must(op, be.drv.FuncSetAttribute(f, cu.FuncAttrMaxDynamicSharedSize, shared))
		be.smem[name] = shared
	}
	be.must(op, be.drv.Launch(f, grid, block, shared, be.st, be.args))
}

// gridFor returns a 1-D grid for a grid-stride loop over n elements.
func (be *Backend) gridFor(n int, block int) cu.Dim3 {
	g := (n + block - 1) / block
	return cu.Dim3{X: max(1, min(g, be.sms*32))}
}

// elementwise launches a grid-stride kernel over n elements.
func (be *Backend) elementwise(op, name string, n int) {
	be.launch(op, name, be.gridFor(n, 256), cu.Dim3{X: 256}, 0)
}

// rowBlock is the block size of a one-block-per-row kernel for rows of
// width w: a multiple of 32, at most 256.
func rowBlock(w int) int { return min(256, max(32, (w+31)&^31)) }

// rowGrid caps a one-block-per-row grid (the kernels loop over rows).
func rowGrid(rows int) cu.Dim3 { return cu.Dim3{X: max(1, min(rows, 1<<30))} }

// Copy2D implements backend.Backend.
func (be *Backend) Copy2D(dst backend.Buf, dstStride int, src backend.Buf, srcStride int, rows, cols int) {
	d, s := buf(dst), buf(src)
	if rows <= 0 || cols <= 0 {
		return
	}
	need("Copy2D", "dst", d, (rows-1)*dstStride+cols)
	need("Copy2D", "src", s, (rows-1)*srcStride+cols)
	be.enter()
	defer be.exit()
	if d.dt == s.dt && (rows == 1 || (dstStride == cols && srcStride == cols)) {
		be.must("Copy2D", be.drv.MemcpyDtoDAsync(d.ptr, s.ptr, rows*cols*d.dt.Size(), be.st))
		return
	}
	be.args.Reset().Ptr(d.ptr).I64(int64(dstStride)).Ptr(s.ptr).I64(int64(srcStride)).I32(dts(d, s)).I64(int64(rows)).I64(int64(cols))
	gx := max(1, min((cols+255)/256, 1024))
	be.launch("Copy2D", "smt_copy2d", cu.Dim3{X: gx, Y: min(rows, 65535)}, cu.Dim3{X: 256}, 0)
}

// arena is device scratch memory for an operation's temporaries: the
// integer inputs copied from the host, pointer arrays, partial sums. It is
// allocated on first need and grown (never per step once the largest
// shapes have run); each operation starts with it empty, which is safe
// because the stream orders a later operation's copies after the earlier
// operation's kernels.
type arena struct {
	be      *Backend
	base    cu.DevicePtr
	size    int
	off     int
	retired []retiredBuf
}

type retiredBuf struct {
	p    cu.DevicePtr
	size int
}

const minArena = 1 << 20

func (a *arena) reset() {
	a.off = 0
	if len(a.retired) > 0 {
		be := a.be
		be.must("arena", be.drv.StreamSynchronize(be.st))
		for _, r := range a.retired {
			be.must("arena", be.drv.MemFree(r.p))
			be.allocated -= int64(r.size)
		}
		a.retired = a.retired[:0]
	}
}

// take returns bytes of scratch (256-byte aligned), valid until the
// operation ends.
func (a *arena) take(bytes int) cu.DevicePtr {
	bytes = (bytes + 255) &^ 255
	if a.off+bytes > a.size {
		be := a.be
		size := max(minArena, 2*a.size, a.off+bytes)
		size = 1 << int(math.Ceil(math.Log2(float64(size))))
		p, err := be.drv.MemAlloc(size)
		be.must("scratch", err)
		if a.base != 0 {
			// It may hold this operation's earlier temporaries: free it
			// at the start of the next operation.
			a.retired = append(a.retired, retiredBuf{a.base, a.size})
		}
		be.account(size)
		a.base, a.size, a.off = p, size, 0
	}
	p := a.base + cu.DevicePtr(a.off)
	a.off += bytes
	return p
}

func (a *arena) free() {
	for _, r := range append(a.retired, retiredBuf{a.base, a.size}) {
		if r.p != 0 {
			_ = a.be.drv.MemFree(r.p)
		}
	}
	a.retired, a.base, a.size = nil, 0, 0
}

// putI32 copies host integers into the arena.
func (be *Backend) putI32(op string, v []int32) cu.DevicePtr {
	if len(v) == 0 {
		return be.arena.take(4)
	}
	return be.stage(op, unsafe.Pointer(&v[0]), 4*len(v))
}

// putU64 copies host 64-bit words (device pointers) into the arena.
func (be *Backend) putU64(op string, v []uint64) cu.DevicePtr {
	if len(v) == 0 {
		return be.arena.take(8)
	}
	return be.stage(op, unsafe.Pointer(&v[0]), 8*len(v))
}

// stage copies bytes of host memory into the arena through the pinned
// staging ring, so that the copy is truly asynchronous (a copy from
// pageable memory may wait for the stream).
func (be *Backend) stage(op string, src unsafe.Pointer, bytes int) cu.DevicePtr {
	dst := be.arena.take(bytes)
	h := be.ring.take(op, bytes)
	copy(unsafe.Slice((*byte)(h), bytes), unsafe.Slice((*byte)(src), bytes))
	be.must(op, be.drv.MemcpyHtoDAsync(dst, h, bytes, be.st))
	return dst
}

// ring is pinned host memory for the host-to-device copies of small
// inputs, in segments: entering a segment waits for the event recorded
// when the ring last left it (by then its copies have long finished, so
// this rarely waits), and leaving it records a new one.
type ring struct {
	be     *Backend
	base   unsafe.Pointer
	seg    int // segment size in bytes
	cur    int // current segment
	off    int // offset in it
	events [ringSegs]cu.Event
	used   [ringSegs]bool // an event was recorded for the segment
}

const ringSegs = 4

func (r *ring) take(op string, bytes int) unsafe.Pointer {
	be := r.be
	bytes = (bytes + 63) &^ 63
	if r.base == nil || bytes > r.seg {
		r.grow(op, bytes)
	}
	if r.off+bytes > r.seg { // move to the next segment
		be.must(op, be.drv.EventRecord(r.events[r.cur], be.st))
		r.used[r.cur] = true
		r.cur = (r.cur + 1) % ringSegs
		r.off = 0
		if r.used[r.cur] {
			be.must(op, be.drv.EventSynchronize(r.events[r.cur]))
		}
	}
	p := unsafe.Add(r.base, r.cur*r.seg+r.off)
	r.off += bytes
	return p
}

// grow (re)allocates the ring with segments of at least bytes.
func (r *ring) grow(op string, bytes int) {
	be := r.be
	seg := max(256<<10, 2*r.seg)
	for seg < bytes {
		seg *= 2
	}
	if r.base != nil {
		be.must(op, be.drv.StreamSynchronize(be.st))
		be.must(op, be.drv.MemFreeHost(r.base))
	}
	p, err := be.drv.MemAllocHost(ringSegs * seg)
	be.must(op, err)
	for i := range r.events {
		if r.events[i] == 0 {
			e, err := be.drv.EventCreate(eventDisableTiming)
			be.must(op, err)
			r.events[i] = e
		}
	}
	r.base, r.seg, r.cur, r.off, r.used = p, seg, 0, 0, [ringSegs]bool{}
}

// eventDisableTiming is CU_EVENT_DISABLE_TIMING (cheaper events).
const eventDisableTiming = 2

func (r *ring) free() {
	be := r.be
	if r.base != nil {
		_ = be.drv.MemFreeHost(r.base)
	}
	for _, e := range r.events {
		if e != 0 {
			_ = be.drv.EventDestroy(e)
		}
	}
	*r = ring{be: be}
}

// getBytes copies device memory to host memory and waits for it.
func (be *Backend) getBytes(op string, dst unsafe.Pointer, src cu.DevicePtr, bytes int) {
	be.must(op, be.drv.MemcpyDtoHAsync(dst, src, bytes, be.st))
	be.must(op, be.drv.StreamSynchronize(be.st))
}

// OnStream runs fn with the backend's context current on the calling
// goroutine's (locked) OS thread, serialized with the backend's own
// operations, passing the stream the backend queues its work on; it
// returns fn's error. Communicators (package comm) launch their collectives
// through it so that they are ordered with the backend's kernels.
func (be *Backend) OnStream(fn func(s cu.Stream) error) error {
	be.enter()
	defer be.exit()
	return fn(be.st)
}
