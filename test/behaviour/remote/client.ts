/**
 * The behaviour suite's peer, seen from a runtime under test: each peer lives in the Node host (host.ts) and is
 * scripted through the control protocol, behind the same `TestEngine.ServerConnection` interface the suite uses
 * everywhere. Runs wherever `fetch` does.
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { CloseReason } from "../../../src/CloseReason.js"
import type * as Engine from "../../../src/Engine.js"
import * as Frame from "../../../src/Frame.js"
import type * as TestEngine from "../../../src/TestEngine.js"
import { ConnectionClosed } from "../../../src/TestEngine.js"
import { scriptRunner } from "../scripts.js"
import type { Peer, PeerOptions } from "../suite.js"
import type { Command, NextConnection, Received, StartedPeer, StoppedPeer } from "./protocol.js"
import { decodeFrame, encodeFrame } from "./protocol.js"

/** Sends a command to the host; a broken control channel is a defect of the test, not a result. */
const call = <A>(base: string, command: Command): Effect.Effect<A> =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(`${base}/rpc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(command),
        signal
      })
      const text = await response.text()
      if (!response.ok) throw new Error(`host answered ${response.status} to ${command.op}: ${text}`)
      return JSON.parse(text) as A
    },
    catch: (error) => error
  }).pipe(Effect.orDie)

const serverConnection = (base: string, next: NextConnection): TestEngine.ServerConnection => {
  const conn = next.conn
  const receive = Effect.flatMap(
    call<Received>(base, { op: "conn.receive", conn }),
    ({ closed, frame }) =>
      frame === null
        ? Effect.fail(
          new ConnectionClosed(
            closed ?? { message: "the connection has ended", url: next.url, initiator: "dropped", code: 1006 }
          )
        )
        : Effect.succeed(decodeFrame(frame))
  )
  const send = (data: string | Uint8Array | Frame.Frame) => {
    const frame = typeof data === "string" ? Frame.text(data) : data instanceof Uint8Array ? Frame.binary(data) : data
    return call<unknown>(base, { op: "conn.send", conn, frame: encodeFrame(frame) }).pipe(Effect.asVoid)
  }
  return {
    request: {
      url: new URL(next.url),
      headers: next.headers,
      protocols: next.protocols,
      deflate: undefined,
      maxFrameSize: 0
    },
    incoming: Stream.repeatEffectOption(Effect.mapError(receive, () => Option.none())),
    receive,
    received: Effect.map(
      call<ReadonlyArray<Parameters<typeof decodeFrame>[0]>>(base, { op: "conn.received", conn }),
      (frames) => frames.map(decodeFrame)
    ),
    send,
    close: (reason = new CloseReason({ code: 1000, message: "" })) => send(Frame.close(reason)),
    drop: call<unknown>(base, { op: "conn.drop", conn }).pipe(Effect.asVoid),
    closed: call<unknown>(base, { op: "conn.closed", conn }).pipe(Effect.asVoid)
  }
}

/**
 * Peers run by the host at `base`, reached with `engine`; each stops with its scope. A `handler` (a function, which
 * cannot travel to the host) runs here, on every connection the peer accepts.
 */
export const remotePeer =
  (base: string, engine: Layer.Layer<Engine.Engine>) =>
  (options: PeerOptions): Effect.Effect<Peer, never, Scope.Scope> =>
    Effect.gen(function*() {
      const script = options.handler === undefined ? undefined : yield* scriptRunner(options.handler)
      /** How many of the peer's accepted connections the script runner was handed. */
      let scripted = 0
      const { peer, url } = yield* Effect.acquireRelease(
        call<StartedPeer>(base, { op: "peer.start", options }),
        ({ peer }) =>
          Effect.map(
            call<StoppedPeer>(base, { op: "peer.stop", peer, from: script === undefined ? undefined : scripted }),
            // connections accepted while the call handing them over was still on its way (or cut short by the
            // scope closing) get their scripts all the same: a script's failure must not depend on that race
            ({ unscripted }) => unscripted.forEach((next) => script?.(serverConnection(base, next)))
          )
      )
      const nextConnection = Effect.map(call<NextConnection>(base, { op: "peer.next", peer }), (next) =>
        serverConnection(base, next))
      if (script !== undefined) {
        // by index rather than from the queue, so that a call interrupted in flight loses no connection
        const handOver = Effect.suspend(() =>
          Effect.map(call<NextConnection>(base, { op: "peer.accepted", peer, index: scripted }), (next) => {
            scripted++
            script(serverConnection(base, next))
          })
        )
        yield* Effect.forkScoped(Effect.forever(handOver))
      }
      return { url, engine, nextConnection }
    })
