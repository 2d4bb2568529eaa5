package main

import (
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// CPU time of the PostgreSQL and Redis servers, read from /proc when they
// run on this machine: the sum of utime + stime of their processes, plus
// cutime + cstime (children that have exited: PostgreSQL backends are
// children of the postmaster). Other load on the same servers counts too.

const clockTicks = 100 // USER_HZ on Linux

func localHost(rawURL string) (host, port string, ok bool) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", false
	}
	switch u.Hostname() {
	case "", "localhost", "127.0.0.1", "::1":
		return u.Hostname(), u.Port(), true
	}
	return "", "", false
}

// postgresCPU returns the CPU seconds of every process named "postgres"
// (one cluster per machine is assumed), and whether any was found.
func postgresCPU(pgURL string) (float64, bool) {
	if _, _, ok := localHost(pgURL); !ok {
		return 0, false
	}
	return procCPU(func(comm, cmdline string) bool { return comm == "postgres" })
}

// postgresUserCPU returns the CPU seconds of every process owned by the
// operating-system user "postgres" — the postmaster, its background workers
// and every backend, live or exited (the postmaster's cutime) — or, without
// such a user, of every process named "postgres". Other clients of the same
// cluster count too.
func postgresUserCPU(pgURL string) (float64, bool) {
	if _, _, ok := localHost(pgURL); !ok {
		return 0, false
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return procCPU(func(comm, cmdline string) bool { return comm == "postgres" })
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return procCPU(func(comm, cmdline string) bool { return comm == "postgres" })
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var ticks int64
	seen := false
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != uint32(uid) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		if t, ok := statTicks(string(stat)); ok {
			ticks += t
			seen = true
		}
	}
	return float64(ticks) / clockTicks, seen
}

// redisCPU returns the CPU seconds of the redis-server listening on the
// URL's port.
func redisCPU(redisURL string) (float64, bool) {
	_, port, ok := localHost(redisURL)
	if !ok {
		return 0, false
	}
	if port == "" {
		port = "6379"
	}
	return procCPU(func(comm, cmdline string) bool {
		return comm == "redis-server" && strings.Contains(cmdline, ":"+port)
	})
}

func procCPU(match func(comm, cmdline string) bool) (float64, bool) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var ticks int64
	seen := false
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		if !match(strings.TrimSpace(string(comm)), strings.ReplaceAll(string(cmdline), "\x00", " ")) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		t, ok := statTicks(string(stat))
		if ok {
			ticks += t
			seen = true
		}
	}
	return float64(ticks) / clockTicks, seen
}

// statTicks sums utime, stime, cutime and cstime of a /proc/PID/stat line.
func statTicks(stat string) (int64, bool) {
	i := strings.LastIndex(stat, ")")
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return 0, false
	}
	var sum int64
	for _, idx := range []int{11, 12, 13, 14} { // fields 14–17
		n, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += n
	}
	return sum, true
}
