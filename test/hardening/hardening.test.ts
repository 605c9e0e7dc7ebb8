/**
 * Hardening: the session under adversarial use (README "Behaviour under attack and misuse"). Each case runs
 * against a real socket, a raw `node:net` peer where the wire must misbehave; scenarios that could freeze or bloat
 * the process run in a child process with a deadline (test/hardening/child.ts). The ids are the rows of the
 * "Hardening" section of docs/CONFORMANCE.md.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Either, Exit, Fiber, Layer, Option, Stream } from "effect"
import { EventEmitter } from "node:events"
import WebSocket from "ws"
import { CloseReason, Frame, NodeEngine, WebSockets } from "../../src/index.js"
import { startServer } from "../helpers/wsServer.js"
import { watchResources, within } from "../hostile/client.js"
import { measured } from "../hostile/measure.js"
import { encodeFrame, Op, type PeerConnection, readClose, startPeer } from "../hostile/peer.js"
import { expectDone, runScenario } from "./child.js"
import type { FloodResult, WaitersResult } from "./scenarios.js"

const live = (options: WebSockets.Options = {}) => WebSockets.layer(options).pipe(Layer.provide(NodeEngine.layer))

const run = <A, E>(effect: Effect.Effect<A, E, WebSockets.WebSockets>, options: WebSockets.Options = {}) =>
  Effect.runPromise(Effect.provide(effect, live(options)))

const reason = (code: number, message = "") => new CloseReason({ code, message })

const timers = () => process.getActiveResourcesInfo().filter((name) => name === "Timeout").length

/** The first data message the client wrote, with the opcodes of the frames before it. */
const firstMessage = async (c: PeerConnection) => {
  const message = await within(c.nextMessage(), 5_000, "a message from the client")
  return message === undefined ? undefined : { opcode: message.opcode, text: message.payload.toString() }
}

describe("hardening: any number of waiters, each gets its answer, an interrupted one leaves nothing behind", () => {
  it(
    "A.1 33 fibers wait on receive and 33 on closeReason (pinger on): each gets its answer, the process stays idle",
    async () => {
      const result = expectDone(
        await runScenario<WaitersResult>(
          "waiters",
          { receivers: 33, interrupted: 0, pingInterval: "50 millis" },
          20_000
        )
      )
      expect(result.answered).toBe(33)
      expect(result.distinctMessages).toBe(33)
      expect(result.reasons).toEqual(Array(33).fill(1000))
      // the 33 closeReason waiters and the pinger's own wait for the end
      expect(result.endedWaiting).toEqual([34, 34])
      expect(result.cpuPerMs).toBeLessThan(0.5)
      expect(result.leftWaiting).toBe(0)
      measured("A.1", `CPU while 66 fibers waited: ${(result.cpuPerMs * 100).toFixed(1)}% of one core`)
    },
    30_000
  )

  it(
    "A.2 500 fibers wait on receive and 500 on closeReason, 200 more of each are interrupted: no entry is left behind",
    async () => {
      const result = expectDone(
        await runScenario<WaitersResult>(
          "waiters",
          { receivers: 500, interrupted: 200, pingInterval: "50 millis" },
          30_000
        )
      )
      // before the interruptions 700 waited on each; after, the interrupted ones have removed themselves
      expect(result.inboxWaiting).toEqual([700, 500])
      expect(result.endedWaiting).toEqual([701, 501])
      expect(result.answered).toBe(500)
      expect(result.distinctMessages).toBe(500)
      expect(result.reasons).toEqual(Array(500).fill(1000))
      expect(result.cpuPerMs).toBeLessThan(0.5)
      expect(result.leftWaiting).toBe(0)
      measured("A.2", `CPU while 1,000 fibers waited: ${(result.cpuPerMs * 100).toFixed(1)}% of one core`)
    },
    40_000
  )

  it(
    "A.3 1,000 flushes cut by a timeout leave no timer; 300 waiting flushes all resolve when the socket drains",
    async () => {
      let resumeReading: () => void = () => {}
      const peer = await startPeer(async (c) => {
        // reads nothing until told: the client's writes pile up in its socket
        c.socket.pause()
        resumeReading = () => c.socket.resume()
        await c.closeFrame()
      })
      try {
        const outcome = await run(Effect.scoped(Effect.gen(function*() {
          const session = yield* WebSockets.webSocketSession(peer.url)
          yield* session.send(new Uint8Array(8 * 1024 * 1024))
          const before = timers()
          const cut = yield* Effect.forEach(
            Array.from({ length: 1_000 }),
            () => Effect.timeoutOption(session.flush, "20 millis"),
            { concurrency: "unbounded" }
          )
          yield* Effect.sleep("50 millis")
          const afterCut = timers()
          const waiting = yield* Effect.forEach(Array.from({ length: 300 }), () => Effect.fork(session.flush))
          yield* Effect.sleep("50 millis")
          const whileWaiting = timers()
          resumeReading()
          const flushed = yield* Fiber.joinAll(waiting).pipe(Effect.timeoutOption("10 seconds"))
          return { cut, before, afterCut, whileWaiting, flushed }
        })))
        expect(outcome.cut.every(Option.isNone)).toBe(true)
        // the timeouts' own timers are gone, and no flush keeps one (the old flush polled with a 1 ms timer each)
        expect(outcome.afterCut - outcome.before).toBeLessThanOrEqual(2)
        expect(outcome.whileWaiting - outcome.before).toBeLessThanOrEqual(2)
        expect(Option.isSome(outcome.flushed)).toBe(true)
      } finally {
        await peer.close()
      }
    },
    30_000
  )
})

describe("hardening: memory stays bounded whatever the peer sends", () => {
  it(
    "A.4 a peer that floods Pings and reads nothing: the Pongs owed stop the client reading until they drain",
    async () => {
      // Pings of 125 bytes: each owes a Pong of 131 bytes (masked) that the peer never reads
      const ping = encodeFrame({ opcode: Op.Ping, payload: Buffer.alloc(125, 0x5a) })
      const batch = Buffer.concat(Array.from({ length: 500 }, () => ping))
      let pingsWritten = 0
      let markAt: number | undefined
      const peer = await startPeer(async (c) => {
        c.socket.pause()
        // flood until the client's Pongs have reached its write mark (once the kernel buffers are full), then 1.5 s
        // more: a client that stops reading holds its queue there, one that reads on lets it grow
        const deadline = performance.now() + 25_000
        while (!c.socket.destroyed && performance.now() < Math.min(deadline, (markAt ?? Infinity) + 1_500)) {
          // the peer itself respects backpressure (a batch at a time, once the previous one was taken)
          await Promise.race([c.write(batch), new Promise((resolve) => setTimeout(resolve, 50))])
          pingsWritten += 500
        }
        // the flood stops, the peer reads again and says something: the client must hear it
        c.socket.resume()
        await c.send({ opcode: Op.Text, payload: "after the flood" })
        await c.closeFrame()
      })
      try {
        const result = expectDone(
          await runScenario<FloodResult>("flood", { url: peer.url }, 50_000, (event) => {
            if (event === "mark") markAt ??= performance.now()
          })
        )
        expect(markAt).toBeDefined()
        expect(result.message).toBe("after the flood")
        // the client answered Pings until its write buffer reached the mark (1 MiB), then stopped reading: what it
        // answers in the one socket read it is processing is all it adds
        expect(result.maxBuffered).toBeGreaterThanOrEqual(1024 * 1024)
        expect(result.maxBuffered).toBeLessThan(2 * 1024 * 1024)
        expect(result.arrayBuffersGrowthMiB).toBeLessThan(32)
        measured(
          "A.4",
          `at most ${(result.maxBuffered / 2 ** 20).toFixed(2)} MiB of Pongs queued, Buffers grew ` +
            `${result.arrayBuffersGrowthMiB.toFixed(1)} MiB (${pingsWritten} Pings written)`
        )
      } finally {
        await peer.close()
      }
    },
    40_000
  )
})

describe("hardening: the close window and what went on the wire", () => {
  it(
    "A.5 once the peer's Close arrives (TCP still open): incoming ends at once, send fails Closed and writes nothing, close(4000) changes nothing",
    async () => {
      let letGo: () => void = () => {}
      const released = new Promise<void>((resolve) => (letGo = resolve))
      const peer = await startPeer(async (c) => {
        await c.send({ opcode: Op.Text, payload: "last words" })
        await c.close(4001, "bye")
        // the peer keeps its side of TCP open until the test is done
        await released
        c.socket.end()
      }, { autoClose: false, allowHalfOpen: true })
      try {
        const outcome = await run(Effect.scoped(Effect.gen(function*() {
          const session = yield* WebSockets.webSocketSession(peer.url)
          const started = performance.now()
          const delivered = yield* Stream.runCollect(session.incoming)
          const endedMs = performance.now() - started
          const closeReason = yield* session.closeReason
          const sendError = yield* Effect.flip(session.send("too late"))
          const frameError = yield* Effect.flip(session.send(Frame.binary(new Uint8Array([1]))))
          yield* session.close(reason(4000))
          const closeReasonAfter = yield* session.closeReason
          // whatever the client wrote has reached the peer by now
          yield* Effect.sleep("200 millis")
          const frames = peer.connections[0]!.frames.map((f) =>
            f.opcode === Op.Close ? { close: readClose(f) } : { opcode: f.opcode }
          )
          letGo()
          return { delivered, endedMs, closeReason, sendError, frameError, closeReasonAfter, frames }
        })))
        expect(Chunk.toReadonlyArray(outcome.delivered)).toEqual([Frame.text("last words")])
        // not the engine's 5 s close timer
        expect(outcome.endedMs).toBeLessThan(1_000)
        expect(outcome.closeReason).toEqual(Option.some(reason(4001, "bye")))
        expect(outcome.sendError.reason).toBe("Closed")
        expect(outcome.frameError.reason).toBe("Closed")
        expect(outcome.closeReasonAfter).toEqual(Option.some(reason(4001, "bye")))
        // only the echo of the peer's Close went on the wire
        expect(outcome.frames).toEqual([{ close: { code: 4001, reason: "bye" } }])
        measured("A.5", `incoming ended ${outcome.endedMs.toFixed(1)} ms after the session opened`)
      } finally {
        letGo()
        await peer.close()
      }
    },
    20_000
  )

  it("A.6 after we sent Close(4000), a protocol violation by the peer leaves closeReason at 4000", async () => {
    const peer = await startPeer(async (c) => {
      const close = await c.closeFrame()
      expect(close).toBeDefined()
      // a frame with a reserved opcode: a violation, after our Close
      await c.write(encodeFrame({ opcode: 0x3, payload: "bad" }))
      await c.close(4000)
    }, { autoClose: false })
    try {
      const outcome = await run(Effect.scoped(Effect.gen(function*() {
        const session = yield* WebSockets.webSocketSession(peer.url)
        yield* session.close(reason(4000, "ours"))
        const incoming = yield* Effect.either(Stream.runDrain(session.incoming))
        return { incoming, closeReason: yield* session.closeReason }
      })))
      expect(outcome.closeReason).toEqual(Option.some(reason(4000, "ours")))
      if (Either.isLeft(outcome.incoming)) expect(outcome.incoming.left.closeReason).toEqual(reason(4000, "ours"))
      await within(peer.connections[0]!.ended, 10_000, "the end of the peer's connection")
      expect(peer.connections[0]!.frames.map(readClose)).toEqual([{ code: 4000, reason: "ours" }])
    } finally {
      await peer.close()
    }
  }, 20_000)

  it("A.7 send(Frame.close(...)) with a malformed payload fails with InvalidCloseCode and sends nothing", async () => {
    const peer = await startPeer(async (c) => {
      await c.closeFrame()
    })
    try {
      const errors = await run(Effect.scoped(Effect.gen(function*() {
        const session = yield* WebSockets.webSocketSession(peer.url)
        const payloads = [
          new Uint8Array([3]), // one byte: neither empty nor a code
          new Uint8Array([0x03, 0xed]), // 1005 may not be sent
          new Uint8Array([0x03, 0xe8, 0xff]) // invalid UTF-8 reason
        ]
        const failures = yield* Effect.forEach(
          payloads,
          (data) => Effect.flip(session.send({ _tag: "Close", fin: true, data } as Frame.Close))
        )
        yield* session.send("still open")
        return failures
      })))
      expect(errors.map((e) => e.reason)).toEqual(["InvalidCloseCode", "InvalidCloseCode", "InvalidCloseCode"])
      await within(peer.connections[0]!.ended, 10_000, "the end of the peer's connection")
      const frames = peer.connections[0]!.frames
      expect(frames.map((f) => f.opcode)).toEqual([Op.Text, Op.Close])
      expect(readClose(frames[1]!).code).toBe(1000)
    } finally {
      await peer.close()
    }
  }, 20_000)
})

describe("hardening: misuse of frames fails with Protocol and writes nothing", () => {
  it(
    "A.8 send(Frame.ping) or send(Frame.pong) with 126 bytes fails with Protocol (not a defect) and writes nothing",
    async () => {
      const peer = await startPeer(async (c) => {
        await c.closeFrame()
      })
      try {
        const exits = await run(Effect.scoped(Effect.gen(function*() {
          const session = yield* WebSockets.webSocketSession(peer.url)
          const ping = yield* Effect.exit(session.send(Frame.ping(new Uint8Array(126))))
          const pong = yield* Effect.exit(session.send(Frame.pong(new Uint8Array(126))))
          const ok = yield* Effect.exit(session.send(Frame.ping(new Uint8Array(125))))
          yield* session.send("marker")
          return { ping, pong, ok }
        })))
        for (const exit of [exits.ping, exits.pong]) {
          expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause) && exit.cause.error.reason).toBe("Protocol")
        }
        expect(Exit.isSuccess(exits.ok)).toBe(true)
        await within(peer.connections[0]!.ended, 10_000, "the end of the peer's connection")
        expect(peer.connections[0]!.frames.map((f) => [f.opcode, f.payload.byteLength])).toEqual([
          [Op.Ping, 125],
          [Op.Text, 6],
          [Op.Close, 2]
        ])
      } finally {
        await peer.close()
      }
    },
    20_000
  )

  it(
    "A.9 while a fragmented message is open, a frame of another type or a whole message fails with Protocol and writes nothing",
    async () => {
      const messages: Array<{ opcode: number; text: string } | undefined> = []
      const peer = await startPeer(async (c) => {
        for (let i = 0; i < 3; i++) messages.push(await firstMessage(c))
        await c.closeFrame()
      })
      try {
        const errors = await run(Effect.scoped(Effect.gen(function*() {
          const session = yield* WebSockets.webSocketSession(peer.url)
          yield* session.send(Frame.text("a", false))
          const misuses = yield* Effect.forEach(
            [Frame.binary(new Uint8Array([1])), Frame.binary(new Uint8Array([2]), false), "whole", new Uint8Array([3])],
            (item) => Effect.flip(session.send(item))
          )
          yield* session.send(Frame.text("b"))
          yield* session.send(Frame.binary(Buffer.from("c"), false))
          misuses.push(yield* Effect.flip(session.send(Frame.text("d"))))
          yield* session.send(Frame.binary(Buffer.from("e")))
          yield* session.send("after")
          return misuses
        })))
        expect(errors.map((e) => e.reason)).toEqual(["Protocol", "Protocol", "Protocol", "Protocol", "Protocol"])
        expect(messages).toEqual([
          { opcode: Op.Text, text: "ab" },
          { opcode: Op.Binary, text: "ce" },
          { opcode: Op.Text, text: "after" }
        ])
      } finally {
        await peer.close()
      }
    },
    20_000
  )
})

describe("hardening: liveness is judged on what arrives", () => {
  it(
    "A.10 a slow consumer pauses reading: a Pong stuck behind unread data is not a missed Pong (150 × 64 KiB, one per 15 ms)",
    async () => {
      const server = await startServer({
        behaviours: {
          "*": ({ socket }) => {
            const payload = Buffer.alloc(64 * 1024, 7)
            for (let i = 0; i < 150; i++) socket.send(payload)
          }
        }
      })
      try {
        const outcome = await run(
          Effect.scoped(Effect.gen(function*() {
            const session = yield* WebSockets.webSocketSession(server.url())
            let received = 0
            const failure = yield* Effect.gen(function*() {
              for (; received < 150; received++) {
                yield* session.receive
                yield* Effect.sleep("15 millis")
              }
            }).pipe(Effect.flip, Effect.option)
            return { received, failure }
          })),
          { pingInterval: "200 millis", timeout: "400 millis" }
        )
        expect(Option.map(outcome.failure, (e) => e.reason)).toEqual(Option.none())
        expect(outcome.received).toBe(150)
        const connection = await server.nthConnection(1)
        expect((await connection.closed).code).toBe(1000)
        expect(connection.pings.length).toBeGreaterThanOrEqual(1)
      } finally {
        await server.close()
      }
    },
    30_000
  )
})

describe("hardening: closing a scope closes its sessions concurrently", () => {
  it("A.11 4 sessions to a peer that never answers Close: the scope closes after one 5 s wait, not four", async () => {
    const peer = await startPeer(async (c) => {
      await c.closeFrame()
    }, { autoClose: false })
    try {
      const watch = watchResources(peer)
      let closedAt = 0
      const opened = await run(Effect.scoped(Effect.gen(function*() {
        const sessions = yield* Effect.forEach(Array.from({ length: 4 }), () => WebSockets.webSocketSession(peer.url))
        closedAt = performance.now()
        return sessions.length
      })))
      const elapsed = performance.now() - closedAt
      expect(opened).toBe(4)
      expect(elapsed).toBeGreaterThan(4_500)
      expect(elapsed).toBeLessThan(8_000)
      for (const connection of peer.connections) {
        await within(connection.ended, 5_000, "the end of the peer's connection")
        expect(connection.frames.map(readClose)).toEqual([{ code: 1000, reason: "" }])
      }
      expect(await watch.leaked()).toEqual({})
      measured("A.11", `the scope of 4 sessions closed in ${elapsed.toFixed(0)} ms`)
    } finally {
      await peer.close()
    }
  }, 40_000)

  it(
    "A.12 20 sessions whose peer answers Close after 300 ms close together in about 300 ms; 200 healthy ones at once",
    async () => {
      const peer = await startPeer(async (c) => {
        const close = await c.closeFrame()
        if (close === undefined) return
        await new Promise((resolve) => setTimeout(resolve, 300))
        await c.close(1000)
        c.socket.end()
      }, { autoClose: false })
      const server = await startServer()
      try {
        const timed = async (url: string, count: number) => {
          let closedAt = 0
          await run(Effect.scoped(Effect.gen(function*() {
            yield* Effect.forEach(Array.from({ length: count }), () => WebSockets.webSocketSession(url), {
              concurrency: 20
            })
            closedAt = performance.now()
          })))
          return performance.now() - closedAt
        }
        const slow = await timed(peer.url, 20)
        expect(slow).toBeGreaterThan(250)
        expect(slow).toBeLessThan(2_000)
        const healthy = await timed(server.url(), 200)
        expect(healthy).toBeLessThan(3_000)
        const codes = await Promise.all(server.connections.map((c) => c.closed.then((closed) => closed.code)))
        expect(codes).toEqual(Array(200).fill(1000))
        measured("A.12", `20 slow closes took ${slow.toFixed(0)} ms, 200 healthy ones ${healthy.toFixed(0)} ms`)
      } finally {
        await peer.close()
        await server.close()
      }
    },
    40_000
  )

  it("A.13 a timeout around webSocket cuts the close wait short and drops TCP at once", async () => {
    const peer = await startPeer(async (c) => {
      await c.closeFrame()
    }, { autoClose: false })
    try {
      const started = performance.now()
      const result = await run(
        WebSockets.webSocket(peer.url, () => Effect.void).pipe(Effect.timeoutOption("300 millis"))
      )
      const returnedMs = performance.now() - started
      expect(Option.isNone(result)).toBe(true)
      expect(returnedMs).toBeLessThan(2_000)
      const connection = peer.connections[0]!
      // the peer sees the connection end now, not after the engine's own 5 s close timer
      await within(connection.ended, 1_500, "the end of the peer's connection")
      expect(connection.frames.map(readClose)).toEqual([{ code: 1000, reason: "" }])
    } finally {
      await peer.close()
    }
  }, 20_000)
})

describe("hardening: the ws internals the Node engine relies on", () => {
  it("A.14 ws's receiver is `_receiver` and reports the peer's Close frame with a \"conclude\" event", async () => {
    const server = await startServer()
    try {
      const ws = new WebSocket(server.url())
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve())
        ws.once("error", reject)
      })
      const receiver = (ws as unknown as { readonly _receiver?: unknown })._receiver
      expect(receiver).toBeInstanceOf(EventEmitter)
      // ws listens to "conclude" itself: the event exists under that name
      expect((receiver as EventEmitter).listenerCount("conclude")).toBeGreaterThanOrEqual(1)
      const concluded = new Promise<number>((resolve) => (receiver as EventEmitter).once("conclude", resolve))
      const connection = await server.nthConnection(1)
      connection.socket.close(4002)
      expect(await within(concluded, 5_000, "the conclude event")).toBe(4002)
      ws.terminate()
    } finally {
      await server.close()
    }
  }, 20_000)
})
