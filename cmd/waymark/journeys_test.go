package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJourneysValidate(t *testing.T) {
	t.Parallel()
	good, err := filepath.Glob("../../flows/testdata/*.json")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(good), 6)
	r := runCLI(t, nil, "", append([]string{"journeys", "validate"}, good...)...)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	require.Empty(t, r.stdout)

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"format":1,"name":"Bad","nodes":[
		{"id":"start","kind":"trigger_event","config":{"event":"signup"}},
		{"id":"check","kind":"condition","config":{"expr":"profile.age >"}}],
		"edges":[{"from":"start","to":"check"}]}`), 0o600))
	r = runCLI(t, nil, "", "journeys", "validate", good[0], bad)
	require.Equal(t, 1, r.code)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		require.True(t, strings.HasPrefix(l, bad+": "), l)
	}
	require.Contains(t, r.stdout, bad+`: node "check": expr: `)

	truncated := filepath.Join(dir, "truncated.json")
	require.NoError(t, os.WriteFile(truncated, []byte(`{"format": 1, "nodes": [`), 0o600))
	r = runCLI(t, nil, "", "journeys", "validate", truncated)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout, truncated+": ")

	r = runCLI(t, nil, "", "journeys", "validate", filepath.Join(dir, "missing.json"))
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "cannot read")
	r = runCLI(t, nil, "", "journeys", "validate")
	require.Equal(t, 2, r.code)
	r = runCLI(t, nil, "", "journeys", "frobnicate")
	require.Equal(t, 2, r.code)
}

func TestJourneysImportExportRoundTrip(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"WAYMARK_DATA_DIR": t.TempDir()}
	r := runCLI(t, vars, "", "journeys", "import", "../../flows/testdata/abandoned_cart.json")
	require.Equal(t, 0, r.code, r.stderr)
	id := strings.TrimSpace(r.stdout)
	require.NotEmpty(t, id)

	r = runCLI(t, vars, "", "journeys", "export", id)
	require.Equal(t, 0, r.code, r.stderr)
	first := r.stdout
	require.Contains(t, first, `"format": 1`)

	exported := filepath.Join(t.TempDir(), "export.json")
	require.NoError(t, os.WriteFile(exported, []byte(first), 0o600))
	r = runCLI(t, vars, "", "journeys", "import", exported)
	require.Equal(t, 0, r.code, r.stderr)
	id2 := strings.TrimSpace(r.stdout)
	require.NotEqual(t, id, id2)
	r = runCLI(t, vars, "", "journeys", "export", id2, "--version", "draft")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, first, r.stdout, "export → import → export is byte-identical")

	r = runCLI(t, vars, "", "journeys", "export", id, "--version", "1")
	require.Equal(t, 1, r.code, "never published")
	require.Contains(t, r.stderr, "not found")
	r = runCLI(t, vars, "", "journeys", "export", "nope")
	require.Equal(t, 1, r.code)
	r = runCLI(t, vars, "", "journeys", "export", id, "--version", "zero")
	require.Equal(t, 2, r.code)

	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"format":1,"name":"x","nodes":[],"edges":[]}`), 0o600))
	r = runCLI(t, vars, "", "journeys", "import", bad)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "nothing imported")
	require.Contains(t, r.stdout, bad+": ")
}

// TestJourneysValidateRefusesAmplification: the security review's
// 628-byte expression bomb validated ("valid", exit 0) and killed
// `journeys simulate` with a fatal out-of-memory; both refuse it now.
func TestJourneysValidateRefusesAmplification(t *testing.T) {
	t.Parallel()
	e := `"0123456789"`
	for range 5 {
		e = `join(split(` + e + `, ""), "` + strings.Repeat("x", 100) + `")`
	}
	expr, err := json.Marshal("len(" + e + ") > 0")
	require.NoError(t, err)
	dir := t.TempDir()
	bomb := writeFile(t, dir, "bomb.json", `{"format":1,"name":"Bomb","nodes":[
	  {"id":"t","kind":"trigger_webhook","config":{"profile_id":"event.body.user_id"}},
	  {"id":"c","kind":"condition","config":{"expr":`+string(expr)+`}}],
	  "edges":[{"from":"t","to":"c"}]}`)
	r := runCLI(t, nil, "", "journeys", "validate", bomb)
	require.Equal(t, 1, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, `node "c": expr: `)
	require.Contains(t, r.stdout, "can build more than 2 MiB")

	profiles := writeFile(t, dir, "profiles.json", `[{"external_id": "sam"}]`)
	vars := map[string]string{"WAYMARK_DATA_DIR": filepath.Join(dir, "data")}
	r = runCLI(t, vars, "", "journeys", "simulate", bomb, "--profiles", profiles)
	require.Equal(t, 1, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "can build more than 2 MiB")
}
