/**
 * Close codes and close payloads: which codes may travel on the wire, which this client may send, and how a Close
 * payload is read and checked (RFC 6455 §5.5.1, §7.4). `CloseReason.ts` and `Frame.ts` re-export these rules under
 * their public names; the session core applies them to `close` and to a `Frame.Close` given to `send`.
 */
import { CloseCodes, MAX_CLOSE_MESSAGE_BYTES, MAX_CONTROL_PAYLOAD } from "./limits.js"

/** A close code and message, as a Close frame carries them. */
export interface Reason {
  readonly code: number
  readonly message: string
}

/** Reserved by RFC 6455 §7.4.1, never to be used. */
const RESERVED = 1004
/** The codes for libraries, frameworks and applications (RFC 6455 §7.4.2): 3000-4999. */
const REGISTERED_FIRST = 3000
const PRIVATE_LAST = 4999

/**
 * Whether `code` may appear in a Close frame on the wire (RFC 6455 §7.4.1 and the IANA registry), the same rule
 * `ws` applies in `isValidStatusCode`. 1004 is reserved; 1005, 1006 and 1015 are never on the wire.
 */
export const isValidWireCode = (code: number): boolean =>
  Number.isInteger(code) &&
  ((code >= CloseCodes.NORMAL && code <= CloseCodes.BAD_GATEWAY && code !== RESERVED &&
    code !== CloseCodes.NO_STATUS && code !== CloseCodes.CLOSED_ABNORMALLY) ||
    (code >= REGISTERED_FIRST && code <= PRIVATE_LAST))

/** Whether this client may send `code`: the wire rule (which already excludes 1015, reported only by TLS). */
export const isSendableCode = (code: number): boolean => isValidWireCode(code)

const encoder = new TextEncoder()
const lenientDecoder = new TextDecoder("utf-8", { fatal: false })
const fatalDecoder = new TextDecoder("utf-8", { fatal: true })

/** Why `reason` may not be sent, or `undefined` when it may. */
export const validateForSending = (reason: Reason): string | undefined => {
  if (!isSendableCode(reason.code)) return `Close code ${reason.code} may not be sent`
  const bytes = encoder.encode(reason.message).length
  if (bytes > MAX_CLOSE_MESSAGE_BYTES) {
    return `Close reason is ${bytes} UTF-8 bytes long, at most ${MAX_CLOSE_MESSAGE_BYTES} may be sent`
  }
  return undefined
}

/**
 * Why `payload` is not a valid Close frame payload, or `undefined` when it is: empty, or a big-endian code valid on
 * the wire followed by at most 123 bytes of valid UTF-8.
 */
export const validateClosePayload = (payload: Uint8Array): string | undefined => {
  if (payload.length === 0) return undefined
  if (payload.length === 1) return "A close payload is empty or starts with a 2-byte close code, got 1 byte"
  if (payload.length > MAX_CONTROL_PAYLOAD) {
    return `A close reason is at most ${MAX_CLOSE_MESSAGE_BYTES} UTF-8 bytes, got ${payload.length - 2}`
  }
  const code = (payload[0]! << 8) | payload[1]!
  if (!isValidWireCode(code)) return `Close code ${code} is not valid on the wire`
  try {
    fatalDecoder.decode(payload.subarray(2))
  } catch {
    return "A close reason must be valid UTF-8"
  }
  return undefined
}

/** The code and message of a Close payload; `undefined` when it holds no code (1005). */
export const decodeClosePayload = (payload: Uint8Array): Reason | undefined =>
  payload.length < 2
    ? undefined
    : { code: (payload[0]! << 8) | payload[1]!, message: lenientDecoder.decode(payload.subarray(2)) }
