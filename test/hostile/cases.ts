/**
 * The conformance cases, after the client-side categories of the Autobahn TestSuite. Each case is data: what the
 * hostile peer writes, and what the client must do about it — the frames it sends back, the session's
 * `closeReason` and the typed error. The tests in test/conformance run them; test/hostile/conformance-doc.ts renders
 * the same objects into docs/CONFORMANCE.md, so the table and the tests cannot drift apart.
 */
import type { WebSocketExceptionReason, WebSockets } from "../../src/index.js"
import {
  closePayload,
  encodeFrame,
  type FrameSpec,
  type Handshake,
  Op,
  type PeerConnection,
  switchingProtocols
} from "./peer.js"

/** A frame the client is expected to send, data fragments joined into one message. */
export type Sent =
  | { readonly kind: "Text" | "Binary" | "Pong"; readonly payload: Buffer }
  | { readonly kind: "Close"; readonly code: number | undefined; readonly reason?: string | undefined }

/** What the client must do. */
export interface Expected {
  /** Messages `incoming` delivers, in order. */
  readonly delivers: ReadonlyArray<string | Buffer>
  /** Frames the client sends back, in order. */
  readonly sends: ReadonlyArray<Sent>
  /** The session's `closeReason` (undefined: no session was opened). */
  readonly closeReason: { readonly code: number; readonly message?: string | undefined } | undefined
  /** How `incoming` fails (or, with no session, how the connection fails); undefined: a quiet end. */
  readonly error: WebSocketExceptionReason | undefined
  /** A required exact error message. */
  readonly message?: string | undefined
}

/** One conformance case. */
export interface Case {
  readonly id: string
  readonly section: string
  readonly title: string
  readonly client?: WebSockets.Options | undefined
  readonly handshake?: Handshake | undefined
  readonly onSocket?: ((socket: import("node:net").Socket) => void) | undefined
  readonly script: (connection: PeerConnection) => Promise<void>
  /** Built lazily: some payloads are 16 MiB. */
  readonly expect: () => Expected
  /** Where the expected behaviour knowingly differs from the Autobahn verdict, and why. */
  readonly deviation?: string | undefined
}

// ---------------------------------------------------------------------------------------------------------------
// building blocks

const frame = (opcode: number, payload?: Uint8Array | string, options: Omit<FrameSpec, "opcode" | "payload"> = {}) =>
  encodeFrame({ opcode, payload, ...options })

const text = (s: string | Uint8Array, options: Omit<FrameSpec, "opcode" | "payload"> = {}) => frame(Op.Text, s, options)

/** Deterministic bytes: byte i is i * 7 + 3 (mod 256). */
export const bytesOf = (size: number): Buffer => {
  const out = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) out[i] = (i * 7 + 3) & 0xff
  return out
}

/** Deterministic ASCII text of `size` bytes. */
export const textOf = (size: number): string => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
  let out = ""
  const block = alphabet.repeat(Math.ceil(Math.min(size, 4096) / alphabet.length) + 1)
  while (out.length < size) out += block.slice(0, Math.min(block.length, size - out.length))
  return out
}

const sentText = (s: string): Sent => ({ kind: "Text", payload: Buffer.from(s, "utf8") })
const sentBinary = (b: Buffer): Sent => ({ kind: "Binary", payload: b })
const sentPong = (b: Uint8Array | string): Sent => ({ kind: "Pong", payload: Buffer.from(b as Uint8Array) })
const sentClose = (code: number | undefined, reason?: string): Sent => ({ kind: "Close", code, reason })

/** The peer writes `bytes` (in pieces of `chop` bytes if given), waits for `replies` frames, then closes 1000. */
const thenClose = (bytes: () => Buffer, replies: number, chop?: number) => async (c: PeerConnection) => {
  const data = bytes()
  if (chop === undefined) await c.write(data)
  else await c.writeChopped(data, chop)
  await c.waitFrames(replies)
  await c.close(1000)
  await c.closeFrame()
}

/** The peer writes `bytes` and waits for the client's Close (answered automatically). */
const violate = (bytes: () => Buffer, chop?: number) => async (c: PeerConnection) => {
  const data = bytes()
  if (chop === undefined) await c.write(data)
  else await c.writeChopped(data, chop)
  await c.closeFrame()
}

/** Writes `first`, waits for `replies` frames, then writes `second` and waits for the client's Close. */
const afterReplies = (first: () => Buffer, replies: number, second: () => Buffer) => async (c: PeerConnection) => {
  await c.write(first())
  await c.waitFrames(replies)
  await c.write(second())
  await c.closeFrame()
}

const echoed = (delivers: ReadonlyArray<string | Buffer>, extra: ReadonlyArray<Sent> = []): Expected => ({
  delivers,
  sends: [
    ...extra,
    ...delivers.map((m) => typeof m === "string" ? sentText(m) : sentBinary(m)),
    sentClose(1000)
  ],
  closeReason: { code: 1000 },
  error: undefined
})

const protocolError =
  (code: 1002 | 1007, sendsBefore: ReadonlyArray<Sent> = [], delivers: Array<string> = []) => (): Expected => ({
    delivers,
    sends: [...sendsBefore, sentClose(code)],
    closeReason: { code },
    error: "Protocol"
  })

const cases: Array<Case> = []
const add = (c: Case) => cases.push(c)

// ---------------------------------------------------------------------------------------------------------------
// 1.x framing: text and binary messages of the sizes around the length encodings

const SIZES = [0, 125, 126, 127, 128, 65535, 65536] as const
/** Chop sizes: 1 byte (every header byte alone) for small frames, 997 bytes (Autobahn 1.1.8) for large ones. */
const chopFor = (size: number) => size <= 128 ? 1 : 997
const chops = (size: number) => chopFor(size) === 1 ? "chops of 1 byte" : `chops of ${chopFor(size)} bytes`

SIZES.forEach((size, i) => {
  add({
    id: `1.1.${i + 1}`,
    section: "1 Framing",
    title: `a text message of ${size} bytes is delivered whole`,
    script: thenClose(() => text(textOf(size)), 1),
    expect: () => echoed([textOf(size)])
  })
})
SIZES.forEach((size, i) => {
  add({
    id: `1.1.${SIZES.length + i + 1}`,
    section: "1 Framing",
    title: `a text message of ${size} bytes written in ${chops(size)} is delivered whole`,
    script: thenClose(() => text(textOf(size)), 1, chopFor(size)),
    expect: () => echoed([textOf(size)])
  })
})
SIZES.forEach((size, i) => {
  add({
    id: `1.2.${i + 1}`,
    section: "1 Framing",
    title: `a binary message of ${size} bytes is delivered whole`,
    script: thenClose(() => frame(Op.Binary, bytesOf(size)), 1),
    expect: () => echoed([bytesOf(size)])
  })
})
SIZES.forEach((size, i) => {
  add({
    id: `1.2.${SIZES.length + i + 1}`,
    section: "1 Framing",
    title: `a binary message of ${size} bytes written in ${chops(size)} is delivered whole`,
    script: thenClose(() => frame(Op.Binary, bytesOf(size)), 1, chopFor(size)),
    expect: () => echoed([bytesOf(size)])
  })
})

// ---------------------------------------------------------------------------------------------------------------
// 2.x pings and pongs

add({
  id: "2.1",
  section: "2 Pings and Pongs",
  title: "a Ping without payload is answered with an identical Pong",
  script: thenClose(() => frame(Op.Ping), 1),
  expect: () => echoed([], [sentPong(Buffer.alloc(0))])
})
add({
  id: "2.2",
  section: "2 Pings and Pongs",
  title: "a Ping with a text payload is answered with an identical Pong",
  script: thenClose(() => frame(Op.Ping, "Hello, world!"), 1),
  expect: () => echoed([], [sentPong("Hello, world!")])
})
add({
  id: "2.3",
  section: "2 Pings and Pongs",
  title: "a Ping with a binary payload is answered with an identical Pong",
  script: thenClose(() => frame(Op.Ping, Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])), 1),
  expect: () => echoed([], [sentPong(Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]))])
})
add({
  id: "2.4",
  section: "2 Pings and Pongs",
  title: "a Ping with a 125-byte payload is answered with an identical Pong",
  script: thenClose(() => frame(Op.Ping, bytesOf(125)), 1),
  expect: () => echoed([], [sentPong(bytesOf(125))])
})
add({
  id: "2.5",
  section: "2 Pings and Pongs",
  title: "a Ping with a 126-byte payload is a protocol violation: Close 1002",
  script: violate(() => frame(Op.Ping, bytesOf(126))),
  expect: protocolError(1002)
})
add({
  id: "2.6",
  section: "2 Pings and Pongs",
  title: "a Ping with a 125-byte payload written in chops of 1 byte is answered with an identical Pong",
  script: thenClose(() => frame(Op.Ping, bytesOf(125)), 1, 1),
  expect: () => echoed([], [sentPong(bytesOf(125))])
})
add({
  id: "2.7",
  section: "2 Pings and Pongs",
  title: "an unsolicited Pong without payload is ignored",
  script: thenClose(() => Buffer.concat([frame(Op.Pong), text("after the pong")]), 1),
  expect: () => echoed(["after the pong"])
})
add({
  id: "2.8",
  section: "2 Pings and Pongs",
  title: "an unsolicited Pong with a payload is ignored",
  script: thenClose(() => Buffer.concat([frame(Op.Pong, "unsolicited pong payload"), text("after the pong")]), 1),
  expect: () => echoed(["after the pong"])
})
add({
  id: "2.9",
  section: "2 Pings and Pongs",
  title: "an unsolicited Pong followed by a Ping: only the Ping is answered",
  script: thenClose(() => Buffer.concat([frame(Op.Pong, "unsolicited"), frame(Op.Ping, "solicited")]), 1),
  expect: () => echoed([], [sentPong("solicited")])
})
add({
  id: "2.10",
  section: "2 Pings and Pongs",
  title: "ten Pings in a row are each answered with an identical Pong, in order",
  script: thenClose(
    () => Buffer.concat(Array.from({ length: 10 }, (_, i) => frame(Op.Ping, `payload-${i}`))),
    10
  ),
  expect: () => echoed([], Array.from({ length: 10 }, (_, i) => sentPong(`payload-${i}`)))
})

// ---------------------------------------------------------------------------------------------------------------
// 3.x reserved bits: no extension was negotiated, so any RSV bit fails the connection

add({
  id: "3.1",
  section: "3 Reserved bits",
  title: "a text frame with RSV1 set is a protocol violation: Close 1002",
  script: violate(() => text("Hello, world!", { rsv: 4 })),
  expect: protocolError(1002)
})
add({
  id: "3.2",
  section: "3 Reserved bits",
  title: "a valid message, then a text frame with RSV2 set: the first is delivered, then Close 1002",
  script: afterReplies(
    () => text("Hello, world!"),
    1,
    () => Buffer.concat([text("Hello, world!", { rsv: 2 }), frame(Op.Ping)])
  ),
  expect: protocolError(1002, [sentText("Hello, world!")], ["Hello, world!"])
})
add({
  id: "3.3",
  section: "3 Reserved bits",
  title: "a text frame with RSV1|RSV2 set is a protocol violation: Close 1002",
  script: violate(() => Buffer.concat([text("Hello, world!", { rsv: 6 }), frame(Op.Ping)])),
  expect: protocolError(1002)
})
add({
  id: "3.4",
  section: "3 Reserved bits",
  title: "a text frame with RSV3 set written in chops of 1 byte is a protocol violation: Close 1002",
  script: violate(() => text("Hello, world!", { rsv: 1 }), 1),
  expect: protocolError(1002)
})
add({
  id: "3.5",
  section: "3 Reserved bits",
  title: "a binary frame with RSV1|RSV3 set is a protocol violation: Close 1002",
  script: violate(() => frame(Op.Binary, bytesOf(8), { rsv: 5 })),
  expect: protocolError(1002)
})
add({
  id: "3.6",
  section: "3 Reserved bits",
  title: "a Ping with RSV2|RSV3 set is a protocol violation: Close 1002",
  script: violate(() => frame(Op.Ping, "Hello, world!", { rsv: 3 })),
  expect: protocolError(1002)
})
add({
  id: "3.7",
  section: "3 Reserved bits",
  title: "a Close with all reserved bits set is a protocol violation: Close 1002",
  script: violate(() => frame(Op.Close, closePayload(1000), { rsv: 7 })),
  expect: protocolError(1002)
}) // ---------------------------------------------------------------------------------------------------------------
 // 4.x reserved opcodes
;[3, 4, 5, 6, 7].forEach((opcode, i) => {
  add({
    id: `4.1.${i + 1}`,
    section: "4 Opcodes",
    title: `a frame with the reserved data opcode ${opcode} is a protocol violation: Close 1002`,
    script: violate(() => Buffer.concat([frame(opcode, i % 2 === 0 ? undefined : "reserved"), frame(Op.Ping)])),
    expect: protocolError(1002)
  })
})
;[11, 12, 13, 14, 15].forEach((opcode, i) => {
  add({
    id: `4.2.${i + 1}`,
    section: "4 Opcodes",
    title: `a frame with the reserved control opcode ${opcode} is a protocol violation: Close 1002`,
    script: violate(() => Buffer.concat([frame(opcode, i % 2 === 0 ? undefined : "reserved"), frame(Op.Ping)])),
    expect: protocolError(1002)
  })
})
add({
  id: "4.3",
  section: "4 Opcodes",
  title: "a valid message, then a reserved opcode: the message is delivered, then Close 1002",
  script: afterReplies(() => text("Hello, world!"), 1, () => frame(5, "reserved")),
  expect: protocolError(1002, [sentText("Hello, world!")], ["Hello, world!"])
})
add({
  id: "4.4",
  section: "4 Opcodes",
  title: "a masked frame from the server is a protocol violation: Close 1002",
  script: violate(() => text("masked by the server", { mask: true })),
  expect: protocolError(1002)
})

// ---------------------------------------------------------------------------------------------------------------
// 5.x fragmentation

add({
  id: "5.1",
  section: "5 Fragmentation",
  title: "a Ping in 2 fragments is a protocol violation: Close 1002",
  script: violate(() =>
    Buffer.concat([frame(Op.Ping, "fragment1", { fin: false }), frame(Op.Continuation, "fragment2")])
  ),
  expect: protocolError(1002)
})
add({
  id: "5.2",
  section: "5 Fragmentation",
  title: "a Pong in 2 fragments is a protocol violation: Close 1002",
  script: violate(() =>
    Buffer.concat([frame(Op.Pong, "fragment1", { fin: false }), frame(Op.Continuation, "fragment2")])
  ),
  expect: protocolError(1002)
})
add({
  id: "5.3",
  section: "5 Fragmentation",
  title: "a text message in 2 fragments is delivered as one message",
  script: thenClose(() => Buffer.concat([text("fragment1", { fin: false }), frame(Op.Continuation, "fragment2")]), 1),
  expect: () => echoed(["fragment1fragment2"])
})
add({
  id: "5.4",
  section: "5 Fragmentation",
  title: "a text message in 2 fragments written in chops of 1 byte is delivered as one message",
  script: thenClose(
    () => Buffer.concat([text("fragment1", { fin: false }), frame(Op.Continuation, "fragment2")]),
    1,
    1
  ),
  expect: () => echoed(["fragment1fragment2"])
})
add({
  id: "5.5",
  section: "5 Fragmentation",
  title: "a binary message in 3 fragments is delivered as one message",
  script: thenClose(() =>
    Buffer.concat([
      frame(Op.Binary, bytesOf(300).subarray(0, 100), { fin: false }),
      frame(Op.Continuation, bytesOf(300).subarray(100, 200), { fin: false }),
      frame(Op.Continuation, bytesOf(300).subarray(200))
    ]), 1),
  expect: () => echoed([bytesOf(300)])
})
add({
  id: "5.6",
  section: "5 Fragmentation",
  title: "a Ping between the fragments of a text message is answered before the message is delivered",
  script: thenClose(() =>
    Buffer.concat([
      text("fragment1", { fin: false }),
      frame(Op.Ping, "ping payload"),
      frame(Op.Continuation, "fragment2")
    ]), 2),
  expect: () => echoed(["fragment1fragment2"], [sentPong("ping payload")])
})
add({
  id: "5.7",
  section: "5 Fragmentation",
  title: "a Ping between fragments, all written in chops of 1 byte, is answered and the message reassembled",
  script: thenClose(
    () =>
      Buffer.concat([
        text("fragment1", { fin: false }),
        frame(Op.Ping, "ping payload"),
        frame(Op.Continuation, "fragment2")
      ]),
    2,
    1
  ),
  expect: () => echoed(["fragment1fragment2"], [sentPong("ping payload")])
})
add({
  id: "5.8",
  section: "5 Fragmentation",
  title: "a text message in 5 fragments with a Ping before each continuation: every Ping answered, in order",
  script: async (c) => {
    await c.write(text("f0", { fin: false }))
    for (let i = 1; i < 5; i++) {
      await c.write(frame(Op.Ping, `ping-${i}`))
      await c.waitFrames(i)
      await c.write(frame(Op.Continuation, `f${i}`, { fin: i === 4 }))
    }
    await c.waitFrames(5)
    await c.close(1000)
    await c.closeFrame()
  },
  expect: () => echoed(["f0f1f2f3f4"], [1, 2, 3, 4].map((i) => sentPong(`ping-${i}`)))
})
add({
  id: "5.9",
  section: "5 Fragmentation",
  title: "a stray continuation frame (FIN set) outside a message is a protocol violation: Close 1002",
  script: violate(() => Buffer.concat([frame(Op.Continuation, "non-continuation payload"), text("Hello, world!")])),
  expect: protocolError(1002)
})
add({
  id: "5.10",
  section: "5 Fragmentation",
  title: "a stray continuation frame (FIN clear) outside a message is a protocol violation: Close 1002",
  script: violate(() =>
    Buffer.concat([frame(Op.Continuation, "non-continuation payload", { fin: false }), text("Hello, world!")])
  ),
  expect: protocolError(1002)
})
add({
  id: "5.11",
  section: "5 Fragmentation",
  title: "stray continuation frames written in chops of 1 byte are a protocol violation: Close 1002",
  script: violate(() => frame(Op.Continuation, "non-continuation payload", { fin: false }), 1),
  expect: protocolError(1002)
})
add({
  id: "5.12",
  section: "5 Fragmentation",
  title: "a new text frame inside a fragmented text message is a protocol violation: Close 1002",
  script: violate(() => Buffer.concat([text("fragment1", { fin: false }), text("fragment2")])),
  expect: protocolError(1002)
})
add({
  id: "5.13",
  section: "5 Fragmentation",
  title: "a new binary frame inside a fragmented text message is a protocol violation: Close 1002",
  script: violate(() =>
    Buffer.concat([text("fragment1", { fin: false }), frame(Op.Binary, "fragment2", { fin: false })])
  ),
  expect: protocolError(1002)
})
add({
  id: "5.14",
  section: "5 Fragmentation",
  title: "a message in 3 fragments whose last is a new text frame is a protocol violation: Close 1002",
  script: violate(() =>
    Buffer.concat([
      text("fragment1", { fin: false }),
      frame(Op.Continuation, "fragment2", { fin: false }),
      text("fragment3")
    ])
  ),
  expect: protocolError(1002)
})
add({
  id: "5.15",
  section: "5 Fragmentation",
  title: "a complete fragmented message, then a stray continuation: the message is delivered, then Close 1002",
  script: afterReplies(
    () => Buffer.concat([text("fragment1", { fin: false }), frame(Op.Continuation, "fragment2")]),
    1,
    () => frame(Op.Continuation, "fragment3")
  ),
  expect: protocolError(1002, [sentText("fragment1fragment2")], ["fragment1fragment2"])
})
add({
  id: "5.16",
  section: "5 Fragmentation",
  title: "an empty text message in 3 empty fragments is delivered as one empty message",
  script: thenClose(() =>
    Buffer.concat([
      text("", { fin: false }),
      frame(Op.Continuation, "", { fin: false }),
      frame(Op.Continuation, "")
    ]), 1),
  expect: () => echoed([""])
})

add({
  id: "5.17",
  section: "5 Fragmentation",
  title: "a message in 16,385 fragments exceeds the fragment limit of ws: Close 1008 (policy), reason Protocol",
  script: violate(() => {
    const parts: Array<Buffer> = [text("x", { fin: false })]
    for (let i = 1; i < 16_385; i++) parts.push(frame(Op.Continuation, "x", { fin: i === 16_384 }))
    return Buffer.concat(parts)
  }),
  expect: () => ({ delivers: [], sends: [sentClose(1008)], closeReason: { code: 1008 }, error: "Protocol" })
})
add({
  id: "5.18",
  section: "5 Fragmentation",
  title: "a message in 16,384 fragments (the fragment limit of ws) is delivered as one message",
  script: thenClose(() => {
    const parts: Array<Buffer> = [text("x", { fin: false })]
    for (let i = 1; i < 16_384; i++) parts.push(frame(Op.Continuation, "x", { fin: i === 16_383 }))
    return Buffer.concat(parts)
  }, 1),
  expect: () => echoed(["x".repeat(16_384)])
})

// ---------------------------------------------------------------------------------------------------------------
// 6.x UTF-8 handling

const UTF8_SAMPLE = "Hello-µ@ßöäüàá-UTF-8!!"
const KAPPA = "κόσμε"

add({
  id: "6.1",
  section: "6 UTF-8",
  title: "a valid UTF-8 text message is delivered",
  script: thenClose(() => text(UTF8_SAMPLE), 1),
  expect: () => echoed([UTF8_SAMPLE])
})
add({
  id: "6.2",
  section: "6 UTF-8",
  title: "valid UTF-8 split inside code points across 2 fragments is accepted",
  script: thenClose(() => {
    const bytes = Buffer.from(KAPPA, "utf8")
    return Buffer.concat([text(bytes.subarray(0, 3), { fin: false }), frame(Op.Continuation, bytes.subarray(3))])
  }, 1),
  expect: () => echoed([KAPPA])
})
add({
  id: "6.3",
  section: "6 UTF-8",
  title: "valid UTF-8 in fragments of 1 byte each is accepted",
  script: thenClose(() => {
    const bytes = Buffer.from(UTF8_SAMPLE, "utf8")
    const parts: Array<Buffer> = []
    for (let i = 0; i < bytes.byteLength; i++) {
      parts.push(frame(i === 0 ? Op.Text : Op.Continuation, bytes.subarray(i, i + 1), {
        fin: i === bytes.byteLength - 1
      }))
    }
    return Buffer.concat(parts)
  }, 1),
  expect: () => echoed([UTF8_SAMPLE])
})
add({
  id: "6.4",
  section: "6 UTF-8",
  title: "valid 4-byte UTF-8 (U+10000, U+10FFFF) split across fragments is accepted",
  script: thenClose(() => {
    const bytes = Buffer.from("\u{10000}\u{10FFFF}", "utf8")
    return Buffer.concat([
      text(bytes.subarray(0, 1), { fin: false }),
      frame(Op.Continuation, bytes.subarray(1, 6), { fin: false }),
      frame(Op.Continuation, bytes.subarray(6))
    ])
  }, 1),
  expect: () => echoed(["\u{10000}\u{10FFFF}"])
})

const INVALID_UTF8: ReadonlyArray<readonly [string, ReadonlyArray<number>]> = [
  ["a lone continuation byte 0x80", [0x80]],
  ["the byte 0xFF", [0xce, 0xba, 0xff]],
  ["an overlong encoding of '/' (C0 AF)", [0xc0, 0xaf]],
  ["a UTF-16 surrogate (ED A0 80)", [0xed, 0xa0, 0x80]],
  ["a code point above U+10FFFF (F4 90 80 80)", [0xf4, 0x90, 0x80, 0x80]],
  ["a truncated sequence at the end (E2 82)", [0x41, 0xe2, 0x82]]
]
INVALID_UTF8.forEach(([what, bytes], i) => {
  add({
    id: `6.5.${i + 1}`,
    section: "6 UTF-8",
    title: `a text message holding ${what} is invalid UTF-8: Close 1007`,
    script: violate(() => text(Buffer.from(bytes))),
    expect: protocolError(1007)
  })
})
add({
  id: "6.6",
  section: "6 UTF-8",
  title: "invalid UTF-8 spread over 3 fragments is invalid UTF-8: Close 1007",
  script: violate(() =>
    Buffer.concat([
      text(Buffer.from("κό", "utf8"), { fin: false }),
      frame(Op.Continuation, Buffer.from([0xed, 0xa0]), { fin: false }),
      frame(Op.Continuation, Buffer.from([0x80, 0x41]))
    ])
  ),
  expect: protocolError(1007)
})
add({
  id: "6.7",
  section: "6 UTF-8",
  title: "invalid UTF-8 in a binary message is not checked: delivered as bytes",
  script: thenClose(() => frame(Op.Binary, Buffer.from([0xff, 0xfe, 0xc0, 0xaf])), 1),
  expect: () => echoed([Buffer.from([0xff, 0xfe, 0xc0, 0xaf])])
})

add({
  id: "6.8",
  section: "6 UTF-8",
  title: "a code point above U+10FFFF in the 2nd of 3 fragments, sent with pauses: Close 1007",
  script: async (c) => {
    // Autobahn 6.4.1: PART1 and PART3 are valid UTF-8 on their own, PART2 encodes 0x110000
    await c.write(text(Buffer.from("κόσμε"), { fin: false }))
    await new Promise((resolve) => setTimeout(resolve, 50))
    await c.write(frame(Op.Continuation, Buffer.from([0xf4, 0x90, 0x80, 0x80]), { fin: false }))
    await new Promise((resolve) => setTimeout(resolve, 50))
    await c.write(frame(Op.Continuation, Buffer.from("edited")))
    await c.closeFrame()
  },
  expect: protocolError(1007),
  deviation: "Autobahn 6.4.x rates a client that fails only once the message is complete as NON-STRICT (accepted, " +
    "not failed): ws checks UTF-8 when the last fragment arrives, so the Close 1007 follows the 3rd fragment " +
    "rather than the invalid 2nd one. The message is never delivered either way."
})

// ---------------------------------------------------------------------------------------------------------------
// 7.x closing

const reason123 = textOf(121) + "µ" // 121 ASCII bytes + a 2-byte code point: 123 bytes

add({
  id: "7.1.1",
  section: "7 Close handling",
  title: "a message, then the peer's Close 1000: the message is delivered, the Close echoed",
  script: thenClose(() => text("Hello World!"), 1),
  expect: () => echoed(["Hello World!"])
})
add({
  id: "7.1.2",
  section: "7 Close handling",
  title: "a second Close after the first is ignored",
  script: async (c) => {
    await c.write(Buffer.concat([frame(Op.Close, closePayload(1000)), frame(Op.Close, closePayload(1001))]))
    await c.closeFrame()
  },
  expect: () => ({ delivers: [], sends: [sentClose(1000)], closeReason: { code: 1000 }, error: undefined })
})
add({
  id: "7.1.3",
  section: "7 Close handling",
  title: "a Ping after the peer's Close is ignored (not answered)",
  script: async (c) => {
    await c.write(Buffer.concat([frame(Op.Close, closePayload(1000)), frame(Op.Ping, "after close")]))
    await c.closeFrame()
    await c.nextFrame()
  },
  expect: () => ({ delivers: [], sends: [sentClose(1000)], closeReason: { code: 1000 }, error: undefined })
})
add({
  id: "7.1.4",
  section: "7 Close handling",
  title: "a text message after the peer's Close is ignored (not delivered)",
  script: async (c) => {
    await c.write(Buffer.concat([frame(Op.Close, closePayload(1000)), text("after close")]))
    await c.closeFrame()
  },
  expect: () => ({ delivers: [], sends: [sentClose(1000)], closeReason: { code: 1000 }, error: undefined })
})
add({
  id: "7.1.5",
  section: "7 Close handling",
  title: "a fragment, the peer's Close, then the last fragment: nothing is delivered, the Close echoed",
  script: async (c) => {
    await c.write(Buffer.concat([
      text("fragment1", { fin: false }),
      frame(Op.Close, closePayload(1000)),
      frame(Op.Continuation, "fragment2")
    ]))
    await c.closeFrame()
  },
  expect: () => ({ delivers: [], sends: [sentClose(1000)], closeReason: { code: 1000 }, error: undefined })
})
add({
  id: "7.1.6",
  section: "7 Close handling",
  title: "a 256 KiB message then the peer's Close: the message is delivered before the session ends",
  script: async (c) => {
    await c.write(Buffer.concat([text(textOf(256 * 1024)), frame(Op.Close, closePayload(1000))]))
    await c.closeFrame()
  },
  client: undefined,
  expect: () => ({
    delivers: [textOf(256 * 1024)],
    sends: [sentClose(1000)],
    closeReason: { code: 1000 },
    error: undefined
  })
})
add({
  id: "7.3.1",
  section: "7 Close handling",
  title: "a Close without payload: closeReason is 1000 NORMAL \"\", an empty Close is echoed",
  script: async (c) => {
    await c.close()
    await c.closeFrame()
  },
  expect: () => ({
    delivers: [],
    sends: [sentClose(undefined)],
    closeReason: { code: 1000, message: "" },
    error: undefined
  })
})
add({
  id: "7.3.2",
  section: "7 Close handling",
  title: "a Close with a 1-byte payload is a protocol violation: Close 1002",
  script: violate(() => frame(Op.Close, Buffer.from([0x03]))),
  expect: protocolError(1002)
})
add({
  id: "7.3.3",
  section: "7 Close handling",
  title: "a Close 1000 without reason: closeReason is 1000 \"\", the Close echoed",
  script: async (c) => {
    await c.close(1000)
    await c.closeFrame()
  },
  expect: () => ({ delivers: [], sends: [sentClose(1000)], closeReason: { code: 1000, message: "" }, error: undefined })
})
add({
  id: "7.3.4",
  section: "7 Close handling",
  title: "a Close 1000 with a short reason: closeReason carries the reason",
  script: async (c) => {
    await c.close(1000, "Hello World!")
    await c.closeFrame()
  },
  expect: () => ({
    delivers: [],
    sends: [sentClose(1000, "Hello World!")],
    closeReason: { code: 1000, message: "Hello World!" },
    error: undefined
  })
})
add({
  id: "7.3.5",
  section: "7 Close handling",
  title: "a Close 1000 with a 123-byte reason is accepted: closeReason carries the reason",
  script: async (c) => {
    await c.close(1000, reason123)
    await c.closeFrame()
  },
  expect: () => ({
    delivers: [],
    sends: [sentClose(1000, reason123)],
    closeReason: { code: 1000, message: reason123 },
    error: undefined
  })
})
add({
  id: "7.3.6",
  section: "7 Close handling",
  title: "a Close with a 124-byte reason (126-byte payload) is a protocol violation: Close 1002",
  script: violate(() => frame(Op.Close, closePayload(1000, textOf(124)))),
  expect: protocolError(1002)
})
add({
  id: "7.5.1",
  section: "7 Close handling",
  title: "a Close whose reason is invalid UTF-8 is a violation: Close 1007",
  // "κόσμε" followed by a UTF-16 surrogate (ED A0 80) and "edited", as in Autobahn 7.5.1
  script: violate(() => {
    const reason = Buffer.concat([Buffer.from("κόσμε"), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from("edited")])
    return frame(Op.Close, closePayload(1000, reason))
  }),
  expect: protocolError(1007)
})

const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] as const
VALID_CODES.forEach((code, i) => {
  add({
    id: `7.7.${i + 1}`,
    section: "7 Close handling",
    title: `a Close with the valid code ${code} is echoed and surfaced in closeReason`,
    script: async (c) => {
      await c.close(code, `code ${code}`)
      await c.closeFrame()
    },
    expect: () => ({
      delivers: [],
      sends: [sentClose(code, `code ${code}`)],
      closeReason: { code, message: `code ${code}` },
      error: undefined
    })
  })
})

const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 5000, 65535] as const
INVALID_CODES.forEach((code, i) => {
  add({
    id: `7.9.${i + 1}`,
    section: "7 Close handling",
    title: `a Close with the invalid code ${code} is a protocol violation: Close 1002`,
    script: violate(() => frame(Op.Close, closePayload(code, "invalid"))),
    expect: protocolError(1002)
  })
})

// ---------------------------------------------------------------------------------------------------------------
// 9.x limits: big messages up to maxFrameSize, one byte over it fails

const MiB = 1024 * 1024
const LIMIT = 16 * MiB
const BIG_SIZES = [64 * 1024, 256 * 1024, MiB, 4 * MiB, 8 * MiB, 16 * MiB] as const
const sizeName = (size: number) => size >= MiB ? `${size / MiB} MiB` : `${size / 1024} KiB`

BIG_SIZES.forEach((size, i) => {
  add({
    id: `9.1.${i + 1}`,
    section: "9 Limits",
    title: `a text message of ${sizeName(size)} with maxFrameSize 16 MiB is delivered whole`,
    client: { maxFrameSize: LIMIT },
    script: thenClose(() => text(textOf(size)), 1),
    expect: () => echoed([textOf(size)])
  })
})
BIG_SIZES.forEach((size, i) => {
  add({
    id: `9.2.${i + 1}`,
    section: "9 Limits",
    title: `a binary message of ${sizeName(size)} with maxFrameSize 16 MiB is delivered whole`,
    client: { maxFrameSize: LIMIT },
    script: thenClose(() => frame(Op.Binary, bytesOf(size)), 1),
    expect: () => echoed([bytesOf(size)])
  })
})
add({
  id: "9.3.1",
  section: "9 Limits",
  title: "a 16 MiB text message in fragments of 64 KiB with maxFrameSize 16 MiB is delivered whole",
  client: { maxFrameSize: LIMIT },
  script: thenClose(() => {
    const bytes = Buffer.from(textOf(LIMIT), "latin1")
    const parts: Array<Buffer> = []
    const step = 64 * 1024
    for (let offset = 0; offset < bytes.byteLength; offset += step) {
      parts.push(frame(offset === 0 ? Op.Text : Op.Continuation, bytes.subarray(offset, offset + step), {
        fin: offset + step >= bytes.byteLength
      }))
    }
    return Buffer.concat(parts)
  }, 1),
  expect: () => echoed([textOf(LIMIT)])
})
add({
  id: "9.3.2",
  section: "9 Limits",
  title: "a 4 MiB text message in fragments of 64 bytes (65,536 fragments, Autobahn 9.3.1) is refused: Close 1008",
  client: { maxFrameSize: LIMIT },
  script: violate(() => {
    const bytes = Buffer.from(textOf(4 * MiB), "latin1")
    const parts: Array<Buffer> = []
    for (let offset = 0; offset < bytes.byteLength; offset += 64) {
      parts.push(frame(offset === 0 ? Op.Text : Op.Continuation, bytes.subarray(offset, offset + 64), {
        fin: offset + 64 >= bytes.byteLength
      }))
    }
    return Buffer.concat(parts)
  }),
  expect: () => ({ delivers: [], sends: [sentClose(1008)], closeReason: { code: 1008 }, error: "Protocol" }),
  deviation: "Autobahn 9.3.1 expects the message to be delivered. ws (8.23) refuses a message of more than " +
    "16,384 fragments with 1008, a guard against a peer that makes the client hold millions of tiny buffers " +
    "(memory must stay about maxFrameSize per message, docs/API.md §3). Kept on purpose; messages of at most " +
    "16,384 fragments of any size up to maxFrameSize pass (5.18, 9.3.1)."
})
add({
  id: "9.4.1",
  section: "9 Limits",
  title: "a text message of 16 MiB + 1 byte with maxFrameSize 16 MiB is too big: Close 1009, FrameTooBig",
  client: { maxFrameSize: LIMIT },
  script: violate(() => text(textOf(LIMIT + 1))),
  expect: () => ({ delivers: [], sends: [sentClose(1009)], closeReason: { code: 1009 }, error: "FrameTooBig" })
})
add({
  id: "9.4.2",
  section: "9 Limits",
  title: "a binary message of 16 MiB + 1 byte in 2 fragments is too big: Close 1009, FrameTooBig",
  client: { maxFrameSize: LIMIT },
  script: violate(() => {
    const bytes = bytesOf(LIMIT + 1)
    return Buffer.concat([
      frame(Op.Binary, bytes.subarray(0, 8 * MiB), { fin: false }),
      frame(Op.Continuation, bytes.subarray(8 * MiB))
    ])
  }),
  expect: () => ({ delivers: [], sends: [sentClose(1009)], closeReason: { code: 1009 }, error: "FrameTooBig" })
})
add({
  id: "9.4.3",
  section: "9 Limits",
  title: "with maxFrameSize 1000, a 1000-byte message is delivered and a 1001-byte one fails: Close 1009",
  client: { maxFrameSize: 1000 },
  script: afterReplies(() => frame(Op.Binary, bytesOf(1000)), 1, () => frame(Op.Binary, bytesOf(1001))),
  expect: () => ({
    delivers: [bytesOf(1000)],
    sends: [sentBinary(bytesOf(1000)), sentClose(1009)],
    closeReason: { code: 1009 },
    error: "FrameTooBig"
  })
})

// ---------------------------------------------------------------------------------------------------------------
// H.x opening handshake faults

const noSession = (error: WebSocketExceptionReason, message?: string) => (): Expected => ({
  delivers: [],
  sends: [],
  closeReason: undefined,
  error,
  message
})
const idle = async () => {}

add({
  id: "H.1",
  section: "H Opening handshake",
  title: "a wrong Sec-WebSocket-Accept fails the connection: Handshake",
  handshake: (socket, request) => {
    socket.write(switchingProtocols({ ...request, key: request.key + "x" }))
    return false
  },
  script: idle,
  expect: noSession("Handshake")
})
add({
  id: "H.2",
  section: "H Opening handshake",
  title: "a 101 answer without the Upgrade header fails the connection: Handshake",
  handshake: (socket, request) => {
    socket.write(switchingProtocols(request).replace("Upgrade: websocket\r\n", ""))
    return false
  },
  script: idle,
  expect: noSession("Handshake")
})
add({
  id: "H.3",
  section: "H Opening handshake",
  title: "a 101 status line followed by garbage instead of headers fails the connection: Handshake",
  handshake: (socket) => {
    socket.write(Buffer.concat([
      Buffer.from("HTTP/1.1 101 Switching Protocols\r\n"),
      Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a])
    ]))
    return false
  },
  script: idle,
  expect: noSession("Handshake")
})
add({
  id: "H.4",
  section: "H Opening handshake",
  title: "a correct 101 followed by garbage bytes in place of frames: Close 1002, Protocol",
  script: violate(() => Buffer.from("garbage, not a frame: \u00ff\u00fe\r\n\r\n", "latin1")),
  expect: protocolError(1002)
})
add({
  id: "H.5",
  section: "H Opening handshake",
  title: "a server that accepts TCP and never answers the upgrade: Timeout after connectTimeout",
  client: { connectTimeout: "300 millis" },
  handshake: () => false,
  script: idle,
  expect: noSession("Timeout")
})
add({
  id: "H.6",
  section: "H Opening handshake",
  title: "a server that closes the connection right after accepting it: Connect",
  onSocket: (socket) => socket.destroy(),
  script: idle,
  expect: noSession("Connect")
})
add({
  id: "H.7",
  section: "H Opening handshake",
  title: "a server that reads the upgrade request and closes without answering: Connect",
  handshake: (socket) => {
    socket.end()
    return false
  },
  script: idle,
  expect: noSession("Connect")
})
add({
  id: "H.8",
  section: "H Opening handshake",
  title: "a 200 answer fails with Handshake, status 200 and the exact message of docs/API.md",
  handshake: (socket) => {
    socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    return false
  },
  script: idle,
  expect: noSession("Handshake", "Handshake exception, expected status code 101 but was 200")
})
add({
  id: "H.9",
  section: "H Opening handshake",
  title: "a 101 that accepts a subprotocol the client did not offer fails the connection: Handshake",
  handshake: (socket, request) => {
    socket.write(switchingProtocols(request, ["Sec-WebSocket-Protocol: unoffered"]))
    return false
  },
  script: idle,
  expect: noSession("Handshake")
})
add({
  id: "H.10",
  section: "H Opening handshake",
  title: "a 101 that agrees to an extension the client did not offer fails the connection: Handshake",
  handshake: (socket, request) => {
    socket.write(switchingProtocols(request, ["Sec-WebSocket-Extensions: permessage-deflate"]))
    return false
  },
  script: idle,
  expect: noSession("Handshake")
})

/** Every conformance case, in table order. */
export const allCases: ReadonlyArray<Case> = cases

/** The cases of one section, by its leading number or letter. */
export const casesOf = (prefix: string): ReadonlyArray<Case> => cases.filter((c) => c.id.split(".")[0] === prefix)

/** A one-line rendering of a frame the client sends, for the table. */
export const describeSent = (sent: Sent): string => {
  if (sent.kind === "Close") {
    if (sent.code === undefined) return "Close (no code)"
    return sent.reason === undefined || sent.reason === "" ? `Close ${sent.code}` : `Close ${sent.code} + reason`
  }
  return `${sent.kind} ${sent.payload.byteLength} B`
}
