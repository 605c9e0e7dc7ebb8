/**
 * `npm start`: a short tour of effect-websockets.
 *
 *   npm start                    starts an echo server on 127.0.0.1 and talks to it
 *   npm start -- ws://host:port  talks to that server instead (it should echo what it receives)
 */
import { Console, Effect, Layer, Option, Schema } from "effect"
import { WebSocketServer } from "ws"
import { CloseReason, Converter, Frame, NodeEngine, WebSockets } from "../src/index.js"

class Greeting extends Schema.Class<Greeting>("Greeting")({
  from: Schema.String,
  text: Schema.String,
  sentAt: Schema.Date
}) {}

/** An echo server on an ephemeral loopback port, closed with the program's scope. */
const embeddedEchoServer = Effect.acquireRelease(
  Effect.async<WebSocketServer>((resume) => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })
    server.on(
      "connection",
      (socket) => socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
    )
    server.once("listening", () => resume(Effect.succeed(server)))
    server.once("error", (error) => resume(Effect.die(error)))
  }),
  (server) => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
)

const tour = (url: string) =>
  WebSockets.webSocket(url, (session) =>
    Effect.gen(function*() {
      yield* Console.log(`connected to ${session.call.url.href} (status ${session.call.status})`)

      yield* session.send("Hello WebSocket!")
      const text = yield* session.receive
      yield* Console.log(`text   → ${JSON.stringify(Frame.readText(text))} came back as a ${text._tag} frame`)

      yield* session.send(new Uint8Array([0xde, 0xad, 0xbe, 0xef]))
      const binary = yield* session.receive
      yield* Console.log(`binary → ${Buffer.from(Frame.readBytes(binary)).toString("hex")} (${binary._tag} frame)`)

      const greeting = new Greeting({ from: "effect-websockets", text: "typed hello", sentAt: new Date() })
      yield* session.sendSerialized(Greeting, greeting)
      const back = yield* session.receiveDeserialized(Greeting)
      yield* Console.log(
        `json   → ${back.from} says "${back.text}" at ${back.sentAt.toISOString()} (decoded by Schema, a Date again)`
      )

      yield* session.close(new CloseReason({ code: CloseReason.Codes.NORMAL, message: "bye" }))
      const reason = yield* session.closeReason
      yield* Console.log(
        `close  → ${Option.match(reason, { onNone: () => "no reason", onSome: (r) => r.toString() })}`
      )
    }))

const program = Effect.gen(function*() {
  const target = process.argv[2]
  if (target !== undefined) {
    yield* Console.log(`Connecting to ${target}`)
    return yield* tour(target)
  }
  const server = yield* embeddedEchoServer
  const { port } = server.address() as { port: number }
  yield* Console.log(`Started an echo server on 127.0.0.1:${port}`)
  yield* tour(`ws://127.0.0.1:${port}/echo`)
})

const MainLive = WebSockets.layer({ pingInterval: "20 seconds", contentConverter: Converter.json }).pipe(
  Layer.provide(NodeEngine.layer)
)

program.pipe(
  Effect.scoped,
  Effect.provide(MainLive),
  Effect.catchTag(
    "WebSocketException",
    (error) =>
      Console.error(`WebSocket error (${error.reason}): ${error.message}`).pipe(
        Effect.andThen(Effect.sync(() => {
          process.exitCode = 1
        }))
      )
  ),
  Effect.runPromise
)
