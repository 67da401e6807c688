"""The server's copy of each open document, and how the client's text reaches it.

The server keeps its own exhort.document.Document per URI (pygls' copy splits lines the
wrong way, see protocol.py). Three things shape it here:

- Text the client sends is never dropped. A lone UTF-16 surrogate (which JSON can carry
  and UTF-8 cannot) becomes U+FFFD, as the CLI replaces undecodable bytes: one UTF-16 unit
  and one code point either way, so the client's positions stay right.
- A buffer over the CLI's size limit is kept (edits go on applying, the text stays the
  client's) but not analysed.
- Building the document of a big buffer (its line index, its syntax tree) takes seconds,
  so it happens in a worker (see checks): until it is done, the changes that arrive are
  kept as they came and applied there, in order.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Callable

from lsprotocol import types as t

from .. import files
from ..document import Document, language_for_path
from ..engine import DocumentState
from ..findings import Finding
from ..text import Encoding
from . import convert

logger = logging.getLogger("exhort.lsp")

MAX_BUFFER_BYTES = files.MAX_FILE_BYTES  # the CLI skips larger files; so does the server
# Parsing takes about 0.7 s per MiB: bigger buffers are parsed off the event loop, so that
# the server keeps answering meanwhile.
PARSE_INLINE_BYTES = 256 * 1024
TEXT_ONLY = "text"  # Document language that is never parsed nor checked

_SURROGATE = re.compile("[\ud800-\udfff]")


def client_bytes(text: str, uri: str, warned: set[str]) -> bytes:
    """The client's text as UTF-8, each lone surrogate replaced by U+FFFD (logged once per document)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _replace_surrogates(text, uri, warned).encode("utf-8")


def client_text(text: str, uri: str, warned: set[str]) -> str:
    """The same as a str (a didChange's text is usually a few characters)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _replace_surrogates(text, uri, warned)
    return text


def _replace_surrogates(text: str, uri: str, warned: set[str]) -> str:
    if uri not in warned:
        warned.add(uri)
        logger.warning(
            "%s: the client sent text with a lone UTF-16 surrogate; it is kept as U+FFFD "
            "(the replacement character) in the server's copy", uri
        )
    return _SURROGATE.sub("\ufffd", text)


@dataclass
class OpenDocument:
    uri: str
    document: Document
    version: int | None
    language: str  # what the document is once parsed ("elixir" or "heex")
    state: DocumentState = field(default_factory=DocumentState)

    # -- what the last check found --
    findings: list[Finding] = field(default_factory=list)
    checked_version: int | None = -1  # version the findings belong to (-1: never checked)
    complete: bool = False  # the findings include the whole-document rules of that version
    full_findings: list[Finding] = field(default_factory=list)  # whole-document ones, as last checked
    # (start, old end, new end) byte edits since the last whole-document check; None: cannot map
    edits_since_full: list[tuple[int, int, int]] | None = field(default_factory=list)

    # -- what the client was shown (see publishing) --
    diagnostics: list[dict] = field(default_factory=list)
    diagnostic_texts: list[str] = field(default_factory=list)  # the same, as JSON
    result_serial: int = 0  # bumped whenever the diagnostics change (pull resultId)
    converted: convert.DiagnosticsCache = field(default_factory=convert.DiagnosticsCache)

    # -- checks (see checks) --
    check_requested: bool = True  # a check is owed (the text, config or index changed)
    want_full: bool = True  # the next check runs the whole-document rules too (the first does)
    full_timer: asyncio.TimerHandle | None = None
    waiters: list[tuple[Callable[[], bool], asyncio.Future]] = field(default_factory=list)  # (until, future)
    last_check_seconds: dict[bool, float] = field(default_factory=dict)  # full? -> how long it took
    next_check_cold: bool = True  # the next check cannot reuse much: never run on the loop
    checks_started: int = 0
    checks_cancelled: int = 0  # stopped by a newer request before they finished

    # -- text not analysed yet, or not at all --
    loading: bool = False  # `document` is a stand-in while a worker builds the real one
    loading_text: bytes = b""  # the text it is built from,
    changes_while_loading: list = field(default_factory=list)  # then these didChange changes
    oversized: bool = False  # over MAX_BUFFER_BYTES: kept as text, not analysed
    told_oversized: bool = False  # the user was told why it is not analysed

    # -- workspace index --
    index_timer: asyncio.TimerHandle | None = None
    index_serial: int = 0  # bumped per index-facts extraction; only the latest one is stored

    prechecked: bool = False  # opened with the state of a background check of the same text
    parsed_in_background: bool = False  # and with the document that check parsed

    @property
    def path(self) -> str:
        return self.document.path

    @property
    def size(self) -> int:
        return len(self.loading_text) if self.loading else len(self.document.data)

    @property
    def result_id(self) -> str:
        return f"{self.version}.{self.result_serial}"

    @property
    def checked(self) -> bool:
        """The findings belong to the text as it is now."""
        return self.checked_version == self.version and not self.loading


def language_of(path: str, language_id: str | None) -> str:
    return "heex" if language_id in ("heex", "phoenix-heex") else language_for_path(path)


def too_large_message(path: str, size: int) -> str:
    return (
        f"exhort: {path} is not analysed: the buffer holds {size // 1024:,} KiB, over the "
        f"{MAX_BUFFER_BYTES // 1024:,} KiB limit (exhort check skips such files too)"
    )


def set_text(item: OpenDocument, data: bytes, document: Document | None = None) -> None:
    """Give `item` a new whole text: parsed now when it is small (or `document` is given),
    else built in a worker (`loading`), as text only past the size limit (`oversized`)."""
    was_oversized = item.oversized
    item.oversized = len(data) > MAX_BUFFER_BYTES
    if item.oversized and not was_oversized:
        logger.warning("%s", too_large_message(item.path, len(data)))
    item.loading = False
    item.loading_text = b""
    item.changes_while_loading = []
    item.edits_since_full = None  # nothing to map old findings through
    item.next_check_cold = True
    item.converted.invalidate()
    if document is not None:
        item.document = document
    elif len(data) > PARSE_INLINE_BYTES:
        item.loading = True
        item.loading_text = data
    else:
        item.document = Document(item.path, data, item.language)


def build(path: str, data: bytes, language: str, changes, encoding: Encoding, parse) -> Document:
    """The document of a big text and the changes made since (in a worker): text only
    past the size limit, else with the tree `parse(data)` gives."""
    if len(data) > MAX_BUFFER_BYTES:
        document = Document(path, data, TEXT_ONLY)
    else:
        document = Document(path, data, language, tree=parse(data) if language == "elixir" else None)
    catch_up(document, changes, encoding)
    return document


def catch_up(document: Document, changes, encoding: Encoding) -> None:
    for change in changes:
        r = change.range
        document.apply_range_edit(r.start.line, r.start.character, r.end.line, r.end.character, change.text, encoding)


def apply_changes(item: OpenDocument, changes, encoding: Encoding, warned: set[str]) -> None:
    """Apply a didChange's content changes in order, each against the text the previous one left."""
    for change in changes:
        if not isinstance(change, t.TextDocumentContentChangePartial):
            set_text(item, client_bytes(change.text, item.uri, warned))
            continue
        text = client_text(change.text, item.uri, warned)
        if item.loading:
            item.changes_while_loading.append(t.TextDocumentContentChangePartial(range=change.range, text=text))
        else:
            apply_range_change(item, change.range, text, encoding)


def apply_range_change(item: OpenDocument, r: t.Range, text: str, encoding: Encoding) -> None:
    document = item.document
    line_count = document.lines.line_count
    in_range = document.apply_range_edit(r.start.line, r.start.character, r.end.line, r.end.character, text, encoding)
    start, end, new_end = document.last_edit
    if item.edits_since_full is not None:
        item.edits_since_full.append((start, end, new_end))
    item.converted.edited(start, end, new_end, document.lines.line_count - line_count)
    if not in_range:
        logger.warning("edit outside %s (%d lines) clamped: %s", item.uri, document.lines.line_count, r)
    if (len(document.data) > MAX_BUFFER_BYTES) != item.oversized:
        set_text(item, document.data)  # crossed the size limit: analysed from now on, or no more
