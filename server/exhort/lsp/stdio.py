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

from .transport import StreamReaderAdapter


def readable_in_loop(stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """Is stdin a pipe of its own? The loop makes the descriptor non-blocking, which must not
    reach stdout: a terminal or socket used for both directions is left to pygls' reader."""
    try:
        into, out = os.fstat(stdin.fileno()), os.fstat(stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(into.st_mode) and (into.st_dev, into.st_ino) != (out.st_dev, out.st_ino)


async def open_pipe_reader(stdin: BinaryIO) -> StreamReaderAdapter:
    """A reader of `stdin` (a pipe) that the event loop watches itself."""
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=1 << 20, loop=loop)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream, loop=loop), stdin)
    return StreamReaderAdapter(stream)
