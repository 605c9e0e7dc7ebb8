import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { CloseReason, Frame, TestEngine, WebSocketException, WebSockets } from "../src/index.js"
import { countUtf8, utf8Length } from "../src/internal/metrics.js"
import { live } from "./helpers/layers.js"
import { recordingTracer } from "./helpers/tracer.js"
import * as WsServer from "./helpers/wsServer.js"

const url = "ws://user:s3cret@chat.test/room?id=1"

const testLayer = (server: TestEngine.Options = {}, options: WebSockets.Options = {}) =>
  WebSockets.layer(options).pipe(Layer.provideMerge(TestEngine.layer(server)))

/** The metrics of one engine, read the way a user would: by name, tagged with the engine. */
const read = (engine: string) =>
  Effect.all({
    messagesSent: Metric.value(Metric.counter("websockets.messages.sent").pipe(Metric.tagged("engine", engine))),
    messagesReceived: Metric.value(
      Metric.counter("websockets.messages.received").pipe(Metric.tagged("engine", engine))
    ),
    bytesSent: Metric.value(Metric.counter("websockets.bytes.sent").pipe(Metric.tagged("engine", engine))),
    bytesReceived: Metric.value(Metric.counter("websockets.bytes.received").pipe(Metric.tagged("engine", engine))),
    sessionsOpen: Metric.value(Metric.gauge("websockets.sessions.open").pipe(Metric.tagged("engine", engine)))
  }).pipe(Effect.map((m) => ({
    messagesSent: m.messagesSent.count,
    messagesReceived: m.messagesReceived.count,
    bytesSent: m.bytesSent.count,
    bytesReceived: m.bytesReceived.count,
    sessionsOpen: m.sessionsOpen.value
  })))

type Figures = Effect.Effect.Success<ReturnType<typeof read>>
const delta = (before: Figures, after: Figures): Figures => ({
  messagesSent: after.messagesSent - before.messagesSent,
  messagesReceived: after.messagesReceived - before.messagesReceived,
  bytesSent: after.bytesSent - before.bytesSent,
  bytesReceived: after.bytesReceived - before.bytesReceived,
  sessionsOpen: after.sessionsOpen - before.sessionsOpen
})

/**
 * The scripted session: the client sends "héllo" (6 bytes in UTF-8), 3 bytes, and one message in two frames
 * ("part-" + "end", 8 bytes), plus a Ping (a control frame, not counted); the server sends "€" (3 bytes), 4 bytes
 * and "ok" (2 bytes). Sent: 3 messages, 17 bytes. Received: 3 messages, 9 bytes.
 */
const script = (onOpen: Effect.Effect<void> = Effect.void, request: WebSockets.Request = url) =>
  WebSockets.webSocket(request, (session) =>
    Effect.gen(function*() {
      yield* onOpen
      yield* session.send("héllo")
      yield* session.send(new Uint8Array([1, 2, 3]))
      yield* session.send(Frame.text("part-", false))
      yield* session.send(Frame.text("end"))
      yield* session.send(Frame.ping(new Uint8Array([9])))
      for (let i = 0; i < 3; i++) yield* session.receive
    }))

const server: TestEngine.Options = {
  handler: (connection) =>
    Effect.gen(function*() {
      yield* connection.send("€")
      yield* connection.send(new Uint8Array([1, 2, 3, 4]))
      yield* connection.send("ok")
      yield* Stream.runDrain(connection.incoming)
    })
}

describe("Observability: metrics (README, Tracing and metrics)", () => {
  it.effect("a session of known size: exact message and byte counts in and out, tagged engine=test", () =>
    Effect.gen(function*() {
      const before = yield* read("test")
      let during: Figures | undefined
      yield* script(Effect.flatMap(read("test"), (figures) => Effect.sync(() => (during = figures))))
      const after = yield* read("test")
      expect(delta(before, after)).toEqual({
        messagesSent: 3,
        messagesReceived: 3,
        bytesSent: 17,
        bytesReceived: 9,
        sessionsOpen: 0
      })
      // while the session was open, it counted as one open session
      expect(during!.sessionsOpen - before.sessionsOpen).toBe(1)
    }).pipe(Effect.provide(testLayer(server))))

  it.effect("values are exact while the session runs, message by message", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const before = yield* read("test")
      yield* session.send("ab")
      yield* session.send(new Uint8Array(10))
      const afterSend = delta(before, yield* read("test"))
      expect([afterSend.messagesSent, afterSend.bytesSent]).toEqual([2, 12])
      yield* session.receive
      yield* session.receive
      const afterReceive = delta(before, yield* read("test"))
      expect([afterReceive.messagesReceived, afterReceive.bytesReceived]).toEqual([2, 12])
    }).pipe(Effect.scoped, Effect.provide(testLayer({ handler: TestEngine.echo }))))

  it.effect("WebSockets.metrics are the same metrics: tagging them reads the same values", () =>
    Effect.gen(function*() {
      yield* script()
      const mine = yield* Metric.value(WebSockets.metrics.bytesSent.pipe(Metric.tagged("engine", "test")))
      const byName = yield* Metric.value(Metric.counter("websockets.bytes.sent").pipe(Metric.tagged("engine", "test")))
      expect(mine.count).toBe(byName.count)
      expect(mine.count).toBeGreaterThanOrEqual(17)
      const names = (yield* Metric.snapshot).map((pair) => pair.metricKey.name)
      for (const name of ["sent", "received"]) {
        expect(names).toContain(`websockets.messages.${name}`)
        expect(names).toContain(`websockets.bytes.${name}`)
      }
      expect(names).toContain("websockets.sessions.open")
    }).pipe(Effect.provide(testLayer(server))))

  it.effect("metrics: false records nothing", () =>
    Effect.gen(function*() {
      const before = yield* read("test")
      yield* script()
      expect(delta(before, yield* read("test"))).toEqual({
        messagesSent: 0,
        messagesReceived: 0,
        bytesSent: 0,
        bytesReceived: 0,
        sessionsOpen: 0
      })
    }).pipe(Effect.provide(testLayer(server, { metrics: false }))))

  it.effect("websockets.ping.rtt records one sample per answered Ping, in milliseconds", () =>
    Effect.gen(function*() {
      const rtt = Metric.histogram("websockets.ping.rtt", WebSockets.pingRttBoundaries).pipe(
        Metric.tagged("engine", "test")
      )
      const before: MetricState.MetricState.Histogram = yield* Metric.value(rtt)
      yield* WebSockets.webSocket(url, () => TestClock.adjust("3 seconds"))
      const after = yield* Metric.value(rtt)
      expect(after.count - before.count).toBe(3)
      expect(after.sum - before.sum).toBeGreaterThanOrEqual(0)
      // a round trip in memory takes far less than a second
      expect(after.max).toBeLessThan(1000)
    }).pipe(Effect.provide(testLayer({}, { pingInterval: "1 second" }))))

  it.scoped("websockets.reconnects counts each new attempt of a reconnecting session, tagged by engine", () =>
    Effect.gen(function*() {
      const counter = Metric.counter("websockets.reconnects").pipe(Metric.tagged("engine", "test"))
      const before = (yield* Metric.value(counter)).count
      let attempts = 0
      const layer = testLayer({
        handshake: () => ++attempts <= 3 ? TestEngine.refuse(503) : TestEngine.accept()
      })
      yield* Effect.gen(function*() {
        const session = yield* WebSockets.reconnecting(url, { schedule: Schedule.spaced("1 second") })
        for (let i = 0; i < 50 && attempts < 4; i++) yield* TestClock.adjust("500 millis")
        expect(attempts).toBe(4)
        // three refusals, each followed by one more attempt; the first connection is not a reconnect
        expect((yield* Metric.value(counter)).count - before).toBe(3)
        yield* session.close()
      }).pipe(Effect.scoped, Effect.provide(layer))
    }))

  it.effect("bytes are counted before compression (permessage-deflate over NodeEngine)", () =>
    Effect.gen(function*() {
      const srv = yield* WsServer.server({ options: { perMessageDeflate: { threshold: 0 } } })
      const text = "a".repeat(50_000)
      const before = yield* read("node")
      yield* WebSockets.webSocket(srv.url(), (session) =>
        Effect.gen(function*() {
          expect(session.call.extensions).toContain("permessage-deflate")
          yield* session.send(text)
          expect(Frame.readText(yield* session.receive)).toBe(text)
        }))
      const d = delta(before, yield* read("node"))
      expect([d.messagesSent, d.bytesSent, d.messagesReceived, d.bytesReceived]).toEqual([1, 50_000, 1, 50_000])
    }).pipe(Effect.scoped, Effect.provide(live({ extensions: { deflate: true } }))), 20_000)

  it("the UTF-8 length of a text is counted without encoding it, as TextEncoder would encode it", () => {
    const encoder = new TextEncoder()
    for (const text of ["", "abc", "héllo", "€", "日本語", "😀", "a\uD800b", "\uDC00", "x\uD83D", "😀\uD83D😀"]) {
      expect(countUtf8(text)).toBe(encoder.encode(text).byteLength)
      expect(utf8Length(text)).toBe(encoder.encode(text).byteLength)
    }
  })
})

describe("Observability: spans (README, Tracing and metrics)", () => {
  it.effect("websockets.connect: redacted url, status, protocol, extensions; websockets.session: close code", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.gen(function*() {
      yield* script(Effect.void, { url, protocols: ["v1"] }).pipe(Effect.withSpan("user.call"))
      const connect = spans.find((s) => s.name === "websockets.connect")!
      const session = spans.find((s) => s.name === "websockets.session")!
      const parent = spans.find((s) => s.name === "user.call")!
      expect(connect.attributes.get("websockets.url")).toBe("ws://user:<redacted>@chat.test/room?id=1")
      expect(connect.attributes.get("websockets.status")).toBe(101)
      expect(connect.attributes.get("websockets.protocol")).toBe("v1")
      expect(connect.attributes.get("websockets.extensions")).toBe("permessage-deflate")
      expect(connect.attributes.get("websockets.engine")).toBe("test")
      expect(connect.kind).toBe("client")
      expect(connect.exit && Exit.isSuccess(connect.exit)).toBe(true)
      // both belong to the caller's span
      expect(Option.getOrUndefined(connect.parent)?.spanId).toBe(parent.spanId)
      expect(Option.getOrUndefined(session.parent)?.spanId).toBe(parent.spanId)
      expect(session.exit && Exit.isSuccess(session.exit)).toBe(true)
      expect(session.attributes.get("websockets.close.code")).toBe(1000)
      expect(session.attributes.get("websockets.messages.sent")).toBe(3)
      expect(session.attributes.get("websockets.bytes.received")).toBe(9)
      // the session span starts when the handshake ends
      if (connect.status._tag === "Ended" && session.status._tag === "Ended") {
        expect(session.status.startTime >= connect.status.endTime).toBe(true)
      }
      // never a password, in any attribute
      for (const span of spans) {
        for (const value of span.attributes.values()) expect(String(value)).not.toContain("s3cret")
      }
    }).pipe(
      Effect.withTracer(tracer),
      Effect.provide(testLayer(
        { ...server, handshake: () => TestEngine.accept({ protocol: "v1", extensions: "permessage-deflate" }) },
        { extensions: { deflate: true } }
      ))
    )
  })

  it.effect("a refused handshake: websockets.connect fails with the error and the status; no session span", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.gen(function*() {
      const error = yield* Effect.flip(script())
      expect(error).toBeInstanceOf(WebSocketException)
      const connect = spans.find((s) => s.name === "websockets.connect")!
      expect(connect.exit && Exit.isFailure(connect.exit)).toBe(true)
      expect(connect.exit).toEqual(Exit.fail(error))
      expect(connect.attributes.get("websockets.status")).toBe(403)
      expect(connect.attributes.get("websockets.error.reason")).toBe("Handshake")
      expect(spans.some((s) => s.name === "websockets.session")).toBe(false)
    }).pipe(Effect.withTracer(tracer), Effect.provide(testLayer({ handshake: () => TestEngine.refuse(403) })))
  })

  it.effect("a session that ends in error: the session span fails with it and carries the close code", () => {
    const { spans, tracer } = recordingTracer()
    return Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(url)
      const connection = yield* TestEngine.nextConnection
      yield* connection.drop
      expect(yield* session.closeReason).toEqual(Option.some(new CloseReason({ code: 1006, message: "" })))
      const span = spans.find((s) => s.name === "websockets.session")!
      expect(span.attributes.get("websockets.close.code")).toBe(1006)
      expect(span.attributes.get("websockets.error.reason")).toBe("Closed")
      expect(span.exit && Exit.isFailure(span.exit)).toBe(true)
    }).pipe(Effect.scoped, Effect.withTracer(tracer), Effect.provide(testLayer()))
  })
})
