/**
 * Content converters: how `sendSerialized` turns a value into a frame and `receiveDeserialized` turns a frame
 * back into a value, both driven by an `effect/Schema` (Ktor's `WebsocketContentConverter`).
 *
 * - `json`: JSON text frames (Binary frames holding UTF-8 JSON are read too).
 * - `msgpack`: MessagePack binary frames, through `@effect/platform/MsgPack`.
 *
 * A converter never throws: encoding failures are `ParseError`s, decoding failures are
 * `WebsocketDeserializeException`s that carry the frame and, when the payload was read, the `ParseError` as `cause`.
 * That holds for hostile input too: a value nested too deeply for a recursive schema, MessagePack with the reserved
 * byte 0xC1 or cut short. JSON `__proto__` keys are dropped (internal/json.ts), and `json` refuses NaN and ±Infinity,
 * which JSON cannot carry, instead of sending `null`.
 *
 * @since 0.1.0
 */
import * as MsgPack from "@effect/platform/MsgPack"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { WebsocketDeserializeException } from "./Errors.js"
import * as Frame from "./Frame.js"
import * as Json from "./internal/json.js"
import * as MsgPackCheck from "./internal/msgpack.js"

/**
 * A converter between Schema-typed values and frames.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebsocketContentConverter {
  /** Encodes `value` with `schema` into one frame. */
  readonly serialize: <A, I>(schema: Schema.Schema<A, I, never>, value: A) => Effect.Effect<Frame.Frame, ParseError>
  /** Decodes `frame` with `schema`; fails with the frame (and the `ParseError` as `cause`) when it cannot. */
  readonly deserialize: <A, I>(
    schema: Schema.Schema<A, I, never>,
    frame: Frame.Frame
  ) => Effect.Effect<A, WebsocketDeserializeException>
  /** Whether this converter can read `frame` at all (its frame type). */
  readonly isApplicable: (frame: Frame.Frame) => boolean
}

type ParseError = ParseResult.ParseError

/** An encoder and a decoder compiled once for a schema. */
interface Codec<A, P> {
  readonly encode: (value: A) => Effect.Effect<P, ParseError>
  readonly decode: (payload: P) => Effect.Effect<A, ParseError>
}

/**
 * Compiles the codec of a wire schema once per user schema: the hot path (one value per message) then only runs the
 * compiled parser. Schemas are immutable values, so a `WeakMap` keyed by the schema is a safe cache.
 */
const cachedCodec = <P>(
  build: (schema: Schema.Schema<any, any, never>) => Schema.Schema<any, P, never>
) => {
  const cache = new WeakMap<Schema.Schema.Any, Codec<any, P>>()
  return <A, I>(schema: Schema.Schema<A, I, never>): Codec<A, P> => {
    let codec = cache.get(schema)
    if (codec === undefined) {
      const wire = build(schema)
      codec = { encode: Schema.encode(wire), decode: Schema.decode(wire) }
      cache.set(schema, codec)
    }
    return codec
  }
}

const fatalDecoder = new TextDecoder("utf-8", { fatal: true })
const encoder = new TextEncoder()

/**
 * UTF-8 bytes ⇄ string, failing (as a `ParseError`) on bytes that are not valid UTF-8 instead of replacing them.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Utf8String: Schema.Schema<string, Uint8Array> = Schema.transformOrFail(
  Schema.Uint8ArrayFromSelf,
  Schema.String,
  {
    strict: true,
    decode: (bytes, _, ast) => {
      try {
        return ParseResult.succeed(fatalDecoder.decode(bytes))
      } catch {
        return ParseResult.fail(new ParseResult.Type(ast, bytes, "The payload is not valid UTF-8"))
      }
    },
    encode: (s) => ParseResult.succeed(encoder.encode(s))
  }
).annotations({ identifier: "Utf8String" })

/** The issue `Schema.parseJson` reports when JSON.parse / JSON.stringify throws, with the same AST. */
const parseJsonAst = Schema.parseJson().ast
const jsonFailure = (actual: unknown, error: unknown): ParseError =>
  new ParseResult.ParseError({
    issue: new ParseResult.Type(parseJsonAst, actual, error instanceof Error ? error.message : String(error))
  })

const stringify = (encoded: unknown): Either.Either<string, ParseError> => {
  try {
    const text: unknown = JSON.stringify(encoded)
    // JSON.stringify(undefined) is undefined: parseJson rejects it as not a string, so does this
    if (typeof text !== "string") {
      return Either.left(new ParseResult.ParseError({ issue: new ParseResult.Type(Schema.String.ast, text) }))
    }
    // NaN and ±Infinity would go out as null, which the same schema rejects on the other side: refuse them here
    const nonFinite = Json.nonFinite(encoded, text)
    return nonFinite === undefined ? Either.right(text) : Either.left(jsonFailure(encoded, nonFinite))
  } catch (error) {
    return Either.left(jsonFailure(encoded, error))
  }
}

const parse = (text: string): Either.Either<unknown, ParseError> => {
  try {
    return Either.right(Json.parse(text))
  } catch (error) {
    return Either.left(jsonFailure(text, error))
  }
}

const tooDeep = (actual: unknown): ParseError =>
  new ParseResult.ParseError({
    issue: new ParseResult.Type(parseJsonAst, actual, "The value is nested too deeply to be processed")
  })

/**
 * Runs a schema's encoder or decoder so that a stack overflow (a recursive schema over a deeply nested value)
 * becomes a ParseError instead of a defect. A synchronous schema throws while it is called; an asynchronous one
 * could only throw once its Effect runs, hence the second guard.
 */
const guarded = <In, Out>(
  run: (input: In) => Effect.Effect<Out, ParseError>,
  input: In
): Effect.Effect<Out, ParseError> => {
  let result: Effect.Effect<Out, ParseError>
  try {
    result = run(input)
  } catch (error) {
    if (Json.isStackOverflow(error)) return Either.left(tooDeep(input))
    throw error
  }
  return Either.isEither(result)
    ? result
    : Effect.catchSomeDefect(
      result,
      (defect) => Json.isStackOverflow(defect) ? Option.some(Effect.fail(tooDeep(input))) : Option.none()
    )
}

/**
 * JSON text ⇄ value: the same result as `Schema.parseJson(schema)`, but the schema codec and JSON.parse /
 * JSON.stringify run side by side instead of as one composed transformation, and a synchronous schema's result
 * stays an `Either` (which is an Effect) all the way: this is the per-message path of `sendSerialized` /
 * `receiveDeserialized`, and the composed form costs about twice the schema work.
 */
const jsonTextCache = new WeakMap<Schema.Schema.Any, Codec<any, string>>()
const jsonText = <A, I>(schema: Schema.Schema<A, I, never>): Codec<A, string> => {
  const cached = jsonTextCache.get(schema)
  if (cached !== undefined) return cached
  const encode = Schema.encode(schema)
  const decode = Schema.decodeUnknown(schema)
  const codec: Codec<A, string> = {
    encode: (value) => {
      const encoded = guarded(encode, value)
      return Either.isEither(encoded)
        ? Either.flatMap(encoded as Either.Either<I, ParseError>, stringify)
        : Effect.flatMap(encoded, stringify)
    },
    decode: (text) => {
      const json = parse(text)
      return Either.isLeft(json) ? Either.left(json.left) : guarded(decode, json.right)
    }
  }
  jsonTextCache.set(schema, codec)
  return codec
}
// `@__PURE__`: a bundle that never uses `json` drops this call
const readUtf8 = /* @__PURE__ */ Schema.decodeEither(Utf8String)

/** A Binary frame holding UTF-8 JSON: checked as UTF-8, then read exactly as a Text frame is. */
const jsonBytes = <A, I>(schema: Schema.Schema<A, I, never>, bytes: Uint8Array): Effect.Effect<A, ParseError> => {
  const text = readUtf8(bytes)
  return Either.isLeft(text) ? Either.left(text.left) : jsonText(schema).decode(text.right)
}

// `@__PURE__`: a bundle that never uses `msgpack` drops these calls, and with them `@effect/platform/MsgPack` and msgpackr
const msgpackBytes = /* @__PURE__ */ cachedCodec((schema) => MsgPack.schema(schema))

/**
 * MessagePack bytes decoded with `schema`. msgpackr decodes the reserved byte 0xC1 as a sentinel object rather than
 * failing, so bytes holding 0xC1 anywhere get the structural check first (see internal/msgpack.ts).
 */
const msgpackDecode = <A, I>(schema: Schema.Schema<A, I, never>, bytes: Uint8Array): Effect.Effect<A, ParseError> => {
  if (bytes.indexOf(0xc1) !== -1) {
    const problem = MsgPackCheck.malformation(bytes)
    if (problem !== undefined) {
      return Either.left(
        new ParseResult.ParseError({ issue: new ParseResult.Type(Schema.Uint8ArrayFromSelf.ast, bytes, problem) })
      )
    }
  }
  return guarded(msgpackBytes(schema).decode, bytes)
}

const notApplicable = (frame: Frame.Frame, name: string) =>
  new WebsocketDeserializeException({
    message: `The ${name} converter cannot read a ${frame._tag} frame`,
    frame
  })

const deserializeFailure = (frame: Frame.Frame) => (cause: ParseError) =>
  new WebsocketDeserializeException({
    message: `Could not deserialize a ${frame._tag} frame: ${cause.message}`,
    frame,
    cause
  })

const toText = (text: string): Frame.Frame => Frame.text(text)

/** The decoded value, or the failure with its frame; an Either stays an Either (no closure, no Effect step). */
const readTextFrame = <A>(
  decoded: Effect.Effect<A, ParseError>,
  frame: Frame.Frame
): Effect.Effect<A, WebsocketDeserializeException> => {
  if (!Either.isEither(decoded)) return Effect.mapError(decoded, deserializeFailure(frame))
  const either = decoded as Either.Either<A, ParseError>
  // a Right carries no error: its ParseError type is only a phantom
  return Either.isRight(either)
    ? (either as unknown as Effect.Effect<A>)
    : Either.left(deserializeFailure(frame)(either.left))
}

/**
 * JSON: values encoded by their Schema into JSON text frames. Binary frames holding UTF-8 JSON are read too.
 *
 * @since 0.1.0
 * @category converters
 */
export const json: WebsocketContentConverter = {
  serialize: (schema, value) => {
    const text = jsonText(schema).encode(value)
    // a synchronous schema gives an Either: map it as one, without an Effect step per message
    return Either.isEither(text)
      ? Either.map(text as Either.Either<string, ParseError>, toText)
      : Effect.map(text, toText)
  },
  deserialize: (schema, frame) =>
    frame._tag === "Text"
      ? readTextFrame(jsonText(schema).decode(frame.data), frame)
      : frame._tag === "Binary"
      ? readTextFrame(jsonBytes(schema, frame.data), frame)
      : Effect.fail(notApplicable(frame, "JSON")),
  isApplicable: (frame) => frame._tag === "Text" || frame._tag === "Binary"
}

/**
 * MessagePack: values encoded by their Schema, then packed into binary frames with `@effect/platform/MsgPack`.
 * Only Binary frames are read: MessagePack is not text, so a Text frame is refused.
 *
 * @since 0.1.0
 * @category converters
 */
export const msgpack: WebsocketContentConverter = {
  serialize: (schema, value) => Effect.map(guarded(msgpackBytes(schema).encode, value), (bytes) => Frame.binary(bytes)),
  deserialize: (schema, frame) =>
    frame._tag === "Binary"
      ? Effect.mapError(msgpackDecode(schema, frame.data), deserializeFailure(frame))
      : Effect.fail(notApplicable(frame, "MessagePack")),
  isApplicable: (frame) => frame._tag === "Binary"
}
