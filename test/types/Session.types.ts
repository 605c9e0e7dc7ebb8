/**
 * Type-level specification of the session's serialization API (docs/API.md §6). Not run: `npm run typecheck`
 * compiles it, and a line marked `@ts-expect-error` that compiles is itself an error, so both directions are checked.
 */
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type {
  Session,
  WebsocketConverterNotFoundException,
  WebsocketDeserializeException,
  WebSocketException
} from "../../src/index.js"

/** Compiles only when `A` and `B` are the same type. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const assertType = <T extends true>(_: T): void => {}

const Subscribe = Schema.Struct({ type: Schema.Literal("subscribe"), symbol: Schema.String })
const Protocol = Schema.Union(
  Subscribe,
  Schema.Struct({ type: Schema.Literal("unsubscribe"), symbol: Schema.String })
)

export const literalFieldsNeedNoAsConst = (session: Session.DefaultClientWebSocketSession, symbol: string) =>
  Effect.gen(function*() {
    // the value's type comes from the schema: "subscribe" stays a literal, no `as const`
    yield* session.sendSerialized(Subscribe, { type: "subscribe", symbol })
    yield* session.sendSerialized(Protocol, { type: "unsubscribe", symbol })
    // @ts-expect-error a literal the schema does not allow
    yield* session.sendSerialized(Subscribe, { type: "subscrbe", symbol })
    // @ts-expect-error a missing field is not inferred into a wider schema type
    yield* session.sendSerialized(Subscribe, { type: "subscribe" })
  })

export const sendSerializedErrors = (session: Session.DefaultClientWebSocketSession) => {
  const sent = session.sendSerialized(Subscribe, { type: "subscribe", symbol: "ACME" })
  assertType<
    Equals<
      typeof sent,
      Effect.Effect<void, WebSocketException | WebsocketConverterNotFoundException | ParseResult.ParseError>
    >
  >(true)
  return sent
}

export const incomingDeserializedIsAStreamOfTheSchemaType = (session: Session.DefaultClientWebSocketSession) => {
  const messages = session.incomingDeserialized(Protocol)
  assertType<
    Equals<
      typeof messages,
      Stream.Stream<
        Schema.Schema.Type<typeof Protocol>,
        WebSocketException | WebsocketConverterNotFoundException | WebsocketDeserializeException
      >
    >
  >(true)
  return messages
}
