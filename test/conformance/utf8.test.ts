import { describe, it } from "@effect/vitest"
import { casesOf } from "../hostile/cases.js"
import { checkCase } from "../hostile/run.js"

describe("6.x UTF-8 (Autobahn 6): invalid UTF-8 in text fails with 1007", () => {
  for (const c of casesOf("6")) {
    it(`${c.id} ${c.title}`, () => checkCase(c))
  }
})
