/**
 * What a printed session shows: only safe facts (the redacted url, the phase, the agreed protocol and extensions),
 * as Effect's own services do (`Inspectable`: `toJSON`, `toString`, `NodeInspectSymbol`). The session's engine
 * objects, its state and its url (which may hold a password) live on non-enumerable fields, so that neither
 * `Object.keys`, a spread, `JSON.stringify` nor a structural printer reaches them.
 */
import { redactUrl } from "../core/redact.js"

/** The facts a session shows. */
export interface SessionFacts {
  readonly url: URL
  readonly phase: string
  readonly protocol: string
  readonly extensions: string
}

/** The session's `toJSON`. */
export const sessionJson = (facts: SessionFacts): Record<string, string> => ({
  _id: "effect-websockets/Session",
  url: redactUrl(facts.url),
  phase: facts.phase,
  protocol: facts.protocol,
  extensions: facts.extensions
})

/**
 * Defines a non-enumerable field at construction. A fresh definition with fixed attributes (rather than making an
 * assigned field non-enumerable afterwards) keeps V8's shared object shapes and costs well under a microsecond.
 */
export const hidden = (self: object, key: PropertyKey, value: unknown): void => {
  Object.defineProperty(self, key, { value, writable: true, enumerable: false, configurable: true })
}
