/**
 * sendSerialized / receiveDeserialized against a real `ws` server on 127.0.0.1 (docs/API.md §3, §6), and the
 * serialization scenarios of Ktor's client WebSockets tests.
 */
import * as MsgPack from "@effect/platform/MsgPack"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Converter, Frame, WebsocketConverterNotFoundException, WebsocketDeserializeException } from "../src/index.js"
import { connected } from "./properties/echoServer.js"

const Message = Schema.Struct({
  id: Schema.Int,
  text: Schema.String,
  sentAt: Schema.Date
})

const message = { id: 7, text: "hello 👋", sentAt: new Date("2025-06-01T12:00:00.000Z") }

/** Fails the test unless `self` fails with a WebsocketDeserializeException; returns it. */
const deserializeError = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(self)
    expect(error).toBeInstanceOf(WebsocketDeserializeException)
    return error as WebsocketDeserializeException
  })

describe("no content converter installed (docs/API.md §6)", () => {
  it.scopedLive("sendSerialized fails with WebsocketConverterNotFoundException and sends nothing", () =>
    Effect.gen(function*() {
      const { server, session } = yield* connected({})
      expect(Option.isNone(session.converter)).toBe(true)
      const error = yield* Effect.flip(session.sendSerialized(Message, message))
      expect(error).toBeInstanceOf(WebsocketConverterNotFoundException)
      expect(error._tag).toBe("WebsocketConverterNotFoundException")
      expect(error.message).toBe("No converter was found for websocket")
      // the session stays usable: the next message goes through, and is the first the server saw
      yield* session.send("still open")
      expect(Frame.readText(yield* session.receive)).toBe("still open")
      expect(server.received.map((m) => m.data.toString())).toEqual(["still open"])
    }))

  it.scopedLive("receiveDeserialized fails with WebsocketConverterNotFoundException and consumes no message", () =>
    Effect.gen(function*() {
      const { session } = yield* connected({})
      yield* session.send("waiting")
      const error = yield* Effect.flip(session.receiveDeserialized(Message))
      expect(error).toBeInstanceOf(WebsocketConverterNotFoundException)
      expect(error.message).toBe("No converter was found for websocket")
      expect(yield* session.receive).toEqual(Frame.text("waiting"))
    }))
})

describe("Converter.json over a real server (docs/API.md §6)", () => {
  it.scopedLive("the installed converter is session.converter; sendSerialized sends the schema's JSON as text", () =>
    Effect.gen(function*() {
      const { server, session } = yield* connected({ contentConverter: Converter.json })
      expect(session.converter).toEqual(Option.some(Converter.json))
      yield* session.sendSerialized(Message, message)
      const back = yield* session.receiveDeserialized(Message)
      expect(back).toEqual(message)
      expect(server.received).toHaveLength(1)
      expect(server.received[0]!.isBinary).toBe(false)
      expect(JSON.parse(server.received[0]!.data.toString())).toEqual({
        id: 7,
        text: "hello 👋",
        sentAt: "2025-06-01T12:00:00.000Z"
      })
    }))

  it.scopedLive("malformed JSON: WebsocketDeserializeException with the frame and ParseError; next one reads", () =>
    Effect.gen(function*() {
      const { session } = yield* connected({ contentConverter: Converter.json })
      yield* session.send("{\"id\": 1, \"text\": ")
      yield* session.sendSerialized(Message, message)
      const error = yield* deserializeError(session.receiveDeserialized(Message))
      expect(error.frame).toEqual(Frame.text("{\"id\": 1, \"text\": "))
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(yield* session.receiveDeserialized(Message)).toEqual(message)
    }))

  it.scopedLive("a value the schema rejects: WebsocketDeserializeException with the ParseError; next one reads", () =>
    Effect.gen(function*() {
      const { session } = yield* connected({ contentConverter: Converter.json })
      const wrong = JSON.stringify({ id: 1.5, text: "x", sentAt: "2025-06-01T12:00:00.000Z" })
      yield* session.send(wrong)
      yield* session.sendSerialized(Message, message)
      const error = yield* deserializeError(session.receiveDeserialized(Message))
      expect(error.frame).toEqual(Frame.text(wrong))
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(String(error.message)).toContain("id")
      expect(yield* session.receiveDeserialized(Message)).toEqual(message)
    }))

  it.scopedLive("a Binary frame holding UTF-8 JSON is read too", () =>
    Effect.gen(function*() {
      const { session } = yield* connected({ contentConverter: Converter.json })
      yield* session.send(new TextEncoder().encode(JSON.stringify({ id: 2, text: "bin", sentAt: "2025-01-01" })))
      expect(yield* session.receiveDeserialized(Message))
        .toEqual({ id: 2, text: "bin", sentAt: new Date("2025-01-01") })
    }))

  it.scopedLive("sendSerialized fails with the ParseError when the schema cannot encode the value; sends nothing", () =>
    Effect.gen(function*() {
      const { server, session } = yield* connected({ contentConverter: Converter.json })
      const error = yield* Effect.flip(session.sendSerialized(Message, { ...message, id: 0.5 }))
      expect(ParseResult.isParseError(error)).toBe(true)
      yield* session.sendSerialized(Message, message)
      expect(yield* session.receiveDeserialized(Message)).toEqual(message)
      expect(server.received).toHaveLength(1)
    }))
})

describe("Converter.msgpack over a real server (docs/API.md §6)", () => {
  const unpack = Schema.decodeSync(MsgPack.schema(Schema.Unknown))

  it.scopedLive("sendSerialized sends a MessagePack Binary frame; receiveDeserialized decodes the echo", () =>
    Effect.gen(function*() {
      const { server, session } = yield* connected({ contentConverter: Converter.msgpack })
      yield* session.sendSerialized(Message, message)
      expect(yield* session.receiveDeserialized(Message)).toEqual(message)
      expect(server.received[0]!.isBinary).toBe(true)
      expect(unpack(server.received[0]!.data))
        .toEqual({ id: 7, text: "hello 👋", sentAt: "2025-06-01T12:00:00.000Z" })
    }))

  it.scopedLive("a frame the converter cannot take (Text): WebsocketDeserializeException with it; next reads", () =>
    Effect.gen(function*() {
      const { session } = yield* connected({ contentConverter: Converter.msgpack })
      yield* session.send("{\"id\": 1}")
      yield* session.sendSerialized(Message, message)
      const error = yield* deserializeError(session.receiveDeserialized(Message))
      expect(error.frame).toEqual(Frame.text("{\"id\": 1}"))
      expect(error.message).toContain("cannot read a Text frame")
      expect(yield* session.receiveDeserialized(Message)).toEqual(message)
    }))

  it.scopedLive("malformed MessagePack: WebsocketDeserializeException with the ParseError; next message reads", () =>
    Effect.gen(function*() {
      const { session } = yield* connected({ contentConverter: Converter.msgpack })
      yield* session.send(new Uint8Array([0x93, 0x01]))
      yield* session.sendSerialized(Message, message)
      const error = yield* deserializeError(session.receiveDeserialized(Message))
      expect(error.frame._tag).toBe("Binary")
      expect(Array.from(Frame.readBytes(error.frame))).toEqual([0x93, 0x01])
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(yield* session.receiveDeserialized(Message)).toEqual(message)
    }))
})

describe("Ktor serialization scenarios", () => {
  it.scopedLive("100 rounds of sendSerialized / receiveDeserialized of a typed value", () =>
    Effect.gen(function*() {
      const { server, session } = yield* connected({ contentConverter: Converter.json })
      for (let i = 0; i < 100; i++) {
        const value = { id: i, text: `message ${i}`, sentAt: new Date(Date.UTC(2025, 0, 1, 0, 0, i)) }
        yield* session.sendSerialized(Message, value)
        expect(yield* session.receiveDeserialized(Message)).toEqual(value)
      }
      expect(server.received).toHaveLength(100)
    }))

  it.scopedLive("a null value with Schema.NullOr is sent as JSON null and read back as null", () =>
    Effect.gen(function*() {
      const { server, session } = yield* connected({ contentConverter: Converter.json })
      const MaybeMessage = Schema.NullOr(Message)
      yield* session.sendSerialized(MaybeMessage, null)
      expect(yield* session.receiveDeserialized(MaybeMessage)).toBeNull()
      expect(server.received[0]!.data.toString()).toBe("null")
      yield* session.sendSerialized(MaybeMessage, message)
      expect(yield* session.receiveDeserialized(MaybeMessage)).toEqual(message)
    }))

  it.scopedLive("the JSON carries the field names the schema encodes (Schema.fromKey), as seen by the server", () =>
    Effect.gen(function*() {
      const Account = Schema.Struct({
        userName: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("user_name")),
        createdAt: Schema.propertySignature(Schema.Date).pipe(Schema.fromKey("created_at")),
        isAdmin: Schema.optionalWith(Schema.Boolean, { default: () => false }).pipe(Schema.fromKey("is_admin"))
      })
      // the server checks the names itself and answers with a message of its own in the same encoding
      const { server, session } = yield* connected({ contentConverter: Converter.json }, (socket, { data }) => {
        const json = JSON.parse(data.toString())
        const keys = Object.keys(json).sort()
        socket.send(JSON.stringify({ keys, user_name: json.user_name.toUpperCase(), created_at: json.created_at }))
      })
      yield* session.sendSerialized(Account, { userName: "ktor", createdAt: new Date(0), isAdmin: true })
      const Reply = Schema.extend(Account, Schema.Struct({ keys: Schema.Array(Schema.String) }))
      const reply = yield* session.receiveDeserialized(Reply)
      expect(reply.keys).toEqual(["created_at", "is_admin", "user_name"])
      expect(JSON.parse(server.received[0]!.data.toString())).toEqual({
        user_name: "ktor",
        created_at: "1970-01-01T00:00:00.000Z",
        is_admin: true
      })
      expect(reply).toEqual({
        keys: ["created_at", "is_admin", "user_name"],
        userName: "KTOR",
        createdAt: new Date(0),
        isAdmin: false
      })
    }))
})

describe("hostile and unrepresentable values over a real socket (README: Serialization)", () => {
  interface Tree {
    readonly children: ReadonlyArray<Tree>
  }
  const Tree: Schema.Schema<Tree> = Schema.Struct({ children: Schema.Array(Schema.suspend(() => Tree)) })

  it.scopedLive("100,000-level nested JSON, recursive schema: WebsocketDeserializeException; next one reads", () =>
    Effect.gen(function*() {
      const { session } = yield* connected({ contentConverter: Converter.json })
      const depth = 100_000
      yield* session.send("{\"children\":[".repeat(depth) + "{\"children\":[]}" + "]}".repeat(depth))
      yield* session.sendSerialized(Tree, { children: [{ children: [] }] })
      const error = yield* deserializeError(session.receiveDeserialized(Tree))
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(error.message).toContain("nested too deeply")
      expect(yield* session.receiveDeserialized(Tree)).toEqual({ children: [{ children: [] }] })
    }))

  it.scopedLive("{\"__proto__\": …} read with Schema.Record gives a plain object; nothing is polluted", () =>
    Effect.gen(function*() {
      const { session } = yield* connected({ contentConverter: Converter.json })
      yield* session.send(`{"__proto__":{"polluted":"yes"},"kept":"1"}`)
      const value = yield* session.receiveDeserialized(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
      expect((value as { polluted?: unknown }).polluted).toBeUndefined()
      expect(value).toEqual({ kept: "1" })
    }))

  it.scopedLive("sendSerialized of NaN or Infinity fails with a ParseError and sends nothing", () =>
    Effect.gen(function*() {
      const { server, session } = yield* connected({ contentConverter: Converter.json })
      const Reading = Schema.Struct({ value: Schema.Number })
      for (const bad of [NaN, Infinity, -Infinity]) {
        const error = yield* Effect.flip(session.sendSerialized(Reading, { value: bad }))
        expect(ParseResult.isParseError(error)).toBe(true)
      }
      yield* session.sendSerialized(Reading, { value: 1 })
      expect(yield* session.receiveDeserialized(Reading)).toEqual({ value: 1 })
      expect(server.received.map((m) => m.data.toString())).toEqual([`{"value":1}`])
    }))

  it.scopedLive("MessagePack with the reserved byte 0xC1: WebsocketDeserializeException; next message reads", () =>
    Effect.gen(function*() {
      const { session } = yield* connected({ contentConverter: Converter.msgpack })
      yield* session.send(new Uint8Array([0x92, 0x01, 0xc1]))
      yield* session.sendSerialized(Message, message)
      const error = yield* deserializeError(session.receiveDeserialized(Schema.Unknown))
      expect(error.message).toContain("0xC1")
      expect(yield* session.receiveDeserialized(Message)).toEqual(message)
    }))
})
