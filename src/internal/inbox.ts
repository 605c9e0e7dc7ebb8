/**
 * The session's queue of incoming messages: an unbounded queue (the session bounds it by pausing the connection)
 * tuned for the receive hot path.
 *
 * - The engine offers synchronously, with no Effect and no allocation beyond an array slot.
 * - A taker that finds the queue empty waits with one `Effect.async` per wait, not per message, and is woken once;
 *   it re-reads the queue only when its fiber runs again (a microtask later), so `takeAll` hands over every
 *   message that arrived in the same socket read as one chunk.
 * - Ending keeps what is queued: takers get the remaining messages first, then the end (or the failure).
 *
 * It replaces `effect/Mailbox` here because the Mailbox wakes a taker through two scheduler hops and copies its
 * buffer into a Chunk on every single take.
 */
import * as Cause from "effect/Cause"
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

/** Waiters kept before all of them are woken (see `await`). */
const MAX_WAITERS = 32

type Waiter = (effect: Effect.Effect<void>) => void

const doneEmpty = Exit.succeed([Chunk.empty<never>(), true] as const)

export class Inbox<A, E> {
  private items: Array<A | undefined> = []
  private head = 0
  private end: Exit.Exit<void, E> | undefined = undefined
  private waiters: Array<Waiter> = []
  // the Effects below are built on first use: an idle session's inbox holds no Effect or closure
  private awaitEffect: Effect.Effect<void> | undefined = undefined
  private takeEffect: Effect.Effect<A, E | Cause.NoSuchElementException> | undefined = undefined
  private takeAllEffect: Effect.Effect<readonly [Chunk.Chunk<A>, boolean], E> | undefined = undefined

  /** Queues a message; false once the inbox has ended. */
  unsafeOffer(item: A): boolean {
    if (this.end !== undefined) return false
    this.items.push(item)
    if (this.waiters.length > 0) this.wake()
    return true
  }

  /** Ends the inbox once: takers drain what is queued, then see `exit`. */
  unsafeDone(exit: Exit.Exit<void, E>): boolean {
    if (this.end !== undefined) return false
    this.end = exit
    this.wake()
    return true
  }

  /** Messages queued and not taken yet. */
  get size(): number {
    return this.items.length - this.head
  }

  private wake(): void {
    const waiters = this.waiters
    if (waiters.length === 1) {
      const waiter = waiters[0]!
      waiters.length = 0
      waiter(Effect.void)
      return
    }
    this.waiters = []
    for (let i = 0; i < waiters.length; i++) waiters[i]!(Effect.void)
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
   * re-reads the queue afterwards, so a wake-up without a message for it is harmless.
   *
   * No canceler is registered: that would wrap every wait in `onInterrupt`, which costs more than the wait. A
   * waiter whose fiber was interrupted stays in the list until the next wake-up, where Effect ignores its second
   * resume; so that interrupted waits (a `receive` under a timeout, in a loop) cannot pile up, a full list is
   * woken at once.
   */
  get await(): Effect.Effect<void> {
    return this.awaitEffect ??= Effect.async<void>((resume) => {
      if (this.end !== undefined || this.head < this.items.length) return resume(Effect.void)
      if (this.waiters.length >= MAX_WAITERS) this.wake()
      this.waiters.push(resume)
    })
  }

  private ended<X>(onSuccess: () => Effect.Effect<X, E | Cause.NoSuchElementException>) {
    const end = this.end!
    return end._tag === "Success" ? onSuccess() : (end as unknown as Effect.Effect<never, E>)
  }

  /** One message; after the end: the failure, or `NoSuchElementException` when it ended cleanly. */
  get take(): Effect.Effect<A, E | Cause.NoSuchElementException> {
    return this.takeEffect ??= Effect.suspend(() => {
      if (this.head < this.items.length) return Exit.succeed(this.unsafePoll() as A)
      if (this.end !== undefined) return this.ended(() => Exit.fail(new Cause.NoSuchElementException()))
      return Effect.zipRight(this.await, this.take)
    })
  }

  /**
   * Everything queued, waiting for at least one message; the flag is true when the inbox ended cleanly and
   * nothing is left. After a failure the queued messages come first, then the failure.
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
          return Exit.succeed([Chunk.unsafeFromArray(taken), false] as const)
        }
        const taken = (head === 0 ? items : items.slice(head)) as Array<A>
        this.items = []
        this.head = 0
        const ended = this.end !== undefined && this.end._tag === "Success"
        return Exit.succeed([Chunk.unsafeFromArray(taken), ended] as const)
      }
      if (this.end !== undefined) {
        return this.ended(() => doneEmpty) as Effect.Effect<readonly [Chunk.Chunk<A>, boolean], E>
      }
      return Effect.zipRight(this.await, this.takeAll)
    })
  }
}

/** An empty inbox. */
export const make = <A, E>(): Inbox<A, E> => new Inbox<A, E>()
