/**
 * A value set once that fibers can wait for: what a session needs of `Deferred` (its end, the end of its transport)
 * at a fraction of the memory. Every `Deferred` gets an object shape of its own (it is built by spreading a
 * prototype and adding a method), which costs about 0.6 KiB per instance; a session has two of them for its whole
 * life, and idle sessions are mostly this kind of bookkeeping.
 *
 * Nothing is allocated until somebody waits. Like `Deferred.await`, each wait registers a canceler with
 * `Effect.async`: an interrupted waiter removes itself, so any number of fibers may wait (and give up) at once.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

type Waiter = (effect: Effect.Effect<void>) => void

export class Signal<A> {
  private done = false
  private value: A | undefined = undefined
  private waiters: Set<Waiter> | undefined = undefined
  private awaitEffect: Effect.Effect<A> | undefined = undefined

  /** Sets the value, once; false when it was already set. */
  unsafeDone(value: A): boolean {
    if (this.done) return false
    this.done = true
    this.value = value
    const waiters = this.waiters
    if (waiters !== undefined) {
      this.waiters = undefined
      for (const waiter of waiters) waiter(Effect.void)
    }
    return true
  }

  get isDone(): boolean {
    return this.done
  }

  /** Waiters registered and not woken yet (for tests: interrupted waiters must not stay here). */
  get waiting(): number {
    return this.waiters === undefined ? 0 : this.waiters.size
  }

  /** Waits for the value (at once when it is set). */
  await(): Effect.Effect<A> {
    return this.awaitEffect ??= Effect.suspend(() =>
      this.done ? Exit.succeed(this.value as A) : Effect.zipRight(this.wait(), Effect.sync(() => this.value as A))
    )
  }

  private wait(): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (this.done) return resume(Effect.void)
      ;(this.waiters ??= new Set()).add(resume)
      return Effect.sync(() => {
        this.waiters?.delete(resume)
      })
    })
  }
}

/** A signal not set yet. */
export const make = <A>(): Signal<A> => new Signal<A>()
