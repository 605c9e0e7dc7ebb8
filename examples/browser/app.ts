/**
 * The echo demo in a browser page: effect-websockets on the browser's own `WebSocket` (`BrowserEngine.layer`).
 * Bundled by serve.ts (`npm run demo:browser`), which also runs the echo server this page talks to.
 */
import { Effect, Layer, Option, Schema } from "effect"
import { BrowserEngine, CloseReason, Converter, Frame, WebSockets } from "../../src/index.js"

// the two page globals this script uses (the project compiles without the DOM library)
declare const document: {
  getElementById(id: string): { textContent: string | null } | null
  readonly body: { readonly dataset: Record<string, string | undefined> }
}
declare const location: { readonly host: string }

class Greeting extends Schema.Class<Greeting>("Greeting")({
  from: Schema.String,
  text: Schema.String,
  sentAt: Schema.Date
}) {}

const log = (line: string) =>
  Effect.sync(() => {
    const out = document.getElementById("log")!
    out.textContent += `${line}\n`
  })

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

const tour = (url: string) =>
  WebSockets.webSocket(url, (session) =>
    Effect.gen(function*() {
      yield* log(`connected to ${session.call.url.href} (extensions: ${session.call.extensions || "none"})`)

      yield* session.send("Hello WebSocket!")
      const text = yield* session.receive
      yield* log(`text   → ${JSON.stringify(Frame.readText(text))} came back as a ${text._tag} frame`)

      yield* session.send(new Uint8Array([0xde, 0xad, 0xbe, 0xef]))
      const binary = yield* session.receive
      yield* log(`binary → ${hex(Frame.readBytes(binary))} (${binary._tag} frame)`)

      const greeting = new Greeting({ from: "a browser", text: "typed hello", sentAt: new Date() })
      yield* session.sendSerialized(Greeting, greeting)
      const back = yield* session.receiveDeserialized(Greeting)
      yield* log(`json   → ${back.from} says "${back.text}" at ${back.sentAt.toISOString()} (a Date again)`)

      yield* session.close(new CloseReason({ code: CloseReason.Codes.NORMAL, message: "bye" }))
      const reason = yield* session.closeReason
      yield* log(`close  → ${Option.match(reason, { onNone: () => "no reason", onSome: (r) => r.toString() })}`)
    }))

// the browser setup: the plugin over the browser's WebSocket (no pinger: browsers send no Ping frames)
const MainLive = WebSockets.layer({ contentConverter: Converter.json }).pipe(Layer.provide(BrowserEngine.layer))

tour(`ws://${location.host}/echo`).pipe(
  Effect.provide(MainLive),
  Effect.matchEffect({
    onFailure: (error) => log(`error: ${String(error)}`).pipe(Effect.as("failed")),
    onSuccess: () => Effect.succeed("done")
  }),
  Effect.tap((status) => Effect.sync(() => document.body.dataset.status = status)),
  Effect.runPromise
)
