import { Effect, Layer, Schedule } from "effect"
import { NodeEngine, WebSockets } from "../src/index.js"
import { encodeFrame, Op, startPeer } from "./hostile/peer.js"
const ping = encodeFrame({ opcode: Op.Ping, payload: Buffer.alloc(125, 0x5a) })
const batch = Buffer.concat(Array.from({ length: 500 }, () => ping))
let pingsWritten = 0
const peer = await startPeer(async (c) => {
  c.socket.pause()
  const until = performance.now() + 10_000
  while (performance.now() < until && !c.socket.destroyed) {
    const written = await Promise.race([c.write(batch).then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 1000))])
    if (!written) break
    pingsWritten += 500
  }
  console.log("flood over", pingsWritten)
  c.socket.resume()
  await c.send({ opcode: Op.Text, payload: "after the flood" })
  await c.closeFrame()
})
const program = Effect.scoped(Effect.gen(function*() {
  const session = yield* WebSockets.webSocketSession(peer.url)
  const st = (session as any)[Symbol.for("effect-websockets/Session/state")]
  const connection = (session as any).connection
  const ws = connection.ws
  yield* Effect.sync(() => {
    console.log(performance.now().toFixed(0), connection.bufferedAmount(), st.paused, st.writesPaused, ws._socket.writableLength, ws._socket.isPaused(), ws._socket.bytesWritten)
  }).pipe(Effect.repeat(Schedule.spaced("300 millis")), Effect.forkScoped)
  return yield* session.receive
}))
console.log(await Effect.runPromise(Effect.provide(program, WebSockets.layer({}).pipe(Layer.provide(NodeEngine.layer)))))
await peer.close()
