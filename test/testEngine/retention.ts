/**
 * Runs many short sessions through one shared TestEngine layer and reports the heap (after a full GC) once the
 * server's own bookkeeping is warm and again at the end. Run with --expose-gc. Ended connections, their frames and
 * their sessions must not stay reachable from the layer, so the heap stays flat.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { TestEngine, WebSockets } from "../../src/index.js"

const total = Number(process.argv[2] ?? 20_000)
const warm = Number(process.argv[3] ?? 1_500)
const payload = "x".repeat(1024)

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with --expose-gc")

const heap = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const runtime = ManagedRuntime.make(
  WebSockets.layer().pipe(Layer.provideMerge(TestEngine.layer({ handler: TestEngine.echo })))
)

const session = WebSockets.webSocket("ws://retention.test/", (s) =>
  Effect.gen(function*() {
    yield* s.send(payload)
    yield* s.send(new Uint8Array(1024))
    yield* s.receive
    yield* s.receive
  }))

const run = async () => {
  for (let i = 0; i < warm; i++) await runtime.runPromise(session)
  const before = heap()
  for (let i = warm; i < total; i++) await runtime.runPromise(session)
  const after = heap()
  await runtime.dispose()
  console.log(JSON.stringify({ sessions: total, warm, before, after, growth: after - before }))
}

run().catch((error) => {
  console.error(error)
  process.exit(1)
})
