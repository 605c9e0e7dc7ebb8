/**
 * Properties of `Frame.schema` and of the close payload codec (docs/API.md §4, RFC 6455 §5.5, §7.4).
 * Pure: no sockets. Runs per property are stated in each `fastCheck.numRuns`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { isValidWireCode, MAX_MESSAGE_BYTES } from "../../src/CloseReason.js"
import { CloseReason, Frame } from "../../src/index.js"

const encoder = new TextEncoder()
const utf8Length = (s: string) => encoder.encode(s).length

/** Close codes valid on the wire: 1000-1014 less 1004-1006, and 3000-4999. */
const validCode = fc.oneof(
  fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014),
  fc.integer({ min: 3000, max: 4999 })
)
/** Any 16-bit code that is not valid on the wire (about 94% of the range, so the filter rarely rejects). */
const invalidCode = fc.integer({ min: 0, max: 0xffff }).filter((code) => !isValidWireCode(code))
/** Unicode reasons (astral characters included) of at most 123 UTF-8 bytes. */
const reason = fc.oneof(fc.string(), fc.string({ unit: "binary", maxLength: 123 }))
  .map((s) => Frame.truncateUtf8(s, MAX_MESSAGE_BYTES))

describe("Frame.schema properties", () => {
  it.prop(
    "every generated frame survives Frame.schema encode and decode unchanged",
    [Frame.schema],
    ([frame]) => {
      const encoded = Schema.encodeSync(Frame.schema)(frame)
      const decoded = Schema.decodeUnknownSync(Frame.schema)(encoded)
      expect(decoded).toEqual(frame)
      // the generated frame respects the RFC limits the schema states
      if (Frame.isControl(frame)) {
        expect(frame.fin).toBe(true)
        expect(frame.data.length).toBeLessThanOrEqual(Frame.MAX_CONTROL_PAYLOAD)
      }
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "close payloads (big-endian code + UTF-8 reason) round-trip through encode, Frame.schema and decode",
    [validCode, reason],
    ([code, message]) => {
      const sent = new CloseReason({ code, message })
      const frame = Frame.close(sent)
      expect(frame.data.length).toBe(2 + utf8Length(message))
      expect((frame.data[0]! << 8) | frame.data[1]!).toBe(code)
      const decoded = Schema.decodeUnknownSync(Frame.schema)(frame)
      expect(decoded._tag).toBe("Close")
      expect(Frame.readReason(decoded as Frame.Close)).toEqual(Option.some(sent))
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "a close payload with a code that is not valid on the wire is rejected by Frame.schema",
    [invalidCode, reason],
    ([code, message]) => {
      const frame = Frame.close(new CloseReason({ code, message }))
      const result = Schema.decodeUnknownEither(Frame.schema)(frame)
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(result.left.message).toContain(`Close code ${code} is not valid on the wire`)
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "a close reason longer than 123 UTF-8 bytes, or a control payload over 125 bytes, is rejected",
    [validCode, fc.string({ unit: "binary", maxLength: 200 }), fc.uint8Array({ minLength: 126, maxLength: 1024 })],
    ([code, s, payload]) => {
      const message = utf8Length(s) > MAX_MESSAGE_BYTES ? s : s + "x".repeat(MAX_MESSAGE_BYTES + 1 - utf8Length(s))
      expect(Frame.isValidClosePayload(Frame.close(new CloseReason({ code, message })).data)).toBe(false)
      expect(Schema.is(Frame.schema)(Frame.ping(payload))).toBe(false)
      expect(Schema.is(Frame.schema)(Frame.pong(payload))).toBe(false)
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "the close payload arbitrary only yields payloads the wire accepts (no filter does the work)",
    [Arbitrary.make(Frame.ClosePayload)],
    ([payload]) => {
      expect(Frame.validateClosePayload(payload)).toBeUndefined()
      const decoded = Frame.decodeCloseReason(payload)
      if (Option.isNone(decoded)) expect(payload.length).toBe(0)
      else expect(Frame.close(decoded.value).data).toEqual(payload)
    },
    { fastCheck: { numRuns: 300 } }
  )
})
