/**
 * `npx tsx examples/rpc.ts`: an @effect/rpc call over this library's sessions.
 *
 * `WebSockets.layerSocket(url)` is the `Socket` under `RpcClient.layerProtocolSocket()`: the rpc protocol runs with
 * the plugin's pinger, `maxFrameSize` and backpressure, and a dropped connection reaches the client as an
 * `RpcClientError` whose cause is the library's `WebSocketException`. The server here is a plain @effect/rpc server
 * over WebSockets (@effect/platform-node), started in the same process on a free loopback port.
 */
import { HttpRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { Chunk, Console, Effect, Layer, Schema, Stream } from "effect"
import { createServer } from "node:http"
import { NodeEngine, WebSockets } from "../src/index.js"

class Api extends RpcGroup.make(
  Rpc.make("Greet", { payload: { name: Schema.String }, success: Schema.String }),
  Rpc.make("Count", { payload: { upTo: Schema.Number }, success: Schema.Number, stream: true })
) {}

// --- the server: @effect/rpc over WebSockets, as its README shows ----------------------------------------------
const ServerLive = HttpRouter.Default.serve().pipe(
  Layer.provide(
    RpcServer.layer(Api).pipe(Layer.provide(Api.toLayer({
      Greet: ({ name }) => Effect.succeed(`Hello, ${name}!`),
      Count: ({ upTo }) => Stream.range(1, upTo)
    })))
  ),
  Layer.provide(RpcServer.layerProtocolWebsocket({ path: "/rpc" }).pipe(Layer.provide(RpcSerialization.layerJson))),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

// --- the client: RpcClient over WebSockets.layerSocket ----------------------------------------------------------
const clientLayer = (url: string) =>
  RpcClient.layerProtocolSocket().pipe(
    Layer.provide(WebSockets.layerSocket(url)),
    Layer.provide(RpcSerialization.layerJson),
    Layer.provide(WebSockets.layer({ pingInterval: "10 seconds" }).pipe(Layer.provide(NodeEngine.layer)))
  )

const program = Effect.gen(function*() {
  const address = yield* HttpServer.HttpServer.pipe(Effect.map((server) => server.address))
  const port = address._tag === "TcpAddress" ? address.port : 0
  yield* Effect.gen(function*() {
    const client = yield* RpcClient.make(Api)
    yield* Console.log(yield* client.Greet({ name: "Ada" }))
    const counted = yield* Stream.runCollect(client.Count({ upTo: 5 }))
    yield* Console.log(`Count streamed ${Chunk.join(Chunk.map(counted, String), ", ")}`)
  }).pipe(Effect.scoped, Effect.provide(clientLayer(`ws://127.0.0.1:${port}/rpc`)))
})

Effect.runPromise(program.pipe(Effect.provide(ServerLive)))
