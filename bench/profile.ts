/**
 * `npx tsx bench/profile.ts bench/profiles/<worker>.<time>.cpuprofile [more …]`: where a worker's CPU went.
 *
 * Reads a V8 CPU profile (`npm run bench -- --only=roundTrip --prof=ws,library,effect` writes one per worker) and
 * prints the self time of its busiest frames and of groups of frames (Effect's fiber runtime and scheduler, the
 * library's session / inbox / engine, ws, Node's streams and sockets, GC), as shares of the time the process was
 * not idle. Used to write bench/PROFILE.md. `--per=N` adds each line's self time divided by N (the round trips the
 * profile covers), in µs.
 */
import { readFileSync } from "node:fs"
import { basename } from "node:path"

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
  readonly hitCount?: number
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** The group a frame belongs to, from its script and name. */
const groupOf = (url: string, name: string): string => {
  if (name === "(garbage collector)") return "GC"
  if (name === "(program)") return "V8 / native (program)"
  if (url.includes("/node_modules/effect/")) {
    const file = basename(url)
    if (file === "fiberRuntime.js") return "effect: fiber runtime (fiberRuntime.js)"
    if (file === "Scheduler.js") return "effect: scheduler (Scheduler.js)"
    if (file === "core.js" || file === "core-effect.js") return "effect: core (core.js)"
    if (file === "Utils.js") return "effect: Effect.gen adapter (Utils.js)"
    return `effect: other (${file})`
  }
  if (url.includes("/node_modules/ws/")) return "ws"
  if (url.includes("effect-websockets-bench/lib/") || url.includes("/src/")) {
    return `library: ${basename(url).replace(/\.js$|\.ts$/, "")}`
  }
  if (url.includes("/bench/")) return "bench client"
  if (url.startsWith("node:internal/streams") || url.startsWith("node:stream")) return "node: streams"
  if (url.startsWith("node:net") || url.startsWith("node:internal/stream_base")) return "node: net / stream_base"
  if (url.startsWith("node:internal/process/task_queues") || url.startsWith("node:internal/timers")) {
    return "node: microtask / tick queues"
  }
  if (url.startsWith("node:")) return "node: other"
  if (url === "") return name === "" ? "native" : `native (${name})`
  return `other (${basename(url)})`
}

const per = Number(process.argv.find((a) => a.startsWith("--per="))?.split("=")[1] ?? Number.NaN)

for (const file of process.argv.slice(2).filter((a) => !a.startsWith("--"))) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfById = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    selfById.set(id, (selfById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const frames = new Map<string, number>()
  const groups = new Map<string, number>()
  let busy = 0
  for (const [id, micros] of selfById) {
    const { functionName, lineNumber, url } = byId.get(id)!.callFrame
    if (functionName === "(idle)") continue
    busy += micros
    const frame = `${functionName || "(anonymous)"} ${basename(url)}:${lineNumber + 1}`
    frames.set(frame, (frames.get(frame) ?? 0) + micros)
    const group = groupOf(url, functionName)
    groups.set(group, (groups.get(group) ?? 0) + micros)
  }
  const share = (micros: number) =>
    `${(micros / busy * 100).toFixed(1).padStart(5)} %` +
    (Number.isNaN(per) ? "" : `  ${(micros / per).toFixed(2).padStart(6)} µs`)
  console.log(
    `\n## ${basename(file)}: ${(busy / 1000).toFixed(0)} ms busy` +
      (Number.isNaN(per) ? "" : ` (${(busy / per).toFixed(1)} µs per unit)`) + "\n"
  )
  console.log("groups (self time):")
  for (const [group, micros] of [...groups].sort((a, b) => b[1] - a[1])) {
    if (micros / busy >= 0.005) console.log(`  ${share(micros)}  ${group}`)
  }
  console.log("top frames (self time):")
  for (const [frame, micros] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`  ${share(micros)}  ${frame}`)
  }
}
