/**
 * Ping/Pong matching, without timers: every Ping the pinger sends carries a fresh random payload, and only a Pong
 * that echoes it byte for byte answers it (an old or unsolicited Pong never does). The pinger's timer lives in the
 * Effect layer (src/internal/pinger.ts), so that `TestClock` drives it.
 */
import { PING_PAYLOAD_BYTES } from "./limits.js"

/** A fresh random payload for the next Ping. */
export const pingPayload = (): Uint8Array => {
  const payload = new Uint8Array(PING_PAYLOAD_BYTES)
  globalThis.crypto.getRandomValues(payload)
  return payload
}

/** Whether a Pong's payload answers the Ping that carried `sent`. */
export const answers = (pong: Uint8Array, sent: Uint8Array): boolean => {
  if (pong.byteLength !== sent.byteLength) return false
  for (let i = 0; i < pong.byteLength; i++) if (pong[i] !== sent[i]) return false
  return true
}
