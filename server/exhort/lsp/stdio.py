"""Reading LSP messages from stdin on the event loop itself.

pygls reads stdin in a thread pool: each message is three blocking reads (header, blank
line, body), each handed to a worker thread and back to the loop. On a busy 2-core machine
those hand-offs wait for the GIL and the scheduler, which showed in every keystroke's
latency. When stdin is a pipe (as editors start language servers) the loop can watch it
directly, with no thread in between.
"""

from __future__ import annotations

import asyncio
from typing import BinaryIO

from .early import readable_in_loop  # noqa: F401 (the test of whether the loop reads stdin)
from .transport import StreamReaderAdapter


async def open_pipe_reader(stdin: BinaryIO, unread: bytes = b"") -> StreamReaderAdapter:
    """A reader of `stdin` (a pipe) that the event loop watches itself, reading `unread`
    first (bytes taken off the pipe already, see early)."""
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=1 << 20, loop=loop)
    if unread:
        stream.feed_data(unread)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream, loop=loop), stdin)
    return StreamReaderAdapter(stream)
