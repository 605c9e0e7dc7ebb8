/**
 * Properties checked through a real `ws` echo server on 127.0.0.1 (docs/API.md §3, §6). Each `layer(...)` block opens one
 * server and one session for its property; every run reuses them. Runs per property are in `fastCheck.numRuns`.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { Converter, Frame } from "../../src/index.js"
import { Echo, echoLayer } from "./echoServer.js"

/** Lengths around the frame header boundaries (125/126 bytes, 64 KiB) as well as small ones. */
const lengths = fc.oneof(
  fc.integer({ min: 0, max: 16 }),
  fc.integer({ min: 120, max: 130 }),
  fc.integer({ min: 65530, max: 65540 }),
  fc.integer({ min: 0, max: 200_000 })
)

/** Unicode strings: empty, ASCII, astral code points, grapheme clusters, and long ones. */
const unicode = fc.oneof(
  fc.constant(""),
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme", maxLength: 50 }),
  fc.string({ unit: fc.constantFrom("😀", "𝄞", "🇫🇷", "\u{10FFFF}", "é", "\u0000"), maxLength: 100 }),
  lengths.chain((n) => fc.string({ unit: "binary", minLength: n >> 2, maxLength: n >> 2 }))
)

const bytes = fc.oneof(fc.uint8Array(), lengths.chain((n) => fc.uint8Array({ minLength: n, maxLength: n })))

// A nested schema: optional fields, unions (tagged and plain), nested structs and arrays, and transformations
// (Schema.Date from an ISO string, DateTime.Utc, BigInt from a string, bytes from base64, a renamed key).
const Point = Schema.Struct({ x: Schema.Int, y: Schema.Int })
const Shape = Schema.Union(
  Schema.TaggedStruct("Circle", { center: Point, radius: Schema.JsonNumber }),
  Schema.TaggedStruct("Polygon", {
    points: Schema.Array(Point),
    label: Schema.optionalWith(Schema.String, { exact: true })
  })
)
const Document = Schema.Struct({
  title: Schema.String,
  note: Schema.optionalWith(Schema.String, { exact: true }),
  score: Schema.optionalWith(Schema.NullOr(Schema.JsonNumber), { exact: true }),
  value: Schema.Union(Schema.String, Schema.Int, Schema.Boolean, Schema.Null),
  created: Schema.Date,
  stamps: Schema.Array(Schema.DateTimeUtc),
  count: Schema.BigInt,
  shapes: Schema.Array(Shape),
  owner: Schema.Struct({
    name: Schema.String,
    since: Schema.optionalWith(Schema.Date, { exact: true }),
    roles: Schema.Array(Schema.Literal("admin", "user", "guest"))
  }),
  blob: Schema.Uint8ArrayFromBase64,
  renamed: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("renamed_key"))
})
// Structural equality by the schema: dates by time, bigints by value, and 0 equals -0 (JSON has no -0).
const sameDocument = Schema.equivalence(Document)

layer(echoLayer(), { excludeTestServices: true })("echo of text messages through a real server", (it) => {
  it.effect.prop(
    "arbitrary Unicode strings (astral characters, empty) come back as the same Text message",
    [unicode],
    ([text]) =>
      Effect.gen(function*() {
        const { server, session } = yield* Echo
        expect(server.connections()).toBe(1) // one session for the whole property
        yield* session.send(text)
        expect(yield* session.receive).toEqual(Frame.text(text))
      }),
    { fastCheck: { numRuns: 200 } }
  )
})

layer(echoLayer(), { excludeTestServices: true })("echo of binary messages through a real server", (it) => {
  it.effect.prop(
    "arbitrary byte arrays come back as the same Binary message",
    [bytes],
    ([data]) =>
      Effect.gen(function*() {
        const { server, session } = yield* Echo
        expect(server.connections()).toBe(1)
        yield* session.send(data)
        const frame = yield* session.receive
        expect(frame._tag).toBe("Binary")
        expect(frame.data.length).toBe(data.length)
        expect(Buffer.compare(Buffer.from(Frame.readBytes(frame)), Buffer.from(data))).toBe(0)
      }),
    { fastCheck: { numRuns: 200 } }
  )
})

describe("sendSerialized → echo server → receiveDeserialized", () => {
  for (const [name, converter] of [["json", Converter.json], ["msgpack", Converter.msgpack]] as const) {
    layer(echoLayer({ contentConverter: converter }), { excludeTestServices: true })(`Converter.${name}`, (it) => {
      it.effect.prop(
        `arbitrary values of a nested Schema survive the round trip (Converter.${name})`,
        [Document],
        ([document]) =>
          Effect.gen(function*() {
            const { server, session } = yield* Echo
            expect(server.connections()).toBe(1)
            yield* session.sendSerialized(Document, document)
            const back = yield* session.receiveDeserialized(Document)
            if (!sameDocument(back, document)) expect(back).toEqual(document) // shows the difference
            expect(sameDocument(back, document)).toBe(true)
          }),
        { fastCheck: { numRuns: 100 } }
      )
    })
  }
})
