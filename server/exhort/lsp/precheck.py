"""Checks of workspace files done in the background, so that opening one is quick.

After the workspace is indexed, the server checks the files on disk (most recently modified
first) with the per-form rules and keeps each file's engine state: the per-form and
per-member findings, keyed by their bytes. When the editor opens a file whose text is the
text that was checked, its document starts with that state, and the first check after
didOpen reuses every form instead of running the rules on the whole file.

The newest files also keep their parsed document (text, line index, syntax tree), so that
opening one parses nothing either: parsing is most of an open's cost (30 ms of 50 for
5,000 lines). A tree takes about fifty times its source in memory, so few are kept.

The store is bounded by the bytes of source it holds; a file's entry is handed out once
(the open document owns the state, and the document, from then on).
"""

from __future__ import annotations

import hashlib
import threading

from ..document import Document
from ..engine import DocumentState

# Each entry holds about twice its file's size (form and member bytes are the cache keys).
BUDGET_BYTES = 48 * 1024 * 1024
LARGEST_FILE_BYTES = 2 * 1024 * 1024
# Source bytes whose parsed documents are kept too: about 50 MB of syntax trees.
DOCUMENT_BUDGET_BYTES = 1024 * 1024


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class PrecheckStore:
    """path -> (digest of the checked bytes, size, engine state). Thread-safe."""

    def __init__(self, budget: int = BUDGET_BYTES, document_budget: int = DOCUMENT_BUDGET_BYTES) -> None:
        self._entries: dict[str, tuple[bytes, int, DocumentState, Document | None]] = {}
        self._size = 0
        self._document_size = 0
        self._budget = budget
        self._document_budget = document_budget
        self._lock = threading.Lock()
        self.done = threading.Event()

    def has_room_for(self, size: int) -> bool:
        return size <= LARGEST_FILE_BYTES and self._size + size <= self._budget

    def put(self, path: str, document: Document, state: DocumentState) -> None:
        """Keep `state`, checked on `document`; the document too while its budget allows
        (the background check goes newest file first, the likeliest to be opened)."""
        data = document.data
        with self._lock:
            self._drop(path)
            kept = document if self._document_size + len(data) <= self._document_budget else None
            self._entries[path] = (digest(data), len(data), state, kept)
            self._size += len(data)
            if kept is not None:
                self._document_size += len(data)

    def take(self, path: str, data: bytes) -> tuple[DocumentState, Document | None] | None:
        """The state checked for exactly these bytes, with the document it was checked on
        when that was kept; None if there is none. The entry is removed either way."""
        with self._lock:
            entry = self._entries.get(path)
            self._drop(path)
        if entry is None or entry[1] != len(data) or entry[0] != digest(data):
            return None
        return entry[2], entry[3]

    def discard(self, path: str) -> None:
        with self._lock:
            self._drop(path)

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, path: str) -> None:
        entry = self._entries.pop(path, None)
        if entry is not None:
            self._size -= entry[1]
            if entry[3] is not None:
                self._document_size -= entry[1]
