/**
 * The session's protocol core, without Effect: the state machine that is the engine's listener (open, message, ping,
 * pong, violation, close), the queue of incoming messages and its waiters, backpressure accounting (the high-water
 * marks, pause / resume, the Pong flood rule), ping / pong matching, the fragment and close-code rules for what is
 * sent, and how long a released session waits for the peer's Close. Every operation is synchronous; whoever waits
 * (for a message, the end, the transport's end, a Pong, reading to resume) registers a plain callback, and the
 * Effect layer (src/internal/session.ts and its siblings) turns that into `Effect.async` with a canceler. Errors
 * leave the core as plain values (`Failure`, `WriteError`, `Reason`), which the Effect layer maps once to
 * `WebSocketException` / `CloseReason`.
 *
 * The per-message path allocates nothing beyond the message object: the listener callbacks and the hooks are
 * prototype methods, `write` answers with the constants `SENT` / `WAIT` (an object only for an error), and rarely
 * set fields live in a sub-object made on first use, so that an idle session stays small.
 */
import { decodeClosePayload, type Reason, validateClosePayload, validateForSending } from "./closeCodes.js"
import {
  CLOSE_HANDSHAKE_TIMEOUT_MS,
  CloseCodes,
  INCOMING_HIGH_WATER_BYTES,
  INCOMING_HIGH_WATER_COUNT,
  MAX_CONTROL_PAYLOAD,
  OUTGOING_HIGH_WATER_BYTES
} from "./limits.js"
import { answers, pingPayload } from "./pingPong.js"
import type { Connection, Listener, Violation } from "./transport.js"

export type { Reason } from "./closeCodes.js"

/** Open; Closing once our Close is sent; Ended once the session is over (its end reason is known). */
export type Phase = "Open" | "Closing" | "Ended"

export type { Violation } from "./transport.js"

/** Why a session ended in error; `sent` is the Close that went on the wire. */
export type Failure =
  | { readonly kind: "Violation"; readonly violation: Violation; readonly message: string; readonly sent: Reason }
  | { readonly kind: "PingTimeout"; readonly sent: Reason }
  | { readonly kind: "Abnormal"; readonly reason: Reason }

/** Why `write` or `close` refused (nothing was sent). */
export type WriteError =
  | { readonly kind: "NotOpen" }
  | { readonly kind: "Protocol"; readonly message: string }
  | { readonly kind: "Capability"; readonly operation: string; readonly missing: string }
  | { readonly kind: "InvalidCloseCode"; readonly message: string }

/** `write`: the frame was handed to the connection. */
export const SENT = 0
/** `write`: the connection holds more than the write high-water mark; send with `sendWaiting` and wait. */
export const WAIT = 1
/** What `write` answers: `SENT`, `WAIT` or why nothing was sent. */
export type WriteResult = typeof SENT | typeof WAIT | WriteError

/** A whole or partial data message; the same plain objects as `Frame.Text` / `Frame.Binary`. */
export type DataFrame =
  | { readonly _tag: "Text"; readonly fin: boolean; readonly data: string }
  | { readonly _tag: "Binary"; readonly fin: boolean; readonly data: Uint8Array }

/** A control frame given to `write`; the same plain objects as `Frame.Ping` / `Frame.Pong` / `Frame.Close`. */
export interface ControlFrame {
  readonly _tag: "Ping" | "Pong" | "Close"
  readonly fin: boolean
  readonly data: Uint8Array
}

/** What `write` accepts: a whole text or binary message, or a frame. */
export type Outgoing = string | Uint8Array | DataFrame | ControlFrame

/** What the session drives of the engine's connection: all of it but the handshake's answer. */
export type Transport = Omit<Connection, "handshake">

/** observability: what the session reports as it runs (src/internal/observer.ts implements it). */
export interface SessionObserver {
  received(data: string | Uint8Array): void
  sent(data: string | Uint8Array, fin: boolean): void
  pingSent(): void
  pongReceived(): void
}

/** A wake-up callback; the core calls it through `wakeUp`, with whatever the binding needs it called with. */
export type Waiter = (wake: never) => void

/** The reason of a clean close whose Close frame carried no code (1005), and of `close()` with none. */
export const NORMAL: Reason = { code: CloseCodes.NORMAL, message: "" }
const ABNORMAL: Reason = { code: CloseCodes.CLOSED_ABNORMALLY, message: "" }
/** What the session sends when the peer does not answer its Ping in time. */
export const PING_TIMEOUT: Reason = { code: CloseCodes.INTERNAL_ERROR, message: "Ping timeout" }

/** Compact the message array once this many taken slots sit at its front (and they are more than half of it). */
const COMPACT_AFTER = 1024

const sizeOf = (data: string | Uint8Array): number => typeof data === "string" ? data.length : data.byteLength

/** The fields most sessions never set, made on first use: an idle session carries one pointer for all of them. */
class Rare {
  /** What we sent in our Close, when we started (or forced) the close. */
  sentReason: Reason | undefined = undefined
  /** The final close reason, once ended (undefined after a dropped transport with no Close of ours). */
  endReason: Reason | undefined = undefined
  /** Why the session ended in error. */
  failure: Failure | undefined = undefined
  /** The type of the fragmented message we are sending, while its last fragment is still to come. */
  openFragment: "Text" | "Binary" | undefined = undefined
  /** How many times reading was paused: the pinger sees from it that a Pong may have waited unread. */
  pauses = 0
  /** The payload of the pinger's outstanding Ping, and the pinger waiting for its Pong. */
  pendingPing: Uint8Array | undefined = undefined
  pongWaiter: Waiter | undefined = undefined
  /** The pinger, waiting for reading to resume. */
  resumeWaiter: Waiter | undefined = undefined
  /** Waiters for messages after the first (see `first`), and for the session's and the transport's end. */
  waiters: Set<Waiter> | undefined = undefined
  endWaiters: Set<Waiter> | undefined = undefined
  closedWaiters: Set<Waiter> | undefined = undefined
}

/**
 * One session's protocol state, and the engine's listener; never shared between sessions. A binding extends it and
 * overrides the two hooks, `wakeUp` (how a waiter is called) and `onEnded` (the session has just ended).
 */
export class SessionCore implements Listener {
  phase: Phase = "Open"
  transport: Transport | undefined = undefined
  /** observability: undefined for a session opened without the plugin's observer */
  observer: SessionObserver | undefined = undefined
  /** Messages waiting for the consumer, from `head` on (made at the first message). */
  private items: Array<DataFrame | undefined> | undefined = undefined
  private head = 0
  /** The message waiter that has waited longest, in a slot of its own (the round trip's single waiter). */
  private first: Waiter | undefined = undefined
  private bufferedBytes = 0
  private bufferedCount = 0
  /** Reading is paused because messages wait for a slow consumer. */
  private consumerPaused = false
  /** Reading is paused because Pongs owed to the peer sit above the write high-water mark. */
  private writesPaused = false
  /** Reading is paused (for either reason): what the connection was last told. */
  paused = false
  /** The session was released: nobody reads any more, so messages still arriving are dropped. */
  released = false
  /** The transport has ended (`onClose`). */
  transportClosed = false
  private rare: Rare | undefined = undefined

  // ---------------------------------------------------------------------------------------------------------------
  // hooks for the binding
  // ---------------------------------------------------------------------------------------------------------------

  /** Calls a waiter; the Effect binding calls `resume(Effect.void)`. */
  protected wakeUp(waiter: Waiter): void {
    ;(waiter as () => void)()
  }
  /** The session has just ended (`phase` is "Ended", `endReason` and `failure` are set); called once. */
  protected onEnded(): void {}

  private get more(): Rare {
    return this.rare ??= new Rare()
  }

  /** What we sent in our Close, if we did. */
  get sentReason(): Reason | undefined {
    return this.rare?.sentReason
  }
  /** The final close reason once ended; undefined while open, or when the transport was dropped before any Close. */
  get endReason(): Reason | undefined {
    return this.rare?.endReason
  }
  /** Why the session ended in error, once it has. */
  get failure(): Failure | undefined {
    return this.rare?.failure
  }
  /** How many times reading was paused so far. */
  get pauses(): number {
    return this.rare?.pauses ?? 0
  }

  // ---------------------------------------------------------------------------------------------------------------
  // the engine's listener: prototype methods rather than an object of closures per session
  // ---------------------------------------------------------------------------------------------------------------

  onOpen(transport: Transport): void {
    this.transport = transport
  }

  onMessage(data: string | Uint8Array): void {
    if (this.observer !== undefined) this.observer.received(data) // observability
    if (this.phase === "Ended" || this.released) return
    ;(this.items ??= []).push(
      typeof data === "string" ? { _tag: "Text", fin: true, data } : { _tag: "Binary", fin: true, data }
    )
    if (this.first !== undefined) this.wakeOne()
    this.bufferedBytes += sizeOf(data)
    this.bufferedCount++
    if (
      !this.consumerPaused &&
      (this.bufferedBytes >= INCOMING_HIGH_WATER_BYTES || this.bufferedCount >= INCOMING_HIGH_WATER_COUNT)
    ) {
      this.consumerPaused = true
      this.updateReading()
    }
  }

  onPing(payload: Uint8Array): void {
    // answered here, for every engine, so that a Ping never reaches `incoming`
    const transport = this.transport
    if (this.phase !== "Open" || transport === undefined) return
    transport.pong(payload)
    // a peer that floods Pings and reads nothing would make us queue Pongs without end: the Pongs we owe count
    // against the write high-water mark, and we read no more of its Pings until they have been written
    if (!this.writesPaused && transport.bufferedAmount() >= OUTGOING_HIGH_WATER_BYTES) {
      this.writesPaused = true
      this.updateReading()
      transport.flush(() => {
        this.writesPaused = false
        this.updateReading()
      })
    }
  }

  onPong(payload: Uint8Array): void {
    // the pinger may be waiting for reading to resume rather than for the Pong: a matching Pong counts all the same
    const rare = this.rare
    if (rare === undefined || rare.pendingPing === undefined || !answers(payload, rare.pendingPing)) return
    rare.pendingPing = undefined
    if (this.observer !== undefined) this.observer.pongReceived() // observability
    const waiter = rare.pongWaiter
    if (waiter === undefined) return
    rare.pongWaiter = undefined
    this.wakeUp(waiter)
  }

  onViolation(violation: Violation, code: number, message: string): void {
    this.fail({ code, message: "" }, (sent) => ({ kind: "Violation", violation, message, sent }))
  }

  onCloseFrame(code: number, reason: string): void {
    // the peer's Close has arrived (its echo, or our Close, is on the wire): the session is over even while TCP
    // is still open, so `incoming` ends and `send` fails now rather than when the transport ends
    if (this.phase === "Ended") return
    this.end(this.sentReason ?? (code === CloseCodes.NO_STATUS ? NORMAL : { code, message: reason }), undefined)
  }

  onClose(code: number, reason: string): void {
    this.transportClosed = true
    const rare = this.rare
    if (rare !== undefined) {
      const closed = rare.closedWaiters
      rare.closedWaiters = undefined
      this.wakeAll(closed)
    }
    if (this.phase === "Ended") return
    const sent = this.sentReason
    // we started the close: the peer's answer (or its absence) changes nothing
    if (sent !== undefined) return this.end(sent, undefined)
    if (code === CloseCodes.CLOSED_ABNORMALLY) return this.end(ABNORMAL, { kind: "Abnormal", reason: ABNORMAL })
    this.end(code === CloseCodes.NO_STATUS ? NORMAL : { code, message: reason }, undefined)
  }

  // ---------------------------------------------------------------------------------------------------------------
  // ending and closing
  // ---------------------------------------------------------------------------------------------------------------

  /** Ends the session once: the queue ends (or fails) after what it holds, and every end waiter wakes. */
  private end(reason: Reason | undefined, failure: Failure | undefined): void {
    if (this.phase === "Ended") return
    this.phase = "Ended"
    const rare = this.more
    rare.endReason = reason
    rare.failure = failure
    const first = this.first
    const waiters = rare.waiters
    const endWaiters = rare.endWaiters
    const pong = rare.pongWaiter
    this.first = undefined
    rare.waiters = undefined
    rare.endWaiters = undefined
    rare.pongWaiter = undefined
    if (first !== undefined) this.wakeUp(first)
    this.wakeAll(waiters)
    this.wakeAll(endWaiters)
    this.onEnded()
    if (pong !== undefined) this.wakeUp(pong)
  }

  /** Wakes every waiter of a set the caller has already detached from the session. */
  private wakeAll(waiters: Set<Waiter> | undefined): void {
    if (waiters !== undefined) { for (const waiter of waiters) this.wakeUp(waiter) }
  }

  /** Sends our Close (once) and remembers its reason. */
  private sendClose(reason: Reason): void {
    if (this.sentReason !== undefined || this.transport === undefined) return
    this.more.sentReason = reason
    if (this.phase === "Open") this.phase = "Closing"
    this.transport.close(reason.code, reason.message)
  }

  /** Fails the session for a reason of our own (violation, ping timeout) after sending the matching Close. */
  private fail(close: Reason, failure: (sent: Reason) => Failure): void {
    if (this.phase === "Ended") return
    this.sendClose(close)
    // closeReason tells what went on the wire: when our own Close had gone out before, it stays the reason
    const sent = this.sentReason ?? close
    this.end(sent, failure(sent))
  }

  /** Sends Close(`reason`) unless the session is closing or over already; `reason` is not checked. */
  closeWith(reason: Reason): void {
    if (this.phase === "Open") this.sendClose(reason)
  }

  /** `close(reason)`: checks the reason, then sends Close unless the session is closing or over already. */
  close(reason: Reason): WriteError | undefined {
    const invalid = validateForSending(reason)
    if (invalid !== undefined) return { kind: "InvalidCloseCode", message: invalid }
    this.closeWith(reason)
    return undefined
  }

  /**
   * The scope is done with the session: sends Close(`reason`) if it is still open and reads on (dropping what
   * arrives) so that the peer's Close can arrive. Answers how long to wait for the peer's Close, in milliseconds
   * (see `closeWait`).
   */
  release(reason: Reason): number {
    this.closeWith(reason)
    // a paused reader would never see the peer's Close: read on, dropping what nobody will consume
    this.released = true
    this.updateReading()
    return this.closeWait()
  }

  /**
   * How long a released session waits for the peer's Close: 0 when the transport is over already, and 0 after a
   * ping timeout (the peer is presumed gone: the transport is dropped at once); else the close-handshake timeout.
   */
  closeWait(): number {
    if (this.transportClosed) return 0
    if (this.failure?.kind === "PingTimeout") {
      this.drop()
      return 0
    }
    return CLOSE_HANDSHAKE_TIMEOUT_MS
  }

  /** Drops a transport whose peer did not answer our Close in time; the session ends here if the engine is silent. */
  drop(): void {
    if (this.transportClosed) return
    this.transport?.terminate()
    this.end(this.sentReason, undefined)
  }

  // ---------------------------------------------------------------------------------------------------------------
  // backpressure
  // ---------------------------------------------------------------------------------------------------------------

  /** Tells the connection to pause or resume reading when the reasons to pause have changed. */
  private updateReading(): void {
    const pause = (this.consumerPaused || this.writesPaused) && !this.released
    if (pause === this.paused || this.transport === undefined) return
    this.paused = pause
    if (pause) {
      this.more.pauses++
      this.transport.pause()
    } else {
      this.transport.resume()
      const rare = this.rare
      const resumed = rare?.resumeWaiter
      if (resumed !== undefined) {
        rare!.resumeWaiter = undefined
        this.wakeUp(resumed)
      }
    }
  }

  /** The consumer took `count` messages of `bytes` in all: reading resumes once below half the marks. */
  private consumed(count: number, bytes: number): void {
    this.bufferedCount -= count
    this.bufferedBytes -= bytes
    if (
      this.consumerPaused &&
      this.bufferedBytes < INCOMING_HIGH_WATER_BYTES / 2 && this.bufferedCount < INCOMING_HIGH_WATER_COUNT / 2
    ) {
      this.consumerPaused = false
      this.updateReading()
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // the consumer's side: the message queue and its waiters
  // ---------------------------------------------------------------------------------------------------------------

  /** Messages queued and not taken yet. */
  get queued(): number {
    return this.items === undefined ? 0 : this.items.length - this.head
  }

  /** The message at the front, taken; `undefined` when none is queued (then see `phase` / `failure`). */
  poll(): DataFrame | undefined {
    const items = this.items
    if (items === undefined || this.head === items.length) return undefined
    const item = items[this.head]!
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
    this.consumed(1, sizeOf(item.data))
    return item
  }

  /** Everything queued, at most `max` messages, taken (the caller owns the array); empty when none is queued. */
  takeAll(max: number): Array<DataFrame> {
    const items = this.items
    const head = this.head
    if (items === undefined || head === items.length) return []
    let taken: Array<DataFrame>
    if (items.length - head > max) {
      taken = items.slice(head, head + max) as Array<DataFrame>
      items.fill(undefined, head, head + max)
      this.head = head + max
      this.compact()
      this.passOn()
    } else {
      taken = (head === 0 ? items : items.slice(head)) as Array<DataFrame>
      this.items = undefined
      this.head = 0
    }
    let bytes = 0
    for (let i = 0; i < taken.length; i++) bytes += sizeOf(taken[i]!.data)
    this.consumed(taken.length, bytes)
    return taken
  }

  /** Drops the taken slots at the front once they are many and more than half of the array. */
  private compact(): void {
    const items = this.items!
    if (this.head >= COMPACT_AFTER && this.head * 2 >= items.length) {
      this.items = items.slice(this.head)
      this.head = 0
    }
  }

  /**
   * Registers `waiter` to be woken when a message is queued or the session ends; false (nothing registered) when
   * either is already the case. Each message wakes one waiter, first come first served; a waiter re-reads the queue
   * when woken, and one that leaves messages behind wakes the next.
   */
  waitForMessage(waiter: Waiter): boolean {
    if (this.phase === "Ended" || this.queued > 0) return false
    if (this.first === undefined) this.first = waiter
    else (this.more.waiters ??= new Set()).add(waiter)
    return true
  }

  /** An interrupted message waiter leaves; one that had been woken already passes its wake-up on. */
  cancelMessageWait(waiter: Waiter): void {
    if (this.first === waiter) return this.promote()
    const waiters = this.rare?.waiters
    if (waiters !== undefined && waiters.delete(waiter)) return
    this.passOn()
  }

  /** Message waiters registered and not woken yet. */
  get messageWaiting(): number {
    return (this.first === undefined ? 0 : 1) + (this.rare?.waiters?.size ?? 0)
  }

  /** The waiter after `first` moves into its slot. */
  private promote(): void {
    const waiters = this.rare?.waiters
    if (waiters === undefined || waiters.size === 0) {
      this.first = undefined
      return
    }
    const next = waiters.values().next().value as Waiter
    waiters.delete(next)
    this.first = next
  }

  /** Wakes the message waiter that has waited longest (there is one). */
  private wakeOne(): void {
    const waiter = this.first!
    this.promote()
    this.wakeUp(waiter)
  }

  /** Messages are left and somebody waits for them: wake the next waiter. */
  private passOn(): void {
    if (this.first !== undefined && this.queued > 0) this.wakeOne()
  }

  // ---------------------------------------------------------------------------------------------------------------
  // waiting for the end, the transport's end, a Pong, reading to resume
  // ---------------------------------------------------------------------------------------------------------------

  /** Registers `waiter` for the session's end; false when it has ended already. */
  waitForEnd(waiter: Waiter): boolean {
    if (this.phase === "Ended") return false
    ;(this.more.endWaiters ??= new Set()).add(waiter)
    return true
  }
  cancelEndWait(waiter: Waiter): void {
    this.rare?.endWaiters?.delete(waiter)
  }
  /** End waiters registered and not woken yet. */
  get endWaiting(): number {
    return this.rare?.endWaiters?.size ?? 0
  }

  /** Registers `waiter` for the end of the transport; false when it has ended already. */
  waitForTransportClosed(waiter: Waiter): boolean {
    if (this.transportClosed) return false
    ;(this.more.closedWaiters ??= new Set()).add(waiter)
    return true
  }
  cancelTransportClosedWait(waiter: Waiter): void {
    this.rare?.closedWaiters?.delete(waiter)
  }

  /**
   * Sends a Ping with a fresh payload and registers `waiter` for the Pong that echoes it (or the session's end);
   * false (nothing sent) when the session is not open.
   */
  ping(waiter: Waiter): boolean {
    if (this.phase !== "Open" || this.transport === undefined) return false
    const payload = pingPayload()
    const rare = this.more
    rare.pendingPing = payload
    rare.pongWaiter = waiter
    if (this.observer !== undefined) this.observer.pingSent() // observability
    this.transport.ping(payload)
    return true
  }

  /**
   * Registers `waiter` for the Pong of the outstanding Ping again (a wait cut short while reading was paused); false
   * when the Pong has come meanwhile or the session has ended.
   */
  waitForPong(waiter: Waiter): boolean {
    const rare = this.rare
    if (this.phase === "Ended" || rare === undefined || rare.pendingPing === undefined) return false
    rare.pongWaiter = waiter
    return true
  }
  /** The pinger stopped waiting for its Pong (timeout, interruption). */
  cancelPongWait(): void {
    if (this.rare !== undefined) this.rare.pongWaiter = undefined
  }

  /** Registers `waiter` for reading to resume; false when reading is not paused. */
  waitForResume(waiter: Waiter): boolean {
    if (!this.paused) return false
    this.more.resumeWaiter = waiter
    return true
  }
  cancelResumeWait(): void {
    if (this.rare !== undefined) this.rare.resumeWaiter = undefined
  }

  /** The peer did not answer the Ping in time: Close(1011, "Ping timeout") and the session fails with PingTimeout. */
  pingTimedOut(): void {
    if (this.rare !== undefined) {
      this.rare.pendingPing = undefined
      this.rare.pongWaiter = undefined
    }
    this.fail(PING_TIMEOUT, (sent) => ({ kind: "PingTimeout", sent }))
  }

  // ---------------------------------------------------------------------------------------------------------------
  // the producer's side
  // ---------------------------------------------------------------------------------------------------------------

  /**
   * Writes one outgoing item: `SENT` when it was handed to the connection, `WAIT` when the connection holds more
   * than the write high-water mark (nothing sent yet: send it with `sendWaiting` and wait for its callback), or why
   * nothing was sent.
   */
  write(item: Outgoing): WriteResult {
    if (this.phase !== "Open") return NOT_OPEN
    const transport = this.transport!
    let data: string | Uint8Array
    let fin = true
    if (typeof item === "string" || item instanceof Uint8Array) {
      data = item
      if (this.rare?.openFragment !== undefined) return this.fragmentMisuse("a whole message")
    } else {
      switch (item._tag) {
        case "Text":
        case "Binary": {
          data = item.data
          fin = item.fin
          // the frames of a fragmented message all carry its type; the engine would send another type as a
          // continuation of the open message, so the misuse is refused here and nothing is written
          const open = this.rare?.openFragment
          if (open !== undefined) {
            if (open !== item._tag) return this.fragmentMisuse(`a ${item._tag} frame`)
            if (fin) this.rare!.openFragment = undefined
          } else if (!fin) {
            this.more.openFragment = item._tag
          }
          break
        }
        case "Ping":
        case "Pong": {
          if (item.data.byteLength > MAX_CONTROL_PAYLOAD) {
            return {
              kind: "Protocol",
              message:
                `A ${item._tag} payload may hold at most ${MAX_CONTROL_PAYLOAD} bytes, got ${item.data.byteLength}`
            }
          }
          if (transport.controlFrames === false) {
            return {
              kind: "Capability",
              operation: `send(Frame.${item._tag.toLowerCase()})`,
              missing: "PingCapability"
            }
          }
          if (item._tag === "Ping") transport.ping(item.data)
          else transport.pong(item.data)
          return SENT
        }
        case "Close": {
          const invalid = validateClosePayload(item.data)
          if (invalid !== undefined) return { kind: "InvalidCloseCode", message: invalid }
          return this.close(decodeClosePayload(item.data) ?? NORMAL) ?? SENT
        }
      }
    }
    if (this.observer !== undefined) this.observer.sent(data, fin) // observability
    if (transport.bufferedAmount() < OUTGOING_HIGH_WATER_BYTES) {
      transport.send(data, fin)
      return SENT
    }
    return WAIT
  }

  /** Sends a data item `write` answered `WAIT` for; `onWritten` runs once it is written (or the transport failed). */
  sendWaiting(item: Outgoing, onWritten: (error?: Error) => void): void {
    if (typeof item === "string" || item instanceof Uint8Array) this.transport!.send(item, true, onWritten)
    else this.transport!.send(item.data, item.fin, onWritten)
  }

  private fragmentMisuse(what: string): WriteError {
    return {
      kind: "Protocol",
      message: `A fragmented ${
        this.rare!.openFragment
      } message is open: ${what} may not be sent until its last fragment`
    }
  }
}

const NOT_OPEN: WriteError = { kind: "NotOpen" }
