// Runs both halves and compares them case by case; exits 0 when every case
// is byte-identical, 1 on a difference, 2 when the Python half cannot run
// (the reason is printed).
//   node tests/cross_language/compare.mjs
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const python = process.env.PYTHON ?? 'python3'

const node = spawnSync(process.execPath, [join(here, 'node_side.mjs')], { encoding: 'utf8' })
if (node.status !== 0) {
  console.error(node.stderr)
  process.exit(1)
}
const py = spawnSync(python, [join(here, 'python_side.py')], { encoding: 'utf8' })
if (py.error || py.status !== 0) {
  console.log(`SKIP python half: ${py.error?.message ?? py.stderr.trim().split('\n').pop()}`)
  process.exit(2)
}
const parse = (s) => new Map(s.trim().split('\n').map((l) => JSON.parse(l)).map((r) => [r.case, r]))
const [a, b] = [parse(node.stdout), parse(py.stdout)]
let bad = 0
for (const [k, n] of a) {
  const p = b.get(k)
  if (!p || p.canonical !== n.canonical || p.content_hash !== n.content_hash) {
    bad++
    console.log(`DIFF ${k}\n  node:   ${n.canonical}\n  python: ${p?.canonical}`)
  } else {
    console.log(`same ${k} ${n.content_hash}`)
  }
}
process.exit(bad ? 1 : 0)
