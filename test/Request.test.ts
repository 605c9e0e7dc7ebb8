/**
 * docs/API.md §2, the request forms: string, URL, http(s):// mapped to ws(s)://, HttpClientRequest (url params,
 * headers), `{ host, port, path, headers, protocols }`, and the default ports of the `ws` / `wss` builders.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { WebSocketException, WebSockets } from "../src/index.js"
import { resolve } from "../src/internal/request.js"
import { live } from "./helpers/layers.js"
import { server, type TestServer } from "./helpers/wsServer.js"

/** Opens a session with `request`, exchanges one echo, and returns what the session and the server saw. */
const roundTrip = (srv: TestServer, request: WebSockets.Request) =>
  WebSockets.webSocket(request, (session) =>
    Effect.gen(function*() {
      yield* session.send("ping?")
      const echoed = yield* session.receive
      return { call: session.call, echoed }
    })).pipe(
      Effect.provide(live()),
      Effect.map(({ call, echoed }) => ({ call, echoed, request: srv.connections.at(-1)!.request }))
    )

const protocolsServer = () =>
  server({ options: { handleProtocols: (offered) => offered.has("chat") ? "chat" : false } })

describe("§2 request forms", () => {
  it.scopedLive("a string URL: path and query reach the server", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const { call, echoed, request } = yield* roundTrip(srv, srv.url("/a/b?x=1&y=two"))
      expect(request.url).toBe("/a/b?x=1&y=two")
      expect(call.url.href).toBe(srv.url("/a/b?x=1&y=two"))
      expect(call.status).toBe(101)
      expect(echoed).toEqual({ _tag: "Text", fin: true, data: "ping?" })
    }))

  it.scopedLive("a URL object", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const { call, request } = yield* roundTrip(srv, new URL(srv.url("/from-url?q=%20")))
      expect(request.url).toBe("/from-url?q=%20")
      expect(call.url.pathname).toBe("/from-url")
    }))

  it.scopedLive("http:// is mapped to ws://", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const { call, request } = yield* roundTrip(srv, `http://127.0.0.1:${srv.port}/via-http?z=1`)
      expect(call.url.protocol).toBe("ws:")
      expect(call.url.href).toBe(srv.url("/via-http?z=1"))
      expect(request.url).toBe("/via-http?z=1")
    }))

  it.effect("https:// is mapped to wss://, with the default ports kept implicit", () =>
    Effect.sync(() => {
      expect(resolve("https://example.com/x?y=1").url.href).toBe("wss://example.com/x?y=1")
      expect(resolve("http://example.com/x").url.href).toBe("ws://example.com/x")
      expect(resolve("https://example.com:8443/x").url.href).toBe("wss://example.com:8443/x")
    }))

  it.scopedLive("an HttpClientRequest from @effect/platform: url, url params and headers", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const httpRequest = HttpClientRequest.get(srv.url("/platform")).pipe(
        HttpClientRequest.setUrlParam("name", "a b"),
        HttpClientRequest.appendUrlParam("n", "1"),
        HttpClientRequest.appendUrlParam("n", "2"),
        HttpClientRequest.setHeader("x-custom", "custom-value")
      )
      const { call, request } = yield* roundTrip(srv, httpRequest)
      const seen = new URL(request.url!, "http://localhost")
      expect(seen.pathname).toBe("/platform")
      expect(seen.searchParams.get("name")).toBe("a b")
      expect(seen.searchParams.getAll("n")).toEqual(["1", "2"])
      expect(request.headers["x-custom"]).toBe("custom-value")
      expect(call.url.searchParams.get("name")).toBe("a b")
    }))

  it.scopedLive("an HttpClientRequest with Sec-WebSocket-Protocol offers those protocols", () =>
    Effect.gen(function*() {
      const srv = yield* protocolsServer()
      const httpRequest = HttpClientRequest.get(srv.url("/p")).pipe(
        HttpClientRequest.setHeader("sec-websocket-protocol", "other, chat")
      )
      const { call, request } = yield* roundTrip(srv, httpRequest)
      expect(request.headers["sec-websocket-protocol"]?.split(",").map((p) => p.trim())).toEqual(["other", "chat"])
      expect(call.protocol).toBe("chat")
    }))

  it.scopedLive("an object { host, port, path, headers, protocols }", () =>
    Effect.gen(function*() {
      const srv = yield* protocolsServer()
      const { call, request } = yield* roundTrip(srv, {
        host: "127.0.0.1",
        port: srv.port,
        path: "/obj/path?k=v",
        headers: { "x-plain": "plain", "x-hidden": Redacted.make("hidden") },
        protocols: ["chat"]
      })
      expect(request.url).toBe("/obj/path?k=v")
      expect(request.headers["x-plain"]).toBe("plain")
      expect(request.headers["x-hidden"]).toBe("hidden")
      expect(request.headers["sec-websocket-protocol"]).toBe("chat")
      expect(call.protocol).toBe("chat")
      expect(call.url.href).toBe(srv.url("/obj/path?k=v"))
    }))

  it.scopedLive("an object with url, where path, port and host override its parts", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const { call, request } = yield* roundTrip(srv, {
        url: "ws://localhost:1/ignored",
        method: "GET",
        host: "127.0.0.1",
        port: srv.port,
        path: "/overridden"
      })
      expect(request.url).toBe("/overridden")
      expect(call.url.href).toBe(srv.url("/overridden"))
    }))

  it.scopedLive("the chosen protocol is empty when none was offered", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const { call } = yield* roundTrip(srv, { url: srv.url("/none") })
      expect(call.protocol).toBe("")
      expect(call.headers["upgrade"]?.toLowerCase()).toBe("websocket")
    }))
})

describe("§2 ws / wss builders", () => {
  it.effect("ws: scheme ws, default port 80", () =>
    Effect.sync(() => {
      const url = resolve({ host: "example.com", path: "/chat" }, "ws").url
      expect(url.href).toBe("ws://example.com/chat")
      expect(url.protocol).toBe("ws:")
      expect(url.port).toBe("") // the scheme's default port, 80
      expect(resolve("example.com/x", "ws").url.href).toBe("ws://example.com/x")
      expect(resolve("http://example.com/x", "ws").url.href).toBe("ws://example.com/x")
    }))

  it.effect("wss: scheme wss, default port 443", () =>
    Effect.sync(() => {
      const url = resolve({ host: "example.com", path: "/chat" }, "wss").url
      expect(url.href).toBe("wss://example.com/chat")
      expect(url.port).toBe("") // the scheme's default port, 443
      expect(resolve("example.com/x", "wss").url.href).toBe("wss://example.com/x")
      expect(resolve({ host: "example.com", port: 8443, path: "/" }, "wss").url.href).toBe("wss://example.com:8443/")
    }))

  it.scopedLive("ws connects over plain TCP, even when given an http:// URL", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const url = yield* WebSockets.ws({ host: "127.0.0.1", port: srv.port, path: "/ws-builder" }, (session) =>
        Effect.gen(function*() {
          yield* session.send("x")
          yield* session.receive
          return session.call.url
        })).pipe(Effect.provide(live()))
      expect(url.href).toBe(srv.url("/ws-builder"))
      const viaHttp = yield* WebSockets.ws(`http://127.0.0.1:${srv.port}/h`, (session) =>
        Effect.succeed(session.call.url)).pipe(Effect.provide(live()))
      expect(viaHttp.protocol).toBe("ws:")
    }))

  it.scopedLive("wss speaks TLS: against a plain server it fails with Connect", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const error = yield* WebSockets.wss({ host: "127.0.0.1", port: srv.port, path: "/" }, () => Effect.void).pipe(
        Effect.provide(live()),
        Effect.flip
      )
      expect(error.reason).toBe("Connect")
      expect(srv.connections.length).toBe(0)
    }))

  it.effect("an unusable URL is refused with Connect, not a defect", () =>
    Effect.gen(function*() {
      const error = yield* WebSockets.webSocket("ftp://example.com/x", () => Effect.void).pipe(
        Effect.provide(live()),
        Effect.flip
      )
      expect(error.reason).toBe("Connect")
    }))
})

describe("the object form is checked before anything connects (README: Connecting)", () => {
  /** Opens `request` against `srv` and returns the failure; the server must have seen no connection. */
  const refused = (srv: TestServer, request: WebSockets.Request) =>
    Effect.gen(function*() {
      const error = yield* WebSockets.webSocket(request, () => Effect.void).pipe(Effect.provide(live()), Effect.flip)
      expect(error).toBeInstanceOf(WebSocketException)
      expect(error.reason).toBe("Connect")
      expect(error.message).not.toContain("Invalid URL")
      expect(error.message).not.toContain("Invalid WebSocket URL")
      expect(srv.connections.length).toBe(0)
      return error
    })

  it.scopedLive("a port outside 1–65535 or not an integer: Connect naming port, nothing connected", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      for (const port of [99999, -1, 0, 65536, 37135.9, Number.NaN, "80" as unknown as number]) {
        const error = yield* refused(srv, { url: srv.url("/"), port })
        expect(error.message).toContain("port")
      }
    }))

  it.scopedLive("a host that is not a host name or IP address: Connect naming host, nothing connected", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const hosts = ["not a host!", "a!b", "", "evil.com/path", "user@127.0.0.1", "127.0.0.1:80", "-x.com", "a..b"]
      for (const host of hosts) {
        const error = yield* refused(srv, { url: srv.url("/"), host })
        expect(error.message).toContain("host")
      }
    }))

  it.effect("host names, IPv4 and IPv6 addresses (bare or in brackets) and IDN names are accepted", () =>
    Effect.sync(() => {
      expect(resolve({ host: "example.com", port: 8080 }).url.host).toBe("example.com:8080")
      expect(resolve({ host: "127.0.0.1" }).url.hostname).toBe("127.0.0.1")
      expect(resolve({ host: "::1", port: 9000 }).url.host).toBe("[::1]:9000")
      expect(resolve({ host: "[::1]" }).url.hostname).toBe("[::1]")
      expect(resolve({ host: "bücher.example" }).url.hostname).toBe("xn--bcher-kva.example")
      expect(resolve({ host: "my_host.local." }).url.hostname).toBe("my_host.local.")
    }))

  it.scopedLive("a header value with CR or LF (plain or Redacted): Connect naming the header, never its value", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const values = ["a\r\nx-injected: 1", "a\nb", "a\rb", "nul\u0000", Redacted.make("s3cret\r\nx: 1")]
      for (const value of values) {
        const error = yield* refused(srv, { url: srv.url("/"), headers: { "x-token": value } })
        expect(error.message).toContain("x-token")
        expect(error.message).not.toContain("s3cret")
        expect(error.message).not.toContain("injected")
      }
      const badName = yield* refused(srv, { url: srv.url("/"), headers: { "x bad\r\n": "v" } })
      expect(badName.message).toContain("header name")
      const viaPlatform = yield* refused(
        srv,
        HttpClientRequest.get(srv.url("/")).pipe(HttpClientRequest.setHeader("x-platform", "a\r\nb"))
      )
      expect(viaPlatform.message).toContain("x-platform")
    }))

  it.scopedLive("subprotocols must be tokens: Connect naming protocols, nothing connected", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const error = yield* refused(srv, { url: srv.url("/"), protocols: ["chat", "bad protocol"] })
      expect(error.message).toContain("protocols[1]")
    }))

  it.scopedLive("path keeps its whole query string, further ? included", () =>
    Effect.gen(function*() {
      const srv = yield* server()
      const { call, request } = yield* roundTrip(srv, {
        host: "127.0.0.1",
        port: srv.port,
        path: "/p?token=a?b&c=1"
      })
      expect(request.url).toBe("/p?token=a?b&c=1")
      expect(call.url.searchParams.get("token")).toBe("a?b")
      expect(call.url.searchParams.get("c")).toBe("1")
    }))
})
