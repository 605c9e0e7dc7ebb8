"""A python3-websockets (10.4, asyncio API) peer for the client tests.

Listens on 127.0.0.1, port 0, prints its port on stdout, and exits when stdin closes or on SIGTERM.

Paths:
  /echo           echoes every message with its type; counts those received under the `id` query parameter
  /stats?id=X     plain HTTP: {"messages": n} for connections of /echo?id=X that have ended
  /subprotocol    refuses the upgrade with 400 unless the client offers the "chat" subprotocol
  /close-first    closes at once with 4001 "server bye"
  /ping-first     pings with b"ktor-ping", waits for the pong, then sends "pongs=<number of pongs received>"
  /first          sends "first" at once, then echoes
  /headers        sends the handshake request headers as JSON [[name, value], ...], then echoes
  /500            answers the upgrade with HTTP 500
"""

import asyncio
import http
import json
import signal
import sys
from urllib.parse import parse_qs, urlparse

import websockets
from websockets.frames import OP_PONG
from websockets.legacy.server import WebSocketServerProtocol

counts = {}


class CountingProtocol(WebSocketServerProtocol):
    """Counts the pong frames it reads, so a test can check a ping is answered exactly once."""

    pong_frames = 0

    async def read_frame(self, max_size):
        frame = await super().read_frame(max_size)
        if frame.opcode == OP_PONG:
            self.pong_frames += 1
        return frame


async def process_request(path, headers):
    url = urlparse(path)
    if url.path == "/500":
        return http.HTTPStatus.INTERNAL_SERVER_ERROR, [], b"boom\n"
    if url.path == "/stats":
        key = parse_qs(url.query).get("id", [""])[0]
        body = json.dumps({"messages": counts.get(key)}).encode()
        return http.HTTPStatus.OK, [("Content-Type", "application/json")], body
    if url.path == "/subprotocol":
        offered = [p.strip() for value in headers.get_all("Sec-WebSocket-Protocol") for p in value.split(",")]
        if "chat" not in offered:
            return http.HTTPStatus.BAD_REQUEST, [], b"the chat subprotocol is required\n"
    return None


async def echo(websocket, key):
    n = 0
    try:
        async for message in websocket:
            n += 1
            try:
                await websocket.send(message)
            except websockets.ConnectionClosed:
                # the client closed while its messages were queued here: keep counting what it sent
                pass
    finally:
        if key is not None:
            counts[key] = n


async def handler(websocket, path):
    url = urlparse(path)
    if url.path == "/close-first":
        await websocket.close(code=4001, reason="server bye")
        return
    if url.path == "/ping-first":
        waiter = await websocket.ping(b"ktor-ping")
        await waiter
        # give a duplicate pong time to arrive before reporting the count
        await asyncio.sleep(0.2)
        await websocket.send(f"pongs={websocket.pong_frames}")
        await websocket.wait_closed()
        return
    if url.path == "/first":
        await websocket.send("first")
    if url.path == "/headers":
        await websocket.send(json.dumps([[name, value] for name, value in websocket.request_headers.raw_items()]))
    key = parse_qs(url.query).get("id", [None])[0]
    await echo(websocket, key)


async def main():
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.buffer.read1(4096) or stop.done() or stop.set_result(None))
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        create_protocol=CountingProtocol,
        process_request=process_request,
        subprotocols=["chat"],
        max_size=16 * 1024 * 1024,
        ping_interval=None,
    ) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
