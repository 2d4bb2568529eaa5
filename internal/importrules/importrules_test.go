package importrules_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/waymarkhq/waymark"

// pkg is one package of the module as go list sees it.
type pkg struct {
	path    string
	imports []string // direct imports
	deps    []string // every package it links, transitively
}

// list runs go list once over the module.
func list(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		require.Len(t, f, 3, "go list line %q", line)
		pkgs = append(pkgs, pkg{path: f[0], imports: strings.Fields(f[1]), deps: strings.Fields(f[2])})
	}
	require.Greater(t, len(pkgs), 20, "go list found the module's packages")
	return pkgs
}

// under reports whether path is dir or a package below it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

func anyUnder(paths []string, dirs ...string) []string {
	var out []string
	for _, p := range paths {
		for _, d := range dirs {
			if under(p, d) {
				out = append(out, p)
			}
		}
	}
	return out
}

// TestImportRules enforces who may import whom.
func TestImportRules(t *testing.T) {
	t.Parallel()
	pkgs := list(t)
	byPath := map[string]pkg{}
	for _, p := range pkgs {
		byPath[p.path] = p
	}

	// The domain is pure: flows, nodes and learn link no web framework,
	// database, queue or HTTP stack, and none of the layers above them
	// (stdlib, expr and stdlib-only leaves such as internal/jsonlimit).
	t.Run("domain packages are pure", func(t *testing.T) {
		forbidden := []string{"github.com/gofiber/fiber", "gorm.io", "github.com/hibiken/asynq", "net/http"}
		checked := 0
		for _, p := range pkgs {
			if len(anyUnder([]string{p.path}, module+"/flows", module+"/nodes", module+"/learn")) == 0 {
				continue
			}
			checked++
			require.Empty(t, anyUnder(p.deps, forbidden...), "%s must not link fiber, gorm, asynq or net/http", p.path)
			require.Empty(t, anyUnder(p.deps, module+"/store", module+"/worker", module+"/ui", module+"/connectors", module+"/cmd"),
				"%s must not import the layers above the domain", p.path)
		}
		require.GreaterOrEqual(t, checked, 4, "flows, flows/expression, nodes, nodes/builtin, learn")
		require.NotContains(t, byPath[module+"/nodes"].deps, module+"/flows", "nodes never imports flows")
	})

	// Connector providers (every package under connectors/) do not import
	// the store: what they share with it (delivery statuses, suppression
	// reasons) lives in connectors/delivery, which imports nothing. The
	// connectors package itself still does (its admin Service is a store
	// client), so this rule is about direct imports.
	t.Run("connector providers import no store", func(t *testing.T) {
		checked := 0
		for _, p := range pkgs {
			if !strings.HasPrefix(p.path, module+"/connectors/") {
				continue
			}
			checked++
			require.NotContains(t, p.imports, module+"/store", "%s must not import store (use connectors/delivery)", p.path)
		}
		require.GreaterOrEqual(t, checked, 6)
		leaf := byPath[module+"/connectors/delivery"]
		require.Empty(t, anyUnder(leaf.deps, module), "connectors/delivery imports nothing of the module")
	})

	// The HTTP edge by audience (issue 19): ui/web (pages), ui/api
	// (/api/v1) and ui/ingest (inbound traffic) do not import one another.
	// The rule applies to whichever of them exist, and to every package
	// below them, as soon as they are written.
	t.Run("edge audiences are independent", func(t *testing.T) {
		audiences := []string{module + "/ui/web", module + "/ui/api", module + "/ui/ingest"}
		for _, p := range pkgs {
			for _, a := range audiences {
				if !under(p.path, a) {
					continue
				}
				others := slices.DeleteFunc(slices.Clone(audiences), func(o string) bool { return o == a })
				require.Empty(t, anyUnder(p.deps, others...), "%s must not import another audience's package", p.path)
			}
		}
	})
}
