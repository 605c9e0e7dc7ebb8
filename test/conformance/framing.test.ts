import { describe, it } from "@effect/vitest"
import { casesOf } from "../hostile/cases.js"
import { checkCase } from "../hostile/run.js"

describe("1.x framing (Autobahn 1): text and binary messages are delivered whole, in order", () => {
  for (const c of casesOf("1")) {
    it(`${c.id} ${c.title}`, () => checkCase(c))
  }
})
