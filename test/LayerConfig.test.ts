/**
 * `WebSockets.layerConfig` validates exactly as `WebSockets.layer` does (README: Installing): a negative interval or
 * timeout is a defect naming the field, as with `layer`; a value that cannot be read (empty, not a duration, not a
 * whole number) is a ConfigError naming the variable, never a silent default or a confusing "got 0".
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { NodeEngine, WebSockets } from "../src/index.js"

const fromEnv = (entries: ReadonlyArray<readonly [string, string]>) =>
  ConfigProvider.fromMap(new Map(entries), { pathDelim: "_" })

/** Builds layerConfig under `env` (or `layer(options)` when given options) and returns how it ended. */
const build = (layer: Layer.Layer<WebSockets.WebSockets, unknown>) =>
  Effect.exit(Effect.map(WebSockets.WebSockets, (s) => s.config).pipe(Effect.provide(layer)))

const viaConfig = (entries: ReadonlyArray<readonly [string, string]>) =>
  build(
    WebSockets.layerConfig().pipe(
      Layer.provide(NodeEngine.layer),
      Layer.provide(Layer.setConfigProvider(fromEnv(entries)))
    )
  )

const viaLayer = (options: WebSockets.Options) => build(WebSockets.layer(options).pipe(Layer.provide(NodeEngine.layer)))

/** The defect's text, or fails the test when the build did not die. */
const defectOf = (exit: Exit.Exit<unknown, unknown>): string => {
  expect(Exit.isFailure(exit)).toBe(true)
  if (Exit.isSuccess(exit)) return ""
  const defect = Cause.dieOption(exit.cause)
  expect(Option.isSome(defect), Cause.pretty(exit.cause)).toBe(true)
  return String(Option.getOrUndefined(defect))
}

/** The ConfigError's text, or fails the test when the build did not fail with one. */
const configErrorOf = (exit: Exit.Exit<unknown, unknown>): string => {
  expect(Exit.isFailure(exit)).toBe(true)
  if (Exit.isSuccess(exit)) return ""
  const failure = Cause.failureOption(exit.cause)
  expect(Option.isSome(failure), Cause.pretty(exit.cause)).toBe(true)
  return String(Option.getOrUndefined(failure))
}

describe("layerConfig validates as layer does", () => {
  for (
    const [variable, field, value] of [
      ["WEBSOCKETS_PING_INTERVAL", "pingInterval", "-5 seconds"],
      ["WEBSOCKETS_TIMEOUT", "timeout", "-5 seconds"],
      ["WEBSOCKETS_CONNECT_TIMEOUT", "connectTimeout", "-1 seconds"],
      ["WEBSOCKETS_MAX_FRAME_SIZE", "maxFrameSize", "0"],
      ["WEBSOCKETS_MAX_FRAME_SIZE", "maxFrameSize", "-10"]
    ] as const
  ) {
    it.effect(`${variable}=${value} is the same defect as layer({ ${field}: "${value}" }), naming ${field}`, () =>
      Effect.gen(function*() {
        const fromConfig = defectOf(yield* viaConfig([[variable, value]]))
        const fromLayer = defectOf(
          yield* viaLayer({ [field]: field === "maxFrameSize" ? Number(value) : value } as WebSockets.Options)
        )
        expect(fromConfig).toContain(field)
        expect(fromConfig).toBe(fromLayer)
      }))
  }

  it.effect("a zero timeout with the pinger on is refused by both", () =>
    Effect.gen(function*() {
      const fromConfig = defectOf(
        yield* viaConfig([["WEBSOCKETS_PING_INTERVAL", "1 second"], ["WEBSOCKETS_TIMEOUT", "0 seconds"]])
      )
      expect(fromConfig).toBe(defectOf(yield* viaLayer({ pingInterval: "1 second", timeout: "0 seconds" })))
      expect(fromConfig).toContain("timeout")
    }))

  for (
    const [variable, field, value] of [
      ["WEBSOCKETS_MAX_FRAME_SIZE", "maxFrameSize", ""],
      ["WEBSOCKETS_MAX_FRAME_SIZE", "maxFrameSize", "  "],
      ["WEBSOCKETS_MAX_FRAME_SIZE", "maxFrameSize", "1.5"],
      ["WEBSOCKETS_MAX_FRAME_SIZE", "maxFrameSize", "lots"],
      ["WEBSOCKETS_PING_INTERVAL", "pingInterval", ""],
      ["WEBSOCKETS_TIMEOUT", "timeout", "soon"]
    ] as const
  ) {
    it.effect(`${variable}=${JSON.stringify(value)}: a ConfigError naming the variable and ${field}, not "got 0"`, () =>
      Effect.gen(function*() {
        const message = configErrorOf(yield* viaConfig([[variable, value]]))
        expect(message).toContain(variable.replace("WEBSOCKETS_", ""))
        expect(message).toContain(field)
        expect(message).not.toContain("got 0")
      }))
  }

  it.effect("valid values, with spaces around them, are read as given", () =>
    Effect.gen(function*() {
      const exit = yield* viaConfig([
        ["WEBSOCKETS_PING_INTERVAL", " 2 seconds "],
        ["WEBSOCKETS_MAX_FRAME_SIZE", "4096"],
        ["WEBSOCKETS_CONNECT_TIMEOUT", "500 millis"]
      ])
      expect(Exit.isSuccess(exit)).toBe(true)
      if (Exit.isFailure(exit)) return
      const config = exit.value
      expect(Option.map(config.pingInterval, Duration.toMillis)).toEqual(Option.some(2_000))
      expect(Duration.toMillis(config.timeout)).toBe(4_000)
      expect(config.maxFrameSize).toBe(4096)
      expect(Duration.toMillis(config.connectTimeout)).toBe(500)
    }))
})
