/**
 * Starts the python3-websockets peer (test/peers/echo_server.py, run by Debian's /usr/bin/python3) and stops it
 * when the scope closes.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const PYTHON = "/usr/bin/python3"
export const ECHO_SERVER = fileURLToPath(new URL("../peers/echo_server.py", import.meta.url))

export interface PythonServer {
  readonly port: number
  readonly url: (path?: string) => string
  readonly process: ChildProcess
}

/** Spawns the peer and resolves once it has printed its port. */
export const startPython = (script: string = ECHO_SERVER): Promise<PythonServer> =>
  new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script], { stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    let err = ""
    const fail = (why: string) => {
      child.kill("SIGTERM")
      reject(new Error(`${why}\n${err}`))
    }
    const timer = setTimeout(() => fail("the python peer did not print its port within 10 s"), 10_000)
    child.stderr!.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the python peer exited with ${code}\n${err}`))
    })
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split("\n")
      if (line.length > 1) {
        clearTimeout(timer)
        const port = Number(line[0])
        if (!Number.isInteger(port) || port <= 0) return fail(`unexpected output from the python peer: ${out}`)
        resolve({ port, url: (path = "/echo") => `ws://127.0.0.1:${port}${path}`, process: child })
      }
    })
  })

/** Stops the peer (closing its stdin, then SIGTERM) and waits for it to exit. */
export const stopPython = (server: PythonServer): Promise<void> =>
  new Promise((resolve) => {
    const child = server.process
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.stdin!.end()
    child.kill("SIGTERM")
  })

/** The peer as a scoped resource. */
export const python = (): Effect.Effect<PythonServer, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => startPython()), (s) => Effect.promise(() => stopPython(s)))
