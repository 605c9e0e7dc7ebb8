/**
 * A benchmark client process: `tsx bench/worker.ts <ws|platform|library>`, forked by bench/run.ts with an IPC
 * channel and `--expose-gc`. It runs the jobs its parent sends, one at a time, and answers with the figures.
 * Throughput jobs reuse one long-lived worker per client (warm JIT, as in a real application); the memory jobs
 * (slow consumer, idle) get a fresh worker each, so that their RSS figures start from the same place.
 */
import type { ClientName, Jobs } from "./common.js"
import { sleep, startMeasure } from "./common.js"

export type Job =
  | {
    readonly kind: "pipelined" | "roundTrip" | "large"
    readonly url: string
    readonly count: number
    readonly size: number
  }
  | { readonly kind: "typed"; readonly url: string; readonly count: number }
  | { readonly kind: "slow"; readonly url: string; readonly count: number; readonly everyMs: number }
  | { readonly kind: "idle"; readonly url: string; readonly count: number }

/** `cpuMicros`: the worker's CPU time (user + system) over the measured part, in microseconds. */
export type Answer =
  | { readonly kind: "seconds"; readonly seconds: number; readonly cpuMicros: number }
  | {
    readonly kind: "slow"
    readonly consumed: number
    readonly peakRssGrowth: number
    /** from the connection open (baseline) to the `mark` sent */
    readonly cpuMicros: number
  }
  | {
    readonly kind: "idle"
    readonly heapPerSession: number
    readonly rssPerSession: number
    /** opening the `count` sessions (the measured batch), per session */
    readonly cpuPerSession: number
  }

const name = process.argv[2] as ClientName

const load = async (): Promise<Jobs> => {
  switch (name) {
    case "ws":
      return (await import("./clients/ws.js")).jobs
    case "platform":
      return (await import("./clients/platform.js")).jobs
    case "library":
      return (await import("./clients/library.js")).jobs
    case "effect":
      return (await import("./clients/minimalEffect.js")).jobs
  }
  throw new Error(`Unknown client ${String(name)}`)
}

const gc = async () => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run the worker with --expose-gc")
  for (let i = 0; i < 3; i++) {
    collect()
    await sleep(50)
  }
}

/**
 * Heap and RSS once garbage is collected and the RSS has settled: the lowest RSS over 1 s after a GC, since freed
 * pages go back to the OS lazily and a single sample can be off by megabytes.
 */
const settled = async (): Promise<{ readonly heapUsed: number; readonly rss: number }> => {
  await gc()
  const heapUsed = process.memoryUsage().heapUsed
  let rss = process.memoryUsage.rss()
  for (let i = 0; i < 20; i++) {
    await sleep(50)
    rss = Math.min(rss, process.memoryUsage.rss())
  }
  return { heapUsed, rss }
}

/** The peak RSS since `start`, from getrusage's maxRSS when it moved, else from samples every 5 ms. */
const rssPeakTracker = () => {
  const maxRssAtStart = process.resourceUsage().maxRSS * 1024
  let sampled = process.memoryUsage.rss()
  const timer = setInterval(() => {
    sampled = Math.max(sampled, process.memoryUsage.rss())
  }, 5)
  return () => {
    clearInterval(timer)
    const maxRss = process.resourceUsage().maxRSS * 1024
    return Math.max(sampled, maxRss > maxRssAtStart ? maxRss : 0)
  }
}

const runJob = async (jobs: Jobs, job: Job): Promise<Answer> => {
  switch (job.kind) {
    case "pipelined":
    case "roundTrip":
    case "large":
      return { kind: "seconds", ...(await jobs[job.kind](job.url, job.count, job.size)) }
    case "typed":
      return { kind: "seconds", ...(await jobs.typed(job.url, job.count)) }
    case "slow":
      return new Promise<Answer>((resolve, reject) => {
        let baseline = 0
        let peak: (() => number) | undefined
        let measure: (() => { readonly cpuMicros: number }) | undefined
        jobs.slow(job.url, job.count, job.everyMs, () => {
          baseline = process.memoryUsage.rss()
          peak = rssPeakTracker()
          measure = startMeasure()
        }, (consumed) => {
          const { cpuMicros } = measure!()
          resolve({ kind: "slow", consumed, peakRssGrowth: Math.max(0, peak!() - baseline), cpuMicros })
        })
          .catch(reject)
      })
    case "idle": {
      // RSS: what the process grows by to hold `count` sessions, from one session opened and closed;
      // heap: the steady cost of a session, after as many sessions were opened and closed first, so that one-time
      // costs (code compiled on the way) are not counted per session
      await jobs.idle(job.url, 1, async () => {})
      const fresh = await settled()
      await jobs.idle(job.url, job.count, async () => {})
      const warm = await settled()
      let answer: Answer | undefined
      const measure = startMeasure()
      await jobs.idle(job.url, job.count, async () => {
        const { cpuMicros } = measure()
        const after = await settled()
        answer = {
          kind: "idle",
          heapPerSession: (after.heapUsed - warm.heapUsed) / job.count,
          rssPerSession: (after.rss - fresh.rss) / job.count,
          cpuPerSession: cpuMicros / job.count
        }
      })
      return answer!
    }
  }
}

const main = async () => {
  const jobs = await load()
  process.on("message", (message: { readonly id: number; readonly job: Job }) => {
    runJob(jobs, message.job).then(
      (answer) => process.send!({ id: message.id, answer }),
      (error: unknown) => process.send!({ id: message.id, error: String((error as Error)?.stack ?? error) })
    )
  })
  process.on("disconnect", () => process.exit(0))
  process.send!({ ready: true })
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
