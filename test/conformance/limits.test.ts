import { describe, it } from "@effect/vitest"
import { casesOf } from "../hostile/cases.js"
import { checkCase } from "../hostile/run.js"

describe("9.x limits (Autobahn 9): maxFrameSize bounds a message", () => {
  for (const c of casesOf("9")) {
    it(`${c.id} ${c.title}`, () => checkCase(c))
  }
})
