/**
 * The transport over `ws` on its own, with plain callbacks and no Effect: what `connect(request, listener, done)`
 * reports for an open connection, its messages and its end, how an attempt fails (as data, worded later by the
 * engine), and that `abort` leaves nothing behind. Also pins the `ws` internal the engine's cork relies on.
 */
import * as net from "node:net"
import { afterEach, describe, expect, it, vi } from "vitest"
import { CLOSE_HANDSHAKE_TIMEOUT_MS, CloseCodes } from "../../src/core/limits.js"
import * as NodeTransport from "../../src/core/nodeTransport.js"
import type * as Transport from "../../src/core/transport.js"
import { startServer, type TestServer } from "../helpers/wsServer.js"
import { watchResources, within } from "../hostile/client.js"
import { startPeer } from "../hostile/peer.js"

type Event =
  | readonly ["open"]
  | readonly ["message", string | Uint8Array]
  | readonly ["ping" | "pong", string]
  | readonly ["violation", Transport.Violation, number]
  | readonly ["closeFrame" | "close", number, string]

/** A listener that records every event, and resolves `closed` with the last one. */
const recorder = () => {
  const events: Array<Event> = []
  let onClosed: (event: Event) => void = () => {}
  const closed = new Promise<Event>((resolve) => (onClosed = resolve))
  const listener: Transport.Listener = {
    onOpen: () => events.push(["open"]),
    onMessage: (data) => events.push(["message", data]),
    onPing: (payload) => events.push(["ping", Buffer.from(payload).toString()]),
    onPong: (payload) => events.push(["pong", Buffer.from(payload).toString()]),
    onViolation: (violation, code) => events.push(["violation", violation, code]),
    onCloseFrame: (code, reason) => events.push(["closeFrame", code, reason]),
    onClose: (code, reason) => {
      const event: Event = ["close", code, reason]
      events.push(event)
      onClosed(event)
    }
  }
  return { events, listener, closed }
}

const request = (url: string, overrides: Partial<Transport.ConnectRequest> = {}): Transport.ConnectRequest => ({
  url: new URL(url),
  headers: {},
  protocols: [],
  maxFrameSize: 1024 * 1024,
  deflate: undefined,
  ...overrides
})

/** Connects and resolves with how the attempt ended; `events` shows what the listener saw before. */
const attempt = (req: Transport.ConnectRequest, listener: Transport.Listener) =>
  new Promise<Transport.Opened | Transport.ConnectFailure>((resolve) => NodeTransport.connect(req, listener, resolve))

const open = async (req: Transport.ConnectRequest, listener: Transport.Listener): Promise<Transport.Connection> => {
  const outcome = await within(attempt(req, listener), 5_000, "the handshake")
  if (outcome._tag !== "Opened") throw new Error(`expected an open connection, got ${JSON.stringify(outcome)}`)
  return outcome.connection
}

/** Waits (at most 5 s) until `condition` holds; the test fails naming `what` otherwise. */
const until = (condition: () => boolean, what: string) =>
  vi.waitUntil(condition, { timeout: 5_000, interval: 5 }).catch(() => {
    throw new Error(`${what} did not happen within 5 s`)
  })

const servers: Array<{ close: () => Promise<void> }> = []
const serve = async (...args: Parameters<typeof startServer>): Promise<TestServer> => {
  const server = await startServer(...args)
  servers.push(server)
  return server
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

describe("core/nodeTransport: connect(request, listener, done) => abort", () => {
  it("an accepted upgrade calls onOpen, then done with the open connection and the server's answer", async () => {
    const server = await serve({ options: { handleProtocols: () => "chat" } })
    const { events, listener } = recorder()
    let openedFirst = false
    const outcome = await attempt(request(server.url("/x"), { protocols: ["chat"] }), {
      ...listener,
      onOpen: (connection) => {
        openedFirst = true
        listener.onOpen(connection)
      }
    })
    expect(openedFirst).toBe(true)
    expect(events).toEqual([["open"]])
    expect(outcome._tag).toBe("Opened")
    const connection = (outcome as Transport.Opened).connection
    expect(connection.handshake.status).toBe(101)
    expect(connection.handshake.protocol).toBe("chat")
    expect(connection.handshake.headers["sec-websocket-protocol"]).toBe("chat")
    connection.terminate()
  })

  it("text arrives as a string and binary as bytes, in order", async () => {
    const server = await serve()
    const { events, listener } = recorder()
    const connection = await open(request(server.url()), listener)
    connection.send("hello", true)
    connection.send(new Uint8Array([1, 2, 3]), true)
    await until(() => events.length >= 3, "two echoes")
    expect(events[1]).toEqual(["message", "hello"])
    expect(events[2]![0]).toBe("message")
    expect([...(events[2]![1] as Uint8Array)]).toEqual([1, 2, 3])
    connection.terminate()
  })

  it("a fragmented send arrives as one message; onWritten reports each frame handed over", async () => {
    const server = await serve()
    const { events, listener } = recorder()
    const connection = await open(request(server.url()), listener)
    const written: Array<Error | undefined> = []
    connection.send("ab", false, (error) => written.push(error))
    connection.send("cd", true, (error) => written.push(error))
    await until(() => events.length >= 2, "the echo")
    expect(events[1]).toEqual(["message", "abcd"])
    expect(written).toEqual([undefined, undefined])
    connection.terminate()
  })

  it("the peer's Close: onCloseFrame with its code and reason, then onClose with the same", async () => {
    const server = await serve({ behaviours: { "*": ({ socket }) => socket.close(4001, "bye") } })
    const { closed, events, listener } = recorder()
    await open(request(server.url()), listener)
    expect(await within(closed, 5_000, "the close")).toEqual(["close", 4001, "bye"])
    expect(events).toEqual([["open"], ["closeFrame", 4001, "bye"], ["close", 4001, "bye"]])
  })

  it("a Close without a status code is reported as 1005 NO_STATUS", async () => {
    const server = await serve({ behaviours: { "*": ({ socket }) => socket.close() } })
    const { closed, listener } = recorder()
    await open(request(server.url()), listener)
    expect(await within(closed, 5_000, "the close")).toEqual(["close", CloseCodes.NO_STATUS, ""])
  })

  it("a connection that ends without a Close frame is reported as 1006 CLOSED_ABNORMALLY", async () => {
    const server = await serve({ behaviours: { "*": ({ socket }) => socket.terminate() } })
    const { closed, events, listener } = recorder()
    await open(request(server.url()), listener)
    expect(await within(closed, 5_000, "the close")).toEqual(["close", CloseCodes.CLOSED_ABNORMALLY, ""])
    expect(events.some(([name]) => name === "closeFrame")).toBe(false)
  })

  it("our close(code, reason) reaches the peer, whose echo ends the connection", async () => {
    const server = await serve({ behaviours: { "*": () => {} } })
    const { closed, listener } = recorder()
    const connection = await open(request(server.url()), listener)
    connection.close(CloseCodes.GOING_AWAY, "later")
    const peer = await server.nthConnection(1)
    expect(await within(peer.closed, 5_000, "the peer's close")).toEqual({ code: 1001, reason: "later" })
    expect(await within(closed, 5_000, "our close")).toEqual(["close", 1001, "later"])
  })

  it("pings and pongs of the peer reach the listener; our pong answers a ping", async () => {
    const server = await serve({ options: { autoPong: false }, behaviours: { "*": ({ socket }) => socket.ping("p1") } })
    const { events, listener } = recorder()
    const connection = await open(request(server.url()), listener)
    await until(() => events.length >= 2, "the ping")
    expect(events[1]).toEqual(["ping", "p1"])
    connection.ping(new TextEncoder().encode("p2"))
    connection.pong(new TextEncoder().encode("p1"))
    const peer = await server.nthConnection(1)
    await until(() => peer.pings.length >= 1 && peer.pongs.length >= 1, "ping and pong")
    expect(peer.pings.map(String)).toEqual(["p2"])
    expect(peer.pongs.map(String)).toEqual(["p1"])
    connection.terminate()
  })

  it("a message over maxFrameSize is a FrameTooBig violation with 1009 TOO_BIG", async () => {
    const server = await serve({ behaviours: { "*": ({ socket }) => socket.send("x".repeat(200)) } })
    const { closed, events, listener } = recorder()
    await open(request(server.url(), { maxFrameSize: 100 }), listener)
    await within(closed, 5_000, "the close")
    expect(events).toContainEqual(["violation", "FrameTooBig", CloseCodes.TOO_BIG])
    expect(events.some(([name]) => name === "message")).toBe(false)
  })

  it("a refused upgrade ends the attempt with UnexpectedStatus and the status; onOpen never runs", async () => {
    const server = await serve({ options: { verifyClient: (_info, cb) => cb(false, 403) } })
    const { events, listener } = recorder()
    expect(await attempt(request(server.url()), listener)).toEqual({ _tag: "UnexpectedStatus", status: 403 })
    expect(events).toEqual([])
  })

  it("a port nobody listens on ends the attempt with TransportFailed and the system's code", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as net.AddressInfo
        probe.close(() => resolve(port))
      })
    })
    const outcome = await attempt(request(`ws://127.0.0.1:${port}/`), recorder().listener)
    expect(outcome).toMatchObject({ _tag: "TransportFailed", code: "ECONNREFUSED" })
  })

  it("a protocol the client did not offer ends the attempt with AnswerRejected naming offer and choice", async () => {
    const server = await serve({ options: { handleProtocols: () => "other" } })
    const outcome = await attempt(request(server.url(), { protocols: ["chat"] }), recorder().listener)
    expect(outcome).toEqual({
      _tag: "AnswerRejected",
      problem: "Server sent an invalid subprotocol",
      offered: ["chat"],
      chosen: "other"
    })
  })

  it("a setting ws refuses ends the attempt at once with NotStarted, and abort is then harmless", () => {
    let outcome: Transport.Opened | Transport.ConnectFailure | undefined
    const abort = NodeTransport.connect(
      request("ws://127.0.0.1:1/", { headers: { "bad header": "x" } }),
      recorder().listener,
      (o) => (outcome = o)
    )
    expect(outcome?._tag).toBe("NotStarted")
    abort()
  })

  it("abort before the answer closes the socket, never calls done, and leaves no socket or timer", async () => {
    // a peer that reads the upgrade and never answers it
    const peer = await startPeer(() => {}, { handshake: () => false })
    try {
      const watch = watchResources(peer)
      let done = 0
      let sawOpen = false
      const abort = NodeTransport.connect(
        request(peer.url),
        { ...recorder().listener, onOpen: () => (sawOpen = true) },
        () => done++
      )
      await until(() => peer.openSockets() === 1, "the peer's socket")
      abort()
      abort()
      await until(() => peer.openSockets() === 0, "the end of the peer's socket")
      expect(await watch.leaked()).toEqual({})
      expect(done).toBe(0)
      expect(sawOpen).toBe(false)
    } finally {
      await peer.close()
    }
  })

  it("abort after the attempt ended does nothing: the connection stays open", async () => {
    const server = await serve()
    const { events, listener } = recorder()
    let abort: Transport.Abort = () => {}
    const outcome = await new Promise<Transport.Opened | Transport.ConnectFailure>((resolve) => {
      abort = NodeTransport.connect(request(server.url()), listener, resolve)
    })
    abort()
    const connection = (outcome as Transport.Opened).connection
    connection.send("still open", true)
    await until(() => events.length >= 2, "the echo")
    expect(events[1]).toEqual(["message", "still open"])
    connection.terminate()
  })

  it("ws is given the library's close-handshake wait (closeTimeout = CLOSE_HANDSHAKE_TIMEOUT_MS)", async () => {
    const server = await serve()
    const connection = await open(request(server.url()), recorder().listener)
    // ws < 8.19 ignored the option (a fixed 30 s): package.json's floor is the first version that reads it
    const ws = (connection as unknown as { readonly ws: { readonly _closeTimeout?: number } }).ws
    expect(ws._closeTimeout).toBe(CLOSE_HANDSHAKE_TIMEOUT_MS)
    connection.terminate()
  })
})

describe("core/nodeTransport: the ws internals its speed tricks rely on", () => {
  it("ws's socket is `_socket`: a burst of sends in one tick corks it once and uncorks it on the next tick", async () => {
    const server = await serve({ behaviours: { "*": () => {} } })
    const connection = await open(request(server.url()), recorder().listener)
    // the engine reads ws's private `_socket` field; if a ws upgrade renames it, this is undefined and the cork is
    // silently lost: fail here instead
    const socket = (connection as unknown as { readonly socket?: net.Socket }).socket
    expect(socket).toBeInstanceOf(net.Socket)
    const wsSocket = (connection as unknown as { readonly ws: { readonly _socket?: unknown } }).ws._socket
    expect(wsSocket).toBe(socket)
    const cork = vi.spyOn(socket!, "cork")
    const uncork = vi.spyOn(socket!, "uncork")
    // a lone message is written at once: no cork left over
    connection.send("one", true)
    expect(socket!.writableCorked).toBe(0)
    await new Promise((resolve) => setImmediate(resolve))
    cork.mockClear()
    // a burst: the second send of the tick corks the socket, which stays corked until the tick ends
    connection.send("a", true)
    connection.send("b", true)
    connection.send("c", true)
    expect(cork).toHaveBeenCalled()
    expect(socket!.writableCorked).toBe(1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(socket!.writableCorked).toBe(0)
    expect(uncork).toHaveBeenCalled()
    const peer = await server.nthConnection(1)
    await until(() => peer.messages.length >= 4, "the four messages")
    expect(peer.messages.map((m) => m.data.toString())).toEqual(["one", "a", "b", "c"])
    connection.terminate()
  })
})
