/** The rpc group shared by the @effect/rpc server (server.ts) and the client tests (test/Rpc.test.ts). */
import { Rpc, RpcGroup } from "@effect/rpc"
import * as Schema from "effect/Schema"

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { id: Schema.String }) {}

export class Api extends RpcGroup.make(
  /** Request / response. */
  Rpc.make("Greet", { payload: { name: Schema.String }, success: Schema.String }),
  /** A stream of `upTo` numbers, 1, 2, …. */
  Rpc.make("Count", { payload: { upTo: Schema.Number }, success: Schema.Number, stream: true }),
  /** Always fails with the typed error `NotFound`. */
  Rpc.make("Find", { payload: { id: Schema.String }, success: Schema.String, error: NotFound }),
  /** A stream that never ends: a number every 20 ms (for killing the server mid-stream). */
  Rpc.make("Ticks", { success: Schema.Number, stream: true })
) {}
