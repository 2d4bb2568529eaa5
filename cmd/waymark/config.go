package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/waymarkhq/waymark/internal/auth"
	"github.com/waymarkhq/waymark/store"
)

// envVar documents one WAYMARK_* variable; the table drives parsing and --help.
type envVar struct {
	name, def, help string
}

var envVars = []envVar{
	{"WAYMARK_DATABASE_URL", "sqlite:<data dir>/waymark.db", "postgres://user:pass@host:5432/db for production, or sqlite:PATH"},
	{"WAYMARK_REDIS_URL", "(embedded)", "redis://[:pass@]host:6379/0, rediss://… (TLS), redis-sentinel://[:pass@]h1:26379,h2:26379/MASTER[/db] " +
		"(Sentinel; ?sentinel_password=… if the sentinels need one) or redis-cluster://[:pass@]h1:6379,h2:6379 (Cluster); " +
		"rediss-sentinel:// and rediss-cluster:// for TLS; empty runs an in-process Redis (single node only)"},
	{"WAYMARK_LISTEN_ADDR", "127.0.0.1:8080", "address the web server listens on"},
	{"WAYMARK_WORKER_LISTEN_ADDR", "", "address 'waymark worker' serves /healthz, /readyz and /metrics (its own process metrics) on, e.g. 0.0.0.0:9090; unset: the worker serves no HTTP"},
	{"WAYMARK_BASE_URL", "http://<listen addr>", "public URL of this install (links, hook URLs, cookie security); https:// turns on Secure __Host- cookies"},
	{"WAYMARK_DATA_DIR", "./data", "directory for the SQLite file and the generated secret key (embedded mode)"},
	{"WAYMARK_SECRET_KEY", "(generated into the data dir in embedded mode)", "32-byte key, base64 or hex, that encrypts secrets at rest; required with PostgreSQL"},
	{"WAYMARK_SECRET_KEY_FILE", "", "file holding WAYMARK_SECRET_KEY (wins over the variable)"},
	{"WAYMARK_SECRET_KEY_OLD", "", "previous secret key(s), comma-separated, still accepted for reading during a rotation"},
	{"WAYMARK_CONNECTOR_ALLOWLIST", "", "internal hosts, IPs or CIDRs outbound webhooks may reach (never the cloud metadata address)"},
	{"WAYMARK_WORKER_CONCURRENCY", "10", "tasks one worker process runs at once"},
	{"WAYMARK_BODY_LIMIT", "1048576", "largest request body in bytes (larger bodies get 413)"},
	{"WAYMARK_HEADER_LIMIT", "16384", "largest request line and headers in bytes (larger get 431)"},
	{"WAYMARK_REQUEST_TIMEOUT", "60s", "deadline of each HTTP request's work (queries are cancelled past it; 503 request_timeout)"},
	{"WAYMARK_PASSWORD_HASH_CONCURRENCY", "4", "password hashes one web process runs at once (64 MiB each); more wait up to 5 s, then 503"},
	{"WAYMARK_SESSION_IDLE_TIMEOUT", "12h", "sign out after this long without activity"},
	{"WAYMARK_SESSION_MAX_AGE", "168h", "sign out this long after signing in, active or not"},
	{"WAYMARK_SHUTDOWN_TIMEOUT", "15s", "how long a stopping process waits for in-flight work"},
	{"WAYMARK_DB_MAX_CONNS", "20", "PostgreSQL connection pool size per process"},
	{"WAYMARK_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"WAYMARK_LOG_FORMAT", "text", "text or json"},
	{"WAYMARK_PPROF_ADDR", "", "address serving Go's profiler (/debug/pprof/) for serve, web and worker, e.g. 127.0.0.1:6060; loopback only (see WAYMARK_PPROF_ALLOW_REMOTE); unset: off"},
	{"WAYMARK_PPROF_ALLOW_REMOTE", "false", "true lets WAYMARK_PPROF_ADDR bind a non-loopback address (profiles show process memory: keep that port private)"},
}

// config is every setting, parsed once from the environment.
type config struct {
	DatabaseURL        string
	DatabaseDialect    string
	RedisURL           string       // "" = embedded
	Redis              *redisTarget // parsed RedisURL; nil when embedded
	ListenAddr         string
	WorkerListenAddr   string // "" = the worker role serves no HTTP
	BaseURL            string
	DataDir            string
	SecretKey          []byte   // nil until loaded (embedded mode may generate it)
	SecretKeysOld      [][]byte // previous keys, for reading during a rotation
	ConnectorAllowlist []string
	WorkerConcurrency  int
	BodyLimit          int
	HeaderLimit        int
	RequestTimeout     time.Duration
	HashConcurrency    int
	SessionIdleTimeout time.Duration
	SessionMaxAge      time.Duration
	ShutdownTimeout    time.Duration
	DBMaxConns         int
	LogLevel           string
	LogFormat          string
	PprofAddr          string // "" = no profiler (pprof.go)
}

// configError is a bad setting: main prints it on one line and exits 2.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func badConfig(name, format string, args ...any) error {
	return &configError{msg: name + ": " + fmt.Sprintf(format, args...)}
}

func loadConfig(getenv func(string) string) (*config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := &config{
		DataDir:    get("WAYMARK_DATA_DIR", "./data"),
		ListenAddr: get("WAYMARK_LISTEN_ADDR", "127.0.0.1:8080"),
		RedisURL:   get("WAYMARK_REDIS_URL", ""),
		LogLevel:   strings.ToLower(get("WAYMARK_LOG_LEVEL", "info")),
		LogFormat:  strings.ToLower(get("WAYMARK_LOG_FORMAT", "text")),
	}
	c.DatabaseURL = get("WAYMARK_DATABASE_URL", "sqlite:"+filepath.Join(c.DataDir, "waymark.db"))
	var err error
	if c.DatabaseDialect, _, err = store.ParseURL(c.DatabaseURL); err != nil {
		return nil, badConfig("WAYMARK_DATABASE_URL", "%v", err)
	}
	if c.RedisURL != "" {
		if c.Redis, err = parseRedisURL(c.RedisURL); err != nil {
			return nil, badConfig("WAYMARK_REDIS_URL", "%v", err)
		}
	}
	if _, _, err := splitHostPort(c.ListenAddr); err != nil {
		return nil, badConfig("WAYMARK_LISTEN_ADDR", "%v", err)
	}
	if c.WorkerListenAddr = get("WAYMARK_WORKER_LISTEN_ADDR", ""); c.WorkerListenAddr != "" {
		if _, _, err := splitHostPort(c.WorkerListenAddr); err != nil {
			return nil, badConfig("WAYMARK_WORKER_LISTEN_ADDR", "%v", err)
		}
	}
	c.BaseURL = strings.TrimRight(get("WAYMARK_BASE_URL", "http://"+c.ListenAddr), "/")
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, badConfig("WAYMARK_BASE_URL", "want http(s)://host[:port]")
	}
	ints := []struct {
		name string
		def  int
		min  int
		dst  *int
	}{
		{"WAYMARK_WORKER_CONCURRENCY", 10, 1, &c.WorkerConcurrency},
		{"WAYMARK_BODY_LIMIT", 1 << 20, 1024, &c.BodyLimit},
		{"WAYMARK_HEADER_LIMIT", 16 << 10, 4 << 10, &c.HeaderLimit},
		{"WAYMARK_PASSWORD_HASH_CONCURRENCY", auth.DefaultHashConcurrency, 1, &c.HashConcurrency},
		{"WAYMARK_DB_MAX_CONNS", 20, 1, &c.DBMaxConns},
	}
	for _, v := range ints {
		raw := get(v.name, strconv.Itoa(v.def))
		n, err := strconv.Atoi(raw)
		if err != nil || n < v.min {
			return nil, badConfig(v.name, "want a whole number ≥ %d, got %q", v.min, raw)
		}
		*v.dst = n
	}
	durs := []struct {
		name, def string
		dst       *time.Duration
	}{
		{"WAYMARK_SESSION_IDLE_TIMEOUT", "12h", &c.SessionIdleTimeout},
		{"WAYMARK_SESSION_MAX_AGE", "168h", &c.SessionMaxAge},
		{"WAYMARK_SHUTDOWN_TIMEOUT", "15s", &c.ShutdownTimeout},
		{"WAYMARK_REQUEST_TIMEOUT", "60s", &c.RequestTimeout},
	}
	for _, v := range durs {
		raw := get(v.name, v.def)
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			return nil, badConfig(v.name, "want a positive duration such as 30s or 12h, got %q", raw)
		}
		*v.dst = d
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return nil, badConfig("WAYMARK_LOG_LEVEL", "want debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, badConfig("WAYMARK_LOG_FORMAT", "want text or json, got %q", c.LogFormat)
	}
	if f := get("WAYMARK_SECRET_KEY_FILE", ""); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, badConfig("WAYMARK_SECRET_KEY_FILE", "%v", err)
		}
		if c.SecretKey, err = decodeKey(strings.TrimSpace(string(b))); err != nil {
			return nil, badConfig("WAYMARK_SECRET_KEY_FILE", "%v", err)
		}
	} else if k := get("WAYMARK_SECRET_KEY", ""); k != "" {
		if c.SecretKey, err = decodeKey(k); err != nil {
			return nil, badConfig("WAYMARK_SECRET_KEY", "%v", err)
		}
	}
	for _, raw := range splitList(get("WAYMARK_SECRET_KEY_OLD", "")) {
		k, err := decodeKey(raw)
		if err != nil {
			return nil, badConfig("WAYMARK_SECRET_KEY_OLD", "%v", err)
		}
		c.SecretKeysOld = append(c.SecretKeysOld, k)
	}
	c.ConnectorAllowlist = splitList(get("WAYMARK_CONNECTOR_ALLOWLIST", ""))
	remote, err := strconv.ParseBool(get("WAYMARK_PPROF_ALLOW_REMOTE", "false"))
	if err != nil {
		return nil, badConfig("WAYMARK_PPROF_ALLOW_REMOTE", "want true or false, got %q", get("WAYMARK_PPROF_ALLOW_REMOTE", ""))
	}
	if c.PprofAddr = get("WAYMARK_PPROF_ADDR", ""); c.PprofAddr != "" {
		if err := checkPprofAddr(c.PprofAddr, remote); err != nil {
			return nil, badConfig("WAYMARK_PPROF_ADDR", "%v", err)
		}
	}
	return c, nil
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
}

// Embedded reports whether this is single-node mode (SQLite or in-process Redis).
func (c *config) Embedded() bool {
	return c.DatabaseDialect == store.DialectSQLite || c.RedisURL == ""
}

// CookieSecure reports whether the public URL is HTTPS.
func (c *config) CookieSecure() bool { return strings.HasPrefix(c.BaseURL, "https://") }

func decodeKey(s string) ([]byte, error) {
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("want 32 bytes, base64- or hex-encoded (generate one with: openssl rand -base64 32)")
}

// ensureSecretKey loads the secret key, generating one into the data dir in
// embedded mode; production (PostgreSQL) must configure it.
func (c *config) ensureSecretKey() (generated bool, err error) {
	if c.SecretKey != nil {
		return false, nil
	}
	if c.DatabaseDialect != store.DialectSQLite {
		return false, badConfig("WAYMARK_SECRET_KEY", "required with PostgreSQL (generate one with: openssl rand -base64 32)")
	}
	path := filepath.Join(c.DataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := decodeKey(strings.TrimSpace(string(b)))
		if err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
		c.SecretKey = k
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return false, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(auth.Token(32))
	if err != nil {
		return false, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	c.SecretKey = raw
	return true, nil
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", 0, fmt.Errorf("want host:port, got %q", addr)
	}
	p, err := strconv.Atoi(addr[i+1:])
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return addr[:i], p, nil
}

// envHelp renders the variables table for --help.
func envHelp() string {
	var b strings.Builder
	b.WriteString("Environment (defaults in brackets):\n")
	for _, v := range envVars {
		def := v.def
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(&b, "  %-30s %s [%s]\n", v.name, v.help, def)
	}
	return b.String()
}
