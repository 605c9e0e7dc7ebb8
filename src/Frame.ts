/**
 * The frame model: data frames (Text, Binary) and control frames (Close, Ping, Pong).
 *
 * Frames are plain readonly objects tagged by `_tag`, so the hot path allocates one small object per message.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import { CloseReason } from "./CloseReason.js"

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
export const MAX_CONTROL_PAYLOAD = 125

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
export const decodeCloseReason = (payload: Uint8Array): Option.Option<CloseReason> =>
  payload.length < 2
    ? Option.none()
    : Option.some(
      new CloseReason({ code: (payload[0]! << 8) | payload[1]!, message: decoder.decode(payload.subarray(2)) })
    )

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
