import { describe, it } from "@effect/vitest"
import { casesOf } from "../hostile/cases.js"
import { checkCase } from "../hostile/run.js"

describe("Opening handshake faults: the connection fails with a typed WebSocketException", () => {
  for (const c of casesOf("H")) {
    it(`${c.id} ${c.title}`, () => checkCase(c))
  }
})
