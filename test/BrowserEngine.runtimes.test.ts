/**
 * The behaviour suite on `BrowserEngine.layer` in the runtimes it is for: headless Chromium (Debian's package),
 * Bun and Deno (the npm packages' binaries), each with its own global `WebSocket`, against peers on 127.0.0.1.
 * A runtime that is missing fails here with the command that installs it (`npm run setup` does all of them).
 *
 * Each run reports every case as passed, failed or not applicable; a case may be not applicable only for what
 * docs/BrowserEngine.md says the runtime cannot do, and then a case checking what it does instead must pass.
 */
import type { Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDemo } from "../examples/browser/serve.js"
import { bundleSuite, type RunReport, startHost } from "./behaviour/remote/host.js"
import { launchChromium, runInChromium, runInPackaged } from "./behaviour/remote/runtimes.js"
import type { Lack } from "./behaviour/suite.js"

/** What docs/BrowserEngine.md says each runtime lacks: exactly these cases may be not applicable. */
const documentedLacks: Record<string, ReadonlyArray<Lack>> = {
  chromium: ["handshakeStatus", "pingFrames", "readAfterClose", "peerViolations"],
  bun: ["pingFrames", "readAfterClose", "peerViolations"],
  deno: ["pingFrames", "peerViolations"]
}

let bundle = ""
const reports: Array<RunReport> = []
/** One Chromium for the suite and the demo: starting it is the slowest part of a run. */
let browser: Promise<Browser> | undefined

beforeAll(async () => {
  bundle = await bundleSuite()
}, 60_000)

afterAll(async () => {
  await browser?.then((b) => b.close(), () => {})
  // the table of the closing note: one row per runtime
  const rows = reports.map((report) => {
    const count = (outcome: string) => report.results.filter((r) => r.outcome === outcome).length
    return `| ${report.runtime} | ${count("passed")} | ${count("failed")} | ${count("not applicable")} |`
  })
  console.log(["| runtime | passed | failed | not applicable |", "|---|---|---|---|", ...rows].join("\n"))
})

const run = async (runtime: "chromium" | "bun" | "deno") => {
  const host = await startHost(bundle)
  try {
    const report = runtime === "chromium"
      ? await runInChromium(await (browser ??= launchChromium()), host)
      : await runInPackaged(runtime, host, bundle)
    reports.push(report)
    return report
  } finally {
    await host.close()
  }
}

const check = (report: RunReport, runtime: string) => {
  expect(report.error).toBeUndefined()
  expect(report.runtime).toBe(runtime)
  const failed = report.results.filter((r) => r.outcome === "failed")
  expect(failed.map((r) => `${r.name}\n${r.detail}`)).toEqual([])
  const lacks = new Set(
    report.results.filter((r) => r.outcome === "not applicable").map((r) => r.detail.replace("lacks ", ""))
  )
  expect([...lacks].sort()).toEqual([...documentedLacks[runtime]!].sort())
  // the whole suite ran: the rules every engine keeps, and the replacements for what this one lacks
  expect(report.results.filter((r) => r.outcome === "passed").length).toBeGreaterThanOrEqual(10)
}

describe("BrowserEngine in real runtimes (behaviour suite over 127.0.0.1)", () => {
  it("Chromium (headless, /usr/bin/chromium via playwright-core): the behaviour suite passes", async () => {
    check(await run("chromium"), "chromium")
  }, 150_000)

  it("Bun (the bun npm package's binary): the behaviour suite passes", async () => {
    check(await run("bun"), "bun")
  }, 150_000)

  it("Deno (the deno npm package's binary): the behaviour suite passes", async () => {
    check(await run("deno"), "deno")
  }, 150_000)

  it("the browser demo (npm run demo:browser) runs the echo tour in Chromium", async () => {
    const { server, url } = await startDemo(0)
    const context = await (await (browser ??= launchChromium())).newContext()
    try {
      const page = await context.newPage()
      await page.goto(url)
      await page.waitForSelector("body[data-status]", { timeout: 30_000 })
      const log = await page.textContent("#log")
      expect(await page.getAttribute("body", "data-status")).toBe("done")
      expect(log).toContain(`text   → "Hello WebSocket!" came back as a Text frame`)
      expect(log).toContain("binary → deadbeef")
      expect(log).toContain(`a browser says "typed hello"`)
      expect(log).toContain(`close  → CloseReason(NORMAL=1000, "bye")`)
    } finally {
      await context.close()
      server.close()
    }
  }, 60_000)
})
