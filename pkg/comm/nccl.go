package comm

import (
	"fmt"
	"sync"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/cuda"
)

// Device is what the NCCL communicator needs from a CUDA backend: the
// stream the backend queues its work on, and a way to call NCCL with the
// backend's context current. pkg/backend/cuda's Backend is meant to
// provide it (README.md, "What the CUDA backend provides").
type Device interface {
	// OnStream runs fn on the calling goroutine, locked to its OS thread
	// with the device's context current and serialized with the backend's
	// own operations, passing the backend's stream; it returns fn's error.
	OnStream(fn func(s cuda.Stream) error) error
}

// DeviceBuf is a buffer in device memory (pkg/backend/cuda's *Buf is one).
type DeviceBuf interface {
	backend.Buf
	// Ptr is the device address of the buffer's first element.
	Ptr() cuda.DevicePtr
}

// NewNCCL joins an NCCL communicator of size ranks as rank, on the device
// of dev (opened on the GPU of localRank). A TCP communicator at addr
// (MASTER_ADDR:MASTER_PORT, rank 0 the hub, as NewTCP) is set up first and
// kept as side channel: rank 0 calls ncclGetUniqueId and sends the id to
// the others over it, then every rank calls ncclCommInitRank.
//
// AllReduceSum reduces device buffers (f32, bf16, f16) in place with
// ncclAllReduce (ncclSum) on dev's stream, after checking over the side
// channel that every rank reduces the same count and type; it returns
// once the reduction is queued. AllReduceFloat64 and Barrier run on the
// side channel, so the scalars are added in rank order as everywhere else.
func NewNCCL(rank, size, localRank int, addr string, lib *cuda.NCCL, dev Device, o Options) (Comm, error) {
	if lib == nil || dev == nil {
		return nil, fmt.Errorf("comm: NewNCCL needs the NCCL library and a device")
	}
	side, err := newTCP(rank, size, localRank, addr, modeNCCL, o)
	if err != nil {
		return nil, err
	}
	var id cuda.UniqueID
	if rank == 0 {
		if id, err = lib.UniqueID(); err != nil {
			side.Close()
			return nil, fmt.Errorf("comm: rank 0: %w", err)
		}
	}
	if err := side.bcast(id.Internal[:]); err != nil {
		side.Close()
		return nil, err
	}
	c := &ncclComm{side: side, lib: lib, dev: dev}
	err = dev.OnStream(func(cuda.Stream) error {
		var err error
		c.comm, err = lib.CommInitRank(size, id, rank)
		return err
	})
	if err != nil {
		side.Close()
		return nil, fmt.Errorf("comm: rank %d of %d (local rank %d): %w", rank, size, localRank, err)
	}
	return c, nil
}

// ncclComm is an NCCL communicator with its TCP side channel.
type ncclComm struct {
	side *tcpComm
	lib  *cuda.NCCL
	dev  Device
	comm *cuda.Comm

	mu     sync.Mutex
	err    error
	closed bool
}

func (c *ncclComm) Rank() int      { return c.side.rank }
func (c *ncclComm) Size() int      { return c.side.size }
func (c *ncclComm) LocalRank() int { return c.side.local }
func (c *ncclComm) String() string {
	return fmt.Sprintf("NCCL %d (rank %d of %d, side channel %s)", c.lib.Version(), c.side.rank, c.side.size, c.side.addr)
}

// ncclType maps a buffer type to NCCL's.
func ncclType(dt backend.DType) (cuda.NCCLDataType, bool) {
	switch dt {
	case backend.F32:
		return cuda.NCCLFloat32, true
	case backend.BF16:
		return cuda.NCCLBfloat16, true
	case backend.F16:
		return cuda.NCCLFloat16, true
	}
	return 0, false
}

// AllReduceSum implements Comm. be is not used: the reduction runs on
// the stream of the communicator's device.
func (c *ncclComm) AllReduceSum(be backend.Backend, buf backend.Buf, n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.err != nil {
		return fmt.Errorf("comm: rank %d: unusable after an earlier failure: %w", c.side.rank, c.err)
	}
	fail := func(err error) error {
		c.err = err
		c.side.Close() // the other ranks see this rank leave instead of waiting
		return err
	}
	if err := checkBuf(buf, n); err != nil {
		return fail(fmt.Errorf("comm: rank %d: %w", c.side.rank, err))
	}
	db, ok := buf.(DeviceBuf)
	if !ok {
		return fail(fmt.Errorf("comm: rank %d: NCCL reduces device buffers, not a %T", c.side.rank, buf))
	}
	dt, ok := ncclType(buf.DType())
	if !ok {
		return fail(fmt.Errorf("comm: rank %d: NCCL AllReduceSum of a %s buffer: f32, bf16 and f16 are supported", c.side.rank, buf.DType()))
	}
	if err := c.side.check(op{kind: kindCheck, dtype: uint8(buf.DType()), count: uint64(n)}); err != nil {
		c.err = err
		return err
	}
	if n == 0 {
		return nil
	}
	err := c.dev.OnStream(func(s cuda.Stream) error {
		return c.comm.AllReduce(db.Ptr(), db.Ptr(), n, dt, cuda.RedSum, s)
	})
	if err != nil {
		return fail(fmt.Errorf("comm: rank %d: AllReduceSum of %d %s values: %w", c.side.rank, n, buf.DType(), err))
	}
	return nil
}

// AllReduceFloat64 implements Comm, over the side channel.
func (c *ncclComm) AllReduceFloat64(v []float64) error {
	if err := c.usable(); err != nil {
		return err
	}
	return c.side.AllReduceFloat64(v)
}

// Barrier implements Comm, over the side channel (host threads only).
func (c *ncclComm) Barrier() error {
	if err := c.usable(); err != nil {
		return err
	}
	return c.side.Barrier()
}

func (c *ncclComm) usable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.err != nil {
		return fmt.Errorf("comm: rank %d: unusable after an earlier failure: %w", c.side.rank, c.err)
	}
	return nil
}

// Close implements Comm: it destroys the NCCL communicator and closes the
// side channel.
func (c *ncclComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.dev.OnStream(func(cuda.Stream) error { return c.comm.Destroy() })
	c.side.Close()
	if err != nil {
		return fmt.Errorf("comm: rank %d: %w", c.side.rank, err)
	}
	return nil
}
