"""LSP's message framing, read forgivingly (see transport), with the standard library only:
the early answer to initialize (see early) reads its first message with it before anything
heavier is imported."""

from __future__ import annotations

import json
import re

CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d+)[ \t]*\r?\n?\Z", re.IGNORECASE)
MAX_BODY_BYTES = 1 << 30  # a declared length beyond this is noise, not a message


async def read_body(reader) -> bytes | None:
    """The next message body; None at the end of the stream."""
    length: int | None = None
    while True:
        line = await reader.readline()
        if not line:
            return None
        if not line.strip():  # the blank line that ends the headers
            if length is not None:
                break
            continue
        match = CONTENT_LENGTH.search(line)
        if match is not None and int(match.group(1)) <= MAX_BODY_BYTES:
            length = int(match.group(1))
        elif length is None:
            import logging  # imported already once the server runs; not before early's answer

            logging.getLogger("exhort.lsp").debug("skipped a line that is no LSP header: %.80r", line)
    body = await reader.readexactly(length)
    return body if len(body) == length else None


def decode(body: bytes):
    """The JSON value of a body; raises ValueError (with a message for the client)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"the body is not UTF-8 (invalid byte at offset {error.start})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("the body nests too deeply") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"the body is not JSON: {error}") from None
