package cuda

import (
	"fmt"
	"unsafe"
)

// NCCLDataType is an ncclDataType_t.
type NCCLDataType int

// NCCL data types.
const (
	NCCLInt32    NCCLDataType = 2
	NCCLFloat16  NCCLDataType = 6
	NCCLFloat32  NCCLDataType = 7
	NCCLFloat64  NCCLDataType = 8
	NCCLBfloat16 NCCLDataType = 9
)

// RedOp is an ncclRedOp_t.
type RedOp int

// Reductions.
const (
	RedSum RedOp = 0
	RedMax RedOp = 2
	RedAvg RedOp = 4
)

// UniqueID is an ncclUniqueId: rank 0 makes it and sends it to the others
// (through the launcher's rendezvous) before they all call CommInitRank.
type UniqueID struct {
	Internal [128]byte
}

// NCCL is the loaded NCCL library (libnccl.so.2).
type NCCL struct {
	lib     *library
	version int // e.g. 22105 for 2.21.5

	getUniqueID, allReduce, commDestroy, groupStart, groupEnd, getVersion uintptr
	commInitRank                                                          func(comm *uintptr, nranks int32, id UniqueID, rank int32) int32
	errorString                                                           func(int32) string
}

// LoadNCCL opens libnccl.so.2.
func LoadNCCL(opts LoadOptions) (*NCCL, error) {
	lib, err := openLibrary("NCCL", []string{"libnccl.so.2"}, nil, opts)
	if err != nil {
		return nil, err
	}
	n := &NCCL{lib: lib}
	var initRank, errStr uintptr
	syms := []symbol{
		{"ncclGetUniqueId", &n.getUniqueID, false},
		{"ncclCommInitRank", &initRank, false},
		{"ncclAllReduce", &n.allReduce, false},
		{"ncclCommDestroy", &n.commDestroy, false},
		{"ncclGroupStart", &n.groupStart, false},
		{"ncclGroupEnd", &n.groupEnd, false},
		{"ncclGetVersion", &n.getVersion, false},
		{"ncclGetErrorString", &errStr, false},
	}
	if err := lib.bind(syms); err != nil {
		return nil, err
	}
	// ncclCommInitRank takes the 128-byte id by value, which only a
	// registered function (with the platform's struct ABI) can pass.
	registerFunc(&n.commInitRank, initRank)
	registerFunc(&n.errorString, errStr)
	var v int32
	if r := sysCall(n.getVersion, uintptr(unsafe.Pointer(&v))); r != 0 {
		return nil, n.err(r, "ncclGetVersion")
	}
	n.version = int(v)
	return n, nil
}

// Path is the file (or soname) NCCL was opened from.
func (n *NCCL) Path() string { return n.lib.path }

// Version is NCCL's version code (major·10000 + minor·100 + patch).
func (n *NCCL) Version() int { return n.version }

func (n *NCCL) err(r uintptr, format string, args ...any) error {
	code := status(r)
	name := ncclResultNames[code]
	if name == "" {
		name = fmt.Sprintf("ncclResult(%d)", code)
	}
	desc := ""
	if n.errorString != nil {
		desc = n.errorString(int32(code))
	}
	return &Error{Lib: "nccl", Call: fmt.Sprintf(format, args...), Code: code, Name: name, Desc: desc}
}

// UniqueID makes a new communicator id (on rank 0).
func (n *NCCL) UniqueID() (UniqueID, error) {
	id := new(UniqueID)
	if r := sysCall(n.getUniqueID, uintptr(unsafe.Pointer(id))); r != 0 {
		return UniqueID{}, n.err(r, "ncclGetUniqueId")
	}
	return *id, nil
}

// Comm is an NCCL communicator.
type Comm struct {
	n           *NCCL
	h           uintptr
	Rank, Ranks int
}

// CommInitRank joins the communicator id as rank of nranks; the device is
// the current context's. Every rank must call it (it blocks until all do).
func (n *NCCL) CommInitRank(nranks int, id UniqueID, rank int) (*Comm, error) {
	h := new(uintptr)
	if r := n.commInitRank(h, int32(nranks), id, int32(rank)); r != 0 {
		return nil, n.err(uintptr(uint32(r)), "ncclCommInitRank(%d ranks, rank %d)", nranks, rank)
	}
	return &Comm{n: n, h: *h, Rank: rank, Ranks: nranks}, nil
}

// AllReduce queues an all-reduce of count elements from send into recv
// (which may be the same buffer) on stream s.
func (c *Comm) AllReduce(send, recv DevicePtr, count int, dt NCCLDataType, op RedOp, s Stream) error {
	if r := sysCall(c.n.allReduce, uintptr(send), uintptr(recv), uintptr(count), uintptr(dt), uintptr(op), c.h, uintptr(s)); r != 0 {
		return c.n.err(r, "ncclAllReduce(%d elements, type %d, op %d)", count, dt, op)
	}
	return nil
}

// Destroy frees the communicator.
func (c *Comm) Destroy() error {
	if r := sysCall(c.n.commDestroy, c.h); r != 0 {
		return c.n.err(r, "ncclCommDestroy")
	}
	return nil
}

// GroupStart opens a group of NCCL calls (fused until GroupEnd).
func (n *NCCL) GroupStart() error {
	if r := sysCall(n.groupStart); r != 0 {
		return n.err(r, "ncclGroupStart")
	}
	return nil
}

// GroupEnd closes a group and launches its calls.
func (n *NCCL) GroupEnd() error {
	if r := sysCall(n.groupEnd); r != 0 {
		return n.err(r, "ncclGroupEnd")
	}
	return nil
}
