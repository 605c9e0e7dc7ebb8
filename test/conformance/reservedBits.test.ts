import { describe, it } from "@effect/vitest"
import { casesOf } from "../hostile/cases.js"
import { checkCase } from "../hostile/run.js"

describe("3.x reserved bits (Autobahn 3): a reserved bit without an extension is a protocol violation", () => {
  for (const c of casesOf("3")) {
    it(`${c.id} ${c.title}`, () => checkCase(c))
  }
})
