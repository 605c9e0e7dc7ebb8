/**
 * Close reasons: the code and message carried by a Close frame (RFC 6455 §7.4).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Option from "effect/Option"
import * as closeCodes from "./core/closeCodes.js"
import { CloseCodes, MAX_CLOSE_MESSAGE_BYTES } from "./core/limits.js"

const Codes = {
  NORMAL: CloseCodes.NORMAL,
  GOING_AWAY: CloseCodes.GOING_AWAY,
  PROTOCOL_ERROR: CloseCodes.PROTOCOL_ERROR,
  CANNOT_ACCEPT: CloseCodes.CANNOT_ACCEPT,
  CLOSED_ABNORMALLY: CloseCodes.CLOSED_ABNORMALLY,
  NOT_CONSISTENT: CloseCodes.NOT_CONSISTENT,
  VIOLATED_POLICY: CloseCodes.VIOLATED_POLICY,
  TOO_BIG: CloseCodes.TOO_BIG,
  NO_EXTENSION: CloseCodes.NO_EXTENSION,
  INTERNAL_ERROR: CloseCodes.INTERNAL_ERROR,
  SERVICE_RESTART: CloseCodes.SERVICE_RESTART,
  TRY_AGAIN_LATER: CloseCodes.TRY_AGAIN_LATER
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
export const MAX_MESSAGE_BYTES = MAX_CLOSE_MESSAGE_BYTES

/**
 * Whether `code` may appear in a Close frame on the wire (RFC 6455 §7.4.1 and the IANA registry),
 * the same rule `ws` applies in `isValidStatusCode`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isValidWireCode: (code: number) => boolean = closeCodes.isValidWireCode

/**
 * Whether `code` may be sent by this client: the wire rule, which already leaves out 1015 (only a TLS layer
 * reports it).
 *
 * @since 0.1.0
 * @category guards
 */
export const isSendableCode: (code: number) => boolean = closeCodes.isSendableCode

/**
 * Why `reason` may not be sent, or `undefined` when it may.
 *
 * @since 0.1.0
 * @category guards
 */
export const validateForSending: (reason: CloseReason) => string | undefined = closeCodes.validateForSending

/** @internal */
export const normal = new CloseReason({ code: CloseCodes.NORMAL, message: "" })
