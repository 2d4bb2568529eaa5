package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"
)

// WAYMARK_PPROF_ADDR serves Go's profiler (net/http/pprof) for `serve`,
// `web` and `worker`. It is off by default and bound to loopback unless
// WAYMARK_PPROF_ALLOW_REMOTE=true: a profile shows the process's memory
// (heap samples carry allocation sites, goroutine dumps carry arguments)
// and /debug/pprof/profile costs CPU while it runs, so it is an operator's
// tool reached through SSH or `kubectl port-forward`, never a public port.

// checkPprofAddr refuses an address that is not loopback, unless remote is
// allowed. A host name other than localhost is refused too: what it resolves
// to can change.
func checkPprofAddr(addr string, allowRemote bool) error {
	host, _, err := splitHostPort(addr)
	if err != nil {
		return err
	}
	if allowRemote || isLoopbackHost(host) {
		return nil
	}
	shown := host
	if shown == "" {
		shown = "every interface"
	}
	return fmt.Errorf("%s is not a loopback address (%s): the profiler shows this process's memory; "+
		"use 127.0.0.1:PORT and reach it through SSH or kubectl port-forward, or set WAYMARK_PPROF_ALLOW_REMOTE=true", addr, shown)
}

func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startPprof serves /debug/pprof/ on addr and returns the bound address and
// a stop function.
func startPprof(addr string, logger *slog.Logger) (string, func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves heap, goroutine, allocs, block, mutex, threadcreate
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listening on %s (WAYMARK_PPROF_ADDR): %v", addr, err)
	}
	// No write timeout: a CPU profile or trace answers after ?seconds=N.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("pprof server stopped", slog.String("error", err.Error()))
		}
	}()
	bound := ln.Addr().String()
	logger.Info("profiler listening (WAYMARK_PPROF_ADDR)", slog.String("url", "http://"+bound+"/debug/pprof/"))
	return bound, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close() // a profile still being taken
	}, nil
}
