"""Checks of workspace files done in the background, so that opening one is quick.

After the workspace is indexed, the server checks the files on disk (most recently modified
first) with the per-form rules and keeps each file's engine state: the per-form and
per-member findings, keyed by their bytes. When the editor opens a file whose text is the
text that was checked, its document starts with that state, and the first check after
didOpen reuses every form instead of running the rules on the whole file.

The store is bounded by the bytes of source it holds; a file's entry is handed out once
(the open document owns the state from then on).
"""

from __future__ import annotations

import hashlib
import threading

from ..engine import DocumentState

# Each entry holds about twice its file's size (form and member bytes are the cache keys).
BUDGET_BYTES = 48 * 1024 * 1024
LARGEST_FILE_BYTES = 2 * 1024 * 1024


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class PrecheckStore:
    """path -> (digest of the checked bytes, size, engine state). Thread-safe."""

    def __init__(self, budget: int = BUDGET_BYTES) -> None:
        self._entries: dict[str, tuple[bytes, int, DocumentState]] = {}
        self._size = 0
        self._budget = budget
        self._lock = threading.Lock()
        self.done = threading.Event()

    def has_room_for(self, size: int) -> bool:
        return size <= LARGEST_FILE_BYTES and self._size + size <= self._budget

    def put(self, path: str, data: bytes, state: DocumentState) -> None:
        with self._lock:
            self._drop(path)
            self._entries[path] = (digest(data), len(data), state)
            self._size += len(data)

    def take(self, path: str, data: bytes) -> DocumentState | None:
        """The state checked for exactly these bytes, or None; the entry is removed either way."""
        with self._lock:
            entry = self._entries.get(path)
            self._drop(path)
        if entry is None or entry[0] != digest(data):
            return None
        return entry[2]

    def discard(self, path: str) -> None:
        with self._lock:
            self._drop(path)

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, path: str) -> None:
        entry = self._entries.pop(path, None)
        if entry is not None:
            self._size -= entry[1]
