/**
 * `expect` outside vitest: the same matchers (`@vitest/expect` on chai) that vitest's own `expect` uses, so the
 * behaviour suite reads and judges alike in vitest, in a browser page, in Bun and in Deno.
 */
import { JestAsymmetricMatchers, JestChaiExpect, JestExtend } from "@vitest/expect"
import type { ExpectStatic } from "@vitest/expect"
import * as chai from "chai"

chai.use(JestExtend)
chai.use(JestChaiExpect)
chai.use(JestAsymmetricMatchers)

/** vitest's matchers, usable anywhere. */
export const expect = chai.expect as unknown as ExpectStatic
