/**
 * Runs a TypeScript script of this folder in a child Node process (through tsx) with a deadline, so that a test of
 * something that could hang the event loop cannot hang the test run. The script prints one JSON line as its result.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export interface ChildResult {
  /** The exit code, or null when the deadline killed the process. */
  readonly code: number | null
  readonly timedOut: boolean
  /** The last line the script printed, parsed as JSON (undefined when there was none). */
  readonly result: unknown
  readonly stderr: string
}

export const runChild = (
  script: string,
  options: {
    readonly deadlineMs: number
    readonly nodeArgs?: ReadonlyArray<string>
    readonly args?: ReadonlyArray<string>
  }
): Promise<ChildResult> =>
  new Promise((resolve) => {
    const path = fileURLToPath(new URL(script, import.meta.url))
    const argv = [...(options.nodeArgs ?? []), "--import", "tsx", path, ...(options.args ?? [])]
    const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    let timedOut = false
    const deadline = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, options.deadlineMs)
    child.once("exit", (code) => {
      clearTimeout(deadline)
      const lines = stdout.trim().split("\n").filter((line) => line.startsWith("{"))
      const last = lines[lines.length - 1]
      resolve({ code, timedOut, result: last === undefined ? undefined : JSON.parse(last), stderr })
    })
  })
