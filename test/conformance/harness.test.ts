import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Supervisor } from "effect"
import * as net from "node:net"
import { allCases } from "../hostile/cases.js"
import { watchResources } from "../hostile/client.js"
import { encodeFrame, Op, startPeer } from "../hostile/peer.js"
import { checkCase } from "../hostile/run.js"

// The checks every conformance case relies on must be able to fail, or a passing table means nothing.
describe("the conformance harness itself", () => {
  it("a case whose expectation is wrong fails: the assertions look at what the client really sent", async () => {
    const c = allCases.find((c) => c.id === "2.5")!
    const wrong = () => ({ ...c.expect(), sends: [{ kind: "Close" as const, code: 1000 }] })
    await expect(checkCase({ ...c, expect: wrong })).rejects.toThrow()
    const wrongReason = () => ({ ...c.expect(), error: "FrameTooBig" as const })
    await expect(checkCase({ ...c, expect: wrongReason })).rejects.toThrow()
  })

  it("the leak check sees a socket and a timer left open by the client side", async () => {
    const peer = await startPeer(async () => {})
    const watch = watchResources(peer)
    const socket = net.connect(peer.port, "127.0.0.1")
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
    const timer = setTimeout(() => {}, 60_000)
    try {
      const grown = await watch.leaked(200)
      // the peer's own end of the connection is not counted, the client's is
      expect(grown).toMatchObject({ TCPWRAP: 1, Timeout: 1, "active TCPSocketWrap": 1 })
    } finally {
      clearTimeout(timer)
      socket.destroy()
      await peer.close()
    }
  })

  it("the peer's frame encoder follows RFC 6455 §5.2 length encodings", () => {
    expect([...encodeFrame({ opcode: Op.Text, payload: "" })]).toEqual([0x81, 0x00])
    expect(encodeFrame({ opcode: Op.Binary, payload: new Uint8Array(125) }).subarray(0, 2)).toEqual(
      Buffer.from([0x82, 125])
    )
    expect(encodeFrame({ opcode: Op.Binary, payload: new Uint8Array(126) }).subarray(0, 4)).toEqual(
      Buffer.from([0x82, 126, 0x00, 126])
    )
    expect(encodeFrame({ opcode: Op.Binary, payload: new Uint8Array(65536) }).subarray(0, 10)).toEqual(
      Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0])
    )
    expect(encodeFrame({ opcode: Op.Ping, fin: false, rsv: 7 })[0]).toBe(0x79)
  })

  it("the fiber check sees a fiber left running by the run it supervises", async () => {
    const supervisor = await Effect.runPromise(Supervisor.track)
    const leaked = await Effect.runPromise(Effect.forkDaemon(Effect.never).pipe(Effect.supervised(supervisor)))
    expect((await Effect.runPromise(supervisor.value)).length).toBe(1)
    await Effect.runPromise(Fiber.interrupt(leaked))
  })
})
