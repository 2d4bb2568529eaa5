package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ---- waymark healthcheck ------------------------------------------------------

const healthcheckUsage = "healthcheck [--ready] [--url URL] [--timeout 3s]"

// healthcheck probes this container's own Waymark server, for a Docker
// HEALTHCHECK in an image without a shell or curl: GET /healthz (or
// /readyz) on WAYMARK_LISTEN_ADDR, then on WAYMARK_WORKER_LISTEN_ADDR if
// set — the first that answers decides. Exit 0 healthy, 1 otherwise
// (Docker reserves 2, so every failure is 1).
func (c *cli) healthcheck(ctx context.Context, args []string) error {
	fs, ready, rawURL, timeout := healthcheckFlags()
	if err := c.parse(fs, healthcheckUsage, args); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			ee.code = 1
		}
		return err
	}
	var targets []string
	if *rawURL != "" {
		targets = []string{*rawURL}
	} else {
		cfg, err := loadConfig(c.getenv)
		if err != nil {
			return &exitError{code: 1, msg: "healthcheck: " + err.Error()}
		}
		targets = healthcheckTargets(cfg, *ready)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var unreachable []string
	for _, u := range targets {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("healthcheck: bad URL %q: %v", u, err)}
		}
		resp, err := client.Do(req)
		if err != nil {
			unreachable = append(unreachable, fmt.Sprintf("%s (%v)", u, err))
			continue
		}
		var body struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			var failing []string
			for name, st := range body.Checks {
				if st != "ok" {
					failing = append(failing, name+" "+st)
				}
			}
			detail := ""
			if len(failing) > 0 {
				detail = ": " + strings.Join(failing, ", ")
			}
			return &exitError{code: 1, msg: fmt.Sprintf("unhealthy: %s answered %d%s", u, resp.StatusCode, detail)}
		}
		fmt.Fprintf(c.stdout, "ok: %s\n", u)
		return nil
	}
	return &exitError{code: 1, msg: "unhealthy: no Waymark server answered at " + strings.Join(unreachable, "; ")}
}

// healthcheckFlags defines the command's flags (deploy_test.go parses the
// artifacts' HEALTHCHECK commands with it).
func healthcheckFlags() (fs *flag.FlagSet, ready *bool, rawURL *string, timeout *time.Duration) {
	fs = newFlags("healthcheck")
	ready = fs.Bool("ready", false, "GET /readyz (PostgreSQL and Redis reachable) instead of /healthz (the process answers)")
	rawURL = fs.String("url", "", "probe this URL instead of the configured listen addresses")
	timeout = fs.Duration("timeout", 3*time.Second, "give up after this long")
	return fs, ready, rawURL, timeout
}

// workerHTTPPaths are the routes startWorkerHTTP serves.
var workerHTTPPaths = []string{"/healthz", "/readyz", "/metrics"}

// healthcheckTargets lists the URLs `waymark healthcheck` tries, in order:
// the web listen address, then the worker's health address if configured.
// A wildcard host (0.0.0.0, ::, empty) is probed on loopback.
func healthcheckTargets(cfg *config, ready bool) []string {
	path := "/healthz"
	if ready {
		path = "/readyz"
	}
	out := []string{"http://" + loopbackAddr(cfg.ListenAddr) + path}
	if cfg.WorkerListenAddr != "" {
		out = append(out, "http://"+loopbackAddr(cfg.WorkerListenAddr)+path)
	}
	return out
}

func loopbackAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// ---- the worker's health and metrics server ------------------------------------

// healthCheck is one dependency /readyz checks.
type healthCheck struct {
	name string
	fn   func(context.Context) error
}

// startWorkerHTTP serves /healthz, /readyz and /metrics for the worker role
// on WAYMARK_WORKER_LISTEN_ADDR (only when it is set: the worker needs no
// port otherwise). /metrics here is this process's Go runtime and process
// metrics; the install-wide numbers (queues, runs, outbox lag) come from
// the web role's /metrics, so that N workers do not repeat the same
// database queries. It returns the bound address and a stop function.
func startWorkerHTTP(addr string, checks []healthCheck, logger *slog.Logger) (string, func(context.Context), error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, code, results := "ok", http.StatusOK, map[string]string{}
		for _, ch := range checks {
			if err := ch.fn(ctx); err != nil {
				results[ch.name], status, code = "unavailable", "unavailable", http.StatusServiceUnavailable
				continue
			}
			results[ch.name] = "ok"
		}
		writeJSON(w, code, map[string]any{"status": status, "checks": results})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listening on %s (WAYMARK_WORKER_LISTEN_ADDR): %v", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("worker health server stopped", slog.String("error", err.Error()))
		}
	}()
	bound := ln.Addr().String()
	logger.Info("worker health and metrics", slog.String("url", "http://"+bound))
	return bound, func(ctx context.Context) { _ = srv.Shutdown(ctx) }, nil
}
