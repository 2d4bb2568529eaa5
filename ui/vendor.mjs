// Copies the pinned browser libraries from node_modules into
// ui/static/vendor/, where go:embed picks them up. Run `npm ci && npm run
// vendor` after changing a version in package.json, and commit the result:
// `go build` never needs npm.
//
// X6 injects its CSS as inline <style> elements, which Waymark's
// Content-Security-Policy (style-src 'self') refuses. So this script also
// extracts X6's stylesheets (core and plugins) into vendor/x6.css, which the
// editor links like any other stylesheet; the editor stops X6 from inserting
// its own copies (see withoutInlineCSS in editor/canvas.js).
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

// x6.min.js compiles in X6's runtime dependencies (utility-types is types
// only) and TypeScript's helpers; their licences ask that their notices
// ship with the bundle, so they go into x6.THIRD-PARTY.txt.
const bundled = ['mousetrap', 'lodash-es', 'dom-align']
// A notice the package's LICENSE file leaves out (mousetrap's is in its
// source header).
const copyrights = { mousetrap: 'Copyright 2012-2017 Craig Campbell' }
const tslib = `Copyright (c) Microsoft Corporation.

Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted.

THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES WITH
REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY
AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR ANY SPECIAL, DIRECT,
INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES WHATSOEVER RESULTING FROM
LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR
OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR
PERFORMANCE OF THIS SOFTWARE.
`
function licenceText(pkg) {
  for (const f of ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'LICENCE']) {
    if (existsSync(join(nm, pkg, f))) return readFileSync(join(nm, pkg, f), 'utf8').trimEnd() + '\n'
  }
  throw new Error(`${pkg}: no LICENSE file`)
}
function section(title, text) {
  const rule = '='.repeat(78)
  return `\n${rule}\n${title}\n${rule}\n\n${text}`
}
let third = `Third-party software bundled in x6.min.js (@antv/x6 ${version('@antv/x6')}, MIT: see x6.LICENSE.txt).

The X6 bundle compiles in the following libraries. Their licence notices are
reproduced below, as their licences require. Written by ui/vendor.mjs from the
packages' own LICENSE files; do not edit by hand.

`
for (const pkg of bundled) {
  const meta = JSON.parse(readFileSync(join(nm, pkg, 'package.json'), 'utf8'))
  third += `  ${pkg} ${meta.version}: ${meta.license}\n`
}
third += '  tslib (TypeScript helpers): 0BSD\n'
for (const pkg of bundled) {
  const meta = JSON.parse(readFileSync(join(nm, pkg, 'package.json'), 'utf8'))
  third += section(`${pkg} ${meta.version} (${meta.license})`, (copyrights[pkg] ? copyrights[pkg] + '\n\n' : '') + licenceText(pkg))
}
third += section('tslib (TypeScript runtime helpers) (0BSD)', tslib)
writeFileSync(join(out, 'x6.THIRD-PARTY.txt'), third)
console.log('wrote ui/static/vendor/x6.THIRD-PARTY.txt')

writeFileSync(join(out, 'VERSIONS.txt'),
  `@antv/x6 ${version('@antv/x6')}\nhtmx.org ${version('htmx.org')}\n`)
console.log('wrote ui/static/vendor/VERSIONS.txt')
