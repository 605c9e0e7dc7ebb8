/**
 * The control protocol between a runtime under test (browser page, Bun, Deno) and the Node host that runs its
 * peers: JSON over HTTP POST on the same loopback server that accepts the WebSocket connections.
 */
import type * as Frame from "../../../src/Frame.js"
import type { PeerOptions } from "../suite.js"

/** A frame as JSON: text as a string, bytes as an array of numbers. */
export interface WireFrame {
  readonly _tag: Frame.Frame["_tag"]
  readonly fin: boolean
  readonly data: string | ReadonlyArray<number>
}

export const encodeFrame = (frame: Frame.Frame): WireFrame => ({
  _tag: frame._tag,
  fin: frame.fin,
  data: frame._tag === "Text" ? frame.data : Array.from(frame.data)
})

export const decodeFrame = (wire: WireFrame): Frame.Frame =>
  (wire._tag === "Text"
    ? { _tag: "Text", fin: wire.fin, data: wire.data as string }
    : { _tag: wire._tag, fin: wire.fin, data: Uint8Array.from(wire.data as ReadonlyArray<number>) }) as Frame.Frame

/** A command and its answer. */
export type Command =
  | { readonly op: "peer.start"; readonly options: PeerOptions }
  | { readonly op: "peer.stop"; readonly peer: number; readonly from?: number | undefined }
  | { readonly op: "peer.next"; readonly peer: number }
  | { readonly op: "peer.accepted"; readonly peer: number; readonly index: number }
  | { readonly op: "conn.send"; readonly conn: number; readonly frame: WireFrame }
  | { readonly op: "conn.receive"; readonly conn: number }
  | { readonly op: "conn.received"; readonly conn: number }
  | { readonly op: "conn.drop"; readonly conn: number }
  | { readonly op: "conn.closed"; readonly conn: number }

export interface StartedPeer {
  readonly peer: number
  readonly url: string
}

/**
 * `peer.stop`: the connections the peer accepted from the `from`-th on (in the order it accepted them), which the
 * runtime's script runner had not been handed yet: their scripts still run (TestEngine's rule: every accepted
 * connection's handler counts), on what the connection received before the peer stopped.
 */
export interface StoppedPeer {
  readonly unscripted: ReadonlyArray<NextConnection>
}

export interface NextConnection {
  readonly conn: number
  readonly url: string
  readonly headers: Record<string, string>
  readonly protocols: ReadonlyArray<string>
}

/** `conn.receive`: a frame, or `null` once the connection has ended and every frame was taken (and how it ended). */
export interface Received {
  readonly frame: WireFrame | null
  readonly closed?: {
    readonly message: string
    readonly url: string
    readonly initiator: "client" | "server" | "dropped"
    readonly code: number
  }
}
