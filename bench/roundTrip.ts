/**
 * `npx tsx bench/roundTrip.ts <client> [count] [rounds]`: the round trip alone, in one process, for profiling.
 *
 * Clients: `ws` (raw ws, replying from the "message" callback), `effect` (raw ws driven by the smallest
 * `Effect.async` loop), `effect+canceler` (the same, its wait interruption-safe), `library` (this library, as
 * bench/clients/library.ts drives it). The echo server runs in a child process. Prints the client's CPU per round
 * trip split into user and system time (median run, and the spread over the runs) and the wall rate.
 *
 * With CPUPROF=file the measured rounds alone (no start-up, no warm-up) are profiled through the inspector at a
 * 100 µs interval; `npx tsx bench/profile.ts --per=<count × rounds> file` then gives the self time per round trip.
 * The library is loaded from BENCH_LIBRARY (`npm run bench` leaves the tsc build in
 * node_modules/.cache/effect-websockets-bench/lib/index.js), else from the sources.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { fork } from "node:child_process"
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { fileURLToPath } from "node:url"
import WebSocket, { WebSocketServer } from "ws"
import { texts } from "./common.js"

if (process.argv[2] === "--server") {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false })
  server.on("connection", (socket) => socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary })))
  server.once("listening", () => process.send!((server.address() as { port: number }).port))
  process.on("disconnect", () => process.exit(0))
} else {
  const client = process.argv[2] ?? "library"
  const count = Number(process.argv[3] ?? 20_000)
  const rounds = Number(process.argv[4] ?? 7)
  const server = fork(fileURLToPath(import.meta.url), ["--server"], { execArgv: ["--import", "tsx"] })
  const port = await new Promise<number>((resolve) => server.once("message", (m) => resolve(m as number)))
  const url = `ws://127.0.0.1:${port}/`
  const items = texts(count, 32)

  interface Run {
    readonly seconds: number
    readonly user: number
    readonly system: number
  }
  const measure = () => {
    const cpu = process.cpuUsage()
    const start = performance.now()
    return (): Run => {
      const used = process.cpuUsage(cpu)
      return { seconds: (performance.now() - start) / 1000, user: used.user, system: used.system }
    }
  }
  const open = () =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false })
      ws.once("open", () => resolve(ws))
      ws.once("error", reject)
    })

  const effectLoop = async (withCanceler: boolean): Promise<Run> => {
    const ws = await open()
    let waiting: ((reply: string | Buffer) => void) | undefined
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const resume = waiting!
      waiting = undefined
      resume(isBinary ? data : data.toString())
    })
    const cancel = Effect.sync(() => {
      waiting = undefined
    })
    const receive = Effect.async<string | Buffer>((resume) => {
      waiting = (reply) => resume(Effect.succeed(reply))
      return withCanceler ? cancel : undefined
    })
    const run = await Effect.runPromise(Effect.gen(function*() {
      const stop = measure()
      for (let i = 0; i < count; i++) {
        ws.send(items[i]!)
        yield* receive
      }
      return stop()
    }))
    ws.close()
    return run
  }

  const library = await (async () => {
    if (client !== "library") return undefined
    const { NodeEngine, WebSockets } = (await import(
      process.env.BENCH_LIBRARY ?? "../src/index.js"
    )) as typeof import("../src/index.js")
    const Live = WebSockets.layer({ metrics: process.env.BENCH_METRICS !== "off" }).pipe(
      Layer.provide(NodeEngine.layer)
    )
    return () =>
      Effect.runPromise(Effect.provide(
        WebSockets.webSocket(url, (session) =>
          Effect.gen(function*() {
            const stop = measure()
            let bytes = 0
            if (process.env.BENCH_LOOP === "zipRight") {
              // one step of the generator per round trip, as the other clients take
              for (let i = 0; i < count; i++) {
                bytes += (yield* Effect.zipRight(session.send(items[i]!), session.receive)).data.length
              }
            } else {
              for (let i = 0; i < count; i++) {
                yield* session.send(items[i]!)
                bytes += (yield* session.receive).data.length
              }
            }
            if (bytes !== count * 32) throw new Error(`received ${bytes} bytes`)
            return stop()
          })),
        Live
      ))
  })()

  const jobs: Record<string, () => Promise<Run>> = {
    ws: async () => {
      const ws = await open()
      const stop = measure()
      await new Promise<void>((resolve) => {
        let received = 0
        ws.on("message", (data: Buffer, isBinary: boolean) => {
          if (!isBinary) data.toString()
          if (++received === count) resolve()
          else ws.send(items[received]!)
        })
        ws.send(items[0]!)
      })
      const run = stop()
      ws.close()
      return run
    },
    effect: () => effectLoop(false),
    "effect+canceler": () => effectLoop(true),
    ...(library === undefined ? {} : { library })
  }
  const job = jobs[client]
  if (job === undefined) throw new Error(`unknown client ${client}: ${Object.keys(jobs).join(", ")}`)

  await job() // warm-up
  let profiler: Session | undefined
  if (process.env.CPUPROF !== undefined) {
    profiler = new Session()
    profiler.connect()
    await profiler.post("Profiler.enable")
    await profiler.post("Profiler.setSamplingInterval", { interval: 100 })
    await profiler.post("Profiler.start")
  }
  const runs: Array<Run> = []
  for (let i = 0; i < rounds; i++) runs.push(await job())
  if (profiler !== undefined) {
    const { profile } = await profiler.post("Profiler.stop")
    writeFileSync(process.env.CPUPROF!, JSON.stringify(profile))
  }
  const cpu = (run: Run) => (run.user + run.system) / count
  const sorted = [...runs].sort((a, b) => cpu(a) - cpu(b))
  const mid = sorted[sorted.length >> 1]!
  const rates = runs.map((run) => count / run.seconds).sort((a, b) => a - b)
  console.log(
    `${client}: CPU ${cpu(mid).toFixed(1)} µs/rt (user ${(mid.user / count).toFixed(1)}, sys ${
      (mid.system / count).toFixed(1)
    }; runs ${cpu(sorted[0]!).toFixed(1)}–${cpu(sorted[sorted.length - 1]!).toFixed(1)}), ` +
      `${rates[rates.length >> 1]!.toFixed(0)} rt/s (median of ${rounds} × ${count})`
  )
  server.disconnect()
  process.exit(0)
}
