import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Engine, NodeEngine, TestEngine, WebSocketException, WebSockets } from "../src/index.js"

const url = "ws://caps.test/"

const everyCapability: ReadonlyArray<Engine.Capability> = [
  Engine.WebSocketCapability,
  Engine.WebSocketExtensionsCapability,
  Engine.HeadersCapability,
  Engine.PingCapability,
  Engine.MaxFrameSizeCapability,
  Engine.ProtocolsCapability
]

/** A TestEngine that lacks `missing`, counting the handshakes it was asked for. */
const engineWithout = (missing: Engine.Capability) => {
  let handshakes = 0
  const layer = TestEngine.layer({
    capabilities: everyCapability.filter((c) => c !== missing),
    handshake: () => {
      handshakes++
      return TestEngine.accept()
    }
  })
  return { layer, handshakes: () => handshakes }
}

const cases: ReadonlyArray<{
  readonly capability: Engine.Capability
  readonly setting: string
  readonly options: WebSockets.Options
  readonly request: WebSockets.Request
}> = [
  {
    capability: Engine.WebSocketExtensionsCapability,
    setting: "extensions",
    options: { extensions: { deflate: true } },
    request: url
  },
  { capability: Engine.HeadersCapability, setting: "headers", options: {}, request: { url, headers: { "x-a": "t" } } },
  { capability: Engine.ProtocolsCapability, setting: "protocols", options: {}, request: { url, protocols: ["chat"] } },
  { capability: Engine.PingCapability, setting: "pingInterval", options: { pingInterval: "20 seconds" }, request: url },
  { capability: Engine.MaxFrameSizeCapability, setting: "maxFrameSize", options: { maxFrameSize: 4096 }, request: url },
  { capability: Engine.WebSocketCapability, setting: "WebSockets", options: {}, request: url }
]

describe("Capabilities", () => {
  it.scoped("NodeEngine declares every capability; TestEngine does too unless told otherwise", () =>
    Effect.gen(function*() {
      for (const capability of everyCapability) expect(NodeEngine.make.capabilities.has(capability)).toBe(true)
      const server = yield* TestEngine.make()
      for (const capability of everyCapability) expect(server.engine.capabilities.has(capability)).toBe(true)
      const limited = yield* TestEngine.make({ capabilities: [Engine.WebSocketCapability] })
      expect([...limited.engine.capabilities]).toEqual([Engine.WebSocketCapability])
    }))

  for (const { capability, options, request, setting } of cases) {
    it.effect(`a setting the engine cannot honour fails with Capability naming it: ${setting}`, () =>
      Effect.gen(function*() {
        const engine = engineWithout(capability)
        const error = yield* Effect.flip(
          WebSockets.webSocket(request, () => Effect.void).pipe(
            Effect.provide(WebSockets.layer(options).pipe(Layer.provide(engine.layer)))
          )
        )
        expect(error).toBeInstanceOf(WebSocketException)
        expect(error.reason).toBe("Capability")
        expect(error.message).toContain(`"${setting}"`)
        expect(error.message).toContain(capability)
        // never silently ignored, and never half-done: the engine was not even asked to connect
        expect(engine.handshakes()).toBe(0)
      }))
  }

  it.effect("an engine lacking a capability still connects when that setting is not used", () =>
    Effect.gen(function*() {
      const engine = engineWithout(Engine.WebSocketExtensionsCapability)
      const plugin = WebSockets.layer({ pingInterval: "20 seconds", maxFrameSize: 4096 })
      const result = yield* WebSockets.webSocket(
        { url, headers: { "x-token": "t" }, protocols: ["chat"] },
        (session) => Effect.succeed(session.call.status)
      ).pipe(Effect.provide(plugin.pipe(Layer.provide(engine.layer))))
      expect(result).toBe(101)
      expect(engine.handshakes()).toBe(1)
    }))
})
