/**
 * A real @effect/rpc server over WebSockets, built as @effect/rpc's README shows (HttpRouter + RpcServer +
 * @effect/platform-node's HTTP server), on 127.0.0.1 and a free port, which it prints on stdout once listening.
 * Run in a child process by test/Rpc.test.ts (`node --import tsx test/rpc/server.ts`), so that the test can kill it.
 */
import { HttpRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { RpcSerialization, RpcServer } from "@effect/rpc"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"
import { Api, NotFound } from "./api.js"

const Handlers = Api.toLayer({
  Greet: ({ name }) => Effect.succeed(`Hello, ${name}!`),
  Count: ({ upTo }) => Stream.range(1, upTo),
  Find: ({ id }) => Effect.fail(new NotFound({ id })),
  Ticks: () => Stream.iterate(1, (n) => n + 1).pipe(Stream.schedule(Schedule.spaced("20 millis")))
})

const PrintPort = Layer.effectDiscard(
  Effect.flatMap(HttpServer.HttpServer, (server) =>
    Effect.sync(() => {
      if (server.address._tag === "TcpAddress") process.stdout.write(`${server.address.port}\n`)
    }))
)

const Main = HttpRouter.Default.serve().pipe(
  Layer.merge(PrintPort),
  Layer.provide(RpcServer.layer(Api).pipe(Layer.provide(Handlers))),
  Layer.provide(RpcServer.layerProtocolWebsocket({ path: "/rpc" }).pipe(Layer.provide(RpcSerialization.layerJson))),
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

// the parent closes our stdin when it is done: exit then, so that no server outlives the test run
process.stdin.on("end", () => process.exit(0))
process.stdin.resume()

NodeRuntime.runMain(Layer.launch(Main))
