/**
 * `npm run docs:check` (CI): the committed API reference (`docs/modules/`, written by `npm run docs`) matches the
 * JSDoc of `src/`. Regenerates it with @effect/docgen, which also type-checks every `@example`, then fails when a
 * generated file changed, appeared or disappeared: the regenerated files stay in place, ready to commit.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const generated = ["docs/modules", "docs/_config.yml", "docs/index.md"]

const snapshot = (): Map<string, string> => {
  const files = new Map<string, string>()
  const walk = (relative: string) => {
    const absolute = path.join(root, relative)
    if (!fs.existsSync(absolute)) return
    if (fs.statSync(absolute).isDirectory()) {
      for (const entry of fs.readdirSync(absolute)) walk(path.join(relative, entry))
    } else {
      files.set(relative, fs.readFileSync(absolute, "utf8"))
    }
  }
  for (const relative of generated) walk(relative)
  return files
}

const before = snapshot()
execFileSync("npx", ["--no-install", "docgen"], { cwd: root, stdio: "inherit" })
const after = snapshot()

const stale = [...new Set([...before.keys(), ...after.keys()])]
  .filter((file) => before.get(file) !== after.get(file))
  .sort()
if (stale.length > 0) {
  console.error(`The API reference was stale; regenerated (commit these):\n${stale.map((f) => `  ${f}`).join("\n")}`)
  process.exitCode = 1
} else {
  console.log(`The API reference is current (${after.size} files) and every @example type-checks.`)
}
