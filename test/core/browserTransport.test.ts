/**
 * The transport over the standard `WebSocket` API on its own, with plain callbacks and no Effect, driven through a
 * scripted stand-in for the runtime's class: what it reports on open, message and close, how an attempt fails (as
 * data), and what it does where the standard API falls short (docs/BrowserEngine.md).
 */
import { describe, expect, it } from "vitest"
import * as BrowserTransport from "../../src/core/browserTransport.js"
import { CloseCodes } from "../../src/core/limits.js"
import type * as Transport from "../../src/core/transport.js"

/** A scripted `WebSocket`: the test fires its events and reads what the transport did with it. */
class FakeSocket implements BrowserTransport.WebSocketLike {
  static last: FakeSocket | undefined
  static throwOnCreate: Error | undefined
  binaryType = "blob"
  bufferedAmount = 0
  extensions = ""
  protocol = ""
  readyState = 0
  readonly sent: Array<string | Uint8Array> = []
  readonly closes: Array<readonly [number | undefined, string | undefined]> = []
  /** Close codes this runtime refuses (browsers and Deno send only 1000 and 3000–4999). */
  refuses = (code: number | undefined) => code !== undefined && code !== 1000 && (code < 3000 || code > 4999)
  private readonly listeners: Array<{ handleEvent(event: any): void }> = []
  constructor(readonly url: string, readonly options?: unknown) {
    if (FakeSocket.throwOnCreate !== undefined) throw FakeSocket.throwOnCreate
    FakeSocket.last = this
  }
  send(data: string | Uint8Array): void {
    this.sent.push(data)
  }
  close(code?: number, reason?: string): void {
    if (this.refuses(code)) throw new Error(`refused code ${code}`)
    this.closes.push([code, reason])
  }
  addEventListener(_type: string, listener: { handleEvent(event: any): void }): void {
    if (!this.listeners.includes(listener)) this.listeners.push(listener)
  }
  fire(event: Record<string, unknown> & { readonly type: string }): void {
    if (event.type === "close") this.readyState = 3
    for (const listener of this.listeners) listener.handleEvent(event)
  }
}

const recorder = () => {
  const events: Array<ReadonlyArray<unknown>> = []
  const outcomes: Array<Transport.Opened | Transport.ConnectFailure> = []
  const listener: Transport.Listener = {
    onOpen: () => events.push(["open"]),
    onMessage: (data) => events.push(["message", data]),
    onPing: () => events.push(["ping"]),
    onPong: () => events.push(["pong"]),
    onViolation: (violation, code) => events.push(["violation", violation, code]),
    onClose: (code, reason) => events.push(["close", code, reason])
  }
  return {
    events,
    outcomes,
    listener,
    done: (outcome: Transport.Opened | Transport.ConnectFailure) => outcomes.push(outcome)
  }
}

const request = (url: string, overrides: Partial<Transport.ConnectRequest> = {}): Transport.ConnectRequest => ({
  url: new URL(url),
  headers: {},
  protocols: [],
  maxFrameSize: 10,
  deflate: undefined,
  ...overrides
})

const start = (req: Transport.ConnectRequest, features: BrowserTransport.Features = {}) => {
  FakeSocket.last = undefined
  FakeSocket.throwOnCreate = undefined
  const r = recorder()
  const abort = BrowserTransport.connect(FakeSocket, features)(req, r.listener, r.done)
  return { ...r, abort, socket: FakeSocket.last as FakeSocket | undefined }
}

describe("core/browserTransport: connect(C, features)(request, listener, done) => abort", () => {
  it("open: onOpen, then done with the connection; the runtime's protocol and extensions are the handshake's", () => {
    const { events, outcomes, socket } = start(request("ws://a.test/x", { protocols: ["chat"] }))
    expect(socket!.binaryType).toBe("arraybuffer")
    socket!.protocol = "chat"
    socket!.extensions = "permessage-deflate"
    socket!.fire({ type: "open" })
    expect(events).toEqual([["open"]])
    expect(outcomes).toHaveLength(1)
    const connection = (outcomes[0] as Transport.Opened).connection
    expect(connection.handshake).toEqual({
      status: 101,
      headers: {},
      protocol: "chat",
      extensions: "permessage-deflate"
    })
    expect(connection.controlFrames).toBe(false)
  })

  it("messages: text as a string, an ArrayBuffer as bytes; one over maxFrameSize is FrameTooBig with 1009", () => {
    const { events, socket } = start(request("ws://a.test/"))
    socket!.fire({ type: "open" })
    socket!.fire({ type: "message", data: "hi" })
    socket!.fire({ type: "message", data: new Uint8Array([1, 2]).buffer })
    socket!.fire({ type: "message", data: "x".repeat(11) })
    expect(events[1]).toEqual(["message", "hi"])
    expect([...(events[2]![1] as Uint8Array)]).toEqual([1, 2])
    expect(events[3]).toEqual(["violation", "FrameTooBig", CloseCodes.TOO_BIG])
  })

  it("a clean close reports the peer's code; an unclean one 1006 CLOSED_ABNORMALLY whatever the runtime says", () => {
    const clean = start(request("ws://a.test/"))
    clean.socket!.fire({ type: "open" })
    clean.socket!.fire({ type: "close", code: 4001, reason: "bye", wasClean: true })
    expect(clean.events.at(-1)).toEqual(["close", 4001, "bye"])
    const unclean = start(request("ws://a.test/"))
    unclean.socket!.fire({ type: "open" })
    unclean.socket!.fire({ type: "close", code: 1001, reason: "gone", wasClean: false })
    expect(unclean.events.at(-1)).toEqual(["close", CloseCodes.CLOSED_ABNORMALLY, ""])
  })

  it("a close code the runtime refuses goes out as 4000 + (code − 1000), with the same reason", () => {
    const { outcomes, socket } = start(request("ws://a.test/"))
    socket!.fire({ type: "open" })
    const connection = (outcomes[0] as Transport.Opened).connection
    connection.close(CloseCodes.INTERNAL_ERROR, "oops")
    connection.close(CloseCodes.NORMAL, "")
    expect(socket!.closes).toEqual([[4011, "oops"], [1000, ""]])
  })

  it("a status named in the runtime's error message is UnexpectedStatus; onOpen never runs", () => {
    const { events, outcomes, socket } = start(request("ws://a.test/"))
    socket!.fire({ type: "error", message: "Unexpected server response: 403" })
    socket!.fire({ type: "close", code: 1006, reason: "", wasClean: false })
    expect(outcomes).toEqual([{ _tag: "UnexpectedStatus", status: 403 }])
    expect(events).toEqual([])
  })

  it("a failure the runtime does not explain is Unreachable, saying that the runtime gives no reason", () => {
    const { outcomes, socket } = start(request("ws://a.test/"))
    socket!.fire({ type: "error" })
    socket!.fire({ type: "close", code: 1006, reason: "", wasClean: false })
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0]).toMatchObject({ _tag: "Unreachable" })
    expect((outcomes[0] as { readonly detail: string }).detail).toMatch(/^the runtime gives no reason \(code 1006\)/)
  })

  it("a constructor that throws is Refused, carrying what it threw", () => {
    FakeSocket.throwOnCreate = new Error("bad URL")
    const r = recorder()
    BrowserTransport.connect(FakeSocket)(request("ws://a.test/"), r.listener, r.done)
    FakeSocket.throwOnCreate = undefined
    expect(r.outcomes).toEqual([{ _tag: "Refused", cause: new Error("bad URL") }])
  })

  it("settings the runtime cannot honour are Unsupported before any socket exists", () => {
    const deflate = start(request("ws://a.test/", { deflate: { compressionLevel: 3 } }))
    expect(deflate.socket).toBeUndefined()
    expect(deflate.outcomes[0]).toMatchObject({ _tag: "Unsupported", setting: "extensions" })
    const credentials = start(request("ws://u:secret@a.test/"))
    expect(credentials.socket).toBeUndefined()
    expect(credentials.outcomes[0]).toMatchObject({ _tag: "Unsupported", setting: "headers" })
  })

  it("with header support, credentials travel as Basic authorization and the URL given to the runtime has none", () => {
    const { socket } = start(request("ws://u:secret@a.test/x"), { headers: true })
    expect(socket!.url).toBe("ws://a.test/x")
    expect(socket!.options).toEqual({
      headers: { authorization: `Basic ${Buffer.from("u:secret").toString("base64")}` },
      protocols: []
    })
  })

  it("abort before open closes the connecting socket and done is never called; after open it does nothing", () => {
    const early = start(request("ws://a.test/"))
    early.abort()
    expect(early.socket!.closes).toEqual([[undefined, undefined]])
    early.socket!.fire({ type: "open" })
    expect(early.outcomes).toEqual([])
    expect(early.events).toEqual([])
    const late = start(request("ws://a.test/"))
    late.socket!.fire({ type: "open" })
    late.abort()
    expect(late.socket!.closes).toEqual([])
  })

  it("fragments wait and go out as one whole message when the last arrives", () => {
    const { outcomes, socket } = start(request("ws://a.test/"))
    socket!.fire({ type: "open" })
    const connection = (outcomes[0] as Transport.Opened).connection
    connection.send("ab", false)
    expect(socket!.sent).toEqual([])
    connection.send("cd", true)
    expect(socket!.sent).toEqual(["abcd"])
  })
})
