/**
 * Runs a scenario of test/hardening/scenarios.ts in a child process with a deadline: a scenario that could freeze
 * the process (a livelock spins the event loop, so no timer of the test itself would ever fire) cannot hang the
 * test run. The child prints one JSON line, its result; a child still running at the deadline is killed.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(new URL("./scenarios.ts", import.meta.url))

/** What the child reported, or how it failed. */
export type ChildResult<A> =
  | { readonly _tag: "Done"; readonly value: A; readonly ms: number }
  | { readonly _tag: "Deadline"; readonly ms: number; readonly stderr: string }
  | { readonly _tag: "Failed"; readonly code: number | null; readonly stderr: string; readonly stdout: string }

/**
 * Runs scenario `name` with `args` (JSON) in a fresh Node process; kills it after `deadlineMs`. `onEvent` sees the
 * lines the child prints before its result (`{"event": …}`), as they come.
 */
export const runScenario = <A>(
  name: string,
  args: unknown,
  deadlineMs: number,
  onEvent?: (event: string) => void
): Promise<ChildResult<A>> =>
  new Promise((resolve) => {
    const started = performance.now()
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", script, name, JSON.stringify(args)], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let scanned = 0
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      for (let newline = stdout.indexOf("\n", scanned); newline >= 0; newline = stdout.indexOf("\n", scanned)) {
        const event = /^\{"event":"(\w+)"\}$/.exec(stdout.slice(scanned, newline))
        scanned = newline + 1
        if (event !== null) onEvent?.(event[1]!)
      }
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, deadlineMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      const ms = performance.now() - started
      if (timedOut) return resolve({ _tag: "Deadline", ms, stderr })
      const line = stdout.trim().split("\n").pop() ?? ""
      if (code !== 0 || !line.startsWith("{")) return resolve({ _tag: "Failed", code, stderr, stdout })
      resolve({ _tag: "Done", value: JSON.parse(line) as A, ms })
    })
  })

/** The child's result, or a thrown error that says why there is none (deadline, crash). */
export const expectDone = <A>(result: ChildResult<A>): A => {
  if (result._tag === "Done") return result.value
  if (result._tag === "Deadline") {
    throw new Error(`the scenario did not finish within its deadline (${result.ms.toFixed(0)} ms): ${result.stderr}`)
  }
  throw new Error(`the scenario failed (exit ${result.code}): ${result.stderr}\n${result.stdout}`)
}
