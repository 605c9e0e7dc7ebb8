/**
 * No URL password in any printed form of a session (README: Connecting): sessions are Inspectable and show only the
 * redacted url, the phase, the protocol and the extensions; `session.call.url` has no password; engine objects are
 * not enumerable.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as util from "node:util"
import { TestEngine, WebSockets } from "../src/index.js"
import { live } from "./helpers/layers.js"
import { server } from "./helpers/wsServer.js"

const password = "pa55-Wörd s3cret"
const encoded = encodeURIComponent(password)
const token = "t0ken-v4lue-s3cret"

/** Fails unless `text` holds neither the password (raw or percent-encoded) nor the Redacted header value. */
const expectClean = (what: string, text: string) => {
  expect(text, what).not.toContain(password)
  expect(text, what).not.toContain(encoded)
  expect(text, what).not.toContain("s3cret")
  expect(text, what).not.toContain(token)
}

/** A Console that records what the loggers print, as Node would print it. */
const capturingConsole = (lines: Array<string>) => {
  const record = (...args: ReadonlyArray<unknown>) => {
    lines.push(args.map((a) => typeof a === "string" ? a : util.inspect(a, { depth: 10 })).join(" "))
  }
  return new Proxy(globalThis.console, {
    get: (target, key) =>
      key === "log" || key === "error" || key === "info" || key === "warn" || key === "debug" ||
        key === "group" || key === "trace"
        ? record
        : key === "groupEnd"
        ? () => {}
        : Reflect.get(target, key)
  })
}

describe("sessions print no secrets", () => {
  it.scopedLive("util.inspect, String, JSON.stringify of the session and of session.call; Object.keys; spread", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const url = srv.url("/room?x=1").replace("ws://", `ws://alice:${encoded}@`)
      const session = yield* WebSockets.webSocketSession({
        url,
        headers: { "x-token": Redacted.make(token) }
      }).pipe(Effect.provide(live()))
      // the password did reach the server (Basic auth)
      const auth = srv.connections[0]!.request.headers.authorization!
      expect(Buffer.from(auth.replace("Basic ", ""), "base64").toString()).toBe(`alice:${password}`)

      const forms: Record<string, string> = {
        "util.inspect(session)": util.inspect(session),
        "util.inspect(session, deep)": util.inspect(session, { depth: Infinity, getters: true }),
        "String(session)": String(session),
        "JSON.stringify(session)": JSON.stringify(session),
        "Inspectable.toStringUnknown(session)": Inspectable.toStringUnknown(session),
        "util.inspect(session.call)": util.inspect(session.call, { depth: Infinity }),
        "String(session.call.url)": String(session.call.url),
        "JSON.stringify(session.call)": JSON.stringify(session.call),
        "util.inspect({ ...session })": util.inspect({ ...session }, { depth: 4 }),
        "Object.keys(session)": Object.keys(session).join(",")
      }
      for (const [what, text] of Object.entries(forms)) expectClean(what, text)

      // only safe facts, in Effect's Inspectable shape
      expect(session.toString()).toBe(Inspectable.format(session.toJSON()))
      expect(session.toJSON()).toEqual({
        _id: "effect-websockets/Session",
        url: `ws://alice:<redacted>@127.0.0.1:${srv.port}/room?x=1`,
        phase: "Open",
        protocol: "",
        extensions: ""
      })
      expect(util.inspect(session)).toContain("<redacted>")
      expect(util.inspect(session)).not.toContain("%3C")
      // the engine's objects (the ws instance, its socket) are not enumerable and not printed
      expect(Object.keys(session)).not.toContain("connection")
      expect(Object.keys(session)).not.toContain("url")
      expect(util.inspect(session, { depth: Infinity })).not.toMatch(/_socket|WebSocket \{|_sender|Socket \{/)
      // the call keeps the user name, host, path and query; only the password is gone
      expect(session.call.url.password).toBe("")
      expect(session.call.url.username).toBe("alice")
      expect(session.call.url.href).toBe(`ws://alice@127.0.0.1:${srv.port}/room?x=1`)

      yield* session.close()
      yield* session.closeReason
      expect((session.toJSON() as { phase: string }).phase).toBe("Ended")
    }))

  it.scopedLive("Effect.log of a session (and of its call) through Effect's loggers", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const session = yield* WebSockets.webSocketSession(srv.url("/").replace("ws://", `ws://bob:${encoded}@`))
        .pipe(Effect.provide(live()))
      const current = yield* Effect.console
      const loggers = {
        stringLogger: Logger.stringLogger,
        logfmtLogger: Logger.logfmtLogger,
        jsonLogger: Logger.jsonLogger,
        structuredLogger: Logger.structuredLogger
      }
      for (const [name, logger] of Object.entries(loggers)) {
        const lines: Array<string> = []
        const capture = Logger.map(logger as Logger.Logger<unknown, unknown>, (out) => {
          lines.push(typeof out === "string" ? out : util.inspect(out, { depth: 10 }))
        })
        yield* Effect.log("session", session, session.call).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, capture))
        )
        expect(lines.length, name).toBe(1)
        expectClean(name, lines[0]!)
        expect(lines[0], name).toContain("bob:<redacted>@")
      }
      // the default and the pretty logger print through the Console service
      for (const logger of [Logger.defaultLogger, Logger.prettyLoggerDefault]) {
        const lines: Array<string> = []
        yield* Effect.log("session", session, session.call).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
          Effect.withConsole({ ...current, unsafe: capturingConsole(lines) })
        )
        expect(lines.length).toBeGreaterThan(0)
        for (const line of lines) expectClean("console line", line)
        expect(lines.join("\n")).toContain("bob:<redacted>@")
      }
    }))

  it.scopedLive("Cause.pretty of a failure that holds the session carries no secret", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const session = yield* WebSockets.webSocketSession(srv.url("/").replace("ws://", `ws://carol:${encoded}@`))
        .pipe(Effect.provide(live()))
      const pretty = Cause.pretty(Cause.fail({ session, call: session.call }))
      expectClean("Cause.pretty", pretty)
      const died = Cause.pretty(Cause.die(session))
      expectClean("Cause.pretty(die)", died)
    }))

  it.effect("a TestEngine session prints the same safe facts", () =>
    Effect.gen(function*() {
      const session = yield* WebSockets.webSocketSession(`ws://dave:${encoded}@chat.test/room`)
      const forms = [util.inspect(session), String(session), JSON.stringify(session), util.inspect(session.call)]
      for (const text of forms) expectClean("TestEngine session", text)
      expect(session.toJSON()).toEqual({
        _id: "effect-websockets/Session",
        url: "ws://dave:<redacted>@chat.test/room",
        phase: "Open",
        protocol: "",
        extensions: ""
      })
    }).pipe(
      Effect.scoped,
      Effect.provide(WebSockets.layer().pipe(Layer.provideMerge(TestEngine.layer({ handler: () => Effect.never }))))
    ))

  it.scopedLive("a reconnecting session prints a few safe facts, not its members, and no secret", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const url = srv.url("/").replace("ws://", `ws://erin:${encoded}@`)
      const session = yield* WebSockets.reconnecting({ url, headers: { "x-token": Redacted.make(token) } }, {
        schedule: Schedule.spaced("10 millis")
      }).pipe(Effect.provide(live()))
      const forms = [
        util.inspect(session, { depth: Infinity }),
        String(session),
        JSON.stringify(session),
        Inspectable.toStringUnknown(session)
      ]
      for (const text of forms) expectClean("reconnecting session", text)
      expect(session.toString()).toBe(Inspectable.format(session.toJSON()))
      expect(util.inspect(session)).not.toContain("Stream")
      const phase = () => (session.toJSON() as { _id: string; phase: string })
      expect(phase()._id).toBe("effect-websockets/ReconnectingSession")
      expect(["Reconnecting", "Open"]).toContain(phase().phase)
      yield* session.close()
      yield* session.closeReason
      expect(phase().phase).toBe("Closed")
    }))
})
