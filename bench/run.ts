/**
 * `npm run bench`: this library against raw `ws` and `@effect/platform`'s Socket, over loopback.
 *
 * The echo / push server runs in its own process (bench/server.ts); each client runs in its own process
 * (bench/worker.ts). The clients take turns, A B C A B C …, and the table shows medians over the rounds and each
 * median's ratio to raw `ws`. Writes bench/results.json.
 *
 * Every scenario is reported twice: its wall-clock figure (rate, or memory) and the client process's CPU time
 * (user + system, `process.cpuUsage`, taken in the client around the measured part only) per message, round trip,
 * MiB or session. On a shared machine the CPU figure is the steadier one: another process's load stretches the wall
 * clock, not the CPU a client spends. The round trip also runs "Effect.async floor" (bench/clients/minimalEffect.ts):
 * raw ws inside the smallest Effect request/response loop, the least any client built on Effect's fibers can spend;
 * "Effect.async + canceler" is the same loop whose wait is interruption-safe (returns a canceler), as the library's is.
 *
 * The library is measured as it ships: compiled by `tsc -p tsconfig.build.json` (into node_modules/.cache), not
 * through tsx, whose `keepNames` transform adds a `defineProperty` call to every closure created at run time.
 *
 * Options: --quick (fewer rounds and messages, for development), --rounds=N, --only=pipelined,roundTrip,…,
 * --from-src (load the library's sources through tsx instead), --library=PATH (measure a build made elsewhere), --prof (the library's worker runs with
 * `node --cpu-prof`, profiles in bench/profiles/<worker>/; --prof=ws,library,effect picks the workers to profile, and with
 * --only=roundTrip the profile holds that scenario alone, plus the worker's start-up), --metrics (pipelined and round trip also run the library with
 * `metrics: false`, in a worker of its own, and the table shows the ratio of metrics on to off).
 */
import { type ChildProcess, execFileSync, fork } from "node:child_process"
import { existsSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { ClientName } from "./common.js"
import type { Answer, Job } from "./worker.js"

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const flag = (name: string) => args.includes(`--${name}`)
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1]

const quick = flag("quick")
const MiB = 1024 * 1024
const settings = {
  /** Throughput rounds: short and noisy on a shared machine, so more of them. */
  rounds: Number(option("rounds") ?? (quick ? 3 : 9)),
  /** Slow-consumer and idle rounds: each needs fresh processes, and their figures vary little. */
  memoryRounds: Number(option("rounds") ?? (quick ? 3 : 5)),
  pipelined: { count: quick ? 20_000 : 100_000, size: 32 },
  roundTrip: { count: quick ? 4_000 : 20_000, size: 32 },
  large: { count: quick ? 32 : 128, size: MiB },
  typed: { count: quick ? 10_000 : 50_000 },
  slow: { count: quick ? 500 : 1_500, everyMs: 2, total: (quick ? 64 : 256) * MiB, size: 64 * 1024 },
  idle: { count: quick ? 200 : 1_000 }
}
const scenarios = ["pipelined", "roundTrip", "large", "typed", "slow", "idle"] as const
type Scenario = typeof scenarios[number]
const only = option("only")?.split(",") as Array<Scenario> | undefined
const selected = scenarios.filter((s) => only === undefined || only.includes(s))

/**
 * Raw `ws` and the platform client run with `ws` as `npm install ws` gives it, without the optional `bufferutil`
 * (WS_NO_BUFFER_UTIL=1); this library declares `bufferutil` as an optional dependency, so it has it. For large
 * messages, where client-side masking dominates, "ws + bufferutil" shows raw `ws` with the native mask as well.
 */
type Worker = ClientName | "effect+canceler" | "ws+bufferutil" | "library-metrics-off"
/** --metrics: the library once more with `WebSockets.layer({ metrics: false })`, for pipelined and round trip. */
const compareMetrics = flag("metrics")
const runsScenario = (worker: Worker, scenario: string) =>
  worker === "ws+bufferutil"
    ? scenario === "large"
    : worker === "library-metrics-off"
    ? scenario === "pipelined" || scenario === "roundTrip"
    : worker === "effect" || worker === "effect+canceler"
    ? scenario === "roundTrip"
    : true
/** The clients of every scenario ("effect", the Effect.async floor, joins the round trip only). */
const clients: ReadonlyArray<ClientName> = ["ws", "platform", "library"]
/** --prof: the library's worker; --prof=ws,library,effect: those workers. */
const profiled: ReadonlyArray<string> = flag("prof") ? ["library"] : option("prof")?.split(",") ?? []

interface Figure {
  readonly label: string
  readonly unit: string
  /** Higher is better (throughput) or lower is better (memory). */
  readonly higherIsBetter: boolean
  readonly samples: Partial<Record<Worker, Array<number>>>
}
const figures: Record<string, Figure> = {}
const record = (key: string, label: string, unit: string, higherIsBetter: boolean, worker: Worker, value: number) => {
  const figure = figures[key] ??= { label, unit, higherIsBetter, samples: {} }
  ;(figure.samples[worker] ??= []).push(value)
}

// ---------------------------------------------------------------------------------------------------------------
// the library under test, compiled

const root = join(here, "..")
const compiled = join(root, "node_modules", ".cache", "effect-websockets-bench", "lib")
let libraryEntry: string | undefined
// --library=PATH: measure a build made elsewhere (an A/B of two builds, e.g. with one optimisation taken out)
const prebuilt = option("library")
if (prebuilt !== undefined) {
  libraryEntry = prebuilt
} else if (!flag("from-src")) {
  process.stderr.write("compiling the library with tsc -p tsconfig.build.json …\n")
  try {
    execFileSync(process.execPath, [
      join(root, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      join(root, "tsconfig.build.json"),
      "--outDir",
      compiled,
      "--declaration",
      "false",
      "--sourceMap",
      "false",
      "--incremental",
      "false"
    ], { cwd: root, stdio: ["ignore", "ignore", "inherit"] })
  } catch {
    // type errors elsewhere in src do not stop tsc from emitting; only a missing output is fatal
  }
  libraryEntry = join(compiled, "index.js")
  if (!existsSync(libraryEntry)) throw new Error(`tsc produced no ${libraryEntry}`)
}

// ---------------------------------------------------------------------------------------------------------------
// processes

const children = new Set<ChildProcess>()
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL")
})
process.on("SIGINT", () => process.exit(130))

const start = (
  file: string,
  argv: ReadonlyArray<string>,
  execArgv: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  onReady: (message: unknown) => void = () => {}
) =>
  new Promise<ChildProcess>((resolve, reject) => {
    const child = fork(join(here, file), [...argv], {
      execArgv: [...execArgv, "--import", "tsx"],
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    children.add(child)
    child.once("exit", (code) => {
      children.delete(child)
      reject(new Error(`${file} ${argv.join(" ")} exited with ${code} before it was ready`))
    })
    const ready = (message: { readonly type?: string; readonly ready?: boolean }) => {
      if (message.ready === true || message.type === "ready") {
        child.off("message", ready)
        onReady(message)
        resolve(child)
      }
    }
    child.on("message", ready)
  })

/** Asks a child to exit (so that `--cpu-prof` can write its profile), and kills it if it does not within 5 s. */
const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("exit", () => {
      clearTimeout(timer)
      children.delete(child)
      resolve()
    })
    if (child.connected) child.disconnect()
    else child.kill("SIGKILL")
  })

let nextId = 0
const ask = (child: ChildProcess, job: Job, timeoutMs = 180_000) =>
  new Promise<Answer>((resolve, reject) => {
    const id = nextId++
    const cleanup = () => {
      clearTimeout(timer)
      child.off("message", onMessage)
      child.off("exit", onExit)
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`${job.kind} did not finish within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    const onExit = (code: number | null) => {
      cleanup()
      reject(new Error(`the worker exited with ${code} during ${job.kind}`))
    }
    child.once("exit", onExit)
    const onMessage = (message: { readonly id?: number; readonly answer?: Answer; readonly error?: string }) => {
      if (message.id !== id) return
      cleanup()
      if (message.error !== undefined) reject(new Error(message.error))
      else resolve(message.answer!)
    }
    child.on("message", onMessage)
    child.send({ id, job })
  })

const startWorker = (worker: Worker) =>
  start(
    "worker.ts",
    [
      worker === "ws+bufferutil"
        ? "ws"
        : worker === "library-metrics-off"
        ? "library"
        : worker === "effect+canceler"
        ? "effect"
        : worker
    ],
    [
      "--expose-gc",
      ...(profiled.includes(worker)
        // one folder per worker: the process writes a profile per thread (tsx's loader runs a thread of its own)
        ? ["--cpu-prof", `--cpu-prof-dir=${here}/profiles/${worker}`]
        : [])
    ],
    worker === "ws" || worker === "platform" || worker === "effect"
      ? { WS_NO_BUFFER_UTIL: "1" }
      : worker === "effect+canceler"
      ? { WS_NO_BUFFER_UTIL: "1", BENCH_EFFECT_CANCELER: "1" }
      : worker === "library" && libraryEntry !== undefined
      ? { BENCH_LIBRARY: libraryEntry }
      : worker === "library-metrics-off"
      ? { ...(libraryEntry !== undefined ? { BENCH_LIBRARY: libraryEntry } : {}), BENCH_METRICS: "off" }
      : {}
  )

// ---------------------------------------------------------------------------------------------------------------
// scenarios

let serverPort = 0
const server = await start("server.ts", [], [], {}, (m) => {
  serverPort = (m as { port: number }).port
})
const echoUrl = `ws://127.0.0.1:${serverPort}/echo`

const marks = new Map<string, (handed: number) => void>()
server.on("message", (m: { type?: string; id?: string; handed?: number }) => {
  if (m.type === "mark") marks.get(m.id!)?.(m.handed!)
})

const throughputJob = (scenario: "pipelined" | "roundTrip" | "large" | "typed", scale = 1): Job =>
  scenario === "typed"
    ? { kind: "typed", url: echoUrl, count: Math.ceil(settings.typed.count * scale) }
    : {
      kind: scenario,
      url: echoUrl,
      count: Math.ceil(settings[scenario].count * scale),
      size: settings[scenario].size
    }

const recordThroughput = (scenario: "pipelined" | "roundTrip" | "large" | "typed", worker: Worker, s: number) => {
  switch (scenario) {
    case "pipelined":
      return record("pipelined", "pipelined, 32 B text", "msg/s", true, worker, settings.pipelined.count / s)
    case "roundTrip":
      return record("roundTrip", "round trip, 32 B text", "rt/s", true, worker, settings.roundTrip.count / s)
    case "large":
      return record(
        "large",
        "large, 1 MiB binary",
        "MiB/s",
        true,
        worker,
        settings.large.count * settings.large.size / MiB / s
      )
    case "typed":
      return record("typed", "typed JSON + Schema", "msg/s", true, worker, settings.typed.count / s)
  }
}

const recordCpu = (scenario: "pipelined" | "roundTrip" | "large" | "typed", worker: Worker, cpuMicros: number) => {
  switch (scenario) {
    case "pipelined":
      record("pipelinedCpu", "pipelined: client CPU", "µs/msg", false, worker, cpuMicros / settings.pipelined.count)
      break
    case "roundTrip":
      record("roundTripCpu", "round trip: client CPU", "µs/rt", false, worker, cpuMicros / settings.roundTrip.count)
      break
    case "large":
      record(
        "largeCpu",
        "large: client CPU",
        "µs/MiB",
        false,
        worker,
        cpuMicros / (settings.large.count * settings.large.size / MiB)
      )
      break
    case "typed":
      record("typedCpu", "typed JSON: client CPU", "µs/msg", false, worker, cpuMicros / settings.typed.count)
      break
  }
}

const log = (line: string) => process.stderr.write(`${line}\n`)
const began = performance.now()
const elapsed = () => `${((performance.now() - began) / 1000).toFixed(0)} s`

const throughput = selected.filter((s): s is "pipelined" | "roundTrip" | "large" | "typed" =>
  s === "pipelined" || s === "roundTrip" || s === "large" || s === "typed"
)
if (throughput.length > 0) {
  const workers: ReadonlyArray<Worker> = [
    ...clients,
    ...(throughput.includes("roundTrip") ? ["effect" as const, "effect+canceler" as const] : []),
    ...(throughput.includes("large") ? ["ws+bufferutil" as const] : []),
    ...(compareMetrics && (throughput.includes("pipelined") || throughput.includes("roundTrip"))
      ? ["library-metrics-off" as const]
      : [])
  ]
  const processes = new Map<Worker, ChildProcess>()
  for (const worker of workers) processes.set(worker, await startWorker(worker))
  // warm-up: a tenth of each scenario, not recorded
  for (const scenario of throughput) {
    for (const worker of workers) {
      if (!runsScenario(worker, scenario)) continue
      await ask(processes.get(worker)!, throughputJob(scenario, 0.1))
    }
  }
  for (let round = 0; round < settings.rounds; round++) {
    for (const scenario of throughput) {
      for (const worker of workers) {
        if (!runsScenario(worker, scenario)) continue
        const answer = await ask(processes.get(worker)!, throughputJob(scenario))
        if (answer.kind !== "seconds") continue
        recordThroughput(scenario, worker, answer.seconds)
        recordCpu(scenario, worker, answer.cpuMicros)
      }
    }
    log(`round ${round + 1}/${settings.rounds} of ${throughput.join(", ")} done (${elapsed()})`)
  }
  await Promise.all([...processes.values()].map(stop))
}

let slowId = 0
if (selected.includes("slow")) {
  for (let round = 0; round < settings.memoryRounds; round++) {
    for (const client of clients) {
      const id = `${client}-${slowId++}`
      const handed = new Promise<number>((resolve) => marks.set(id, resolve))
      const child = await startWorker(client)
      const { count, everyMs, size, total } = settings.slow
      const answer = await ask(child, {
        kind: "slow",
        url: `ws://127.0.0.1:${serverPort}/slow?id=${id}&total=${total}&size=${size}`,
        count,
        everyMs
      })
      const ahead = await Promise.race([handed, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 30_000))])
      marks.delete(id)
      await stop(child)
      if (answer.kind !== "slow") continue
      record("slowAhead", "slow consumer: server ahead", "MiB", false, client, (ahead - answer.consumed) / MiB)
      record("slowRss", "slow consumer: peak RSS growth", "MiB", false, client, answer.peakRssGrowth / MiB)
      record("slowCpu", "slow consumer: client CPU", "µs/msg", false, client, answer.cpuMicros / count)
    }
    log(`round ${round + 1}/${settings.memoryRounds} of slow consumer done (${elapsed()})`)
  }
}

if (selected.includes("idle")) {
  for (let round = 0; round < settings.memoryRounds; round++) {
    for (const client of clients) {
      const child = await startWorker(client)
      const answer = await ask(child, { kind: "idle", url: echoUrl, count: settings.idle.count })
      await stop(child)
      if (answer.kind !== "idle") continue
      record("idleHeap", "idle: heap per session", "KiB", false, client, answer.heapPerSession / 1024)
      record("idleRss", "idle: RSS per session", "KiB", false, client, answer.rssPerSession / 1024)
      record("idleCpu", "idle: client CPU to open", "µs/session", false, client, answer.cpuPerSession)
    }
    log(`round ${round + 1}/${settings.memoryRounds} of idle done (${elapsed()})`)
  }
}
await stop(server)

// ---------------------------------------------------------------------------------------------------------------
// report

const median = (values: ReadonlyArray<number> | undefined): number => {
  if (values === undefined || values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

interface Target {
  readonly check: (ratio: number, value: number) => boolean
  readonly text: string
}
const targets: Record<string, Target> = {
  pipelined: { check: (r) => r >= 0.9, text: ">= 0.9x" },
  roundTrip: { check: (r) => r >= 0.95, text: ">= 0.95x" },
  roundTripCpu: { check: (r) => r <= 1.1, text: "<= 1.1x" },
  large: { check: (r) => r >= 1.0, text: ">= 1.0x" },
  typed: { check: (r) => r >= 0.9, text: ">= 0.9x" },
  slowAhead: { check: (_, v) => v <= 16, text: "<= 16 MiB" },
  slowRss: { check: (_, v) => v <= 64, text: "<= 64 MiB" },
  idleHeap: { check: (r) => r <= 1.5, text: "<= 1.5x" },
  idleRss: { check: (r) => r <= 1.5, text: "<= 1.5x" }
}

const format = (value: number): string =>
  Number.isNaN(value)
    ? "-"
    : Math.abs(value) >= 1000
    ? Math.round(value).toLocaleString("en-US")
    : Math.abs(value) >= 100
    ? value.toFixed(0)
    : value.toFixed(1)

const rows: Array<Array<string>> = [[
  "figure",
  "unit",
  "ws",
  "@effect/platform",
  "this library",
  "target",
  "met",
  "Effect.async floor",
  "Effect.async + canceler",
  "ws + bufferutil",
  ...(compareMetrics ? ["library, metrics off", "metrics on/off"] : [])
]]
const results: Record<string, unknown> = {}
for (const [key, figure] of Object.entries(figures)) {
  const base = median(figure.samples.ws)
  const cell = (worker: Worker) => {
    const value = median(figure.samples[worker])
    if (Number.isNaN(value)) return "-"
    return worker === "ws" || !(base > 0) ? format(value) : `${format(value)} (${(value / base).toFixed(2)}x)`
  }
  const value = median(figure.samples.library)
  // a ratio to a base that is not a positive amount means nothing (RSS deltas of a few KiB can be <= 0)
  const ratio = base > 0 ? value / base : Number.NaN
  const target = targets[key]
  const met = target === undefined || (Number.isNaN(ratio) && !key.startsWith("slow"))
    ? undefined
    : target.check(ratio, value)
  rows.push([
    figure.label,
    figure.unit,
    cell("ws"),
    cell("platform"),
    cell("library"),
    target?.text ?? "",
    met === undefined ? (target === undefined ? "" : "?") : met ? "yes" : "NO",
    cell("effect"),
    cell("effect+canceler"),
    cell("ws+bufferutil"),
    ...(compareMetrics
      ? [
        cell("library-metrics-off"),
        Number.isNaN(median(figure.samples["library-metrics-off"]))
          ? "-"
          : `${(value / median(figure.samples["library-metrics-off"])).toFixed(3)}x`
      ]
      : [])
  ])
  results[key] = {
    label: figure.label,
    unit: figure.unit,
    higherIsBetter: figure.higherIsBetter,
    medians: Object.fromEntries(Object.keys(figure.samples).map((w) => [w, median(figure.samples[w as Worker])])),
    samples: figure.samples,
    spread: Object.fromEntries(
      Object.entries(figure.samples).map(([w, v]) => [w, [Math.min(...v), Math.max(...v)]])
    ),
    ratioToWs: Object.fromEntries(
      Object.keys(figure.samples).map((w) => [w, median(figure.samples[w as Worker]) / base])
    ),
    // the same clients measured back to back in each round: less sensitive to drift over the run
    medianOfRoundRatios: Object.fromEntries(
      Object.keys(figure.samples).map((w) => {
        const own = figure.samples[w as Worker] ?? []
        const ws = figure.samples.ws ?? []
        return [w, median(own.map((v, i) => v / ws[i]!).filter((r) => Number.isFinite(r)))]
      })
    ),
    target: target?.text,
    met
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
const line = (row: ReadonlyArray<string>) =>
  row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ").trimEnd()
console.log()
console.log(line(rows[0]!))
console.log(widths.map((w) => "-".repeat(w)).join("  "))
for (const row of rows.slice(1)) console.log(line(row))
console.log()
console.log(
  `medians of ${settings.rounds} rounds (throughput) and ${settings.memoryRounds} (memory); ` +
    `node ${process.version}, ` +
    `${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"}; ${elapsed()}`
)
console.log(
  "ws and @effect/platform run with `ws` as `npm install ws` gives it (WS_NO_BUFFER_UTIL=1); this library has\n" +
    "bufferutil as an optional dependency; \"ws + bufferutil\" is raw ws with it. The library is the tsc build" +
    (libraryEntry === undefined ? " (not this run: --from-src)." : ".")
)

writeFileSync(
  join(here, "results.json"),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      command: `npm run bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`,
      library: libraryEntry === undefined ? "src through tsx" : "compiled by tsc",
      node: process.version,
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      settings,
      figures: results
    },
    null,
    2
  ) + "\n"
)
process.exit(0)
