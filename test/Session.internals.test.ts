/**
 * Pins the invariants two optimisations of the session object rely on (the README's "Performance" section):
 *
 * - lazy members: an idle session builds none of its members (`incoming`, `receive`, `send`, …) until one is
 *   touched, and each getter returns the same object every time;
 * - the queue's fast path: a message already queued is taken without suspending the fiber, so `receive` on a
 *   non-empty queue completes inside one `Effect.runSync`.
 *
 * The engine here is a fake that hands the test the session's listener, so messages arrive synchronously.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { Engine, Frame, type Session, WebSockets } from "../src/index.js"

/** A connection that records what it is told; its Close is answered at once. */
const fakeConnection = (listener: Engine.Listener, sent: Array<unknown>): Engine.Connection => ({
  handshake: { status: 101, headers: {}, protocol: "", extensions: "" },
  send: (data, _fin, onWritten) => {
    sent.push(data)
    onWritten?.()
  },
  ping: () => {},
  pong: () => {},
  close: (code, reason) => listener.onClose(code, reason),
  terminate: () => listener.onClose(1006, ""),
  pause: () => {},
  resume: () => {},
  bufferedAmount: () => 0,
  flush: (onDrained) => onDrained()
})

/** Opens a session on the fake engine inside `scope`, synchronously; returns it with its listener. */
const openSession = (scope: Scope.CloseableScope) => {
  const listeners: Array<Engine.Listener> = []
  const sent: Array<unknown> = []
  const engine = Layer.succeed(Engine.Engine, {
    name: "fake",
    capabilities: Engine.allCapabilities,
    connect: (_request, listener) =>
      Effect.sync(() => {
        listeners.push(listener)
        const connection = fakeConnection(listener, sent)
        listener.onOpen(connection)
        return connection
      })
  })
  const session = Effect.runSync(
    WebSockets.webSocketSession("ws://fake.test/").pipe(
      Effect.provide(WebSockets.layer().pipe(Layer.provide(engine))),
      Scope.extend(scope)
    )
  )
  return { session, listener: listeners[0]!, sent }
}

const members = (session: Session.DefaultClientWebSocketSession): unknown =>
  (session as unknown as { readonly members: unknown }).members

describe("the session object's optimisations", () => {
  it("an idle session builds none of its members until one is touched (printing it builds none either)", () => {
    const scope = Effect.runSync(Scope.make())
    const { session } = openSession(scope)
    expect(members(session)).toBeUndefined()
    expect(String(session)).toContain("fake.test")
    expect(members(session)).toBeUndefined()
    void session.receive
    expect(members(session)).toBeDefined()
    Effect.runSync(Scope.close(scope, Exit.void))
  })

  it("each member getter returns the same object every time", () => {
    const scope = Effect.runSync(Scope.make())
    const { session } = openSession(scope)
    const names = [
      "call",
      "incoming",
      "incomingChunked",
      "outgoing",
      "send",
      "receive",
      "flush",
      "close",
      "closeReason",
      "sendSerialized",
      "receiveDeserialized"
    ] as const
    for (const name of names) {
      expect(session[name], name).toBe(session[name])
    }
    Effect.runSync(Scope.close(scope, Exit.void))
  })

  it("receive on a non-empty queue completes inside one Effect.runSync (no suspension); on an empty one it cannot", () => {
    const scope = Effect.runSync(Scope.make())
    const { listener, session } = openSession(scope)
    listener.onMessage("queued")
    listener.onMessage(new Uint8Array([1, 2]))
    expect(Effect.runSync(session.receive)).toEqual(Frame.text("queued"))
    expect(Effect.runSync(session.receive)).toEqual(Frame.binary(new Uint8Array([1, 2])))
    // nothing queued: the fiber has to suspend, which runSync refuses
    expect(Exit.isFailure(Effect.runSyncExit(session.receive))).toBe(true)
    Effect.runSync(Scope.close(scope, Exit.void))
  })

  it("receive on a non-empty queue takes the message without registering a waiter (no Effect.async)", async () => {
    const scope = Effect.runSync(Scope.make())
    const { listener, session } = openSession(scope)
    const state = (session as unknown as Record<symbol, { waitForMessage: (waiter: unknown) => boolean }>)[
      Symbol.for("effect-websockets/Session/state")
    ]!
    let waits = 0
    const original = state.waitForMessage.bind(state)
    state.waitForMessage = (waiter) => {
      waits++
      return original(waiter)
    }
    listener.onMessage("a")
    listener.onMessage("b")
    Effect.runSync(Effect.zip(session.receive, session.receive))
    expect(waits).toBe(0)
    // the slow path does wait: the counter sees it
    const fiber = Effect.runFork(session.receive)
    listener.onMessage("c")
    expect(Frame.readText(await Effect.runPromise(Fiber.join(fiber)))).toBe("c")
    expect(waits).toBe(1)
    Effect.runSync(Scope.close(scope, Exit.void))
  })

  it("send below the write mark completes inside one Effect.runSync, and the frame reaches the connection", () => {
    const scope = Effect.runSync(Scope.make())
    const { sent, session } = openSession(scope)
    Effect.runSync(session.send("out"))
    expect(sent).toEqual(["out"])
    Effect.runSync(Scope.close(scope, Exit.void))
  })
})
