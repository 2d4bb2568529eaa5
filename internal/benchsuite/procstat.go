package main

import (
	"fmt"
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

// postgresProcs returns the CPU ticks of each of the cluster's processes
// by PID: every process owned by the operating-system user "postgres" (the
// postmaster, its background workers and every backend, live or exited, by
// the postmaster's cutime), or, without such a user, every process named
// "postgres". Other clients of the same cluster count too.
func postgresProcs(pgURL string) (map[int]int64, bool) {
	if _, _, ok := localHost(pgURL); !ok {
		return nil, false
	}
	byName := func() (map[int]int64, bool) {
		return procTicks(func(pid int, comm string, uid uint32) bool { return comm == "postgres" })
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return byName()
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return byName()
	}
	return procTicks(func(pid int, comm string, owner uint32) bool { return owner == uint32(uid) })
}

// procTicks returns utime + stime + cutime + cstime of the processes match
// accepts, by PID.
func procTicks(match func(pid int, comm string, uid uint32) bool) (map[int]int64, bool) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	out := map[int]int64{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		fi, err := os.Stat(d)
		if err != nil {
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(d, "comm"))
		if !match(pid, strings.TrimSpace(string(comm)), st.Uid) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		if t, ok := statTicks(string(stat)); ok {
			out[pid] = t
		}
	}
	return out, len(out) > 0
}

// socketPorts returns the local TCP ports of a process's sockets (its
// client connections included), from /proc/PID/fd and /proc/net/tcp{,6}.
func socketPorts(pid int) []int {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fd)
		if err != nil {
			continue
		}
		if in, ok := strings.CutPrefix(l, "socket:["); ok {
			inodes[strings.TrimSuffix(in, "]")] = true
		}
	}
	var ports []int
	for _, tab := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(tab)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil {
				ports = append(ports, int(p))
			}
		}
	}
	return ports
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
