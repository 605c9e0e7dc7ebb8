"""A python3-websockets (10.4, asyncio API) peer with permessage-deflate, for the compression tests.

Listens on 127.0.0.1, port 0, prints its port on stdout, and exits when stdin closes or on SIGTERM.
Compression is on by default in websockets ("deflate"), so the server agrees to the client's offer.

Paths:
  /echo            echoes every message with its type (compressed)
  /plain           does not agree to any extension, then echoes (uncompressed)
  /bomb?size=N     sends one binary message of N zero bytes (compressed to about N / 1000), then echoes
"""

import asyncio
import signal
import sys
from urllib.parse import parse_qs, urlparse

import websockets
from websockets.legacy.server import WebSocketServerProtocol


class PerPathProtocol(WebSocketServerProtocol):
    """Agrees to extensions except on /plain."""

    request_path = "/"

    async def process_request(self, path, request_headers):
        self.request_path = urlparse(path).path
        return None

    def process_extensions(self, headers, available_extensions):
        if self.request_path == "/plain":
            return None, []
        return super().process_extensions(headers, available_extensions)


async def handler(websocket, path):
    url = urlparse(path)
    if url.path == "/bomb":
        size = int(parse_qs(url.query).get("size", ["0"])[0])
        await websocket.send(bytes(size))
    async for message in websocket:
        await websocket.send(message)


async def main():
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.buffer.read1(4096) or stop.done() or stop.set_result(None))
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        create_protocol=PerPathProtocol,
        max_size=16 * 1024 * 1024,
        ping_interval=None,
    ) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
