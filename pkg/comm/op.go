package comm

import (
	"fmt"

	"github.com/smt-go/smt/pkg/backend"
)

// kind is a collective, or a message of the TCP protocol.
type kind uint8

const (
	kindHello   kind = iota + 1 // rank → rank 0: who I am
	kindWelcome                 // rank 0 → rank: everyone has joined
	kindReject                  // rank 0 → rank: the rendezvous failed (message)
	kindSum                     // AllReduceSum of a buffer (dtype f32 or f64)
	kindScalars                 // AllReduceFloat64
	kindBarrier                 // Barrier
	kindBcast                   // rank 0's bytes to every rank (the NCCL id)
	kindCheck                   // NCCL: the next device all-reduce's count and type
	kindResult                  // rank 0 → rank: the collective's result
	kindAbort                   // rank 0 → rank: the collective failed (message)
)

// Element types of a sum on the wire (kindSum, kindScalars).
const (
	wireF32 uint8 = 1
	wireF64 uint8 = 2
)

// op identifies one collective call: every rank's must be equal.
type op struct {
	kind  kind
	dtype uint8 // wireF32/wireF64 for sums, a backend.DType for kindCheck
	count uint64
	seq   uint64 // collectives done before this one on this communicator
}

func (o op) String() string {
	var what string
	switch o.kind {
	case kindSum:
		what = fmt.Sprintf("AllReduceSum of %d %s values", o.count, wireName(o.dtype))
	case kindScalars:
		what = fmt.Sprintf("AllReduceFloat64 of %d values", o.count)
	case kindBarrier:
		what = "Barrier"
	case kindBcast:
		what = fmt.Sprintf("the broadcast of %d bytes (the NCCL id)", o.count)
	case kindCheck:
		what = fmt.Sprintf("AllReduceSum of %d %s values (NCCL)", o.count, backend.DType(o.dtype))
	default:
		what = fmt.Sprintf("message %d", o.kind)
	}
	return fmt.Sprintf("%s (collective #%d)", what, o.seq)
}

func wireName(dt uint8) string {
	switch dt {
	case wireF32:
		return "float32"
	case wireF64:
		return "float64"
	}
	return fmt.Sprintf("type %d", dt)
}

// wireSize is the size in bytes of one element of a collective's payload
// (0 for collectives without one).
func (o op) wireSize() int {
	switch o.kind {
	case kindSum, kindScalars:
		if o.dtype == wireF64 {
			return 8
		}
		return 4
	case kindBcast:
		return 1
	}
	return 0
}
