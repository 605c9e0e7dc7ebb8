/**
 * @effect/rpc over `WebSockets.layerSocket` (README, "A Socket for @effect/rpc"): a real @effect/rpc server
 * (test/rpc/server.ts, @effect/rpc + @effect/platform-node) runs in a child process on loopback, and an
 * `RpcClient.layerProtocolSocket` client talks to it through this library's sessions.
 */
import * as Socket from "@effect/platform/Socket"
import { RpcClient, RpcClientError, RpcSerialization } from "@effect/rpc"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { WebSocketException, WebSockets } from "../src/index.js"
import { guard, live } from "./helpers/layers.js"
import { Api, NotFound } from "./rpc/api.js"

const SERVER = fileURLToPath(new URL("./rpc/server.ts", import.meta.url))
/** Loading @effect/platform-node through tsx takes seconds, more on a loaded machine. */
const STARTUP_DEADLINE_MS = 60_000

interface Server {
  readonly child: ChildProcess
  readonly port: number
}

/** Spawns the rpc server and resolves once it has printed its port; fails past the deadline. */
const startServer = (): Promise<Server> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", SERVER], { stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    let err = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the rpc server did not start within ${STARTUP_DEADLINE_MS} ms\n${err}`))
    }, STARTUP_DEADLINE_MS)
    child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()))
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the rpc server exited with ${code}\n${err}`))
    })
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const port = Number(out.split("\n")[0])
      if (out.includes("\n") && Number.isInteger(port) && port > 0) {
        clearTimeout(timer)
        resolve({ child, port })
      }
    })
  })

const stopServer = (server: Server | undefined) => {
  if (server === undefined || server.child.exitCode !== null || server.child.signalCode !== null) return
  server.child.stdin!.end()
  server.child.kill("SIGKILL")
}

/** The rpc client over this library: RpcClient.layerProtocolSocket on top of WebSockets.layerSocket. */
const clientLayer = (port: number) =>
  RpcClient.layerProtocolSocket().pipe(
    Layer.provide(WebSockets.layerSocket(`ws://127.0.0.1:${port}/rpc`)),
    Layer.provide(RpcSerialization.layerJson),
    Layer.provide(live({ pingInterval: "5 seconds", maxFrameSize: 1024 * 1024 }))
  )

describe("@effect/rpc over WebSockets.layerSocket, against a real @effect/rpc server", () => {
  let server: Server | undefined
  beforeAll(async () => {
    server = await startServer()
  }, STARTUP_DEADLINE_MS + 5_000)
  afterAll(() => stopServer(server))

  it.scoped("a request / response call", () =>
    Effect.gen(function*() {
      const client = yield* RpcClient.make(Api)
      expect(yield* client.Greet({ name: "Ada" })).toBe("Hello, Ada!")
      expect(yield* client.Greet({ name: "Grace" })).toBe("Hello, Grace!")
    }).pipe(guard(20_000, "Greet"), Effect.provide(clientLayer(server!.port))))

  it.scoped("a streaming call delivers every element, in order", () =>
    Effect.gen(function*() {
      const client = yield* RpcClient.make(Api)
      const items = yield* Stream.runCollect(client.Count({ upTo: 500 }))
      expect(Chunk.toReadonlyArray(items)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1))
    }).pipe(guard(20_000, "Count"), Effect.provide(clientLayer(server!.port))))

  it.scoped("a typed error from the handler arrives as that error", () =>
    Effect.gen(function*() {
      const client = yield* RpcClient.make(Api)
      const error = yield* Effect.flip(client.Find({ id: "42" }))
      expect(error).toBeInstanceOf(NotFound)
      expect(error).toEqual(new NotFound({ id: "42" }))
    }).pipe(guard(20_000, "Find"), Effect.provide(clientLayer(server!.port))))

  // last in this file: it kills the server the other tests use
  it.scoped("the server killed mid-stream: the stream fails, and the error says the connection dropped", () =>
    Effect.gen(function*() {
      const client = yield* RpcClient.make(Api)
      const seen: Array<number> = []
      const exit = yield* client.Ticks().pipe(
        Stream.tap((n) =>
          Effect.sync(() => {
            seen.push(n)
            if (seen.length === 3) server!.child.kill("SIGKILL")
          })
        ),
        Stream.runDrain,
        Effect.exit
      )
      expect(seen.slice(0, 3)).toEqual([1, 2, 3])
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Chunk.unsafeHead(Cause.failures(exit.cause)) : undefined
      expect(error).toBeInstanceOf(RpcClientError.RpcClientError)
      // RpcClientError("Error in socket") ← SocketGenericError("Read") ← WebSocketException("Closed", 1006)
      const socketError = (error as RpcClientError.RpcClientError).cause
      expect(Socket.isSocketError(socketError)).toBe(true)
      expect((socketError as Socket.SocketGenericError).reason).toBe("Read")
      const cause = (socketError as Socket.SocketGenericError).cause
      expect(cause).toBeInstanceOf(WebSocketException)
      expect((cause as WebSocketException).reason).toBe("Closed")
      expect((cause as WebSocketException).closeReason?.code).toBe(1006)
      expect((socketError as Error).message).toContain("closed abnormally, without a Close frame")
    }).pipe(guard(30_000, "Ticks"), Effect.provide(clientLayer(server!.port))))
})
