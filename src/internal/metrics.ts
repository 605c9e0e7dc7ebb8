/**
 * The library's metrics (`websockets.*`), defined once, and their per-engine hooks.
 *
 * Sessions update these from the engine's callbacks, on the per-message hot path, so they never go through the
 * `Metric` Effect API (an Effect per message) nor through `Metric.tagged` (which unions the tags and looks the key up
 * in the registry on every update). Instead each engine gets metrics whose keys carry the engine tag, made once, and
 * a message costs two `unsafeUpdate` calls, each adding to a number. The values are therefore exact at every
 * moment, with nothing to flush when a session ends.
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"

/** The tag naming the engine on every metric. */
export const ENGINE_TAG = "engine"

/** Bucket boundaries of `websockets.ping.rtt`, in milliseconds: 0.25 ms to about 8 s, doubling. */
export const pingRttBoundaries = MetricBoundaries.exponential({ start: 0.25, factor: 2, count: 16 })

// no description on the keys: a key's description is part of its identity, and a user who writes
// `Metric.counter("websockets.messages.sent").pipe(Metric.tagged("engine", "node"))` must find these values
const keys = {
  messagesSent: MetricKey.counter("websockets.messages.sent"),
  messagesReceived: MetricKey.counter("websockets.messages.received"),
  bytesSent: MetricKey.counter("websockets.bytes.sent"),
  bytesReceived: MetricKey.counter("websockets.bytes.received"),
  sessionsOpen: MetricKey.gauge("websockets.sessions.open"),
  pingRtt: MetricKey.histogram("websockets.ping.rtt", pingRttBoundaries),
  reconnects: MetricKey.counter("websockets.reconnects")
}

/**
 * The metrics, untagged: tag them with `Metric.tagged("engine", name)` to read one engine's values.
 *
 * - `messagesSent` / `messagesReceived`: data messages (Text, Binary), not control frames;
 * - `bytesSent` / `bytesReceived`: payload bytes (UTF-8 length of a text, before compression, no frame headers);
 * - `sessionsOpen`: sessions open now;
 * - `pingRtt`: round-trip time of the pinger's Pings, in milliseconds;
 * - `reconnects`: reconnection attempts of reconnecting sessions.
 */
export const metrics = {
  messagesSent: Metric.fromMetricKey(keys.messagesSent),
  messagesReceived: Metric.fromMetricKey(keys.messagesReceived),
  bytesSent: Metric.fromMetricKey(keys.bytesSent),
  bytesReceived: Metric.fromMetricKey(keys.bytesReceived),
  sessionsOpen: Metric.fromMetricKey(keys.sessionsOpen),
  pingRtt: Metric.fromMetricKey(keys.pingRtt),
  reconnects: Metric.fromMetricKey(keys.reconnects)
} as const

/**
 * One engine's metrics, each tagged `engine=<name>` in its key rather than with `Metric.tagged`: a metric made by
 * `fromMetricKey` caches its registry hook for updates without extra tags, so `unsafeUpdate(x, noTags)` is two
 * closure calls and an addition.
 */
export type EngineMetrics = { readonly [K in keyof typeof keys]: typeof metrics[K] }

/** Pass as the extra tags of `unsafeUpdate` / `unsafeModify`: the cached, untagged path. */
export const noTags: ReadonlyArray<never> = []

const byEngine = new Map<string, EngineMetrics>()

/** The metrics tagged `engine=<name>`, made once per engine name. */
export const forEngine = (name: string): EngineMetrics => {
  let resolved = byEngine.get(name)
  if (resolved === undefined) {
    const tagged = (key: MetricKey.MetricKey<any>) => Metric.fromMetricKey(MetricKey.tagged(key, ENGINE_TAG, name))
    resolved = {
      messagesSent: tagged(keys.messagesSent),
      messagesReceived: tagged(keys.messagesReceived),
      bytesSent: tagged(keys.bytesSent),
      bytesReceived: tagged(keys.bytesReceived),
      sessionsOpen: tagged(keys.sessionsOpen),
      pingRtt: tagged(keys.pingRtt),
      reconnects: tagged(keys.reconnects)
    } as EngineMetrics
    byEngine.set(name, resolved)
  }
  return resolved
}

/** The engine name used when an engine does not give one. */
export const DEFAULT_ENGINE_NAME = "custom"

/** The name metrics and spans use for an engine. */
export const engineName = (engine: { readonly name?: string | undefined }): string => engine.name ?? DEFAULT_ENGINE_NAME

/**
 * Counts one reconnection attempt of a reconnecting session on `engine` (`websockets.reconnects`).
 * For `WebSockets.reconnecting`: call it each time a new connection is attempted after a lost one.
 */
export const recordReconnect = (engine: { readonly name?: string | undefined }): void => {
  forEngine(engineName(engine)).reconnects.unsafeUpdate(1, noTags)
}

let nativeByteLength: ((text: string) => number) | null = null

/** Above this many UTF-16 code units, counting by hand costs more than `TextEncoder` encoding the text. */
const ENCODE_ABOVE = 256

/**
 * The UTF-8 length of `text`. Node's `Buffer.byteLength` is native and does not encode; elsewhere (browsers, Deno
 * without the Node globals) short texts are counted by hand and long ones encoded by `TextEncoder`. Looked up on
 * first use, so that importing this module touches no Node global.
 */
export const utf8Length = (text: string): number => {
  if (nativeByteLength === null) {
    const buffer = (globalThis as { Buffer?: { byteLength?: (text: string, encoding: string) => number } }).Buffer
    if (typeof buffer?.byteLength === "function") {
      const byteLength = buffer.byteLength
      nativeByteLength = (t) => byteLength(t, "utf8")
    } else {
      const encoder = new TextEncoder()
      nativeByteLength = (t) => t.length > ENCODE_ABOVE ? encoder.encode(t).byteLength : countUtf8(t)
    }
  }
  return nativeByteLength(text)
}

/** UTF-8 length counted by hand; a lone surrogate counts as U+FFFD (3 bytes), as `TextEncoder` encodes it. */
export const countUtf8 = (text: string): number => {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}
