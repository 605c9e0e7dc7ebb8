/**
 * Runs the bundled behaviour suite in another runtime against a host (host.ts) and returns its report:
 * - Chromium: Debian's `/usr/bin/chromium`, headless, driven by `playwright-core` (which never downloads a browser
 *   of its own when given `executablePath`), on the host's own test page;
 * - Bun and Deno: the binaries inside the npm packages' platform dependencies (`@oven/bun-<platform>`,
 *   `@deno/<platform>`), run directly on the bundle.
 * A runtime that is missing throws an error that says how to install it.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Browser } from "playwright-core"
import type { Host, RunReport } from "./host.js"

const root = fileURLToPath(new URL("../../../", import.meta.url))

/** How long a whole run in one runtime may take before it counts as hung. */
export const RUN_DEADLINE_MILLIS = 120_000

export const CHROMIUM = "/usr/bin/chromium"

/**
 * The binary of an npm-packaged runtime, or an error naming the command that installs it. The package's install
 * script moves (Bun) or links (Deno) the binary from the platform package into its own folder; when install scripts
 * did not run, it is still in the platform package.
 */
const packagedBinary = (name: "bun" | "deno"): string => {
  const arch = process.arch === "arm64" ? (name === "bun" ? "aarch64" : "arm64") : "x64"
  const candidates = name === "bun"
    ? ["bun/bin/bun.exe", `@oven/bun-linux-${arch}/bin/bun`, `@oven/bun-linux-${arch}-baseline/bin/bun`]
    : ["deno/deno", `@deno/linux-${arch}-glibc/deno`]
  for (const candidate of candidates) {
    const path = join(root, "node_modules", candidate)
    // before the install script runs, bun/bin/bun.exe is a small placeholder
    if (existsSync(path) && statSync(path).size > 1_000_000) return path
  }
  throw new Error(
    `${name} is not installed: its binary ships with the "${name}" devDependency and its platform package ` +
      `(looked for node_modules/${candidates.join(", node_modules/")}). Run \`npm install\`.`
  )
}

const withDeadline = <A>(promise: Promise<A>, what: string, millis = RUN_DEADLINE_MILLIS): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not report within ${millis} ms`)), millis)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error) => {
        clearTimeout(timer)
        reject(error)
      }
    )
  })

/** Starts headless Chromium (Debian's), or fails with the command that installs it. */
export const launchChromium = async (): Promise<Browser> => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: run \`npm run setup\` as root, or ` +
        "`apt-get update && apt-get install -y --no-install-recommends chromium`"
    )
  }
  const { chromium } = await import("playwright-core")
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // root in a container has no user namespace for the sandbox
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
  })
}

/** Runs the suite in a fresh page of `browser` on the host's test page. */
export const runInChromium = async (browser: Browser, host: Host): Promise<RunReport> => {
  const console: Array<string> = []
  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    page.on("console", (message) => console.push(message.text()))
    page.on("pageerror", (error) => console.push(`page error: ${error.stack ?? error.message}`))
    await page.goto(host.origin)
    return await withDeadline(host.report, "Chromium")
  } catch (error) {
    throw new Error(`${(error as Error).message}\nChromium console:\n${console.join("\n")}`)
  } finally {
    await context.close()
  }
}

/** Runs the suite in a packaged Bun or Deno, given the bundle's text. */
export const runInPackaged = async (name: "bun" | "deno", host: Host, bundle: string): Promise<RunReport> => {
  const binary = packagedBinary(name)
  const dir = mkdtempSync(join(tmpdir(), `behaviour-${name}-`))
  const file = join(dir, "suite.mjs")
  writeFileSync(file, bundle)
  const port = new URL(host.origin).port
  const args = name === "bun"
    ? ["run", file, host.origin]
    : ["run", "--no-config", "--no-lock", `--allow-net=127.0.0.1:${port}`, "--allow-env", file, host.origin]
  const output: Array<string> = []
  const child = spawn(binary, args, {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      // nothing leaves the machine: no update checks, no telemetry, caches in the run's own directory
      DENO_NO_UPDATE_CHECK: "1",
      DENO_DIR: join(dir, "deno"),
      DO_NOT_TRACK: "1",
      BUN_INSTALL_CACHE_DIR: join(dir, "bun")
    }
  })
  child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()))
  const exited = new Promise<never>((_, reject) =>
    child.on("exit", (code) =>
      // the report normally arrives first; an exit before it means the program failed
      setTimeout(() => reject(new Error(`${name} exited with ${code} before reporting:\n${output.join("")}`)), 1_000))
  )
  try {
    return await withDeadline(Promise.race([host.report, exited]), name)
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${name} output:\n${output.join("")}`)
  } finally {
    child.kill("SIGKILL")
    rmSync(dir, { recursive: true, force: true })
  }
}
