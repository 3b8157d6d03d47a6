package comm

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smt-go/smt/pkg/backend/cpu"
)

// The test binary doubles as the rank processes of these tests: with
// SMT_COMM_TEST_CHILD set, TestMain runs childMain instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("SMT_COMM_TEST_CHILD"); mode != "" {
		if err := childMain(mode); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const childN = 70001

// childMain is one rank process: it reads the launch environment, opens
// the communicator on a CPU backend and reduces its test data.
//
//	sum:  reduce once, print the result's hash and the summed scalars
//	hang: reduce once, print "ready", then sleep (the parent kills it)
func childMain(mode string) error {
	env, err := FromEnv()
	if err != nil {
		return err
	}
	c, err := Open(env, cpu.New32(1))
	if err != nil {
		return err
	}
	defer c.Close()
	buf := cpu.Wrap(randData(uint64(100+env.Rank), childN))
	if err := c.AllReduceSum(cpu.New32(1), buf, childN); err != nil {
		return err
	}
	switch mode {
	case "sum":
		v := []float64{float64(env.Rank) + 0.1, 1}
		if err := c.AllReduceFloat64(v); err != nil {
			return err
		}
		if err := c.Barrier(); err != nil {
			return err
		}
		fmt.Printf("%s %x %x\n", hashBits(buf.D), math.Float64bits(v[0]), math.Float64bits(v[1]))
	case "hang":
		fmt.Println("ready")
		time.Sleep(time.Minute)
	}
	return nil
}

func hashBits(v []float32) string {
	h := sha256.New()
	for _, x := range v {
		binary.Write(h, binary.LittleEndian, math.Float32bits(x))
	}
	return fmt.Sprintf("%x", h.Sum(nil))[:16]
}

// child starts the test binary as rank of size with rank 0 at port.
func child(t *testing.T, mode string, rank, size, port int) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SLURM_") || strings.HasPrefix(k, "TORCHELASTIC_") || strings.HasPrefix(k, "SMT_COMM") ||
			k == "RANK" || k == "WORLD_SIZE" || k == "LOCAL_RANK" || k == "MASTER_ADDR" || k == "MASTER_PORT" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "SMT_COMM_TEST_CHILD="+mode, "RANK="+strconv.Itoa(rank), "WORLD_SIZE="+strconv.Itoa(size),
		"LOCAL_RANK="+strconv.Itoa(rank), "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port),
		"SMT_COMM_TIMEOUT=20s", "SMT_COMM_CONNECT_TIMEOUT=20s")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewReader(out)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestTCPProcesses(t *testing.T) {
	// Three processes launched torchrun-style (FromEnv, Open) give the
	// local hub's bits.
	if testing.Short() {
		t.Skip("starts processes")
	}
	parts := make([][]float32, 3)
	for r := range parts {
		parts[r] = randData(uint64(100+r), childN)
	}
	want := hashBits(reduceOn(t, NewLocal(3), parts)[0])
	s := []float64{0.1, 1.1, 2.1}
	wantV := fmt.Sprintf("%x %x", math.Float64bits((s[0]+s[1])+s[2]), math.Float64bits(3))
	port := freePort(t)
	outs := make([]*bufio.Reader, 3)
	cmds := make([]*exec.Cmd, 3)
	for r := range 3 {
		cmds[r], outs[r] = child(t, "sum", r, 3, port)
	}
	for r := range 3 {
		line := readLine(t, outs[r], 60*time.Second)
		if line != want+" "+wantV {
			t.Errorf("rank %d printed %q, the local hub gives %q", r, line, want+" "+wantV)
		}
		if err := cmds[r].Wait(); err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

func TestTCPProcessKilled(t *testing.T) {
	// Rank 2 is a process that is killed while ranks 0 and 1 wait for it
	// in a reduction: they get errors, not a hang.
	if testing.Short() {
		t.Skip("starts processes")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	addr := ln.Addr().String()
	cmd, out := child(t, "hang", 2, 3, port)
	cs := make([]Comm, 2)
	res := make(chan error, 2)
	for r := range 2 {
		go func() {
			o := Options{ConnectTimeout: 20 * time.Second, Timeout: 20 * time.Second}
			if r == 0 {
				o.Listener = ln
			}
			c, err := NewTCP(r, 3, r, addr, o)
			cs[r] = c
			res <- err
		}()
	}
	for range 2 {
		if err := <-res; err != nil {
			t.Fatal(err)
		}
	}
	defer cs[0].Close()
	defer cs[1].Close()
	parts := [][]float32{randData(100, childN), randData(101, childN)}
	reduceOn(t, cs, parts) // with the child: its first reduction
	if line := readLine(t, out, 30*time.Second); line != "ready" {
		t.Fatalf("child printed %q", line)
	}
	done := make(chan []error)
	go func() {
		done <- onRanks(cs, func(c Comm) error {
			return c.AllReduceSum(cpu.New32(1), cpu.Wrap(parts[c.Rank()]), childN)
		})
	}()
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	select {
	case errs := <-done:
		for r, err := range errs {
			t.Logf("rank %d: %v", r, err)
			wantErr(t, fmt.Sprintf("rank %d", r), err, "lost rank 2", "collective #1", "did it exit or crash?")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("ranks hang after rank 2 was killed")
	}
}
