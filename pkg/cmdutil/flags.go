// Package cmdutil holds what every stage binary shares: the common flags
// (--device, --threads, --seed, --json, --quiet), exit codes, and a
// progress reporter that writes human lines or JSON objects to stderr.
package cmdutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/smt-go/smt/pkg/backend/choose"
	"github.com/smt-go/smt/pkg/memstat"
)

// Exit codes shared by every stage.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the work failed (bad input, I/O error, …)
	ExitUsage   = 2 // the command line was wrong
)

// Names of the common flags.
const (
	FlagDevice  = "device"
	FlagThreads = "threads"
	FlagSeed    = "seed"
	FlagJSON    = "json"
	FlagQuiet   = "quiet"
)

// CommonFlags returns the flags every stage accepts.
func CommonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: FlagDevice, Value: "auto", Usage: choose.Usage, EnvVars: []string{"SMT_DEVICE"}},
		&cli.IntFlag{Name: FlagThreads, Value: 0, Usage: "CPU threads (0: one per core)", EnvVars: []string{"SMT_THREADS"}},
		&cli.Int64Flag{Name: FlagSeed, Value: 1234, Usage: "random seed"},
		&cli.BoolFlag{Name: FlagJSON, Usage: "write progress to stderr as one JSON object per line"},
		&cli.BoolFlag{Name: FlagQuiet, Aliases: []string{"q"}, Usage: "no progress output"},
	}
}

// Common is the parsed value of the common flags.
type Common struct {
	Device  string
	Threads int
	Seed    int64
	JSON    bool
	Quiet   bool
}

// ParseCommon reads the common flags from a cli context.
func ParseCommon(c *cli.Context) Common {
	th := c.Int(FlagThreads)
	if th <= 0 {
		th = runtime.NumCPU()
	}
	return Common{
		Device:  c.String(FlagDevice),
		Threads: th,
		Seed:    c.Int64(FlagSeed),
		JSON:    c.Bool(FlagJSON),
		Quiet:   c.Bool(FlagQuiet),
	}
}

// UsageError marks an error as a command-line mistake (exit code 2).
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// Main runs app with os.Args and exits with the right code: 0 on success,
// 2 on a usage error, 1 on any other error. The error goes to stderr
// prefixed with the program name.
func Main(app *cli.App) {
	app.ExitErrHandler = func(*cli.Context, error) {} // we exit below
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error {
		return UsageError{err}
	}
	start := time.Now()
	if path := os.Getenv(ProfileEnv); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	err := app.Run(os.Args)
	pprof.StopCPUProfile()
	code := ExitCode(app.Name, err)
	recordStats(app.Name, start, code)
	os.Exit(code)
}

// ProfileEnv names an environment variable: when set to a file path, the
// stage writes a CPU profile there (for `go tool pprof`).
const ProfileEnv = "SMT_CPUPROFILE"

// StatsEnv names an environment variable: when set to a file path, every
// stage appends one JSON line to that file as it exits, with its name,
// arguments, wall time, peak resident memory and exit code (the demo
// pipeline builds its summary table from these lines).
const StatsEnv = "SMT_STATS_FILE"

func recordStats(name string, start time.Time, code int) {
	path := os.Getenv(StatsEnv)
	if path == "" {
		return
	}
	line, _ := json.Marshal(map[string]any{
		"stage": name, "args": os.Args[1:], "seconds": time.Since(start).Seconds(),
		"peak_rss": memstat.PeakRSS(), "exit": code,
	})
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s: %v\n", name, StatsEnv, err)
		return
	}
	f.Write(append(line, '\n'))
	f.Close()
}

// ExitCode prints err (if any) and returns the exit code for it.
func ExitCode(prog string, err error) int {
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	var ue UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	// urfave/cli reports missing required flags with an unexported type.
	if strings.HasPrefix(err.Error(), "Required flag") {
		return ExitUsage
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return ExitFailure
}
