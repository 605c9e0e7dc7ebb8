/**
 * What every benchmark client implements, and the data all of them send.
 */
import * as Schema from "effect/Schema"

/** The typed scenario's message: a small JSON object checked by the same Schema on every client. */
export const Message = Schema.Struct({
  id: Schema.Number,
  user: Schema.String,
  tags: Schema.Array(Schema.String),
  score: Schema.Number,
  active: Schema.Boolean
})
export type Message = typeof Message.Type

export const messages = (count: number): ReadonlyArray<Message> =>
  Array.from({ length: count }, (_, i) => ({
    id: i,
    user: `user-${i % 1000}`,
    tags: ["alpha", "beta"],
    score: i * 0.5,
    active: i % 2 === 0
  }))

/** `count` references to one text message of `size` ASCII bytes. */
export const texts = (count: number, size: number): ReadonlyArray<string> => {
  const text = "x".repeat(size)
  return Array.from({ length: count }, () => text)
}

/** `count` references to one binary message of `size` bytes. */
export const blobs = (count: number, size: number): ReadonlyArray<Uint8Array> => {
  const blob = Buffer.alloc(size, 7)
  return Array.from({ length: count }, () => blob)
}

/** Byte length of a received message, so that every client touches what it got. */
export const sizeOf = (data: string | Uint8Array): number => typeof data === "string" ? data.length : data.byteLength

/**
 * What a throughput job measured, around the measured part only (the connection is open before, and closed after):
 * wall-clock seconds, and the CPU time the client process spent meanwhile (user + system, `process.cpuUsage`, in
 * microseconds). The CPU figure counts the whole process (ws, Effect, GC, the runtime's threads), not the peer.
 */
export interface Measured {
  readonly seconds: number
  readonly cpuMicros: number
}

/** Starts the clock and the CPU counter; the function it returns stops both. */
export const startMeasure = (): () => Measured => {
  const cpu = process.cpuUsage()
  const start = performance.now()
  return () => {
    const seconds = (performance.now() - start) / 1000
    const used = process.cpuUsage(cpu)
    return { seconds, cpuMicros: used.user + used.system }
  }
}

export interface Jobs {
  /** Sends `count` text messages of `size` bytes back to back; resolves once all echoes came. */
  readonly pipelined: (url: string, count: number, size: number) => Promise<Measured>
  /** `count` sequential echoes of a `size`-byte text message. */
  readonly roundTrip: (url: string, count: number, size: number) => Promise<Measured>
  /** `count` binary messages of `size` bytes sent back to back, all echoes received. */
  readonly large: (url: string, count: number, size: number) => Promise<Measured>
  /** `count` Schema-typed JSON objects sent back to back, all echoes decoded. */
  readonly typed: (url: string, count: number) => Promise<Measured>
  /**
   * Reads `count` messages from the pushing server, one per `everyMs`, then sends the text `mark`.
   * `onBaseline` is called once the connection is open, before consuming; `onDone` with the bytes consumed, right
   * after `mark` was sent (the process exits there: closing a congested connection is not part of the figure).
   */
  readonly slow: (
    url: string,
    count: number,
    everyMs: number,
    onBaseline: () => void,
    onDone: (consumed: number) => void
  ) => Promise<void>
  /** Opens `count` sessions and keeps them open; `measure` runs while they are all open. */
  readonly idle: (url: string, count: number, measure: () => Promise<void>) => Promise<void>
}

/**
 * The clients of the comparison. "effect" is not a WebSocket client of its own: raw `ws` driven by the smallest
 * `Effect.async` request/response loop (bench/clients/minimalEffect.ts), the floor of Effect's fiber model for the
 * round trip; it runs that scenario only.
 */
export type ClientName = "ws" | "platform" | "library" | "effect"

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Runs `f` over `0 until count` with at most `concurrency` at once. */
export const inBatches = async (count: number, concurrency: number, f: (i: number) => Promise<void>) => {
  let next = 0
  const worker = async () => {
    while (next < count) await f(next++)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}
