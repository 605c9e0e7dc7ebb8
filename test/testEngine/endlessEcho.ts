/**
 * An endless request/response loop against a TestEngine echo handler, with nothing in it that yields on its own.
 * A 200 ms timer (standing for a test runner's timeout) must still fire: it prints how late it was and ends the
 * process. If the loop starved the event loop, the timer would never run and the parent's deadline would kill us.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { TestEngine, WebSockets } from "../../src/index.js"

const start = performance.now()
let ticks = 0
setInterval(() => ticks++, 10)
setTimeout(() => {
  console.log(JSON.stringify({ firedAfterMs: Math.round(performance.now() - start), ticks }))
  process.exit(0)
}, 200)

const loop = WebSockets.webSocket(
  "ws://endless.test/",
  (session) => Effect.forever(Effect.zipRight(session.send("ping"), session.receive))
)

Effect.runFork(loop.pipe(
  Effect.provide(WebSockets.layer().pipe(Layer.provide(TestEngine.layer({ handler: TestEngine.echo }))))
))
