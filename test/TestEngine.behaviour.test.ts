import { describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as TestClock from "effect/TestClock"
import { Engine, TestEngine } from "../src/index.js"
import { behaviourSuite } from "./behaviour/suite.js"

// TestEngine in memory; time passes on the TestClock only.
behaviourSuite({
  name: "TestEngine (in memory, TestClock)",
  describe,
  test: (name, self, timeout) => it.scoped(name, self, timeout ?? 10_000),
  peer: (options) =>
    Effect.map(
      TestEngine.make({
        ignorePings: options.ignorePings,
        ignoreClose: options.ignoreClose,
        handler: options.handler,
        handshake: () => options.refuse === undefined ? TestEngine.accept() : TestEngine.refuse(options.refuse)
      }),
      (server) => ({
        url: "ws://behaviour.test/behaviour",
        engine: Layer.succeed(Engine.Engine, server.engine),
        nextConnection: Queue.take(server.connections)
      })
    ),
  advance: (duration) => TestClock.adjust(duration)
})
