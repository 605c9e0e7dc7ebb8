import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { allCases } from "../hostile/cases.js"

const root = new URL("../../", import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), "utf8")

/** Case ids and titles of the table rows in docs/CONFORMANCE.md. */
const documented = (): Map<string, string> => {
  const rows = new Map<string, string>()
  for (const line of read("docs/CONFORMANCE.md").split("\n")) {
    const match = /^\| ([0-9A-Z]+(?:\.[0-9]+)+) \| (.*?) \|/.exec(line)
    if (match !== null) rows.set(match[1]!, match[2]!.replace(/\\\|/g, "|"))
  }
  return rows
}

/** Fault and load tests, by id, as named in their test files. */
const namedTests = (dir: string): Map<string, string> => {
  const tests = new Map<string, string>()
  for (const file of readdirSync(new URL(dir, root))) {
    if (!file.endsWith(".test.ts")) continue
    for (const match of read(`${dir}/${file}`).matchAll(/it\(\s*"([AFL]\.\d+) ((?:[^"\\]|\\.)*)"/g)) {
      tests.set(match[1]!, match[2]!.replace(/\\"/g, "\""))
    }
  }
  return tests
}

describe("docs/CONFORMANCE.md is the table of the cases that run", () => {
  it("every conformance case has a row with its title, and every row is a case", () => {
    const rows = documented()
    const cases = new Map(allCases.map((c) => [c.id, c.title]))
    const tests = new Map([...namedTests("test/faults"), ...namedTests("test/hardening"), ...namedTests("test/load")])
    for (const [id, title] of cases) expect(rows.get(id), `row for case ${id}`).toBe(title)
    for (const [id, title] of tests) expect(rows.get(id), `row for test ${id}`).toBe(title)
    for (const id of rows.keys()) expect(cases.has(id) || tests.has(id), `case or test for row ${id}`).toBe(true)
  })

  it("case ids are unique", () => {
    const ids = allCases.map((c) => c.id)
    expect(new Set(ids).size).toBe(ids.length)
  })
})
