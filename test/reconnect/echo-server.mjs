// A plain ws echo server run as a child process by the reconnecting tests: it can be SIGKILLed and started again
// on the same port (the port is the first argument; 0 or none: an ephemeral one), and told over IPC to close
// every connection with a code ({ type: "close", code, reason }). Prints its port on stdout.
import { WebSocketServer } from "ws"

const server = new WebSocketServer({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0), perMessageDeflate: false })
server.on("listening", () => process.stdout.write(`${server.address().port}\n`))
server.on("error", (error) => {
  process.stderr.write(`echo server: ${error.message}\n`)
  process.exit(1)
})
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
  socket.on("error", () => {})
})
process.on("message", (message) => {
  if (message?.type === "close") {
    for (const client of server.clients) client.close(message.code, message.reason ?? "")
  }
})
// the parent is gone (or asked us to stop): never outlive it
process.on("disconnect", () => process.exit(0))
process.on("SIGTERM", () => server.close(() => process.exit(0)))
