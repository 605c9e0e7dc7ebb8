import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, Option, Stream, Supervisor } from "effect"
import { NodeEngine, WebSockets } from "../../src/index.js"
import { startEchoServerProcess } from "../hostile/child.js"
import { runEchoClient, watchResources, within } from "../hostile/client.js"
import { measured } from "../hostile/measure.js"
import { encodeFrame, Op, readClose, startPeer } from "../hostile/peer.js"

const live = (options: WebSockets.Options = {}) => WebSockets.layer(options).pipe(Layer.provide(NodeEngine.layer))

describe("faults: the connection breaks under the session", () => {
  it("F.1 server process killed with SIGKILL mid-stream: fails promptly with Closed, closeReason 1006", async () => {
    const server = await startEchoServerProcess()
    try {
      const watch = watchResources()
      const supervisor = await Effect.runPromise(Supervisor.track)
      let killedAt = 0
      const program = Effect.scoped(
        Effect.gen(function*() {
          const session = yield* WebSockets.webSocketSession(server.url)
          // a stream of messages both ways; the server is killed after the 200th echo
          const pump = Effect.gen(function*() {
            for (let i = 0;; i++) {
              yield* session.send(`message ${i}`)
              const echo = yield* session.receive
              expect(echo).toMatchObject({ _tag: "Text", data: `message ${i}` })
              if (i === 199) {
                killedAt = performance.now()
                server.child.kill("SIGKILL")
              }
            }
          })
          const error = yield* Effect.flip(pump)
          const detectedAt = performance.now()
          const closeReason = yield* session.closeReason
          const incoming = yield* Effect.either(Stream.runDrain(session.incoming))
          return { error, closeReason, incoming, detectedMs: detectedAt - killedAt }
        })
      ).pipe(Effect.supervised(supervisor), Effect.provide(live()))
      const outcome = await within(Effect.runPromise(program), 20_000, "the end of the session")
      expect(outcome.error._tag).toBe("WebSocketException")
      expect(outcome.error.reason).toBe("Closed")
      expect(Option.getOrUndefined(outcome.closeReason)?.code).toBe(1006)
      // incoming fails too: an abnormal end is an error, never a quiet end of stream
      expect(Either.isLeft(outcome.incoming) && outcome.incoming.left.reason).toBe("Closed")
      // guard, not a benchmark: detection must not wait for the 5 s close-handshake timeout
      expect(outcome.detectedMs).toBeLessThan(5_000)
      measured("F.1", `failure seen ${outcome.detectedMs.toFixed(1)} ms after SIGKILL`)
      await server.exited
      expect((await Effect.runPromise(supervisor.value)).length).toBe(0)
      expect(await watch.leaked()).toEqual({})
    } finally {
      await server.stop()
    }
  })

  it("F.2 a half-open peer (reads nothing, answers nothing) is caught by the pinger: 1011, PingTimeout", async () => {
    const pingInterval = 200
    const timeout = 300
    let openedAt = 0
    const peer = await startPeer((c) => {
      openedAt = performance.now()
      // the peer goes silent: reads nothing, answers nothing, never closes
      c.socket.pause()
    }, { autoClose: false })
    try {
      const watch = watchResources(peer)
      const outcome = await within(
        runEchoClient(peer.url, { pingInterval: `${pingInterval} millis`, timeout: `${timeout} millis` }),
        20_000,
        "the end of the session"
      )
      const detectedMs = outcome.endedAt - openedAt
      expect(outcome.error?.reason).toBe("PingTimeout")
      expect(Option.getOrUndefined(outcome.closeReason)).toMatchObject({ code: 1011, message: "Ping timeout" })
      // guard: within pingInterval + timeout, plus generous scheduling slack on a shared machine
      expect(detectedMs).toBeLessThan(pingInterval + timeout + 2_000)
      // after a ping timeout the peer is presumed gone: the scope does not wait 5 s for its Close
      const releaseMs = outcome.returnedAt - outcome.endedAt
      expect(releaseMs).toBeLessThan(2_000)
      measured(
        "F.2",
        `detected ${detectedMs.toFixed(0)} ms after the upgrade ` +
          `(pingInterval ${pingInterval} ms + timeout ${timeout} ms); scope closed ${releaseMs.toFixed(0)} ms later`
      )
      // what the client wrote while the peer was not reading: one Ping, then Close 1011
      const connection = peer.connections[0]!
      connection.socket.resume()
      await within(connection.ended, 5_000, "the end of the peer's connection")
      expect(connection.frames.map((f) => f.opcode)).toEqual([Op.Ping, Op.Close])
      expect(connection.frames[0]!.payload.byteLength).toBeGreaterThan(0)
      expect(readClose(connection.frames[1]!)).toEqual({ code: 1011, reason: "Ping timeout" })
      expect(outcome.liveFibers).toBe(0)
      expect(await watch.leaked()).toEqual({})
    } finally {
      await peer.close()
    }
  })

  it("F.3 the peer drops TCP in the middle of a frame: Closed, closeReason 1006", async () => {
    const peer = await startPeer(async (c) => {
      const whole = encodeFrame({ opcode: Op.Text, payload: "x".repeat(1000) })
      await c.write(whole.subarray(0, 500))
      c.socket.destroy()
    })
    try {
      const watch = watchResources(peer)
      const outcome = await within(runEchoClient(peer.url), 20_000, "the end of the session")
      expect(outcome.delivered).toEqual([])
      expect(outcome.error?.reason).toBe("Closed")
      expect(Option.getOrUndefined(outcome.closeReason)?.code).toBe(1006)
      expect(outcome.liveFibers).toBe(0)
      expect(await watch.leaked()).toEqual({})
    } finally {
      await peer.close()
    }
  })

  it("F.4 the peer resets the connection (RST) after a message: it is delivered, then Closed, 1006", async () => {
    const peer = await startPeer(async (c) => {
      await c.write(encodeFrame({ opcode: Op.Text, payload: "last words" }))
      await c.nextMessage()
      c.socket.resetAndDestroy()
    })
    try {
      const watch = watchResources(peer)
      const outcome = await within(runEchoClient(peer.url), 20_000, "the end of the session")
      expect(outcome.delivered).toMatchObject([{ _tag: "Text", data: "last words" }])
      expect(outcome.error?.reason).toBe("Closed")
      expect(Option.getOrUndefined(outcome.closeReason)?.code).toBe(1006)
      expect(outcome.liveFibers).toBe(0)
      expect(await watch.leaked()).toEqual({})
    } finally {
      await peer.close()
    }
  })

  it("F.5 a peer that never answers our Close: the scope drops the connection after 5 s", async () => {
    const peer = await startPeer(async (c) => {
      await c.write(encodeFrame({ opcode: Op.Text, payload: "hello" }))
    }, { autoClose: false })
    try {
      const watch = watchResources(peer)
      const supervisor = await Effect.runPromise(Supervisor.track)
      const program = Effect.scoped(
        Effect.gen(function*() {
          const session = yield* WebSockets.webSocketSession(peer.url)
          const first = yield* session.receive
          const reader = yield* Effect.fork(Stream.runDrain(session.incoming))
          yield* session.close()
          const closeReason = yield* session.closeReason
          // joined inside the scope: a forked reader still running when the scope's owner ends is interrupted
          yield* Fiber.await(reader)
          return { first, closeReason, reader }
        })
      ).pipe(Effect.supervised(supervisor), Effect.provide(live()))
      const started = performance.now()
      const outcome = await within(Effect.runPromise(program), 20_000, "the end of the scope")
      const elapsed = performance.now() - started
      expect(outcome.first).toMatchObject({ _tag: "Text", data: "hello" })
      expect(Option.getOrUndefined(outcome.closeReason)?.code).toBe(1000)
      const reader = await Effect.runPromise(Fiber.await(outcome.reader))
      expect(reader._tag).toBe("Success")
      expect(elapsed).toBeGreaterThan(4_500)
      measured("F.5", `scope closed ${elapsed.toFixed(0)} ms after the Close was sent to a silent peer`)
      const connection = peer.connections[0]!
      await within(connection.ended, 5_000, "the end of the peer's connection")
      expect(connection.frames.map((f) => readClose(f).code)).toEqual([1000])
      expect((await Effect.runPromise(supervisor.value)).length).toBe(0)
      expect(await watch.leaked()).toEqual({})
    } finally {
      await peer.close()
    }
  })

  it("F.6 a peer that answers each Ping keeps the session open; every Ping carries a fresh payload", async () => {
    const peer = await startPeer(async (c) => {
      let pings = 0
      while (pings < 5) {
        const frame = await c.nextFrame()
        if (frame === undefined) return
        if (frame.opcode !== Op.Ping) continue
        pings++
        await c.send({ opcode: Op.Pong, payload: frame.payload })
      }
      await c.close(1000, "enough")
      await c.closeFrame()
    })
    try {
      const watch = watchResources(peer)
      const outcome = await within(
        runEchoClient(peer.url, { pingInterval: "50 millis", timeout: "1 second" }),
        20_000,
        "the end of the session"
      )
      expect(outcome.error).toBeUndefined()
      expect(Option.getOrUndefined(outcome.closeReason)).toMatchObject({ code: 1000, message: "enough" })
      const pings = peer.connections[0]!.frames.filter((f) => f.opcode === Op.Ping).map((f) =>
        f.payload.toString("hex")
      )
      expect(pings.length).toBeGreaterThanOrEqual(5)
      expect(new Set(pings).size).toBe(pings.length)
      expect(outcome.liveFibers).toBe(0)
      expect(await watch.leaked()).toEqual({})
    } finally {
      await peer.close()
    }
  })

  it("F.7 a Pong whose payload does not match the Ping does not count: Close 1011, PingTimeout", async () => {
    const peer = await startPeer(async (c) => {
      for (;;) {
        const frame = await c.nextFrame()
        if (frame === undefined || frame.opcode === Op.Close) return
        if (frame.opcode === Op.Ping) {
          await c.send({ opcode: Op.Pong, payload: Buffer.from(frame.payload.map((b) => b ^ 0xff)) })
        }
      }
    })
    try {
      const watch = watchResources(peer)
      const outcome = await within(
        runEchoClient(peer.url, { pingInterval: "50 millis", timeout: "200 millis" }),
        20_000,
        "the end of the session"
      )
      expect(outcome.error?.reason).toBe("PingTimeout")
      expect(Option.getOrUndefined(outcome.closeReason)).toMatchObject({ code: 1011, message: "Ping timeout" })
      // the peer has read everything the client wrote once the connection has ended
      await within(peer.connections[0]!.ended, 5_000, "the end of the peer's connection")
      const frames = peer.connections[0]!.frames
      expect(frames.map((f) => f.opcode)).toEqual([Op.Ping, Op.Close])
      expect(readClose(frames[1]!)).toEqual({ code: 1011, reason: "Ping timeout" })
      expect(outcome.liveFibers).toBe(0)
      expect(await watch.leaked()).toEqual({})
    } finally {
      await peer.close()
    }
  })
})
