/**
 * The errors of opening a connection, made in one place so that every engine says the same thing, names what was
 * wrong, and never shows a password (see core/redact.ts). The transports of src/core/ describe a failure as plain
 * data (`ConnectFailure`); `fromFailure` is the one function that words it, and `connect` the one wrapper that turns
 * a callback transport into an Engine's `connect` Effect.
 */
import * as Effect from "effect/Effect"
import { redactUrl, scrub } from "../core/redact.js"
import type * as Transport from "../core/transport.js"
import { WebSocketException } from "../Errors.js"

/**
 * The server answered 101 but not as an upgrade: Node's HTTP client only hands over the socket when the answer also
 * says `Connection: Upgrade` (and ws wants `Upgrade: websocket`), so the status alone is not the problem.
 */
export const notUpgraded = (url: URL, headers: Readonly<Record<string, string | Array<string> | undefined>>) => {
  const missing = [
    /\bupgrade\b/i.test(String(headers["connection"] ?? "")) ? undefined : "\"Connection: Upgrade\"",
    String(headers["upgrade"] ?? "").toLowerCase() === "websocket" ? undefined : "\"Upgrade: websocket\""
  ].filter((header) => header !== undefined)
  return WebSocketException.handshakeRejected(
    url,
    "the server answered 101 Switching Protocols without " +
      `${missing.length === 0 ? "a valid upgrade" : missing.join(" and ")}, so the connection was not upgraded`,
    { status: 101 }
  )
}

const list = (protocols: ReadonlyArray<string>) => protocols.map((p) => JSON.stringify(p)).join(", ")

/**
 * The server's 101 answer broke a rule of the opening handshake (RFC 6455 §4.1): `problem` is the rule as ws words
 * it. The subprotocol cases are told in terms of what was offered and what was chosen. No `status`: the status was
 * the expected one, the rest of the answer was not.
 */
export const answerRejected = (
  url: URL,
  problem: string,
  offered: ReadonlyArray<string>,
  chosen: string | undefined
): WebSocketException => {
  const why = problem === "Server sent no subprotocol"
    ? `the server did not accept any of the offered protocols (${list(offered)})`
    : problem === "Server sent an invalid subprotocol"
    ? `the server chose the protocol ${JSON.stringify(chosen ?? "")}, which was not offered (offered: ${list(offered)})`
    : problem === "Server sent a subprotocol but none was requested"
    ? `the server chose the protocol ${JSON.stringify(chosen ?? "")} though none was offered`
    : problem
  return WebSocketException.handshakeRejected(url, why)
}

/** The answer was not HTTP at all (Node's parser failed with an `HPE_*` code). */
export const malformedAnswer = (url: URL, code: string, cause: unknown): WebSocketException =>
  WebSocketException.handshakeRejected(url, `malformed upgrade answer (${code})`, { cause })

/** Node's codes for a certificate the client did not accept. */
const CERTIFICATE = /CERT|SIGNATURE|UNABLE_TO_|ERR_TLS_/

/** Node's codes for a TLS handshake that failed for another reason (a plain server, no common protocol, …). */
const TLS = /^(EPROTO|ERR_SSL_|ECONNRESET_TLS)/

/** A transport failure before any answer: refused, unreachable, DNS, TLS. The message names the cause. */
export const connectFailed = (
  url: URL,
  error: { readonly code?: string | undefined; readonly message: string },
  cause: unknown = error
) => {
  const code = error.code ?? "unknown"
  const detail = scrub(error.message, url)
  const what = CERTIFICATE.test(code)
    ? `the server's TLS certificate was not accepted: ${detail}`
    : TLS.test(code)
    ? `the TLS handshake failed: ${detail}`
    : detail
  return WebSocketException.connectWith(
    url,
    what.includes(code) ? what : `${what} (${code})`,
    detail === error.message ? cause : undefined
  )
}

/** The engine refused to start the connection (a setting it could not use); the message names the setting. */
export const notStarted = (url: URL, error: unknown): WebSocketException => {
  const message = error instanceof Error ? error.message : String(error)
  const detail = scrub(message, url)
  // the original error may quote the URL with its password: keep it only when it does not
  return WebSocketException.invalidRequest(
    `Could not start a connection to ${redactUrl(url)}: ${detail}`,
    detail === message ? error : undefined
  )
}

/** The connection ended before the handshake did. */
export const closedDuringHandshake = (url: URL): WebSocketException =>
  WebSocketException.connectWith(url, "the connection closed during the handshake")

/** The error for a transport's plain failure description: the same text whichever engine reported it. */
export const fromFailure = (url: URL, failure: Transport.ConnectFailure): WebSocketException => {
  switch (failure._tag) {
    case "UnexpectedStatus":
      return WebSocketException.handshake(failure.status)
    case "NotUpgraded":
      return notUpgraded(url, failure.headers as Readonly<Record<string, string | Array<string> | undefined>>)
    case "AnswerRejected":
      return answerRejected(url, failure.problem, failure.offered, failure.chosen)
    case "MalformedAnswer":
      return malformedAnswer(url, failure.code, failure.cause)
    case "TransportFailed":
      return connectFailed(url, { code: failure.code, message: failure.message }, failure.cause)
    case "Unreachable":
      return WebSocketException.connectWith(url, failure.detail)
    case "Refused":
      return WebSocketException.connect(url, failure.cause)
    case "NotStarted":
      return notStarted(url, failure.cause)
    case "ClosedDuringHandshake":
      return closedDuringHandshake(url)
    case "Unsupported":
      return WebSocketException.capability(failure.setting, failure.why)
  }
}

/**
 * An Engine's `connect` over a callback transport: the attempt runs until `done`, and interrupting the Effect
 * aborts it. `done` is called once, after `listener.onOpen` for an open connection.
 */
export const connect = (
  transport: Transport.Connect,
  request: Transport.ConnectRequest,
  listener: Transport.Listener
): Effect.Effect<Transport.Connection, WebSocketException> =>
  Effect.async<Transport.Connection, WebSocketException>((resume) => {
    const abort = transport(request, listener, (outcome) =>
      resume(
        outcome._tag === "Opened"
          ? Effect.succeed(outcome.connection)
          : Effect.fail(fromFailure(request.url, outcome))
      ))
    return Effect.sync(abort)
  })
