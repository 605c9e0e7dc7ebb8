/**
 * The baseline: `ws` used directly, the way a careful user would. Text arrives as a Buffer and is turned into a
 * string, as the other two clients deliver text.
 */
import * as Schema from "effect/Schema"
import WebSocket from "ws"
import {
  blobs,
  inBatches,
  type Jobs,
  type Measured,
  Message,
  messages,
  sizeOf,
  sleep,
  startMeasure,
  texts
} from "../common.js"

/** Opens a raw `ws` client without compression (shared with the minimal Effect loop). */
export const open = (url: string) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    ws.once("open", () => resolve(ws))
    ws.once("error", reject)
  })

/** Closes with 1000 and waits for the end. */
export const close = (ws: WebSocket) =>
  new Promise<void>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve()
    ws.once("close", () => resolve())
    ws.close(1000)
  })

const text = (data: Buffer, isBinary: boolean): string | Buffer => isBinary ? data : data.toString()

const pipelinedWith = async (url: string, items: ReadonlyArray<string | Uint8Array>): Promise<Measured> => {
  const ws = await open(url)
  const measure = startMeasure()
  await new Promise<void>((resolve) => {
    let received = 0
    let bytes = 0
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      bytes += sizeOf(text(data, isBinary))
      if (++received === items.length) resolve()
    })
    for (let i = 0; i < items.length; i++) ws.send(items[i]!)
  })
  const measured = measure()
  await close(ws)
  return measured
}

export const jobs: Jobs = {
  pipelined: (url, count, size) => pipelinedWith(url, texts(count, size)),

  roundTrip: async (url, count, size) => {
    const items = texts(count, size)
    const ws = await open(url)
    const measure = startMeasure()
    await new Promise<void>((resolve) => {
      let received = 0
      let bytes = 0
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        bytes += sizeOf(text(data, isBinary))
        if (++received === count) resolve()
        else ws.send(items[received]!)
      })
      ws.send(items[0]!)
    })
    const measured = measure()
    await close(ws)
    return measured
  },

  large: (url, count, size) => pipelinedWith(url, blobs(count, size)),

  typed: async (url, count) => {
    const values = messages(count)
    const decode = Schema.decodeUnknownSync(Message)
    const ws = await open(url)
    const measure = startMeasure()
    await new Promise<void>((resolve) => {
      let received = 0
      let sum = 0
      ws.on("message", (data: Buffer) => {
        sum += decode(JSON.parse(data.toString())).id
        if (++received === count) resolve()
      })
      for (let i = 0; i < count; i++) ws.send(JSON.stringify(values[i]))
    })
    const measured = measure()
    await close(ws)
    return measured
  },

  slow: async (url, count, everyMs, onBaseline, onDone) => {
    const ws = await open(url)
    const queue: Array<Buffer> = []
    let waiting: (() => void) | undefined
    ws.on("message", (data: Buffer) => {
      queue.push(data)
      if (waiting !== undefined) {
        const wake = waiting
        waiting = undefined
        wake()
      }
    })
    onBaseline()
    let consumed = 0
    for (let i = 0; i < count; i++) {
      if (queue.length === 0) await new Promise<void>((resolve) => (waiting = resolve))
      consumed += queue.shift()!.byteLength
      await sleep(everyMs)
    }
    ws.send("mark")
    onDone(consumed)
  },

  idle: async (url, count, measure) => {
    const sockets: Array<WebSocket> = []
    let received = 0
    let closed = 0
    await inBatches(count, 50, async () => {
      const ws = await open(url)
      // what any application listens to, like the other two clients do
      ws.on("message", () => received++)
      ws.on("close", () => closed++)
      ws.on("error", () => {})
      sockets.push(ws)
    })
    await measure()
    await Promise.all(sockets.map(close))
  }
}
