/**
 * Close reasons: the code and message carried by a Close frame (RFC 6455 §7.4).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Option from "effect/Option"

const Codes = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  CANNOT_ACCEPT: 1003,
  CLOSED_ABNORMALLY: 1006,
  NOT_CONSISTENT: 1007,
  VIOLATED_POLICY: 1008,
  TOO_BIG: 1009,
  NO_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013
} as const

/**
 * The name of a well-known close code.
 *
 * @since 0.1.0
 * @category models
 */
export type CodeName = keyof typeof Codes

const namesByCode: ReadonlyMap<number, CodeName> = new Map(
  (Object.keys(Codes) as Array<CodeName>).map((name) => [Codes[name], name])
)

/**
 * Why a session ended: a close code and a (possibly empty) message.
 *
 * @since 0.1.0
 * @category models
 */
export class CloseReason extends Data.Class<{ readonly code: number; readonly message: string }> {
  /**
   * The well-known close codes, by name.
   *
   * @since 0.1.0
   */
  static readonly Codes = Codes

  /**
   * The name of `reason`'s code when it is a well-known one.
   *
   * @since 0.1.0
   */
  static knownReason(reason: CloseReason): Option.Option<CodeName> {
    return Option.fromNullable(namesByCode.get(reason.code))
  }

  /**
   * The name of this reason's code when it is a well-known one.
   *
   * @since 0.1.0
   */
  get knownReason(): Option.Option<CodeName> {
    return CloseReason.knownReason(this)
  }

  /**
   * `CloseReason(NAME=code, "message")`: the code's name when it has one, the message when there is one.
   *
   * @since 0.1.0
   */
  override toString(): string {
    const name = namesByCode.get(this.code)
    return `CloseReason(${name ?? "code"}=${this.code}${
      this.message === "" ? "" : `, ${JSON.stringify(this.message)}`
    })`
  }
}

/**
 * The longest close message that fits in a control frame: 125 bytes minus the 2-byte code.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_MESSAGE_BYTES = 123

/**
 * Whether `code` may appear in a Close frame on the wire (RFC 6455 §7.4.1 and the IANA registry),
 * the same rule `ws` applies in `isValidStatusCode`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isValidWireCode = (code: number): boolean =>
  Number.isInteger(code) &&
  ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999))

/**
 * Whether `code` may be sent by this client: the wire rule less 1015, which only a TLS layer reports.
 *
 * @since 0.1.0
 * @category guards
 */
export const isSendableCode = (code: number): boolean => isValidWireCode(code) && code !== 1015

const encoder = new TextEncoder()

/**
 * Why `reason` may not be sent, or `undefined` when it may.
 *
 * @since 0.1.0
 * @category guards
 */
export const validateForSending = (reason: CloseReason): string | undefined => {
  if (!isSendableCode(reason.code)) return `Close code ${reason.code} may not be sent`
  const bytes = encoder.encode(reason.message).length
  if (bytes > MAX_MESSAGE_BYTES) {
    return `Close reason is ${bytes} UTF-8 bytes long, at most ${MAX_MESSAGE_BYTES} may be sent`
  }
  return undefined
}

/** @internal */
export const normal = new CloseReason({ code: Codes.NORMAL, message: "" })
