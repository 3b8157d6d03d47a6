package comm

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env is this process's place in a data-parallel run, as its launcher
// (torchrun, Slurm's srun, a Kubernetes Job, a shell loop) describes it in
// environment variables.
type Env struct {
	Rank      int // RANK or SLURM_PROCID
	Size      int // WORLD_SIZE or SLURM_NTASKS; 1 when nothing is set
	LocalRank int // LOCAL_RANK or SLURM_LOCALID: picks the GPU

	MasterAddr string // MASTER_ADDR, or the first host of Slurm's node list
	MasterPort int    // the port rank 0 listens on (see FromEnv)

	// Launcher is what set the variables: "torchrun", "slurm", "env"
	// (RANK and WORLD_SIZE without torchrun) or "" (a single process).
	Launcher string
	// Comm is SMT_COMM: "auto" (the default), "tcp" or "nccl".
	Comm string
	// Timeout is SMT_COMM_TIMEOUT (0: DefaultTimeout) and ConnectTimeout
	// SMT_COMM_CONNECT_TIMEOUT (0: DefaultConnectTimeout).
	Timeout, ConnectTimeout time.Duration
	// Notes are decisions worth a log line (a port moved, variables
	// ignored).
	Notes []string
}

// Addr is rank 0's address, MasterAddr:MasterPort.
func (e Env) Addr() string { return net.JoinHostPort(e.MasterAddr, strconv.Itoa(e.MasterPort)) }

func (e Env) String() string {
	if e.Size <= 1 {
		return "single process"
	}
	return fmt.Sprintf("rank %d of %d (local rank %d) from %s, rank 0 at %s", e.Rank, e.Size, e.LocalRank, e.Launcher, e.Addr())
}

// DeviceIndex is the CUDA device this rank should open when visible
// devices are visible: LocalRank, or 0 when each rank sees a single
// device (Slurm's --gpus-per-task=1, or CUDA_VISIBLE_DEVICES set per rank).
func (e Env) DeviceIndex(visible int) (int, error) {
	switch {
	case visible <= 0:
		return 0, fmt.Errorf("comm: local rank %d: no CUDA device is visible", e.LocalRank)
	case e.LocalRank < visible:
		return e.LocalRank, nil
	case visible == 1:
		return 0, nil
	}
	return 0, fmt.Errorf("comm: local rank %d, but only %d CUDA devices are visible: start one rank per GPU (at most %d on this machine)", e.LocalRank, visible, visible)
}

// FromEnv reads the launch environment of this process (see ParseEnv).
func FromEnv() (Env, error) { return ParseEnv(os.LookupEnv) }

// ParseEnv reads a launch environment through lookup:
//
//   - torchrun and hand-made launches: RANK, WORLD_SIZE, LOCAL_RANK
//     (default: RANK), MASTER_ADDR, MASTER_PORT (default 29500).
//   - Slurm, in an srun step (SLURM_STEP_ID set): SLURM_PROCID,
//     SLURM_NTASKS, SLURM_LOCALID; MASTER_ADDR defaults to the first host
//     of SLURM_STEP_NODELIST, SLURM_NODELIST or SLURM_JOB_NODELIST. The
//     batch script itself (no step) is one process.
//   - Both: torchrun run by srun (TORCHELASTIC_RUN_ID set) uses torchrun's
//     values; otherwise they must agree, or ParseEnv fails (a RANK
//     exported to every task of a step is the usual mistake).
//   - Nothing: a single process.
//
// Under torchrun (TORCHELASTIC_USE_AGENT_STORE=True) the agent's store
// already listens on MASTER_PORT, so rank 0 listens on MASTER_PORT+1.
// SMT_COMM_PORT overrides the port; SMT_COMM picks the communicator
// (auto, tcp, nccl); SMT_COMM_TIMEOUT and SMT_COMM_CONNECT_TIMEOUT set
// the timeouts (a Go duration such as 90s or 20m, or seconds).
func ParseEnv(lookup func(string) (string, bool)) (Env, error) {
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	num := func(name string) (int, bool, error) {
		v, ok := get(name)
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, true, fmt.Errorf("comm: %s=%q is not a non-negative integer", name, v)
		}
		return n, true, nil
	}
	var firstErr error
	must := func(name string) (int, bool) {
		n, ok, err := num(name)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return n, ok
	}

	e := Env{Size: 1, Comm: "auto"}
	rank, hasRank := must("RANK")
	size, hasSize := must("WORLD_SIZE")
	local, hasLocal := must("LOCAL_RANK")
	_, torchrun := get("TORCHELASTIC_RUN_ID")
	_, step := get("SLURM_STEP_ID")
	if _, ok := get("SLURM_STEPID"); ok {
		step = true
	}
	sRank, hasSRank := must("SLURM_PROCID")
	sSize, hasSSize := must("SLURM_NTASKS")
	if !hasSSize {
		sSize, hasSSize = must("SLURM_NPROCS")
	}
	sLocal, hasSLocal := must("SLURM_LOCALID")
	if firstErr != nil {
		return Env{}, firstErr
	}
	slurm := step && (hasSRank || hasSSize)

	switch {
	case hasRank != hasSize:
		set, unset := "RANK", "WORLD_SIZE"
		if hasSize {
			set, unset = unset, set
		}
		return Env{}, fmt.Errorf("comm: %s is set but %s is not: set both (or neither, for one process)", set, unset)
	case hasRank:
		e.Rank, e.Size, e.LocalRank = rank, size, local
		if !hasLocal {
			e.LocalRank = rank
			if size > 1 {
				e.Notes = append(e.Notes, "LOCAL_RANK is not set: using RANK (set LOCAL_RANK when ranks span several machines)")
			}
		}
		e.Launcher = "env"
		if torchrun {
			e.Launcher = "torchrun"
		}
		if slurm && torchrun {
			e.Notes = append(e.Notes, fmt.Sprintf("torchrun runs under Slurm (task %d of %d): using torchrun's ranks", sRank, sSize))
		} else if slurm {
			type pair struct {
				name, sname string
				v, sv       int
				ok          bool
			}
			for _, p := range []pair{
				{"RANK", "SLURM_PROCID", rank, sRank, hasSRank},
				{"WORLD_SIZE", "SLURM_NTASKS", size, sSize, hasSSize},
				{"LOCAL_RANK", "SLURM_LOCALID", local, sLocal, hasLocal && hasSLocal},
			} {
				if p.ok && p.v != p.sv {
					return Env{}, fmt.Errorf("comm: %s=%d conflicts with %s=%d: unset %s, WORLD_SIZE and LOCAL_RANK to use Slurm's values, or run torchrun under srun", p.name, p.v, p.sname, p.sv, p.name)
				}
			}
		}
	case slurm:
		if !hasSRank || !hasSSize {
			return Env{}, fmt.Errorf("comm: in a Slurm step, SLURM_PROCID and SLURM_NTASKS must both be set")
		}
		e.Rank, e.Size, e.LocalRank, e.Launcher = sRank, sSize, sLocal, "slurm"
		if !hasSLocal {
			e.LocalRank = 0
			if sSize > 1 {
				e.Notes = append(e.Notes, "SLURM_LOCALID is not set: using local rank 0")
			}
		}
	default:
		if hasSSize && sSize > 1 {
			e.Notes = append(e.Notes, fmt.Sprintf("SLURM_NTASKS=%d, but this is not an srun step: running as one process (start the ranks with srun)", sSize))
		}
	}
	if e.Size < 1 {
		return Env{}, fmt.Errorf("comm: world size %d: there must be at least one rank", e.Size)
	}
	if e.Rank >= e.Size {
		return Env{}, fmt.Errorf("comm: rank %d is not below the world size %d", e.Rank, e.Size)
	}
	if e.LocalRank >= e.Size {
		return Env{}, fmt.Errorf("comm: local rank %d is not below the world size %d", e.LocalRank, e.Size)
	}
	if e.Size == 1 {
		e.Launcher = ""
	}

	e.MasterAddr, _ = get("MASTER_ADDR")
	if e.MasterAddr == "" && slurm {
		for _, name := range []string{"SLURM_STEP_NODELIST", "SLURM_NODELIST", "SLURM_JOB_NODELIST"} {
			if list, ok := get(name); ok {
				host, err := FirstHost(list)
				if err != nil {
					return Env{}, fmt.Errorf("comm: %s: %w", name, err)
				}
				e.MasterAddr = host
				break
			}
		}
	}
	if e.MasterAddr == "" && e.Size > 1 {
		return Env{}, fmt.Errorf("comm: MASTER_ADDR is not set (world size %d): set it to the host of rank 0 (127.0.0.1 on one machine)", e.Size)
	}

	port, hasPort, err := num("MASTER_PORT")
	if err != nil {
		return Env{}, err
	}
	if !hasPort {
		port = DefaultPort
	}
	if port < 1 || port > 65535 {
		return Env{}, fmt.Errorf("comm: MASTER_PORT=%d is not a TCP port", port)
	}
	if v, ok := get("TORCHELASTIC_USE_AGENT_STORE"); ok && v == "True" && e.Size > 1 {
		if port == 65535 {
			return Env{}, fmt.Errorf("comm: MASTER_PORT=65535 is torchrun's store, and rank 0 needs the port after it: set SMT_COMM_PORT")
		}
		port++
		e.Notes = append(e.Notes, fmt.Sprintf("torchrun's store listens on MASTER_PORT: rank 0 listens on %d", port))
	}
	if p, ok, err := num("SMT_COMM_PORT"); err != nil {
		return Env{}, err
	} else if ok {
		if p < 1 || p > 65535 {
			return Env{}, fmt.Errorf("comm: SMT_COMM_PORT=%d is not a TCP port", p)
		}
		port = p
	}
	e.MasterPort = port

	if v, ok := get("SMT_COMM"); ok {
		switch m := strings.ToLower(v); m {
		case "auto", "tcp", "nccl":
			e.Comm = m
		default:
			return Env{}, fmt.Errorf("comm: SMT_COMM=%q: use auto, tcp or nccl", v)
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Duration
	}{{"SMT_COMM_TIMEOUT", &e.Timeout}, {"SMT_COMM_CONNECT_TIMEOUT", &e.ConnectTimeout}} {
		if v, ok := get(t.name); ok {
			d, err := parseDuration(v)
			if err != nil {
				return Env{}, fmt.Errorf("comm: %s=%q: a duration such as 90s or 20m, or seconds", t.name, v)
			}
			*t.dst = d
		}
	}
	return e, nil
}

func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(v, 64); err == nil && n > 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err == nil && d <= 0 {
		err = fmt.Errorf("not positive")
	}
	return d, err
}

// FirstHost returns the first host of a Slurm node list: "node[01-04,07]"
// gives "node01", "gpu7,gpu9" gives "gpu7", "rack[2-3]-n[08-09]" gives
// "rack2-n08". It is the host of task 0 under Slurm's default (block)
// distribution.
func FirstHost(nodelist string) (string, error) {
	s := strings.TrimSpace(nodelist)
	depth, end := 0, len(s)
	for i, ch := range s {
		switch ch {
		case '[':
			depth++
		case ']':
			depth--
		}
		if ch == ',' && depth == 0 {
			end = i
			break
		}
	}
	item := s[:end]
	if item == "" {
		return "", fmt.Errorf("empty node list %q", nodelist)
	}
	var b strings.Builder
	for item != "" {
		open := strings.IndexByte(item, '[')
		if open < 0 {
			if strings.ContainsAny(item, "]") {
				return "", fmt.Errorf("node list %q: unbalanced ']'", nodelist)
			}
			b.WriteString(item)
			break
		}
		b.WriteString(item[:open])
		closing := strings.IndexByte(item[open:], ']')
		if closing < 0 {
			return "", fmt.Errorf("node list %q: unbalanced '['", nodelist)
		}
		inner := item[open+1 : open+closing]
		first, _, _ := strings.Cut(inner, ",")
		lo, _, _ := strings.Cut(first, "-")
		if lo == "" || strings.Trim(lo, "0123456789") != "" {
			return "", fmt.Errorf("node list %q: range [%s] does not start with a number", nodelist, inner)
		}
		b.WriteString(lo)
		item = item[open+closing+1:]
	}
	host := b.String()
	if strings.ContainsAny(host, "[]") || host == "" {
		return "", fmt.Errorf("node list %q: cannot read its first host", nodelist)
	}
	return host, nil
}
