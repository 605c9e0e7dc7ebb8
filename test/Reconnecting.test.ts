/**
 * `WebSockets.reconnecting` over `TestEngine`, in virtual time: the retry rules, the schedule, the send buffer,
 * `onOpen`, `incoming` across connections, `status`, `close` (README "Reconnecting sessions").
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import {
  CloseReason,
  Converter,
  Engine,
  Frame,
  TestEngine,
  WebsocketConverterNotFoundException,
  WebSocketException,
  WebSockets
} from "../src/index.js"
import * as Reconnecting from "../src/Reconnecting.js"

const url = "ws://feed.test/prices"

/** The plugin over a test server, both in one layer. */
const testLayer = (server: TestEngine.Options = {}, options: WebSockets.Options = {}) =>
  WebSockets.layer(options).pipe(Layer.provideMerge(TestEngine.layer(server)))

/** Moves virtual time forward in small steps, letting the fibers woken at each step run. */
const advance = (ms: number, step = 100) =>
  Effect.gen(function*() {
    for (let t = 0; t < ms; t += step) yield* TestClock.adjust(Math.min(step, ms - t))
  })

/**
 * Lets forked fibers run without moving time. TestEngine hands the event loop a turn (`setImmediate`) when it has
 * worked for a few milliseconds, which a loaded machine reaches, so yielding alone is not enough: a few real turns of
 * the event loop go between the yields.
 */
const settle = Effect.repeatN(
  Effect.zipRight(
    Effect.repeatN(Effect.yieldNow(), 20),
    Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
  ),
  5
)

/** A handshake script that counts attempts, records their virtual time and answers with `answer(n)` (n from 1). */
const scriptedHandshake = (
  answer: (n: number) => TestEngine.HandshakeAnswer | Effect.Effect<never, WebSocketException>
) => {
  const at: Array<number> = []
  const handshake = () =>
    Effect.gen(function*() {
      at.push(yield* Clock.currentTimeMillis)
      const a = answer(at.length)
      return Effect.isEffect(a) ? yield* a : a
    })
  return { at, handshake }
}

/** Collects every status until `Closed` (the stream ends there). */
const collectStatuses = (session: WebSockets.ReconnectingSession) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Stream.runCollect(session.status))
    yield* settle
    return Effect.map(Fiber.join(fiber), Chunk.toReadonlyArray)
  })

const tagOf = (s: WebSockets.Status): string => s._tag === "Reconnecting" ? `Reconnecting(${s.attempt})` : s._tag

const texts = (frames: ReadonlyArray<Frame.Frame>) => frames.filter(Frame.isText).map((f) => f.data)

const reason = (code: number, message = "") => new CloseReason({ code, message })

const spaced = Schedule.spaced("1 second")

describe("WebSockets.reconnecting: the schedule", () => {
  it.effect("attempts are made exactly when the schedule says; status shows Reconnecting(1..n) then Open", () => {
    const script = scriptedHandshake((n) => n <= 4 ? TestEngine.refuse(503) : TestEngine.accept())
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: Schedule.exponential("1 second") })
      const statuses = yield* collectStatuses(session)
      yield* advance(20_000)
      expect(script.at).toEqual([0, 1_000, 3_000, 7_000, 15_000])
      expect(tagOf(yield* session.currentStatus)).toBe("Open")
      yield* session.close()
      const seen = yield* statuses
      expect(seen.map(tagOf)).toEqual([
        "Connecting",
        "Reconnecting(1)",
        "Reconnecting(2)",
        "Reconnecting(3)",
        "Reconnecting(4)",
        "Open",
        "Closed"
      ])
      const first = seen[1] as Extract<WebSockets.Status, { _tag: "Reconnecting" }>
      expect(first.cause.reason).toBe("Handshake")
      expect(first.cause.status).toBe(503)
    }).pipe(Effect.scoped, Effect.provide(testLayer({ handshake: script.handshake })))
  })

  it.effect("the schedule starts afresh once a connection is open: attempts count from 1 again", () => {
    // 503, open (then dropped), 503, open
    const script = scriptedHandshake((n) => n === 1 || n === 3 ? TestEngine.refuse(503) : TestEngine.accept())
    let connections = 0
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: Schedule.exponential("1 second") })
      const statuses = yield* collectStatuses(session)
      yield* advance(10_000)
      // 0: 503, 1000: open then dropped at once, +1000 (reset: first delay again): 503, +2000: open
      expect(script.at).toEqual([0, 1_000, 2_000, 4_000])
      yield* session.close()
      expect((yield* statuses).map(tagOf)).toEqual([
        "Connecting",
        "Reconnecting(1)",
        "Open",
        "Reconnecting(1)",
        "Reconnecting(2)",
        "Open",
        "Closed"
      ])
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({
        handshake: script.handshake,
        handler: (server) => ++connections === 1 ? server.drop : Effect.never
      }))
    )
  })

  it.effect("when the schedule ends, the session closes and incoming fails with the last error", () => {
    const script = scriptedHandshake(() => TestEngine.refuse(502))
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: Schedule.recurs(2) })
      const incoming = yield* Effect.fork(Effect.either(Stream.runCollect(session.incoming)))
      yield* advance(1_000)
      expect(script.at).toEqual([0, 0, 0])
      const ended = yield* Fiber.join(incoming)
      expect(Either.isLeft(ended)).toBe(true)
      const error = Either.getLeft(ended).pipe(Option.getOrThrow)
      expect(error.reason).toBe("Handshake")
      expect(error.status).toBe(502)
      const status = yield* session.currentStatus
      expect(status._tag).toBe("Closed")
      expect(yield* session.closeReason).toEqual(Option.none())
    }).pipe(Effect.scoped, Effect.provide(testLayer({ handshake: script.handshake })))
  })

  it.effect("the default schedule: exponential from 500 ms, jittered by ±20%, capped at 30 s, never ending", () =>
    Effect.gen(function*() {
      const drop = new WebSocketException({ reason: "Closed", message: "dropped" })
      const inputs = Array.from({ length: 14 }, () => drop)
      const delays = yield* Schedule.run(Schedule.delays(Reconnecting.defaultSchedule), 0, inputs)
      const ms = Chunk.toReadonlyArray(delays).map((d) => Math.round(Duration.toMillis(d)))
      expect(ms).toHaveLength(14)
      ms.forEach((delay, i) => {
        const base = 500 * 2 ** i
        expect(delay).toBeGreaterThanOrEqual(Math.min(base * 0.8, 30_000))
        expect(delay).toBeLessThanOrEqual(Math.min(base * 1.2, 30_000))
      })
      expect(ms[13]).toBe(30_000)
      // jitter: the first delays are not all exactly the base
      expect(ms.slice(0, 8).some((delay, i) => delay !== 500 * 2 ** i)).toBe(true)
    }))
})

describe("WebSockets.reconnecting: what reconnects", () => {
  for (const status of [408, 429, 500, 503, 599]) {
    it.effect(`a handshake answered ${status} is retried`, () => {
      const script = scriptedHandshake((n) => n === 1 ? TestEngine.refuse(status) : TestEngine.accept())
      return Effect.gen(function*() {
        const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
        yield* advance(1_500)
        expect(script.at).toEqual([0, 1_000])
        expect(tagOf(yield* session.currentStatus)).toBe("Open")
      }).pipe(Effect.scoped, Effect.provide(testLayer({ handshake: script.handshake })))
    })
  }

  for (const status of [400, 401, 403, 404, 426]) {
    it.effect(`a handshake answered ${status} stops at once: Closed, incoming fails with it, no second attempt`, () => {
      const script = scriptedHandshake(() => TestEngine.refuse(status))
      return Effect.gen(function*() {
        const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
        const statuses = yield* collectStatuses(session)
        const error = yield* Effect.flip(Stream.runCollect(session.incoming))
        expect(error.reason).toBe("Handshake")
        expect(error.status).toBe(status)
        yield* advance(10_000)
        expect(script.at).toEqual([0])
        const seen = yield* statuses
        expect(seen.map(tagOf)).toEqual(["Connecting", "Closed"])
        expect(seen[1]).toEqual(Reconnecting.Status.Closed({ reason: Option.none(), cause: Option.some(error) }))
        expect(yield* session.closeReason).toEqual(Option.none())
        expect((yield* Effect.flip(session.send("late"))).reason).toBe("Closed")
      }).pipe(Effect.scoped, Effect.provide(testLayer({ handshake: script.handshake })))
    })
  }

  it.effect("a Connect failure is retried", () => {
    const script = scriptedHandshake((n) =>
      n === 1 ? Effect.fail(new WebSocketException({ reason: "Connect", message: "refused" })) : TestEngine.accept()
    )
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      yield* advance(1_500)
      expect(script.at).toEqual([0, 1_000])
      expect(tagOf(yield* session.currentStatus)).toBe("Open")
    }).pipe(Effect.scoped, Effect.provide(testLayer({ handshake: script.handshake })))
  })

  it.effect("a handshake with no answer within connectTimeout (Timeout) is retried", () => {
    const script = scriptedHandshake((n) => n === 1 ? Effect.never : TestEngine.accept())
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      const statuses = yield* collectStatuses(session)
      yield* advance(4_000)
      expect(script.at).toEqual([0, 3_000])
      yield* session.close()
      const seen = yield* statuses
      expect(seen.map(tagOf)).toEqual(["Connecting", "Reconnecting(1)", "Open", "Closed"])
      expect((seen[1] as Extract<WebSockets.Status, { _tag: "Reconnecting" }>).cause.reason).toBe("Timeout")
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({ handshake: script.handshake }, { connectTimeout: "2 seconds" }))
    )
  })

  it.effect("an engine that cannot honour a setting (Capability) is never retried", () => {
    const script = scriptedHandshake(() => TestEngine.accept())
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      const error = yield* Effect.flip(Stream.runDrain(session.incoming))
      expect(error.reason).toBe("Capability")
      yield* advance(5_000)
      expect(yield* session.currentStatus).toMatchObject({ _tag: "Closed" })
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer(
        { handshake: script.handshake, capabilities: [Engine.WebSocketCapability] },
        { pingInterval: "1 second" }
      ))
    )
  })

  it.effect("a request that can never be valid is refused once (Connect), not retried", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting("ftp://feed.test/", { schedule: spaced })
      const error = yield* Effect.flip(Stream.runDrain(session.incoming))
      expect(error.reason).toBe("Connect")
      expect(yield* session.currentStatus).toMatchObject({ _tag: "Closed" })
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("a dropped connection (1006) is reconnected; Reconnecting carries reason Closed with 1006", () => {
    const script = scriptedHandshake(() => TestEngine.accept())
    let connections = 0
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      const statuses = yield* collectStatuses(session)
      yield* advance(1_500)
      expect(script.at).toEqual([0, 1_000])
      yield* session.close()
      const seen = yield* statuses
      expect(seen.map(tagOf)).toEqual(["Connecting", "Open", "Reconnecting(1)", "Open", "Closed"])
      const cause = (seen[2] as Extract<WebSockets.Status, { _tag: "Reconnecting" }>).cause
      expect(cause.reason).toBe("Closed")
      expect(cause.closeReason?.code).toBe(1006)
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({
        handshake: script.handshake,
        handler: (server) => ++connections === 1 ? server.drop : Effect.never
      }))
    )
  })

  it.effect("a peer that stops answering Pings (PingTimeout) is reconnected within pingInterval + timeout", () => {
    const script = scriptedHandshake(() => TestEngine.accept())
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: Schedule.spaced("10 millis") })
      const statuses = yield* collectStatuses(session)
      yield* advance(3_000, 10)
      // ping at 1 s, no pong by 2 s: reconnect 10 ms later
      expect(script.at.slice(0, 2)).toEqual([0, 2_010])
      yield* session.close()
      const seen = yield* statuses
      expect(seen.slice(0, 4).map(tagOf)).toEqual(["Connecting", "Open", "Reconnecting(1)", "Open"])
      expect((seen[2] as Extract<WebSockets.Status, { _tag: "Reconnecting" }>).cause.reason).toBe("PingTimeout")
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer(
        { handshake: script.handshake, ignorePings: true },
        { pingInterval: "1 second", timeout: "1 second" }
      ))
    )
  })

  for (const code of [1001, 1011, 1012, 1013, 1014]) {
    it.effect(`a peer Close ${code} is reconnected`, () => {
      const script = scriptedHandshake(() => TestEngine.accept())
      let connections = 0
      return Effect.gen(function*() {
        const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
        yield* advance(1_500)
        expect(script.at).toEqual([0, 1_000])
        expect(tagOf(yield* session.currentStatus)).toBe("Open")
      }).pipe(
        Effect.scoped,
        Effect.provide(testLayer({
          handshake: script.handshake,
          handler: (server) => ++connections === 1 ? server.close(reason(code, "later")) : Effect.never
        }))
      )
    })
  }

  for (const code of [1000, 1003, 1008, 4000]) {
    it.effect(`a peer Close ${code} ends the session quietly: no reconnect, closeReason is the peer's`, () => {
      const script = scriptedHandshake(() => TestEngine.accept())
      return Effect.gen(function*() {
        const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
        const delivered = yield* Stream.runCollect(session.incoming)
        expect(texts(Chunk.toReadonlyArray(delivered))).toEqual(["bye"])
        expect(yield* session.closeReason).toEqual(Option.some(reason(code, "done")))
        yield* advance(5_000)
        expect(script.at).toEqual([0])
        expect(yield* session.currentStatus).toEqual(
          Reconnecting.Status.Closed({ reason: Option.some(reason(code, "done")), cause: Option.none() })
        )
      }).pipe(
        Effect.scoped,
        Effect.provide(testLayer({
          handshake: script.handshake,
          handler: (server) => Effect.zipRight(server.send("bye"), server.close(reason(code, "done")))
        }))
      )
    })
  }

  it.effect("close() during backoff ends everything: Closed, incoming ends, no fiber left, no later attempt", () => {
    const script = scriptedHandshake(() => TestEngine.refuse(503))
    return Effect.gen(function*() {
      const supervisor = yield* Supervisor.track
      const session = yield* WebSockets.reconnecting(url, { schedule: Schedule.spaced("1 minute") }).pipe(
        Effect.supervised(supervisor)
      )
      const incoming = yield* Effect.fork(Stream.runCollect(session.incoming))
      yield* advance(1_000)
      expect(tagOf(yield* session.currentStatus)).toBe("Reconnecting(1)")
      yield* session.close()
      expect(Chunk.toReadonlyArray(yield* Fiber.join(incoming))).toEqual([])
      expect(yield* session.closeReason).toEqual(Option.some(reason(1000)))
      expect(yield* session.currentStatus).toMatchObject({ _tag: "Closed" })
      yield* settle
      expect(yield* supervisor.value).toEqual([])
      yield* advance(10 * 60_000, 60_000)
      expect(script.at).toEqual([0])
      expect((yield* Effect.flip(session.send("late"))).reason).toBe("Closed")
    }).pipe(Effect.scoped, Effect.provide(testLayer({ handshake: script.handshake })))
  })

  it.effect("close() while connecting stops the attempt", () => {
    const script = scriptedHandshake(() => Effect.never)
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      yield* settle
      yield* session.close()
      expect(yield* session.closeReason).toEqual(Option.some(reason(1000)))
      yield* advance(60_000, 1_000)
      expect(script.at).toEqual([0])
    }).pipe(Effect.scoped, Effect.provide(testLayer({ handshake: script.handshake })))
  })
})

describe("WebSockets.reconnecting: messages", () => {
  it.effect("incoming survives reconnects: each message once, in order, then ends quietly on a normal Close", () => {
    let connections = 0
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      const delivered = yield* Effect.fork(Stream.runCollect(session.incoming))
      yield* advance(3_000)
      expect(texts(Chunk.toReadonlyArray(yield* Fiber.join(delivered)))).toEqual(["a", "b", "c", "d", "e"])
      expect(yield* session.closeReason).toEqual(Option.some(reason(1000)))
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({
        handler: (server) => {
          connections++
          if (connections === 1) return Effect.zipRight(Effect.forEach(["a", "b"], server.send), server.drop)
          if (connections === 2) return Effect.zipRight(server.send("c"), server.close(reason(1012)))
          return Effect.zipRight(Effect.forEach(["d", "e"], server.send), server.close())
        }
      }))
    )
  })

  it.effect("messages sent while down wait, then go out in order after onOpen and before newer ones", () => {
    let connections = 0
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, {
        schedule: spaced,
        onOpen: (s) => s.send(`auth ${connections}`)
      })
      yield* session.send("1")
      const first = yield* TestEngine.nextConnection
      yield* settle
      expect(texts(yield* first.received)).toEqual(["auth 1", "1"])
      yield* first.drop
      yield* settle
      expect(tagOf(yield* session.currentStatus)).toBe("Reconnecting(1)")
      yield* Effect.forEach(["2", "3", "4"], session.send)
      yield* advance(1_000)
      expect(tagOf(yield* session.currentStatus)).toBe("Open")
      yield* session.send("5")
      yield* settle
      const second = yield* TestEngine.nextConnection
      expect(texts(yield* second.received)).toEqual(["auth 2", "2", "3", "4", "5"])
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({
        handshake: () => {
          connections++
          return TestEngine.accept()
        }
      }))
    )
  })

  it.effect("a message the connection refused because it had just ended (not written) goes out on the next one", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      yield* session.send("1")
      const first = yield* TestEngine.nextConnection
      yield* settle
      // the connection ends, and before the session has noticed (its status still says Open) "2" is sent: the
      // writer hands it to the ended connection, which refuses it; it must not be lost
      yield* first.drop
      expect(tagOf(yield* session.currentStatus)).toBe("Open")
      yield* session.send("2")
      yield* settle
      yield* advance(1_000)
      const second = yield* TestEngine.nextConnection
      yield* settle
      expect(texts(yield* first.received)).toEqual(["1"])
      expect(texts(yield* second.received)).toEqual(["2"])
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("onOpen runs on every connection and has it to itself (its receive is not taken by incoming)", () => {
    let opened = 0
    let connections = 0
    return Effect.gen(function*() {
      const welcomes: Array<string> = []
      const session = yield* WebSockets.reconnecting(url, {
        schedule: spaced,
        onOpen: (s) =>
          Effect.gen(function*() {
            opened++
            welcomes.push(Frame.readText(yield* s.receive))
          })
      })
      const delivered = yield* Effect.fork(Stream.runCollect(session.incoming))
      yield* advance(2_000)
      expect(opened).toBe(2)
      expect(welcomes).toEqual(["welcome 1", "welcome 2"])
      expect(texts(Chunk.toReadonlyArray(yield* Fiber.join(delivered)))).toEqual(["data 1", "data 2"])
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({
        handler: (server) => {
          const n = ++connections
          return Effect.gen(function*() {
            yield* server.send(`welcome ${n}`)
            yield* server.send(`data ${n}`)
            yield* n === 1 ? server.drop : server.close()
          })
        }
      }))
    )
  })

  it.effect("onOpen failing with another error closes with 1011 and ends the session (incoming fails, Closed)", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, {
        schedule: spaced,
        onOpen: () => Effect.fail("bad credentials")
      })
      const error = yield* Effect.flip(Stream.runDrain(session.incoming))
      expect(error.reason).toBe("Closed")
      expect(error.cause).toBe("bad credentials")
      const server = yield* TestEngine.nextConnection
      yield* server.closed
      const close = (yield* server.received).find(Frame.isClose)
      expect(close === undefined ? undefined : Frame.readReason(close)).toEqual(Option.some(reason(1011)))
      yield* advance(5_000)
      expect(yield* session.currentStatus).toMatchObject({ _tag: "Closed" })
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("overflow \"fail\": a full buffer fails send with reason BufferFull; what was queued still goes out", () =>
    Effect.gen(function*() {
      let accept = false
      const session = yield* WebSockets.reconnecting(url, {
        schedule: spaced,
        bufferSize: 2,
        overflow: "fail"
      }).pipe(Effect.provide(testLayer({ handshake: () => accept ? TestEngine.accept() : TestEngine.refuse(503) })))
      yield* session.send("1")
      yield* session.send("2")
      const full = yield* Effect.flip(session.send("3"))
      expect(full).toBeInstanceOf(WebSocketException)
      expect(full.reason).toBe("BufferFull")
      accept = true
      yield* advance(1_000)
      yield* session.send("4")
      yield* session.close()
      expect(yield* session.closeReason).toEqual(Option.some(reason(1000)))
    }).pipe(Effect.scoped))

  it.effect("overflow \"suspend\" (default): send waits for room while down, then completes once open", () => {
    let connections = 0
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced, bufferSize: 2 })
      yield* session.send("1")
      yield* session.send("2")
      const third = yield* Effect.fork(session.send("3"))
      yield* settle
      expect(third.unsafePoll()).toBeNull()
      connections = 1
      yield* advance(1_000)
      expect(yield* Fiber.join(third)).toBeUndefined()
      yield* settle
      const server = yield* TestEngine.nextConnection
      expect(texts(yield* server.received)).toEqual(["1", "2", "3"])
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({ handshake: () => connections === 0 ? TestEngine.refuse(503) : TestEngine.accept() }))
    )
  })

  it.effect("close(r) while open: what was sent goes out first, then Close(r); no reconnect; closeReason is r", () => {
    const script = scriptedHandshake(() => TestEngine.accept())
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      yield* settle
      yield* Effect.forEach(["x", "y"], session.send)
      yield* session.close(reason(4001, "done"))
      expect((yield* Effect.flip(session.send("z"))).reason).toBe("Closed")
      const server = yield* TestEngine.nextConnection
      yield* server.closed
      const frames = yield* server.received
      expect(frames.map((f) => f._tag)).toEqual(["Text", "Text", "Close"])
      expect(Frame.readReason(frames[2] as Frame.Close)).toEqual(Option.some(reason(4001, "done")))
      expect(yield* session.closeReason).toEqual(Option.some(reason(4001, "done")))
      yield* advance(5_000)
      expect(script.at).toEqual([0])
    }).pipe(Effect.scoped, Effect.provide(testLayer({ handshake: script.handshake })))
  })

  it.effect("close refuses a code that may not be sent (InvalidCloseCode) and stays open", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      yield* settle
      expect((yield* Effect.flip(session.close(reason(1005)))).reason).toBe("InvalidCloseCode")
      expect(tagOf(yield* session.currentStatus)).toBe("Open")
    }).pipe(Effect.scoped, Effect.provide(testLayer())))

  it.effect("a consumer that does not keep up holds back reconnecting: an ended connection is drained before the next opens", () => {
    const script = scriptedHandshake(() => TestEngine.accept())
    let connections = 0
    const burst = Array.from({ length: 600 }, (_, i) => `m${i}`)
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      yield* advance(10_000, 1_000)
      // the first connection sent more than the inbox holds, then dropped: no second one while nobody reads
      expect(script.at).toEqual([0])
      expect(tagOf(yield* session.currentStatus)).toBe("Reconnecting(1)")
      const first = yield* Stream.runCollect(Stream.take(session.incoming, burst.length))
      expect(texts(Chunk.toReadonlyArray(first))).toEqual(burst)
      yield* advance(1_000)
      expect(script.at).toEqual([0, 10_000])
      expect(tagOf(yield* session.currentStatus)).toBe("Open")
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({
        handshake: script.handshake,
        handler: (server) =>
          ++connections === 1 ? Effect.zipRight(Effect.forEach(burst, server.send), server.drop) : Effect.never
      }))
    )
  })

  it.effect("a consumer that stops early loses nothing: the rest stays for the next reader", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      yield* Effect.forEach(["1", "2", "3", "4"], session.send)
      const head = yield* Stream.runCollect(Stream.take(session.incoming, 1))
      const next = yield* Stream.runCollect(Stream.take(session.incoming, 2))
      const last = yield* session.receive
      expect([...texts(Chunk.toReadonlyArray(head)), ...texts(Chunk.toReadonlyArray(next)), Frame.readText(last)])
        .toEqual(["1", "2", "3", "4"])
    }).pipe(Effect.scoped, Effect.provide(testLayer({ handler: TestEngine.echo }))))

  it.effect("status starts with the current value and ends after Closed; currentStatus answers at once", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      yield* settle
      const now = yield* session.currentStatus
      expect(now._tag).toBe("Open")
      expect((now as Extract<WebSockets.Status, { _tag: "Open" }>).call.status).toBe(101)
      const head = yield* Stream.runHead(session.status)
      expect(head).toEqual(Option.some(now))
      yield* session.close()
      yield* session.closeReason
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(session.status)).map(tagOf)).toEqual(["Closed"])
    }).pipe(Effect.scoped, Effect.provide(testLayer())))
})

class Quote extends Schema.Class<Quote>("Quote")({ symbol: Schema.String, price: Schema.Number }) {}

describe("WebSockets.reconnecting: serialization", () => {
  it.effect("sendSerialized, receiveDeserialized and incomingDeserialized work as on a session", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      yield* session.sendSerialized(Quote, new Quote({ symbol: "ACME", price: 1 }))
      yield* session.sendSerialized(Quote, new Quote({ symbol: "ACME", price: 2 }))
      yield* session.send("not json")
      expect(yield* session.receiveDeserialized(Quote)).toEqual(new Quote({ symbol: "ACME", price: 1 }))
      const stream = session.incomingDeserialized(Quote)
      const rest = yield* Stream.runCollect(stream).pipe(Effect.either)
      expect(Either.isLeft(rest)).toBe(true)
      expect(Either.getLeft(rest).pipe(Option.getOrThrow)._tag).toBe("WebsocketDeserializeException")
    }).pipe(
      Effect.scoped,
      Effect.provide(testLayer({ handler: TestEngine.echo }, { contentConverter: Converter.json }))
    ))

  it.effect("with no converter, sendSerialized fails with WebsocketConverterNotFoundException", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(url, { schedule: spaced })
      const error = yield* Effect.flip(session.sendSerialized(Quote, new Quote({ symbol: "A", price: 1 })))
      expect(error).toBeInstanceOf(WebsocketConverterNotFoundException)
    }).pipe(Effect.scoped, Effect.provide(testLayer())))
})

describe("WebSockets.reconnecting: scope", () => {
  it.effect("closing the scope closes the open connection with 1000 and leaves no fiber", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.track
      const server = yield* Effect.scoped(Effect.gen(function*() {
        const session = yield* WebSockets.reconnecting(url, { schedule: spaced }).pipe(Effect.supervised(supervisor))
        yield* settle
        expect(tagOf(yield* session.currentStatus)).toBe("Open")
        return yield* TestEngine.nextConnection
      }))
      yield* server.closed
      const close = (yield* server.received).find(Frame.isClose)
      expect(close === undefined ? undefined : Frame.readReason(close)).toEqual(Option.some(reason(1000)))
      yield* settle
      expect(yield* supervisor.value).toEqual([])
    }).pipe(Effect.provide(testLayer())))

  it.effect("bad options are a defect naming the field", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(WebSockets.reconnecting(url, { bufferSize: 0 })))
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("bufferSize")
    }).pipe(Effect.provide(testLayer())))
})

describe("WebSockets.reconnecting: the README example", () => {
  it.effect("retries a 503 after one second, then is open", () => {
    let attempts = 0
    return Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting("ws://feed.test/", { schedule: Schedule.spaced("1 second") })
      yield* TestClock.adjust("1 second")
      expect(attempts).toBe(2)
      expect((yield* session.currentStatus)._tag).toBe("Open")
    }).pipe(
      Effect.scoped,
      Effect.provide(
        WebSockets.layer().pipe(Layer.provideMerge(TestEngine.layer({
          handshake: () => ++attempts === 1 ? TestEngine.refuse(503) : TestEngine.accept()
        })))
      )
    )
  })

  it("the first README example type-checks against the public API", () => {
    const program = Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting("wss://feed.example.com/prices", {
        schedule: Schedule.exponential("500 millis").pipe(Schedule.jittered, Schedule.upTo("10 minutes")),
        bufferSize: 1024,
        overflow: "suspend",
        onOpen: (connection) => connection.send(`{"subscribe":"ACME"}`)
      })
      yield* Effect.fork(Stream.runForEach(session.status, (status) => Effect.log(status._tag)))
      yield* session.send("hello")
      yield* Stream.runForEach(session.incoming, (frame) => Effect.log(frame))
    }).pipe(Effect.scoped)
    const needs: Effect.Effect<void, WebSocketException, WebSockets.WebSockets> = program
    expect(Effect.isEffect(needs)).toBe(true)
  })
})
