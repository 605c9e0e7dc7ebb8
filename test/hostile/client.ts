/**
 * The client side of the conformance cases: an echo client over the real Node engine, plus the leak checks
 * (active handles and live fibers) every case runs after the session has ended.
 */
import { Effect, Either, Layer, Option, Stream, Supervisor } from "effect"
import { createHook } from "node:async_hooks"
import { CloseReason, Frame, NodeEngine, WebSocketException, WebSockets } from "../../src/index.js"
import type { Peer } from "./peer.js"

/** What a client run produced. */
export interface ClientOutcome {
  /** The handshake failed: the session never existed. */
  readonly connectError: WebSocketException | undefined
  /** Messages `incoming` delivered, in order. */
  readonly delivered: ReadonlyArray<Frame.Text | Frame.Binary>
  /** How `incoming` ended: undefined for a quiet end, else its error. */
  readonly error: WebSocketException | undefined
  readonly closeReason: Option.Option<CloseReason>
  /** Fibers started by the run that were still alive once it returned. */
  readonly liveFibers: number
  /** `performance.now()` when `incoming` ended or failed. */
  readonly endedAt: number
  /** `performance.now()` when the scope had closed and the run returned. */
  readonly returnedAt: number
}

/**
 * Opens a session on `url`, echoes every message it receives (as Autobahn's test client does) until `incoming`
 * ends, then reads `closeReason` and closes the scope.
 */
export const runEchoClient = async (
  url: string,
  options: WebSockets.Options = {},
  mode: "echo" | "collect" = "echo"
): Promise<ClientOutcome> => {
  const supervisor = await Effect.runPromise(Supervisor.track)
  const delivered: Array<Frame.Text | Frame.Binary> = []
  let endedAt = Number.NaN
  const program = Effect.scoped(
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const ended = yield* session.incoming.pipe(
        Stream.runForEach((frame) => {
          delivered.push(frame)
          // a message that arrived together with the peer's Close cannot be echoed: `send` fails Closed once that
          // Close is in (and writes nothing); how `incoming` ends is what the case checks, so that failure is moot
          return mode === "echo"
            ? Effect.catchIf(session.send(frame), (error) => error.reason === "Closed", () => Effect.void)
            : Effect.void
        }),
        Effect.either
      )
      endedAt = performance.now()
      const closeReason = yield* session.closeReason
      return { error: Either.isLeft(ended) ? ended.left : undefined, closeReason }
    })
  ).pipe(
    Effect.either,
    Effect.supervised(supervisor),
    Effect.provide(WebSockets.layer(options).pipe(Layer.provide(NodeEngine.layer)))
  )
  const result = await Effect.runPromise(program)
  const liveFibers = (await Effect.runPromise(supervisor.value)).length
  const returnedAt = performance.now()
  if (Either.isLeft(result)) {
    const closeReason = Option.none()
    return { connectError: result.left, delivered, error: undefined, closeReason, liveFibers, endedAt, returnedAt }
  }
  return { connectError: undefined, delivered, ...result.right, liveFibers, endedAt, returnedAt }
}

/** Live resources by type: what a leak looks like. */
export type Resources = Readonly<Record<string, number>>

/** `process.getActiveResourcesInfo()` counted by type, minus the peer's own open sockets. */
const activeResources = (peer?: Peer): Resources => {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1
  if (peer !== undefined && counts["TCPSocketWrap"] !== undefined) counts["TCPSocketWrap"] -= peer.openSockets()
  return counts
}

/** What counts more in `now` than in `before`, by type. */
const growth = (before: Resources, now: Resources): Resources => {
  const out: Record<string, number> = {}
  for (const name of Object.keys(now)) {
    const grown = (now[name] ?? 0) - (before[name] ?? 0)
    if (grown > 0) out[name] = grown
  }
  return out
}

const prefixed = (prefix: string, resources: Resources): Resources =>
  Object.fromEntries(Object.entries(resources).map(([name, count]) => [prefix + name, count]))

/** Handle and timer types that outlive a call when something forgets to close them. */
const WATCHED = new Set([
  "Timeout",
  "Immediate",
  "TCPWRAP",
  "TCPSERVERWRAP",
  "TCPCONNECTWRAP",
  "PIPEWRAP",
  "PROCESSWRAP",
  "TLSWRAP"
])

/** Watches the sockets, timers and other handles created from now on. */
export interface ResourceWatch {
  /** Resources created since the watch started that are still alive, by type (TCPWRAP minus the peer's own). */
  readonly live: () => Resources
  /**
   * Waits (at most `guardMs`) until everything created since the watch started has been released and
   * `process.getActiveResourcesInfo()` counts no more of any type than at the start (prefixed "active "), stops
   * the watch and returns what is still alive: empty when nothing leaked. Closing a socket takes a few ticks.
   */
  readonly leaked: (guardMs?: number) => Promise<Resources>
}

/**
 * Starts watching resources with `async_hooks`: each socket, timer or immediate created from now on is alive until
 * its destroy hook runs. Unlike counting `process.getActiveResourcesInfo()` before and after, the test runner's
 * own short-lived timers that exist at the first count cannot hide a leak.
 */
export const watchResources = (peer?: Peer): ResourceWatch => {
  const alive = new Map<number, string>()
  let ignoring = false
  const hook = createHook({
    init(asyncId, type) {
      if (!ignoring && WATCHED.has(type)) alive.set(asyncId, type)
    },
    destroy(asyncId) {
      alive.delete(asyncId)
    }
  }).enable()
  const activeAtStart = activeResources(peer)
  const live = (): Resources => {
    const counts: Record<string, number> = {}
    for (const type of alive.values()) counts[type] = (counts[type] ?? 0) + 1
    if (peer !== undefined && counts["TCPWRAP"] !== undefined) counts["TCPWRAP"] -= peer.openSockets()
    for (const name of Object.keys(counts)) if (counts[name]! <= 0) delete counts[name]
    return counts
  }
  /** A pause whose own timer is not watched. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      ignoring = true
      try {
        setTimeout(resolve, ms)
      } finally {
        ignoring = false
      }
    })
  return {
    live,
    leaked: async (guardMs = 3_000) => {
      const deadline = Date.now() + guardMs
      const now = () => ({ ...live(), ...prefixed("active ", growth(activeAtStart, activeResources(peer))) })
      let left = now()
      while (Object.keys(left).length > 0 && Date.now() < deadline) {
        await pause(5)
        left = now()
      }
      hook.disable()
      return left
    }
  }
}

/** Closes when a promise takes longer than `ms`: a guard so that a hung case fails instead of hanging. */
export const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)
    })
  ])
}
