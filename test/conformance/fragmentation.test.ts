import { describe, it } from "@effect/vitest"
import { casesOf } from "../hostile/cases.js"
import { checkCase } from "../hostile/run.js"

describe("5.x fragmentation (Autobahn 5): fragments are reassembled into whole messages", () => {
  for (const c of casesOf("5")) {
    it(`${c.id} ${c.title}`, () => checkCase(c))
  }
})
