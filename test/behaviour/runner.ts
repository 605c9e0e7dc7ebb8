/**
 * Runs the behaviour suite without a test runner: in a browser page, in Bun, in Deno. Each case runs in its own
 * scope under a deadline, one after the other, and comes back as a result row (passed, failed with the cause, or
 * not applicable with the capability the engine lacks).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import type { EngineFixture, Lack } from "./suite.js"
import { behaviourSuite } from "./suite.js"

/** One case's outcome. */
export interface CaseResult {
  readonly name: string
  readonly outcome: "passed" | "failed" | "not applicable"
  /** Why it failed, or what the engine lacks. */
  readonly detail: string
  readonly millis: number
}

/** What the runner needs from an engine: the fixture without the test-runner parts. */
export type RunnerFixture = Omit<EngineFixture, "test" | "describe" | "notApplicable">

interface Registered {
  readonly name: string
  readonly self: () => Effect.Effect<unknown, unknown, Scope.Scope>
  readonly timeout: number | undefined
}

/** Longest a case may take, its closing handshakes included. */
const DEFAULT_TIMEOUT_MILLIS = 15_000

/** Runs every case of the suite for `fixture`, in order. */
export const runBehaviourSuite = async (
  fixture: RunnerFixture,
  onResult: (result: CaseResult) => void = () => {}
): Promise<ReadonlyArray<CaseResult>> => {
  const cases: Array<Registered | { readonly name: string; readonly lack: Lack }> = []
  behaviourSuite({
    ...fixture,
    describe: (_name, body) => body(),
    test: (name, self, timeout) => cases.push({ name, self, timeout }),
    notApplicable: (name, lack) => cases.push({ name, lack })
  })
  const results: Array<CaseResult> = []
  for (const registered of cases) {
    const started = Date.now()
    let result: CaseResult
    if ("lack" in registered) {
      result = { name: registered.name, outcome: "not applicable", detail: `lacks ${registered.lack}`, millis: 0 }
    } else {
      const timeout = registered.timeout ?? DEFAULT_TIMEOUT_MILLIS
      const exit = await Effect.runPromiseExit(
        Effect.scoped(registered.self()).pipe(
          Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`timed out after ${timeout} ms`) })
        )
      )
      result = {
        name: registered.name,
        outcome: Exit.isSuccess(exit) ? "passed" : "failed",
        detail: Exit.isSuccess(exit) ? "" : Cause.pretty(exit.cause).slice(0, 2_000),
        millis: Date.now() - started
      }
    }
    results.push(result)
    onResult(result)
  }
  return results
}
