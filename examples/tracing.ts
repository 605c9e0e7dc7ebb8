/**
 * `npx tsx examples/tracing.ts`: the spans and metrics of one session, printed to the console.
 *
 * Spans are recorded with Effect's own `Tracer` (any tracer works the same way, e.g. `@effect/opentelemetry`'s);
 * here Effect's default tracer is wrapped so that each span is printed when it ends. The metrics are read with
 * `Metric.snapshot`.
 */
import { Console, Effect, Layer, Metric, Option, Tracer } from "effect"
import { WebSocketServer } from "ws"
import { NodeEngine, WebSockets } from "../src/index.js"

/** Effect's default tracer, printing each span when it ends: name, duration, outcome and attributes. */
const consoleTracer = Effect.map(Effect.tracer, (native) =>
  Tracer.make({
    context: native.context,
    span(name, parent, context, links, startTime, kind, options) {
      const span = native.span(name, parent, context, links, startTime, kind, options)
      const end = span.end.bind(span)
      span.end = (endTime, exit) => {
        end(endTime, exit)
        const ms = Number(endTime - startTime) / 1e6
        const parentName = Option.match(parent, {
          onNone: () => "",
          onSome: (p) => p._tag === "Span" ? ` (in ${p.name})` : ""
        })
        console.log(`span ${name}${parentName}: ${exit._tag} after ${ms.toFixed(1)} ms`)
        for (const [key, value] of span.attributes) console.log(`    ${key} = ${String(value)}`)
      }
      return span
    }
  }))

/** An echo server on an ephemeral loopback port, closed with the program's scope. */
const echoServer = Effect.acquireRelease(
  Effect.async<WebSocketServer>((resume) => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })
    server.on(
      "connection",
      (socket) => socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
    )
    server.once("listening", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
)

const program = Effect.gen(function*() {
  const server = yield* echoServer
  const { port } = server.address() as { port: number }
  // the password never reaches a span: websockets.url shows it redacted
  yield* WebSockets.webSocket(`ws://demo:secret@127.0.0.1:${port}/chat`, (session) =>
    Effect.gen(function*() {
      yield* session.send("héllo")
      yield* session.receive
      yield* session.send(new Uint8Array(100))
      yield* session.receive
    })).pipe(Effect.withSpan("example.chat"))

  yield* Console.log("\nmetrics (engine=node):")
  for (const pair of yield* Metric.snapshot) {
    if (!pair.metricKey.name.startsWith("websockets.")) continue
    const state = pair.metricState as { count?: number; value?: number }
    console.log(`    ${pair.metricKey.name} = ${state.count ?? state.value}`)
  }
})

const WebSocketsLive = WebSockets.layer({ pingInterval: "10 seconds" }).pipe(Layer.provide(NodeEngine.layer))

Effect.runPromise(
  Effect.flatMap(
    consoleTracer,
    (tracer) => program.pipe(Effect.scoped, Effect.withTracer(tracer), Effect.provide(WebSocketsLive))
  )
)
