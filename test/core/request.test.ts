/**
 * The request rules of src/core/request.ts on plain values, without Effect: which URLs, hosts, ports, paths,
 * headers, subprotocols and methods a WebSocket request may have (README "Requests"). A refused request is an
 * `InvalidRequest` value, returned rather than thrown, whose message names the field and never shows a header value.
 */
import { describe, expect, it } from "vitest"
import {
  InvalidRequest,
  type ResolvedRequest,
  resolveHttp,
  resolveOptions,
  resolveUrl
} from "../../src/core/request.js"

const ok = (result: ResolvedRequest | InvalidRequest): ResolvedRequest => {
  if (result instanceof InvalidRequest) throw new Error(`expected a resolved request, got: ${result.message}`)
  return result
}

const refused = (result: ResolvedRequest | InvalidRequest): string => {
  expect(result).toBeInstanceOf(InvalidRequest)
  return (result as InvalidRequest).message
}

describe("core/request: URLs", () => {
  it("ws:, wss:, http: (as ws:) and https: (as wss:) are WebSocket URLs", () => {
    expect(ok(resolveUrl("ws://a.test/x")).url.href).toBe("ws://a.test/x")
    expect(ok(resolveUrl("wss://a.test/x")).url.href).toBe("wss://a.test/x")
    expect(ok(resolveUrl("http://a.test:8080/x")).url.href).toBe("ws://a.test:8080/x")
    expect(ok(resolveUrl("https://a.test/x?q=1")).url.href).toBe("wss://a.test/x?q=1")
  })

  it("a string without a scheme gets the forced one (default ws); one that starts with / gets localhost", () => {
    expect(ok(resolveUrl("a.test/chat")).url.href).toBe("ws://a.test/chat")
    expect(ok(resolveUrl("a.test/chat", "wss")).url.href).toBe("wss://a.test/chat")
    expect(ok(resolveUrl("/chat")).url.href).toBe("ws://localhost/chat")
  })

  it("the forced scheme wins over the URL's own, keeping its user info", () => {
    const url = ok(resolveUrl("ws://u:p@a.test/x", "wss")).url
    expect(url.protocol).toBe("wss:")
    expect(url.username).toBe("u")
    expect(url.password).toBe("p")
  })

  it("another scheme or an unparsable URL is refused, as a value and not a throw", () => {
    expect(refused(resolveUrl("ftp://a.test/"))).toBe(
      "Unsupported URL scheme ftp: (expected ws:, wss:, http: or https:)"
    )
    expect(refused(resolveUrl("ws://[::1/"))).toBe("Invalid WebSocket URL")
  })
})

describe("core/request: the object form", () => {
  it("host, port and path replace the URL's; a path without a query keeps the URL's query", () => {
    const resolved = ok(resolveOptions({ url: "ws://a.test/old?keep=1", host: "b.test", port: 9000, path: "/new" }))
    expect(resolved.url.href).toBe("ws://b.test:9000/new?keep=1")
    expect(ok(resolveOptions({ host: "b.test", path: "/p?x=1?y" })).url.href).toBe("ws://b.test/p?x=1?y")
  })

  it("IPv4, IPv6 (bare or bracketed) and IDN hosts are accepted as the URL holds them", () => {
    expect(ok(resolveOptions({ host: "127.0.0.1" })).url.hostname).toBe("127.0.0.1")
    expect(ok(resolveOptions({ host: "::1" })).url.hostname).toBe("[::1]")
    expect(ok(resolveOptions({ host: "[::1]" })).url.hostname).toBe("[::1]")
    expect(ok(resolveOptions({ host: "bücher.test" })).url.hostname).toBe("xn--bcher-kva.test")
  })

  it("a host holding a port, a path, user info or a query is refused naming the host field", () => {
    for (const host of ["a.test:80", "a.test/x", "u@a.test", "a.test?q", "", "a b"]) {
      expect(refused(resolveOptions({ host }))).toMatch(/^Invalid request: host must be a host name or an IP address/)
    }
  })

  it("a port outside 1..65535 or not an integer is refused", () => {
    for (const port of [0, 65536, 1.5, "80"]) {
      expect(refused(resolveOptions({ port }))).toMatch(/^Invalid request: port must be an integer from 1 to 65535/)
    }
  })

  it("a path with a fragment, or not a string, is refused", () => {
    expect(refused(resolveOptions({ path: "/a#b" }))).toBe("Invalid request: path must not hold a fragment (#)")
    expect(refused(resolveOptions({ path: 42 }))).toBe("Invalid request: path must be a string")
  })

  it("only GET is a method", () => {
    expect(ok(resolveOptions({ method: "GET" })).url.href).toBe("ws://localhost/")
    expect(refused(resolveOptions({ method: "POST" }))).toBe("Invalid request: method must be \"GET\" (got \"POST\")")
  })

  it("subprotocols must be distinct tokens", () => {
    expect(ok(resolveOptions({ protocols: ["chat", "v2.json"] })).protocols).toEqual(["chat", "v2.json"])
    expect(refused(resolveOptions({ protocols: ["a b"] }))).toBe(
      "Invalid request: protocols[0] is not a valid subprotocol name"
    )
    expect(refused(resolveOptions({ protocols: ["chat", "chat"] }))).toBe(
      "Invalid request: protocols[1] repeats \"chat\""
    )
    expect(refused(resolveOptions({ protocols: [7] }))).toMatch(/protocols\[0\]/)
  })
})

describe("core/request: headers", () => {
  it("a header name must be a token; its value may hold tabs, visible ASCII and Latin-1", () => {
    expect(ok(resolveOptions({ headers: { "X-Id": "a\tb é" } })).headers).toEqual({ "X-Id": "a\tb é" })
    expect(refused(resolveOptions({ headers: { "bad name": "x" } }))).toBe(
      "Invalid request: header name \"bad name\" is not a token"
    )
  })

  it("a value with CR, LF, NUL or a character beyond U+00FF is refused without showing the value", () => {
    for (const value of ["secret\r\nX-Injected: 1", "secret\n", "secret\0", "secret€"]) {
      const message = refused(resolveOptions({ headers: { Authorization: value } }))
      expect(message).toMatch(/^Invalid request: the value of header "Authorization" holds a character/)
      expect(message).not.toContain("secret")
    }
  })

  it("a value that is not a string is refused naming the header", () => {
    expect(refused(resolveOptions({ headers: { "X-N": 5 } }))).toBe(
      "Invalid request: the value of header \"X-N\" is not a string"
    )
  })
})

describe("core/request: an HTTP request's parts", () => {
  it("sec-websocket-protocol becomes the offered subprotocols, the other headers stay headers", () => {
    const resolved = ok(resolveHttp("https://a.test/x", { "sec-websocket-protocol": "a, b", "x-id": "1" }))
    expect(resolved.url.href).toBe("wss://a.test/x")
    expect(resolved.protocols).toEqual(["a", "b"])
    expect(resolved.headers).toEqual({ "x-id": "1" })
  })

  it("a header value with CR/LF and a repeated subprotocol are refused as in the object form", () => {
    expect(refused(resolveHttp("ws://a.test/", { "x-id": "1\r\n" }))).toMatch(/the value of header "x-id"/)
    expect(refused(resolveHttp("ws://a.test/", { "sec-websocket-protocol": "a, a" }))).toBe(
      "Invalid request: protocols[1] repeats \"a\""
    )
  })
})
