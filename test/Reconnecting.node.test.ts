/**
 * `WebSockets.reconnecting` against real servers (NodeEngine, and BrowserEngine over ws's class): a server process
 * killed and started again, a half-open link behind a TCP proxy, a short chaos run (the long one is in test/load),
 * and the leak checks (README "Reconnecting sessions").
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Schedule, Stream, Supervisor } from "effect"
import { WebSocket } from "ws"
import { BrowserEngine, Frame, NodeEngine, WebSockets } from "../src/index.js"
import { watchResources, within } from "./hostile/client.js"
import { measured } from "./hostile/measure.js"
import { describeChaos, runChaos } from "./reconnect/chaos.js"
import { startEchoProcess } from "./reconnect/echoProcess.js"
import { startTcpProxy } from "./reconnect/tcpProxy.js"

const live = (options: WebSockets.Options = {}) => WebSockets.layer(options).pipe(Layer.provide(NodeEngine.layer))

/** Polls `condition` every 5 ms (the test's own timeout bounds it). */
const until = (condition: () => boolean): Effect.Effect<void> =>
  Effect.suspend(() => condition() ? Effect.void : Effect.zipRight(Effect.sleep(5), until(condition)))

const tagOf = (s: WebSockets.Status): string => s._tag === "Reconnecting" ? `Reconnecting(${s.attempt})` : s._tag

describe("WebSockets.reconnecting against real servers", () => {
  it("a server process SIGKILLed and started again on the same port: Reconnecting(n) then Open, the messages sent while down arrive in order, nothing left behind", async () => {
    let server = await startEchoProcess()
    const port = server.port
    const statuses: Array<WebSockets.Status> = []
    const received: Array<string> = []
    const supervisor = await Effect.runPromise(Supervisor.track)
    const watch = watchResources()
    const program = Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(server.url, { schedule: Schedule.spaced("50 millis") })
      yield* Effect.fork(Stream.runForEach(session.status, (s) => Effect.sync(() => statuses.push(s))))
      yield* Effect.fork(
        Stream.runForEach(session.incoming, (frame) => Effect.sync(() => received.push(Frame.readText(frame))))
      )
      yield* Effect.forEach(["before 1", "before 2"], session.send)
      yield* until(() => received.length === 2)
      yield* Effect.promise(() => server.kill())
      // the drop, then at least one refused connection while the server is gone
      yield* until(() => statuses.some((s) => s._tag === "Reconnecting" && s.attempt >= 2))
      const down = Array.from({ length: 50 }, (_, i) => `down ${i}`)
      yield* Effect.forEach(down, session.send)
      expect((yield* session.currentStatus)._tag).toBe("Reconnecting")
      server = yield* Effect.promise(() => startEchoProcess(port))
      yield* until(() => received.length === 52)
      expect(received).toEqual(["before 1", "before 2", ...down])
      yield* session.send("after")
      yield* until(() => received.length === 53)
      expect(received[52]).toBe("after")
    }).pipe(Effect.scoped, Effect.supervised(supervisor), Effect.provide(live()))
    try {
      await within(Effect.runPromise(program), 25_000, "the kill-and-restart run")
    } finally {
      await server.stop()
    }
    const tags = statuses.map(tagOf)
    expect(tags[0]).toBe("Connecting")
    expect(tags[1]).toBe("Open")
    expect(tags[2]).toBe("Reconnecting(1)")
    const firstCause = (statuses[2] as Extract<WebSockets.Status, { _tag: "Reconnecting" }>).cause
    expect(firstCause.reason).toBe("Closed")
    expect(firstCause.closeReason?.code).toBe(1006)
    // attempts counted up while the server was gone, each refused (Connect), then open again
    const reopened = tags.indexOf("Open", 3)
    expect(reopened).toBeGreaterThan(3)
    expect(tags.slice(2, reopened)).toEqual(Array.from({ length: reopened - 2 }, (_, i) => `Reconnecting(${i + 1})`))
    for (const s of statuses.slice(3, reopened)) {
      expect((s as Extract<WebSockets.Status, { _tag: "Reconnecting" }>).cause.reason).toBe("Connect")
    }
    expect(tags.at(-1)).toBe("Closed")
    expect(await watch.leaked()).toEqual({})
    expect((await Effect.runPromise(supervisor.value)).length).toBe(0)
  })

  it("a half-open link (the proxy goes silent) is noticed within pingInterval + timeout and reconnected", async () => {
    const server = await startEchoProcess()
    const proxy = await startTcpProxy(server.port)
    const pingInterval = 200
    const timeout = 300
    const received: Array<string> = []
    let opens = 0
    let silencedAt = 0
    let noticedAt = 0
    const program = Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(proxy.url(), { schedule: Schedule.spaced("10 millis") })
      yield* Effect.fork(Stream.runForEach(session.status, (s) =>
        Effect.sync(() => {
          if (s._tag === "Open") opens++
          if (s._tag === "Reconnecting" && noticedAt === 0) noticedAt = performance.now()
        })))
      yield* Effect.fork(
        Stream.runForEach(session.incoming, (frame) => Effect.sync(() => received.push(Frame.readText(frame))))
      )
      yield* session.send("one")
      yield* until(() => received.length === 1)
      silencedAt = performance.now()
      expect(proxy.silence()).toBe(1)
      yield* until(() => opens === 2)
      const first = yield* Stream.runHead(session.status)
      expect(Option.map(first, (s) => s._tag)).toEqual(Option.some("Open"))
      yield* session.send("two")
      yield* until(() => received.length === 2)
    }).pipe(
      Effect.scoped,
      Effect.provide(live({ pingInterval: `${pingInterval} millis`, timeout: `${timeout} millis` }))
    )
    try {
      await within(Effect.runPromise(program), 20_000, "the half-open run")
    } finally {
      await proxy.close()
      await server.stop()
    }
    expect(received).toEqual(["one", "two"])
    const noticed = noticedAt - silencedAt
    measured(
      "reconnect.half-open",
      `a silent link noticed after ${noticed.toFixed(0)} ms (pingInterval ${pingInterval} + timeout ${timeout} ms)`
    )
    // without the pinger a silent link is never noticed; the slack is for a loaded machine's timers
    expect(noticed).toBeLessThanOrEqual(pingInterval + timeout + 1_000)
  })

  it("closing the scope during backoff (nothing listening) leaves no socket, timer or fiber", async () => {
    // a port that was just free: connections are refused
    const gone = await startEchoProcess()
    await gone.kill()
    const supervisor = await Effect.runPromise(Supervisor.track)
    const watch = watchResources()
    let attempts = 0
    const program = Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(gone.url, { schedule: Schedule.spaced("1 hour") })
      yield* Effect.fork(Stream.runForEach(session.status, (s) =>
        Effect.sync(() => {
          if (s._tag === "Reconnecting") attempts = s.attempt
        })))
      yield* until(() => attempts === 1)
    }).pipe(Effect.scoped, Effect.supervised(supervisor), Effect.provide(live({ pingInterval: "1 second" })))
    await within(Effect.runPromise(program), 10_000, "the backoff run")
    expect(await watch.leaked()).toEqual({})
    expect((await Effect.runPromise(supervisor.value)).length).toBe(0)
  })

  it("over BrowserEngine (the standard WebSocket API, here ws's class): a killed server is reconnected once it is back", async () => {
    let server = await startEchoProcess()
    const port = server.port
    const received: Array<string> = []
    const statuses: Array<string> = []
    const engine = BrowserEngine.layerConstructor(WebSocket as unknown as BrowserEngine.WebSocketConstructor)
    const program = Effect.gen(function*() {
      const session = yield* WebSockets.reconnecting(server.url, { schedule: Schedule.spaced("50 millis") })
      yield* Effect.fork(Stream.runForEach(session.status, (s) => Effect.sync(() => statuses.push(tagOf(s)))))
      yield* Effect.fork(
        Stream.runForEach(session.incoming, (frame) => Effect.sync(() => received.push(Frame.readText(frame))))
      )
      yield* session.send("one")
      yield* until(() => received.length === 1)
      yield* Effect.promise(() => server.kill())
      yield* until(() => statuses.includes("Reconnecting(2)"))
      yield* session.send("two")
      server = yield* Effect.promise(() => startEchoProcess(port))
      yield* until(() => received.length === 2)
    }).pipe(Effect.scoped, Effect.provide(WebSockets.layer().pipe(Layer.provide(engine))))
    try {
      await within(Effect.runPromise(program), 20_000, "the BrowserEngine run")
    } finally {
      await server.stop()
    }
    expect(received).toEqual(["one", "two"])
    expect(statuses.slice(0, 4)).toEqual(["Connecting", "Open", "Reconnecting(1)", "Reconnecting(2)"])
    expect(statuses.filter((s) => s === "Open")).toHaveLength(2)
  })

  it(
    "chaos (short): 20 drops (RST, half-open, Close 1012) over 2,000 messages: none twice, none out of order, all sent while down arrive",
    async () => {
      const report = await runChaos({ drops: 20, messages: 2_000, seed: 7 })
      measured("reconnect.chaos-short", describeChaos(report))
      expect(report.duplicates).toBe(0)
      expect(report.reorders).toBe(0)
      expect(report.missingWhileDown).toBe(0)
      expect(report.reconnects).toBeGreaterThanOrEqual(20)
      expect(report.delivered + report.lostInFlight).toBe(report.messages)
      expect(report.liveFibers).toBe(0)
    },
    120_000
  )
})
