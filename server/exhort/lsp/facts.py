"""Reading a file's workspace-index facts off the event loop.

The extractors run tree-sitter queries over the whole file, and a query holds the GIL from
start to end: on a 2 MB buffer, calls of over a second, during which no other thread (the
event loop included) runs. Ordinary files are read in a thread; big ones (see
BIG_DOCUMENT_BYTES) in a child process, started on first need, whose queries hold only its
own GIL. Facts are plain values (tuples, frozensets, records): they are pickled across.

This module is also the child's program (serve): keep it free of LSP.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from .. import files
from ..document import Document
from ..workspace import WorkspaceIndex

logger = logging.getLogger("exhort.lsp")

Facts = dict[str, Any]


def serve() -> None:
    """The child process: reads pickled (path, text) pairs on stdin, answers each with
    ("ok", facts) or ("error", traceback) on stdout, until stdin ends (the server is gone)."""
    index = WorkspaceIndex(root_finder=files.project_root_for_file)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            path, data = pickle.load(stdin)
        except EOFError:
            return
        try:
            answer = ("ok", index.extract(Document(path, data)))
        except Exception:
            answer = ("error", traceback.format_exc())
        pickle.dump(answer, stdout)
        stdout.flush()


class FactsProcess:
    """The child process, one extraction at a time."""

    def __init__(self) -> None:
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def extract(self, path: str, data: bytes) -> Facts:
        with self._lock:
            if self._child is None or self._child.poll() is not None:
                self._child = subprocess.Popen(
                    [sys.executable, "-c", "from exhort.lsp.facts import serve; serve()"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                )
            try:
                pickle.dump((path, data), self._child.stdin)
                self._child.stdin.flush()
                status, value = pickle.load(self._child.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as error:
                self._child.kill()
                raise RuntimeError(f"the facts process failed: {error}") from error
        if status != "ok":
            raise RuntimeError(f"the facts process failed:\n{value}")
        return value


class FactsReader:
    """Extractions in submission order, ordinary and big texts each in their own worker.
    Results go to the `done` callback given with each, called in that worker; a failed
    extraction is logged and calls nothing."""

    def __init__(self, index: Callable[[], WorkspaceIndex], big_bytes: int) -> None:
        self._index = index
        self._big_bytes = big_bytes
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exhort-facts")
        self._big_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exhort-facts-big")
        self._process = FactsProcess()

    def submit(self, path: str, data: bytes, done: Callable[[Facts], None], document: Document | None = None) -> None:
        """Read the facts of `data` as the text of `path` (`document`: the same, parsed
        already; a snapshot, as it is read in another thread)."""
        if len(data) > self._big_bytes:
            self._big_thread.submit(self._extract, path, lambda: self._process.extract(path, data), done)
        else:
            parse = (lambda: document) if document is not None else (lambda: Document(path, data))
            self._thread.submit(self._extract, path, lambda: self._index().extract(parse()), done)

    def run(self, task: Callable[[], None]) -> None:
        """Run `task` in the facts thread, after the extractions submitted so far."""
        self._thread.submit(task)

    def extract_here(self, path: str, data: bytes) -> Facts:
        """The facts, read in the calling (background) thread, or in the child process and
        waited for when the text is big."""
        if len(data) > self._big_bytes:
            return self._process.extract(path, data)
        return self._index().extract(Document(path, data))

    @staticmethod
    def _extract(path: str, extract: Callable[[], Facts], done: Callable[[Facts], None]) -> None:
        try:
            facts = extract()
        except Exception:
            logger.exception("reading the index facts of %s failed", path)
            return
        done(facts)
