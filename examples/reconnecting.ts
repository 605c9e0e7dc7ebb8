/**
 * `npm run example:reconnecting`: a reconnecting session against an embedded echo server, printing every status
 * change and every echo.
 *
 *   npm run example:reconnecting                 the server stays up: Connecting, Open, echoes, Closed
 *   npm run example:reconnecting -- --kill       the server is killed every 3 s (its connections cut without a Close)
 *                                                and started again on the same port 1.5 s later: watch Reconnecting(n),
 *                                                Open again, and the messages sent while it was down arrive in order
 *   npm run example:reconnecting -- ws://host:port/path   the same against a server of yours (it should echo)
 */
import { Console, Duration, Effect, Fiber, Layer, Option, Schedule, Stream } from "effect"
import { WebSocketServer } from "ws"
import { Frame, NodeEngine, WebSockets } from "../src/index.js"

const args = process.argv.slice(2)
const kill = args.includes("--kill")
const target = args.find((a) => !a.startsWith("--"))

/** Starts an echo server on 127.0.0.1:`port` (0: any free port). */
const listen = (port: number) =>
  Effect.async<WebSocketServer>((resume) => {
    const server = new WebSocketServer({ host: "127.0.0.1", port })
    server.on("connection", (socket) => {
      socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
      socket.on("error", () => {})
    })
    server.once("listening", () => resume(Effect.succeed(server)))
    server.once("error", (error) => resume(Effect.die(error)))
  })

/** Kills the server the hard way: every connection cut without a Close (the clients see 1006), port released. */
const killServer = (server: WebSocketServer) =>
  Effect.async<void>((resume) => {
    for (const client of server.clients) client.terminate()
    server.close(() => resume(Effect.void))
  })

/** The embedded echo server; with `--kill`, killed every 3 s and started again on the same port 1.5 s later. */
const embeddedEchoServer = Effect.gen(function*() {
  let server = yield* Effect.acquireRelease(listen(0), killServer)
  const port = (server.address() as { port: number }).port
  yield* Console.log(`[server] echo server on 127.0.0.1:${port}${kill ? " (killed every 3 s)" : ""}`)
  if (kill) {
    yield* Effect.forkScoped(
      Effect.forever(Effect.gen(function*() {
        yield* Effect.sleep("3 seconds")
        yield* killServer(server)
        yield* Console.log("[server] killed")
        yield* Effect.sleep("1.5 seconds")
        server = yield* listen(port)
        yield* Console.log("[server] started again on the same port")
      })).pipe(Effect.ensuring(Effect.suspend(() => killServer(server))))
    )
  }
  return `ws://127.0.0.1:${port}/echo`
})

const describeStatus = (status: WebSockets.Status): string =>
  WebSockets.Status.$match(status, {
    Connecting: () => "Connecting",
    Open: ({ call }) => `Open (status ${call.status})`,
    Reconnecting: ({ attempt, cause }) => `Reconnecting(${attempt}) after ${cause.reason}: ${cause.message}`,
    Closed: ({ cause, reason }) =>
      `Closed (${Option.match(reason, { onNone: () => "no close reason", onSome: String })}` +
      `${Option.match(cause, { onNone: () => "", onSome: (e) => `, ${e.reason}` })})`
  })

const program = Effect.gen(function*() {
  const url = target ?? (yield* embeddedEchoServer)
  const session = yield* WebSockets.reconnecting(url, {
    // retry quickly for the demo: 100 ms, 200 ms, 400 ms, … capped at 1 s
    schedule: Schedule.exponential("100 millis").pipe(
      Schedule.modifyDelay((delay) => Duration.min(delay, Duration.seconds(1)))
    ),
    onOpen: () => Console.log("[client] onOpen: a good place to authenticate and resubscribe")
  })
  yield* Effect.fork(Stream.runForEach(session.status, (s) => Console.log(`[status] ${describeStatus(s)}`)))
  const echoes = yield* Effect.fork(
    Stream.runForEach(session.incoming, (frame) => Console.log(`[echo]   ${Frame.readText(frame)}`))
  )
  // one message every 400 ms for 12 s; while the server is down they wait in the buffer
  for (let n = 1; n <= 30; n++) {
    const status = yield* session.currentStatus
    yield* Console.log(`[send]   message ${n}${status._tag === "Open" ? "" : " (queued: not connected)"}`)
    yield* session.send(`message ${n}`)
    yield* Effect.sleep("400 millis")
  }
  yield* session.close()
  yield* Fiber.join(echoes)
  const reason = yield* session.closeReason
  yield* Console.log(`[client] closed: ${Option.match(reason, { onNone: () => "no close reason", onSome: String })}`)
})

const MainLive = WebSockets.layer({ pingInterval: "2 seconds", timeout: "2 seconds" }).pipe(
  Layer.provide(NodeEngine.layer)
)

program.pipe(Effect.scoped, Effect.provide(MainLive), Effect.runPromise)
