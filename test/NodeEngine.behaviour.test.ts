import { describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { nodePeer } from "./behaviour/nodePeer.js"
import { behaviourSuite } from "./behaviour/suite.js"

// NodeEngine over a real socket to a `ws` server on 127.0.0.1; time passes for real.
behaviourSuite({
  name: "NodeEngine (ws server on 127.0.0.1)",
  describe,
  test: (name, self, timeout) => it.scopedLive(name, self, timeout ?? 10_000),
  peer: nodePeer,
  advance: (duration) => Effect.sleep(duration)
})
