/**
 * Measurements the fault and load tests report: printed, and appended as JSON lines to the file named by
 * CONFORMANCE_MEASUREMENTS (set by scripts/conformance-doc.ts) so that docs/CONFORMANCE.md can show them.
 */
import { appendFileSync } from "node:fs"

/** Reports one measured value for the case `id`. */
export const measured = (id: string, text: string): void => {
  const file = process.env["CONFORMANCE_MEASUREMENTS"]
  if (file !== undefined && file !== "") appendFileSync(file, JSON.stringify({ id, text }) + "\n")
  process.stdout.write(`[measured] ${id}: ${text}\n`)
}
