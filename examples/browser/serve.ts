/**
 * `npm run demo:browser`: serves the echo demo page on http://127.0.0.1:8787/ (PORT to change it) and runs the echo
 * server it talks to, on the same origin. The page's script (app.ts) is bundled with esbuild when the server starts.
 * Open the address in a browser and read the page.
 */
import { build } from "esbuild"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { WebSocketServer } from "ws"

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>effect-websockets in the browser</title><link rel="icon" href="data:,"></head>
<body><h1>effect-websockets: echo demo on BrowserEngine</h1><pre id="log"></pre>
<script type="module" src="/app.js"></script></body></html>`

/** Bundles the page's script and starts the server on 127.0.0.1:`port` (0: any free port). */
export const startDemo = async (port: number): Promise<{ readonly url: string; readonly server: Server }> => {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("./app.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "silent"
  })
  const script = bundle.outputFiles[0]!.text
  const server = createServer((request, response) => {
    if (request.url === "/" || request.url === "/app.js") {
      response.writeHead(200, { "content-type": request.url === "/" ? "text/html" : "text/javascript" })
      return response.end(request.url === "/" ? page : script)
    }
    response.writeHead(404).end()
  })
  const echo = new WebSocketServer({ server, path: "/echo" })
  echo.on("connection", (socket) => socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary })))
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await startDemo(Number(process.env.PORT ?? 8787))
  console.log(`Open ${url} in a browser (Ctrl-C to stop)`)
}
