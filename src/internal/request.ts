/**
 * The Effect side of a request: turns the accepted forms that carry Effect values (`HttpClientRequest` with its
 * `UrlParams`, headers whose values are `Redacted`) into the plain values whose rules live in core/request.ts. A
 * refused request comes back as an `InvalidRequest` value, which the plugin turns into a typed `Connect` failure.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Core from "../core/request.js"
import type { Request, RequestOptions } from "../Layer.js"

export type { ResolvedRequest, Scheme } from "../core/request.js"
export { InvalidRequest } from "../core/request.js"
export type { Request, RequestOptions } from "../Layer.js"

/** The header values with `Redacted` ones unwrapped: plain from here on, and never put in a message. */
const plainHeaders = (
  headers: RequestOptions["headers"]
): Readonly<Record<string, unknown>> | undefined => {
  if (headers === undefined) return undefined
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(headers)) {
    out[name] = Redacted.isRedacted(value)
      ? Redacted.value(value)
      : value
  }
  return out
}

/** Resolves a request to plain values, or the `InvalidRequest` that names what is wrong. */
export const resolveEither = (
  request: Request,
  forced?: Core.Scheme
): Core.ResolvedRequest | Core.InvalidRequest => {
  if (typeof request === "string" || request instanceof URL) return Core.resolveUrl(request, forced)
  if (HttpClientRequest.TypeId in request) {
    const http = request as HttpClientRequest.HttpClientRequest
    const made = UrlParams.makeUrl(http.url, http.urlParams, http.hash)
    if (Either.isLeft(made)) return new Core.InvalidRequest("Invalid WebSocket URL")
    return Core.resolveHttp(made.right, http.headers, forced)
  }
  const options = request as RequestOptions
  return Core.resolveOptions({ ...options, headers: plainHeaders(options.headers) }, forced)
}

/** Resolves a request; throws `InvalidRequest` for an unusable one. */
export const resolve = (request: Request, forced?: Core.Scheme): Core.ResolvedRequest => {
  const resolved = resolveEither(request, forced)
  if (resolved instanceof Core.InvalidRequest) throw resolved
  return resolved
}
