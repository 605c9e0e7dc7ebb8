/**
 * The session's protocol core (src/core/session.ts) on its own, without Effect: a fake transport records what the
 * core tells the engine, and the tests drive the listener callbacks and the synchronous operations. The rules are
 * those of the README's "Session" section: phases and close reasons, backpressure marks, ping matching, the
 * fragment and close-code rules for what is sent, and how long a released session waits for the peer's Close.
 */
import { describe, expect, it } from "vitest"
import {
  CLOSE_HANDSHAKE_TIMEOUT_MS,
  CloseCodes,
  INCOMING_HIGH_WATER_BYTES,
  INCOMING_HIGH_WATER_COUNT,
  OUTGOING_HIGH_WATER_BYTES,
  PING_PAYLOAD_BYTES
} from "../../src/core/limits.js"
import * as Core from "../../src/core/session.js"

/** A transport that records every call; `buffered` is what `bufferedAmount` answers. */
class FakeTransport implements Core.Transport {
  calls: Array<ReadonlyArray<unknown>> = []
  buffered = 0
  controlFrames: boolean | undefined = undefined
  drained: Array<() => void> = []
  written: Array<(error?: Error) => void> = []
  send = (data: string | Uint8Array, fin: boolean, onWritten?: (error?: Error) => void) => {
    this.calls.push(["send", data, fin])
    if (onWritten !== undefined) this.written.push(onWritten)
  }
  ping = (payload: Uint8Array) => void this.calls.push(["ping", payload])
  pong = (payload: Uint8Array) => void this.calls.push(["pong", payload])
  close = (code: number, reason: string) => void this.calls.push(["close", code, reason])
  terminate = () => void this.calls.push(["terminate"])
  pause = () => void this.calls.push(["pause"])
  resume = () => void this.calls.push(["resume"])
  bufferedAmount = () => this.buffered
  flush = (onDrained: () => void) => void this.drained.push(onDrained)
  named(name: string) {
    return this.calls.filter((call) => call[0] === name)
  }
}

/** A core with its transport open; `ended` counts calls of the end hook. */
class TestCore extends Core.SessionCore {
  endedCalls = 0
  protected override onEnded(): void {
    this.endedCalls++
  }
}

const open = () => {
  const core = new TestCore()
  const transport = new FakeTransport()
  core.onOpen(transport)
  return { core, transport }
}

/** A waiter that counts its wake-ups. */
const counter = () => {
  const waiter = Object.assign(() => void waiter.woken++, { woken: 0 })
  return waiter
}

describe("core session: phases and close reasons", () => {
  it("a new session is Open, with no reason and no failure", () => {
    const { core } = open()
    expect(core.phase).toBe("Open")
    expect(core.endReason).toBeUndefined()
    expect(core.failure).toBeUndefined()
  })

  it("close sends Close once, moves to Closing, and the peer's Close ends the session with our reason", () => {
    const { core, transport } = open()
    const reason = { code: 4000, message: "bye" }
    expect(core.close(reason)).toBeUndefined()
    expect(core.phase).toBe("Closing")
    expect(core.close({ code: 1000, message: "" })).toBeUndefined()
    expect(transport.named("close")).toEqual([["close", 4000, "bye"]])
    core.onCloseFrame(1000, "")
    expect(core.phase).toBe("Ended")
    expect(core.endReason).toBe(reason)
    expect(core.failure).toBeUndefined()
    expect(core.endedCalls).toBe(1)
    core.onClose(1000, "")
    expect(core.endedCalls).toBe(1)
  })

  it("a Close from the peer ends the session with its reason; one without a code (1005) reads as NORMAL", () => {
    const a = open()
    a.core.onCloseFrame(CloseCodes.GOING_AWAY, "restart")
    expect(a.core.endReason).toEqual({ code: 1001, message: "restart" })
    const b = open()
    b.core.onClose(CloseCodes.NO_STATUS, "")
    expect(b.core.endReason).toBe(Core.NORMAL)
    expect(b.core.failure).toBeUndefined()
  })

  it("a transport that ends without a Close (1006) fails the session with Abnormal", () => {
    const { core } = open()
    core.onClose(CloseCodes.CLOSED_ABNORMALLY, "")
    expect(core.endReason).toEqual({ code: 1006, message: "" })
    expect(core.failure).toEqual({ kind: "Abnormal", reason: { code: 1006, message: "" } })
  })

  it("after our Close, the end of the transport (even 1006) ends the session cleanly with our reason", () => {
    const { core } = open()
    core.close({ code: 1000, message: "done" })
    core.onClose(CloseCodes.CLOSED_ABNORMALLY, "")
    expect(core.endReason).toEqual({ code: 1000, message: "done" })
    expect(core.failure).toBeUndefined()
  })

  it("a violation sends the engine's close code and fails with what went on the wire", () => {
    const { core, transport } = open()
    core.onViolation("FrameTooBig", CloseCodes.TOO_BIG, "Message too big")
    expect(transport.named("close")).toEqual([["close", 1009, ""]])
    expect(core.failure).toEqual({
      kind: "Violation",
      violation: "FrameTooBig",
      message: "Message too big",
      sent: { code: 1009, message: "" }
    })
  })

  it("a violation after our own Close keeps our Close as the reason (closeReason is what went on the wire)", () => {
    const { core, transport } = open()
    const ours = { code: 4001, message: "ours" }
    core.close(ours)
    core.onViolation("Protocol", CloseCodes.PROTOCOL_ERROR, "bad frame")
    expect(transport.named("close")).toHaveLength(1)
    expect(core.endReason).toBe(ours)
    expect(core.failure?.kind === "Violation" && core.failure.sent).toBe(ours)
  })
})

describe("core session: close codes", () => {
  it("close refuses codes that may not be sent, and messages over 123 UTF-8 bytes, sending nothing", () => {
    for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5]) {
      const { core, transport } = open()
      expect(core.close({ code, message: "" })?.kind).toBe("InvalidCloseCode")
      expect(transport.calls).toEqual([])
      expect(core.phase).toBe("Open")
    }
    const { core } = open()
    expect(core.close({ code: 1000, message: "é".repeat(62) })).toEqual({
      kind: "InvalidCloseCode",
      message: "Close reason is 124 UTF-8 bytes long, at most 123 may be sent"
    })
    expect(core.close({ code: 3000, message: "x".repeat(123) })).toBeUndefined()
  })

  it("a Close frame given to write is checked as a payload, then closes with the reason it carries", () => {
    const { core, transport } = open()
    const bad = { _tag: "Close" as const, fin: true, data: new Uint8Array([0x03, 0xed]) } // 1005
    expect(core.write(bad)).toEqual({ kind: "InvalidCloseCode", message: "Close code 1005 is not valid on the wire" })
    const good = { _tag: "Close" as const, fin: true, data: new Uint8Array([0x0f, 0xa0, 0x68, 0x69]) } // 4000 "hi"
    expect(core.write(good)).toBe(Core.SENT)
    expect(transport.named("close")).toEqual([["close", 4000, "hi"]])
    expect(core.sentReason).toEqual({ code: 4000, message: "hi" })
  })

  it("an empty Close frame closes with NORMAL", () => {
    const { core, transport } = open()
    expect(core.write({ _tag: "Close", fin: true, data: new Uint8Array(0) })).toBe(Core.SENT)
    expect(transport.named("close")).toEqual([["close", 1000, ""]])
  })
})

describe("core session: writing", () => {
  it("a message below the write mark is sent at once and answered SENT", () => {
    const { core, transport } = open()
    expect(core.write("hello")).toBe(Core.SENT)
    expect(core.write(new Uint8Array([1]))).toBe(Core.SENT)
    expect(transport.named("send")).toEqual([["send", "hello", true], ["send", new Uint8Array([1]), true]])
  })

  it("above the write mark nothing is sent: WAIT, then sendWaiting sends with the written callback", () => {
    const { core, transport } = open()
    transport.buffered = OUTGOING_HIGH_WATER_BYTES
    expect(core.write("late")).toBe(Core.WAIT)
    expect(transport.named("send")).toEqual([])
    let written = false
    core.sendWaiting("late", () => void (written = true))
    expect(transport.named("send")).toEqual([["send", "late", true]])
    transport.written[0]!()
    expect(written).toBe(true)
  })

  it("writing on a closing or ended session is refused with NotOpen", () => {
    const { core, transport } = open()
    core.close(Core.NORMAL)
    expect(core.write("x")).toEqual({ kind: "NotOpen" })
    core.onClose(1000, "")
    expect(core.write("x")).toEqual({ kind: "NotOpen" })
    expect(transport.named("send")).toEqual([])
  })

  it("while a fragmented message is open, only its own type may follow, and nothing else is written", () => {
    const { core, transport } = open()
    expect(core.write({ _tag: "Text", fin: false, data: "a" })).toBe(Core.SENT)
    expect(core.write({ _tag: "Binary", fin: true, data: new Uint8Array(1) })).toEqual({
      kind: "Protocol",
      message: "A fragmented Text message is open: a Binary frame may not be sent until its last fragment"
    })
    expect(core.write("whole")).toEqual({
      kind: "Protocol",
      message: "A fragmented Text message is open: a whole message may not be sent until its last fragment"
    })
    expect(core.write({ _tag: "Text", fin: true, data: "b" })).toBe(Core.SENT)
    expect(core.write("whole")).toBe(Core.SENT)
    expect(transport.named("send")).toEqual([["send", "a", false], ["send", "b", true], ["send", "whole", true]])
  })

  it("a Ping or Pong over 125 bytes is refused; an engine without control frames refuses them with Capability", () => {
    const a = open()
    expect(a.core.write({ _tag: "Ping", fin: true, data: new Uint8Array(126) })).toEqual({
      kind: "Protocol",
      message: "A Ping payload may hold at most 125 bytes, got 126"
    })
    expect(a.core.write({ _tag: "Pong", fin: true, data: new Uint8Array(125) })).toBe(Core.SENT)
    expect(a.transport.named("pong")).toHaveLength(1)
    const b = open()
    b.transport.controlFrames = false
    expect(b.core.write({ _tag: "Ping", fin: true, data: new Uint8Array(0) })).toEqual({
      kind: "Capability",
      operation: "send(Frame.ping)",
      missing: "PingCapability"
    })
    expect(b.transport.named("ping")).toEqual([])
  })
})

describe("core session: the message queue", () => {
  it("messages are taken in order as Text / Binary frames; poll answers undefined when none is queued", () => {
    const { core } = open()
    core.onMessage("a")
    core.onMessage(new Uint8Array([7]))
    expect(core.queued).toBe(2)
    expect(core.poll()).toEqual({ _tag: "Text", fin: true, data: "a" })
    expect(core.poll()).toEqual({ _tag: "Binary", fin: true, data: new Uint8Array([7]) })
    expect(core.poll()).toBeUndefined()
  })

  it("each message wakes one waiter, the one waiting longest; a waiter that leaves messages wakes the next", () => {
    const { core } = open()
    const first = counter()
    const second = counter()
    expect(core.waitForMessage(first as unknown as Core.Waiter)).toBe(true)
    expect(core.waitForMessage(second as unknown as Core.Waiter)).toBe(true)
    expect(core.messageWaiting).toBe(2)
    core.onMessage("1")
    expect([first.woken, second.woken]).toEqual([1, 0])
    core.onMessage("2")
    expect([first.woken, second.woken]).toEqual([1, 1])
    expect(core.messageWaiting).toBe(0)
  })

  it("waitForMessage registers nothing when a message is queued or the session has ended", () => {
    const { core } = open()
    core.onMessage("x")
    expect(core.waitForMessage(counter() as unknown as Core.Waiter)).toBe(false)
    core.poll()
    core.onClose(1000, "")
    expect(core.waitForMessage(counter() as unknown as Core.Waiter)).toBe(false)
    expect(core.messageWaiting).toBe(0)
  })

  it("a cancelled waiter leaves; one woken but cancelled before it took anything passes its wake-up on", () => {
    const { core } = open()
    const a = counter()
    const b = counter()
    const c = counter()
    core.waitForMessage(a as unknown as Core.Waiter)
    core.waitForMessage(b as unknown as Core.Waiter)
    core.waitForMessage(c as unknown as Core.Waiter)
    core.cancelMessageWait(b as unknown as Core.Waiter)
    expect(core.messageWaiting).toBe(2)
    core.onMessage("m")
    expect(a.woken).toBe(1)
    core.cancelMessageWait(a as unknown as Core.Waiter) // interrupted after its wake-up: c gets it
    expect([b.woken, c.woken]).toEqual([0, 1])
  })

  it("the end wakes every waiter, and what was queued before it is still taken", () => {
    const { core } = open()
    const waiter = counter()
    const ender = counter()
    core.onMessage("kept")
    core.poll()
    core.waitForMessage(waiter as unknown as Core.Waiter)
    core.waitForEnd(ender as unknown as Core.Waiter)
    core.onMessage("late")
    core.onCloseFrame(1000, "")
    expect([waiter.woken, ender.woken]).toEqual([1, 1])
    expect(core.endWaiting).toBe(0)
    expect(core.poll()?.data).toBe("late")
    core.onMessage("after the end")
    expect(core.poll()).toBeUndefined()
  })

  it("takeAll takes at most `max` messages, the rest stays queued", () => {
    const { core } = open()
    for (let i = 0; i < 5; i++) core.onMessage(String(i))
    expect(core.takeAll(3).map((f) => f.data)).toEqual(["0", "1", "2"])
    expect(core.takeAll(3).map((f) => f.data)).toEqual(["3", "4"])
    expect(core.takeAll(3)).toEqual([])
  })
})

describe("core session: backpressure", () => {
  it("reading pauses at the message-count mark and resumes once below half of it", () => {
    const { core, transport } = open()
    for (let i = 0; i < INCOMING_HIGH_WATER_COUNT - 1; i++) core.onMessage("x")
    expect(transport.named("pause")).toEqual([])
    core.onMessage("x")
    expect(transport.named("pause")).toHaveLength(1)
    expect(core.paused).toBe(true)
    while (core.queued > INCOMING_HIGH_WATER_COUNT / 2) core.poll()
    expect(transport.named("resume")).toEqual([])
    core.poll()
    expect(transport.named("resume")).toHaveLength(1)
    expect(core.paused).toBe(false)
    expect(core.pauses).toBe(1)
  })

  it("reading pauses at the byte mark, and resumes when the consumer takes the message", () => {
    const { core, transport } = open()
    core.onMessage(new Uint8Array(INCOMING_HIGH_WATER_BYTES))
    expect(transport.named("pause")).toHaveLength(1)
    core.takeAll(10)
    expect(transport.named("resume")).toHaveLength(1)
  })

  it("Pongs owed above the write mark pause reading until the transport has drained (the Ping flood rule)", () => {
    const { core, transport } = open()
    core.onPing(new Uint8Array([1]))
    expect(transport.named("pong")).toHaveLength(1)
    expect(transport.named("pause")).toEqual([])
    transport.buffered = OUTGOING_HIGH_WATER_BYTES
    core.onPing(new Uint8Array([2]))
    expect(transport.named("pause")).toHaveLength(1)
    expect(transport.drained).toHaveLength(1)
    transport.drained[0]!()
    expect(transport.named("resume")).toHaveLength(1)
  })

  it("a released session reads on (resumes) and drops what still arrives", () => {
    const { core, transport } = open()
    core.onMessage(new Uint8Array(INCOMING_HIGH_WATER_BYTES))
    expect(core.paused).toBe(true)
    core.release(Core.NORMAL)
    expect(transport.named("resume")).toHaveLength(1)
    const queued = core.queued
    core.onMessage("dropped")
    expect(core.queued).toBe(queued)
  })
})

describe("core session: ping / pong matching", () => {
  it("each Ping carries a fresh 16-byte payload, and only the Pong that echoes it answers", () => {
    const { core, transport } = open()
    const waiter = counter()
    expect(core.ping(waiter as unknown as Core.Waiter)).toBe(true)
    const first = transport.named("ping")[0]![1] as Uint8Array
    expect(first.byteLength).toBe(PING_PAYLOAD_BYTES)
    core.onPong(new Uint8Array(PING_PAYLOAD_BYTES))
    core.onPong(first.subarray(1))
    expect(waiter.woken).toBe(0)
    core.onPong(Uint8Array.from(first))
    expect(waiter.woken).toBe(1)
    core.ping(counter() as unknown as Core.Waiter)
    const second = transport.named("ping")[1]![1] as Uint8Array
    expect(Array.from(second)).not.toEqual(Array.from(first))
  })

  it("a Pong that arrives while the pinger is not waiting still counts: waitForPong answers false", () => {
    const { core, transport } = open()
    core.ping(counter() as unknown as Core.Waiter)
    core.cancelPongWait()
    expect(core.waitForPong(counter() as unknown as Core.Waiter)).toBe(true)
    core.cancelPongWait()
    core.onPong(transport.named("ping")[0]![1] as Uint8Array)
    expect(core.waitForPong(counter() as unknown as Core.Waiter)).toBe(false)
  })

  it("a closed session sends no Ping", () => {
    const { core, transport } = open()
    core.close(Core.NORMAL)
    expect(core.ping(counter() as unknown as Core.Waiter)).toBe(false)
    expect(transport.named("ping")).toEqual([])
  })

  it("a ping timeout sends Close(1011, \"Ping timeout\") and fails the session with PingTimeout", () => {
    const { core, transport } = open()
    core.ping(counter() as unknown as Core.Waiter)
    core.pingTimedOut()
    expect(transport.named("close")).toEqual([["close", CloseCodes.INTERNAL_ERROR, "Ping timeout"]])
    expect(core.failure).toEqual({ kind: "PingTimeout", sent: Core.PING_TIMEOUT })
    expect(core.endReason).toBe(Core.PING_TIMEOUT)
  })
})

describe("core session: release and the close wait", () => {
  it("releasing an open session sends Close(1000) and waits the close-handshake timeout for the peer's Close", () => {
    const { core, transport } = open()
    expect(core.release(Core.NORMAL)).toBe(CLOSE_HANDSHAKE_TIMEOUT_MS)
    expect(transport.named("close")).toEqual([["close", 1000, ""]])
  })

  it("no wait once the transport has ended", () => {
    const { core, transport } = open()
    core.onClose(1000, "")
    expect(core.release(Core.NORMAL)).toBe(0)
    expect(transport.named("close")).toEqual([])
  })

  it("no wait after a ping timeout: the peer is presumed gone and the transport is dropped at once", () => {
    const { core, transport } = open()
    core.ping(counter() as unknown as Core.Waiter)
    core.pingTimedOut()
    expect(core.release(Core.NORMAL)).toBe(0)
    expect(transport.named("terminate")).toHaveLength(1)
  })

  it("drop terminates the transport and ends the session with the Close we sent, once", () => {
    const { core, transport } = open()
    core.release(Core.NORMAL)
    core.drop()
    expect(transport.named("terminate")).toHaveLength(1)
    expect(core.phase).toBe("Ended")
    expect(core.endReason).toBe(Core.NORMAL)
    core.onClose(1006, "")
    core.drop()
    expect(transport.named("terminate")).toHaveLength(1)
    expect(core.endedCalls).toBe(1)
  })

  it("the transport's end wakes its waiters", () => {
    const { core } = open()
    const waiter = counter()
    expect(core.waitForTransportClosed(waiter as unknown as Core.Waiter)).toBe(true)
    core.onClose(1000, "")
    expect(waiter.woken).toBe(1)
    expect(core.waitForTransportClosed(counter() as unknown as Core.Waiter)).toBe(false)
  })
})
