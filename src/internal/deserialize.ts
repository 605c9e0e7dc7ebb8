/**
 * Reading data frames through a content converter: one rule for `receiveDeserialized` and `incomingDeserialized`, on
 * sessions and on reconnecting sessions alike.
 */
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import type { WebsocketContentConverter } from "../Converter.js"
import { WebsocketConverterNotFoundException, WebsocketDeserializeException } from "../Errors.js"
import type * as Frame from "../Frame.js"

/** Shared by all sessions (a fresh error per failure): no error object, with its stack, kept per session. */
export const converterNotFound = Effect.failSync(() => new WebsocketConverterNotFoundException())

/** Decodes a frame with `schema`, or fails when the converter cannot read that kind of frame. */
export const deserializeWith =
  <A, I>(converter: WebsocketContentConverter, schema: Schema.Schema<A, I, never>) =>
  (frame: Frame.Data): Effect.Effect<A, WebsocketDeserializeException> =>
    converter.isApplicable(frame)
      ? converter.deserialize(schema, frame)
      : Effect.fail(
        new WebsocketDeserializeException({
          message: `The content converter cannot read a ${frame._tag} frame`,
          frame
        })
      )
