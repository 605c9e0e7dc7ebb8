/**
 * `NodeEngine.layerWith({ tls })` (README: Connecting over TLS): the TLS settings reach `wss://` connections (custom
 * CA, client certificate, `rejectUnauthorized`, `servername`), and a certificate the client does not accept fails with
 * reason "Connect" naming the cause. Against local TLS servers on 127.0.0.1, with certificates made by openssl here.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import type { TLSSocket } from "node:tls"
import { WebSocketServer } from "ws"
import { type Engine, NodeEngine, WebSocketException, WebSockets } from "../src/index.js"

interface Pair {
  readonly key: string
  readonly cert: string
}

let dir = ""
/** Self-signed certificates: for 127.0.0.1, for the name ws.test only, and a client's. */
let forIp: Pair
let forName: Pair
let client: Pair

const selfSigned = (name: string, subjectAltName: string | undefined): Pair => {
  const key = path.join(dir, `${name}.key`)
  const cert = path.join(dir, `${name}.crt`)
  execFileSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    key,
    "-out",
    cert,
    ...(subjectAltName === undefined ? [] : ["-addext", `subjectAltName=${subjectAltName}`])
  ], { stdio: "ignore" })
  return { key: fs.readFileSync(key, "utf8"), cert: fs.readFileSync(cert, "utf8") }
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-websockets-tls-"))
  forIp = selfSigned("ip-server", "IP:127.0.0.1")
  forName = selfSigned("ws.test", "DNS:ws.test")
  client = selfSigned("test-client", undefined)
})

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

interface Seen {
  readonly servername: string | false
  readonly clientCertificate: string | undefined
}

/** An HTTPS server with a ws echo on it, on 127.0.0.1; records the SNI name and client certificate of each client. */
const tlsServer = (options: https.ServerOptions) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: https.Server; readonly seen: Array<Seen> }>((resume) => {
      const server = https.createServer(options)
      const wss = new WebSocketServer({ server })
      const seen: Array<Seen> = []
      wss.on("connection", (socket, request) => {
        const tls = request.socket as TLSSocket
        const peer = tls.getPeerCertificate()
        seen.push({
          servername: (tls as TLSSocket & { servername: string | false }).servername,
          clientCertificate: peer.subject === undefined ? undefined : String(peer.subject.CN)
        })
        socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
      })
      server.on("tlsClientError", () => {})
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, seen })))
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ seen, server }) => ({ port: (server.address() as AddressInfo).port, seen })))

const plugin = (engine: Layer.Layer<Engine.Engine>) => WebSockets.layer().pipe(Layer.provide(engine))

/** Opens `url`, echoes one message, returns it. */
const echo = (url: string, engine: Layer.Layer<Engine.Engine>) =>
  WebSockets.webSocket(url, (session) => Effect.zipRight(session.send("over tls"), session.receive)).pipe(
    Effect.provide(plugin(engine))
  )

describe("NodeEngine.layerWith({ tls })", () => {
  it.scopedLive("without TLS settings a self-signed certificate is refused: Connect naming the cause", () =>
    Effect.gen(function*() {
      const { port, seen } = yield* tlsServer(forIp)
      const error = yield* Effect.flip(echo(`wss://127.0.0.1:${port}/`, NodeEngine.layer))
      expect(error).toBeInstanceOf(WebSocketException)
      expect(error.reason).toBe("Connect")
      expect(error.message).toContain("TLS certificate was not accepted")
      expect(error.message).toMatch(/self[- ]signed certificate/)
      expect(seen).toHaveLength(0)
    }))

  it.scopedLive("with the server's certificate as ca, wss:// connects and echoes", () =>
    Effect.gen(function*() {
      const { port } = yield* tlsServer(forIp)
      const frame = yield* echo(`wss://127.0.0.1:${port}/`, NodeEngine.layerWith({ tls: { ca: forIp.cert } }))
      expect(frame).toEqual({ _tag: "Text", fin: true, data: "over tls" })
    }))

  it.scopedLive("rejectUnauthorized: false accepts the unknown certificate", () =>
    Effect.gen(function*() {
      const { port } = yield* tlsServer(forIp)
      const engine = NodeEngine.layerWith({ tls: { rejectUnauthorized: false } })
      const frame = yield* echo(`wss://127.0.0.1:${port}/`, engine)
      expect(frame._tag).toBe("Text")
    }))

  it.scopedLive("a certificate for another name is refused; servername selects and checks the right one", () =>
    Effect.gen(function*() {
      const { port, seen } = yield* tlsServer(forName)
      const wrongName = yield* Effect.flip(
        echo(`wss://127.0.0.1:${port}/`, NodeEngine.layerWith({ tls: { ca: forName.cert } }))
      )
      expect(wrongName.reason).toBe("Connect")
      expect(wrongName.message).toContain("ERR_TLS_CERT_ALTNAME_INVALID")
      const frame = yield* echo(
        `wss://127.0.0.1:${port}/`,
        NodeEngine.layerWith({ tls: { ca: forName.cert, servername: "ws.test" } })
      )
      expect(frame._tag).toBe("Text")
      expect(seen.map((s) => s.servername)).toEqual(["ws.test"])
    }))

  it.scopedLive("a client certificate (cert, and key as Redacted) reaches a server that requires one", () =>
    Effect.gen(function*() {
      const { port, seen } = yield* tlsServer({
        ...forIp,
        requestCert: true,
        rejectUnauthorized: true,
        ca: client.cert
      })
      const refused = yield* Effect.flip(
        echo(`wss://127.0.0.1:${port}/`, NodeEngine.layerWith({ tls: { ca: forIp.cert } }))
      )
      expect(refused.reason).toBe("Connect")
      const frame = yield* echo(
        `wss://127.0.0.1:${port}/`,
        NodeEngine.layerWith({ tls: { ca: forIp.cert, cert: client.cert, key: Redacted.make(client.key) } })
      )
      expect(frame._tag).toBe("Text")
      expect(seen.map((s) => s.clientCertificate)).toEqual(["test-client"])
    }))

  it.scopedLive("ws:// ignores the TLS settings", () =>
    Effect.gen(function*() {
      const plain = yield* Effect.acquireRelease(
        Effect.async<WebSocketServer>((resume) => {
          const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
          wss.on("connection", (socket) => socket.on("message", (data) => socket.send(data.toString())))
          wss.once("listening", () => resume(Effect.succeed(wss)))
        }),
        (wss) => Effect.async<void>((resume) => wss.close(() => resume(Effect.void)))
      )
      const port = (plain.address() as AddressInfo).port
      const frame = yield* echo(`ws://127.0.0.1:${port}/`, NodeEngine.layerWith({ tls: { ca: forIp.cert } }))
      expect(frame._tag).toBe("Text")
    }))
})
