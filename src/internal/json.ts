/**
 * JSON from a peer, read safely: `JSON.parse` itself is iterative and safe against deep nesting, but it makes
 * `__proto__` an own key, which a schema that copies keys by assignment (`Schema.Record`) then turns into the
 * prototype of the value it builds. And JSON cannot carry NaN or ±Infinity: `JSON.stringify` quietly writes `null`,
 * which the same schema then rejects on the other side.
 *
 * Both checks cost a native substring search per message on the common path; the slow path only runs when the text
 * could hold the problem.
 */

/** Drops `__proto__` keys (a reviver returning `undefined` deletes the key from its holder). */
const dropProtoKeys = (key: string, value: unknown): unknown => key === "__proto__" ? undefined : value

/** A `\u` escape of one of the letters of `__proto__` (`_`, `p`, `r`, `o`, `t`): how the key could be disguised. */
const ESCAPED_PROTO_LETTER = /\\u00(?:5[fF]|6[fF]|7[024])/

/**
 * `JSON.parse` that never yields an object with a `__proto__` own key. The key may be written with escapes
 * (`"\u005f_proto__"`), so text holding an escape of one of its letters takes the slow path too. Escapes of other
 * characters (Python's `json.dumps` escapes every non-ASCII one) keep the fast path.
 */
export const parse = (text: string): unknown =>
  text.includes("__proto__") || ESCAPED_PROTO_LETTER.test(text) ? JSON.parse(text, dropProtoKeys) : JSON.parse(text)

class NonFinite {
  constructor(readonly key: string, readonly value: number) {}
}

const refuseNonFinite = (key: string, value: unknown): unknown => {
  if (typeof value === "number" && !Number.isFinite(value)) throw new NonFinite(key, value)
  return value
}

/**
 * Whether `value` holds NaN or ±Infinity where `JSON.stringify` would write it. An iterative walk (no recursion, so no
 * depth limit of its own) that follows `toJSON` as `JSON.stringify` does; `value` has just been stringified, so it
 * has no cycles. About ten times cheaper than stringifying again with a replacer.
 */
const holdsNonFinite = (value: unknown): boolean => {
  const stack: Array<unknown> = [value]
  while (stack.length > 0) {
    const item = stack.pop()
    if (typeof item === "number") {
      if (!Number.isFinite(item)) return true
      continue
    }
    if (typeof item !== "object" || item === null) continue
    const toJSON = (item as { readonly toJSON?: unknown }).toJSON
    if (typeof toJSON === "function") {
      stack.push(toJSON.call(item))
    } else if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) stack.push(item[i])
    } else {
      for (const key of Object.keys(item)) stack.push((item as Record<string, unknown>)[key])
    }
  }
  return false
}

/**
 * Why `encoded` (already turned into `text` by `JSON.stringify`) cannot be sent as JSON, or `undefined`. NaN and
 * ±Infinity come out as `null`, so only a text holding `null` is checked; only a value that fails the check is
 * stringified again, with a replacer, to name the key.
 */
export const nonFinite = (encoded: unknown, text: string): string | undefined => {
  if (!text.includes("null") || !holdsNonFinite(encoded)) return undefined
  try {
    JSON.stringify(encoded, refuseNonFinite)
  } catch (error) {
    if (!(error instanceof NonFinite)) throw error
    const where = error.key === "" ? "" : ` (at key ${JSON.stringify(error.key)})`
    return `${error.value} cannot be represented in JSON${where}`
  }
  return "The value holds a number JSON cannot represent (NaN or Infinity)"
}

/**
 * Whether `error` is the engine's stack overflow: a recursive schema decoding (or encoding) a deeply nested value
 * recurses once per level. V8 and JavaScriptCore throw a RangeError "Maximum call stack size exceeded",
 * SpiderMonkey an InternalError "too much recursion".
 */
export const isStackOverflow = (error: unknown): boolean =>
  error instanceof Error && (error instanceof RangeError || error.name === "InternalError") &&
  /call stack|recursion/i.test(error.message)
