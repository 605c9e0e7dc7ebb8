import { describe, it } from "@effect/vitest"
import { casesOf } from "../hostile/cases.js"
import { checkCase } from "../hostile/run.js"

describe("4.x opcodes (Autobahn 4): a reserved opcode is a protocol violation", () => {
  for (const c of casesOf("4")) {
    it(`${c.id} ${c.title}`, () => checkCase(c))
  }
})
