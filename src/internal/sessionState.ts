/**
 * The session core (src/core/session.ts) bound to Effect: how a waiter is woken (`resume(Effect.void)` of an
 * `Effect.async`), the Effects that wait on the core (a message, the session's end, the transport's end), each with
 * a canceler so that an interrupted waiter leaves nothing behind, and the one place where the core's plain values
 * become `CloseReason` and `WebSocketException`: `closeReason` and `error` are mapped once, when the session ends.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { CloseReason, normal } from "../CloseReason.js"
import * as Core from "../core/session.js"
import type * as Engine from "../Engine.js"
import { WebSocketException } from "../Errors.js"
import type { Observer } from "./observer.js"

type Resume = (effect: Effect.Effect<void>) => void

/** A core reason as a `CloseReason`: the user's own instance when it was one, no copy of the normal reason. */
export const toCloseReason = (reason: Core.Reason): CloseReason =>
  reason instanceof CloseReason ? reason : reason === Core.NORMAL ? normal : new CloseReason(reason)

/** One session's state: the core, plus what it ended with in Effect's terms. */
export class State extends Core.SessionCore {
  declare transport: Engine.Connection | undefined
  /** observability (observer.ts): spans and metrics; undefined for a session opened without the plugin */
  declare observer: Observer | undefined
  /** `closeReason`'s value once the session has ended. */
  closeReason: Option.Option<CloseReason> = Option.none()
  /** Why `incoming` and `receive` fail, when the session ended in error. */
  error: WebSocketException | undefined = undefined

  constructor(
    /** The ping timeout, for the PingTimeout message. */
    readonly pingTimeout: Duration.Duration
  ) {
    super()
  }

  protected override wakeUp(waiter: Core.Waiter): void {
    ;(waiter as unknown as Resume)(Effect.void)
  }

  protected override onEnded(): void {
    const reason = this.endReason
    const closeReason = reason === undefined ? undefined : toCloseReason(reason)
    this.closeReason = Option.fromNullable(closeReason)
    const failure = this.failure
    if (failure !== undefined) {
      // the failure's reason is the end reason: one CloseReason for both
      const failureReason = failure.kind === "Abnormal" ? failure.reason : failure.sent
      const sent = failureReason === reason ? closeReason! : toCloseReason(failureReason)
      this.error = failure.kind === "Violation"
        ? WebSocketException.violation(failure.violation, failure.message, sent)
        : failure.kind === "PingTimeout"
        ? WebSocketException.pingTimeout(sent, this.pingTimeout)
        : WebSocketException.abnormalClosure(sent)
    }
    if (this.observer !== undefined) this.observer.end(this.closeReason, this.error) // observability
  }

  /** The error of an operation on a session that is closing or over. */
  notOpen(): WebSocketException {
    if (this.phase === "Ended") return WebSocketException.closed(this.closeReason)
    const sent = this.sentReason
    return WebSocketException.closed(sent === undefined ? undefined : toCloseReason(sent))
  }

  /** A refused write or close, as the error the caller sees. */
  writeError(error: Core.WriteError): WebSocketException {
    switch (error.kind) {
      case "NotOpen":
        return this.notOpen()
      case "Protocol":
        return WebSocketException.protocol(error.message)
      case "Capability":
        return WebSocketException.capability(error.operation, `it lacks ${error.missing}`)
      case "InvalidCloseCode":
        return WebSocketException.invalidCloseCode(error.message)
    }
  }

  /** How the queue ended, once it has (messages may still be queued): `incoming` ends or fails with it. */
  get queueEnd(): Exit.Exit<void, WebSocketException> | undefined {
    if (this.phase !== "Ended") return undefined
    return this.error === undefined ? Exit.void : Exit.fail(this.error)
  }
}

/**
 * An `Effect.async` over one of the core's waits: `register` declines (false) when there is nothing to wait for, and
 * `cancel` unregisters the waiter of an interrupted fiber, so that it leaves nothing behind. The core wakes the waiter
 * with `wakeUp` above.
 */
export const coreWait = (
  register: (waiter: Core.Waiter) => boolean,
  cancel: (waiter: Core.Waiter) => void
): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const waiter = resume as unknown as Core.Waiter
    if (!register(waiter)) return resume(Effect.void)
    return Effect.sync(() => cancel(waiter))
  })

/** Waits until a message is queued or the session has ended (at once if either is already the case). */
export const awaitMessage = (state: State): Effect.Effect<void> =>
  coreWait((waiter) => state.waitForMessage(waiter), (waiter) => state.cancelMessageWait(waiter))

/** Waits for the session's end; its value is `closeReason`'s. */
export const awaitEnd = (state: State): Effect.Effect<Option.Option<CloseReason>> => {
  const wait = coreWait((waiter) => state.waitForEnd(waiter), (waiter) => state.cancelEndWait(waiter))
  const read = Effect.sync(() => state.closeReason)
  return Effect.suspend(() => state.phase === "Ended" ? Exit.succeed(state.closeReason) : Effect.zipRight(wait, read))
}

/** Waits for the end of the session's transport. */
export const awaitTransportClosed = (state: State): Effect.Effect<void> =>
  coreWait((waiter) => state.waitForTransportClosed(waiter), (waiter) => state.cancelTransportClosedWait(waiter))
