"""Reading LSP messages from stdin on the event loop itself.

pygls reads stdin in a thread pool: each message is three blocking reads (header, blank
line, body), each handed to a worker thread and back to the loop. On a busy 2-core machine
those hand-offs wait for the GIL and the scheduler, which showed in every keystroke's
latency. When stdin is a pipe (as editors start language servers) the loop can watch it
directly, with no thread in between.
"""

from __future__ import annotations

import asyncio
import os
import stat
from typing import BinaryIO


def readable_in_loop(stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """Is stdin a pipe of its own? The loop makes the descriptor non-blocking, which must not
    reach stdout: a terminal or socket used for both directions is left to pygls' reader."""
    try:
        into, out = os.fstat(stdin.fileno()), os.fstat(stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(into.st_mode) and (into.st_dev, into.st_ino) != (out.st_dev, out.st_ino)


class PipeReader:
    """pygls' AsyncReader interface (readline, readexactly) over an asyncio stream."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    @classmethod
    async def open(cls, stdin: BinaryIO) -> "PipeReader":
        loop = asyncio.get_running_loop()
        stream = asyncio.StreamReader(limit=1 << 20, loop=loop)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream, loop=loop), stdin)
        return cls(stream)

    async def readline(self) -> bytes:
        try:
            return await self._stream.readline()
        except ValueError:  # a line over the limit, already discarded: no header of LSP's
            return b"?\r\n"  # pygls skips a line that is neither a header nor blank

    async def readexactly(self, count: int) -> bytes:
        try:
            return await self._stream.readexactly(count)
        except asyncio.IncompleteReadError as error:  # EOF mid-body: pygls stops on b""
            return error.partial
