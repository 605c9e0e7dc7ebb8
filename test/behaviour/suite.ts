/**
 * The behaviour suite: the rules of docs/API.md §3 (and the handshake status rule of §2), written once against a
 * scripted peer and run on every engine, so that `NodeEngine` over a real socket and `TestEngine` in memory are
 * held to the same rules.
 *
 * A fixture gives the suite a peer (a server it can script through `TestEngine.ServerConnection`), the engine that
 * reaches it, a way to let time pass (`TestClock.adjust` in memory, real sleeps on sockets), the `it` variant and
 * what the engine cannot do (see docs/BrowserEngine.md): a rule the engine cannot keep is reported as not
 * applicable, and a case checking what the engine does instead runs in its place.
 *
 * The suite needs no test runner: vitest registers it (test/*.behaviour.test.ts), and test/behaviour/runner.ts runs
 * it in a browser page, Bun and Deno.
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Engine, Session, TestEngine } from "../../src/index.js"
import { CloseReason, Frame, WebSocketException, WebSockets } from "../../src/index.js"
import { expect } from "./expect.js"

/** How the peer's protocol layer behaves. */
export interface PeerOptions {
  /** Do not answer the client's Pings. */
  readonly ignorePings?: boolean
  /** Do not answer the client's Close: the script answers it. */
  readonly ignoreClose?: boolean
  /** Refuse every handshake with this status. */
  readonly refuse?: number
  /** A script run for every connection; its failure must fail the run (README: Testing your code with TestEngine). */
  readonly handler?: (connection: TestEngine.ServerConnection) => Effect.Effect<unknown, unknown>
}

/** A running peer. */
export interface Peer {
  readonly url: string
  readonly engine: Layer.Layer<Engine.Engine>
  /** The server end of the next connection the peer accepts. */
  readonly nextConnection: Effect.Effect<TestEngine.ServerConnection>
}

/** A test body: an Effect that may use a Scope (closed when the test ends). */
type Tester = (name: string, self: () => Effect.Effect<unknown, unknown, Scope.Scope>, timeout?: number) => void

/**
 * Something an engine may be unable to do, by the nature of its runtime (docs/BrowserEngine.md):
 * - `handshakeStatus`: the status of a refused upgrade is not visible (browsers);
 * - `pingFrames`: no Ping frames can be sent (the standard `WebSocket` API);
 * - `readAfterClose`: once we sent our Close, the runtime drops data the peer still had in flight (browsers, Bun);
 * - `peerViolations`: the runtime judges the peer's protocol violations (invalid UTF-8, …) itself and fails the
 *   connection its own way, so the session cannot report them as `Protocol` with the close code sent.
 */
export type Lack = "handshakeStatus" | "pingFrames" | "readAfterClose" | "peerViolations"

/** What the suite needs from an engine. */
export interface EngineFixture {
  readonly name: string
  readonly test: Tester
  /** Groups the cases (vitest's `describe`; a runner without groups just calls `body`). */
  readonly describe: (name: string, body: () => void) => void
  /** What the engine cannot do; default: nothing. */
  readonly lacks?: ReadonlyArray<Lack> | undefined
  /** Records a rule the engine cannot keep, with the reason. */
  readonly notApplicable?: ((name: string, lack: Lack) => void) | undefined
  /** The close code that goes on the wire when the session sends `code`; default: `code` itself. */
  readonly wireCloseCode?: ((code: number) => number) | undefined
  readonly peer: (options: PeerOptions) => Effect.Effect<Peer, never, Scope.Scope>
  /** Lets `duration` pass for the session's timers. */
  readonly advance: (duration: Duration.DurationInput) => Effect.Effect<void>
}

const reason = (code: number, message = "") => new CloseReason({ code, message })

const closeOf = (frame: Frame.Frame): Option.Option<CloseReason> =>
  Frame.isClose(frame) ? Frame.readReason(frame) : Option.none()

/** Reads server-side frames until one satisfies `p` (the peer may also see Pongs and Pings on the way). */
const receiveUntil = <F extends Frame.Frame>(
  server: TestEngine.ServerConnection,
  p: (frame: Frame.Frame) => frame is F
): Effect.Effect<F, TestEngine.ConnectionClosed> =>
  Effect.flatMap(server.receive, (frame) => p(frame) ? Effect.succeed(frame) : receiveUntil(server, p))

/** Binary payloads as plain Uint8Arrays (NodeEngine hands out Buffers), so frames compare structurally. */
const plain = (frame: Frame.Frame): Frame.Frame =>
  frame._tag === "Text" ? frame : { ...frame, data: new Uint8Array(frame.data) }

const collect = (session: Session.DefaultClientWebSocketSession) => collectStream(session.incoming)

const collectStream = (stream: Stream.Stream<Frame.Data, WebSocketException>) =>
  Effect.map(Stream.runCollect(stream), (frames) => Chunk.toReadonlyArray(frames).map(plain))

/** Text messages "m<from>" … "m<to - 1>". */
const numbered = (from: number, to: number): Array<Frame.Frame> =>
  Array.from({ length: to - from }, (_, i) => Frame.text(`m${from + i}`))

/** The peer sends "m0" … "m<count - 1>". */
const sendNumbered = (server: TestEngine.ServerConnection, count: number) =>
  Effect.forEach(numbered(0, count), (frame) => server.send(frame), { discard: true })

const failureOf = <A>(effect: Effect.Effect<A, WebSocketException>) =>
  Effect.flip(effect).pipe(
    Effect.tap((error) => expect(error).toBeInstanceOf(WebSocketException))
  )

/** Registers the suite for `fixture`. */
export const behaviourSuite = (fixture: EngineFixture): void => {
  const { advance, describe } = fixture
  const lacks = new Set(fixture.lacks ?? [])
  const wireCloseCode = fixture.wireCloseCode ?? ((code: number) => code)
  /** Registers a case that needs what `lack` names, or records it as not applicable. */
  const testUnless = (lack: Lack | undefined): Tester => (name, self, timeout) => {
    if (lack === undefined || !lacks.has(lack)) return fixture.test(name, self, timeout)
    if (fixture.notApplicable === undefined) throw new Error(`${fixture.name} lacks ${lack} but records no n/a`)
    fixture.notApplicable(name, lack)
  }
  /** Registers a case checking what the engine does instead, only when it lacks `lack`. */
  const testIf = (lack: Lack): Tester => (name, self, timeout) => {
    if (lacks.has(lack)) fixture.test(name, self, timeout)
  }
  const test = testUnless(undefined)
  const withStatus = testUnless("handshakeStatus")
  const afterClose = testUnless("readAfterClose")
  const pings = testUnless("pingFrames")

  /** Starts a peer, then runs `f` with a session on it, under the plugin configured with `options`. */
  const withSession = <A, E>(
    peerOptions: PeerOptions,
    options: WebSockets.Options,
    f: (
      session: Session.DefaultClientWebSocketSession,
      server: TestEngine.ServerConnection
    ) => Effect.Effect<A, E, Scope.Scope>
  ) =>
    Effect.gen(function*() {
      const peer = yield* fixture.peer(peerOptions)
      const session = yield* WebSockets.webSocketSession(peer.url).pipe(
        Effect.provide(WebSockets.layer(options).pipe(Layer.provide(peer.engine)))
      )
      const server = yield* peer.nextConnection
      return yield* f(session, server)
    })

  describe(`behaviour on ${fixture.name}`, () => {
    withStatus(
      "§2 a status other than 101: Handshake exception, expected status code 101 but was <status>",
      () =>
        Effect.gen(function*() {
          const peer = yield* fixture.peer({ refuse: 403 })
          const error = yield* failureOf(
            WebSockets.webSocket(peer.url, () => Effect.void).pipe(
              Effect.provide(WebSockets.layer().pipe(Layer.provide(peer.engine)))
            )
          )
          expect(error.reason).toBe("Handshake")
          expect(error.status).toBe(403)
          expect(error.message).toBe("Handshake exception, expected status code 101 but was 403")
        })
    )

    test("incoming delivers data frames only, whole messages in order; control frames never appear", () =>
      withSession({}, {}, (session, server) =>
        Effect.gen(function*() {
          yield* server.send("one")
          yield* server.send(new Uint8Array([1, 2, 3]))
          yield* server.send(Frame.ping(new Uint8Array([9])))
          yield* server.send(Frame.pong(new Uint8Array([8])))
          yield* server.send(Frame.text("frag", false))
          yield* server.send(Frame.text("ment"))
          yield* server.close()
          const frames = yield* collect(session)
          expect(frames).toEqual([
            Frame.text("one"),
            Frame.binary(new Uint8Array([1, 2, 3])),
            Frame.text("fragment")
          ])
        })))

    test("a Ping is answered with a Pong of the same payload", () =>
      withSession({}, {}, (session, server) =>
        Effect.gen(function*() {
          const payload = new Uint8Array([0, 1, 2, 250, 251])
          yield* server.send(Frame.ping(payload))
          const pong = yield* server.receive
          expect(pong._tag).toBe("Pong")
          expect(pong.data).toEqual(payload)
          // and the session goes on
          yield* session.send("after")
          expect(yield* server.receive).toEqual(Frame.text("after"))
        })))

    test("the peer closes: closeReason is its reason, Close is echoed, incoming ends, receive/send fail Closed", () =>
      withSession({}, {}, (session, server) =>
        Effect.gen(function*() {
          yield* server.send("last words")
          yield* server.close(reason(4001, "server bye"))
          const frames = yield* collect(session)
          expect(frames).toEqual([Frame.text("last words")])
          expect(yield* session.closeReason).toEqual(Option.some(reason(4001, "server bye")))
          const echo = yield* receiveUntil(server, Frame.isClose)
          expect(closeOf(echo)).toEqual(Option.some(reason(4001, "server bye")))
          expect((yield* failureOf(session.receive)).reason).toBe("Closed")
          expect((yield* failureOf(session.send("too late"))).reason).toBe("Closed")
        })))

    test("a peer Close without a code (1005) gives closeReason 1000 NORMAL", () =>
      withSession({}, {}, (session, server) =>
        Effect.gen(function*() {
          yield* server.send(Frame.close())
          yield* Stream.runDrain(session.incoming)
          expect(yield* session.closeReason).toEqual(Option.some(reason(1000)))
        })))

    afterClose(
      "we close: Close(r) is sent, closeReason is r, incoming delivers what was in flight, then ends",
      () =>
        withSession({ ignoreClose: true }, {}, (session, server) =>
          Effect.gen(function*() {
            const ours = reason(4000, "client done")
            yield* session.send("before")
            yield* session.close(ours)
            expect(yield* server.receive).toEqual(Frame.text("before"))
            expect(closeOf(yield* server.receive)).toEqual(Option.some(ours))
            // the peer still had these in flight when our Close reached it
            yield* server.send("in flight 1")
            yield* server.send(new Uint8Array([7]))
            yield* server.close(ours)
            const frames = yield* collect(session)
            expect(frames).toEqual([Frame.text("in flight 1"), Frame.binary(new Uint8Array([7]))])
            expect(yield* session.closeReason).toEqual(Option.some(ours))
          }))
    )

    test("sending after our close fails with Closed", () =>
      withSession({}, {}, (session) =>
        Effect.gen(function*() {
          yield* session.close()
          expect((yield* failureOf(session.send("x"))).reason).toBe("Closed")
          expect((yield* failureOf(session.send(new Uint8Array([1])))).reason).toBe("Closed")
          expect(yield* session.closeReason).toEqual(Option.some(reason(1000)))
        })))

    test("close with a code that may not be sent, or a reason over 123 bytes: InvalidCloseCode, nothing sent", () =>
      withSession({}, {}, (session, server) =>
        Effect.gen(function*() {
          for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
            const error = yield* failureOf(session.close(reason(code)))
            expect(error.reason).toBe("InvalidCloseCode")
          }
          const long = yield* failureOf(session.close(reason(1000, "é".repeat(62))))
          expect(long.reason).toBe("InvalidCloseCode")
          // nothing went out: the next frame the peer reads is this one, and the session is still open
          yield* session.send("still open")
          expect(yield* server.receive).toEqual(Frame.text("still open"))
          yield* server.send("yes")
          expect(yield* session.receive).toEqual(Frame.text("yes"))
        })))

    test("the connection drops without a Close: closeReason 1006 and incoming fails with Closed", () =>
      withSession({}, {}, (session, server) =>
        Effect.gen(function*() {
          yield* server.drop
          const error = yield* failureOf(Stream.runDrain(session.incoming))
          expect(error.reason).toBe("Closed")
          expect(yield* session.closeReason).toEqual(Option.some(reason(1006)))
          expect((yield* failureOf(session.send("x"))).reason).toBe("Closed")
        })))

    pings(
      "pings the peer answers keep the session open",
      () =>
        withSession(
          {},
          { pingInterval: "100 millis", timeout: "1 second" },
          (session, server) =>
            Effect.gen(function*() {
              yield* advance("1 second")
              yield* server.send("alive")
              expect(yield* session.receive).toEqual(Frame.text("alive"))
              const ping = yield* server.receive
              expect(ping._tag).toBe("Ping")
            })
        )
    )

    pings(
      "no Pong within timeout: Close(1011 Ping timeout) sent, closeReason is it, incoming fails PingTimeout",
      () =>
        withSession(
          { ignorePings: true },
          { pingInterval: "100 millis", timeout: "200 millis" },
          (session, server) =>
            Effect.gen(function*() {
              const drained = yield* Effect.fork(Effect.flip(Stream.runDrain(session.incoming)))
              yield* advance("100 millis")
              yield* advance("200 millis")
              const error = yield* Fiber.join(drained)
              expect(error).toBeInstanceOf(WebSocketException)
              expect(error.reason).toBe("PingTimeout")
              expect(yield* session.closeReason).toEqual(Option.some(reason(1011, "Ping timeout")))
              expect((yield* server.receive)._tag).toBe("Ping")
              const close = yield* receiveUntil(server, Frame.isClose)
              expect(closeOf(close)).toEqual(Option.some(reason(1011, "Ping timeout")))
            })
        )
    )

    test("a consumer that stops early loses nothing: Stream.runHead(incoming), then receive gets the next messages", () =>
      withSession({}, {}, (session, server) =>
        Effect.gen(function*() {
          yield* sendNumbered(server, 100)
          const head = yield* Stream.runHead(session.incoming)
          expect(Option.map(head, plain)).toEqual(Option.some(Frame.text("m0")))
          const rest: Array<Frame.Frame> = []
          for (let i = 1; i < 100; i++) rest.push(plain(yield* session.receive))
          expect(rest).toEqual(numbered(1, 100))
        })))

    test("a consumer that stops early loses nothing: take(1), then take(99) gets the other 99 in order", () =>
      withSession({}, {}, (session, server) =>
        Effect.gen(function*() {
          yield* sendNumbered(server, 100)
          const first = yield* collectStream(Stream.take(session.incoming, 1))
          const next = yield* collectStream(Stream.take(session.incoming, 99))
          expect(first).toEqual(numbered(0, 1))
          expect(next).toEqual(numbered(1, 100))
        })))

    test("a runForEach interrupted mid-stream loses nothing: a new consumer sees every remaining message in order", () =>
      withSession({}, {}, (session, server) =>
        Effect.gen(function*() {
          yield* sendNumbered(server, 100)
          const seen: Array<Frame.Frame> = []
          const tenth = yield* Deferred.make<void>()
          const consumer = yield* Effect.fork(
            Stream.runForEach(session.incoming, (frame) => {
              seen.push(plain(frame))
              // the tenth message is the last one it is given: it stops there until interrupted
              return seen.length === 10
                ? Effect.zipRight(Deferred.succeed(tenth, undefined), Effect.never)
                : Effect.void
            })
          )
          yield* Deferred.await(tenth)
          yield* Fiber.interrupt(consumer)
          const next = yield* collectStream(Stream.take(session.incoming, 90))
          expect([...seen, ...next]).toEqual(numbered(0, 100))
        })))

    test("a message larger than maxFrameSize: Close(1009) is sent, closeReason 1009, incoming fails FrameTooBig", () =>
      withSession({}, { maxFrameSize: 1024 }, (session, server) =>
        Effect.gen(function*() {
          yield* server.send(new Uint8Array(1024).fill(1))
          yield* server.send(new Uint8Array(1025).fill(2))
          expect(plain(yield* session.receive)).toEqual(Frame.binary(new Uint8Array(1024).fill(1)))
          const error = yield* failureOf(session.receive)
          expect(error.reason).toBe("FrameTooBig")
          expect(yield* session.closeReason).toEqual(Option.some(reason(1009)))
          const close = yield* receiveUntil(server, Frame.isClose)
          expect(Option.map(closeOf(close), (r) => r.code)).toEqual(Option.some(wireCloseCode(1009)))
        })))

    // What an engine does instead of the rules it cannot keep (docs/BrowserEngine.md).

    testIf("handshakeStatus")(
      "a refused upgrade whose status the runtime hides: Connect, with no status",
      () =>
        Effect.gen(function*() {
          const peer = yield* fixture.peer({ refuse: 403 })
          const error = yield* failureOf(
            WebSockets.webSocket(peer.url, () => Effect.void).pipe(
              Effect.provide(WebSockets.layer().pipe(Layer.provide(peer.engine)))
            )
          )
          expect(error.reason).toBe("Connect")
          expect(error.status).toBeUndefined()
        })
    )

    testIf("pingFrames")(
      "without Ping frames: a pingInterval fails with Capability, nothing connected",
      () =>
        Effect.gen(function*() {
          const peer = yield* fixture.peer({})
          const error = yield* failureOf(
            WebSockets.webSocket(peer.url, () => Effect.void).pipe(
              Effect.provide(WebSockets.layer({ pingInterval: "100 millis" }).pipe(Layer.provide(peer.engine)))
            )
          )
          expect(error.reason).toBe("Capability")
          expect(error.message).toContain("pingInterval")
        })
    )

    testIf("pingFrames")(
      "no Ping frames: sending a Ping or Pong fails with Capability; peer Pings are answered",
      () =>
        withSession({}, {}, (session, server) =>
          Effect.gen(function*() {
            expect((yield* failureOf(session.send(Frame.ping(new Uint8Array([1]))))).reason).toBe("Capability")
            expect((yield* failureOf(session.send(Frame.pong(new Uint8Array([1]))))).reason).toBe("Capability")
            // the runtime answers the peer's Pings by itself
            yield* server.send(Frame.ping(new Uint8Array([4, 2])))
            const pong = yield* server.receive
            expect(pong._tag).toBe("Pong")
            expect(pong.data).toEqual(new Uint8Array([4, 2]))
            yield* session.send("still open")
            expect(yield* server.receive).toEqual(Frame.text("still open"))
          }))
    )

    testIf("readAfterClose")(
      "we close: Close(r) is sent, closeReason is r, incoming ends once the peer answers",
      () =>
        withSession({ ignoreClose: true }, {}, (session, server) =>
          Effect.gen(function*() {
            const ours = reason(4000, "client done")
            yield* session.send("before")
            yield* session.close(ours)
            expect(yield* server.receive).toEqual(Frame.text("before"))
            expect(closeOf(yield* server.receive)).toEqual(Option.some(ours))
            // the runtime drops what the peer still sends, but the session ends as it should
            yield* server.send("in flight")
            yield* server.close(ours)
            yield* collect(session)
            expect(yield* session.closeReason).toEqual(Option.some(ours))
            expect((yield* failureOf(session.send("x"))).reason).toBe("Closed")
          }))
    )
  })

  // Where TestEngine once differed from a real peer (README: Testing your code with TestEngine): both engines are held
  // to the same outcome here so that they cannot drift apart again.
  describe(`a peer's fidelity on ${fixture.name}`, () => {
    const violations = testUnless("peerViolations")
    /** Starts a peer with `peerOptions` and runs `f` under the plugin that reaches it. */
    const withPeer = <A, E>(
      peerOptions: PeerOptions,
      f: (peer: Peer) => Effect.Effect<A, E, WebSockets.WebSockets | Scope.Scope>
    ) =>
      Effect.gen(function*() {
        const peer = yield* fixture.peer(peerOptions)
        return yield* f(peer).pipe(Effect.provide(WebSockets.layer().pipe(Layer.provide(peer.engine))))
      })

    test("a script's wrong expect, made after the client closed, fails the run", () =>
      Effect.gen(function*() {
        const handler = (server: TestEngine.ServerConnection) =>
          Effect.gen(function*() {
            const frames = Chunk.toReadonlyArray(yield* Stream.runCollect(server.incoming)).filter(Frame.isData)
            expect(frames.map(Frame.readText)).toEqual(["one", "two", "three"])
          })
        const exit = yield* Effect.exit(
          Effect.scoped(withPeer({ handler }, (peer) =>
            WebSockets.webSocket(peer.url, (session) =>
              Effect.zipRight(session.send("one"), session.send("two")))))
        )
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          expect(Cause.pretty(exit.cause)).toContain("three")
        }
      }))

    test("a script reading past the end gets ConnectionClosed, and its loop ending so does not fail the run", () =>
      Effect.gen(function*() {
        let ended: TestEngine.ConnectionClosed | undefined
        const handler = (server: TestEngine.ServerConnection) =>
          Effect.forever(
            Effect.flatMap(server.receive, (frame) => Frame.isData(frame) ? server.send(frame) : Effect.void)
          ).pipe(Effect.tapError((error) => Effect.sync(() => (ended = error))))
        const echoed = yield* Effect.scoped(
          withPeer(
            { handler },
            (peer) => WebSockets.webSocket(peer.url, (session) => Effect.zipRight(session.send("a"), session.receive))
          )
        )
        expect(plain(echoed)).toEqual(Frame.text("a"))
        expect(ended?._tag).toBe("ConnectionClosed")
        expect(ended?.initiator).toBe("client")
      }))

    test("a request/response loop lets timers fire: timeoutOption(200 millis) ends it within a second", () =>
      Effect.gen(function*() {
        let ticks = 0
        const interval = setInterval(() => ticks++, 10)
        const [result, elapsed] = yield* Effect.scoped(
          withPeer({ handler: echoScript }, (peer) =>
            WebSockets.webSocket(peer.url, (session) =>
              Effect.suspend(() => {
                const start = Date.now()
                return Effect.forever(
                  Effect.zipRight(
                    Effect.zipRight(session.send("ping"), session.receive),
                    // a regression fails here after 5 s instead of hanging the run
                    Effect.suspend(() => Date.now() - start > 5_000 ? Effect.fail("starved" as const) : Effect.void)
                  )
                ).pipe(
                  Effect.timeoutOption("200 millis"),
                  Effect.map((result) => [result, Date.now() - start] as const)
                )
              })))
        ).pipe(Effect.withClock(Clock.make()), Effect.ensuring(Effect.sync(() => clearInterval(interval))))
        expect(Option.isNone(result)).toBe(true)
        expect(elapsed).toBeLessThan(1_000)
        expect(ticks).toBeGreaterThanOrEqual(3)
      }))

    test("the peer going away (its scope released) ends the session with 1006 and send fails with Closed", () =>
      Effect.gen(function*() {
        const peerScope = yield* Scope.make()
        const peer = yield* fixture.peer({}).pipe(Scope.extend(peerScope))
        const session = yield* WebSockets.webSocketSession(peer.url).pipe(
          Effect.provide(WebSockets.layer().pipe(Layer.provide(peer.engine)))
        )
        yield* peer.nextConnection
        yield* Scope.close(peerScope, Exit.void)
        expect(yield* session.closeReason).toEqual(Option.some(reason(1006)))
        expect((yield* failureOf(session.send("anyone?"))).reason).toBe("Closed")
        expect((yield* failureOf(Stream.runDrain(session.incoming))).reason).toBe("Closed")
      }))

    test("a drop after a slow consumer: everything received before it is delivered, then 1006", () =>
      withSession({}, {}, (session, server) =>
        Effect.gen(function*() {
          // 1.2 MiB: more than the session buffers before it stops reading (1 MiB), little enough for the
          // socket buffers of a loopback connection; 300 messages, so that a remote peer needs few commands
          const count = 300
          const body = "x".repeat(4096)
          for (let i = 0; i < count; i++) yield* server.send(`${i}:${body}`)
          yield* server.drop
          const received: Array<string> = []
          const error = yield* failureOf(
            Stream.runForEach(session.incoming, (frame) => Effect.sync(() => received.push(Frame.readText(frame))))
          )
          expect(received.length).toBe(count)
          expect(received.every((text, i) => text === `${i}:${body}`)).toBe(true)
          expect(error.reason).toBe("Closed")
          expect(yield* session.closeReason).toEqual(Option.some(reason(1006)))
        })))

    violations(
      "an invalid UTF-8 close reason: Close(1007) is sent, incoming fails with Protocol",
      () =>
        withSession({}, {}, (session, server) =>
          Effect.gen(function*() {
            yield* server.send({ _tag: "Close", fin: true, data: new Uint8Array([0x03, 0xe8, 0xc3, 0x28]) })
            const error = yield* failureOf(Stream.runDrain(session.incoming))
            expect(error.reason).toBe("Protocol")
            expect(yield* session.closeReason).toEqual(Option.some(reason(1007)))
            const close = yield* receiveUntil(server, Frame.isClose)
            expect(Option.map(closeOf(close), (r) => r.code)).toEqual(Option.some(1007))
          }))
    )

    violations(
      "invalid UTF-8 in a Text message: Close(1007) is sent, incoming fails with Protocol",
      () =>
        withSession({}, {}, (session, server) =>
          Effect.gen(function*() {
            yield* server.send("fine")
            yield* server.send(Frame.text("broken \uD800"))
            expect(yield* session.receive).toEqual(Frame.text("fine"))
            const error = yield* failureOf(session.receive)
            expect(error.reason).toBe("Protocol")
            expect(yield* session.closeReason).toEqual(Option.some(reason(1007)))
            const close = yield* receiveUntil(server, Frame.isClose)
            expect(Option.map(closeOf(close), (r) => r.code)).toEqual(Option.some(1007))
          }))
    )
  })
}

/** Sends every data frame back (TestEngine.echo, spelled out so that the suite does not lean on it). */
const echoScript = (server: TestEngine.ServerConnection) =>
  Stream.runForEach(Stream.filter(server.incoming, Frame.isData), (frame) => server.send(frame))
