/**
 * Runs one conformance case against the hostile peer and checks everything the case expects, plus the rule that
 * holds after every case: the process holds no socket, timer or fiber from the session.
 */
import { expect } from "@effect/vitest"
import { Option } from "effect"
import { createHash } from "node:crypto"
import type { Case, Sent } from "./cases.js"
import { type ClientOutcome, runEchoClient, watchResources, within } from "./client.js"
import { type ClientFrame, Op, readClose, startPeer } from "./peer.js"

/** A comparable, compact view of a payload (16 MiB payloads make unreadable diffs). */
const digest = (bytes: Uint8Array | string) => {
  const buffer = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : Buffer.from(bytes)
  return `${buffer.byteLength} B sha256:${createHash("sha256").update(buffer).digest("hex").slice(0, 16)}`
}

type View = { readonly kind: string; readonly payload?: string; readonly code?: number; readonly reason?: string }

const viewOfSent = (sent: Sent): View =>
  sent.kind === "Close"
    ? sent.code === undefined ? { kind: "Close" } : { kind: "Close", code: sent.code, reason: sent.reason ?? "" }
    : { kind: sent.kind, payload: digest(sent.payload) }

/** The client's frames as messages: data fragments joined, control frames as they are. */
const viewOfFrames = (frames: ReadonlyArray<ClientFrame>): Array<View> => {
  const out: Array<View> = []
  let parts: Array<Buffer> = []
  let opcode: number | undefined
  for (const frame of frames) {
    if (frame.opcode === Op.Close) {
      const close = readClose(frame)
      out.push(close.code === undefined ? { kind: "Close" } : { kind: "Close", code: close.code, reason: close.reason })
    } else if (frame.opcode === Op.Pong || frame.opcode === Op.Ping) {
      out.push({ kind: frame.opcode === Op.Pong ? "Pong" : "Ping", payload: digest(frame.payload) })
    } else {
      if (frame.opcode !== Op.Continuation) opcode = frame.opcode
      parts.push(frame.payload)
      if (frame.fin) {
        out.push({
          kind: opcode === Op.Text ? "Text" : opcode === Op.Binary ? "Binary" : `opcode ${opcode}`,
          payload: digest(Buffer.concat(parts))
        })
        parts = []
        opcode = undefined
      }
    }
  }
  return out
}

/** What one run of a case produced. */
export interface CaseResult {
  readonly outcome: ClientOutcome
  readonly frames: ReadonlyArray<ClientFrame>
  /** Active resources that grew over the case (sockets, timers): must be empty. */
  readonly leaked: Record<string, number>
  readonly scriptErrors: ReadonlyArray<unknown>
}

/** Runs `c` once: peer up, echo client until the session ends, peer connection gone, resources settled. */
export const runCase = async (c: Case): Promise<CaseResult> => {
  const peer = await startPeer(c.script, { handshake: c.handshake, onSocket: c.onSocket })
  try {
    const watch = watchResources(peer)
    const outcome = await within(runEchoClient(peer.url, c.client ?? {}), 25_000, `the end of case ${c.id}`)
    const connection = peer.connections[0]
    if (connection !== undefined) await within(connection.ended, 10_000, "the end of the peer's connection")
    await within(peer.settled(), 10_000, "the end of the peer's script")
    const leaked = await watch.leaked()
    return { outcome, frames: connection?.frames ?? [], leaked, scriptErrors: peer.scriptErrors }
  } finally {
    await peer.close()
  }
}

/** Runs `c` and asserts what the client sent back, the close reason, the error, and that nothing leaked. */
export const checkCase = async (c: Case): Promise<void> => {
  const { frames, leaked, outcome, scriptErrors } = await runCase(c)
  const expected = c.expect()
  expect(scriptErrors).toEqual([])
  if (expected.closeReason === undefined) {
    // no session: the connection itself fails
    expect(outcome.connectError?.reason).toBe(expected.error)
    if (expected.message !== undefined) expect(outcome.connectError?.message).toBe(expected.message)
    expect(outcome.connectError?._tag).toBe("WebSocketException")
  } else {
    expect(outcome.connectError).toBeUndefined()
    expect(outcome.error?.reason).toBe(expected.error)
    if (outcome.error !== undefined) expect(outcome.error._tag).toBe("WebSocketException")
    const closeReason = Option.getOrUndefined(outcome.closeReason)
    expect(closeReason?.code).toBe(expected.closeReason.code)
    if (expected.closeReason.message !== undefined) expect(closeReason?.message).toBe(expected.closeReason.message)
    if (expected.error !== undefined) expect(outcome.error?.closeReason?.code).toBe(expected.closeReason.code)
  }
  expect(outcome.delivered.map((frame) => ({ kind: frame._tag, payload: digest(frame.data) }))).toEqual(
    expected.delivers.map((m) => ({ kind: typeof m === "string" ? "Text" : "Binary", payload: digest(m) }))
  )
  // every frame from a client is masked and sets no reserved bit (RFC 6455 §5.1, §5.2)
  for (const frame of frames) {
    expect(frame.masked).toBe(true)
    expect(frame.rsv).toBe(0)
  }
  expect(viewOfFrames(frames)).toEqual(expected.sends.map(viewOfSent))
  expect(leaked).toEqual({})
  expect(outcome.liveFibers).toBe(0)
}
