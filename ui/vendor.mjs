// Copies the pinned browser libraries from node_modules into
// ui/static/vendor/, where go:embed picks them up. Run `npm ci && npm run
// vendor` after changing a version in package.json, and commit the result:
// `go build` never needs npm.
//
// X6 injects its CSS as inline <style> elements, which Waymark's
// Content-Security-Policy (style-src 'self') refuses. So this script also
// extracts X6's stylesheets (core and plugins) into vendor/x6.css, which the
// editor links like any other stylesheet; editor.js stops X6 from inserting
// its own copies (see disableInlineCSS there).
import { readFileSync, writeFileSync, readdirSync, existsSync, copyFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const nm = join(root, 'node_modules')
const out = join(root, 'ui', 'static', 'vendor')

function version(pkg) {
  return JSON.parse(readFileSync(join(nm, pkg, 'package.json'), 'utf8')).version
}

function copy(from, to) {
  copyFileSync(join(nm, from), join(out, to))
  console.log(`vendored ${from} -> ui/static/vendor/${to}`)
}

// The CSS of X6 lives in generated raw.ts files: `export const content = `…``.
function rawCSS(file) {
  const src = readFileSync(file, 'utf8')
  const m = src.match(/export const content = `([\s\S]*)`\s*$/)
  if (!m) throw new Error(`no CSS content in ${file}`)
  return m[1]
}

const x6 = join(nm, '@antv', 'x6', 'src')
let css = `/* @antv/x6 ${version('@antv/x6')} stylesheets (MIT), extracted by ui/vendor.mjs. Do not edit. */\n`
css += rawCSS(join(x6, 'style', 'raw.ts'))
for (const plugin of readdirSync(join(x6, 'plugin')).sort()) {
  const f = join(x6, 'plugin', plugin, 'style', 'raw.ts')
  if (existsSync(f)) css += `\n/* plugin: ${plugin} */\n` + rawCSS(f)
}
writeFileSync(join(out, 'x6.css'), css)
console.log('wrote ui/static/vendor/x6.css')

copy('@antv/x6/dist/x6.min.js', 'x6.min.js')
copy('@antv/x6/LICENSE', 'x6.LICENSE.txt')
copy('htmx.org/dist/htmx.min.js', 'htmx.min.js')
copy('htmx.org/LICENSE', 'htmx.LICENSE.txt')

writeFileSync(join(out, 'VERSIONS.txt'),
  `@antv/x6 ${version('@antv/x6')}\nhtmx.org ${version('htmx.org')}\n`)
console.log('wrote ui/static/vendor/VERSIONS.txt')
