/**
 * The program a runtime under test runs (bundled by esbuild): the behaviour suite on `BrowserEngine.layer`, the
 * runtime's own global `WebSocket`, against peers of the host whose address it is given (the page's origin in a
 * browser, the first argument in Bun and Deno). Results go back to the host with a POST to /results.
 */
import * as Effect from "effect/Effect"
import * as BrowserEngine from "../../../src/BrowserEngine.js"
import { type CaseResult, runBehaviourSuite } from "../runner.js"
import type { Lack } from "../suite.js"
import { remotePeer } from "./client.js"

type Runtime = "chromium" | "bun" | "deno"

const runtime: Runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "chromium"

const base: string = runtime === "deno"
  ? (globalThis as any).Deno.args[0]
  : runtime === "bun"
  ? (globalThis as any).process.argv[2]
  : (globalThis as any).location.origin

/** The codes the standard API allows: 1000 and 3000–4999; others go out as 4000 + (code − 1000). */
const standardWireCode = (code: number) => code === 1000 || (code >= 3000 && code <= 4999) ? code : 4000 + code - 1000

/** What each runtime's `WebSocket` cannot do (docs/BrowserEngine.md). */
const lacks: Record<Runtime, ReadonlyArray<Lack>> = {
  chromium: ["handshakeStatus", "pingFrames", "readAfterClose", "peerViolations"],
  bun: ["pingFrames", "readAfterClose", "peerViolations"],
  deno: ["pingFrames", "peerViolations"]
}

const post = (path: string, body: unknown) =>
  fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body)
  })

const main = async () => {
  const results: Array<CaseResult> = []
  try {
    await runBehaviourSuite({
      name: `BrowserEngine on ${runtime}`,
      peer: remotePeer(base, BrowserEngine.layer),
      advance: (duration) => Effect.sleep(duration),
      lacks: lacks[runtime],
      // Bun sends every valid code; browsers and Deno only the standard API's
      ...(runtime === "bun" ? {} : { wireCloseCode: standardWireCode })
    }, (result) => {
      results.push(result)
      console.log(`${result.outcome}: ${result.name}${result.detail === "" ? "" : `\n${result.detail}`}`)
    })
    await post("/results", { runtime, results })
  } catch (error) {
    await post("/results", { runtime, results, error: String((error as Error)?.stack ?? error) })
  }
}

main()
