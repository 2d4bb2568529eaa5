package main

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/expr-lang/expr"

	"github.com/waymarkhq/waymark/connectors/webhook"
)

// The baseline of the flow benchmark: what the same flow costs without
// durability. One process (the suite's own binary, re-run with
// BENCHSUITE_BASELINE_LISTEN set) that checks the Standard Webhooks
// signature, parses the body, answers 202, and hands the entry to 10
// goroutines (WAYMARK_WORKER_CONCURRENCY's default) through an in-memory
// queue; they evaluate the same condition with expr and POST a signed
// payload to the sink. Nothing is written anywhere: a crash loses every
// queued entry, which is what Waymark exists to prevent.

const (
	baselineListenEnv     = "BENCHSUITE_BASELINE_LISTEN"
	baselineSinkEnv       = "BENCHSUITE_BASELINE_SINK"
	baselineSinkSecretEnv = "BENCHSUITE_BASELINE_SINK_SECRET"
	baselineHookSecretEnv = "BENCHSUITE_BASELINE_HOOK_SECRET"
	baselineWorkers       = 10
)

// startBaseline runs the baseline server as a child process, so that its
// CPU and memory are measured like waymark's.
func (s *suite) startBaseline(ctx context.Context, sinkURL, sinkSecret string) (*flowTarget, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	addr := "127.0.0.1:" + itoa(port)
	hookSecret := newWebhookSecret()
	env := append(os.Environ(), baselineListenEnv+"="+addr, baselineSinkEnv+"="+sinkURL,
		baselineSinkSecretEnv+"="+sinkSecret, baselineHookSecretEnv+"="+hookSecret)
	p, err := startBenchProc(exe, env)
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { p.stop() }
	if err := waitHealthy(ctx, "http://"+addr+"/healthz", p, 30*time.Second); err != nil {
		cleanup()
		return nil, nil, err
	}
	return &flowTarget{hookURL: "http://" + addr + "/hook", secret: hookSecret, proc: p}, cleanup, nil
}

type baselineEntry struct {
	id   string
	body map[string]any
}

// baselineMain is the baseline server's process.
func baselineMain() int {
	hookKey, err := webhook.DecodeSecret(os.Getenv(baselineHookSecretEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline: hook secret:", err)
		return 2
	}
	sinkKey, err := webhook.DecodeSecret(os.Getenv(baselineSinkSecretEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline: sink secret:", err)
		return 2
	}
	sinkURL := os.Getenv(baselineSinkEnv)
	cond, err := expr.Compile(`event.body.pass == true`, expr.AsBool())
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		return 2
	}
	queue := make(chan baselineEntry, 1<<16)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * baselineWorkers}}
	deliver := func(e baselineEntry) {
		ok, err := expr.Run(cond, map[string]any{"event": map[string]any{"body": e.body}})
		if err != nil || ok != true {
			return
		}
		payload, _ := json.Marshal(map[string]any{"entry": e.body["id"]})
		id := "bl_" + e.id
		for attempt := 0; attempt < 3; attempt++ {
			ts := time.Now().Unix()
			req, _ := http.NewRequest("POST", sinkURL, strings.NewReader(string(payload)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("webhook-id", id)
			req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
			req.Header.Set("webhook-signature", webhook.Sign(sinkKey, id, ts, payload))
			resp, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 300 {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for i := 0; i < baselineWorkers; i++ {
		go func() {
			for e := range queue {
				deliver(e)
			}
		}()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /hook", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := r.Header.Get("webhook-id")
		ts, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		if id == "" || err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
			http.Error(w, "bad webhook-id or webhook-timestamp", http.StatusUnauthorized)
			return
		}
		want := webhook.Sign(hookKey, id, ts, body)
		valid := false
		for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
			if hmac.Equal([]byte(sig), []byte(want)) {
				valid = true
			}
		}
		if !valid {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			http.Error(w, "body is not a JSON object", http.StatusBadRequest)
			return
		}
		queue <- baselineEntry{id: id, body: doc}
		w.WriteHeader(http.StatusAccepted)
	})
	srv := &http.Server{Addr: os.Getenv(baselineListenEnv), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		return 1
	}
	return 0
}
