/**
 * A hostile WebSocket peer: a raw `node:net` server that answers the upgrade itself and then writes
 * hand-crafted frames, so a test controls every bit on the wire. It parses what the client sends (checking
 * that every client frame is masked) and records it for the assertions.
 */
import { createHash } from "node:crypto"
import * as net from "node:net"

/** Opcodes of RFC 6455 §5.2. */
export const Op = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa
} as const

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/** The `Sec-WebSocket-Accept` value a server must answer `key` with. */
export const acceptFor = (key: string): string => createHash("sha1").update(key + GUID).digest("base64")

/** One frame as the client sent it, unmasked. */
export interface ClientFrame {
  readonly fin: boolean
  readonly rsv: number
  readonly opcode: number
  readonly masked: boolean
  readonly payload: Buffer
}

/** What a frame the peer writes looks like. */
export interface FrameSpec {
  readonly opcode: number
  readonly payload?: Uint8Array | string | undefined
  readonly fin?: boolean | undefined
  /** The three reserved bits, 0-7 (RSV1 is 4). */
  readonly rsv?: number | undefined
  /** Masks the frame, which a server must never do. */
  readonly mask?: boolean | undefined
}

const toBuffer = (payload: Uint8Array | string | undefined): Buffer =>
  payload === undefined
    ? Buffer.alloc(0)
    : typeof payload === "string"
    ? Buffer.from(payload, "utf8")
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)

/** Encodes one frame exactly as specified, no validation at all. */
export const encodeFrame = (spec: FrameSpec): Buffer => {
  const payload = toBuffer(spec.payload)
  const length = payload.byteLength
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8
  const maskBytes = spec.mask === true ? 4 : 0
  const header = Buffer.alloc(2 + lengthBytes + maskBytes)
  header[0] = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0x0f)
  const maskBit = spec.mask === true ? 0x80 : 0
  if (lengthBytes === 0) header[1] = maskBit | length
  else if (lengthBytes === 2) {
    header[1] = maskBit | 126
    header.writeUInt16BE(length, 2)
  } else {
    header[1] = maskBit | 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  if (maskBytes === 0) return Buffer.concat([header, payload])
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78])
  key.copy(header, 2 + lengthBytes)
  const masked = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) masked[i] = payload[i]! ^ key[i & 3]!
  return Buffer.concat([header, masked])
}

/** The payload of a Close frame: a big-endian code and a reason. */
export const closePayload = (code: number, reason: string | Uint8Array = ""): Buffer => {
  const head = Buffer.alloc(2)
  head.writeUInt16BE(code, 0)
  return Buffer.concat([head, toBuffer(reason)])
}

/** Reads the code (or undefined for an empty payload) and reason of a Close frame the client sent. */
export const readClose = (frame: ClientFrame): { readonly code: number | undefined; readonly reason: string } =>
  frame.payload.byteLength < 2
    ? { code: undefined, reason: "" }
    : { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString("utf8") }

/** Incremental parser of the client's (masked) frames. */
class FrameParser {
  private chunks: Array<Buffer> = []
  private total = 0
  private needed = 2
  constructor(private readonly onFrame: (frame: ClientFrame) => void) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.total += chunk.byteLength
    while (this.total >= this.needed) {
      const buffer = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
      this.chunks = [buffer]
      const consumed = this.parse(buffer)
      if (consumed === 0) return
      const rest = buffer.subarray(consumed)
      this.chunks = rest.byteLength === 0 ? [] : [rest]
      this.total = rest.byteLength
      this.needed = 2
    }
  }

  /** Parses one frame at the start of `buffer`; returns the bytes it used, or 0 (and sets `needed`). */
  private parse(buffer: Buffer): number {
    const b1 = buffer[1]!
    const masked = (b1 & 0x80) !== 0
    let length = b1 & 0x7f
    let offset = 2
    if (length === 126) {
      if (buffer.byteLength < 4) return this.need(4)
      length = buffer.readUInt16BE(2)
      offset = 4
    } else if (length === 127) {
      if (buffer.byteLength < 10) return this.need(10)
      length = Number(buffer.readBigUInt64BE(2))
      offset = 10
    }
    const keyOffset = offset
    if (masked) offset += 4
    if (buffer.byteLength < offset + length) return this.need(offset + length)
    const payload = Buffer.from(buffer.subarray(offset, offset + length))
    if (masked) {
      const key = buffer.subarray(keyOffset, keyOffset + 4)
      for (let i = 0; i < length; i++) payload[i] = payload[i]! ^ key[i & 3]!
    }
    const b0 = buffer[0]!
    this.onFrame({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload })
    return offset + length
  }

  private need(bytes: number): 0 {
    this.needed = bytes
    return 0
  }
}

/** The upgrade request as the peer read it. */
export interface UpgradeRequest {
  readonly head: string
  readonly headers: Readonly<Record<string, string>>
  readonly key: string
}

/** How the peer answers the upgrade: returns true when the connection continues as a WebSocket. */
export type Handshake = (socket: net.Socket, request: UpgradeRequest) => boolean

/** The correct answer to an upgrade, with `extra` raw header lines. */
export const switchingProtocols = (request: UpgradeRequest, extra: ReadonlyArray<string> = []): string =>
  [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${acceptFor(request.key)}`,
    ...extra,
    "",
    ""
  ].join("\r\n")

/** Answers the upgrade correctly. */
export const acceptHandshake: Handshake = (socket, request) => {
  socket.write(switchingProtocols(request))
  return true
}

/** One accepted TCP connection of the peer. */
export class PeerConnection {
  /** Every frame the client sent, in order. */
  readonly frames: Array<ClientFrame> = []
  /** The client's upgrade request. */
  request: UpgradeRequest | undefined = undefined
  /** Set once the peer has written a Close frame. */
  sentClose = false
  /** Resolves when the TCP connection is closed (both ways). */
  readonly ended: Promise<void>
  /** True once the peer saw the client's FIN or the socket closed. */
  clientEnded = false
  private cursor = 0
  private waiters: Array<() => void> = []
  private closed = false

  constructor(
    readonly socket: net.Socket,
    /** Answer the client's Close with a Close and end the TCP connection, as a server does. */
    private readonly autoClose: boolean
  ) {
    this.ended = new Promise((resolve) => socket.once("close", () => resolve()))
    socket.on("close", () => {
      this.closed = true
      this.wake()
    })
    socket.on("end", () => {
      this.clientEnded = true
      this.wake()
    })
    // a reset by the client is an outcome the tests observe through `ended`, not a crash of the peer
    socket.on("error", () => {})
  }

  /** Called by the server with each frame parsed from the client. */
  receive(frame: ClientFrame): void {
    this.frames.push(frame)
    if (frame.opcode === Op.Close && this.autoClose) {
      if (!this.sentClose) {
        // echo the status code only, like a well-behaved server
        this.write(encodeFrame({ opcode: Op.Close, payload: frame.payload.subarray(0, 2) }))
        this.sentClose = true
      }
      this.socket.end()
    }
    this.wake()
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  /** Writes raw bytes; resolves once they are handed to the kernel. */
  write(bytes: Uint8Array): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve()
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()))
  }

  /** Writes raw bytes in pieces of `size` bytes, each its own write (Nagle is off). */
  async writeChopped(bytes: Uint8Array, size: number): Promise<void> {
    for (let offset = 0; offset < bytes.byteLength; offset += size) {
      await this.write(bytes.subarray(offset, Math.min(bytes.byteLength, offset + size)))
    }
  }

  /** Writes one frame. */
  send(spec: FrameSpec): Promise<void> {
    if (spec.opcode === Op.Close) this.sentClose = true
    return this.write(encodeFrame(spec))
  }

  /** Writes a Close frame with `code` and `reason`, or an empty one without a code. */
  close(code?: number, reason: string | Uint8Array = ""): Promise<void> {
    return this.send({ opcode: Op.Close, payload: code === undefined ? undefined : closePayload(code, reason) })
  }

  /** The next frame the client sends, or undefined when the connection ends first. */
  async nextFrame(): Promise<ClientFrame | undefined> {
    while (this.cursor >= this.frames.length) {
      if (this.closed || this.clientEnded) return undefined
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
    return this.frames[this.cursor++]
  }

  /**
   * The next whole data message the client sends (fragments joined), skipping control frames; undefined when
   * the connection ends or the client sends a Close first.
   */
  async nextMessage(): Promise<{ readonly opcode: number; readonly payload: Buffer } | undefined> {
    const parts: Array<Buffer> = []
    let opcode: number | undefined
    for (;;) {
      const frame = await this.nextFrame()
      if (frame === undefined || frame.opcode === Op.Close) return undefined
      if (frame.opcode >= 0x8) continue
      if (opcode === undefined) opcode = frame.opcode
      parts.push(frame.payload)
      if (frame.fin) return { opcode, payload: Buffer.concat(parts) }
    }
  }

  /** Waits until the client has sent `count` frames in all, or the connection ended. */
  async waitFrames(count: number): Promise<void> {
    while (this.frames.length < count && !this.closed && !this.clientEnded) {
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  /** Waits for the client's Close frame (undefined if the connection ended without one). */
  async closeFrame(): Promise<ClientFrame | undefined> {
    for (;;) {
      const frame = await this.nextFrame()
      if (frame === undefined || frame.opcode === Op.Close) return frame
    }
  }
}

/** Options of the peer. */
export interface PeerOptions {
  /** How the upgrade is answered; default: correctly. */
  readonly handshake?: Handshake | undefined
  /** Called with each raw TCP socket before anything is read (e.g. to drop it at once). */
  readonly onSocket?: ((socket: net.Socket) => void) | undefined
  /** Answer the client's Close and end the connection (default true). */
  readonly autoClose?: boolean | undefined
  /** Keep the peer's side of TCP open after the client's FIN (default false, as `node:net`). */
  readonly allowHalfOpen?: boolean | undefined
}

/** A running hostile peer. */
export interface Peer {
  readonly port: number
  readonly url: string
  /** Accepted connections that completed the upgrade, in order. */
  readonly connections: ReadonlyArray<PeerConnection>
  /** TCP sockets of the peer that are still open. */
  readonly openSockets: () => number
  /** The script's own failures (a broken peer must fail the test, not hide). */
  readonly scriptErrors: ReadonlyArray<unknown>
  /** Resolves when every script started so far has finished. */
  readonly settled: () => Promise<void>
  /** Destroys every connection and stops listening. */
  readonly close: () => Promise<void>
}

const readUpgrade = (socket: net.Socket, onRequest: (request: UpgradeRequest, rest: Buffer) => void): void => {
  let buffered = Buffer.alloc(0)
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    const end = buffered.indexOf("\r\n\r\n")
    if (end < 0) return
    socket.off("data", onData)
    const head = buffered.subarray(0, end).toString("latin1")
    const headers: Record<string, string> = {}
    for (const line of head.split("\r\n").slice(1)) {
      const colon = line.indexOf(":")
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    onRequest({ head, headers, key: headers["sec-websocket-key"] ?? "" }, buffered.subarray(end + 4))
  }
  socket.on("data", onData)
}

/**
 * Starts a peer on 127.0.0.1, port 0. `script` runs for each connection once the upgrade has been answered.
 */
export const startPeer = async (
  script: (connection: PeerConnection) => Promise<void> | void,
  options: PeerOptions = {}
): Promise<Peer> => {
  const connections: Array<PeerConnection> = []
  const sockets = new Set<net.Socket>()
  const scripts: Array<Promise<void>> = []
  const scriptErrors: Array<unknown> = []
  const handshake = options.handshake ?? acceptHandshake
  const server = net.createServer({ noDelay: true, allowHalfOpen: options.allowHalfOpen ?? false }, (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => {})
    socket.setNoDelay(true)
    if (options.onSocket !== undefined) {
      options.onSocket(socket)
      if (socket.destroyed) return
    }
    readUpgrade(socket, (request, rest) => {
      if (!handshake(socket, request)) return
      const connection = new PeerConnection(socket, options.autoClose ?? true)
      connection.request = request
      connections.push(connection)
      const parser = new FrameParser((frame) => connection.receive(frame))
      socket.on("data", (chunk: Buffer) => parser.push(chunk))
      if (rest.byteLength > 0) parser.push(rest)
      scripts.push(
        Promise.resolve().then(() => script(connection)).catch((error) => {
          scriptErrors.push(error)
        })
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    url: `ws://127.0.0.1:${port}/hostile`,
    connections,
    openSockets: () => sockets.size,
    scriptErrors,
    settled: async () => {
      await Promise.all(scripts)
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
