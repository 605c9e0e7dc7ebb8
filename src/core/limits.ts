/**
 * Every limit and protocol code of the library, named once. The Effect layer and the engines import these names;
 * no other file spells a close code or a byte limit as a literal.
 */

/** The close codes of RFC 6455 §7.4.1 that the library uses by name. */
export const CloseCodes = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  CANNOT_ACCEPT: 1003,
  /** Never on the wire: a Close frame that carried no status code. */
  NO_STATUS: 1005,
  /** Never on the wire: the connection ended without a Close frame. */
  CLOSED_ABNORMALLY: 1006,
  NOT_CONSISTENT: 1007,
  VIOLATED_POLICY: 1008,
  TOO_BIG: 1009,
  NO_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  /** Never sent: only a TLS layer reports it. */
  TLS_HANDSHAKE: 1015
} as const

/** How long a closing session waits for the peer's Close before dropping the connection, in milliseconds. */
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 5_000

/** The socket stops being read while this many bytes of messages wait for the consumer. */
export const INCOMING_HIGH_WATER_BYTES = 1024 * 1024
/** …or this many messages, whatever their size. */
export const INCOMING_HIGH_WATER_COUNT = 4096
/** `send` waits while more than this many bytes wait to be written. */
export const OUTGOING_HIGH_WATER_BYTES = 1024 * 1024

/** A control frame (Ping, Pong, Close) carries at most this many payload bytes (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125
/** The longest close message that fits in a control frame: 125 bytes minus the 2-byte code. */
export const MAX_CLOSE_MESSAGE_BYTES = 123
/** The bytes of a Ping payload the pinger sends: fresh random bytes, so an old Pong can never match. */
export const PING_PAYLOAD_BYTES = 16
