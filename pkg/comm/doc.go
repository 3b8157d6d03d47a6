// Package comm is data-parallel communication for the training engine:
// every rank (one process per GPU, or goroutines in tests) holds a Comm
// and calls the same collectives in the same order.
//
//   - AllReduceSum sums a float32 buffer (host or device) over the ranks in
//     place: the gradients of the trained SMT blocks and warm-up gradient
//     sums.
//   - AllReduceFloat64 sums a few host scalars (loss sums, target and token
//     counts), before the backward, so that every rank scales its loss by
//     the global target count.
//   - Barrier, and Rank, Size, LocalRank, Close.
//
// # Communicators
//
//   - Single: one rank; every collective is a no-op.
//   - NewLocal: n ranks as goroutines of one process sharing a hub (CI and
//     tests: N ranks must give what one rank gives with N× the batch).
//   - NewTCP: processes over TCP, rank 0 the hub (CPU training, machines
//     without NCCL).
//   - NewNCCL: one process per GPU over NCCL, with the TCP hub as side
//     channel (the unique-id exchange, host scalars, barrier, and a check
//     that every rank reduces the same count and type).
//
// FromEnv reads the launcher's variables (torchrun, Slurm, Kubernetes) and
// Open picks the communicator; README.md beside this file says how to
// launch one GPU, one machine and several machines.
//
// # Determinism
//
// The local hub and the TCP hub add the ranks' values in rank order,
// element by element ((x₀+x₁)+x₂)+…, whatever order the ranks arrive in:
// every rank gets the same bits, run after run, and the two give the same
// bits as each other and as a sequential loop. AllReduceFloat64 takes this
// path on every communicator, NCCL's included. NCCL's own float32 sums are
// the same on every rank and repeatable on a fixed topology, but not in
// rank order (see README.md).
//
// # Errors
//
// Collectives return errors instead of hanging: a peer that exits, a
// mismatched call (another collective, or another element count, on some
// rank) and a rank that does not arrive within Options.Timeout all end the
// collective on every rank with an error naming the rank at fault. After
// an error the communicator is unusable: every later call returns it
// again, and the buffer of the failed call holds undefined values.
package comm
