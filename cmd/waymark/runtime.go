package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/waymarkhq/waymark/connectors"
	connbuiltin "github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/ratelimit"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/internal/embedredis"
	"github.com/waymarkhq/waymark/internal/engagement"
	"github.com/waymarkhq/waymark/internal/hooks"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/profiles"
	"github.com/waymarkhq/waymark/internal/segments"
	"github.com/waymarkhq/waymark/internal/sim"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/worker"
)

type mode int

const (
	modeAll mode = iota
	modeWeb
	modeWorker
)

func (m mode) String() string { return [...]string{"serve", "web", "worker"}[m] }

func (c *cli) serve(ctx context.Context, args []string) error {
	return c.start(ctx, modeAll, args)
}

func (c *cli) web(ctx context.Context, args []string) error { return c.start(ctx, modeWeb, args) }

func (c *cli) worker(ctx context.Context, args []string) error {
	return c.start(ctx, modeWorker, args)
}

func (c *cli) newLogger(cfg *config) *slog.Logger {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.LogLevel]
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(ui.LogHandler(slog.NewJSONHandler(c.stderr, opts)))
	}
	return slog.New(ui.LogHandler(slog.NewTextHandler(c.stderr, opts)))
}

// openStore connects to the database; a failure is one clear line.
func openStore(ctx context.Context, cfg *config, logger *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{MaxOpenConns: cfg.DBMaxConns, Logger: logger})
	if err != nil {
		return nil, &exitError{code: 1, msg: err.Error()}
	}
	return st, nil
}

// openRedis connects to the configured Redis, or starts the embedded one.
func openRedis(ctx context.Context, cfg *config) (redis.UniversalClient, func(), error) {
	target := cfg.Redis // standalone, Sentinel or Cluster (redis.go)
	var emb *embedredis.Server
	if target == nil {
		var err error
		if emb, err = embedredis.Start(); err != nil {
			return nil, nil, err
		}
		if target, err = parseRedisURL(emb.URL()); err != nil {
			emb.Close()
			return nil, nil, err
		}
	}
	rdb := target.newClient()
	closeAll := func() {
		_ = rdb.Close()
		if emb != nil {
			emb.Close()
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("connecting to Redis at %s: %v", target, err)
	}
	return rdb, closeAll, nil
}

func (c *cli) start(ctx context.Context, m mode, args []string) error {
	fs := newFlags(m.String())
	if err := c.parse(fs, m.String(), args); err != nil {
		return err
	}
	cfg, err := loadConfig(c.getenv)
	if err != nil {
		return err
	}
	logger := c.newLogger(cfg)
	redis.SetLogger(redisLogs{logger.With(slog.String("component", "redis"))}) // go-redis's own messages (Sentinel switches, dial failures)
	if m != modeAll && cfg.Embedded() {
		return usageError("'waymark %s' is split mode: several processes must share one database and one Redis, "+
			"so it needs WAYMARK_DATABASE_URL=postgres://… and WAYMARK_REDIS_URL=redis://… "+
			"(SQLite and the in-process Redis belong to one process: use 'waymark serve')", m)
	}
	if cfg.PprofAddr != "" { // Go's profiler, loopback only unless allowed (pprof.go)
		_, stopPprof, err := startPprof(cfg.PprofAddr, logger)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	generated, err := cfg.ensureSecretKey()
	if err != nil {
		return err
	}
	if generated {
		logger.Info("generated a new secret key", slog.String("path", filepath.Join(cfg.DataDir, "secret.key")))
	}

	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	if m == modeAll {
		applied, err := st.Migrate(ctx)
		if err != nil {
			return err
		}
		if len(applied) > 0 {
			logger.Info("applied database migrations", slog.Any("versions", applied))
		}
	} else {
		cur, latest, err := st.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		if cur != latest {
			return fmt.Errorf("database schema is at version %d, this binary needs %d: run 'waymark migrate' first", cur, latest)
		}
	}
	if _, err := st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default"); err != nil {
		return err
	}

	rdb, closeRedis, err := openRedis(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeRedis()

	if cfg.Embedded() {
		logger.Info("single-node mode: everything runs in this process; not for production",
			slog.String("database", describeDB(cfg)), slog.String("redis", describeRedis(cfg)),
			slog.String("data_dir", absPath(cfg.DataDir)))
	} else {
		logger.Info("production mode", slog.String("role", m.String()), slog.String("database", "postgres"), slog.String("redis", cfg.Redis.String()))
	}

	svc, err := buildServices(ctx, cfg, st, rdb, logger)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	var stops []func(context.Context)
	var bg sync.WaitGroup
	background := func(f func(context.Context)) {
		bg.Add(1)
		go func() { defer bg.Done(); f(ctx) }()
	}

	// Both roles enter runs (web: hooks and events), so both clean the outbox.
	background(svc.engine.RunOutboxCleaner)

	// /metrics: Go runtime and process metrics, the engine's collector
	// (database and Redis, read at scrape time with a 15 s cache).
	metrics := prometheus.NewRegistry()
	insp := asynq.NewInspectorFromRedisClient(rdb) // queues for /metrics and the operations page
	engineMetrics := worker.NewMetrics(st, insp, 15*time.Second, time.Now)
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), engineMetrics)

	if m == modeAll || m == modeWorker {
		srv := worker.NewServer(rdb, worker.Config{Concurrency: cfg.WorkerConcurrency, ShutdownTimeout: cfg.ShutdownTimeout}, logger)
		mux := asynq.NewServeMux()
		mux.Handle(worker.TaskAdvance, svc.engine)
		mux.Handle(worker.TaskHousekeeping, worker.NewHousekeeper(st, logger))
		mux.Handle(worker.TaskEraseAudiences, worker.AudienceErasureHandler{Conns: svc.conns})
		if err := srv.Start(mux); err != nil {
			return fmt.Errorf("starting worker: %w", err)
		}
		background(worker.NewScheduler(svc.client, time.Minute, time.Now, logger).Run)
		background(worker.NewRelay(svc.engine, time.Second).Run)
		background(worker.NewReconciler(svc.engine, rdb, 30*time.Second, time.Minute).WithMetrics(engineMetrics).Run)
		background(svc.triggers.Run) // segment sweeps and schedule ticks, on the leader only
		if m == modeAll {
			background(svc.engine.RunLocalTasks) // entries' first tasks in this process (worker/localtasks.go)
		}
		stops = append(stops, func(context.Context) {
			srv.Shutdown() // stops taking tasks, waits up to ShutdownTimeout, requeues the rest
		})
		if m == modeWorker && cfg.WorkerListenAddr != "" { // /healthz, /readyz, /metrics (healthcheck.go)
			addr, stop, err := startWorkerHTTP(cfg.WorkerListenAddr, []healthCheck{{"database", st.Ping},
				{"redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}}, logger)
			if err != nil {
				return err
			}
			stops = append(stops, stop) // after the drain: probes answer while tasks finish
			if c.onListen != nil {
				c.onListen(addr)
			}
		}
		logger.Info("worker started", slog.Int("concurrency", cfg.WorkerConcurrency))
	}

	if m == modeAll || m == modeWeb {
		setupToken := ""
		n, err := st.CountUsers(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			setupToken = auth.Token(24)
		}
		web, err := ui.New(ui.Config{
			Version: version, BodyLimit: cfg.BodyLimit, HeaderLimit: cfg.HeaderLimit, RequestTimeout: cfg.RequestTimeout,
			CookieSecure: cfg.CookieSecure(), TrustedOrigin: cfg.BaseURL,
			SessionIdleTimeout: cfg.SessionIdleTimeout, SessionMaxAge: cfg.SessionMaxAge, SetupToken: setupToken,
		}, ui.Deps{
			Store:      st,
			Journeys:   svc.journeys,
			Connectors: svc.conns,
			Engine:     svc.engine,
			Profiles:   svc.profiles,
			Hooks:      svc.hooks,
			TestSends:  svc.engine, // test sends of action nodes (issue 10)
			Simulator:  svc.sim,
			Tracking:   svc.tracking,
			Queues:     insp,
			Metrics:    metrics,
			Logger:     logger,
			Passwords:  auth.NewHasher(cfg.HashConcurrency, auth.DefaultHashWait),
			Checks: []ui.Check{
				{Name: "database", Fn: st.Ping},
				{Name: "redis", Fn: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
			},
		})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", cfg.ListenAddr)
		if err != nil {
			return fmt.Errorf("listening on %s: %v", cfg.ListenAddr, err)
		}
		go func() { errc <- web.App().Listener(ln) }()
		stops = append([]func(context.Context){func(ctx context.Context) { _ = web.Shutdown(ctx) }}, stops...)
		addr := ln.Addr().String()
		logger.Info("Waymark is listening", slog.String("url", "http://"+addr))
		if setupToken != "" {
			logger.Warn("first run: no user exists yet; create the admin account at this one-time link",
				slog.String("setup_url", cfg.BaseURL+"/setup/"+setupToken))
		}
		if c.onListen != nil {
			c.onListen(addr)
		}
	}

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-errc:
		if err != nil {
			logger.Error("web server stopped", slog.String("error", err.Error()))
		}
	}
	sctx, scancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer scancel()
	for _, stop := range stops {
		stop(sctx)
	}
	cancel()
	bg.Wait()
	logger.Info("stopped")
	return nil
}

func describeDB(cfg *config) string {
	if cfg.DatabaseDialect == store.DialectSQLite {
		_, p, _ := store.ParseURL(cfg.DatabaseURL)
		return "sqlite " + absPath(p)
	}
	return "postgres"
}

func describeRedis(cfg *config) string {
	if cfg.RedisURL == "" {
		return "in-process (embedded; the schedule is rebuilt from the database at start)"
	}
	return cfg.Redis.String() // standalone, Sentinel or Cluster, without credentials
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func (c *cli) migrate(ctx context.Context, args []string) error {
	fs := newFlags("migrate")
	if err := c.parse(fs, "migrate", args); err != nil {
		return err
	}
	cfg, err := loadConfig(c.getenv)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, c.newLogger(cfg))
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	cur, _, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(c.stdout, "database is up to date (version %d)\n", cur)
		return nil
	}
	fmt.Fprintf(c.stdout, "applied %d migration(s); database is at version %d\n", len(applied), cur)
	return nil
}

// openForAdmin opens and migrates the store for an admin command.
func (c *cli) openForAdmin(ctx context.Context) (*store.Store, error) {
	cfg, err := loadConfig(c.getenv)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg, c.newLogger(cfg))
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if _, err := st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default"); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// newRegistry builds the node catalogue with every built-in kind.
func newRegistry() (*nodes.Registry, error) {
	reg := nodes.NewRegistry()
	if err := builtin.Register(reg); err != nil {
		return nil, fmt.Errorf("registering node kinds: %w", err)
	}
	return reg, nil
}

// services are the application's parts shared by the web and worker roles.
type services struct {
	client   *asynq.Client
	conns    *connectors.Service
	engine   *worker.Engine
	journeys *journeys.Service
	hooks    *hooks.Service
	triggers *worker.Triggers    // segment and schedule triggers (issue 5)
	profiles *profiles.Service   // profile import, export, erasure (issue 5)
	sim      *sim.Simulator      // journey simulator and replay check (issue 10)
	tracking *engagement.Service // email open and click tracking (docs/engagement.md)
}

// buildServices wires connectors (secrets, SSRF guard, shared rate limits),
// the journey service and the engine.
func buildServices(ctx context.Context, cfg *config, st *store.Store, rdb redis.UniversalClient, logger *slog.Logger) (*services, error) {
	keys, err := secrets.NewKeyring(cfg.SecretKey, cfg.SecretKeysOld...)
	if err != nil {
		return nil, badConfig("WAYMARK_SECRET_KEY", "%v", err)
	}
	creg, err := connbuiltin.NewRegistry()
	if err != nil {
		return nil, err
	}
	guard, err := netguard.New(netguard.WithAllowlist(cfg.ConnectorAllowlist...))
	if err != nil {
		return nil, badConfig("WAYMARK_CONNECTOR_ALLOWLIST", "%v", err)
	}
	limiter := ratelimit.New(rdb)
	conns, err := connectors.NewService(st, keys, creg, connectors.Options{Net: guard, PublicURL: cfg.BaseURL, Limiter: limiter, Logger: logger})
	if err != nil {
		return nil, err
	}
	if err := conns.CheckKeys(ctx); err != nil {
		return nil, &exitError{code: 1, msg: err.Error()}
	}
	reg, err := newRegistry()
	if err != nil {
		return nil, err
	}
	client := asynq.NewClientFromRedisClient(rdb)
	trackKeys, err := keys.Subkeys("tracking v1")
	if err != nil {
		return nil, err
	}
	tracking, err := engagement.New(engagement.Config{Store: st, Base: cfg.BaseURL, Keys: trackKeys, Logger: logger})
	if err != nil {
		return nil, err
	}
	segs := segments.New(st, segments.Options{}) // saved segments: in_segment and segment triggers (docs/segments.md)
	engine := worker.NewEngine(worker.EngineConfig{
		Store: st, Registry: reg, Connectors: conns, Suppressions: st, RateLimiter: worker.NewJourneyLimiter(limiter), Segments: segs,
		Enqueuer: client, Logger: logger, BaseURL: cfg.BaseURL, UnsubscribeURL: conns.UnsubscribeURL, Tracker: tracking, StatusCacheTTL: time.Second, InlineActions: true,
		LocalTasks: cfg.WorkerConcurrency,                           // entries' first tasks in process, where web and worker are one (serve)
		Learning:   worker.NewLearning(st, worker.LearningConfig{}), // bandit splits and best-time delays (docs/intelligence.md)
	})
	tracking.WithEngine(engine)
	triggers := worker.NewTriggers(engine, st, rdb, worker.TriggersConfig{Segments: segs})
	profileChanged := func(ctx context.Context, p store.Profile) {
		if _, err := triggers.ProfileChanged(ctx, p); err != nil {
			logger.Warn("segment and attribute triggers", slog.String("profile_id", p.ID), slog.String("error", err.Error()))
		}
	}
	return &services{
		triggers: triggers,
		profiles: profiles.NewService(st, engine, worker.QueueAudienceErasure(client), profileChanged, logger),
		client:   client, conns: conns, engine: engine, tracking: tracking,
		journeys: journeys.New(st, reg).WithConnectorTypes(creg.Serves),
		hooks:    hooks.New(st, keys, cfg.BaseURL, nil).ReuseJourneys(time.Second), // as the engine's StatusCacheTTL
		sim:      sim.New(sim.Config{Registry: reg, Profiles: st, Suppressions: st, Logger: logger}),
	}, nil
}
