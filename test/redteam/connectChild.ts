/**
 * Child process: interrupts connects at every step against local servers, then closes the servers and lets the
 * process end on its own. Prints one JSON line: what the servers saw, and the handles still active at the end.
 * A socket or timer left behind keeps the process alive past the parent's deadline.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as net from "node:net"
import { WebSocketServer } from "ws"
import { WebSocket } from "ws"
import { BrowserEngine, NodeEngine, WebSockets } from "../../src/index.js"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const engine = process.argv[2] === "browser"
  ? BrowserEngine.layerConstructor(WebSocket as unknown as BrowserEngine.WebSocketConstructor)
  : NodeEngine.layer
const Live = WebSockets.layer({ connectTimeout: "300 millis" }).pipe(Layer.provide(engine))

const main = async () => {
  const result: Record<string, unknown> = {}
  // 1. a TCP server that accepts and never answers: interrupted during the handshake
  const silentSockets: Array<net.Socket> = []
  let silentOpen = 0
  const silent = net.createServer((s) => {
    s.resume() // reads (and drops) the upgrade request, so that the client going away is seen
    silentSockets.push(s)
    silentOpen++
    s.on("close", () => silentOpen--)
    s.on("error", () => {})
  })
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r))
  const silentUrl = `ws://127.0.0.1:${(silent.address() as net.AddressInfo).port}/`
  for (let i = 0; i < 10; i++) {
    const fiber = Effect.runFork(Effect.scoped(WebSockets.webSocketSession(silentUrl)).pipe(Effect.provide(Live)))
    await sleep(i * 3)
    await Effect.runPromise(Fiber.interrupt(fiber))
  }
  // and once through connectTimeout
  const timedOut = await Effect.runPromise(
    Effect.scoped(WebSockets.webSocketSession(silentUrl)).pipe(Effect.provide(Live), Effect.flip)
  )
  result.timeoutReason = timedOut.reason
  await sleep(200)
  result.silentOpenAfter = silentOpen
  result.silentAccepted = silentSockets.length

  // 2. a ws server: interrupted before open, during the handshake (verifyClient delays it), right after open
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    verifyClient: (_info, cb) => setTimeout(() => cb(true), 5)
  })
  await new Promise<void>((r) => wss.once("listening", r))
  const closes: Array<number> = []
  wss.on("connection", (socket) => {
    socket.on("error", () => {})
    socket.on("close", (code) => closes.push(code))
  })
  const url = `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/`
  let opened = 0
  for (let i = 0; i < 60; i++) {
    const fiber = Effect.runFork(
      Effect.scoped(
        Effect.tap(WebSockets.webSocketSession(url), () => Effect.sync(() => opened++)).pipe(
          Effect.zipRight(Effect.never)
        )
      ).pipe(Effect.provide(Live))
    )
    await sleep(i % 12)
    await Effect.runPromise(Fiber.interrupt(fiber))
  }
  await sleep(300)
  result.opened = opened
  result.wsClientsAfter = wss.clients.size
  result.closesSeen = closes.length

  // 3. the scope closes while the connect is in flight: the session that opens afterwards is closed at once
  const scope = Effect.runSync(Scope.make())
  const late = Effect.runFork(WebSockets.webSocketSession(url).pipe(Effect.provide(Live), Scope.extend(scope)))
  await Effect.runPromise(Scope.close(scope, Exit.void))
  const lateExit = await Effect.runPromise(Fiber.await(late))
  result.lateSucceeded = Exit.isSuccess(lateExit)
  await sleep(300)
  result.wsClientsAfterLate = wss.clients.size

  await new Promise<void>((r) => wss.close(() => r()))
  for (const s of silentSockets) s.destroy()
  await new Promise<void>((r) => silent.close(() => r()))
  await sleep(50)
  // the child's own stdio pipes (under the parent they are sockets) are not ours
  const stdio: Array<unknown> = [process.stdin, process.stdout, process.stderr]
  const handles = (process as unknown as { _getActiveHandles: () => Array<{ constructor: { name: string } }> })
    ._getActiveHandles()
    .filter((h) => !stdio.includes(h))
    .map((h) => h.constructor.name)
  result.handles = handles
  console.log(JSON.stringify(result))
}

void main()
