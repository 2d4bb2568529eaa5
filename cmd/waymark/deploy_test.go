package main

// The deployment artifacts (Dockerfile, docker-compose.yml, deploy/kubernetes,
// deploy/systemd) cannot run here, so these tests keep them honest against
// the binary: every WAYMARK_* name exists in envVars, each artifact's
// settings load with loadConfig, ports agree with the listen address, probes
// hit routes the server answers, commands are real subcommands, shutdown
// grace periods outlast WAYMARK_SHUTDOWN_TIMEOUT, and the autoscaler reads
// metrics /metrics exports. Rename a variable, a route, a command or a metric
// and one of these fails.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"

	"github.com/waymarkhq/waymark/worker"
)

const deployRoot = "../.."

// deployTestKey is a valid 32-byte key standing in for secret placeholders.
var deployTestKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

func readDeploy(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployRoot, rel))
	require.NoError(t, err)
	return string(b)
}

var waymarkNameRe = regexp.MustCompile(`WAYMARK_[A-Z0-9_]*[A-Z0-9]`)

// requireKnownVars fails on any WAYMARK_* name (comments included) that the
// binary does not read.
func requireKnownVars(t *testing.T, where, text string) {
	t.Helper()
	known := map[string]bool{}
	for _, v := range envVars {
		known[v.name] = true
	}
	for _, name := range waymarkNameRe.FindAllString(text, -1) {
		require.True(t, known[name], "%s uses %s, which is not in envVars (cmd/waymark/config.go)", where, name)
	}
}

// loadDeployConfig runs the binary's own configuration parser on an
// artifact's environment.
func loadDeployConfig(t *testing.T, where string, vars map[string]string) *config {
	t.Helper()
	for k := range vars {
		requireKnownVars(t, where, k)
	}
	cfg, err := loadConfig(func(k string) string { return vars[k] })
	require.NoError(t, err, "%s: the binary rejects this configuration", where)
	return cfg
}

func listenPort(t *testing.T, cfg *config) int {
	t.Helper()
	_, p, err := splitHostPort(cfg.ListenAddr)
	require.NoError(t, err)
	return p
}

func workerPort(t *testing.T, cfg *config) int {
	t.Helper()
	_, p, err := splitHostPort(cfg.WorkerListenAddr)
	require.NoError(t, err)
	return p
}

// requireHealthcheck checks a `waymark healthcheck …` command line (args
// after the binary) against the binary's own flags and returns the ports
// it probes, in order, for the given configuration.
func requireHealthcheck(t *testing.T, where string, args []string, cfg *config) []int {
	t.Helper()
	require.NotEmpty(t, args, where)
	require.Equal(t, "healthcheck", args[0], "%s runs 'waymark healthcheck'", where)
	requireCommand(t, where, args[0])
	fs, ready, rawURL, _ := healthcheckFlags()
	require.NoError(t, fs.Parse(args[1:]), "%s: flags the binary accepts", where)
	require.Empty(t, fs.Args(), where)
	require.Empty(t, *rawURL, "%s: probe the configured addresses, not a fixed --url", where)
	var ports []int
	for _, u := range healthcheckTargets(cfg, *ready) {
		pu, err := url.Parse(u)
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1", pu.Hostname(), "%s: probes its own container", where)
		p, err := strconv.Atoi(pu.Port())
		require.NoError(t, err)
		ports = append(ports, p)
	}
	return ports
}

// requireServable checks a listen address a container or remote host can reach.
func requireServable(t *testing.T, where string, cfg *config) {
	t.Helper()
	host, _, _ := splitHostPort(cfg.ListenAddr)
	require.Contains(t, []string{"0.0.0.0", "", "[::]"}, host, "%s: WAYMARK_LISTEN_ADDR must listen on every interface in a container", where)
}

func requireServableAddr(t *testing.T, where, addr string) {
	t.Helper()
	host, _, _ := splitHostPort(addr)
	require.Contains(t, []string{"0.0.0.0", "", "[::]"}, host, "%s: %s must listen on every interface for the kubelet's probes", where, addr)
}

func requireCommand(t *testing.T, where, name string) {
	t.Helper()
	for _, c := range commands() {
		if c.name == name {
			return
		}
	}
	t.Fatalf("%s runs 'waymark %s', which is not a command", where, name)
}

func writeDeployKeyFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret-key")
	require.NoError(t, os.WriteFile(p, []byte(deployTestKey+"\n"), 0o600))
	return p
}

// ---- Dockerfile ------------------------------------------------------------

type dockerStage struct {
	from  string
	instr [][2]string // (INSTRUCTION, rest)
}

func parseDockerfile(t *testing.T, text string) []dockerStage {
	t.Helper()
	var stages []dockerStage
	var logical []string
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasPrefix(trimmed, "#") { // comment inside a continuation
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		logical = append(logical, cur+trimmed)
		cur = ""
	}
	for _, l := range logical {
		op, rest, _ := strings.Cut(l, " ")
		op = strings.ToUpper(op)
		rest = strings.TrimSpace(rest)
		if op == "FROM" {
			stages = append(stages, dockerStage{from: rest})
			continue
		}
		require.NotEmpty(t, stages, "Dockerfile: %s before FROM", op)
		s := &stages[len(stages)-1]
		s.instr = append(s.instr, [2]string{op, rest})
	}
	return stages
}

func (s dockerStage) all(op string) []string {
	var out []string
	for _, in := range s.instr {
		if in[0] == op {
			out = append(out, in[1])
		}
	}
	return out
}

// dockerEnv parses ENV k=v [k=v…] (values without spaces) of a stage.
func (s dockerStage) env() map[string]string {
	out := map[string]string{}
	for _, rest := range s.all("ENV") {
		for _, f := range strings.Fields(rest) {
			if k, v, ok := strings.Cut(f, "="); ok {
				out[k] = strings.Trim(v, `"`)
			}
		}
	}
	return out
}

func goDirectiveMinor(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readDeploy(t, "go.mod"))
	require.NotNil(t, m, "go directive in go.mod")
	return m[1]
}

func TestDeployDockerfile(t *testing.T) {
	t.Parallel()
	text := readDeploy(t, "Dockerfile")
	requireKnownVars(t, "Dockerfile", text)
	stages := parseDockerfile(t, text)
	require.GreaterOrEqual(t, len(stages), 2, "multi-stage build")

	build := stages[0]
	require.Regexp(t, `^golang:`+regexp.QuoteMeta(goDirectiveMinor(t))+`(\.\d+)?(-\S+)?\s+AS\s+\w+`, build.from, "builder image matches go.mod's Go version")
	runs := strings.Join(build.all("RUN"), "\n")
	require.Contains(t, runs, "CGO_ENABLED=0")
	require.Regexp(t, `go build [^\n]*-trimpath[^\n]*\./cmd/waymark`, runs)

	final := stages[len(stages)-1]
	require.Regexp(t, `^(gcr\.io/distroless/static\S*|scratch)$`, final.from, "static final image")
	users := final.all("USER")
	require.NotEmpty(t, users, "final stage sets USER")
	user, _, _ := strings.Cut(users[len(users)-1], ":")
	require.NotContains(t, []string{"root", "0"}, user, "runs as non-root")
	if uid, err := strconv.Atoi(user); err == nil {
		require.NotZero(t, uid)
	}

	env := final.env()
	require.Contains(t, env, "WAYMARK_LISTEN_ADDR")
	cfg := loadDeployConfig(t, "Dockerfile ENV", env)
	requireServable(t, "Dockerfile", cfg)
	wantExpose := []string{strconv.Itoa(listenPort(t, cfg))}
	if cfg.WorkerListenAddr != "" {
		wantExpose = append(wantExpose, strconv.Itoa(workerPort(t, cfg)))
	}
	var exposed []string
	for _, e := range final.all("EXPOSE") {
		exposed = append(exposed, strings.Fields(e)...)
	}
	require.ElementsMatch(t, wantExpose, exposed, "EXPOSE matches WAYMARK_LISTEN_ADDR (and WAYMARK_WORKER_LISTEN_ADDR)")

	var entry, cmd []string
	for _, e := range final.all("ENTRYPOINT") {
		require.NoError(t, yaml.Unmarshal([]byte(e), &entry), "ENTRYPOINT in exec form")
	}
	for _, c := range final.all("CMD") {
		require.NoError(t, yaml.Unmarshal([]byte(c), &cmd), "CMD in exec form")
	}
	require.Len(t, entry, 1)
	require.Len(t, cmd, 1)
	requireCommand(t, "Dockerfile CMD", cmd[0])
	copied := false
	for _, c := range final.all("COPY") {
		f := strings.Fields(c)
		if f[len(f)-1] == entry[0] {
			copied = true
		}
	}
	require.True(t, copied, "the final stage copies the binary to ENTRYPOINT %s", entry[0])

	// HEALTHCHECK runs the binary's own probe, which reaches the web port
	// (serve, web) and the worker's health port.
	hcs := final.all("HEALTHCHECK")
	require.Len(t, hcs, 1, "the image has a HEALTHCHECK")
	_, execForm, ok := strings.Cut(hcs[0], "CMD ")
	require.True(t, ok, "HEALTHCHECK … CMD [exec form]")
	var hc []string
	require.NoError(t, yaml.Unmarshal([]byte(execForm), &hc), "HEALTHCHECK CMD in exec form")
	require.NotEmpty(t, hc)
	require.Equal(t, entry[0], hc[0], "HEALTHCHECK runs the image's binary")
	targets := requireHealthcheck(t, "Dockerfile HEALTHCHECK", hc[1:], cfg)
	require.Contains(t, targets, listenPort(t, cfg), "Dockerfile HEALTHCHECK probes the web port")
	require.NotEmpty(t, cfg.WorkerListenAddr, "Dockerfile: WAYMARK_WORKER_LISTEN_ADDR, so worker containers answer the HEALTHCHECK")
	require.Contains(t, targets, workerPort(t, cfg), "Dockerfile HEALTHCHECK probes the worker's port")

	ignore := readDeploy(t, ".dockerignore")
	for _, p := range []string{".git", "node_modules/", "data/"} {
		require.Contains(t, strings.Fields(ignore), p, ".dockerignore keeps %s out of the build context", p)
	}
	for _, needed := range []string{"go.mod", "go.sum", "cmd", "ui", "migrations"} {
		require.NotContains(t, strings.Fields(ignore), needed, ".dockerignore must not exclude %s", needed)
	}
}

// ---- docker-compose.yml ----------------------------------------------------

var composeVarRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate applies compose's ${VAR:-default} (default used) and
// ${VAR:?err} (required: given a valid test value).
func interpolate(t *testing.T, s string) string {
	t.Helper()
	return composeVarRe.ReplaceAllStringFunc(s, func(m string) string {
		g := composeVarRe.FindStringSubmatch(m)
		switch {
		case strings.HasSuffix(g[2], "-"):
			return g[3]
		case g[1] == "WAYMARK_SECRET_KEY":
			return deployTestKey
		default:
			t.Fatalf("docker-compose.yml: %s has no default", m)
			return ""
		}
	})
}

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck *struct {
			Test    []string `yaml:"test"`
			Disable bool     `yaml:"disable"`
		} `yaml:"healthcheck"`
		StopGracePeriod string `yaml:"stop_grace_period"`
		ReadOnly        bool   `yaml:"read_only"`
	} `yaml:"services"`
}

func TestDeployCompose(t *testing.T) {
	t.Parallel()
	text := readDeploy(t, "docker-compose.yml")
	requireKnownVars(t, "docker-compose.yml", text)
	var f composeFile
	require.NoError(t, yaml.Unmarshal([]byte(text), &f))

	pg, rd := f.Services["postgres"], f.Services["redis"]
	require.Regexp(t, `^postgres:15`, pg.Image)
	require.Regexp(t, `^redis:7`, rd.Image)
	require.NotNil(t, pg.Healthcheck, "postgres healthcheck")
	require.NotNil(t, rd.Healthcheck, "redis healthcheck")
	redisCmd := strings.Join(rd.Command, " ")
	require.Contains(t, redisCmd, "--appendonly yes")
	require.Contains(t, redisCmd, "--maxmemory-policy noeviction")

	for _, role := range []string{"migrate", "web", "worker"} {
		s, ok := f.Services[role]
		require.True(t, ok, "service %s", role)
		where := "docker-compose.yml " + role
		require.NotNil(t, s.Build, "%s builds the image", where)
		require.Equal(t, []string{role}, s.Command, where)
		requireCommand(t, where, s.Command[0])
		require.True(t, s.ReadOnly, "%s: read-only root filesystem", where)
		env := map[string]string{}
		for k, v := range s.Environment {
			env[k] = interpolate(t, v)
		}
		cfg := loadDeployConfig(t, where, env)
		require.Equal(t, "postgres", cfg.DatabaseDialect, where)
		require.False(t, cfg.Embedded(), "%s: split mode needs PostgreSQL and Redis", where)
		u, err := url.Parse(cfg.DatabaseURL)
		require.NoError(t, err)
		require.Equal(t, "postgres", u.Hostname(), "%s: database URL points at the postgres service", where)
		r, err := url.Parse(cfg.RedisURL)
		require.NoError(t, err)
		require.Equal(t, "redis", r.Hostname(), "%s: Redis URL points at the redis service", where)
		require.NotNil(t, cfg.SecretKey, where)

		if role == "migrate" {
			require.Equal(t, "service_healthy", s.DependsOn["postgres"].Condition, where)
			require.True(t, s.Healthcheck != nil && s.Healthcheck.Disable, "%s: a one-shot job has no health to check (disable the image's HEALTHCHECK)", where)
			continue
		}
		require.NotNil(t, s.Healthcheck, "%s: healthcheck", where)
		hc := s.Healthcheck.Test
		require.GreaterOrEqual(t, len(hc), 2, where)
		require.Equal(t, "CMD", hc[0], "%s: healthcheck in exec form (the image has no shell)", where)
		require.Equal(t, "/usr/local/bin/waymark", hc[1], where)
		probed := requireHealthcheck(t, where+" healthcheck", hc[2:], cfg)
		if role == "web" {
			require.Equal(t, listenPort(t, cfg), probed[0], "%s: healthcheck probes the web port first", where)
		} else {
			require.NotEmpty(t, cfg.WorkerListenAddr, "%s: the worker's healthcheck needs WAYMARK_WORKER_LISTEN_ADDR", where)
			require.Contains(t, probed, workerPort(t, cfg), "%s: healthcheck probes the worker's port", where)
		}
		require.Equal(t, "service_completed_successfully", s.DependsOn["migrate"].Condition, where)
		require.Equal(t, "service_healthy", s.DependsOn["redis"].Condition, where)
		grace, err := time.ParseDuration(s.StopGracePeriod)
		require.NoError(t, err, "%s: stop_grace_period", where)
		require.Greater(t, grace, cfg.ShutdownTimeout, "%s: stop_grace_period outlasts WAYMARK_SHUTDOWN_TIMEOUT", where)
		if role == "web" {
			requireServable(t, where, cfg)
			require.NotEmpty(t, s.Ports, where)
			for _, p := range s.Ports {
				parts := strings.Split(p, ":")
				require.Equal(t, strconv.Itoa(listenPort(t, cfg)), parts[len(parts)-1], "%s: published port targets the listen port", where)
			}
		} else {
			require.Empty(t, s.Ports, "%s serves no HTTP", where)
		}
	}
}

// ---- Kubernetes -------------------------------------------------------------

type k8sObject = map[string]any

func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func getStr(v any, keys ...string) string { s, _ := get(v, keys...).(string); return s }
func getList(v any, keys ...string) []any { l, _ := get(v, keys...).([]any); return l }
func getMap(v any, keys ...string) map[string]any {
	m, _ := get(v, keys...).(map[string]any)
	return m
}
func getInt(v any, keys ...string) (int, bool) { n, ok := get(v, keys...).(int); return n, ok }

func decodeYAMLDocs(t *testing.T, rel string) []k8sObject {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(readDeploy(t, rel)))
	var out []k8sObject
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if err != nil {
			require.Equal(t, "EOF", err.Error(), rel)
			break
		}
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

type k8sManifests struct {
	byKind map[string][]k8sObject
	files  []string
}

func (m k8sManifests) one(t *testing.T, kind, name string) k8sObject {
	t.Helper()
	for _, o := range m.byKind[kind] {
		if getStr(o, "metadata", "name") == name {
			return o
		}
	}
	t.Fatalf("deploy/kubernetes: no %s %q", kind, name)
	return nil
}

const k8sDir = "deploy/kubernetes"
const adapterValues = "prometheus-adapter-values.yaml"

func loadK8s(t *testing.T) k8sManifests {
	t.Helper()
	m := k8sManifests{byKind: map[string][]k8sObject{}}
	entries, err := os.ReadDir(filepath.Join(deployRoot, k8sDir))
	require.NoError(t, err)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".yaml") || e.Name() == adapterValues {
			continue
		}
		m.files = append(m.files, e.Name())
		for _, o := range decodeYAMLDocs(t, path.Join(k8sDir, e.Name())) {
			kind := getStr(o, "kind")
			require.NotEmpty(t, kind, "%s: object without kind", e.Name())
			require.NotEmpty(t, getStr(o, "apiVersion"), "%s: %s without apiVersion", e.Name(), kind)
			if kind != "Kustomization" {
				require.NotEmpty(t, getStr(o, "metadata", "name"), "%s: %s without name", e.Name(), kind)
			}
			m.byKind[kind] = append(m.byKind[kind], o)
		}
	}
	return m
}

func labelsMatch(selector, labels map[string]any) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// k8sProbePaths returns every HTTP path the manifests expect the web role
// to serve (probes and the Prometheus scrape path).
func k8sProbePaths(t *testing.T) []string {
	m := loadK8s(t)
	var paths []string
	for _, d := range m.byKind["Deployment"] {
		tmpl := getMap(d, "spec", "template")
		if p := getStr(tmpl, "metadata", "annotations", "prometheus.io/path"); p != "" {
			paths = append(paths, p)
		}
		for _, c := range getList(tmpl, "spec", "containers") {
			for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
				if p := getStr(c, probe, "httpGet", "path"); p != "" {
					paths = append(paths, p)
				}
			}
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// podConfig builds a container's environment as the kubelet would (ConfigMap
// envFrom, Secret keys, the secret key file mounted from a Secret) and loads it.
func podConfig(t *testing.T, m k8sManifests, where string, pod, c map[string]any) *config {
	t.Helper()
	env := map[string]string{}
	secretData := func(name string) map[string]any {
		s := m.one(t, "Secret", name)
		if d := getMap(s, "stringData"); d != nil {
			return d
		}
		return getMap(s, "data")
	}
	for _, ef := range getList(c, "envFrom") {
		name := getStr(ef, "configMapRef", "name")
		require.NotEmpty(t, name, "%s: envFrom without configMapRef", where)
		for k, v := range getMap(m.one(t, "ConfigMap", name), "data") {
			env[k] = fmt.Sprint(v)
		}
	}
	for _, e := range getList(c, "env") {
		name := getStr(e, "name")
		if v, ok := get(e, "value").(string); ok {
			env[name] = v
			continue
		}
		ref := getMap(e, "valueFrom", "secretKeyRef")
		require.NotNil(t, ref, "%s: %s has neither value nor secretKeyRef", where, name)
		v, ok := secretData(getStr(ref, "name"))[getStr(ref, "key")]
		require.True(t, ok, "%s: %s refers to a missing Secret key %s/%s", where, name, getStr(ref, "name"), getStr(ref, "key"))
		env[name] = fmt.Sprint(v)
	}
	if f := env["WAYMARK_SECRET_KEY_FILE"]; f != "" {
		// The file must come from a mounted Secret item.
		dir, base := path.Split(f)
		found := false
		for _, vm := range getList(c, "volumeMounts") {
			if strings.TrimSuffix(getStr(vm, "mountPath"), "/")+"/" != dir {
				continue
			}
			for _, v := range getList(pod, "volumes") {
				if getStr(v, "name") != getStr(vm, "name") {
					continue
				}
				sec := getStr(v, "secret", "secretName")
				require.NotEmpty(t, sec, "%s: %s is not mounted from a Secret", where, dir)
				for _, it := range getList(v, "secret", "items") {
					if getStr(it, "path") == base {
						_, ok := secretData(sec)[getStr(it, "key")]
						require.True(t, ok, "%s: Secret %s has no key %s", where, sec, getStr(it, "key"))
						found = true
					}
				}
			}
		}
		require.True(t, found, "%s: WAYMARK_SECRET_KEY_FILE=%s is not mounted into the container", where, f)
		env["WAYMARK_SECRET_KEY_FILE"] = writeDeployKeyFile(t) // placeholder content stands in for the real key
	}
	return loadDeployConfig(t, where, env)
}

func TestDeployKubernetes(t *testing.T) {
	t.Parallel()
	for _, name := range append([]string{adapterValues}, loadK8s(t).files...) {
		requireKnownVars(t, path.Join(k8sDir, name), readDeploy(t, path.Join(k8sDir, name)))
	}
	m := loadK8s(t)

	// kustomization.yaml lists every manifest but the per-release migrate Job.
	kust := m.byKind["Kustomization"]
	require.Len(t, kust, 1)
	var listed []string
	for _, r := range getList(kust[0], "resources") {
		listed = append(listed, r.(string))
	}
	for _, f := range m.files {
		if f == "kustomization.yaml" || f == "migrate-job.yaml" {
			continue
		}
		require.Contains(t, listed, f, "kustomization.yaml resources")
	}
	for _, f := range listed {
		require.Contains(t, m.files, f, "kustomization.yaml lists a missing file")
	}

	for _, cm := range m.byKind["ConfigMap"] {
		for k := range getMap(cm, "data") {
			requireKnownVars(t, "ConfigMap "+getStr(cm, "metadata", "name"), k)
			require.Regexp(t, `^WAYMARK_`, k, "ConfigMap keys are WAYMARK_* variables")
		}
	}

	type workload struct {
		kind, name, role string
	}
	images := map[string]bool{}
	ports := map[string]int{} // web container's named ports
	var webLabels map[string]any
	for _, w := range []workload{{"Deployment", "waymark-web", "web"}, {"Deployment", "waymark-worker", "worker"}, {"Job", "waymark-migrate", "migrate"}} {
		o := m.one(t, w.kind, w.name)
		where := w.kind + " " + w.name
		tmpl := getMap(o, "spec", "template")
		pod := getMap(tmpl, "spec")
		if w.kind == "Deployment" {
			require.True(t, labelsMatch(getMap(o, "spec", "selector", "matchLabels"), getMap(tmpl, "metadata", "labels")), "%s: selector matches the pod labels", where)
		}
		require.Equal(t, true, get(pod, "securityContext", "runAsNonRoot"), "%s: runAsNonRoot", where)
		uid, ok := getInt(pod, "securityContext", "runAsUser")
		require.True(t, ok && uid != 0, "%s: runAsUser is a non-root uid", where)

		containers := getList(pod, "containers")
		require.Len(t, containers, 1, where)
		c := containers[0].(map[string]any)
		images[getStr(c, "image")] = true
		require.Empty(t, get(c, "command"), "%s: keep the image's ENTRYPOINT", where)
		args := getList(c, "args")
		require.Equal(t, []any{w.role}, args, "%s runs 'waymark %s'", where, w.role)
		requireCommand(t, where, w.role)
		require.Equal(t, true, get(c, "securityContext", "readOnlyRootFilesystem"), where)
		require.Equal(t, false, get(c, "securityContext", "allowPrivilegeEscalation"), where)

		cfg := podConfig(t, m, where, pod, c)
		require.Equal(t, "postgres", cfg.DatabaseDialect, where)
		if w.role == "migrate" {
			require.Equal(t, "Never", getStr(pod, "restartPolicy"), where)
			continue
		}
		require.False(t, cfg.Embedded(), "%s: split mode needs PostgreSQL and Redis", where)

		grace, ok := getInt(pod, "terminationGracePeriodSeconds")
		require.True(t, ok, "%s: terminationGracePeriodSeconds", where)
		preStop, _ := getInt(c, "lifecycle", "preStop", "sleep", "seconds")
		require.Greater(t, time.Duration(grace)*time.Second, cfg.ShutdownTimeout+time.Duration(preStop)*time.Second,
			"%s: terminationGracePeriodSeconds outlasts WAYMARK_SHUTDOWN_TIMEOUT (+ preStop)", where)

		if w.role == "worker" {
			if cfg.WorkerListenAddr == "" {
				// Without WAYMARK_WORKER_LISTEN_ADDR the worker serves no HTTP: an HTTP probe would kill it.
				for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
					require.Nil(t, get(c, probe, "httpGet"), "%s: the worker has no HTTP server for %s", where, probe)
				}
				require.Empty(t, getList(c, "ports"), where)
				continue
			}
			requireServableAddr(t, where, cfg.WorkerListenAddr)
			wports := map[string]int{}
			for _, p := range getList(c, "ports") {
				n, _ := getInt(p, "containerPort")
				require.Equal(t, workerPort(t, cfg), n, "%s: containerPort is WAYMARK_WORKER_LISTEN_ADDR's port", where)
				wports[getStr(p, "name")] = n
			}
			for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
				hg := getMap(c, probe, "httpGet")
				if hg == nil {
					continue
				}
				require.Contains(t, workerHTTPPaths, getStr(hg, "path"), "%s: %s path is one the worker serves", where, probe)
				port, ok := hg["port"].(int)
				if !ok {
					port, ok = wports[fmt.Sprint(hg["port"])]
					require.True(t, ok, "%s: unknown port name %v", where, hg["port"])
				}
				require.Equal(t, workerPort(t, cfg), port, "%s: %s port", where, probe)
			}
			require.Equal(t, "/readyz", getStr(c, "readinessProbe", "httpGet", "path"), where)
			require.Equal(t, "/healthz", getStr(c, "livenessProbe", "httpGet", "path"), where)
			if ann := getMap(tmpl, "metadata", "annotations"); ann["prometheus.io/scrape"] == "true" {
				require.Equal(t, strconv.Itoa(workerPort(t, cfg)), ann["prometheus.io/port"], "%s: scrape port", where)
				require.Contains(t, workerHTTPPaths, ann["prometheus.io/path"], where)
			}
			continue
		}

		requireServable(t, where, cfg)
		webLabels = getMap(tmpl, "metadata", "labels")
		for _, p := range getList(c, "ports") {
			n, _ := getInt(p, "containerPort")
			require.Equal(t, listenPort(t, cfg), n, "%s: containerPort is WAYMARK_LISTEN_ADDR's port", where)
			ports[getStr(p, "name")] = n
		}
		resolve := func(v any) int {
			if n, ok := v.(int); ok {
				return n
			}
			n, ok := ports[fmt.Sprint(v)]
			require.True(t, ok, "%s: unknown port name %v", where, v)
			return n
		}
		require.Equal(t, "/readyz", getStr(c, "readinessProbe", "httpGet", "path"), where)
		require.Equal(t, "/healthz", getStr(c, "livenessProbe", "httpGet", "path"), where)
		for _, probe := range []string{"readinessProbe", "livenessProbe"} {
			require.Equal(t, listenPort(t, cfg), resolve(get(c, probe, "httpGet", "port")), "%s: %s port", where, probe)
		}
		ann := getMap(tmpl, "metadata", "annotations")
		require.Equal(t, strconv.Itoa(listenPort(t, cfg)), ann["prometheus.io/port"], "%s: scrape port", where)
		require.Equal(t, "/metrics", ann["prometheus.io/path"], where)

		svc := m.one(t, "Service", w.name)
		require.True(t, labelsMatch(getMap(svc, "spec", "selector"), webLabels), "Service selects the web pods")
		for _, p := range getList(svc, "spec", "ports") {
			require.Equal(t, listenPort(t, cfg), resolve(get(p, "targetPort")), "Service targetPort")
		}
	}
	require.Len(t, images, 1, "web, worker and migrate run the same image: %v", images)

	for _, pdb := range m.byKind["PodDisruptionBudget"] {
		sel := getMap(pdb, "spec", "selector", "matchLabels")
		matched := false
		for _, d := range m.byKind["Deployment"] {
			matched = matched || labelsMatch(sel, getMap(d, "spec", "template", "metadata", "labels"))
		}
		require.True(t, matched, "PodDisruptionBudget %s selects a Deployment", getStr(pdb, "metadata", "name"))
	}

	// The worker HPA scales on external metrics that prometheus-adapter
	// derives from metrics /metrics really exports.
	hpa := m.one(t, "HorizontalPodAutoscaler", "waymark-worker")
	require.Equal(t, "autoscaling/v2", getStr(hpa, "apiVersion"))
	require.Equal(t, "Deployment", getStr(hpa, "spec", "scaleTargetRef", "kind"))
	m.one(t, "Deployment", getStr(hpa, "spec", "scaleTargetRef", "name"))

	adapter := decodeYAMLDocs(t, path.Join(k8sDir, adapterValues))
	require.Len(t, adapter, 1)
	exported := engineMetricNames()
	served := map[string]bool{}
	for _, rule := range getList(adapter[0], "rules", "external") {
		served[getStr(rule, "name", "as")] = true
		series := regexp.MustCompile(`^(\w+)\{`).FindStringSubmatch(getStr(rule, "seriesQuery"))
		require.NotNil(t, series, "adapter seriesQuery names one metric")
		require.Contains(t, exported, series[1], "prometheus-adapter reads a metric /metrics does not export")
		require.Contains(t, getStr(rule, "metricsQuery"), series[1]+"{", "metricsQuery reads the same series")
	}
	metrics := getList(hpa, "spec", "metrics")
	require.NotEmpty(t, metrics)
	for _, mt := range metrics {
		require.Equal(t, "External", getStr(mt, "type"))
		name := getStr(mt, "external", "metric", "name")
		require.True(t, served[name], "HPA metric %s is not defined by %s", name, adapterValues)
		if q := getStr(mt, "external", "metric", "selector", "matchLabels", "queue"); q != "" {
			require.Equal(t, worker.QueueDefault, q, "run tasks go to the default queue")
		}
	}
}

// engineMetricNames lists the metric names worker.Metrics exports, with
// their variable labels, e.g. "waymark_queue_tasks" → [queue state].
func engineMetricNames() map[string][]string {
	ch := make(chan *prometheus.Desc, 64)
	worker.NewMetrics(nil, nil, time.Minute, nil).Describe(ch)
	close(ch)
	re := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	out := map[string][]string{}
	for d := range ch {
		if g := re.FindStringSubmatch(d.String()); g != nil {
			out[g[1]] = strings.Fields(strings.ReplaceAll(g[2], ",", " "))
		}
	}
	return out
}

// ---- systemd ---------------------------------------------------------------

func parseUnit(t *testing.T, text string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "unit line %q", line)
		out[section+"."+k] = append(out[section+"."+k], v)
	}
	return out
}

func TestDeploySystemd(t *testing.T) {
	t.Parallel()
	envText := readDeploy(t, "deploy/systemd/waymark.env.example")
	requireKnownVars(t, "waymark.env.example", envText)
	fileEnv := map[string]string{}
	for _, line := range strings.Split(envText, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "waymark.env.example: %q", line)
		fileEnv[k] = v
	}

	for _, role := range []string{"web", "worker"} {
		name := "deploy/systemd/waymark-" + role + ".service"
		text := readDeploy(t, name)
		requireKnownVars(t, name, text)
		u := parseUnit(t, text)
		start := u["Service.ExecStart"]
		require.Len(t, start, 1, name)
		f := strings.Fields(start[0])
		require.Equal(t, []string{role}, f[1:], "%s runs 'waymark %s'", name, role)
		requireCommand(t, name, role)
		for _, pre := range u["Service.ExecStartPre"] {
			pf := strings.Fields(strings.TrimLeft(pre, "-+!@:"))
			require.Equal(t, f[0], pf[0], "%s: ExecStartPre uses the same binary", name)
			requireCommand(t, name+" ExecStartPre", pf[1])
		}
		require.Equal(t, []string{"/etc/waymark/waymark.env"}, u["Service.EnvironmentFile"], name)
		for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet="} {
			k, v, _ := strings.Cut(want, "=")
			require.Contains(t, u["Service."+k], v, "%s: %s", name, want)
		}
		require.True(t, len(u["Service.DynamicUser"]) > 0 || len(u["Service.User"]) > 0, "%s: runs as an unprivileged user", name)

		env := map[string]string{}
		for k, v := range fileEnv {
			env[k] = v
		}
		creds := map[string]bool{}
		for _, lc := range u["Service.LoadCredential"] {
			id, _, _ := strings.Cut(lc, ":")
			creds[id] = true
		}
		for _, e := range u["Service.Environment"] {
			k, v, _ := strings.Cut(strings.Trim(e, `"`), "=")
			if strings.HasPrefix(v, "%d/") {
				require.True(t, creds[strings.TrimPrefix(v, "%d/")], "%s: %s reads credential %s, which LoadCredential does not provide", name, k, v)
				v = writeDeployKeyFile(t)
			}
			env[k] = v
		}
		cfg := loadDeployConfig(t, name, env)
		require.False(t, cfg.Embedded(), "%s: split mode needs PostgreSQL and Redis", name)
		if role == "worker" && cfg.WorkerListenAddr != "" {
			require.NotEqual(t, listenPort(t, cfg), workerPort(t, cfg), "%s: the web unit may run on the same host: the worker's health port must differ", name)
		}
		stop, err := time.ParseDuration(u["Service.TimeoutStopSec"][0])
		require.NoError(t, err, "%s: TimeoutStopSec", name)
		require.Greater(t, stop, cfg.ShutdownTimeout, "%s: TimeoutStopSec outlasts WAYMARK_SHUTDOWN_TIMEOUT", name)
	}
}

// ---- the routes and metrics the artifacts rely on ---------------------------

func TestDeployRoutesAndMetricsExist(t *testing.T) {
	t.Parallel()
	paths := k8sProbePaths(t)
	require.Subset(t, paths, []string{"/healthz", "/readyz", "/metrics"})
	for _, doc := range []string{"docs/deploy.md", "docs/scaling.md"} {
		requireKnownVars(t, doc, readDeploy(t, doc))
	}

	base, _, _ := startServe(t, map[string]string{"WAYMARK_DATA_DIR": t.TempDir(), "WAYMARK_LOG_LEVEL": "error"})
	var metricsBody string
	for _, p := range paths {
		code, body := httpGet(t, base+p)
		require.Equal(t, 200, code, "GET %s (used by the deploy artifacts): %s", p, body)
		if p == "/metrics" {
			metricsBody = body
		}
	}
	require.Contains(t, metricsBody, "waymark_metrics_source_up", "/metrics serves the engine collector")

	labels := engineMetricNames()
	require.Subset(t, labels["waymark_queue_tasks"], []string{"queue", "state"})
	require.Subset(t, labels["waymark_queue_latency_seconds"], []string{"queue"})
}
