/**
 * A TCP proxy on 127.0.0.1 between a client and a server, for the faults a real network has: `reset` ends every
 * link with a TCP RST (the client sees 1006 at once), `silence` stops forwarding both ways while keeping the
 * sockets open (a half-open link: only the client's pinger can notice it).
 */
import * as net from "node:net"

interface Link {
  readonly client: net.Socket
  readonly upstream: net.Socket
}

/** A running proxy. */
export interface TcpProxy {
  readonly port: number
  readonly url: (path?: string) => string
  /** Links currently forwarding. */
  readonly active: () => number
  /** Resets every forwarding link (RST to the client); returns how many. */
  readonly reset: () => number
  /** Stops forwarding on every link, keeping the sockets open; returns how many. */
  readonly silence: () => number
  /** Stops listening and destroys every socket, silent ones included. */
  readonly close: () => Promise<void>
}

/** Starts a proxy to 127.0.0.1:`targetPort`. */
export const startTcpProxy = async (targetPort: number): Promise<TcpProxy> => {
  const active = new Set<Link>()
  const silent = new Set<Link>()
  const destroy = (link: Link) => {
    link.client.destroy()
    link.upstream.destroy()
  }
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1")
    const link: Link = { client, upstream }
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    active.add(link)
    client.pipe(upstream)
    upstream.pipe(client)
    const end = () => {
      active.delete(link)
      if (!silent.has(link)) destroy(link)
    }
    client.on("error", end)
    upstream.on("error", end)
    client.on("close", end)
    upstream.on("close", end)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    url: (path = "/echo") => `ws://127.0.0.1:${port}${path}`,
    active: () => active.size,
    reset: () => {
      const links = [...active]
      for (const link of links) {
        active.delete(link)
        link.client.resetAndDestroy()
        link.upstream.destroy()
      }
      return links.length
    },
    silence: () => {
      const links = [...active]
      for (const link of links) {
        active.delete(link)
        silent.add(link)
        link.client.unpipe(link.upstream)
        link.upstream.unpipe(link.client)
        link.client.pause()
        link.upstream.pause()
      }
      return links.length
    },
    close: async () => {
      for (const link of [...active, ...silent]) destroy(link)
      active.clear()
      silent.clear()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
