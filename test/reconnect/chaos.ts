/**
 * The chaos run of README "Reconnecting sessions": numbered messages through a reconnecting session, a TCP proxy
 * and a real echo server process, while the link is cut again and again in the three ways links die: a TCP RST,
 * a silent half-open link (only the pinger can tell), and the server closing with 1012 SERVICE_RESTART.
 *
 * Each round sends `messages / drops` numbered messages and cuts the link at a random point among them; the next
 * round starts once the session is open again and every message sent while it was not open has come back (the
 * contract covers one reconnect at a time: a message written to a connection that then drops may be lost).
 */
import { Duration, Effect, Layer, Schedule, Stream, Supervisor } from "effect"
import { Frame, NodeEngine, WebSockets } from "../../src/index.js"
import { startEchoProcess } from "./echoProcess.js"
import { startTcpProxy } from "./tcpProxy.js"

export type DropKind = "reset" | "half-open" | "close 1012"
const KINDS: ReadonlyArray<DropKind> = ["reset", "half-open", "close 1012"]

/** What a chaos run saw. */
export interface ChaosReport {
  readonly drops: number
  readonly dropsByKind: Readonly<Record<DropKind, number>>
  readonly messages: number
  readonly delivered: number
  readonly duplicates: number
  readonly reorders: number
  /** Messages sent while the status was not Open. */
  readonly sentWhileDown: number
  /** …of which did not come back: must be 0. */
  readonly missingWhileDown: number
  /** Messages sent while the status was Open that did not come back: written to a link that then died. */
  readonly lostInFlight: number
  /** …of which were sent before the cut (in flight when the link died)… */
  readonly lostBeforeCut: number
  /** …and after it, before the client could know (written to a dead link). */
  readonly lostAfterCut: number
  /** Opens after the first one: one per drop when every drop was noticed. */
  readonly reconnects: number
  /** From cutting the link to the session being open again, per drop, by kind. */
  readonly reconnectMs: Readonly<Record<DropKind, ReadonlyArray<number>>>
  /** Fibers of the run still alive after its scope closed. */
  readonly liveFibers: number
  readonly elapsedMs: number
}

/** A small seeded generator (mulberry32): the same seed, the same drops. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Polls `condition` every 2 ms; dies after `ms` naming `what`. */
const until = (condition: () => boolean, ms: number, what: string): Effect.Effect<void> =>
  Effect.suspend(() => {
    const deadline = performance.now() + ms
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (condition()) return Effect.void
      if (performance.now() > deadline) return Effect.dieMessage(`chaos: ${what} did not happen within ${ms} ms`)
      return Effect.zipRight(Effect.sleep(2), loop)
    })
    return loop
  })

export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const runChaos = async (options: {
  readonly drops: number
  readonly messages: number
  readonly seed?: number
  readonly pingInterval?: Duration.DurationInput
  readonly timeout?: Duration.DurationInput
}): Promise<ChaosReport> => {
  const server = await startEchoProcess()
  const proxy = await startTcpProxy(server.port)
  const random = seeded(options.seed ?? 14)
  const perRound = Math.floor(options.messages / options.drops)
  const total = perRound * options.drops
  const received = new Uint8Array(total)
  const whileDown: Array<number> = []
  const dropsByKind: Record<DropKind, number> = { "reset": 0, "half-open": 0, "close 1012": 0 }
  const reconnectMs: Record<DropKind, Array<number>> = { "reset": [], "half-open": [], "close 1012": [] }
  const openedAt: Array<number> = []
  /** Messages sent after their round's cut. */
  const afterCut = new Uint8Array(perRound * options.drops)
  let duplicates = 0
  let reorders = 0
  let last = -1
  let fenceSeen = false
  const started = performance.now()
  const supervisor = await Effect.runPromise(Supervisor.track)

  const cut = (kind: DropKind) => {
    dropsByKind[kind]++
    if (kind === "reset") proxy.reset()
    else if (kind === "half-open") proxy.silence()
    else server.closeAll(1012, "restart")
  }

  const program = Effect.gen(function*() {
    const session = yield* WebSockets.reconnecting(proxy.url(), {
      // quick retries so that the run stays short; the rules are the default's
      schedule: Schedule.exponential("5 millis").pipe(
        Schedule.jittered,
        Schedule.modifyDelay((d) => Duration.min(d, Duration.millis(100)))
      ),
      bufferSize: 4 * perRound
    })
    yield* Effect.fork(Stream.runForEach(session.status, (status) =>
      Effect.sync(() => {
        if (status._tag === "Open") openedAt.push(performance.now())
      })))
    yield* Effect.fork(Stream.runForEach(session.incoming, (frame) =>
      Effect.sync(() => {
        const text = Frame.readText(frame)
        if (text === "fence") {
          fenceSeen = true
          return
        }
        const n = Number(text)
        if (received[n] === 1) {
          duplicates++
          return
        }
        received[n] = 1
        if (n < last) reorders++
        last = Math.max(last, n)
      })))
    yield* until(() => openedAt.length === 1, 10_000, "the first open")
    let seq = 0
    for (let round = 0; round < options.drops; round++) {
      const dropAt = Math.floor(random() * perRound)
      const kind = KINDS[Math.floor(random() * KINDS.length)]!
      const opensBefore = openedAt.length
      const downBefore = whileDown.length
      let cutAt = 0
      for (let i = 0; i < perRound; i++) {
        if (i === dropAt) {
          cutAt = performance.now()
          cut(kind)
        }
        const status = yield* session.currentStatus
        if (status._tag !== "Open") whileDown.push(seq)
        if (i >= dropAt) afterCut[seq] = 1
        yield* session.send(String(seq))
        seq++
        // spread the messages over time, so that some are in flight at every cut
        if (seq % 10 === 0) yield* Effect.sleep(1)
      }
      yield* until(() => openedAt.length > opensBefore, 20_000, `the reconnect after round ${round} (${kind})`)
      reconnectMs[kind].push(openedAt[opensBefore]! - cutAt)
      // every message sent while down comes back before the next cut
      const backlog = whileDown.slice(downBefore)
      yield* until(() => backlog.every((n) => received[n] === 1), 20_000, `the backlog of round ${round}`)
    }
    yield* session.send("fence")
    yield* until(() => fenceSeen, 20_000, "the fence message")
  }).pipe(
    Effect.scoped,
    Effect.supervised(supervisor),
    Effect.provide(
      WebSockets.layer({ pingInterval: options.pingInterval ?? "100 millis", timeout: options.timeout ?? "150 millis" })
        .pipe(Layer.provide(NodeEngine.layer))
    )
  )
  try {
    await Effect.runPromise(program)
  } finally {
    await proxy.close()
    await server.stop()
  }
  const liveFibers = (await Effect.runPromise(supervisor.value)).length
  let delivered = 0
  for (let n = 0; n < total; n++) delivered += received[n]!
  const down = new Set(whileDown)
  let lostBeforeCut = 0
  let lostAfterCut = 0
  for (let n = 0; n < total; n++) {
    if (received[n] === 0 && !down.has(n)) {
      if (afterCut[n] === 1) lostAfterCut++
      else lostBeforeCut++
    }
  }
  const lostInFlight = lostBeforeCut + lostAfterCut
  return {
    drops: options.drops,
    dropsByKind,
    messages: total,
    delivered,
    duplicates,
    reorders,
    sentWhileDown: whileDown.length,
    missingWhileDown: whileDown.filter((n) => received[n] !== 1).length,
    lostInFlight,
    lostBeforeCut,
    lostAfterCut,
    reconnects: openedAt.length - 1,
    reconnectMs,
    liveFibers,
    elapsedMs: performance.now() - started
  }
}

/** One line for the report. */
export const describeChaos = (r: ChaosReport): string => {
  const all = [...r.reconnectMs["reset"], ...r.reconnectMs["half-open"], ...r.reconnectMs["close 1012"]]
  const kind = (k: DropKind) =>
    `${k} ${r.dropsByKind[k]} (median ${median(r.reconnectMs[k]).toFixed(0)} ms, max ${
      Math.max(...r.reconnectMs[k]).toFixed(0)
    } ms)`
  return `${r.drops} drops [${KINDS.map(kind).join("; ")}], ${r.messages} messages in ${
    (r.elapsedMs / 1000).toFixed(1)
  } s: delivered ${r.delivered}, duplicates ${r.duplicates}, reorders ${r.reorders}, ` +
    `sent while down ${r.sentWhileDown} ` +
    `(missing ${r.missingWhileDown}), lost in flight ${r.lostInFlight} (${r.lostBeforeCut} sent before the cut, ` +
    `${r.lostAfterCut} after it while still Open), reconnects ${r.reconnects}, ` +
    `time to reconnect median ${median(all).toFixed(0)} ms, max ${Math.max(...all).toFixed(0)} ms`
}
