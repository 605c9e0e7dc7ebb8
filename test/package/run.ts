/**
 * The package as a user gets it (docs/API.md §9): `npm pack` (which builds through `prepack`), install the tarball
 * into a fresh project outside this repository, then check that
 *
 * 1. the tarball holds the compiled modules with their declarations, README and LICENSE, and no tests or benchmarks;
 * 2. plain `node` imports it as ESM, every public module is its own subpath, internal modules are not reachable,
 *    and a session echoes through a `ws` server on 127.0.0.1;
 * 3. `tsc` with `module: nodenext`, `strict`, `exactOptionalPropertyTypes`, `declaration`, `skipLibCheck: false`
 *    and no `@types` package beyond `@types/node` compiles a program that exports layers and uses `sendSerialized`
 *    with a literal field (and the compiled program runs);
 * 4. an esbuild browser bundle of a program importing from the root (no `NodeEngine`) holds no byte of `ws`,
 *    `bufferutil` or msgpackr, and runs (a TestEngine echo) with only the globals a browser has.
 *
 * Offline: the fresh project is installed with `npm ci --offline` from a lockfile made of this repository's own
 * lockfile entries, so the only packages it needs are those `npm ci` already put in the npm cache.
 *
 * Run with `npm run test:package`; exits non-zero on the first failed check.
 */
import * as esbuild from "esbuild"
import * as assert from "node:assert/strict"
import { execFileSync, type ExecFileSyncOptions } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as vm from "node:vm"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const fixtures = path.join(root, "test/package/fixtures")
const keep = process.argv.includes("--keep")

const run = (command: string, args: ReadonlyArray<string>, options: ExecFileSyncOptions & { cwd: string }) => {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: "pipe", timeout: 180_000, ...options }) as string
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    const output = `${e.stdout ?? ""}\n${e.stderr ?? ""}`
    throw new Error(`${command} ${args.join(" ")} failed in ${options.cwd}\n${e.message}\n${output}`)
  }
}

const step = async (name: string, body: () => void | Promise<void>) => {
  const started = Date.now()
  await body()
  console.log(`ok - ${name} (${Date.now() - started} ms)`)
}

/** The public modules: every `src/*.ts` but the barrel (so a module added later is checked without editing this). */
const publicModules = fs.readdirSync(path.join(root, "src"))
  .filter((file) => file.endsWith(".ts") && file !== "index.ts")
  .map((file) => file.slice(0, -3))
  .sort()

const work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-websockets-package-"))
const app = path.join(work, "app")

interface LockEntry {
  readonly version?: string
  readonly dependencies?: Record<string, string>
  readonly optionalDependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>
  readonly [key: string]: unknown
}

/**
 * The entries of this repository's lockfile that `roots` need (their dependency closure, found where npm placed
 * them), as production dependencies: the versions this repository is tested with, all already in the npm cache.
 */
const lockClosure = (packages: Record<string, LockEntry>, roots: ReadonlyArray<string>) => {
  const found = new Map<string, LockEntry>()
  const locate = (name: string, from: string): string | undefined => {
    for (let at = from;; at = at.slice(0, Math.max(0, at.lastIndexOf("/node_modules/")))) {
      const candidate = `${at === "" ? "" : `${at}/`}node_modules/${name}`
      if (packages[candidate] !== undefined) return candidate
      if (at === "") return undefined
    }
  }
  const visit = (name: string, from: string, optional: boolean) => {
    const where = locate(name, from)
    if (where === undefined) {
      if (optional) return
      throw new Error(`${name} (needed by ${from || "the app"}) is not in package-lock.json`)
    }
    if (found.has(where)) return
    const entry = packages[where]!
    found.set(where, entry)
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(dep, where, false)
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) visit(dep, where, true)
    for (const dep of Object.keys(entry.peerDependencies ?? {})) {
      visit(dep, where, entry.peerDependenciesMeta?.[dep]?.optional === true)
    }
  }
  for (const name of roots) visit(name, "", false)
  const result: Record<string, LockEntry> = {}
  for (const [where, entry] of [...found].sort(([a], [b]) => a.localeCompare(b))) {
    const { dev: _dev, devOptional, ...rest } = entry
    result[where] = devOptional === true ? { ...rest, optional: true } : rest
  }
  return result
}

/** A `node:vm` context with the globals of a browser page only: no Buffer, process, require, global, setImmediate. */
const browserSandbox = () => {
  const context = vm.createContext({
    console,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    queueMicrotask,
    structuredClone,
    TextEncoder,
    TextDecoder,
    URL,
    URLSearchParams,
    AbortController,
    AbortSignal,
    Event,
    EventTarget,
    performance,
    crypto: globalThis.crypto
  })
  vm.runInContext("globalThis.self = globalThis; globalThis.window = globalThis", context)
  return context
}

const main = async () => {
  console.log(`# package test in ${work}`)
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))
  const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8"))

  let tarball = ""
  await step("npm pack builds and the tarball holds dist (js, d.ts, declaration maps), README and LICENSE only", () => {
    const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], { cwd: root })) as Array<
      { filename: string; files: Array<{ path: string }> }
    >
    tarball = path.join(work, packed!.filename)
    const files = packed!.files.map((f) => f.path).sort()
    for (const required of ["README.md", "LICENSE", "package.json", "dist/index.js", "dist/index.d.ts"]) {
      assert.ok(files.includes(required), `${required} is missing from the tarball`)
    }
    for (const module of publicModules) {
      for (const ext of [".js", ".d.ts", ".d.ts.map"]) {
        assert.ok(files.includes(`dist/${module}${ext}`), `dist/${module}${ext} is missing from the tarball`)
      }
    }
    const expected = /^(dist\/|src\/[^.]+\.ts$|src\/internal\/[^.]+\.ts$|README\.md$|LICENSE$|package\.json$)/
    const unexpected = files.filter((f) => !expected.test(f))
    assert.deepEqual(unexpected, [], "files in the tarball that users do not need")
    assert.ok(!files.some((f) => /(^|\/)(test|bench|examples)\//.test(f) || f.endsWith(".tsbuildinfo")))
  })

  await step("installs into a fresh project offline, from the npm cache, with no @types but @types/node", () => {
    fs.mkdirSync(app)
    fs.copyFileSync(tarball, path.join(app, path.basename(tarball)))
    fs.cpSync(fixtures, app, { recursive: true })
    const spec = `file:${path.basename(tarball)}`
    const peers = Object.keys(pkg.peerDependencies as Record<string, string>)
    const roots = [
      ...Object.keys(pkg.dependencies),
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...peers,
      "@types/node"
    ]
    const closure = lockClosure(lock.packages, roots)
    const exact = (name: string) => closure[`node_modules/${name}`]!.version!
    const dependencies: Record<string, string> = { "effect-websockets": spec }
    for (const name of [...peers, "@types/node"]) dependencies[name] = exact(name)
    const appPackage = {
      name: "effect-websockets-consumer",
      version: "0.0.0",
      private: true,
      type: "module",
      dependencies,
      // as a user would: the native add-ons ship prebuilt binaries, their install scripts need not run
      allowScripts: { bufferutil: false, "msgpackr-extract": false }
    }
    fs.writeFileSync(path.join(app, "package.json"), JSON.stringify(appPackage, null, 2))
    const { devDependencies: _dev, scripts: _scripts, allowScripts: _allow, ...published } = pkg
    const appLock = {
      name: appPackage.name,
      version: appPackage.version,
      lockfileVersion: 3,
      requires: true,
      packages: {
        "": { name: appPackage.name, version: appPackage.version, dependencies },
        "node_modules/effect-websockets": {
          version: published.version,
          resolved: spec,
          license: published.license,
          dependencies: published.dependencies,
          optionalDependencies: published.optionalDependencies,
          peerDependencies: published.peerDependencies,
          engines: published.engines
        },
        ...closure
      }
    }
    fs.writeFileSync(path.join(app, "package-lock.json"), JSON.stringify(appLock, null, 2))
    run("npm", ["ci", "--offline", "--no-audit", "--no-fund"], { cwd: app })
    const installed = JSON.parse(fs.readFileSync(path.join(app, "node_modules/effect-websockets/package.json"), "utf8"))
    assert.equal(installed.version, pkg.version)
    assert.ok(!fs.existsSync(path.join(app, "node_modules/@types/ws")), "@types/ws must not be needed")
    assert.deepEqual(fs.readdirSync(path.join(app, "node_modules/@types")), ["node"])
    // one copy of effect: the app's (the library's is a peer, never nested)
    assert.ok(!fs.existsSync(path.join(app, "node_modules/effect-websockets/node_modules/effect")))
  })

  await step("node: ESM import, one subpath per public module, internals unreachable, echo on 127.0.0.1", () => {
    const out = run(process.execPath, ["node-echo.mjs", ...publicModules], { cwd: app, timeout: 60_000 })
    assert.match(out, /^echo: hello from node$/m)
    assert.match(out, /^json: {"type":"subscribe","symbol":"ACME"}$/m)
    for (const module of publicModules) assert.match(out, new RegExp(`^subpath ${module}: ok$`, "m"))
    assert.match(out, /^internal: ERR_PACKAGE_PATH_NOT_EXPORTED$/m)
  })

  await step("tsc: nodenext, strict, exactOptionalPropertyTypes, declaration, skipLibCheck false; output runs", () => {
    const tsc = path.join(root, "node_modules/typescript/bin/tsc")
    run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: app })
    const declarations = fs.readFileSync(path.join(app, "out/consumer.d.ts"), "utf8")
    // the layer's Engine requirement is named by its subpath (without subpath exports: TS2742)
    assert.match(declarations, /import\("effect-websockets\/Engine"\)\.Engine/)
    assert.doesNotMatch(declarations, /node_modules|dist\//)
    // every module the emitted declarations name is one the package exports (an internal path would not resolve
    // for whoever compiles against these declarations)
    const named = [...declarations.matchAll(/(?:from |import\()"(effect-websockets[^"]*)"/g)].map((m) => m[1]!)
    const exported = new Set(["effect-websockets", ...publicModules.map((module) => `effect-websockets/${module}`)])
    assert.deepEqual([...new Set(named.filter((specifier) => !exported.has(specifier)))], [])
    assert.match(declarations, /firstRequest: Effect\.Effect<TestEngine\.ServerRequest,/)
    const out = run(process.execPath, ["out/consumer.js"], { cwd: app, timeout: 60_000 })
    assert.match(out, /^consumer: {"type":"subscribe","symbol":"ACME"}$/m)
  })

  await step(
    "esbuild browser bundle from the root: no ws, bufferutil, msgpackr; runs with browser globals only",
    async () => {
      const result = await esbuild.build({
        entryPoints: [path.join(app, "browser.ts")],
        absWorkingDir: app,
        bundle: true,
        platform: "browser",
        format: "iife",
        target: "es2022",
        write: false,
        metafile: true,
        logLevel: "silent"
      })
      // the modules that put code into the bundle (esbuild also lists modules it read and then shook out entirely)
      const inputs = Object.entries(Object.values(result.metafile.outputs)[0]!.inputs)
        .filter(([, input]) => input.bytesInOutput > 0)
        .map(([file]) => file)
      assert.ok(inputs.some((input) => input.includes("node_modules/effect-websockets/dist/")), "the bundle uses dist")
      const nodeOnly = /node_modules\/(ws|bufferutil|msgpackr|msgpackr-extract|node-gyp-build)\//
      const leaked = inputs.filter((input) => nodeOnly.test(input))
      assert.deepEqual(leaked, [], "modules that must not reach a browser bundle")
      const code = result.outputFiles[0]!.text
      for (const word of ["bufferutil", "msgpackr", "ws does not work in the browser", "require(\"ws\")"]) {
        assert.ok(!code.includes(word), `the bundle mentions ${word}`)
      }
      fs.writeFileSync(path.join(app, "browser.bundle.js"), code)
      console.log(`  bundle: ${(code.length / 1024).toFixed(0)} KiB, ${inputs.length} modules`)
      const context = browserSandbox()
      vm.runInContext(code, context, { filename: "browser.bundle.js", timeout: 10_000 })
      for (const name of ["Buffer", "process", "require", "global", "setImmediate"]) {
        assert.equal(vm.runInContext(`typeof ${name}`, context), "undefined", `${name} must not exist in the sandbox`)
      }
      const outcome = await Promise.race([
        context.result as Promise<string>,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("the bundle's program did not finish in 10 s")), 10_000)
        )
      ])
      assert.equal(outcome, "echo: hello from the browser; json: subscribe ACME")
    }
  )

  await step("importing any public module (all exports kept) touches no Node global", importsTouchNoNodeGlobal)
}

/**
 * Every public module, all of its exports kept (no tree shaking can hide a top-level statement), bundled for the
 * browser and evaluated with browser globals only: importing a module touches no Node global. `NodeEngine` gets
 * `ws`'s browser stub here, which is fine to import (it throws only when used).
 */
const importsTouchNoNodeGlobal = async () => {
  const entry = publicModules.map((module, i) => `export * as m${i} from "effect-websockets/${module}"`).join("\n")
  const result = await esbuild.build({
    stdin: { contents: entry, resolveDir: app, sourcefile: "all-modules.js" },
    bundle: true,
    platform: "browser",
    format: "iife",
    globalName: "allModules",
    target: "es2022",
    write: false,
    logLevel: "silent"
  })
  const context = browserSandbox()
  vm.runInContext(result.outputFiles[0]!.text, context, { filename: "all-modules.js", timeout: 10_000 })
  const loaded = vm.runInContext("Object.keys(allModules).length", context) as number
  assert.equal(loaded, publicModules.length)
}

main().then(
  () => {
    if (!keep) fs.rmSync(work, { recursive: true, force: true })
    console.log("package test: all checks passed")
  },
  (error) => {
    console.error(error instanceof Error ? error.message : error)
    console.error(`package test failed; the work directory is kept: ${work}`)
    process.exitCode = 1
  }
)
