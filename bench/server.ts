/**
 * The benchmark's peer: a plain `ws` WebSocketServer on 127.0.0.1, run in its own process (forked by
 * bench/run.ts with an IPC channel) so that it never shares a CPU core or a heap with the client under test.
 *
 * Paths:
 * - `/echo`: sends every message back as it came (text stays text, binary stays binary).
 * - `/slow?id=X&total=N&size=S`: pushes `total` bytes of `size`-byte binary messages as fast as its socket takes
 *   them, and counts the bytes handed to the kernel (the write callbacks that fired). When the client sends the
 *   text `mark`, the server stops and reports `{ type: "mark", id, handed }` to its parent.
 */
import { randomFillSync } from "node:crypto"
import type { IncomingMessage } from "node:http"
import { type WebSocket, WebSocketServer } from "ws"

/** Messages queued in the socket at once while pushing: enough to keep the kernel buffers full. */
const PUSH_WINDOW = 8

const send = (message: unknown) => process.send?.(message)

const echo = (socket: WebSocket) => {
  socket.on("message", (data: Buffer, isBinary: boolean) => socket.send(data, { binary: isBinary }))
}

const push = (socket: WebSocket, url: URL) => {
  const id = url.searchParams.get("id") ?? ""
  const total = Number(url.searchParams.get("total") ?? 256 * 1024 * 1024)
  const size = Number(url.searchParams.get("size") ?? 64 * 1024)
  const payload = randomFillSync(Buffer.alloc(size))
  let queued = 0
  let handed = 0
  let inFlight = 0
  let stopped = false
  const pump = () => {
    while (!stopped && inFlight < PUSH_WINDOW && queued < total) {
      queued += size
      inFlight++
      socket.send(payload, { binary: true }, (error) => {
        inFlight--
        if (error !== undefined && error !== null) {
          stopped = true
          return
        }
        handed += size
        pump()
      })
    }
  }
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    if (isBinary || data.toString() !== "mark" || stopped) return
    stopped = true
    send({ type: "mark", id, handed })
  })
  socket.on("close", () => {
    stopped = true
  })
  pump()
}

const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 0 })
server.on("connection", (socket: WebSocket, request: IncomingMessage) => {
  socket.on("error", () => {})
  const url = new URL(request.url ?? "/", "ws://127.0.0.1")
  if (url.pathname === "/slow") push(socket, url)
  else echo(socket)
})
server.on("listening", () => {
  const address = server.address()
  send({ type: "ready", port: typeof address === "object" && address !== null ? address.port : 0 })
})
process.on("disconnect", () => process.exit(0))
