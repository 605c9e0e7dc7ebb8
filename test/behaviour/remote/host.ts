/**
 * The Node side of a behaviour run in another runtime: one HTTP server on 127.0.0.1 that
 * - serves the test page and the bundled suite (a page on this origin may open WebSockets to it; Chromium refuses
 *   loopback WebSockets from `data:` pages),
 * - runs the peers (`ws` servers without a port of their own, reached at /peer/<id>/…) and scripts them on command
 *   (POST /rpc, protocol.ts),
 * - receives the results (POST /results).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import { build } from "esbuild"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { WebSocketServer } from "ws"
import type * as TestEngine from "../../../src/TestEngine.js"
import { serverConnectionOf } from "../nodePeer.js"
import type { CaseResult } from "../runner.js"
import type { Command, NextConnection, StoppedPeer } from "./protocol.js"
import { decodeFrame, encodeFrame } from "./protocol.js"

/** What a runtime reports when the suite has run. */
export interface RunReport {
  readonly runtime: string
  readonly results: ReadonlyArray<CaseResult>
  readonly error?: string
}

/** A running host. */
export interface Host {
  readonly origin: string
  /** The report of the next run that finishes. */
  readonly report: Promise<RunReport>
  readonly close: () => Promise<void>
}

interface HostedPeer {
  readonly wss: WebSocketServer
  /** Accepted connections not yet taken by `peer.next`. */
  readonly connections: Queue.Queue<NextConnection>
  /** Every accepted connection, in order: `peer.accepted` reads it by index, so none is lost to an aborted call. */
  readonly accepted: Array<NextConnection>
  /** Wakes the `peer.accepted` calls waiting for the next connection. */
  readonly onAccept: Set<() => void>
}

const entry = fileURLToPath(new URL("./entry.ts", import.meta.url))

/**
 * Bundles the suite for a runtime with the standard globals only (platform "browser": a `node:*` import fails the
 * build). The suite imports the package root, so `ws`'s browser stub comes along unused.
 */
export const bundleSuite = async (): Promise<string> => {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent"
  })
  return result.outputFiles[0]!.text
}

const page = `<!doctype html><html><head><meta charset="utf-8"><title>behaviour suite</title>
<link rel="icon" href="data:,"></head>
<body><script type="module" src="/suite.js"></script></body></html>`

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString()))
    request.on("error", reject)
  })

/** Starts a host serving `bundle`; it runs peers until closed. */
export const startHost = async (bundle: string): Promise<Host> => {
  const peers = new Map<number, HostedPeer>()
  const connections = new Map<number, TestEngine.ServerConnection>()
  let nextId = 1
  let reported: (report: RunReport) => void = () => {}
  const report = new Promise<RunReport>((resolve) => reported = resolve)
  let origin = ""

  const handle = async (command: Command): Promise<unknown> => {
    switch (command.op) {
      case "peer.start": {
        const id = nextId++
        const options = command.options
        const wss = new WebSocketServer({
          noServer: true,
          autoPong: !options.ignorePings,
          ...(options.refuse === undefined ? {} : {
            verifyClient: (_info: unknown, done: (result: boolean, code?: number) => void) =>
              done(false, options.refuse)
          })
        })
        const queue = Effect.runSync(Queue.unbounded<NextConnection>())
        const hosted: HostedPeer = { wss, connections: queue, accepted: [], onAccept: new Set() }
        wss.on("connection", (socket, request) => {
          const connection = serverConnectionOf(socket, request, options)
          const conn = nextId++
          connections.set(conn, connection)
          const next: NextConnection = {
            conn,
            url: connection.request.url.href,
            headers: connection.request.headers,
            protocols: connection.request.protocols
          }
          hosted.accepted.push(next)
          Queue.unsafeOffer(queue, next)
          for (const wake of hosted.onAccept) wake()
        })
        peers.set(id, hosted)
        return { peer: id, url: `${origin.replace("http:", "ws:")}/peer/${id}/behaviour` }
      }
      case "peer.stop": {
        const peer = peers.get(command.peer)
        peers.delete(command.peer)
        if (peer === undefined) return { unscripted: [] } satisfies StoppedPeer
        for (const client of peer.wss.clients) client.terminate()
        peer.wss.close()
        for (const wake of peer.onAccept) wake()
        return { unscripted: command.from === undefined ? [] : peer.accepted.slice(command.from) } satisfies StoppedPeer
      }
      case "peer.next": {
        const peer = peers.get(command.peer)
        if (peer === undefined) throw new Error(`no peer ${command.peer}`)
        return await Effect.runPromise(Queue.take(peer.connections))
      }
      case "peer.accepted": {
        const peer = peers.get(command.peer)
        if (peer === undefined) throw new Error(`no peer ${command.peer}`)
        while (peer.accepted.length <= command.index) {
          await new Promise<void>((resolve) => {
            const wake = () => {
              peer.onAccept.delete(wake)
              resolve()
            }
            peer.onAccept.add(wake)
          })
          if (!peers.has(command.peer)) throw new Error(`peer ${command.peer} stopped`)
        }
        return peer.accepted[command.index]
      }
      default: {
        const connection = connections.get(command.conn)
        if (connection === undefined) throw new Error(`no connection ${command.conn}`)
        switch (command.op) {
          case "conn.send":
            await Effect.runPromise(connection.send(decodeFrame(command.frame)))
            return {}
          case "conn.receive": {
            const exit = await Effect.runPromiseExit(connection.receive)
            if (Exit.isSuccess(exit)) return { frame: encodeFrame(exit.value) }
            const error = Cause.failureOption(exit.cause)
            if (error._tag === "None") throw Cause.squash(exit.cause)
            const { code, initiator, message, url } = error.value
            return { frame: null, closed: { message, url, initiator, code } }
          }
          case "conn.received":
            return (await Effect.runPromise(connection.received)).map(encodeFrame)
          case "conn.drop":
            await Effect.runPromise(connection.drop)
            return {}
          case "conn.closed":
            await Effect.runPromise(connection.closed)
            return {}
        }
      }
    }
  }

  const respond = (response: ServerResponse, status: number, type: string, body: string) => {
    response.writeHead(status, { "content-type": type, "cache-control": "no-store" })
    response.end(body)
  }

  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", origin).pathname
    if (request.method === "GET" && path === "/") return respond(response, 200, "text/html", page)
    if (request.method === "GET" && path === "/suite.js") {
      return respond(response, 200, "text/javascript", bundle)
    }
    if (request.method === "POST" && (path === "/rpc" || path === "/results")) {
      readBody(request).then(async (body) => {
        if (path === "/results") {
          reported(JSON.parse(body) as RunReport)
          return respond(response, 200, "application/json", "{}")
        }
        const answer = await handle(JSON.parse(body) as Command)
        respond(response, 200, "application/json", JSON.stringify(answer))
      }).catch((error) => respond(response, 500, "text/plain", String(error?.stack ?? error)))
      return
    }
    respond(response, 404, "text/plain", "not found")
  })
  // a long-polling `receive` may wait as long as a case does
  server.requestTimeout = 0
  server.on("upgrade", (request, socket, head) => {
    const match = /^\/peer\/(\d+)\//.exec(request.url ?? "")
    const peer = match === null ? undefined : peers.get(Number(match[1]))
    if (peer === undefined) return socket.destroy()
    peer.wss.handleUpgrade(request, socket, head, (ws) => peer.wss.emit("connection", ws, request))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    origin,
    report,
    close: () =>
      new Promise<void>((resolve) => {
        for (const peer of peers.values()) {
          for (const client of peer.wss.clients) client.terminate()
          peer.wss.close()
        }
        peers.clear()
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
