/**
 * Content converters: how `sendSerialized` turns a value into a frame and `receiveDeserialized` turns a frame
 * back into a value, both driven by an `effect/Schema`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { ParseError } from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { WebsocketDeserializeException } from "./Errors.js"
import * as Frame from "./Frame.js"

/**
 * A converter between Schema-typed values and frames.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebsocketContentConverter {
  readonly serialize: <A, I>(schema: Schema.Schema<A, I, never>, value: A) => Effect.Effect<Frame.Frame, ParseError>
  readonly deserialize: <A, I>(
    schema: Schema.Schema<A, I, never>,
    frame: Frame.Frame
  ) => Effect.Effect<A, WebsocketDeserializeException>
  readonly isApplicable: (frame: Frame.Frame) => boolean
}

// Decoding through `parseJson(schema)` keeps a single ParseError path for bad JSON and rejected values;
// the compiled codecs are cached per schema so the hot path does not rebuild them.
const jsonCodecs = new WeakMap<Schema.Schema.Any, {
  readonly encode: (value: unknown) => Effect.Effect<string, ParseError>
  readonly decode: (text: string) => Effect.Effect<unknown, ParseError>
}>()

const jsonCodec = <A, I>(schema: Schema.Schema<A, I, never>) => {
  let codec = jsonCodecs.get(schema)
  if (codec === undefined) {
    const json = Schema.parseJson(schema)
    codec = {
      encode: Schema.encode(json) as (value: unknown) => Effect.Effect<string, ParseError>,
      decode: Schema.decode(json) as (text: string) => Effect.Effect<unknown, ParseError>
    }
    jsonCodecs.set(schema, codec)
  }
  return codec as {
    readonly encode: (value: A) => Effect.Effect<string, ParseError>
    readonly decode: (text: string) => Effect.Effect<A, ParseError>
  }
}

const notApplicable = (frame: Frame.Frame, name: string) =>
  new WebsocketDeserializeException({
    message: `The ${name} converter cannot read a ${frame._tag} frame`,
    frame
  })

/**
 * JSON: values encoded by their Schema into JSON text frames. Binary frames holding UTF-8 JSON are read too.
 *
 * @since 0.1.0
 * @category converters
 */
export const json: WebsocketContentConverter = {
  serialize: (schema, value) => Effect.map(jsonCodec(schema).encode(value), (text) => Frame.text(text)),
  deserialize: (schema, frame) =>
    frame._tag === "Text" || frame._tag === "Binary"
      ? Effect.mapError(jsonCodec(schema).decode(Frame.readText(frame)), (cause) =>
        new WebsocketDeserializeException({
          message: `Could not deserialize a ${frame._tag} frame: ${cause.message}`,
          frame,
          cause
        }))
      : Effect.fail(notApplicable(frame, "JSON")),
  isApplicable: (frame) => frame._tag === "Text" || frame._tag === "Binary"
}
