/**
 * The frame model: data frames (Text, Binary) and control frames (Close, Ping, Pong).
 *
 * Frames are plain readonly objects tagged by `_tag`, so the hot path allocates one small object per message.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { CloseReason, isValidWireCode } from "./CloseReason.js"
import * as closeCodes from "./core/closeCodes.js"
import * as limits from "./core/limits.js"

/**
 * A text message (or fragment when `fin` is false).
 *
 * @since 0.1.0
 * @category models
 */
export interface Text {
  readonly _tag: "Text"
  readonly fin: boolean
  readonly data: string
}

/**
 * A binary message (or fragment when `fin` is false).
 *
 * @since 0.1.0
 * @category models
 */
export interface Binary {
  readonly _tag: "Binary"
  readonly fin: boolean
  readonly data: Uint8Array
}

/**
 * A Close frame; `data` is the wire payload: a big-endian code and a UTF-8 message, or nothing.
 *
 * @since 0.1.0
 * @category models
 */
export interface Close {
  readonly _tag: "Close"
  readonly fin: boolean
  readonly data: Uint8Array
}

/**
 * A Ping frame.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ping {
  readonly _tag: "Ping"
  readonly fin: boolean
  readonly data: Uint8Array
}

/**
 * A Pong frame.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pong {
  readonly _tag: "Pong"
  readonly fin: boolean
  readonly data: Uint8Array
}

/**
 * Any WebSocket frame.
 *
 * @since 0.1.0
 * @category models
 */
export type Frame = Text | Binary | Close | Ping | Pong

/**
 * A data frame: what `incoming` delivers.
 *
 * @since 0.1.0
 * @category models
 */
export type Data = Text | Binary

/**
 * The largest payload a control frame may carry (RFC 6455 §5.5).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_CONTROL_PAYLOAD = limits.MAX_CONTROL_PAYLOAD

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: false })
const empty = new Uint8Array(0)

/**
 * @since 0.1.0
 * @category constructors
 */
export const text = (data: string, fin = true): Text => ({ _tag: "Text", fin, data })

/**
 * @since 0.1.0
 * @category constructors
 */
export const binary = (data: Uint8Array, fin = true): Binary => ({ _tag: "Binary", fin, data })

/**
 * Encodes a close payload: the code as two big-endian bytes, then the UTF-8 message.
 *
 * @since 0.1.0
 * @category constructors
 */
export const encodeCloseReason = (reason: CloseReason): Uint8Array => {
  const message = encoder.encode(reason.message)
  const payload = new Uint8Array(2 + message.length)
  payload[0] = (reason.code >> 8) & 0xff
  payload[1] = reason.code & 0xff
  payload.set(message, 2)
  return payload
}

/**
 * A Close frame; with no reason it carries an empty payload.
 *
 * @since 0.1.0
 * @category constructors
 */
export const close = (reason?: CloseReason): Close => ({
  _tag: "Close",
  fin: true,
  data: reason === undefined ? empty : encodeCloseReason(reason)
})

/**
 * @since 0.1.0
 * @category constructors
 */
export const ping = (data: Uint8Array = empty): Ping => ({ _tag: "Ping", fin: true, data })

/**
 * @since 0.1.0
 * @category constructors
 */
export const pong = (data: Uint8Array = empty): Pong => ({ _tag: "Pong", fin: true, data })

/**
 * The payload as text (UTF-8 decoded for non-text frames).
 *
 * @since 0.1.0
 * @category getters
 */
export const readText = (frame: Frame): string => frame._tag === "Text" ? frame.data : decoder.decode(frame.data)

/**
 * The payload as bytes (UTF-8 encoded for text frames).
 *
 * @since 0.1.0
 * @category getters
 */
export const readBytes = (frame: Frame): Uint8Array => frame._tag === "Text" ? encoder.encode(frame.data) : frame.data

/**
 * Decodes a close payload; `None` for an empty payload (no status code, 1005) or one too short to hold a code.
 *
 * @since 0.1.0
 * @category getters
 */
export const decodeCloseReason = (payload: Uint8Array): Option.Option<CloseReason> => {
  const reason = closeCodes.decodeClosePayload(payload)
  return reason === undefined ? Option.none() : Option.some(new CloseReason(reason))
}

/**
 * The reason carried by a Close frame.
 *
 * @since 0.1.0
 * @category getters
 */
export const readReason = (frame: Close): Option.Option<CloseReason> => decodeCloseReason(frame.data)

/** @since 0.1.0 @category guards */
export const isText = (u: Frame): u is Text => u._tag === "Text"
/** @since 0.1.0 @category guards */
export const isBinary = (u: Frame): u is Binary => u._tag === "Binary"
/** @since 0.1.0 @category guards */
export const isClose = (u: Frame): u is Close => u._tag === "Close"
/** @since 0.1.0 @category guards */
export const isPing = (u: Frame): u is Ping => u._tag === "Ping"
/** @since 0.1.0 @category guards */
export const isPong = (u: Frame): u is Pong => u._tag === "Pong"
/** @since 0.1.0 @category guards */
export const isData = (u: Frame): u is Data => u._tag === "Text" || u._tag === "Binary"
/** @since 0.1.0 @category guards */
export const isControl = (u: Frame): u is Close | Ping | Pong => !isData(u)

// ---------------------------------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------------------------------

// A lone (unpaired) UTF-16 surrogate cannot be written as UTF-8, so a string holding one cannot travel in a Text frame.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** The close codes 1000-1014 that are valid on the wire; the arbitraries draw from these and from 3000-4999. */
const wireCodes1000 = Array.from({ length: 15 }, (_, i) => 1000 + i).filter(isValidWireCode)

/**
 * Cuts `s` after its last whole code point that fits in `maxBytes` UTF-8 bytes.
 *
 * @internal
 */
export const truncateUtf8 = (s: string, maxBytes: number): string => {
  let bytes = 0
  let end = 0
  for (const char of s) {
    const cp = char.codePointAt(0)!
    const width = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
    if (bytes + width > maxBytes) break
    bytes += width
    end += char.length
  }
  return s.slice(0, end)
}

/**
 * Why `payload` is not a valid Close frame payload (RFC 6455 §5.5.1, §7.4), or `undefined` when it is:
 * empty, or a big-endian code valid on the wire followed by at most 123 bytes of valid UTF-8.
 *
 * @since 0.1.0
 * @category guards
 */
export const validateClosePayload: (payload: Uint8Array) => string | undefined = closeCodes.validateClosePayload

/**
 * Whether `payload` is a valid Close frame payload.
 *
 * @since 0.1.0
 * @category guards
 */
export const isValidClosePayload = (payload: Uint8Array): boolean => validateClosePayload(payload) === undefined

/** A data frame's `fin` flag: any boolean (false marks a fragment). */
const DataFin = Schema.Boolean

/** Control frames may not be fragmented (RFC 6455 §5.5). */
const ControlFin = Schema.Boolean.pipe(
  Schema.filter((fin) => fin || "A control frame must have fin = true", {
    identifier: "ControlFin",
    arbitrary: () => (fc) => fc.constant(true)
  })
)

/**
 * Text frame data: a string that can be written as UTF-8 (no lone surrogates).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TextData = Schema.String.pipe(
  Schema.filter((s) => !loneSurrogate.test(s) || "Text frame data must be well-formed Unicode (no lone surrogates)", {
    identifier: "TextData",
    arbitrary: () => (fc) => fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }))
  })
)

/**
 * A Ping or Pong payload: at most 125 bytes.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ControlPayload = Schema.Uint8ArrayFromSelf.pipe(
  Schema.filter(
    (bytes) =>
      bytes.length <= MAX_CONTROL_PAYLOAD ||
      `A control frame carries at most ${MAX_CONTROL_PAYLOAD} bytes, got ${bytes.length}`,
    {
      identifier: "ControlPayload",
      arbitrary: () => (fc) => fc.uint8Array({ maxLength: MAX_CONTROL_PAYLOAD })
    }
  )
)

/**
 * A Close payload: empty, or a big-endian close code valid on the wire and a reason of at most 123 UTF-8 bytes.
 * Its arbitrary builds payloads from valid codes and Unicode reasons, so generation needs no rejection sampling.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ClosePayload = Schema.Uint8ArrayFromSelf.pipe(
  Schema.filter((bytes) => validateClosePayload(bytes) ?? true, {
    identifier: "ClosePayload",
    arbitrary: () => (fc) =>
      fc.oneof(
        { arbitrary: fc.constant(empty), weight: 1 },
        {
          arbitrary: fc.record({
            code: fc.oneof(fc.constantFrom(...wireCodes1000), fc.integer({ min: 3000, max: 4999 })),
            message: fc.oneof(fc.string(), fc.string({ unit: "binary", maxLength: limits.MAX_CLOSE_MESSAGE_BYTES }))
          }).map(({ code, message }) =>
            encodeCloseReason(new CloseReason({ code, message: truncateUtf8(message, limits.MAX_CLOSE_MESSAGE_BYTES) }))
          ),
          weight: 5
        }
      )
  })
)

/**
 * @since 0.1.0
 * @category schemas
 */
export const TextSchema = Schema.Struct({ _tag: Schema.Literal("Text"), fin: DataFin, data: TextData })
  .annotations({ identifier: "Text" })

/**
 * @since 0.1.0
 * @category schemas
 */
export const BinarySchema = Schema.Struct({
  _tag: Schema.Literal("Binary"),
  fin: DataFin,
  data: Schema.Uint8ArrayFromSelf
}).annotations({ identifier: "Binary" })

/**
 * @since 0.1.0
 * @category schemas
 */
export const CloseSchema = Schema.Struct({ _tag: Schema.Literal("Close"), fin: ControlFin, data: ClosePayload })
  .annotations({ identifier: "Close" })

/**
 * @since 0.1.0
 * @category schemas
 */
export const PingSchema = Schema.Struct({ _tag: Schema.Literal("Ping"), fin: ControlFin, data: ControlPayload })
  .annotations({ identifier: "Ping" })

/**
 * @since 0.1.0
 * @category schemas
 */
export const PongSchema = Schema.Struct({ _tag: Schema.Literal("Pong"), fin: ControlFin, data: ControlPayload })
  .annotations({ identifier: "Pong" })

/**
 * The frame union with the RFC 6455 limits: control frames are final and carry at most 125 bytes, a Close payload
 * is empty or a code valid on the wire plus a reason of at most 123 UTF-8 bytes, Text data is well-formed Unicode.
 * Its encoded form is the frame itself, so it validates frames and generates them: `Arbitrary.make(Frame.schema)`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Schema<Frame> = Schema.Union(TextSchema, BinarySchema, CloseSchema, PingSchema, PongSchema)
  .annotations({ identifier: "Frame" })
