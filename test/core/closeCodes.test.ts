/**
 * The close-code rules of the core (src/core/closeCodes.ts), without Effect: which codes travel on the wire, which
 * this client may send, and how a Close payload is checked and read (the README's "Session" rules on closing).
 */
import { describe, expect, it } from "vitest"
import {
  decodeClosePayload,
  isSendableCode,
  isValidWireCode,
  validateClosePayload,
  validateForSending
} from "../../src/core/closeCodes.js"
import { CloseCodes } from "../../src/core/limits.js"

describe("core close codes", () => {
  it("codes valid on the wire: 1000-1014 less 1004, 1005 and 1006, and 3000-4999", () => {
    const valid = [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999]
    const invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5, Number.NaN]
    for (const code of valid) expect(isValidWireCode(code), String(code)).toBe(true)
    for (const code of invalid) expect(isValidWireCode(code), String(code)).toBe(false)
  })

  it("1015 (reported only by TLS) is neither on the wire nor sendable, without a check of its own", () => {
    expect(isValidWireCode(CloseCodes.TLS_HANDSHAKE)).toBe(false)
    expect(isSendableCode(CloseCodes.TLS_HANDSHAKE)).toBe(false)
  })

  it("validateForSending names the code or the length that may not be sent", () => {
    expect(validateForSending({ code: 1006, message: "" })).toBe("Close code 1006 may not be sent")
    expect(validateForSending({ code: 1000, message: "x".repeat(123) })).toBeUndefined()
    expect(validateForSending({ code: 1000, message: "x".repeat(124) })).toBe(
      "Close reason is 124 UTF-8 bytes long, at most 123 may be sent"
    )
  })

  it("a Close payload is empty, or a wire code and at most 123 bytes of valid UTF-8", () => {
    expect(validateClosePayload(new Uint8Array(0))).toBeUndefined()
    expect(validateClosePayload(new Uint8Array([3]))).toMatch(/got 1 byte/)
    expect(validateClosePayload(new Uint8Array([0x03, 0xec]))).toBe("Close code 1004 is not valid on the wire")
    expect(validateClosePayload(new Uint8Array([0x03, 0xe8, 0xff]))).toBe("A close reason must be valid UTF-8")
    expect(validateClosePayload(new Uint8Array(126).fill(0x61, 2).fill(0x03, 0, 1).fill(0xe8, 1, 2))).toBe(
      "A close reason is at most 123 UTF-8 bytes, got 124"
    )
  })

  it("decodeClosePayload reads the code and message; an empty payload carries none", () => {
    expect(decodeClosePayload(new Uint8Array([0x0f, 0xa0, 0x68, 0x69]))).toEqual({ code: 4000, message: "hi" })
    expect(decodeClosePayload(new Uint8Array(0))).toBeUndefined()
  })
})
