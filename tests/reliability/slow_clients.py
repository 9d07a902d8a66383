"""HTTP/1.1 clients on raw sockets that misbehave on purpose: idle, slow to read, slow to send.

Each holds its connection open on the gateway. Their pace is driven by the test (`step()`
once per event it chooses), never by timers, so a run is as slow as the test says and no
slower.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

_READ_LIMIT = 1024
"""The reader's buffer: asyncio stops reading the socket beyond twice this."""
_RECEIVE_BUFFER = 4096
"""SO_RCVBUF of a slow reader: the kernel's window stays small, so the server's writes back up."""
_CHUNKED_END = b"0\r\n\r\n"


async def connect(url: str, *, receive_buffer: int | None = None) -> Connection:
    """A TCP connection to `url`'s host and port."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=_READ_LIMIT)
    return Connection(parts.hostname or "", reader, writer)


@dataclass
class Connection:
    """One open connection; `close()` it when done."""

    host: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @property
    def local_port(self) -> int:
        port: int = self.writer.get_extra_info("sockname")[1]
        return port

    def request_bytes(
        self, method: str, path: str, *, headers: dict[str, str], body: bytes = b""
    ) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method == "POST":
            lines.append(f"content-length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_head(self) -> tuple[int, dict[str, str]]:
        """The status and the headers (names lower-cased) of the next response."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines if ": " in line)
        return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}

    async def read_response(self) -> tuple[int, bytes]:
        """A whole response with a `content-length` (or chunked) body."""
        status, headers = await self.read_head()
        if "content-length" in headers:
            return status, await self.reader.readexactly(int(headers["content-length"]))
        return status, dechunk(await self.read_chunked_rest())

    async def read_chunked_rest(self, already: bytes = b"") -> bytes:
        """The rest of a chunked body, raw (chunk sizes included), up to its last chunk."""
        data = bytearray(already)
        while not data.endswith(_CHUNKED_END):
            more = await self.reader.read(65536)
            if not more:
                raise ConnectionError("the server closed the connection mid-body")
            data += more
        return bytes(data)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class SlowReader:
    """Asks for a long streamed answer, then reads `step_bytes` of it per `step()`."""

    def __init__(self, connection: Connection, step_bytes: int = 64) -> None:
        self.connection = connection
        self.step_bytes = step_bytes
        self.received = b""

    @classmethod
    async def start(cls, url: str, path: str, headers: dict[str, str], body: bytes) -> SlowReader:
        connection = await connect(url, receive_buffer=_RECEIVE_BUFFER)
        await connection.send(connection.request_bytes("POST", path, headers=headers, body=body))
        status, _ = await connection.read_head()
        assert status == 200, status
        return cls(connection)

    async def step(self) -> None:
        self.received += await self.connection.reader.read(self.step_bytes)

    async def finish(self) -> bytes:
        """Reads the rest at full speed, to the body's end or the connection's; the raw body."""
        while not self.received.endswith(_CHUNKED_END):
            more = await self.connection.reader.read(65536)
            if not more:
                break
            self.received += more
        await self.connection.close()
        return self.received


class SlowSender:
    """Sends one request a byte per `step()`: headers first (slowloris) or only the body."""

    def __init__(self, connection: Connection, request: bytes, sent: int) -> None:
        self.connection = connection
        self.request = request
        self.sent = sent

    @classmethod
    async def start(
        cls, url: str, path: str, headers: dict[str, str], body: bytes, *, in_headers: bool
    ) -> SlowSender:
        connection = await connect(url)
        request = connection.request_bytes("POST", path, headers=headers, body=body)
        head = len(request) - len(body)
        # Stops a few bytes into the headers, or right after them.
        sent = 20 if in_headers else head
        await connection.send(request[:sent])
        return cls(connection, request, sent)

    async def step(self) -> None:
        if self.sent < len(self.request) - 1:  # the last byte waits for finish()
            await self.connection.send(self.request[self.sent : self.sent + 1])
            self.sent += 1

    async def finish(self) -> tuple[int, bytes]:
        """Sends the rest, reads the answer."""
        await self.connection.send(self.request[self.sent :])
        answer = await self.connection.read_response()
        await self.connection.close()
        return answer


def dechunk(raw: bytes) -> bytes:
    """A chunked body without its framing."""
    body = bytearray()
    while True:
        size_line, _, raw = raw.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return bytes(body)
        body += raw[:size]
        raw = raw[size + 2 :]  # the chunk and its CRLF
