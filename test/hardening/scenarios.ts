/**
 * Scenarios that could freeze or bloat the process they run in, run by test/hardening/child.ts in a child process
 * with a deadline: `node --import tsx scenarios.ts <name> <json args>`. Each prints one JSON line, its result.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as net from "node:net"
import { WebSocketServer } from "ws"
import { Frame, NodeEngine, type Session, WebSockets } from "../../src/index.js"

/** The session's internal state (see src/core/session.ts): only its waiter counts are read here. */
interface Internals {
  /** Fibers waiting for a message (`receive`, `incoming`). */
  readonly messageWaiting: number
  /** Fibers waiting for the session's end (`closeReason`). */
  readonly endWaiting: number
}
const internals = (session: Session.DefaultClientWebSocketSession): Internals =>
  (session as unknown as Record<symbol, Internals>)[Symbol.for("effect-websockets/Session/state")]!

const live = (options: WebSockets.Options) => WebSockets.layer(options).pipe(Layer.provide(NodeEngine.layer))

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

export interface WaitersArgs {
  readonly receivers: number
  readonly interrupted: number
  readonly pingInterval: `${number} millis` | undefined
}

export interface WaitersResult {
  /** Waiters registered before and after the interrupted ones were interrupted. */
  readonly inboxWaiting: readonly [number, number]
  readonly endedWaiting: readonly [number, number]
  /** CPU time the process used while every waiter waited, per ms of wall time. */
  readonly cpuPerMs: number
  /** Distinct messages the receivers got, and how many receivers got one. */
  readonly distinctMessages: number
  readonly answered: number
  /** closeReason codes the closeReason waiters got. */
  readonly reasons: ReadonlyArray<number | null>
  /** Waiters left registered once the session has ended. */
  readonly leftWaiting: number
}

/**
 * `receivers` fibers wait on `receive` and as many on `closeReason` (plus `interrupted` of each that are interrupted
 * while waiting); then the server sends one message per receiver, and the session closes.
 */
const waiters = async (args: WaitersArgs): Promise<WaitersResult> => {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })
  await new Promise<void>((resolve) => server.once("listening", () => resolve()))
  server.on("connection", (ws) => {
    ws.on("message", (data) => {
      const count = Number(data.toString())
      for (let i = 0; i < count; i++) ws.send(`m${i}`)
    })
  })
  const url = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`
  const program = Effect.scoped(Effect.gen(function*() {
    const session = yield* WebSockets.webSocketSession(url)
    const state = internals(session)
    const doomed = [
      ...yield* Effect.forEach(range(args.interrupted), () => Effect.fork(session.receive)),
      ...yield* Effect.forEach(range(args.interrupted), () => Effect.fork(session.closeReason))
    ]
    const receivers = yield* Effect.forEach(range(args.receivers), () => Effect.fork(session.receive))
    const reasons = yield* Effect.forEach(range(args.receivers), () => Effect.fork(session.closeReason))
    yield* Effect.sleep("50 millis")
    const inboxBefore = state.messageWaiting
    const endedBefore = state.endWaiting
    yield* Fiber.interruptAll(doomed)
    const inboxAfter = state.messageWaiting
    const endedAfter = state.endWaiting
    // every fiber waits: the process must be idle (a livelock spins at 100% CPU)
    const cpuStart = process.cpuUsage()
    const wallStart = performance.now()
    yield* Effect.sleep("300 millis")
    const cpu = process.cpuUsage(cpuStart)
    const cpuPerMs = (cpu.user + cpu.system) / 1000 / (performance.now() - wallStart)
    yield* session.send(String(args.receivers))
    const frames = yield* Fiber.joinAll(receivers)
    yield* session.close()
    const closeReasons = yield* Fiber.joinAll(reasons)
    return {
      inboxWaiting: [inboxBefore, inboxAfter] as const,
      endedWaiting: [endedBefore, endedAfter] as const,
      cpuPerMs,
      distinctMessages: new Set(frames.map((frame) => Frame.readText(frame))).size,
      answered: frames.length,
      reasons: closeReasons.map((reason) => Option.isSome(reason) ? reason.value.code : null),
      leftWaiting: state.messageWaiting + state.endWaiting
    }
  }))
  try {
    return await Effect.runPromise(
      Effect.provide(program, live(args.pingInterval === undefined ? {} : { pingInterval: args.pingInterval }))
    )
  } finally {
    for (const client of server.clients) client.terminate()
    server.close()
  }
}

export interface FloodArgs {
  readonly url: string
}

export interface FloodResult {
  /** The most bytes the client's connection held queued for writing, sampled every 10 ms. */
  readonly maxBuffered: number
  /** The message the peer sends once it stops flooding and reads again. */
  readonly message: string
  /** Growth of the process's memory outside the V8 heap (Buffers) while flooded, in MiB. */
  readonly arrayBuffersGrowthMiB: number
  readonly rssGrowthMiB: number
}

/** The write high-water mark of src/internal/session.ts. */
const MARK = 1024 * 1024

/**
 * A session on a peer that floods Pings without reading: reports when its queued Pongs reach the write mark (an
 * event line), and waits for the message the peer sends after the flood.
 */
const flood = async (args: FloodArgs): Promise<FloodResult> => {
  const before = process.memoryUsage()
  let maxBuffered = 0
  let maxArrayBuffers = before.arrayBuffers
  let maxRss = before.rss
  const program = Effect.scoped(Effect.gen(function*() {
    const session = yield* WebSockets.webSocketSession(args.url)
    const connection = (session as unknown as { readonly connection: { bufferedAmount(): number } }).connection
    let marked = false
    yield* Effect.sync(() => {
      const buffered = connection.bufferedAmount()
      if (!marked && buffered >= MARK) {
        marked = true
        // tells the peer that the Pongs it does not read have reached the write high-water mark
        process.stdout.write(JSON.stringify({ event: "mark" }) + "\n")
      }
      maxBuffered = Math.max(maxBuffered, buffered)
      const memory = process.memoryUsage()
      maxArrayBuffers = Math.max(maxArrayBuffers, memory.arrayBuffers)
      maxRss = Math.max(maxRss, memory.rss)
    }).pipe(Effect.repeat(Schedule.spaced("10 millis")), Effect.forkScoped)
    return Frame.readText(yield* session.receive)
  }))
  const message = await Effect.runPromise(Effect.provide(program, live({})))
  return {
    maxBuffered,
    message,
    arrayBuffersGrowthMiB: (maxArrayBuffers - before.arrayBuffers) / 2 ** 20,
    rssGrowthMiB: (maxRss - before.rss) / 2 ** 20
  }
}

const scenarios: Record<string, (args: never) => Promise<unknown>> = { waiters, flood }

const [name, json] = process.argv.slice(2)
const scenario = scenarios[name ?? ""]
if (scenario === undefined) {
  process.stderr.write(`unknown scenario ${name}\n`)
  process.exit(2)
}
scenario(JSON.parse(json ?? "{}") as never).then(
  (result) => {
    process.stdout.write(JSON.stringify(result) + "\n")
    process.exit(0)
  },
  (error) => {
    process.stderr.write(String(error?.stack ?? error) + "\n")
    process.exit(1)
  }
)
