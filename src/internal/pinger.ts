/**
 * The pinger: the whole ping rule, and the only fiber a session owns. Every `pingInterval` it sends a Ping with a
 * fresh random payload (src/core/pingPong.ts); no matching Pong within `timeout` is a ping timeout. On a ping
 * timeout the session sends Close(1011, "Ping timeout"), `incoming` / `receive` fail with `PingTimeout`, and when
 * the scope closes the session does not wait for the peer's Close (the peer is presumed gone: the transport is
 * dropped at once); the core decides those three in `pingTimedOut` and `closeWait`, this file decides when.
 *
 * Liveness is judged on what arrives: while we ourselves have paused reading (a slow consumer, Pongs we owe above
 * the write mark) the peer's Pong may sit unread behind data, so a timeout then is no verdict: the wait starts
 * afresh once reading has resumed, and after any pause during the wait. The timers are Effect's (`Effect.sleep`,
 * `Effect.timeout`), so `TestClock` drives them; the fiber stops as soon as the session ends.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Core from "../core/session.js"
import { coreWait, type State } from "./sessionState.js"

/** Sends a Ping and waits for its Pong (or the end); fails with NoSuchElement when the session is not open. */
const pingAndAwaitPong = (state: State) =>
  Effect.async<boolean>((resume) => {
    const waiter = ((effect: Effect.Effect<void>) => resume(Effect.as(effect, true))) as unknown as Core.Waiter
    if (!state.ping(waiter)) return resume(Effect.succeed(false))
    return Effect.sync(() => state.cancelPongWait())
  })

/** Waits again for the outstanding Ping's Pong (at once when it has come meanwhile, or the session has ended). */
const awaitPong = (state: State) => coreWait((waiter) => state.waitForPong(waiter), () => state.cancelPongWait())

/** Waits until reading resumes (at once when it is not paused). */
const awaitResume = (state: State) => coreWait((waiter) => state.waitForResume(waiter), () => state.cancelResumeWait())

/** The pinger of one session, to be forked in its scope (it returns when the session ends). */
export const pinger = (state: State, interval: Duration.Duration, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    while (state.phase === "Open") {
      yield* Effect.sleep(interval)
      let pauses = state.pauses
      const sent = yield* pingAndAwaitPong(state).pipe(Effect.timeout(timeout), Effect.option)
      if (Option.isSome(sent) && !sent.value) return
      let answered = Option.isSome(sent)
      while (!answered && state.phase === "Open") {
        if (state.paused) {
          yield* awaitResume(state)
        } else if (state.pauses === pauses) {
          return state.pingTimedOut()
        }
        pauses = state.pauses
        answered = Option.isSome(yield* awaitPong(state).pipe(Effect.timeout(timeout), Effect.option))
      }
    }
  })
