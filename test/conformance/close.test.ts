import { describe, it } from "@effect/vitest"
import { casesOf } from "../hostile/cases.js"
import { checkCase } from "../hostile/run.js"

describe("7.x closing (Autobahn 7): the peer's Close is echoed and surfaced in closeReason", () => {
  for (const c of casesOf("7")) {
    it(`${c.id} ${c.title}`, () => checkCase(c))
  }
})
