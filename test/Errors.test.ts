/**
 * The error constructors of `WebSocketException` (docs/API.md §8): every message of the library is worded by one of
 * them, so every engine gives the same text, and a URL's password never appears in a message or a kept cause.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { CloseReason } from "../src/CloseReason.js"
import { WebSocketException } from "../src/Errors.js"

const url = new URL("ws://alice:s3cret-pw@example.test:8080/room?x=1")

describe("WebSocketException constructors", () => {
  it("handshake(status): Ktor's exact message, reason Handshake, the status kept", () => {
    const error = WebSocketException.handshake(403)
    expect(error._tag).toBe("WebSocketException")
    expect(error.reason).toBe("Handshake")
    expect(error.status).toBe(403)
    expect(error.message).toBe("Handshake exception, expected status code 101 but was 403")
  })

  it("connect(url, cause): names the cause, redacts the password, drops a cause that quotes it", () => {
    const clean = new Error("connect ECONNREFUSED 127.0.0.1:8080")
    const error = WebSocketException.connect(url, clean)
    expect(error.reason).toBe("Connect")
    expect(error.message).toBe(
      "Could not connect to ws://alice:<redacted>@example.test:8080/room?x=1: connect ECONNREFUSED 127.0.0.1:8080"
    )
    expect(error.cause).toBe(clean)
    const quoting = WebSocketException.connect(url, new Error(`bad url ${url.href}`))
    expect(quoting.message).not.toContain("s3cret-pw")
    expect(quoting.message).toContain("<redacted>")
    expect(quoting.cause).toBeUndefined()
  })

  it("handshakeRejected(url, why): the url redacted, the why scrubbed", () => {
    const error = WebSocketException.handshakeRejected(url, "the answer said s3cret-pw", { status: 101 })
    expect(error.reason).toBe("Handshake")
    expect(error.status).toBe(101)
    expect(error.message).toBe(
      "Handshake exception with ws://alice:<redacted>@example.test:8080/room?x=1: the answer said <redacted>"
    )
  })

  it("closed(reason): with and without a reason, as an Option or a value", () => {
    const reason = new CloseReason({ code: 1001, message: "bye" })
    expect(WebSocketException.closed().message).toBe("The WebSocket session is closed")
    expect(WebSocketException.closed(Option.none()).closeReason).toBeUndefined()
    const some = WebSocketException.closed(Option.some(reason))
    expect(some.reason).toBe("Closed")
    expect(some.closeReason).toBe(reason)
    expect(some.message).toBe(`The WebSocket session is closed: ${reason.toString()}`)
    expect(WebSocketException.closed(reason, "reconnecting WebSocket session").message).toBe(
      `The reconnecting WebSocket session is closed: ${reason.toString()}`
    )
  })

  it("timeout, pingTimeout, violation, protocol, invalidCloseCode, capability: reason and wording", () => {
    expect(WebSocketException.timeout("2 seconds")).toMatchObject({
      reason: "Timeout",
      message: "No answer to the WebSocket upgrade within 2s"
    })
    const sent = new CloseReason({ code: 1011, message: "Ping timeout" })
    expect(WebSocketException.pingTimeout(sent, "500 millis")).toMatchObject({
      reason: "PingTimeout",
      message: "No Pong within 500ms",
      closeReason: sent
    })
    const tooBig = new CloseReason({ code: 1009, message: "" })
    expect(WebSocketException.violation("FrameTooBig", "70000 bytes", tooBig)).toMatchObject({
      reason: "FrameTooBig",
      message: "Frame is too big: 70000 bytes",
      closeReason: tooBig
    })
    expect(WebSocketException.violation("Protocol", "bad opcode", tooBig).message).toBe(
      "Protocol violation by the peer: bad opcode"
    )
    expect(WebSocketException.protocol("no").reason).toBe("Protocol")
    expect(WebSocketException.invalidCloseCode("1005 may not be sent").reason).toBe("InvalidCloseCode")
    expect(WebSocketException.capability("pingInterval", "it lacks PingCapability")).toMatchObject({
      reason: "Capability",
      message: "The engine cannot honour the setting \"pingInterval\": it lacks PingCapability"
    })
    expect(WebSocketException.bufferFull("the reconnecting session")).toMatchObject({
      reason: "BufferFull",
      message: "The send buffer of the reconnecting session is full"
    })
  })
})
