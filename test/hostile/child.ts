/**
 * Runs test/hostile/echo-server.mjs as a child process: a server that a test can kill for real.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(new URL("./echo-server.mjs", import.meta.url))

/** A running echo server process. */
export interface EchoServerProcess {
  readonly child: ChildProcess
  readonly port: number
  readonly url: string
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>
  /** Stops the process (SIGTERM, then SIGKILL) and waits for it. */
  readonly stop: () => Promise<void>
}

/** The port an echo server child prints as its first line once it listens; fails if it exits first. */
export const listeningPort = async (child: ChildProcess): Promise<number> => {
  const port = await new Promise<number>((resolve, reject) => {
    let out = ""
    child.once("exit", (code) => reject(new Error(`the echo server exited early with ${code}`)))
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.indexOf("\n")
      if (line >= 0) resolve(Number(out.slice(0, line)))
    })
  })
  child.stdout!.resume()
  return port
}

/** Starts the echo server process and waits until it listens. */
export const startEchoServerProcess = async (): Promise<EchoServerProcess> => {
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const port = await listeningPort(child)
  return {
    child,
    port,
    url: `ws://127.0.0.1:${port}/echo`,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        const timer = setTimeout(() => child.kill("SIGKILL"), 2_000)
        await exited
        clearTimeout(timer)
      }
      child.stdout!.destroy()
    }
  }
}
