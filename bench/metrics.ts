/**
 * `npx tsx bench/metrics.ts`: the cost of the websockets.* metrics, in one process, A/B.
 *
 * `npm run bench -- --metrics` compares separate workers, which a loaded machine makes noisy; here one process runs
 * short pipelined and round-trip sessions against an echo server (in a child process), alternating metrics on and
 * off, and compares the best time of each (the run least disturbed by other load). Set BENCH_LIBRARY to load the
 * compiled library (as bench/run.ts does) instead of the sources.
 */
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { WebSocketServer } from "ws"

if (process.argv[2] === "server") {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })
  server.on("connection", (socket) => socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary })))
  server.once("listening", () => process.send!((server.address() as { port: number }).port))
} else {
  const child = fork(fileURLToPath(import.meta.url), ["server"], { execArgv: ["--import", "tsx"] })
  const port = await new Promise<number>((resolve) => child.once("message", (m) => resolve(m as number)))
  const url = `ws://127.0.0.1:${port}/`
  const { NodeEngine, WebSockets } = (await import(
    process.env.BENCH_LIBRARY ?? "../src/index.js"
  )) as typeof import("../src/index.js")
  const { Effect, Fiber, Layer, Stream } = await import("effect")
  const layers = {
    on: WebSockets.layer({}).pipe(Layer.provide(NodeEngine.layer)),
    off: WebSockets.layer({ metrics: false }).pipe(Layer.provide(NodeEngine.layer))
  }
  type Mode = keyof typeof layers
  const texts = Array.from({ length: 20_000 }, (_, i) => `m${i}`.padEnd(32, "x"))
  const pipelined = (mode: Mode) =>
    Effect.runPromise(Effect.provide(
      WebSockets.webSocket(url, (session) =>
        Effect.gen(function*() {
          const start = performance.now()
          const receiver = yield* session.incoming.pipe(Stream.take(texts.length), Stream.runDrain, Effect.fork)
          yield* Effect.forEach(texts, session.send, { discard: true })
          yield* Fiber.join(receiver)
          return performance.now() - start
        })),
      layers[mode]
    ))
  const roundTrip = (mode: Mode) =>
    Effect.runPromise(Effect.provide(
      WebSockets.webSocket(url, (session) =>
        Effect.gen(function*() {
          const start = performance.now()
          for (let i = 0; i < 3_000; i++) {
            yield* session.send(texts[i]!)
            yield* session.receive
          }
          return performance.now() - start
        })),
      layers[mode]
    ))
  const rounds = Number(process.argv[2] ?? 16)
  for (const [name, run] of [["pipelined", pipelined], ["round trip", roundTrip]] as const) {
    const best = { on: Infinity, off: Infinity }
    for (let i = 0; i < rounds; i++) {
      for (const mode of (i % 2 === 0 ? ["off", "on"] : ["on", "off"]) as ReadonlyArray<Mode>) {
        best[mode] = Math.min(best[mode], await run(mode))
      }
    }
    console.log(
      `${name}: best of ${rounds}, metrics on ${best.on.toFixed(1)} ms, off ${best.off.toFixed(1)} ms; ` +
        `throughput on/off ${(best.off / best.on).toFixed(3)}x`
    )
  }
  child.kill()
  process.exit(0)
}
