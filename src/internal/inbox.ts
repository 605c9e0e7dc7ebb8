/**
 * The session's queue of incoming messages: an unbounded queue (the session bounds it by pausing the connection)
 * tuned for the receive hot path.
 *
 * - The engine offers synchronously, with no Effect and no allocation beyond an array slot.
 * - A taker that finds the queue empty waits with one `Effect.async` per wait, not per message. Each offer wakes one
 *   waiter (first come, first served), which re-reads the queue when its fiber runs again; a taker that leaves
 *   messages behind wakes the next waiter, so a burst reaches as many waiters as it has messages.
 * - Like `effect/Mailbox`'s takers, every waiter registers a canceler: an interrupted waiter removes itself, and one
 *   that was woken but interrupted before it could take anything passes its wake-up on. Any number of fibers may
 *   wait at once; none is woken for nothing, and none is left behind.
 * - Ending keeps what is queued: takers get the remaining messages first, then the end (or the failure).
 *
 * It replaces `effect/Mailbox` here because the Mailbox wakes a taker through two scheduler hops and copies its
 * buffer into a Chunk on every single take.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/** Compact the array once this many taken slots sit at its front (and they are more than half of it). */
const COMPACT_AFTER = 1024

/**
 * The most messages `takeAll` hands over at once. Stream operators such as `Stream.runFold` recurse once per
 * element of a chunk (effect 3.x `foldChunkSplit`) and overflow the stack at a few thousand elements, so chunks
 * stay well below that.
 */
export const MAX_CHUNK = 1024

type Waiter = (effect: Effect.Effect<void>) => void

const doneEmpty = Exit.succeed([Chunk.empty<never>(), true] as const)

export class Inbox<A, E> {
  private items: Array<A | undefined> = []
  private head = 0
  private end: Exit.Exit<void, E> | undefined = undefined
  /**
   * Fibers waiting for a message or the end, in arrival order: the one waiting longest in its own slot (the round
   * trip's single waiter costs no Set operation), the others in a Set built when a second one waits.
   */
  private first: Waiter | undefined = undefined
  private waiters: Set<Waiter> | undefined = undefined
  // the Effects below are built on first use: an idle session's inbox holds no Effect or closure
  private awaitEffect: Effect.Effect<void> | undefined = undefined
  private takeAllEffect: Effect.Effect<readonly [Chunk.Chunk<A>, boolean], E> | undefined = undefined

  /** Queues a message; false once the inbox has ended. */
  unsafeOffer(item: A): boolean {
    if (this.end !== undefined) return false
    this.items.push(item)
    if (this.first !== undefined) this.wakeOne()
    return true
  }

  /** Ends the inbox once: takers drain what is queued, then see `exit`. */
  unsafeDone(exit: Exit.Exit<void, E>): boolean {
    if (this.end !== undefined) return false
    this.end = exit
    const first = this.first
    const waiters = this.waiters
    this.first = undefined
    this.waiters = undefined
    if (first !== undefined) first(Effect.void)
    if (waiters !== undefined) { for (const waiter of waiters) waiter(Effect.void) }
    return true
  }

  /** Messages queued and not taken yet. */
  get size(): number {
    return this.items.length - this.head
  }

  /** Waiters registered and not woken yet (for tests: interrupted waiters must not stay here). */
  get waiting(): number {
    return (this.first === undefined ? 0 : 1) + (this.waiters === undefined ? 0 : this.waiters.size)
  }

  private register(waiter: Waiter): void {
    if (this.first === undefined) this.first = waiter
    else (this.waiters ??= new Set()).add(waiter)
  }

  /** The waiter after `first` moves into its slot. */
  private promote(): void {
    const waiters = this.waiters
    if (waiters === undefined || waiters.size === 0) {
      this.first = undefined
      return
    }
    const next = waiters.values().next().value as Waiter
    waiters.delete(next)
    this.first = next
  }

  /** Wakes the waiter that has waited longest (there is one). */
  private wakeOne(): void {
    const waiter = this.first!
    this.promote()
    waiter(Effect.void)
  }

  /** Messages are left and somebody waits for them: wake the next waiter (a taker that left messages behind). */
  private passOn(): void {
    if (this.first !== undefined && this.head < this.items.length) this.wakeOne()
  }

  /** The canceler of an interrupted wait. */
  private cancel(waiter: Waiter): void {
    if (this.first === waiter) return this.promote()
    if (this.waiters !== undefined && this.waiters.delete(waiter)) return
    // it had been woken, and was interrupted before it could take a message: the wake-up goes to the next waiter
    this.passOn()
  }

  /** The message at the front, taken; `undefined` when none is queued. */
  unsafePoll(): A | undefined {
    const items = this.items
    if (this.head === items.length) return undefined
    const item = items[this.head] as A
    items[this.head] = undefined
    this.head++
    if (this.head === items.length) {
      // `pop` of the only slot is cheaper than setting `length`, which is the round-trip case
      if (items.length === 1) items.pop()
      else items.length = 0
      this.head = 0
    } else {
      this.compact()
      this.passOn()
    }
    return item
  }

  /** Drops the taken slots at the front once they are many and more than half of the array. */
  private compact(): void {
    if (this.head >= COMPACT_AFTER && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
  }

  /** How the inbox ended, once it has; messages may still be queued. */
  get done(): Exit.Exit<void, E> | undefined {
    return this.end
  }

  /**
   * Waits until a message is queued or the inbox has ended (at once if either is already the case). Every caller
   * re-reads the queue afterwards, so a wake-up whose message another fiber took first is harmless: it waits again.
   *
   * The canceler is the one `Effect.async` supports natively (as `effect/Mailbox` and `Deferred` register theirs):
   * an interrupted waiter leaves no entry behind, however many wait.
   */
  get await(): Effect.Effect<void> {
    return this.awaitEffect ??= Effect.async<void>((resume) => {
      if (this.end !== undefined || this.head < this.items.length) return resume(Effect.void)
      this.register(resume)
      return Effect.sync(() => this.cancel(resume))
    })
  }

  /**
   * Everything queued (at most `MAX_CHUNK`), waiting for at least one message; the flag is true when the inbox
   * ended cleanly and nothing is left. After a failure the queued messages come first, then the failure.
   */
  get takeAll(): Effect.Effect<readonly [Chunk.Chunk<A>, boolean], E> {
    return this.takeAllEffect ??= Effect.suspend(() => {
      const items = this.items
      const head = this.head
      if (head < items.length) {
        if (items.length - head > MAX_CHUNK) {
          const taken = items.slice(head, head + MAX_CHUNK) as Array<A>
          items.fill(undefined, head, head + MAX_CHUNK)
          this.head = head + MAX_CHUNK
          this.compact()
          this.passOn()
          return Exit.succeed([Chunk.unsafeFromArray(taken), false] as const)
        }
        const taken = (head === 0 ? items : items.slice(head)) as Array<A>
        this.items = []
        this.head = 0
        const ended = this.end !== undefined && this.end._tag === "Success"
        return Exit.succeed([Chunk.unsafeFromArray(taken), ended] as const)
      }
      if (this.end !== undefined) {
        return this.end._tag === "Success" ? doneEmpty : (this.end as unknown as Effect.Effect<never, E>)
      }
      return Effect.zipRight(this.await, this.takeAll)
    })
  }
}

/** An empty inbox. */
export const make = <A, E>(): Inbox<A, E> => new Inbox<A, E>()
