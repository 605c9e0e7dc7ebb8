import { describe, it } from "@effect/vitest"
import { casesOf } from "../hostile/cases.js"
import { checkCase } from "../hostile/run.js"

describe("2.x pings (Autobahn 2): a Ping is answered with a Pong of the same payload, at most 125 bytes", () => {
  for (const c of casesOf("2")) {
    it(`${c.id} ${c.title}`, () => checkCase(c))
  }
})
