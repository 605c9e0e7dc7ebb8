/**
 * The floor of Effect's fiber model for the round trip: raw `ws` driven by the smallest request/response loop an
 * Effect program can have, one `Effect.async` per reply, resumed straight from ws's "message" callback. No
 * session, no inbox, no corking, no metrics: whatever this costs beyond raw `ws` is the fiber runtime's own price
 * (running the generator, the scheduler's hop from the callback back into the fiber), which no library built on
 * Effect can avoid. It runs the round-trip scenario only.
 *
 * With BENCH_EFFECT_CANCELER=1 (the "Effect.async + canceler" column) the wait also returns a canceler, as any
 * waiter that must leave no trace when its fiber is interrupted does (the library's inbox, `Deferred`, `Mailbox`):
 * `Effect.async` then wraps the wait in `onInterrupt` (uninterruptibleMask, two runtime-flag changes, a
 * matchCauseEffect), which is the floor for an interruption-safe receive.
 */
import * as Effect from "effect/Effect"
import { type Jobs, sizeOf, startMeasure, texts } from "../common.js"
import { close, open } from "./ws.js"

const unsupported = () => Promise.reject(new Error("the minimal Effect loop runs the round-trip scenario only"))

export const jobs: Jobs = {
  pipelined: unsupported,
  large: unsupported,
  typed: unsupported,
  slow: unsupported,
  idle: unsupported,

  roundTrip: async (url, count, size) => {
    const items = texts(count, size)
    const ws = await open(url)
    // a reply that came while nobody waited (not expected: the loop always waits before the echo can arrive)
    let early: string | Buffer | undefined
    let waiting: ((reply: string | Buffer) => void) | undefined
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const reply = isBinary ? data : data.toString()
      const resume = waiting
      waiting = undefined
      if (resume === undefined) early = reply
      else resume(reply)
    })
    const cancel = Effect.sync(() => {
      waiting = undefined
    })
    const withCanceler = process.env.BENCH_EFFECT_CANCELER === "1"
    const receive = Effect.async<string | Buffer>((resume) => {
      if (early !== undefined) {
        const reply = early
        early = undefined
        return resume(Effect.succeed(reply))
      }
      waiting = (reply) => resume(Effect.succeed(reply))
      return withCanceler ? cancel : undefined
    })
    const measured = await Effect.runPromise(Effect.gen(function*() {
      const measure = startMeasure()
      let bytes = 0
      for (let i = 0; i < count; i++) {
        ws.send(items[i]!)
        bytes += sizeOf(yield* receive)
      }
      if (bytes !== count * size) throw new Error(`received ${bytes} bytes, expected ${count * size}`)
      return measure()
    }))
    await close(ws)
    return measured
  }
}
