import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { CloseReason, Frame } from "../src/index.js"

const bytes = (...xs: Array<number>) => new Uint8Array(xs)
const decode = Schema.decodeUnknownEither(Frame.schema)
const closeFrame = (data: Uint8Array): Frame.Close => ({ _tag: "Close", fin: true, data })
const rejected = (u: unknown): string => {
  const result = decode(u)
  if (Either.isRight(result)) throw new Error(`expected Frame.schema to reject ${JSON.stringify(u)}`)
  return result.left.message
}

describe("Frame constructors and readers (docs/API.md §4)", () => {
  it("Frame.text / Frame.binary build final data frames tagged Text / Binary", () => {
    expect(Frame.text("hi")).toEqual({ _tag: "Text", fin: true, data: "hi" })
    expect(Frame.binary(bytes(1, 2))).toEqual({ _tag: "Binary", fin: true, data: bytes(1, 2) })
    expect(Frame.text("part", false).fin).toBe(false)
  })

  it("Frame.ping / Frame.pong carry the given payload, empty by default", () => {
    expect(Frame.ping(bytes(9))).toEqual({ _tag: "Ping", fin: true, data: bytes(9) })
    expect(Frame.pong().data.length).toBe(0)
  })

  it("Frame.close encodes the code big-endian followed by the UTF-8 reason; no reason gives an empty payload", () => {
    const frame = Frame.close(new CloseReason({ code: 1001, message: "bye é" }))
    expect(Array.from(frame.data)).toEqual([0x03, 0xe9, ...new TextEncoder().encode("bye é")])
    expect(Frame.close().data.length).toBe(0)
  })

  it("Frame.readReason decodes the close payload; an empty payload has no reason", () => {
    const reason = new CloseReason({ code: 4000, message: "custom 🚀" })
    expect(Frame.readReason(Frame.close(reason))).toEqual(Option.some(reason))
    expect(Frame.readReason(Frame.close())).toEqual(Option.none())
  })

  it("Frame.readText / Frame.readBytes convert between UTF-8 bytes and text", () => {
    expect(Frame.readText(Frame.binary(new TextEncoder().encode("𝄞 clef")))).toBe("𝄞 clef")
    expect(Array.from(Frame.readBytes(Frame.text("é")))).toEqual([0xc3, 0xa9])
  })

  it("the guards tell the frame types apart", () => {
    const frames = [Frame.text(""), Frame.binary(bytes()), Frame.close(), Frame.ping(), Frame.pong()]
    expect(frames.map(Frame.isText)).toEqual([true, false, false, false, false])
    expect(frames.map(Frame.isBinary)).toEqual([false, true, false, false, false])
    expect(frames.map(Frame.isClose)).toEqual([false, false, true, false, false])
    expect(frames.map(Frame.isPing)).toEqual([false, false, false, true, false])
    expect(frames.map(Frame.isPong)).toEqual([false, false, false, false, true])
    expect(frames.map(Frame.isData)).toEqual([true, true, false, false, false])
    expect(frames.map(Frame.isControl)).toEqual([false, false, true, true, true])
  })
})

describe("Frame.schema: the frame union with the RFC 6455 limits (docs/API.md §4)", () => {
  it("accepts every kind of frame built by the constructors", () => {
    const frames: Array<Frame.Frame> = [
      Frame.text("héllo 👋"),
      Frame.text("", false),
      Frame.binary(bytes(0, 255), false),
      Frame.close(),
      Frame.close(new CloseReason({ code: 1000, message: "" })),
      Frame.close(new CloseReason({ code: 4999, message: "x".repeat(123) })),
      Frame.ping(new Uint8Array(125)),
      Frame.pong(bytes(1))
    ]
    for (const frame of frames) expect(decode(frame)).toEqual(Either.right(frame))
  })

  it("a control payload is at most 125 bytes", () => {
    expect(rejected(Frame.ping(new Uint8Array(126)))).toContain("at most 125 bytes, got 126")
    expect(rejected(Frame.pong(new Uint8Array(1000)))).toContain("at most 125 bytes")
  })

  it("control frames must be final (fin = true); data frames may be fragments", () => {
    expect(rejected({ _tag: "Ping", fin: false, data: bytes() })).toContain("fin = true")
    expect(rejected({ _tag: "Close", fin: false, data: bytes() })).toContain("fin = true")
    expect(Either.isRight(decode({ _tag: "Binary", fin: false, data: bytes(1) }))).toBe(true)
  })

  it("a close payload is empty or at least 2 bytes", () => {
    expect(rejected(closeFrame(bytes(0x03)))).toContain("got 1 byte")
  })

  it("close codes must be valid on the wire (1004, 1005, 1006, 1016-2999, <1000, >=5000 are not)", () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1016, 2999, 5000, 65535]) {
      const frame = closeFrame(bytes(code >> 8, code & 0xff))
      expect(rejected(frame)).toContain(`Close code ${code} is not valid on the wire`)
    }
    for (const code of [1000, 1003, 1007, 1014, 3000, 4999]) {
      expect(Either.isRight(decode(closeFrame(bytes(code >> 8, code & 0xff))))).toBe(true)
    }
  })

  it("a close reason is at most 123 UTF-8 bytes", () => {
    const ok = Frame.close(new CloseReason({ code: 1000, message: "é".repeat(61) + "a" })) // 123 bytes
    expect(ok.data.length).toBe(125)
    expect(Either.isRight(decode(ok))).toBe(true)
    const tooLong = Frame.close(new CloseReason({ code: 1000, message: "é".repeat(62) })) // 124 bytes
    expect(rejected(tooLong)).toContain("at most 123 UTF-8 bytes, got 124")
  })

  it("a close reason must be valid UTF-8", () => {
    expect(rejected(closeFrame(bytes(0x03, 0xe8, 0xc3)))).toContain("valid UTF-8")
    expect(rejected(closeFrame(bytes(0x03, 0xe8, 0xed, 0xa0, 0x80)))).toContain("valid UTF-8") // a surrogate
  })

  it("text data must be well-formed Unicode: a lone surrogate cannot be sent as UTF-8", () => {
    expect(rejected(Frame.text("a\uD800b"))).toContain("lone surrogates")
    expect(rejected(Frame.text("\uDC00"))).toContain("lone surrogates")
    expect(Either.isRight(decode(Frame.text("\uD83D\uDE80")))).toBe(true)
  })

  it("rejects values that are not frames", () => {
    rejected({ _tag: "Continuation", fin: true, data: bytes() })
    rejected({ _tag: "Text", fin: true, data: bytes(1) })
    rejected({ _tag: "Binary", fin: true, data: "text" })
    rejected(null)
  })

  it("Arbitrary.make(Frame.schema) generates all five frame types, and close frames with a reason", () => {
    const samples = FastCheck.sample(Arbitrary.make(Frame.schema), { numRuns: 500, seed: 42 })
    const tags = new Set(samples.map((frame) => frame._tag))
    expect([...tags].sort()).toEqual(["Binary", "Close", "Ping", "Pong", "Text"])
    const closes = samples.filter(Frame.isClose)
    expect(closes.some((frame) => Option.isSome(Frame.readReason(frame)))).toBe(true)
    expect(closes.some((frame) => frame.data.length === 0)).toBe(true)
  })
})
