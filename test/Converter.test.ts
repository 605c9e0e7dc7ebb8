import * as MsgPack from "@effect/platform/MsgPack"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Converter, Frame, WebsocketDeserializeException } from "../src/index.js"

class User extends Schema.Class<User>("User")({
  name: Schema.String,
  age: Schema.Int,
  joined: Schema.Date,
  nick: Schema.optional(Schema.String)
}) {}

const user = new User({ name: "Ada", age: 36, joined: new Date("2024-01-02T03:04:05.006Z") })
const userJson = `{"name":"Ada","age":36,"joined":"2024-01-02T03:04:05.006Z"}`
const unpack = Schema.decodeSync(MsgPack.schema(Schema.Unknown))
const pack = Schema.encodeSync(MsgPack.schema(Schema.Unknown))

/** Runs a failing deserialization and returns its error, checking it is a WebsocketDeserializeException. */
const deserializeError = <A, I>(
  converter: Converter.WebsocketContentConverter,
  schema: Schema.Schema<A, I>,
  frame: Frame.Frame
) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(converter.deserialize(schema, frame))
    expect(error).toBeInstanceOf(WebsocketDeserializeException)
    expect(error._tag).toBe("WebsocketDeserializeException")
    expect(error.frame).toBe(frame)
    return error
  })

describe("Converter.json (docs/API.md §6)", () => {
  it.effect("serialize encodes the value with its schema into a JSON Text frame", () =>
    Effect.gen(function*() {
      const frame = yield* Converter.json.serialize(User, user)
      expect(frame).toEqual(Frame.text(userJson))
    }))

  it.effect("deserialize decodes a JSON Text frame with the schema", () =>
    Effect.gen(function*() {
      const value = yield* Converter.json.deserialize(User, Frame.text(userJson))
      expect(value).toEqual(user)
      expect(value).toBeInstanceOf(User)
    }))

  it.effect("deserialize also accepts a Binary frame holding UTF-8 JSON", () =>
    Effect.gen(function*() {
      const value = yield* Converter.json.deserialize(User, Frame.binary(new TextEncoder().encode(userJson)))
      expect(value).toEqual(user)
    }))

  it.effect("malformed JSON fails with WebsocketDeserializeException carrying the frame and the ParseError", () =>
    Effect.gen(function*() {
      const error = yield* deserializeError(Converter.json, User, Frame.text("{\"name\":"))
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(error.message).toContain("Could not deserialize a Text frame")
    }))

  it.effect("a value the schema rejects fails with WebsocketDeserializeException carrying the ParseError", () =>
    Effect.gen(function*() {
      const error = yield* deserializeError(Converter.json, User, Frame.text(`{"name":"Ada","age":1.5,"joined":"x"}`))
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(error.message).toContain("age")
    }))

  it.effect("a Binary frame that is not UTF-8 fails with WebsocketDeserializeException, not a silent replacement", () =>
    Effect.gen(function*() {
      const frame = Frame.binary(new Uint8Array([0x22, 0xff, 0x22]))
      const error = yield* deserializeError(Converter.json, Schema.String, frame)
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(error.message).toContain("not valid UTF-8")
    }))

  it.effect("a control frame is not applicable and fails with WebsocketDeserializeException", () =>
    Effect.gen(function*() {
      expect(Converter.json.isApplicable(Frame.ping())).toBe(false)
      expect(Converter.json.isApplicable(Frame.text("1"))).toBe(true)
      expect(Converter.json.isApplicable(Frame.binary(new Uint8Array()))).toBe(true)
      const error = yield* deserializeError(Converter.json, Schema.Number, Frame.ping())
      expect(error.message).toContain("cannot read a Ping frame")
    }))

  it.effect("serialize fails with the ParseError when the schema cannot encode the value", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Converter.json.serialize(Schema.Int, 1.5))
      expect(ParseResult.isParseError(error)).toBe(true)
    }))
})

describe("Converter.msgpack (docs/API.md §6, @effect/platform MsgPack)", () => {
  it.effect("serialize packs the schema's encoded value into a Binary frame", () =>
    Effect.gen(function*() {
      const frame = yield* Converter.msgpack.serialize(User, user)
      expect(frame._tag).toBe("Binary")
      expect(unpack(Frame.readBytes(frame))).toEqual(JSON.parse(userJson))
    }))

  it.effect("deserialize unpacks a Binary frame and decodes it with the schema", () =>
    Effect.gen(function*() {
      const frame = yield* Converter.msgpack.serialize(User, user)
      expect(yield* Converter.msgpack.deserialize(User, frame)).toEqual(user)
      const nested = Schema.Struct({ xs: Schema.Array(Schema.NullOr(Schema.Number)), b: Schema.Uint8ArrayFromSelf })
      const value = { xs: [1, null, 2.5], b: new Uint8Array([1, 2, 3]) }
      const back = yield* Converter.msgpack.deserialize(nested, yield* Converter.msgpack.serialize(nested, value))
      expect(back.xs).toEqual(value.xs)
      expect(Array.from(back.b)).toEqual([1, 2, 3]) // msgpackr hands bytes back as a Buffer, a Uint8Array subclass
    }))

  it.effect("only Binary frames are applicable: a Text frame fails with WebsocketDeserializeException", () =>
    Effect.gen(function*() {
      expect(Converter.msgpack.isApplicable(Frame.binary(new Uint8Array()))).toBe(true)
      expect(Converter.msgpack.isApplicable(Frame.text("{}"))).toBe(false)
      const error = yield* deserializeError(Converter.msgpack, Schema.String, Frame.text("\"hi\""))
      expect(error.message).toContain("cannot read a Text frame")
    }))

  it.effect("malformed MessagePack fails with WebsocketDeserializeException carrying the ParseError", () =>
    Effect.gen(function*() {
      // an array header announcing two items, followed by only one
      const frame = Frame.binary(new Uint8Array([0x92, 0x01]))
      const error = yield* deserializeError(Converter.msgpack, Schema.Unknown, frame)
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(error.message).toContain("Unexpected end of MessagePack data")
    }))

  it.effect("a value the schema rejects fails with WebsocketDeserializeException carrying the ParseError", () =>
    Effect.gen(function*() {
      const frame = Frame.binary(pack({ name: 1 }))
      const error = yield* deserializeError(Converter.msgpack, User, frame)
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(error.message).toContain("name")
    }))
})

/** A recursive schema: each level of nesting is one more recursion of the decoder. */
interface Tree {
  readonly children: ReadonlyArray<Tree>
}
const Tree: Schema.Schema<Tree> = Schema.Struct({ children: Schema.Array(Schema.suspend(() => Tree)) })
const nestedTree = (depth: number): string => "{\"children\":[".repeat(depth) + "{\"children\":[]}" + "]}".repeat(depth)
const AnyRecord = Schema.Record({ key: Schema.String, value: Schema.Unknown })

describe("Converter.json refuses hostile JSON without a defect (README: Serialization)", () => {
  it.effect("100,000 levels of nesting, recursive schema: WebsocketDeserializeException, not a stack overflow", () =>
    Effect.gen(function*() {
      const text = nestedTree(100_000)
      for (const frame of [Frame.text(text), Frame.binary(new TextEncoder().encode(text))]) {
        const error = yield* deserializeError(Converter.json, Tree, frame)
        expect(ParseResult.isParseError(error.cause)).toBe(true)
        expect(error.message).toContain("nested too deeply")
      }
      // a shallow tree still decodes with the same schema
      expect(yield* Converter.json.deserialize(Tree, Frame.text(nestedTree(50)))).toBeDefined()
    }))

  it.effect("a __proto__ key never becomes the prototype of a decoded object (Schema.Record)", () =>
    Effect.gen(function*() {
      for (
        const text of [
          `{"__proto__":{"polluted":"yes"},"a":1}`,
          // the same key written with escapes
          `{"\\u005f_proto__":{"polluted":"yes"},"a":1}`,
          `{"__pr\\u006Fto__":{"polluted":"yes"},"a":1}`,
          `{"nested":{"__proto__":{"polluted":"yes"}},"a":1}`
        ]
      ) {
        const value = (yield* Converter.json.deserialize(AnyRecord, Frame.text(text))) as Record<string, unknown>
        expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
        expect((value as { polluted?: unknown }).polluted).toBeUndefined()
        expect(value["a"]).toBe(1)
        const nested = value["nested"] as Record<string, unknown> | undefined
        if (nested !== undefined) expect(Object.getPrototypeOf(nested)).toBe(Object.prototype)
        expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
      }
      // text that merely mentions __proto__ in a value is untouched
      const value = yield* Converter.json.deserialize(AnyRecord, Frame.text(`{"k":"__proto__ \\u00e9"}`))
      expect(value).toEqual({ k: "__proto__ é" })
    }))

  it.effect("NaN and ±Infinity are refused with a ParseError naming them, not sent as null", () =>
    Effect.gen(function*() {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const error = yield* Effect.flip(Converter.json.serialize(Schema.Number, bad))
        expect(ParseResult.isParseError(error)).toBe(true)
        expect(error.message).toContain(`${bad} cannot be represented in JSON`)
        const nested = yield* Effect.flip(
          Converter.json.serialize(Schema.Struct({ xs: Schema.Array(Schema.Number) }), { xs: [1, bad] })
        )
        expect(nested.message).toContain(`${bad} cannot be represented in JSON`)
      }
      // null itself, and strings holding "null", still go out
      const frame = yield* Converter.json.serialize(Schema.Struct({ a: Schema.Null, b: Schema.String }), {
        a: null,
        b: "null"
      })
      expect(frame).toEqual(Frame.text(`{"a":null,"b":"null"}`))
    }))
})

describe("Converter.msgpack refuses malformed MessagePack (README: Serialization)", () => {
  it.effect("the reserved byte 0xC1 as a value is a WebsocketDeserializeException, wherever it stands", () =>
    Effect.gen(function*() {
      for (const bytes of [[0xc1], [0x92, 0x01, 0xc1], [0x81, 0xa1, 0x61, 0xc1], [0x81, 0xc1, 0x01]]) {
        const error = yield* deserializeError(Converter.msgpack, Schema.Unknown, Frame.binary(Uint8Array.from(bytes)))
        expect(ParseResult.isParseError(error.cause)).toBe(true)
        expect(error.message).toContain("0xC1")
      }
    }))

  it.effect("0xC1 inside a number, a string or binary data is data, not a reserved type byte", () =>
    Effect.gen(function*() {
      const value = { n: 0xc1, s: "\u00c1", b: new Uint8Array([0xc1, 0xc1]), f: -1.5e-300 }
      const frame = Frame.binary(pack(value))
      expect(Array.from(Frame.readBytes(frame))).toContain(0xc1)
      const back = (yield* Converter.msgpack.deserialize(Schema.Unknown, frame)) as typeof value
      expect(back.n).toBe(0xc1)
      expect(back.s).toBe("\u00c1")
      expect(Array.from(back.b)).toEqual([0xc1, 0xc1])
      expect(back.f).toBe(-1.5e-300)
    }))

  it.effect("truncated MessagePack (with or without a 0xC1 byte) and trailing bytes are refused", () =>
    Effect.gen(function*() {
      for (
        const bytes of [[], [0xa5, 0x61], [0x93, 0x01], [0xcd, 0x01], [0xc5, 0x00, 0x03, 0xc1], [0x92, 0xcc], [1, 2]]
      ) {
        const error = yield* deserializeError(Converter.msgpack, Schema.Unknown, Frame.binary(Uint8Array.from(bytes)))
        expect(ParseResult.isParseError(error.cause)).toBe(true)
      }
    }))
})
