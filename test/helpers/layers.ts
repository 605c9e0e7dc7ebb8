/** The plugin over the Node engine, and small helpers shared by the client tests. */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { NodeEngine, WebSockets } from "../../src/index.js"

/** `WebSockets.layer(options)` over `NodeEngine.layer`. */
export const live = (options: WebSockets.Options = {}): Layer.Layer<WebSockets.WebSockets> =>
  WebSockets.layer(options).pipe(Layer.provide(NodeEngine.layer))

/** A guard against hangs: fails the test (as a defect) if `effect` takes longer than `ms`. */
export const guard = (ms: number, what: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, {
    duration: ms,
    onTimeout: () => new Cause.TimeoutException(`guard: ${what} did not finish within ${ms} ms`)
  }).pipe(Effect.catchTag("TimeoutException", (e) => Effect.die(e)))

/** Every rendering of an error a user could see: String, message, JSON and the pretty cause. */
export const renderings = (error: unknown): ReadonlyArray<string> => [
  String(error),
  (error as { message?: string }).message ?? "",
  JSON.stringify(error),
  Cause.pretty(Cause.fail(error))
]

/** Waits until `condition` holds, polling every 10 ms (guarded by the test's own timeout). */
export const until = (condition: () => boolean): Effect.Effect<void> =>
  Effect.suspend(() => condition() ? Effect.void : Effect.zipRight(Effect.sleep(10), until(condition)))
