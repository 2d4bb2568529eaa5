package web

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func prefixOf(u string) string {
	return strings.SplitN(strings.TrimPrefix(u, "/static/"), "/", 2)[0]
}

// The editor's ES modules import each other by relative URL, so they must
// share one hashed prefix, and a change to any of them must change it.
func TestAssetsModulesShareOnePrefix(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"static/app.css":          {Data: []byte("body{}")},
		"static/editor/main.js":   {Data: []byte("import './api.js';")},
		"static/editor/api.js":    {Data: []byte("export const a = 1;")},
		"static/vendor/x6.min.js": {Data: []byte("x6")},
	}
	byURL, urls, err := loadAssets(fsys)
	require.NoError(t, err)
	main, api := urls["editor/main.js"], urls["editor/api.js"]
	require.Equal(t, prefixOf(main), prefixOf(api), "one prefix for the directory")
	require.Equal(t, strings.TrimSuffix(main, "main.js")+"api.js", api, "./api.js resolves against main.js's URL")
	require.Contains(t, byURL, api)
	require.NotEqual(t, prefixOf(main), prefixOf(urls["app.css"]))

	fsys["static/editor/api.js"] = &fstest.MapFile{Data: []byte("export const a = 2;")}
	_, urls2, err := loadAssets(fsys)
	require.NoError(t, err)
	require.NotEqual(t, main, urls2["editor/main.js"], "a changed import changes the entry's URL too")
	require.Equal(t, urls["app.css"], urls2["app.css"], "other assets keep their own hash")
}

// The real editor is modules only, each served under the shared prefix,
// and every library bundled in a vendored file ships its licence notice.
func TestAssetsEditorModulesAndNotices(t *testing.T) {
	t.Parallel()
	_, urls, err := loadAssets(os.DirFS(".."))
	require.NoError(t, err)
	for _, m := range []string{"main", "api", "canvas", "document", "save", "panel", "keys", "stats", "sim"} {
		u, ok := urls["editor/"+m+".js"]
		require.True(t, ok, m)
		require.Equal(t, prefixOf(urls["editor/main.js"]), prefixOf(u), m)
	}
	for _, old := range []string{"editor.js", "editor_stats.js", "editor_sim.js"} {
		require.NotContains(t, urls, old)
	}
	require.Contains(t, urls, "vendor/x6.LICENSE.txt")
	require.Contains(t, urls, "vendor/htmx.LICENSE.txt")
	notice, err := os.ReadFile("../static/vendor/x6.THIRD-PARTY.txt")
	require.NoError(t, err)
	for _, want := range []string{"mousetrap", "Apache License", "LLVM", "Craig Campbell", "lodash-es", "OpenJS Foundation", "dom-align", "yiminghe", "tslib"} {
		require.Contains(t, string(notice), want)
	}
	require.Contains(t, urls, "vendor/x6.THIRD-PARTY.txt", "served like the other notices")
}
