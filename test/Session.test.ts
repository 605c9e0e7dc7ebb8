/**
 * docs/API.md §3, the session's behaviour rules, each against a real `ws` server on 127.0.0.1: data frames only and in
 * order, pongs, closes started by either side, invalid close codes, dropped connections, the pinger, the size
 * limit, protocol violations, backpressure both ways, and many sessions on one layer.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { CloseReason, Frame, WebSocketException, WebSockets } from "../src/index.js"
import { guard, live } from "./helpers/layers.js"
import { echo, idle, rawFrame, server, type ServerConnection, writeRaw } from "./helpers/wsServer.js"

const reason = (code: number, message = "") => new CloseReason({ code, message })

/** Drains `incoming` into an array; resolves with what arrived and how the stream ended. */
const drain = (incoming: Stream.Stream<Frame.Data, WebSocketException>) =>
  Effect.gen(function*() {
    const frames: Array<Frame.Data> = []
    const end = yield* Stream.runForEach(incoming, (f) => Effect.sync(() => frames.push(f))).pipe(Effect.either)
    return { frames, end }
  })

/** A frame as [tag, text or byte array], for comparisons. */
const shape = (f: Frame.Data) => [f._tag, f._tag === "Text" ? f.data : Array.from(f.data)] as const

const texts = (frames: ReadonlyArray<Frame.Data>) => frames.map((f) => Frame.readText(f))

/** A session on a fresh server running `behaviour`, with the plugin configured by `options`. */
const sessionOn = (behaviour: (c: ServerConnection) => void, options: WebSockets.Options = {}) =>
  Effect.gen(function*() {
    const srv = yield* server({ behaviours: { "*": behaviour }, options: { autoPong: true } })
    const session = yield* WebSockets.webSocketSession(srv.url("/")).pipe(Effect.provide(live(options)))
    const conn = yield* Effect.promise(() => srv.nthConnection(1))
    return { srv, session, conn }
  })

describe("§3 incoming", () => {
  it.scopedLive("incoming delivers data frames only, whole messages, in order", () =>
    Effect.gen(function*() {
      const { session } = yield* sessionOn(({ socket }) => {
        socket.send("one")
        socket.ping("not data")
        socket.pong("unsolicited pong")
        socket.send(Buffer.from([1, 2, 3]))
        socket.send("frag", { fin: false })
        socket.send("men", { fin: false })
        socket.send("ted", { fin: true })
        socket.send(Buffer.from([9]), { fin: false })
        socket.send(Buffer.from([8]), { fin: true })
        socket.send("")
        socket.send("last", () => socket.close(1000, "done"))
      })
      const { frames, end } = yield* drain(session.incoming)
      expect(end._tag).toBe("Right")
      expect(frames.map(shape)).toEqual([
        ["Text", "one"],
        ["Binary", [1, 2, 3]],
        ["Text", "fragmented"],
        ["Binary", [9, 8]],
        ["Text", ""],
        ["Text", "last"]
      ])
      expect(frames.every((f) => f.fin)).toBe(true)
    }))

  it.scopedLive("a server ping is answered by exactly one pong with the same payload, never shown on incoming", () =>
    Effect.gen(function*() {
      const payload = Buffer.from("ping-payload-\u00e9")
      const { session, conn } = yield* sessionOn(({ socket, pongs }) => {
        socket.ping(payload)
        socket.once("pong", () => {
          // leave a duplicate pong time to arrive, then report and close
          setTimeout(() => socket.send(`pongs=${pongs.length}`, () => socket.close(1000)), 100)
        })
      })
      const { frames, end } = yield* drain(session.incoming).pipe(guard(10_000, "the pong"))
      expect(end._tag).toBe("Right")
      expect(texts(frames)).toEqual(["pongs=1"])
      yield* Effect.promise(() => conn.closed)
      expect(conn.pongs.length).toBe(1)
      expect(Buffer.compare(conn.pongs[0]!, payload)).toBe(0)
    }))

  it.scopedLive("receive takes the next data message", () =>
    Effect.gen(function*() {
      const { session } = yield* sessionOn(({ socket }) => {
        socket.send("a")
        socket.send(Buffer.from("b"))
      })
      expect(yield* session.receive).toEqual(Frame.text("a"))
      expect(Frame.readText(yield* session.receive)).toBe("b")
    }))
})

describe("§3 the peer closes", () => {
  it.scopedLive("closeReason is the peer's reason, the Close is echoed, incoming ends, receive fails Closed", () =>
    Effect.gen(function*() {
      const { session, conn } = yield* sessionOn(({ socket }) => {
        socket.send("before close", () => socket.close(4000, "server bye"))
      })
      const { frames, end } = yield* drain(session.incoming)
      expect(end._tag).toBe("Right")
      expect(texts(frames)).toEqual(["before close"])
      expect(yield* session.closeReason).toEqual(Option.some(reason(4000, "server bye")))
      expect(yield* Effect.promise(() => conn.closed)).toEqual({ code: 4000, reason: "server bye" })
      const error = yield* Effect.flip(session.receive)
      expect(error.reason).toBe("Closed")
      expect((yield* Effect.flip(session.send("too late"))).reason).toBe("Closed")
    }))

  it.scopedLive("a Close without code (1005) gives closeReason Some(1000 NORMAL, \"\")", () =>
    Effect.gen(function*() {
      const { session, conn } = yield* sessionOn(({ socket }) => socket.close())
      const { end } = yield* drain(session.incoming)
      expect(end._tag).toBe("Right")
      expect(yield* session.closeReason).toEqual(Option.some(reason(1000, "")))
      // the echo carries no code either
      expect((yield* Effect.promise(() => conn.closed)).code).toBe(1005)
    }))
})

describe("§3 we close", () => {
  it.scopedLive("close(r) sends r, closeReason is r, incoming still delivers what the peer had in flight", () =>
    Effect.gen(function*() {
      const { session, conn } = yield* sessionOn(idle)
      // the server stops reading: it sees our Close only after it sent the late messages
      conn.socket.pause()
      yield* session.close(reason(4001, "client bye"))
      const early = yield* Effect.flip(session.send("after close"))
      expect(early.reason).toBe("Closed")
      conn.socket.send("late 1")
      conn.socket.send("late 2", () => conn.socket.resume())
      const { frames, end } = yield* drain(session.incoming)
      expect(end._tag).toBe("Right")
      expect(texts(frames)).toEqual(["late 1", "late 2"])
      expect(yield* session.closeReason).toEqual(Option.some(reason(4001, "client bye")))
      expect(yield* Effect.promise(() => conn.closed)).toEqual({ code: 4001, reason: "client bye" })
      expect((yield* Effect.flip(session.send("after end"))).reason).toBe("Closed")
      expect(conn.messages.length).toBe(0)
    }))

  it.scopedLive("close() without a reason sends 1000 NORMAL", () =>
    Effect.gen(function*() {
      const { session, conn } = yield* sessionOn(idle)
      yield* session.close()
      expect(yield* session.closeReason).toEqual(Option.some(reason(1000)))
      expect((yield* Effect.promise(() => conn.closed)).code).toBe(1000)
    }))

  it.scopedLive("sending Frame.close(r) closes like close(r)", () =>
    Effect.gen(function*() {
      const { session, conn } = yield* sessionOn(idle)
      yield* session.send(Frame.close(reason(4002, "by frame")))
      expect(yield* session.closeReason).toEqual(Option.some(reason(4002, "by frame")))
      expect(yield* Effect.promise(() => conn.closed)).toEqual({ code: 4002, reason: "by frame" })
    }))

  it.scopedLive("codes that may not be sent and reasons over 123 UTF-8 bytes fail InvalidCloseCode, send nothing", () =>
    Effect.gen(function*() {
      const { session, conn } = yield* sessionOn(idle)
      const invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
      for (const code of invalid) {
        const error = yield* Effect.flip(session.close(reason(code)))
        expect(error).toBeInstanceOf(WebSocketException)
        expect(error.reason).toBe("InvalidCloseCode")
      }
      // 62 two-byte characters: 124 UTF-8 bytes (but only 62 UTF-16 units)
      const tooLong = yield* Effect.flip(session.close(reason(1000, "\u00e9".repeat(62))))
      expect(tooLong.reason).toBe("InvalidCloseCode")
      // nothing was sent: the session is still open, the server sees this message first, then a valid close
      yield* session.send("still open")
      const first = yield* Effect.promise(() => conn.nthMessage(1))
      expect(first.data.toString()).toBe("still open")
      const longest = "\u00e9".repeat(61) + "a" // 123 bytes: allowed
      yield* session.close(reason(4999, longest))
      expect(yield* Effect.promise(() => conn.closed)).toEqual({ code: 4999, reason: longest })
      expect(conn.messages.length).toBe(1)
    }))
})

describe("§3 abnormal ends", () => {
  it.scopedLive("a dropped connection: closeReason Some(1006), incoming fails Closed after what arrived", () =>
    Effect.gen(function*() {
      const { session } = yield* sessionOn(({ socket }) => {
        socket.send("last words", () => socket.terminate())
      })
      const { frames, end } = yield* drain(session.incoming)
      expect(texts(frames)).toEqual(["last words"])
      expect(end._tag).toBe("Left")
      if (end._tag === "Left") {
        expect(end.left.reason).toBe("Closed")
        expect(end.left.closeReason).toEqual(reason(1006))
      }
      expect(yield* session.closeReason).toEqual(Option.some(reason(1006)))
      expect((yield* Effect.flip(session.receive)).reason).toBe("Closed")
    }))

  it.scopedLive("the pinger sends pings with fresh payloads, answered pongs keep the session open", () =>
    Effect.gen(function*() {
      const { session, conn } = yield* sessionOn(({ socket, pings }) => {
        socket.on("ping", () => {
          if (pings.length === 4) socket.close(1000, "enough pings")
        })
      }, { pingInterval: "50 millis", timeout: "2 seconds" })
      const { end } = yield* drain(session.incoming).pipe(guard(10_000, "four pings"))
      expect(end._tag).toBe("Right")
      expect(yield* session.closeReason).toEqual(Option.some(reason(1000, "enough pings")))
      const payloads = new Set(conn.pings.map((p) => p.toString("hex")))
      expect(conn.pings.length).toBe(4)
      expect(payloads.size).toBe(4)
      expect(conn.pings.every((p) => p.length > 0)).toBe(true)
    }))

  it.scopedLive("a server that ignores pings: Close(1011, \"Ping timeout\"), closeReason that, incoming fails PingTimeout", () =>
    Effect.gen(function*() {
      const srv = yield* server({ behaviours: { "*": idle }, options: { autoPong: false } })
      const session = yield* WebSockets.webSocketSession(srv.url("/")).pipe(
        Effect.provide(live({ pingInterval: "50 millis", timeout: "150 millis" }))
      )
      const conn = yield* Effect.promise(() => srv.nthConnection(1))
      const { end } = yield* drain(session.incoming).pipe(guard(10_000, "the ping timeout"))
      expect(end._tag).toBe("Left")
      if (end._tag === "Left") expect(end.left.reason).toBe("PingTimeout")
      expect(yield* session.closeReason).toEqual(Option.some(reason(1011, "Ping timeout")))
      expect(yield* Effect.promise(() => conn.closed)).toEqual({ code: 1011, reason: "Ping timeout" })
      expect(conn.pings.length).toBeGreaterThanOrEqual(1)
      expect(conn.pongs.length).toBe(0)
    }))

  it.scopedLive("a message larger than maxFrameSize: Close(1009) sent, closeReason 1009, incoming fails FrameTooBig", () =>
    Effect.gen(function*() {
      const { session, conn } = yield* sessionOn(({ socket }) => {
        socket.send("x".repeat(1024))
        socket.send(Buffer.alloc(1025, 7))
      }, { maxFrameSize: 1024 })
      const { frames, end } = yield* drain(session.incoming)
      expect(texts(frames)).toEqual(["x".repeat(1024)])
      expect(end._tag).toBe("Left")
      if (end._tag === "Left") expect(end.left.reason).toBe("FrameTooBig")
      expect(Option.map(yield* session.closeReason, (r) => r.code)).toEqual(Option.some(1009))
      expect((yield* Effect.promise(() => conn.closed)).code).toBe(1009)
    }))

  it.scopedLive("a fragmented message whose fragments add up past maxFrameSize fails FrameTooBig", () =>
    Effect.gen(function*() {
      const { session, conn } = yield* sessionOn(({ socket }) => {
        socket.send("a".repeat(600), { fin: false })
        socket.send("b".repeat(600), { fin: true })
      }, { maxFrameSize: 1024 })
      const { end } = yield* drain(session.incoming)
      expect(end._tag === "Left" && end.left.reason).toBe("FrameTooBig")
      expect((yield* Effect.promise(() => conn.closed)).code).toBe(1009)
    }))

  const violations: ReadonlyArray<readonly [string, Buffer, number]> = [
    ["a frame with a reserved opcode (0x3)", rawFrame(0x3, Buffer.from("?")), 1002],
    ["a frame with a reserved bit set (RSV1, no extension)", rawFrame(0x1, Buffer.from("a"), { rsv: 4 }), 1002],
    ["a fragmented control frame", rawFrame(0x9, Buffer.from("p"), { fin: false }), 1002],
    ["a continuation frame with nothing to continue", rawFrame(0x0, Buffer.from("c")), 1002],
    ["a Close with a code that may not be used (999)", rawFrame(0x8, Buffer.from([0x03, 0xe7])), 1002],
    ["invalid UTF-8 in a text message", rawFrame(0x1, Buffer.from([0x68, 0xff, 0xfe])), 1007]
  ]
  for (const [what, bytes, code] of violations) {
    it.scopedLive(`a protocol violation, ${what}: Close(${code}) sent, incoming fails Protocol`, () =>
      Effect.gen(function*() {
        const { session, conn } = yield* sessionOn(({ socket }) => {
          socket.send("valid first", () => writeRaw(socket, bytes))
        })
        const { frames, end } = yield* drain(session.incoming)
        expect(texts(frames)).toEqual(["valid first"])
        expect(end._tag).toBe("Left")
        if (end._tag === "Left") expect(end.left.reason).toBe("Protocol")
        expect(Option.map(yield* session.closeReason, (r) => r.code)).toEqual(Option.some(code))
        expect((yield* Effect.promise(() => conn.closed)).code).toBe(code)
      }))
  }
})

describe("§3 backpressure", () => {
  it.scopedLive("a slow consumer makes the client stop reading: the server cannot push unbounded data", () =>
    Effect.gen(function*() {
      const chunk = Buffer.alloc(256 * 1024, 1)
      const total = 256 // 64 MiB offered by the server
      const { session, conn } = yield* sessionOn(({ socket }) => {
        for (let i = 0; i < total; i++) {
          chunk.writeUInt32BE(i, 0)
          socket.send(Buffer.from(chunk))
        }
      })
      // nobody reads for a while; then the server still holds most of what it wanted to send
      yield* Effect.sleep(700)
      const stuck = conn.socket.bufferedAmount
      console.log(`backpressure: the server still holds ${(stuck / 1048576).toFixed(1)} of 64 MiB unsent`)
      expect(stuck).toBeGreaterThan(32 * 1024 * 1024)
      // reading resumes the socket: everything arrives, in order
      let n = 0
      yield* session.incoming.pipe(
        Stream.take(total),
        Stream.runForEach((frame) =>
          Effect.sync(() => {
            expect(Buffer.from(Frame.readBytes(frame)).readUInt32BE(0)).toBe(n)
            n++
          })
        ),
        guard(20_000, "reading 64 MiB")
      )
      expect(n).toBe(total)
      expect(conn.socket.bufferedAmount).toBe(0)
    }))

  it.scopedLive("send waits while the write buffer is above its high-water mark (the server stops reading)", () =>
    Effect.gen(function*() {
      const { session, conn } = yield* sessionOn(idle)
      conn.socket.pause()
      const message = new Uint8Array(256 * 1024)
      const total = 192 // 48 MiB
      let sent = 0
      const fiber = yield* Effect.fork(
        Effect.forEach(Chunk.range(0, total - 1), (i) => {
          const bytes = new Uint8Array(message)
          new DataView(bytes.buffer).setUint32(0, i)
          return Effect.zipRight(session.send(bytes), Effect.sync(() => sent++))
        }, { discard: true })
      )
      yield* Effect.sleep(700)
      // send is waiting: the sender did not get to the end of its loop
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      expect(sent).toBeLessThan(total)
      const stalledAt = sent
      console.log(`backpressure: send stalled after ${sent} of ${total} messages of 256 KiB`)
      yield* Effect.sleep(200)
      expect(sent).toBe(stalledAt)
      conn.socket.resume()
      yield* Fiber.join(fiber).pipe(guard(20_000, "the sender"))
      expect(sent).toBe(total)
      yield* Effect.promise(() => conn.nthMessage(total))
      conn.messages.forEach((m, i) => expect(m.data.readUInt32BE(0)).toBe(i))
    }))

  it.scopedLive("outgoing: a sink that sends strings and frames in order", () =>
    Effect.gen(function*() {
      const { session, conn } = yield* sessionOn(idle)
      yield* Stream.range(1, 500).pipe(
        Stream.map((i) => i % 2 === 0 ? String(i) : Frame.binary(new TextEncoder().encode(String(i)))),
        Stream.run(session.outgoing)
      )
      yield* Effect.promise(() => conn.nthMessage(500))
      expect(conn.messages.map((m) => m.data.toString())).toEqual(Array.from({ length: 500 }, (_, i) => String(i + 1)))
      expect(conn.messages.map((m) => m.isBinary)).toEqual(Array.from({ length: 500 }, (_, i) => i % 2 === 0))
    }))
})

describe("§3 many sessions", () => {
  it.scopedLive("several sessions at once on one layer share nothing mutable", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const sessions = 20
      const results = yield* Effect.forEach(
        Array.from({ length: sessions }, (_, i) => i),
        (id) =>
          WebSockets.webSocket(srv.url(`/s${id}`), (session) =>
            Effect.gen(function*() {
              const got: Array<string> = []
              for (let j = 0; j < 20; j++) {
                yield* session.send(`${id}:${j}`)
                got.push(Frame.readText(yield* session.receive))
              }
              // one session ends early with its own reason; the others carry on
              if (id === 0) yield* session.close(reason(4000, "first one leaves"))
              return { got, closeReason: id === 0 ? yield* session.closeReason : Option.none() }
            })),
        { concurrency: "unbounded" }
      ).pipe(Effect.provide(live({ pingInterval: "1 second" })))
      results.forEach(({ got }, id) => expect(got).toEqual(Array.from({ length: 20 }, (_, j) => `${id}:${j}`)))
      expect(results[0]!.closeReason).toEqual(Option.some(reason(4000, "first one leaves")))
      const codes = yield* Effect.promise(() => Promise.all(srv.connections.map((c) => c.closed)))
      expect(codes.filter((c) => c.code === 4000).length).toBe(1)
      expect(codes.filter((c) => c.code === 1000).length).toBe(sessions - 1)
    }))

  it.scopedLive("a session ended by its peer leaves a concurrent session on the same layer usable", () =>
    Effect.gen(function*() {
      const srv = yield* server({
        behaviours: { "/dies": ({ socket }) => socket.send("bye", () => socket.terminate()), "*": echo }
      })
      const [dead, alive] = yield* Effect.all([
        WebSockets.webSocketSession(srv.url("/dies")),
        WebSockets.webSocketSession(srv.url("/alive"))
      ]).pipe(Effect.provide(live()))
      expect(yield* dead.closeReason).toEqual(Option.some(reason(1006)))
      yield* alive.send("still here")
      expect(yield* alive.receive).toEqual(Frame.text("still here"))
    }))
})

describe("§3 the session's settings", () => {
  it.scopedLive("the session exposes the plugin's settings and no converter by default", () =>
    Effect.gen(function*() {
      const { session } = yield* sessionOn(idle, { pingInterval: "30 seconds", maxFrameSize: 4096 })
      expect(Option.isSome(session.pingInterval)).toBe(true)
      expect(session.maxFrameSize).toBe(4096)
      expect(Option.isNone(session.converter)).toBe(true)
    }))

  it.scopedLive("flush fails Closed once the session has ended", () =>
    Effect.gen(function*() {
      const { session } = yield* sessionOn(({ socket }) => socket.close(1000))
      yield* session.closeReason
      expect((yield* Effect.flip(session.flush)).reason).toBe("Closed")
    }))
})
