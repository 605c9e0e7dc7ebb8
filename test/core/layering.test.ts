/**
 * Where the transport code may reach: src/core/ stands on its own (no Effect, nothing outside src/core/ but Node's
 * built-ins and `ws`), and `ws` is imported by one module only, the Node transport, so that a bundle that does not
 * use NodeEngine never pulls it in.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..")

const sources = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

/** The module specifiers a file imports or re-exports (static and dynamic, types included). */
const importsOf = (file: string): Array<string> => {
  const text = readFileSync(file, "utf8")
  const found: Array<string> = []
  // `import x from`, `import type { a } from`, `import * as A from`, `export { a } from`, `export * from`, `import "m"`
  const statement =
    /^(?:import|export)\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\}|\w+(?:\s*,\s*\{[^}]*\})?)\s+from\s+"([^"]+)"/gm
  for (const match of text.matchAll(statement)) found.push(match[1]!)
  for (const match of text.matchAll(/^import\s+"([^"]+)"/gm)) found.push(match[1]!)
  for (const match of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) found.push(match[1]!)
  return found
}

describe("layering of the transports", () => {
  it("src/core/ imports only its own modules, Node built-ins and ws: no Effect, no Effect-side module", () => {
    const outside: Array<string> = []
    for (const file of sources(join(root, "src", "core"))) {
      for (const specifier of importsOf(file)) {
        const allowed = (specifier.startsWith("./") && !specifier.includes("..")) || specifier.startsWith("node:") ||
          specifier === "ws"
        if (!allowed) outside.push(`${relative(root, file)} imports ${specifier}`)
      }
    }
    expect(outside).toEqual([])
  })

  it("only src/core/nodeTransport.ts imports ws", () => {
    const importers = sources(join(root, "src"))
      .filter((file) => importsOf(file).includes("ws"))
      .map((file) => relative(root, file))
    expect(importers).toEqual([join("src", "core", "nodeTransport.ts")])
  })
})
