"""Reading LSP messages off a byte stream, forgivingly.

pygls' reader (pygls.io_.run_async) accepts exactly "Content-Length: N\\r\\n": a header
name in another case, a missing space or a bare "\\n" line end make it skip messages until
the client happens to send a blank line, and a body that is not UTF-8 or nests too deeply
is dropped without an answer. This reader, used for stdio and TCP alike:

- takes header names in any case, with or without spaces around the colon, and lines
  ended by "\\r\\n" or "\\n"; a line that is no header (noise after a broken message) is
  skipped until the next Content-Length, from which reading goes on in step;
- answers a body that is no JSON (not UTF-8, invalid, nested too deeply) with the
  JSON-RPC parse error, id null, and hands everything else to ExhortProtocol.receive.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from .framing import decode, read_body
from .protocol import PARSE_ERROR, ExhortProtocol

logger = logging.getLogger("exhort.lsp")


async def serve(reader, protocol: ExhortProtocol, stop_event: threading.Event) -> None:
    """Read and dispatch messages until the stream ends or `stop_event` is set."""
    while not stop_event.is_set():
        body = await read_body(reader)
        if body is None:
            break
        try:
            data = decode(body)
        except ValueError as error:
            logger.warning("malformed message from the client: %s", error)
            protocol.send_error(None, PARSE_ERROR, f"Parse error: {error}")
            continue
        try:
            protocol.receive(data)
        except (SystemExit, KeyboardInterrupt, BrokenPipeError):
            raise
        except Exception:
            logger.exception("handling a message failed")


class StreamReaderAdapter:
    """An asyncio.StreamReader (stdin pipe, TCP socket) as read_body reads: the end of the
    stream as b"", a line over the stream's limit as a line that is no header."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    async def readline(self) -> bytes:
        try:
            return await self._stream.readline()
        except ValueError:  # over the limit, already discarded: no header of LSP's
            return b"?\n"

    async def readexactly(self, count: int) -> bytes:
        try:
            return await self._stream.readexactly(count)
        except asyncio.IncompleteReadError as error:  # the end of the stream mid-body
            return error.partial
