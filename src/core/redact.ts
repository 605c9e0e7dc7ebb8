/**
 * How a URL may appear where users can see it: error messages, logs, `session.call`, `util.inspect`. The password
 * of its user info never does. Made in one place so that every engine and every printed form says the same.
 */

/** Shown instead of a password; the same word Effect's `Redacted` prints. */
export const REDACTED = "<redacted>"

/**
 * The URL as text for messages and logs, with any password replaced by `<redacted>`. Built by hand: URL's own
 * `password` setter would percent-encode the marker into an unreadable `%3Credacted%3E`.
 */
export const redactUrl = (url: URL): string => {
  if (url.password === "") return url.href
  return `${url.protocol}//${url.username}:${REDACTED}@${url.host}${url.pathname}${url.search}${url.hash}`
}

/** A copy of `url` without its password (the username stays), for `session.call.url`. */
export const withoutPassword = (url: URL): URL => {
  if (url.password === "") return url
  const copy = new URL(url.href)
  copy.password = ""
  return copy
}

/**
 * `text` (e.g. a message from a lower layer that quoted the URL) with every occurrence of the URL's password, as
 * written in the URL or decoded, replaced by `<redacted>`.
 */
export const scrub = (text: string, url: URL): string => {
  if (url.password === "") return text
  let out = text.split(url.password).join(REDACTED)
  let decoded: string
  try {
    decoded = decodeURIComponent(url.password)
  } catch {
    return out
  }
  if (decoded !== url.password && decoded !== "") out = out.split(decoded).join(REDACTED)
  return out
}
