/**
 * The rules of a request, on plain values: which URLs are WebSocket URLs (scheme, host, port, path, query, user
 * info), which header names and values and which subprotocols may be sent, and the method. Every accepted form (a
 * string or `URL`, the object form, an `HttpClientRequest`) ends here once the Effect side (internal/request.ts) has
 * turned its Effect values (`Redacted` headers, `UrlParams`) into plain ones. A refused request is an
 * `InvalidRequest` value whose message names the field and never shows a header's value (it may be a secret).
 */

/** A request ready for an engine; header values are plain here and must never reach a message. */
export interface ResolvedRequest {
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly protocols: ReadonlyArray<string>
}

/** Builders that force a scheme (`ws` / `wss`) and its default port. */
export type Scheme = "ws" | "wss"

/**
 * The object form of a request with plain values: header values as given once unwrapped from `Redacted` (not
 * checked yet: a value that is not a string is refused here), the other fields as the user wrote them.
 */
export interface PlainOptions {
  readonly url?: string | URL | undefined
  readonly method?: unknown
  readonly host?: unknown
  readonly port?: unknown
  readonly path?: unknown
  readonly headers?: Readonly<Record<string, unknown>> | undefined
  readonly protocols?: ReadonlyArray<unknown> | undefined
}

/** A request that cannot be read as a WebSocket request: a value (returned, not thrown, by `resolve*`). */
export class InvalidRequest extends Error {
  override readonly name = "InvalidRequest"
}

const schemeOf: Record<string, Scheme | undefined> = {
  "ws:": "ws",
  "wss:": "wss",
  "http:": "ws",
  "https:": "wss"
}

/** Inside this module the checks throw, and each `resolve*` turns the throw into the returned value. */
const attempt = (make: () => ResolvedRequest): ResolvedRequest | InvalidRequest => {
  try {
    return make()
  } catch (error) {
    if (error instanceof InvalidRequest) return error
    throw error
  }
}

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

/** RFC 9110 token characters: header names and subprotocols. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/**
 * A header value may hold tabs, visible ASCII and Latin-1 (what Node's HTTP client sends): no CR, LF, NUL, other
 * control characters, or characters beyond U+00FF.
 */
const INVALID_VALUE = /[^\t\u0020-\u007e\u0080-\u00ff]/
/** One DNS label (letters, digits, hyphens; underscores are tolerated as resolvers do), after IDNA mapping. */
const LABEL = "[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
/** Dot-separated labels, 253 characters at most, with an optional final dot. */
const HOST_NAME = new RegExp(`^(?=.{1,253}\\.?$)${LABEL}(?:\\.${LABEL})*\\.?$`)

/** Checks one header; the message names the field and never shows its value (it may be a secret). */
const checkHeader = (name: string, value: unknown): string => {
  if (!TOKEN.test(name)) throw new InvalidRequest(`Invalid request: header name ${JSON.stringify(name)} is not a token`)
  if (typeof value !== "string") {
    throw new InvalidRequest(`Invalid request: the value of header "${name}" is not a string`)
  }
  if (INVALID_VALUE.test(value)) {
    throw new InvalidRequest(
      `Invalid request: the value of header "${name}" holds a character a header may not carry (CR, LF, another ` +
        "control character, or one beyond U+00FF)"
    )
  }
  return value
}

const checkHeaders = (headers: Readonly<Record<string, unknown>> | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  if (headers === undefined) return out
  for (const [name, value] of Object.entries(headers)) out[name] = checkHeader(name, value)
  return out
}

const checkProtocols = (protocols: ReadonlyArray<unknown>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  protocols.forEach((protocol, i) => {
    if (typeof protocol !== "string" || !TOKEN.test(protocol)) {
      throw new InvalidRequest(`Invalid request: protocols[${i}] is not a valid subprotocol name`)
    }
    if (seen.has(protocol)) throw new InvalidRequest(`Invalid request: protocols[${i}] repeats "${protocol}"`)
    seen.add(protocol)
  })
  return protocols as ReadonlyArray<string>
}

const checkPort = (port: unknown): number => {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidRequest(`Invalid request: port must be an integer from 1 to 65535 (got ${String(port)})`)
  }
  return port
}

/** The host as the URL will hold it (IDNA-mapped, IPv6 in brackets), or a failure naming the field. */
const checkHost = (host: unknown): string => {
  const refuse = () =>
    new InvalidRequest(`Invalid request: host must be a host name or an IP address (got ${JSON.stringify(host)})`)
  if (typeof host !== "string" || host === "") throw refuse()
  // an IPv6 address, bare or in brackets
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  if (bare.includes(":")) {
    try {
      return new URL(`ws://[${bare}]/`).hostname
    } catch {
      throw refuse()
    }
  }
  // anything that would be read as a port, a path, user info or a query is not part of a host
  if (/[\s/?#@:\\[\]%]/.test(host)) throw refuse()
  let mapped: string
  try {
    mapped = new URL(`ws://${host}/`).hostname
  } catch {
    throw refuse()
  }
  // IPv4 addresses pass too: URL has normalised them to dotted decimal
  if (!HOST_NAME.test(mapped)) throw refuse()
  return mapped
}

/** Splits a `path` option at its first `?`: everything after it (further `?` included) is the query. */
const applyPath = (url: URL, path: unknown): void => {
  if (typeof path !== "string") throw new InvalidRequest("Invalid request: path must be a string")
  // WebSocket URLs have no fragment (RFC 6455 §3)
  if (path.includes("#")) throw new InvalidRequest("Invalid request: path must not hold a fragment (#)")
  const query = path.indexOf("?")
  url.pathname = query === -1 ? path : path.slice(0, query)
  // a path without a query keeps the url's own
  if (query !== -1) url.search = path.slice(query + 1)
}

/**
 * A string or `URL`: `ws:`, `wss:`, `http:` (as `ws:`) or `https:` (as `wss:`); a string without a scheme gets
 * `forced` (default `ws`), and one that starts with `/` the host `localhost`.
 */
export const resolveUrl = (input: string | URL, forced?: Scheme): ResolvedRequest | InvalidRequest =>
  attempt(() => ({ url: parseUrl(input, forced), headers: {}, protocols: [] }))

/**
 * The object form. Each part is checked before the URL is touched: URL setters silently ignore what they cannot
 * parse.
 */
export const resolveOptions = (options: PlainOptions, forced?: Scheme): ResolvedRequest | InvalidRequest =>
  attempt(() => {
    if (options.method !== undefined && options.method !== "GET") {
      throw new InvalidRequest(`Invalid request: method must be "GET" (got ${JSON.stringify(options.method)})`)
    }
    const host = options.host === undefined ? undefined : checkHost(options.host)
    const port = options.port === undefined ? undefined : checkPort(options.port)
    const headers = checkHeaders(options.headers)
    const protocols = checkProtocols(options.protocols ?? [])
    const url = parseUrl(options.url ?? `${forced ?? "ws"}://localhost/`, forced)
    if (host !== undefined) url.hostname = host
    if (port !== undefined) url.port = String(port)
    if (options.path !== undefined) applyPath(url, options.path)
    return { url, headers, protocols }
  })

/**
 * An HTTP request's parts: its URL (query and hash already applied), its headers (names in lower case), where
 * `sec-websocket-protocol` holds the offered subprotocols as one comma-separated list.
 */
export const resolveHttp = (
  url: string | URL,
  headers: Readonly<Record<string, string>>,
  forced?: Scheme
): ResolvedRequest | InvalidRequest =>
  attempt(() => {
    const { "sec-websocket-protocol": offered, ...rest } = headers
    const checked = checkHeaders(rest)
    const protocols = offered === undefined ? [] : offered.split(",").map((p) => p.trim()).filter((p) => p !== "")
    return { url: parseUrl(url, forced), headers: checked, protocols: checkProtocols(protocols) }
  })
