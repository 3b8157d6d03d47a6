package comm

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func lookupOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestParseEnv(t *testing.T) {
	torchrun := map[string]string{"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "3", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29400",
		"TORCHELASTIC_RUN_ID": "none", "TORCHELASTIC_USE_AGENT_STORE": "True", "GROUP_RANK": "0", "LOCAL_WORLD_SIZE": "8"}
	slurmStep := map[string]string{"SLURM_PROCID": "5", "SLURM_NTASKS": "16", "SLURM_LOCALID": "1", "SLURM_STEP_ID": "0",
		"SLURM_JOB_NODELIST": "gpu[07-08],gpu11", "SLURM_NODELIST": "gpu[07-08],gpu11", "SLURM_STEP_NODELIST": "gpu[08,11]"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "-" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	cases := []struct {
		name string
		vars map[string]string
		want Env    // compared without Notes
		err  string // substring of the error
		note string // substring of a note
	}{
		{name: "nothing", vars: nil, want: Env{Size: 1, MasterPort: 29500, Comm: "auto"}},
		{name: "single torchrun", vars: map[string]string{"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "TORCHELASTIC_RUN_ID": "x"},
			want: Env{Size: 1, MasterPort: 29500, Comm: "auto"}},
		{name: "torchrun", vars: torchrun, note: "rank 0 listens on 29401",
			want: Env{Rank: 3, Size: 8, LocalRank: 3, MasterAddr: "10.0.0.1", MasterPort: 29401, Launcher: "torchrun", Comm: "auto"}},
		{name: "torchrun, SMT_COMM_PORT", vars: with(torchrun, "SMT_COMM_PORT", "31000"),
			want: Env{Rank: 3, Size: 8, LocalRank: 3, MasterAddr: "10.0.0.1", MasterPort: 31000, Launcher: "torchrun", Comm: "auto"}},
		{name: "plain env (bash loop)", vars: map[string]string{"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1"},
			want: Env{Rank: 1, Size: 4, LocalRank: 1, MasterAddr: "127.0.0.1", MasterPort: 29500, Launcher: "env", Comm: "auto"}},
		{name: "no LOCAL_RANK", vars: map[string]string{"RANK": "2", "WORLD_SIZE": "4", "MASTER_ADDR": "h"}, note: "LOCAL_RANK is not set",
			want: Env{Rank: 2, Size: 4, LocalRank: 2, MasterAddr: "h", MasterPort: 29500, Launcher: "env", Comm: "auto"}},
		{name: "slurm", vars: slurmStep,
			want: Env{Rank: 5, Size: 16, LocalRank: 1, MasterAddr: "gpu08", MasterPort: 29500, Launcher: "slurm", Comm: "auto"}},
		{name: "slurm, SLURM_NODELIST", vars: with(slurmStep, "SLURM_STEP_NODELIST", "-"),
			want: Env{Rank: 5, Size: 16, LocalRank: 1, MasterAddr: "gpu07", MasterPort: 29500, Launcher: "slurm", Comm: "auto"}},
		{name: "slurm, SLURM_JOB_NODELIST", vars: with(slurmStep, "SLURM_STEP_NODELIST", "-", "SLURM_NODELIST", "-", "SLURM_JOB_NODELIST", "node[01-04,07]"),
			want: Env{Rank: 5, Size: 16, LocalRank: 1, MasterAddr: "node01", MasterPort: 29500, Launcher: "slurm", Comm: "auto"}},
		{name: "slurm, MASTER_ADDR and port given", vars: with(slurmStep, "MASTER_ADDR", "login1", "MASTER_PORT", "6000", "SLURM_STEP_ID", "-", "SLURM_STEPID", "3"),
			want: Env{Rank: 5, Size: 16, LocalRank: 1, MasterAddr: "login1", MasterPort: 6000, Launcher: "slurm", Comm: "auto"}},
		{name: "slurm batch script, no step", vars: with(slurmStep, "SLURM_STEP_ID", "-", "SLURM_PROCID", "0", "SLURM_LOCALID", "0"),
			note: "not an srun step", want: Env{Size: 1, MasterPort: 29500, Comm: "auto"}},
		{name: "torchrun under srun", vars: with(torchrun, "SLURM_PROCID", "0", "SLURM_NTASKS", "2", "SLURM_LOCALID", "0", "SLURM_STEP_ID", "1"),
			note: "torchrun runs under Slurm",
			want: Env{Rank: 3, Size: 8, LocalRank: 3, MasterAddr: "10.0.0.1", MasterPort: 29401, Launcher: "torchrun", Comm: "auto"}},
		{name: "plain env agreeing with slurm", vars: with(slurmStep, "RANK", "5", "WORLD_SIZE", "16", "LOCAL_RANK", "1"),
			want: Env{Rank: 5, Size: 16, LocalRank: 1, MasterAddr: "gpu08", MasterPort: 29500, Launcher: "env", Comm: "auto"}},
		{name: "options", vars: map[string]string{"SMT_COMM": "TCP", "SMT_COMM_TIMEOUT": "90s", "SMT_COMM_CONNECT_TIMEOUT": "120"},
			want: Env{Size: 1, MasterPort: 29500, Comm: "tcp", Timeout: 90 * time.Second, ConnectTimeout: 2 * time.Minute}},

		{name: "RANK exported to every task", vars: with(slurmStep, "RANK", "0", "WORLD_SIZE", "16"), err: "RANK=0 conflicts with SLURM_PROCID=5"},
		{name: "WORLD_SIZE vs SLURM_NTASKS", vars: with(slurmStep, "RANK", "5", "WORLD_SIZE", "8"), err: "WORLD_SIZE=8 conflicts with SLURM_NTASKS=16"},
		{name: "LOCAL_RANK vs SLURM_LOCALID", vars: with(slurmStep, "RANK", "5", "WORLD_SIZE", "16", "LOCAL_RANK", "0"), err: "LOCAL_RANK=0 conflicts with SLURM_LOCALID=1"},
		{name: "rank ≥ world", vars: map[string]string{"RANK": "4", "WORLD_SIZE": "4", "MASTER_ADDR": "h"}, err: "rank 4 is not below the world size 4"},
		{name: "slurm rank ≥ world", vars: with(slurmStep, "SLURM_PROCID", "16"), err: "rank 16 is not below the world size 16"},
		{name: "local rank ≥ world", vars: map[string]string{"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "2", "MASTER_ADDR": "h"}, err: "local rank 2"},
		{name: "world 0", vars: map[string]string{"RANK": "0", "WORLD_SIZE": "0"}, err: "world size 0"},
		{name: "no MASTER_ADDR", vars: map[string]string{"RANK": "0", "WORLD_SIZE": "2"}, err: "MASTER_ADDR is not set (world size 2)"},
		{name: "RANK alone", vars: map[string]string{"RANK": "0"}, err: "RANK is set but WORLD_SIZE is not"},
		{name: "WORLD_SIZE alone", vars: map[string]string{"WORLD_SIZE": "2"}, err: "WORLD_SIZE is set but RANK is not"},
		{name: "bad RANK", vars: map[string]string{"RANK": "one", "WORLD_SIZE": "2"}, err: `RANK="one" is not a non-negative integer`},
		{name: "negative", vars: map[string]string{"RANK": "-1", "WORLD_SIZE": "2"}, err: `RANK="-1"`},
		{name: "bad port", vars: map[string]string{"MASTER_PORT": "70000"}, err: "MASTER_PORT=70000 is not a TCP port"},
		{name: "bad SMT_COMM", vars: map[string]string{"SMT_COMM": "mpi"}, err: `SMT_COMM="mpi"`},
		{name: "bad timeout", vars: map[string]string{"SMT_COMM_TIMEOUT": "soon"}, err: `SMT_COMM_TIMEOUT="soon"`},
		{name: "bad node list", vars: with(slurmStep, "SLURM_STEP_NODELIST", "gpu[07-08"), err: "SLURM_STEP_NODELIST: node list \"gpu[07-08\": unbalanced '['"},
		{name: "slurm without NTASKS", vars: with(slurmStep, "SLURM_NTASKS", "-"), err: "SLURM_PROCID and SLURM_NTASKS must both be set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseEnv(lookupOf(tc.vars))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			notes := strings.Join(e.Notes, "; ")
			if tc.note != "" && !strings.Contains(notes, tc.note) {
				t.Errorf("notes %q do not contain %q", notes, tc.note)
			}
			e.Notes = nil
			if !reflect.DeepEqual(e, tc.want) {
				t.Errorf("got  %+v\nwant %+v", e, tc.want)
			}
		})
	}
}

func TestFirstHost(t *testing.T) {
	for list, want := range map[string]string{
		"node01":                "node01",
		"node[01-04,07]":        "node01",
		"node[07,01-04]":        "node07",
		"gpu7,gpu9":             "gpu7",
		"a[3],b[1-2]":           "a3",
		"rack[2-3]-n[08-09]":    "rack2-n08",
		"node[001-128]":         "node001",
		" cn-12.cluster.local ": "cn-12.cluster.local",
		"x[5]":                  "x5",
	} {
		got, err := FirstHost(list)
		if err != nil || got != want {
			t.Errorf("FirstHost(%q) = %q, %v; want %q", list, got, err, want)
		}
	}
	for _, bad := range []string{"", "node[01-04", "node01]", "node[]", "node[a-b]", ",node1"} {
		if h, err := FirstHost(bad); err == nil {
			t.Errorf("FirstHost(%q) = %q, want an error", bad, h)
		}
	}
}

func TestDeviceIndex(t *testing.T) {
	for _, tc := range []struct {
		local, visible, want int
		err                  string
	}{
		{0, 8, 0, ""}, {5, 8, 5, ""}, {5, 1, 0, ""}, {0, 1, 0, ""},
		{5, 4, 0, "local rank 5, but only 4 CUDA devices"}, {0, 0, 0, "no CUDA device"},
	} {
		got, err := Env{LocalRank: tc.local}.DeviceIndex(tc.visible)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("local %d visible %d: %v, want %q", tc.local, tc.visible, err, tc.err)
			}
		} else if err != nil || got != tc.want {
			t.Errorf("local %d visible %d: %d %v, want %d", tc.local, tc.visible, got, err, tc.want)
		}
	}
}

func TestEnvString(t *testing.T) {
	e := Env{Rank: 1, Size: 2, LocalRank: 1, MasterAddr: "::1", MasterPort: 5, Launcher: "env"}
	if s := e.String(); s != "rank 1 of 2 (local rank 1) from env, rank 0 at [::1]:5" {
		t.Errorf("String = %q", s)
	}
}
