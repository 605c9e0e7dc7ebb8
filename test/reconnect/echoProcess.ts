/**
 * The echo server of test/reconnect/echo-server.mjs as a child process: killed for real (SIGKILL), started again on
 * the same port, told to close its connections with a code.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { listeningPort } from "../hostile/child.js"

const script = fileURLToPath(new URL("./echo-server.mjs", import.meta.url))

/** A running echo server process. */
export interface EchoProcess {
  readonly port: number
  readonly url: string
  /** SIGKILL, then waits until the process is gone. */
  readonly kill: () => Promise<void>
  /** Closes every connection with a Close frame of `code`. */
  readonly closeAll: (code: number, reason?: string) => void
  /** SIGTERM (then SIGKILL), and waits. */
  readonly stop: () => Promise<void>
}

/** Starts the server on `port` (0: an ephemeral one) and waits until it listens. */
export const startEchoProcess = async (port = 0): Promise<EchoProcess> => {
  const child: ChildProcess = spawn(process.execPath, [script, String(port)], {
    stdio: ["ignore", "pipe", "inherit", "ipc"]
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const listening = await listeningPort(child)
  const alive = () => child.exitCode === null && child.signalCode === null
  const finish = () => {
    child.stdout!.destroy()
    if (child.connected) child.disconnect()
  }
  return {
    port: listening,
    url: `ws://127.0.0.1:${listening}/echo`,
    kill: async () => {
      if (alive()) child.kill("SIGKILL")
      await exited
      finish()
    },
    closeAll: (code, reason = "") => {
      if (child.connected) child.send({ type: "close", code, reason })
    },
    stop: async () => {
      if (alive()) {
        child.kill("SIGTERM")
        const timer = setTimeout(() => child.kill("SIGKILL"), 2_000)
        await exited
        clearTimeout(timer)
      }
      finish()
    }
  }
}
