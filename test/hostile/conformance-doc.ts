/**
 * Writes docs/CONFORMANCE.md from a test run: `npx tsx test/hostile/conformance-doc.ts`.
 *
 * It runs the conformance, fault and hardening tests (and, unless `--no-load`, the load tests) with vitest's JSON reporter,
 * then renders each case of test/hostile/cases.ts — the same objects the tests assert — with its result, and the
 * fault and load tests with what they measured. test/conformance/doc.test.ts checks that the table and the cases
 * stay in sync.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { allCases, type Case, describeSent, type Expected, type Sent } from "./cases.js"

const root = fileURLToPath(new URL("../../", import.meta.url))
const withLoad = !process.argv.includes("--no-load")

interface AssertionResult {
  readonly title: string
  readonly status: string
  readonly duration?: number | null
  readonly failureMessages?: ReadonlyArray<string>
}

interface JsonReport {
  readonly testResults: ReadonlyArray<{ readonly assertionResults: ReadonlyArray<AssertionResult> }>
}

const work = mkdtempSync(join(tmpdir(), "conformance-"))
const measurementsFile = join(work, "measurements.jsonl")

const runVitest = (name: string, args: ReadonlyArray<string>): Array<AssertionResult> => {
  const output = join(work, `${name}.json`)
  spawnSync("npx", ["vitest", "run", ...args, "--reporter=json", `--outputFile=${output}`], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CONFORMANCE_MEASUREMENTS: measurementsFile }
  })
  if (!existsSync(output)) throw new Error(`vitest wrote no report for ${name}`)
  const report = JSON.parse(readFileSync(output, "utf8")) as JsonReport
  return report.testResults.flatMap((file) => file.assertionResults)
}

const results = [
  ...runVitest("conformance", [
    "test/conformance",
    "test/faults",
    "test/hardening",
    "--exclude",
    "test/conformance/doc.test.ts"
  ]),
  ...(withLoad ? runVitest("load", ["--config", "vitest.load.config.ts"]) : [])
]
const measurements = new Map<string, string>()
if (existsSync(measurementsFile)) {
  for (const line of readFileSync(measurementsFile, "utf8").split("\n")) {
    if (line.trim() === "") continue
    const { id, text } = JSON.parse(line) as { id: string; text: string }
    measurements.set(id, text)
  }
}
rmSync(work, { recursive: true, force: true })

const idOf = (title: string): string => title.split(" ")[0]!
const resultById = new Map(results.map((r) => [idOf(r.title), r]))

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ")

const verdict = (id: string): string => {
  const result = resultById.get(id)
  if (result === undefined) return "not run"
  if (result.status === "passed") return "pass"
  const why = (result.failureMessages?.[0] ?? "").split("\n")[0]!.slice(0, 160)
  return `**FAIL**: ${why}`
}

/** Frames the client sends, with repeats folded ("10 × Pong 9 B"). */
const sendsText = (sends: ReadonlyArray<Sent>): string => {
  if (sends.length === 0) return "nothing"
  const parts: Array<string> = []
  let previous = ""
  let count = 0
  for (const text of sends.map(describeSent).concat([""])) {
    if (text === previous) {
      count++
      continue
    }
    if (previous !== "") parts.push(count > 1 ? `${count} × ${previous}` : previous)
    previous = text
    count = 1
  }
  return parts.join(", ")
}

const closeReasonText = (expected: Expected): string => {
  if (expected.closeReason === undefined) return "— (no session)"
  const { code, message } = expected.closeReason
  if (message === undefined || message === "") return `${code}`
  const bytes = Buffer.byteLength(message, "utf8")
  return bytes > 24 ? `${code} + ${bytes}-byte reason` : `${code} "${message}"`
}

const errorText = (expected: Expected): string =>
  expected.error === undefined ? "— (ends quietly)" : `\`${expected.error}\``

const caseRow = (c: Case): string => {
  const expected = c.expect()
  const result = verdict(c.id) + (c.deviation === undefined ? "" : " (deviates from Autobahn, see notes)")
  return `| ${c.id} | ${cell(c.title)} | ${cell(sendsText(expected.sends))} | ${cell(closeReasonText(expected))} | ` +
    `${errorText(expected)} | ${cell(result)} |`
}

const sections = new Map<string, Array<Case>>()
for (const c of allCases) sections.set(c.section, [...(sections.get(c.section) ?? []), c])

const otherRows = (prefix: string): Array<string> =>
  results
    .filter((r) => r.title.startsWith(prefix))
    .map((r) => {
      const id = idOf(r.title)
      return `| ${id} | ${cell(r.title.slice(id.length + 1))} | ${cell(verdict(id))} | ` +
        `${cell(measurements.get(id) ?? "")} |`
    })

const passed = results.filter((r) => r.status === "passed").length
const failed = results.filter((r) => r.status === "failed")
const deviations = allCases.filter((c) => c.deviation !== undefined)
const version = (pkg: string) =>
  (JSON.parse(readFileSync(join(root, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version

const lines: Array<string> = [
  "# Conformance",
  "",
  "<!-- Generated by `npx tsx test/hostile/conformance-doc.ts` from a test run; do not edit by hand. -->",
  "",
  "The Autobahn TestSuite needs Python 2 and cannot run here, so its client-side categories are replayed by a",
  "hostile peer (`test/hostile/peer.ts`): a raw `node:net` server that answers the upgrade with a correct",
  "`Sec-WebSocket-Accept` and then writes hand-crafted frames, parses the client's masked frames and records",
  "them. The client under test is `WebSockets.webSocketSession` over `NodeEngine`, echoing every message it",
  "receives, as Autobahn's test client does. Each case asserts:",
  "",
  "- **Client sends back**: every frame the client wrote, in order (data fragments joined, each frame checked",
  "  masked with no reserved bit); \"Close 1002\" is the close code the client sent;",
  "- **closeReason**: the session's `closeReason`;",
  "- **Error**: the `reason` of the `WebSocketException` that `incoming` fails with (or, with no session, that",
  "  the connection fails with);",
  "- after the case, no socket, timer or immediate created during it is still alive (async_hooks), and no",
  "  fiber started by it is still running (`Supervisor.track`).",
  "",
  `Run: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, Node ${process.version}, ` +
  `ws ${version("ws")}, effect ${version("effect")}. ` +
  `${passed} passed, ${failed.length} failed${withLoad ? "" : " (load tests not run)"}.`,
  "Test files: `test/conformance/*.test.ts` (cases in `test/hostile/cases.ts`), `test/faults/*.test.ts`,",
  "`test/load/*.test.ts` (`npm run test:load`).",
  ""
]
for (const [section, cases] of sections) {
  lines.push(
    `## ${section}`,
    "",
    "| Case | What the peer does → what the client must do | Client sends back | closeReason | Error | Result |",
    "| --- | --- | --- | --- | --- | --- |",
    ...cases.map(caseRow),
    ""
  )
}
lines.push(
  "## Hardening",
  "",
  "Adversarial and careless use of the session (`test/hardening/hardening.test.ts`): many waiters, Ping floods, the",
  "window between the peer's Close and the end of TCP, misuse of frames, slow consumers under the pinger, scopes",
  "holding many sessions. Scenarios that could freeze the process run in a child process with a deadline.",
  "",
  "| Case | Rule | Result | Measured |",
  "| --- | --- | --- | --- |",
  ...otherRows("A."),
  "",
  "## Faults",
  "",
  "| Case | Rule | Result | Measured |",
  "| --- | --- | --- | --- |",
  ...otherRows("F."),
  "",
  "## Load (`npm run test:load`)",
  "",
  "| Case | Rule | Result | Measured |",
  "| --- | --- | --- | --- |",
  ...(withLoad ? otherRows("L.") : ["| L.1, L.2 | not run in this generation (`--no-load`) | | |"]),
  "",
  "## Notes",
  ""
)
if (failed.length === 0 && deviations.length === 0) lines.push("Every case passes as Autobahn would judge it.")
for (const c of deviations) lines.push(`- **${c.id}** ${c.title}: ${c.deviation}`)
for (const r of failed) {
  lines.push(`- **${idOf(r.title)}** fails: ${cell((r.failureMessages?.[0] ?? "").split("\n")[0]!)}`)
}
lines.push(
  "",
  "## Bugs these cases found in the client (fixed)",
  "",
  "- **H.5**: a server that never answered the upgrade hung the client past `connectTimeout`: the connection was",
  "  acquired uninterruptibly, so the timeout could not abort it (`src/internal/session.ts`).",
  "- **H.3**: an answer that is not HTTP (parser errors `HPE_*`) failed with `Connect`; it is a `Handshake`",
  "  failure (`src/NodeEngine.ts`).",
  "- **5.17, 9.3.2**: for a message of too many fragments ws sends Close 1008, but `closeReason` said 1002",
  "  (`src/NodeEngine.ts`).",
  "- **F.2**: after a ping timeout the scope still waited 5 s for the silent peer's Close: the wait in the",
  "  (uninterruptible) finalizer could not be cut short by its timeout (`src/internal/closing.ts`).",
  "- **A.1, A.2**: 33 fibers waiting on `receive` (32 on `closeReason` with the pinger on) spun the process at 100%",
  "  CPU: the waiter lists woke everybody once full, and everybody registered again. Waiters now register a canceler",
  "  and remove themselves when interrupted (`src/core/session.ts`, `src/internal/sessionState.ts`).",
  "- **A.3**: `flush` polled every 1 ms with a timer nobody could cancel; it now waits for the socket's write callback.",
  "- **A.4**: every Ping was answered whatever the write buffer held: a peer that floods Pings and reads nothing grew",
  "  the client's memory by about 1 GiB in 6 s. Pongs owed now count against the write high-water mark.",
  "- **A.5**: between the peer's Close and the end of TCP, `send` succeeded into nothing and `incoming` waited for the",
  "  engine's 5 s timer; the Node engine now reports the Close frame itself (ws's receiver \"conclude\" event).",
  "- **A.6, A.7**: a violation after our Close replaced `closeReason`; a malformed Close payload went out as 1000.",
  "- **A.8, A.9**: an oversized Ping was a defect; a frame of another type while a fragmented message was open went",
  "  on the wire as a continuation of it.",
  "- **A.10**: a slow consumer paused reading and the pinger declared the healthy peer dead (its Pong sat unread).",
  "- **A.11 – A.13**: a scope's sessions closed one after another (one 5 s wait each), and a cut close wait left TCP",
  "  open until ws's own timer.",
  ""
)

writeFileSync(join(root, "docs", "CONFORMANCE.md"), lines.join("\n"))
process.stdout.write(`docs/CONFORMANCE.md: ${passed} passed, ${failed.length} failed\n`)
