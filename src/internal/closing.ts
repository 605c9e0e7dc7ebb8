/**
 * Closing when the scope ends, and the close-handshake wait: where the 5 s (`CLOSE_HANDSHAKE_TIMEOUT_MS`) is
 * spent. A session's finalizer sends its Close (`SessionCore.release`) and the session then waits for the peer's
 * Close, at most the close-handshake timeout, as an Effect timer (so `TestClock` drives it); the transports still
 * open after it are dropped. How long to wait is the core's answer (`closeWait`): nothing when the transport is over
 * already or after a ping timeout.
 *
 * Effect runs a scope's finalizers one after the other, so a session that waited in its own finalizer would make
 * N sessions take N waits. Instead each session's finalizer only sends its Close (at once, in the usual order), and
 * one finalizer per scope (the close group), registered before the first session's so that it runs after all of
 * theirs, waits for all of them together: at most one close-handshake wait in all.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Core from "../core/session.js"
import { awaitTransportClosed, type State } from "./sessionState.js"

/** The sessions of one scope whose close handshakes are under way. */
class Closing {
  pending: Array<State> = []
  /** The scope's waiting finalizer has run: a session released after it (parallel finalizers) waits on its own. */
  started = false
}

const closingOf = new WeakMap<Scope.Scope, Closing>()

/** The close group of `scope`, made (with its finalizer) for the scope's first session. */
export const closingFor = (scope: Scope.Scope): Effect.Effect<Closing> =>
  Effect.suspend(() => {
    const existing = closingOf.get(scope)
    if (existing !== undefined) return Effect.succeed(existing)
    const closing = new Closing()
    closingOf.set(scope, closing)
    return Effect.as(Scope.addFinalizer(scope, awaitClosing(closing)), closing)
  })

/**
 * The session's finalizer, made outside the session's constructor so that it keeps only `state` and the group
 * alive: a closure made there would keep its whole scope (the `connect` function and, through it, the plugin's
 * request) for the session's life.
 */
export const releaser = (state: State, closing: Closing) => () =>
  Effect.suspend(() => {
    if (state.release(Core.NORMAL) === 0) return Effect.void
    if (closing.started) return awaitClose([state])
    closing.pending.push(state)
    return Effect.void
  })

/** The group's finalizer: waits for the Close of every session released so far. */
const awaitClosing = (closing: Closing) =>
  Effect.suspend(() => {
    const states = closing.pending
    closing.pending = []
    closing.started = true
    return awaitClose(states)
  })

/**
 * Waits (at most the close-handshake timeout in all) for the peer's Close on each of `states` together, then drops
 * the transports still open. Interrupting the wait (a timeout around `webSocket`) drops them at once.
 */
const awaitClose = (states: ReadonlyArray<State>) =>
  Effect.suspend(() => {
    const waiting: Array<State> = []
    let wait = 0
    for (const state of states) {
      const ms = state.closeWait()
      if (ms > 0) {
        waiting.push(state)
        wait = Math.max(wait, ms)
      }
    }
    // a reader woken by the end of its session runs before the scope's owner goes on (and interrupts it)
    if (waiting.length === 0) return Effect.yieldNow()
    const closed = waiting.length === 1
      ? awaitTransportClosed(waiting[0]!)
      : Effect.forEach(waiting, awaitTransportClosed, { concurrency: "unbounded", discard: true })
    // finalizers are uninterruptible: without `interruptible` neither the timeout nor the caller could cut the wait
    return closed.pipe(
      Effect.interruptible,
      Effect.timeoutOption(Duration.millis(wait)),
      Effect.ensuring(Effect.sync(() => waiting.forEach((state) => state.drop()))),
      Effect.zipRight(Effect.yieldNow())
    )
  })
