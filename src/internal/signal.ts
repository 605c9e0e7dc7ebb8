/**
 * A value set once that fibers can wait for: what a session needs of `Deferred` (its end, the end of its transport)
 * at a fraction of the memory. Every `Deferred` gets an object shape of its own (it is built by spreading a
 * prototype and adding a method), which costs about 0.6 KiB per instance; a session has two of them for its whole
 * life, and idle sessions are mostly this kind of bookkeeping.
 *
 * Nothing is allocated until somebody waits. Waits register no canceler (that would wrap each wait in
 * `onInterrupt`); an interrupted waiter stays in the list until the value arrives, where Effect ignores its second
 * resume, and a full list is woken early (each waiter checks again and waits anew) so interrupted waits cannot
 * pile up.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/** Waiters kept before all of them are woken to check again. */
const MAX_WAITERS = 32

type Waiter = (effect: Effect.Effect<void>) => void

export class Signal<A> {
  private done = false
  private value: A | undefined = undefined
  private waiters: Array<Waiter> | undefined = undefined

  /** Sets the value, once; false when it was already set. */
  unsafeDone(value: A): boolean {
    if (this.done) return false
    this.done = true
    this.value = value
    this.wake()
    return true
  }

  get isDone(): boolean {
    return this.done
  }

  /** Waits for the value (at once when it is set). */
  await(): Effect.Effect<A> {
    return Effect.suspend(() => this.poll())
  }

  private poll(): Effect.Effect<A> {
    if (this.done) return Exit.succeed(this.value as A)
    return Effect.zipRight(
      Effect.async<void>((resume) => this.register(resume)),
      Effect.suspend(() => this.poll())
    )
  }

  private register(resume: Waiter): void {
    if (this.done) return resume(Effect.void)
    if (this.waiters !== undefined && this.waiters.length >= MAX_WAITERS) this.wake()
    if (this.waiters === undefined) this.waiters = [resume]
    else this.waiters.push(resume)
  }

  private wake(): void {
    const waiters = this.waiters
    if (waiters === undefined) return
    this.waiters = undefined
    for (let i = 0; i < waiters.length; i++) waiters[i]!(Effect.void)
  }
}

/** A signal not set yet. */
export const make = <A>(): Signal<A> => new Signal<A>()
