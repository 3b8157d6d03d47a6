package cuda

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// DevicePtr is an address in device memory (CUdeviceptr).
type DevicePtr uint64

// Stream is a CUDA stream (CUstream); 0 is the legacy default stream.
type Stream uintptr

// Event is a CUDA event (CUevent).
type Event uintptr

// Module is a loaded PTX module (CUmodule).
type Module uintptr

// Function is a kernel of a loaded module (CUfunction).
type Function struct {
	h    uintptr
	Name string
}

// Dim3 is a grid or block size.
type Dim3 struct{ X, Y, Z int }

// Device attributes (CUdevice_attribute) the package reads.
const (
	AttrMaxThreadsPerBlock        = 1
	AttrMaxSharedMemoryPerBlock   = 8
	AttrMultiprocessorCount       = 16
	AttrComputeCapabilityMajor    = 75
	AttrComputeCapabilityMinor    = 76
	AttrMaxSharedMemPerBlockOptin = 97
)

// FuncAttrMaxDynamicSharedSize is CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.
const FuncAttrMaxDynamicSharedSize = 8

// JIT options (CUjit_option) used when loading PTX.
const (
	jitInfoLogBuffer           = 3
	jitInfoLogBufferSizeBytes  = 4
	jitErrorLogBuffer          = 5
	jitErrorLogBufferSizeBytes = 6
)

// Driver is the loaded CUDA driver API (libcuda.so.1). Its methods are
// thin, checked wrappers: each returns an *Error naming the call and the
// status when the driver reports one.
//
// Threading: the driver keeps the current context per OS thread. Calls
// that need a context (everything but device queries) must run on a thread
// where one is current; Context.Enter pins the calling goroutine to its
// thread and makes the context current there.
type Driver struct {
	lib     *library
	version int // cuDriverGetVersion, e.g. 12040

	cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName    uintptr
	cuDeviceTotalMem, cuDeviceGetAttribute, cuDevicePrimaryCtxRetain              uintptr
	cuDevicePrimaryCtxRelease, cuCtxSetCurrent, cuCtxGetCurrent, cuCtxSynchronize uintptr
	cuMemAlloc, cuMemFree, cuMemGetInfo, cuMemAllocHost, cuMemFreeHost            uintptr
	cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoD                                      uintptr
	cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync                       uintptr
	cuMemsetD8, cuMemsetD16, cuMemsetD32, cuMemsetD8Async, cuMemsetD32Async       uintptr
	cuStreamCreate, cuStreamDestroy, cuStreamSynchronize                          uintptr
	cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime          uintptr
	cuEventDestroy, cuModuleLoadData, cuModuleLoadDataEx, cuModuleUnload          uintptr
	cuModuleGetFunction, cuFuncSetAttribute, cuLaunchKernel, cuGetErrorName       uintptr
	cuGetErrorString                                                              uintptr
}

// LoadDriver opens libcuda.so.1, binds the functions the package uses and
// calls cuInit(0).
func LoadDriver(opts LoadOptions) (*Driver, error) {
	lib, err := openLibrary("libcuda.so.1", []string{"libcuda.so.1"}, nil, opts)
	if err != nil {
		return nil, err
	}
	d := &Driver{lib: lib}
	syms := []symbol{
		{"cuInit", &d.cuInit, false},
		{"cuDriverGetVersion", &d.cuDriverGetVersion, false},
		{"cuDeviceGetCount", &d.cuDeviceGetCount, false},
		{"cuDeviceGet", &d.cuDeviceGet, false},
		{"cuDeviceGetName", &d.cuDeviceGetName, false},
		{"cuDeviceTotalMem_v2", &d.cuDeviceTotalMem, false},
		{"cuDeviceGetAttribute", &d.cuDeviceGetAttribute, false},
		{"cuDevicePrimaryCtxRetain", &d.cuDevicePrimaryCtxRetain, false},
		{"cuDevicePrimaryCtxRelease_v2", &d.cuDevicePrimaryCtxRelease, false},
		{"cuCtxSetCurrent", &d.cuCtxSetCurrent, false},
		{"cuCtxGetCurrent", &d.cuCtxGetCurrent, false},
		{"cuCtxSynchronize", &d.cuCtxSynchronize, false},
		{"cuMemAlloc_v2", &d.cuMemAlloc, false},
		{"cuMemFree_v2", &d.cuMemFree, false},
		{"cuMemGetInfo_v2", &d.cuMemGetInfo, false},
		{"cuMemAllocHost_v2", &d.cuMemAllocHost, false},
		{"cuMemFreeHost", &d.cuMemFreeHost, false},
		{"cuMemcpyHtoD_v2", &d.cuMemcpyHtoD, false},
		{"cuMemcpyDtoH_v2", &d.cuMemcpyDtoH, false},
		{"cuMemcpyDtoD_v2", &d.cuMemcpyDtoD, false},
		{"cuMemcpyHtoDAsync_v2", &d.cuMemcpyHtoDAsync, false},
		{"cuMemcpyDtoHAsync_v2", &d.cuMemcpyDtoHAsync, false},
		{"cuMemcpyDtoDAsync_v2", &d.cuMemcpyDtoDAsync, false},
		{"cuMemsetD8_v2", &d.cuMemsetD8, false},
		{"cuMemsetD16_v2", &d.cuMemsetD16, false},
		{"cuMemsetD32_v2", &d.cuMemsetD32, false},
		{"cuMemsetD8Async", &d.cuMemsetD8Async, false},
		{"cuMemsetD32Async", &d.cuMemsetD32Async, false},
		{"cuStreamCreate", &d.cuStreamCreate, false},
		{"cuStreamDestroy_v2", &d.cuStreamDestroy, false},
		{"cuStreamSynchronize", &d.cuStreamSynchronize, false},
		{"cuEventCreate", &d.cuEventCreate, false},
		{"cuEventRecord", &d.cuEventRecord, false},
		{"cuEventSynchronize", &d.cuEventSynchronize, false},
		{"cuEventElapsedTime", &d.cuEventElapsedTime, false},
		{"cuEventDestroy_v2", &d.cuEventDestroy, false},
		{"cuModuleLoadData", &d.cuModuleLoadData, false},
		{"cuModuleLoadDataEx", &d.cuModuleLoadDataEx, false},
		{"cuModuleUnload", &d.cuModuleUnload, false},
		{"cuModuleGetFunction", &d.cuModuleGetFunction, false},
		{"cuFuncSetAttribute", &d.cuFuncSetAttribute, false},
		{"cuLaunchKernel", &d.cuLaunchKernel, false},
		{"cuGetErrorName", &d.cuGetErrorName, false},
		{"cuGetErrorString", &d.cuGetErrorString, false},
	}
	if err := lib.bind(syms); err != nil {
		return nil, err
	}
	if r := sysCall(d.cuInit, 0); r != 0 {
		return nil, d.err(r, "cuInit(0)")
	}
	var v int32
	if r := sysCall(d.cuDriverGetVersion, uintptr(unsafe.Pointer(&v))); r != 0 {
		return nil, d.err(r, "cuDriverGetVersion")
	}
	d.version = int(v)
	return d, nil
}

var (
	defaultOnce   sync.Once
	defaultDriver *Driver
	defaultErr    error
)

// Default returns the driver loaded with the default search (once per
// process).
func Default() (*Driver, error) {
	defaultOnce.Do(func() { defaultDriver, defaultErr = LoadDriver(LoadOptions{}) })
	return defaultDriver, defaultErr
}

// Path is the file (or soname) the driver library was opened from.
func (d *Driver) Path() string { return d.lib.path }

// Version is the CUDA version the driver supports, as 1000·major +
// 10·minor (12040 for 12.4).
func (d *Driver) Version() int { return d.version }

// status converts a C return value to a CUresult.
func status(r uintptr) int { return int(int32(uint32(r))) }

// err builds the error for a failed call.
func (d *Driver) err(r uintptr, format string, args ...any) error {
	code := status(r)
	return &Error{Lib: "cuda", Call: fmt.Sprintf(format, args...), Code: code, Name: d.ErrorName(code), Desc: d.errorString(code)}
}

// ErrorName returns the name of a CUresult, e.g. "CUDA_ERROR_OUT_OF_MEMORY".
func (d *Driver) ErrorName(code int) string {
	var s *byte
	if d.cuGetErrorName != 0 && sysCall(d.cuGetErrorName, uintptr(code), uintptr(unsafe.Pointer(&s))) == 0 && s != nil {
		return goString(s)
	}
	return fmt.Sprintf("CUDA_ERROR_%d", code)
}

func (d *Driver) errorString(code int) string {
	var s *byte
	if d.cuGetErrorString != 0 && sysCall(d.cuGetErrorString, uintptr(code), uintptr(unsafe.Pointer(&s))) == 0 && s != nil {
		return goString(s)
	}
	return ""
}

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// DeviceCount returns the number of CUDA devices.
func (d *Driver) DeviceCount() (int, error) {
	var n int32
	if r := sysCall(d.cuDeviceGetCount, uintptr(unsafe.Pointer(&n))); r != 0 {
		return 0, d.err(r, "cuDeviceGetCount")
	}
	return int(n), nil
}

// Device is a CUDA device (CUdevice).
type Device struct {
	d       *Driver
	h       int32
	Ordinal int
}

// Device returns the device with the given ordinal.
func (d *Driver) Device(ordinal int) (Device, error) {
	var h int32
	if r := sysCall(d.cuDeviceGet, uintptr(unsafe.Pointer(&h)), uintptr(ordinal)); r != 0 {
		return Device{}, d.err(r, "cuDeviceGet(%d)", ordinal)
	}
	return Device{d: d, h: h, Ordinal: ordinal}, nil
}

// Name returns the device's name, e.g. "NVIDIA H100 80GB HBM3".
func (dev Device) Name() (string, error) {
	buf := make([]byte, 256)
	if r := sysCall(dev.d.cuDeviceGetName, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(dev.h)); r != 0 {
		return "", dev.d.err(r, "cuDeviceGetName(%d)", dev.Ordinal)
	}
	for i, b := range buf {
		if b == 0 {
			return string(buf[:i]), nil
		}
	}
	return string(buf), nil
}

// TotalMem returns the device's memory in bytes.
func (dev Device) TotalMem() (int64, error) {
	var n uint64
	if r := sysCall(dev.d.cuDeviceTotalMem, uintptr(unsafe.Pointer(&n)), uintptr(dev.h)); r != 0 {
		return 0, dev.d.err(r, "cuDeviceTotalMem_v2(%d)", dev.Ordinal)
	}
	return int64(n), nil
}

// Attribute returns a device attribute (one of the Attr constants).
func (dev Device) Attribute(attr int) (int, error) {
	var v int32
	if r := sysCall(dev.d.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(attr), uintptr(dev.h)); r != 0 {
		return 0, dev.d.err(r, "cuDeviceGetAttribute(%d, device %d)", attr, dev.Ordinal)
	}
	return int(v), nil
}

// Context is a device's primary context.
type Context struct {
	d   *Driver
	h   uintptr
	Dev Device
}

// PrimaryContext retains the device's primary context (the one the CUDA
// runtime, and so PyTorch, also uses).
func (dev Device) PrimaryContext() (*Context, error) {
	var h uintptr
	if r := sysCall(dev.d.cuDevicePrimaryCtxRetain, uintptr(unsafe.Pointer(&h)), uintptr(dev.h)); r != 0 {
		return nil, dev.d.err(r, "cuDevicePrimaryCtxRetain(%d)", dev.Ordinal)
	}
	return &Context{d: dev.d, h: h, Dev: dev}, nil
}

// Driver returns the driver the context belongs to.
func (c *Context) Driver() *Driver { return c.d }

// Enter locks the calling goroutine to its OS thread and makes c the
// thread's current context. Every call that uses the context must happen
// between Enter and the matching Exit. Enter may nest.
func (c *Context) Enter() error {
	runtime.LockOSThread()
	if r := sysCall(c.d.cuCtxSetCurrent, c.h); r != 0 {
		runtime.UnlockOSThread()
		return c.d.err(r, "cuCtxSetCurrent(device %d)", c.Dev.Ordinal)
	}
	return nil
}

// Exit undoes one Enter: it unlocks the goroutine from its thread (the
// context stays current on the thread, which is harmless).
func (c *Context) Exit() { runtime.UnlockOSThread() }

// Release releases the primary context (after the last use of anything
// made in it).
func (c *Context) Release() error {
	if r := sysCall(c.d.cuDevicePrimaryCtxRelease, uintptr(c.Dev.h)); r != 0 {
		return c.d.err(r, "cuDevicePrimaryCtxRelease_v2(%d)", c.Dev.Ordinal)
	}
	return nil
}

// Synchronize waits for all work in the current context.
func (d *Driver) Synchronize() error {
	if r := sysCall(d.cuCtxSynchronize); r != 0 {
		return d.err(r, "cuCtxSynchronize")
	}
	return nil
}

// MemAlloc allocates bytes of device memory.
func (d *Driver) MemAlloc(bytes int) (DevicePtr, error) {
	var p uint64
	if r := sysCall(d.cuMemAlloc, uintptr(unsafe.Pointer(&p)), uintptr(bytes)); r != 0 {
		return 0, d.err(r, "cuMemAlloc_v2(%d)", bytes)
	}
	return DevicePtr(p), nil
}

// MemFree frees device memory from MemAlloc.
func (d *Driver) MemFree(p DevicePtr) error {
	if r := sysCall(d.cuMemFree, uintptr(p)); r != 0 {
		return d.err(r, "cuMemFree_v2(%#x)", uint64(p))
	}
	return nil
}

// MemGetInfo returns the free and total device memory of the current
// context's device, in bytes.
func (d *Driver) MemGetInfo() (free, total int64, err error) {
	var f, t uint64
	if r := sysCall(d.cuMemGetInfo, uintptr(unsafe.Pointer(&f)), uintptr(unsafe.Pointer(&t))); r != 0 {
		return 0, 0, d.err(r, "cuMemGetInfo_v2")
	}
	return int64(f), int64(t), nil
}

// MemAllocHost allocates page-locked host memory.
func (d *Driver) MemAllocHost(bytes int) (unsafe.Pointer, error) {
	var p unsafe.Pointer
	if r := sysCall(d.cuMemAllocHost, uintptr(unsafe.Pointer(&p)), uintptr(bytes)); r != 0 {
		return nil, d.err(r, "cuMemAllocHost_v2(%d)", bytes)
	}
	return p, nil
}

// MemFreeHost frees memory from MemAllocHost.
func (d *Driver) MemFreeHost(p unsafe.Pointer) error {
	if r := sysCall(d.cuMemFreeHost, uintptr(p)); r != 0 {
		return d.err(r, "cuMemFreeHost")
	}
	return nil
}

// MemcpyHtoD copies bytes from host memory at src to dst.
func (d *Driver) MemcpyHtoD(dst DevicePtr, src unsafe.Pointer, bytes int) error {
	if r := sysCall(d.cuMemcpyHtoD, uintptr(dst), uintptr(src), uintptr(bytes)); r != 0 {
		return d.err(r, "cuMemcpyHtoD_v2(%#x, %d)", uint64(dst), bytes)
	}
	return nil
}

// MemcpyDtoH copies bytes from src to host memory at dst.
func (d *Driver) MemcpyDtoH(dst unsafe.Pointer, src DevicePtr, bytes int) error {
	if r := sysCall(d.cuMemcpyDtoH, uintptr(dst), uintptr(src), uintptr(bytes)); r != 0 {
		return d.err(r, "cuMemcpyDtoH_v2(%#x, %d)", uint64(src), bytes)
	}
	return nil
}

// MemcpyDtoD copies bytes between device buffers.
func (d *Driver) MemcpyDtoD(dst, src DevicePtr, bytes int) error {
	if r := sysCall(d.cuMemcpyDtoD, uintptr(dst), uintptr(src), uintptr(bytes)); r != 0 {
		return d.err(r, "cuMemcpyDtoD_v2(%#x, %#x, %d)", uint64(dst), uint64(src), bytes)
	}
	return nil
}

// MemcpyHtoDAsync queues a copy from host memory on stream s. From
// pageable (ordinary Go) memory the driver stages the source before it
// returns, so src may be reused at once.
func (d *Driver) MemcpyHtoDAsync(dst DevicePtr, src unsafe.Pointer, bytes int, s Stream) error {
	if r := sysCall(d.cuMemcpyHtoDAsync, uintptr(dst), uintptr(src), uintptr(bytes), uintptr(s)); r != 0 {
		return d.err(r, "cuMemcpyHtoDAsync_v2(%#x, %d)", uint64(dst), bytes)
	}
	return nil
}

// MemcpyDtoHAsync queues a copy to host memory on stream s; synchronize
// the stream before reading dst.
func (d *Driver) MemcpyDtoHAsync(dst unsafe.Pointer, src DevicePtr, bytes int, s Stream) error {
	if r := sysCall(d.cuMemcpyDtoHAsync, uintptr(dst), uintptr(src), uintptr(bytes), uintptr(s)); r != 0 {
		return d.err(r, "cuMemcpyDtoHAsync_v2(%#x, %d)", uint64(src), bytes)
	}
	return nil
}

// MemcpyDtoDAsync queues a device-to-device copy on stream s.
func (d *Driver) MemcpyDtoDAsync(dst, src DevicePtr, bytes int, s Stream) error {
	if r := sysCall(d.cuMemcpyDtoDAsync, uintptr(dst), uintptr(src), uintptr(bytes), uintptr(s)); r != 0 {
		return d.err(r, "cuMemcpyDtoDAsync_v2(%#x, %#x, %d)", uint64(dst), uint64(src), bytes)
	}
	return nil
}

// MemsetD8 sets n bytes at p to v.
func (d *Driver) MemsetD8(p DevicePtr, v uint8, n int) error {
	if r := sysCall(d.cuMemsetD8, uintptr(p), uintptr(v), uintptr(n)); r != 0 {
		return d.err(r, "cuMemsetD8_v2(%#x, %d, %d)", uint64(p), v, n)
	}
	return nil
}

// MemsetD16 sets n 16-bit words at p to v.
func (d *Driver) MemsetD16(p DevicePtr, v uint16, n int) error {
	if r := sysCall(d.cuMemsetD16, uintptr(p), uintptr(v), uintptr(n)); r != 0 {
		return d.err(r, "cuMemsetD16_v2(%#x, %d, %d)", uint64(p), v, n)
	}
	return nil
}

// MemsetD32 sets n 32-bit words at p to v.
func (d *Driver) MemsetD32(p DevicePtr, v uint32, n int) error {
	if r := sysCall(d.cuMemsetD32, uintptr(p), uintptr(v), uintptr(n)); r != 0 {
		return d.err(r, "cuMemsetD32_v2(%#x, %d, %d)", uint64(p), v, n)
	}
	return nil
}

// MemsetD8Async queues setting n bytes at p to v on stream s.
func (d *Driver) MemsetD8Async(p DevicePtr, v uint8, n int, s Stream) error {
	if r := sysCall(d.cuMemsetD8Async, uintptr(p), uintptr(v), uintptr(n), uintptr(s)); r != 0 {
		return d.err(r, "cuMemsetD8Async(%#x, %d, %d)", uint64(p), v, n)
	}
	return nil
}

// MemsetD32Async queues setting n 32-bit words at p to v on stream s.
func (d *Driver) MemsetD32Async(p DevicePtr, v uint32, n int, s Stream) error {
	if r := sysCall(d.cuMemsetD32Async, uintptr(p), uintptr(v), uintptr(n), uintptr(s)); r != 0 {
		return d.err(r, "cuMemsetD32Async(%#x, %d, %d)", uint64(p), v, n)
	}
	return nil
}

// StreamCreate creates a stream (flags: 0 default, 1 non-blocking).
func (d *Driver) StreamCreate(flags int) (Stream, error) {
	var h uintptr
	if r := sysCall(d.cuStreamCreate, uintptr(unsafe.Pointer(&h)), uintptr(flags)); r != 0 {
		return 0, d.err(r, "cuStreamCreate(%d)", flags)
	}
	return Stream(h), nil
}

// StreamDestroy destroys a stream.
func (d *Driver) StreamDestroy(s Stream) error {
	if r := sysCall(d.cuStreamDestroy, uintptr(s)); r != 0 {
		return d.err(r, "cuStreamDestroy_v2")
	}
	return nil
}

// StreamSynchronize waits for the work queued on s. Errors of earlier
// asynchronous work (a faulting kernel) surface here.
func (d *Driver) StreamSynchronize(s Stream) error {
	if r := sysCall(d.cuStreamSynchronize, uintptr(s)); r != 0 {
		return d.err(r, "cuStreamSynchronize")
	}
	return nil
}

// EventCreate creates an event (flags 0: with timing).
func (d *Driver) EventCreate(flags int) (Event, error) {
	var h uintptr
	if r := sysCall(d.cuEventCreate, uintptr(unsafe.Pointer(&h)), uintptr(flags)); r != 0 {
		return 0, d.err(r, "cuEventCreate(%d)", flags)
	}
	return Event(h), nil
}

// EventRecord records e on stream s.
func (d *Driver) EventRecord(e Event, s Stream) error {
	if r := sysCall(d.cuEventRecord, uintptr(e), uintptr(s)); r != 0 {
		return d.err(r, "cuEventRecord")
	}
	return nil
}

// EventSynchronize waits for e.
func (d *Driver) EventSynchronize(e Event) error {
	if r := sysCall(d.cuEventSynchronize, uintptr(e)); r != 0 {
		return d.err(r, "cuEventSynchronize")
	}
	return nil
}

// EventElapsed returns the milliseconds between two recorded events.
func (d *Driver) EventElapsed(start, end Event) (float32, error) {
	var ms float32
	if r := sysCall(d.cuEventElapsedTime, uintptr(unsafe.Pointer(&ms)), uintptr(start), uintptr(end)); r != 0 {
		return 0, d.err(r, "cuEventElapsedTime")
	}
	return ms, nil
}

// EventDestroy destroys an event.
func (d *Driver) EventDestroy(e Event) error {
	if r := sysCall(d.cuEventDestroy, uintptr(e)); r != 0 {
		return d.err(r, "cuEventDestroy_v2")
	}
	return nil
}

// ModuleLoadData loads a PTX (or cubin) image; the JIT compiler's error
// log is part of the error when it fails.
func (d *Driver) ModuleLoadData(name string, image []byte) (Module, error) {
	img := make([]byte, len(image)+1) // NUL-terminated copy
	copy(img, image)
	logBuf := make([]byte, 8192)
	var pin runtime.Pinner // vals holds logBuf's address as an integer
	pin.Pin(&logBuf[0])
	defer pin.Unpin()
	opts := []int32{jitErrorLogBuffer, jitErrorLogBufferSizeBytes}
	vals := []uintptr{uintptr(unsafe.Pointer(&logBuf[0])), uintptr(len(logBuf))}
	var h uintptr
	r := sysCall(d.cuModuleLoadDataEx, uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(&img[0])),
		uintptr(len(opts)), uintptr(unsafe.Pointer(&opts[0])), uintptr(unsafe.Pointer(&vals[0])))
	if r != 0 {
		e := d.err(r, "cuModuleLoadDataEx(%s)", name).(*Error)
		if log := cString(logBuf); log != "" {
			e.Desc += "; JIT log: " + log
		}
		return 0, e
	}
	return Module(h), nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// ModuleUnload unloads a module.
func (d *Driver) ModuleUnload(m Module) error {
	if r := sysCall(d.cuModuleUnload, uintptr(m)); r != 0 {
		return d.err(r, "cuModuleUnload")
	}
	return nil
}

// ModuleFunction looks up a kernel by name.
func (d *Driver) ModuleFunction(m Module, name string) (Function, error) {
	cname := append([]byte(name), 0)
	var h uintptr
	if r := sysCall(d.cuModuleGetFunction, uintptr(unsafe.Pointer(&h)), uintptr(m), uintptr(unsafe.Pointer(&cname[0]))); r != 0 {
		return Function{}, d.err(r, "cuModuleGetFunction(%s)", name)
	}
	return Function{h: h, Name: name}, nil
}

// FuncSetAttribute sets a kernel attribute, e.g.
// FuncAttrMaxDynamicSharedSize to use more than 48 KiB of shared memory.
func (d *Driver) FuncSetAttribute(f Function, attr, value int) error {
	if r := sysCall(d.cuFuncSetAttribute, f.h, uintptr(attr), uintptr(value)); r != 0 {
		return d.err(r, "cuFuncSetAttribute(%s, %d, %d)", f.Name, attr, value)
	}
	return nil
}

// Launch queues kernel f on stream s with the arguments in a.
func (d *Driver) Launch(f Function, grid, block Dim3, sharedMem int, s Stream, a *Args) error {
	gx, gy, gz := max(grid.X, 1), max(grid.Y, 1), max(grid.Z, 1)
	bx, by, bz := max(block.X, 1), max(block.Y, 1), max(block.Z, 1)
	base := uintptr(unsafe.Pointer(&a.buf[0]))
	for i := 0; i < a.n; i++ {
		a.ptrs[i] = base + uintptr(a.offs[i])
	}
	a.ptrs[a.n] = 0 // NULL after the last parameter (ignored by the driver)
	r := sysCall(d.cuLaunchKernel, f.h, uintptr(gx), uintptr(gy), uintptr(gz), uintptr(bx), uintptr(by), uintptr(bz),
		uintptr(sharedMem), uintptr(s), uintptr(unsafe.Pointer(&a.ptrs[0])), 0)
	if r != 0 {
		return d.err(r, "cuLaunchKernel(%s, grid %d×%d×%d, block %d×%d×%d, shared %d)", f.Name, gx, gy, gz, bx, by, bz, sharedMem)
	}
	return nil
}

// maxArgs is the most kernel parameters an Args holds.
const maxArgs = 32

// Args holds the parameters of one kernel launch, packed with C alignment
// in one buffer; cuLaunchKernel receives an array of pointers into it
// (followed by a NULL). Reuse one Args per goroutine: Reset, add, Launch.
//
// Allocate Args with new (or as part of a heap object): Launch passes the
// addresses of its fields to the driver.
type Args struct {
	buf  [2 * maxArgs]uint64
	ptrs [maxArgs + 1]uintptr
	offs [maxArgs]uint16
	off  int
	n    int
}

// Reset empties a.
func (a *Args) Reset() *Args { a.off, a.n = 0, 0; return a }

// Len is the number of parameters.
func (a *Args) Len() int { return a.n }

func (a *Args) slot(size int) unsafe.Pointer {
	if a.n == maxArgs {
		panic("cuda: more than 32 kernel parameters")
	}
	a.off = (a.off + size - 1) &^ (size - 1)
	p := unsafe.Add(unsafe.Pointer(&a.buf[0]), a.off)
	a.offs[a.n] = uint16(a.off)
	a.n++
	a.off += size
	return p
}

// Ptr adds a device pointer parameter.
func (a *Args) Ptr(p DevicePtr) *Args { *(*uint64)(a.slot(8)) = uint64(p); return a }

// I32 adds an int parameter.
func (a *Args) I32(v int32) *Args { *(*int32)(a.slot(4)) = v; return a }

// U32 adds an unsigned int parameter.
func (a *Args) U32(v uint32) *Args { *(*uint32)(a.slot(4)) = v; return a }

// F32 adds a float parameter.
func (a *Args) F32(v float32) *Args { *(*float32)(a.slot(4)) = v; return a }

// I64 adds a long long parameter.
func (a *Args) I64(v int64) *Args { *(*int64)(a.slot(8)) = v; return a }

// F64 adds a double parameter.
func (a *Args) F64(v float64) *Args { *(*float64)(a.slot(8)) = v; return a }
