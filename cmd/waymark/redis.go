package main

// WAYMARK_REDIS_URL names one of three Redis deployments. Every Redis
// client Waymark makes — Asynq's server, client and inspector, the leader
// leases, the shared rate limits, /metrics — is the one go-redis
// UniversalClient built here, so all of them follow the same form:
//
//	redis://[[user]:password@]host[:6379][/db][?option=value…]
//	rediss://…                                                 (TLS)
//	redis-sentinel://[[user]:password@]host1[:26379],host2[:26379]/MASTER[/db][?sentinel_password=…]
//	rediss-sentinel://…                                        (TLS to sentinels and master)
//	redis-cluster://[[user]:password@]host1[:6379],host2[:6379][?option=value…]
//	rediss-cluster://…                                         (TLS)
//
// The user info is the data nodes' credentials (the master's for
// Sentinel); sentinels that require their own password take
// sentinel_username / sentinel_password in the query. Other query options
// are go-redis's (dial_timeout=5s, read_timeout=3s, pool_size=20, …).

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Redis deployment kinds.
const (
	redisStandalone = "standalone"
	redisSentinel   = "sentinel"
	redisCluster    = "cluster"
)

// redisURLForms is the one-line summary used in errors and --help.
const redisURLForms = "redis://[:pass@]host:6379[/db], rediss://… (TLS), " +
	"redis-sentinel://[:pass@]host1:26379,host2:26379/MASTER[/db] or redis-cluster://[:pass@]host1:6379,host2:6379"

// redisTarget is a parsed WAYMARK_REDIS_URL.
type redisTarget struct {
	Kind   string   // redisStandalone, redisSentinel or redisCluster
	Addrs  []string // the server, the sentinels, or the cluster seed nodes
	Master string   // Sentinel: the monitored master's name
	DB     int
	TLS    bool

	simple   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
}

// String describes the target without credentials, for logs.
func (t *redisTarget) String() string {
	tls := ""
	if t.TLS {
		tls = ", TLS"
	}
	switch t.Kind {
	case redisSentinel:
		return fmt.Sprintf("sentinel master %q via %s (db %d%s)", t.Master, strings.Join(t.Addrs, ","), t.DB, tls)
	case redisCluster:
		return fmt.Sprintf("cluster via %s%s", strings.Join(t.Addrs, ","), tls)
	}
	return fmt.Sprintf("%s (db %d%s)", t.Addrs[0], t.DB, tls)
}

// newClient builds the go-redis client for the target. The caller closes it.
func (t *redisTarget) newClient() redis.UniversalClient {
	switch t.Kind {
	case redisSentinel:
		return redis.NewFailoverClient(t.failover)
	case redisCluster:
		return redis.NewClusterClient(t.cluster)
	}
	return redis.NewClient(t.simple)
}

// redisURLError is a problem with WAYMARK_REDIS_URL; it never quotes the
// password.
func redisURLError(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// parseRedisURL parses any accepted form of WAYMARK_REDIS_URL. Errors name
// what is wrong and never contain the password.
func parseRedisURL(raw string) (*redisTarget, error) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(raw), "://")
	if !ok {
		return nil, redisURLError("want %s", redisURLForms)
	}
	t := &redisTarget{}
	switch strings.ToLower(scheme) {
	case "redis":
		t.Kind = redisStandalone
	case "rediss":
		t.Kind, t.TLS = redisStandalone, true
	case "redis-sentinel":
		t.Kind = redisSentinel
	case "rediss-sentinel":
		t.Kind, t.TLS = redisSentinel, true
	case "redis-cluster":
		t.Kind = redisCluster
	case "rediss-cluster":
		t.Kind, t.TLS = redisCluster, true
	default:
		return nil, redisURLError("want %s (got scheme %q)", redisURLForms, scheme)
	}

	// authority = [userinfo@]host[,host…]; the rest is /path?query.
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if strings.Contains(tail, "#") {
		return nil, redisURLError("a fragment (#…) has no meaning here; remove it")
	}
	var user, pass string
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		var err error
		if user, pass, err = parseUserinfo(authority[:i]); err != nil {
			return nil, err
		}
		authority = authority[i+1:]
	}
	redact := func(err error) error {
		if err == nil {
			return nil
		}
		msg := err.Error()
		if pass != "" {
			msg = strings.ReplaceAll(msg, pass, "xxxxx")
			msg = strings.ReplaceAll(msg, url.QueryEscape(pass), "xxxxx")
		}
		return redisURLError("%s", strings.TrimPrefix(msg, "redis: "))
	}

	defPort := "6379"
	if t.Kind == redisSentinel {
		defPort = "26379"
	}
	if strings.TrimSpace(authority) == "" {
		return nil, redisURLError("no host: want %s", redisURLForms)
	}
	for _, h := range strings.Split(authority, ",") {
		addr, err := hostPort(strings.TrimSpace(h), defPort)
		if err != nil {
			return nil, err
		}
		t.Addrs = append(t.Addrs, addr)
	}
	if t.Kind == redisStandalone && len(t.Addrs) > 1 {
		return nil, redisURLError("%s://%s names %d servers, but a %s:// URL connects to one: for failover use redis-sentinel://HOST1,HOST2/MASTER, for sharding redis-cluster://HOST1,HOST2",
			scheme, authority, len(t.Addrs), scheme)
	}

	u, err := url.Parse("x://h" + tail)
	if err != nil {
		return nil, redisURLError("malformed path or query after the host list")
	}
	q := u.Query()
	for _, k := range []string{"addr", "username", "password", "master_name"} {
		if q.Has(k) {
			return nil, redisURLError("option %q is not accepted here: put hosts in the host list, the credentials before the @, and the Sentinel master name in the path", k)
		}
	}
	segs := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	parseDB := func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, redisURLError("bad database number %q: want a whole number such as 0", s)
		}
		return n, nil
	}
	scheme = strings.ToLower(scheme)
	baseScheme := "redis"
	if t.TLS {
		baseScheme = "rediss"
	}

	switch t.Kind {
	case redisStandalone:
		if len(segs) > 1 {
			return nil, redisURLError("bad path %q: want /DB, e.g. /0", u.Path)
		}
		if len(segs) == 1 {
			if t.DB, err = parseDB(segs[0]); err != nil {
				return nil, err
			}
		}
		// go-redis parses the query options (and the db); the credentials
		// are set afterwards so that no error can quote them.
		opt, err := redis.ParseURL(baseScheme + "://" + t.Addrs[0] + tail)
		if err != nil {
			return nil, redact(err)
		}
		opt.Username, opt.Password = user, pass
		t.simple = opt

	case redisSentinel:
		switch len(segs) {
		case 0:
			return nil, redisURLError("name the master the sentinels monitor: %s://%s/MASTER_NAME[/DB] (e.g. /mymaster)", scheme, authority)
		case 1, 2:
			t.Master = segs[0]
		default:
			return nil, redisURLError("bad path %q: want /MASTER_NAME or /MASTER_NAME/DB", u.Path)
		}
		if len(segs) == 2 {
			if t.DB, err = parseDB(segs[1]); err != nil {
				return nil, err
			}
		}
		if v := q.Get("db"); v != "" {
			n, err := parseDB(v)
			if err != nil {
				return nil, err
			}
			if len(segs) == 2 && n != t.DB {
				return nil, redisURLError("database given twice: /%s/%d in the path and db=%s in the query", t.Master, t.DB, v)
			}
			t.DB = n
			q.Del("db")
		}
		sentUser, sentPass := q.Get("sentinel_username"), q.Get("sentinel_password")
		q.Del("sentinel_username")
		q.Del("sentinel_password")
		q.Set("master_name", t.Master)
		for _, a := range t.Addrs[1:] {
			q.Add("addr", a)
		}
		opt, err := redis.ParseFailoverURL(baseScheme + "://" + t.Addrs[0] + "/" + strconv.Itoa(t.DB) + "?" + q.Encode())
		if err != nil {
			if sentPass != "" {
				err = fmt.Errorf("%s", strings.ReplaceAll(err.Error(), sentPass, "xxxxx"))
			}
			return nil, redact(err)
		}
		opt.Username, opt.Password = user, pass
		opt.SentinelUsername, opt.SentinelPassword = sentUser, sentPass
		t.failover = opt

	case redisCluster:
		if len(segs) > 1 || (len(segs) == 1 && segs[0] != "0") {
			return nil, redisURLError("bad path %q: Redis Cluster has only database 0, so a cluster URL takes no /DB", u.Path)
		}
		if q.Has("db") && q.Get("db") != "0" {
			return nil, redisURLError("db=%s: Redis Cluster has only database 0", q.Get("db"))
		}
		q.Del("db")
		for _, a := range t.Addrs[1:] {
			q.Add("addr", a)
		}
		opt, err := redis.ParseClusterURL(baseScheme + "://" + t.Addrs[0] + "?" + q.Encode())
		if err != nil {
			return nil, redact(err)
		}
		opt.Username, opt.Password = user, pass
		t.cluster = opt
	}
	return t, nil
}

// parseUserinfo splits "user:password" (percent-encoded) without echoing it.
func parseUserinfo(s string) (user, pass string, err error) {
	u, p, hasPass := strings.Cut(s, ":")
	if user, err = url.PathUnescape(u); err != nil {
		return "", "", redisURLError("bad percent-encoding in the user name")
	}
	if hasPass {
		if pass, err = url.PathUnescape(p); err != nil {
			return "", "", redisURLError("bad percent-encoding in the password (encode @ as %%40, : as %%3A, / as %%2F)")
		}
	}
	return user, pass, nil
}

// hostPort checks one host[:port] of the host list and adds the default port.
func hostPort(h, defPort string) (string, error) {
	if h == "" {
		return "", redisURLError("empty host in the host list (two commas in a row, or one at an end?)")
	}
	host, port := h, defPort
	if strings.HasPrefix(h, "[") { // [IPv6]:port
		end := strings.Index(h, "]")
		if end < 0 {
			return "", redisURLError("host %q: missing ] after an IPv6 address", h)
		}
		host = h[1:end]
		if r := h[end+1:]; r != "" {
			if !strings.HasPrefix(r, ":") {
				return "", redisURLError("host %q: want [IPv6]:port", h)
			}
			port = r[1:]
		}
	} else if i := strings.LastIndex(h, ":"); i >= 0 {
		if strings.Count(h, ":") > 1 {
			return "", redisURLError("host %q: put an IPv6 address in brackets, e.g. [::1]:6379", h)
		}
		host, port = h[:i], h[i+1:]
	}
	if host == "" {
		return "", redisURLError("host %q: empty host name", h)
	}
	if strings.ContainsAny(host, " \t/@") {
		return "", redisURLError("host %q: not a host name", h)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", redisURLError("host %q: bad port %q (want 1–65535)", h, port)
	}
	return net.JoinHostPort(host, port), nil
}

// redisLogs sends go-redis's own messages (a Sentinel's +switch-master, a
// node that cannot be dialled) to the process's log, in its format.
type redisLogs struct{ l *slog.Logger }

func (r redisLogs) Printf(ctx context.Context, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	level := slog.LevelInfo
	if strings.Contains(msg, "fail") || strings.Contains(msg, "error") || strings.Contains(msg, "unable") {
		level = slog.LevelWarn
	}
	r.l.Log(ctx, level, strings.TrimPrefix(msg, "redis: "))
}
