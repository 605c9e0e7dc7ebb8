// A plain ws echo server run as a child process by the fault and load tests, so that it can be killed with
// SIGKILL and so that it runs on another core than the client under test. Prints its port on stdout.
import { WebSocketServer } from "ws"

const server = new WebSocketServer({ host: "127.0.0.1", port: 0, backlog: 4096, perMessageDeflate: false })
server.on("listening", () => process.stdout.write(`${server.address().port}\n`))
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
  socket.on("error", () => {})
})
process.on("SIGTERM", () => server.close(() => process.exit(0)))
