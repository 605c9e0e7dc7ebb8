/** The URL as it may appear in messages and logs: with any password replaced. */
export const redactUrl = (url: URL): string => {
  if (url.password === "" && url.username === "") return url.href
  const copy = new URL(url.href)
  if (copy.password !== "") copy.password = "<redacted>"
  return copy.href
}
