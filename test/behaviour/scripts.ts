/**
 * Runs a peer's script (`PeerOptions.handler`) for every connection, held to the rule TestEngine keeps for its own
 * handlers (README: "A handler's assertions count"): a script's failure or defect fails the run, here when the peer
 * stops, after the scripts had a second to finish; a script that reads past the end (`ConnectionClosed`) or is
 * interrupted ends quietly. Runtime-neutral: used by the `ws` peer in Node and by remote peers in other runtimes.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as TestEngine from "../../src/TestEngine.js"

/** How long a script may run on once its peer stops; real time, whatever clock the case runs on. */
const GRACE_MILLIS = 1_000

const realSleep = (millis: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const handle = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(handle))
  })

const endsQuietly = (cause: Cause.Cause<unknown>): boolean =>
  Cause.defects(cause).length === 0 &&
  [...Cause.failures(cause)].every((e) => e instanceof TestEngine.ConnectionClosed)

/** Starts `handler` on each connection given to the returned function; failures surface when the scope closes. */
export const scriptRunner = (
  handler: (connection: TestEngine.ServerConnection) => Effect.Effect<unknown, unknown>
): Effect.Effect<(connection: TestEngine.ServerConnection) => void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scripts = yield* FiberSet.make<void, never>()
    const run = yield* FiberSet.runtime(scripts)<never>()
    const failures: Array<Cause.Cause<unknown>> = []
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Effect.forEach(
          scripts,
          (fiber) =>
            Effect.interruptible(Effect.raceFirst(Fiber.await(fiber), realSleep(GRACE_MILLIS))).pipe(
              Effect.zipRight(Fiber.interrupt(fiber))
            ),
          { concurrency: "unbounded", discard: true }
        )
        if (failures.length > 0) yield* Effect.orDie(Effect.failCause(failures[0]!))
      })
    )
    return (connection) => {
      run(
        Effect.catchAllCause(Effect.suspend(() => handler(connection)), (cause) =>
          Effect.sync(() => {
            if (!endsQuietly(cause)) failures.push(cause)
          }))
      )
    }
  })
