/** Turns every accepted request form into the URL, headers and protocols an engine connects with. */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"

/** The object form of a request (Ktor's `host`, `port`, `path` and request builder). */
export interface RequestOptions {
  readonly url?: string | URL | undefined
  readonly method?: "GET" | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly path?: string | undefined
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted>> | undefined
  readonly protocols?: ReadonlyArray<string> | undefined
}

/** Every accepted request form. */
export type Request = string | URL | HttpClientRequest.HttpClientRequest | RequestOptions

/** A request ready for an engine; header values are plain here and must never reach a message. */
export interface ResolvedRequest {
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly protocols: ReadonlyArray<string>
}

/** Builders that force a scheme (`ws` / `wss`) and its default port. */
export type Scheme = "ws" | "wss"

const schemeOf: Record<string, Scheme | undefined> = {
  "ws:": "ws",
  "wss:": "wss",
  "http:": "ws",
  "https:": "wss"
}

/** Raised (as a defect) for a request that cannot be read as a WebSocket URL. */
export class InvalidRequest extends Error {}

const parseUrl = (input: string | URL, forced: Scheme | undefined): URL => {
  let text = typeof input === "string" ? input : input.href
  if (typeof input === "string" && !/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(text)) {
    text = `${forced ?? "ws"}://${text.startsWith("/") ? `localhost${text}` : text}`
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new InvalidRequest(`Invalid WebSocket URL`)
  }
  const scheme = schemeOf[url.protocol]
  if (scheme === undefined) {
    throw new InvalidRequest(`Unsupported URL scheme ${url.protocol} (expected ws:, wss:, http: or https:)`)
  }
  return withScheme(url, forced ?? scheme)
}

const withScheme = (url: URL, scheme: Scheme): URL => {
  if (url.protocol === `${scheme}:`) return url
  // URL refuses to switch between special and non-special schemes in place, so rebuild it
  const rebuilt = new URL(`${scheme}://${url.host}${url.pathname}${url.search}${url.hash}`)
  rebuilt.username = url.username
  rebuilt.password = url.password
  return rebuilt
}

const plainHeaders = (
  headers: Readonly<Record<string, string | Redacted.Redacted>> | undefined
): Record<string, string> => {
  const out: Record<string, string> = {}
  if (headers === undefined) return out
  for (const [name, value] of Object.entries(headers)) {
    out[name] = Redacted.isRedacted(value) ? Redacted.value(value) : value
  }
  return out
}

/** Resolves a request; throws `InvalidRequest` for an unusable URL. */
export const resolve = (request: Request, forced?: Scheme): ResolvedRequest => {
  if (typeof request === "string" || request instanceof URL) {
    return { url: parseUrl(request, forced), headers: {}, protocols: [] }
  }
  if (HttpClientRequest.TypeId in request) {
    const http = request as HttpClientRequest.HttpClientRequest
    const made = UrlParams.makeUrl(http.url, http.urlParams, http.hash)
    if (Either.isLeft(made)) throw new InvalidRequest("Invalid WebSocket URL")
    const protocols = http.headers["sec-websocket-protocol"]
    const headers: Record<string, string> = { ...http.headers }
    delete headers["sec-websocket-protocol"]
    return {
      url: parseUrl(made.right, forced),
      headers,
      protocols: protocols === undefined ? [] : protocols.split(",").map((p) => p.trim()).filter((p) => p !== "")
    }
  }
  const options = request as RequestOptions
  const url = parseUrl(options.url ?? `${forced ?? "ws"}://localhost/`, forced)
  if (options.host !== undefined) url.hostname = options.host
  if (options.port !== undefined) url.port = String(options.port)
  if (options.path !== undefined) {
    const [pathname, search] = options.path.split("?", 2) as [string, string | undefined]
    url.pathname = pathname
    if (search !== undefined) url.search = search
  }
  return { url, headers: plainHeaders(options.headers), protocols: options.protocols ?? [] }
}
