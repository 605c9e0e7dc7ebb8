import { describe, expect, it } from "@effect/vitest"
import { measured } from "../hostile/measure.js"
import { describeChaos, runChaos } from "../reconnect/chaos.js"

describe("load: reconnecting sessions under chaos", () => {
  it(
    "L.R 200 drops (RST, half-open, Close 1012) over 20,000 numbered messages: none delivered twice, none out of order, every message sent while down arrives",
    async () => {
      const report = await runChaos({ drops: 200, messages: 20_000, seed: 14 })
      measured("L.R", describeChaos(report))
      expect(report.messages).toBe(20_000)
      expect(report.drops).toBe(200)
      expect(report.duplicates).toBe(0)
      expect(report.reorders).toBe(0)
      expect(report.sentWhileDown).toBeGreaterThan(0)
      expect(report.missingWhileDown).toBe(0)
      // every drop was noticed and repaired (the half-open ones by the pinger)
      expect(report.reconnects).toBeGreaterThanOrEqual(200)
      expect(report.delivered + report.lostInFlight).toBe(report.messages)
      expect(report.liveFibers).toBe(0)
      // bounded: the run must stay well under the suite's budget
      expect(report.elapsedMs).toBeLessThan(120_000)
    },
    180_000
  )
})
