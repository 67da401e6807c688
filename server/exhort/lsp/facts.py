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
import queue
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from .. import files
from ..cache import ResultCache, Unencodable, fact_digests
from ..document import Document
from ..workspace import WorkspaceIndex

logger = logging.getLogger("exhort.lsp")

Facts = dict[str, Any]


BATCH = 8  # texts sent to a child process at once

# Where a file's facts are kept once read: the cache folder and the file's key (see cache.py).
CacheSlot = tuple[str, str]


def store_in_cache(slot: CacheSlot | None, path: str, facts: Facts) -> None:
    if slot is None:
        return
    folder, key = slot
    try:
        ResultCache(Path(folder)).store_facts(path, key, *fact_digests(facts))
    except Unencodable:
        pass  # a fact the cache cannot hold: read again next time


def serve() -> None:
    """The child process: reads pickled (path, text, cache slot or None) on stdin, answers each
    with ("ok", facts) or ("error", traceback) on stdout, until stdin ends (the server is
    gone). Facts are written to the cache slot given (the encoding is spared the server)."""
    index = WorkspaceIndex(root_finder=files.project_root_for_file)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            path, data, slot = pickle.load(stdin)
        except EOFError:
            return
        try:
            facts = index.extract(Document(path, data))
            store_in_cache(slot, path, facts)
            answer = ("ok", facts)
        except Exception:
            answer = ("error", traceback.format_exc())
        pickle.dump(answer, stdout)
        stdout.flush()


class FactsProcess:
    """The child process, one extraction at a time."""

    def __init__(self) -> None:
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def extract(self, path: str, data: bytes, slot: CacheSlot | None = None) -> Facts:
        status, value = self.extract_batch([(path, data, slot)])[0]
        if status != "ok":
            raise RuntimeError(f"the facts process failed:\n{value}")
        return value

    def extract_batch(self, items: list[tuple[str, bytes, CacheSlot | None]]) -> list[tuple[str, Any]]:
        """("ok", facts) or ("error", traceback) for each text, all sent at once: the child
        reads on while the answers wait for this (GIL-bound) thread to take them."""
        with self._lock:
            if self._child is None or self._child.poll() is not None:
                self._child = subprocess.Popen(
                    [sys.executable, "-c", "from exhort.lsp.facts import serve; serve()"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                )
            try:
                for item in items:
                    pickle.dump(item, self._child.stdin)
                self._child.stdin.flush()
                return [pickle.load(self._child.stdout) for _item in items]
            except (OSError, EOFError, pickle.UnpicklingError) as error:
                self._child.kill()
                raise RuntimeError(f"the facts process failed: {error}") from error

    def close(self) -> None:
        """End the child (it ends when its stdin does)."""
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            try:
                child.stdin.close()
                child.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                child.kill()


class ManyFacts:
    """The facts of many texts, read in the calling thread and in child processes at once.

    Texts are added as they are found (`add`); once `start_after` of them are waiting, the
    children start: a child takes half a second to start (it imports the rules), and the
    caller goes on finding the rest meanwhile. `finish` reads in the calling thread too until
    every text is read. `done(path, facts, slot)` is called in the thread that received the
    facts, with the text's cache slot when they are still to be stored there (a child stores
    what it reads itself); a failed extraction is logged and skipped.
    """

    def __init__(self, here: Callable[[str, bytes], Facts], done: Callable[[str, Facts, CacheSlot | None], None],
                 processes: int, start_after: int) -> None:
        self._here, self._done = here, done
        self._processes, self._start_after = processes, start_after
        self._work: "queue.SimpleQueue[tuple[str, bytes, CacheSlot | None] | None]" = queue.SimpleQueue()
        self._added = 0
        self._children: list[FactsProcess] = []
        self._threads: list[threading.Thread] = []
        self._read_in_children = 0
        self._lock = threading.Lock()

    def add(self, path: str, data: bytes, slot: CacheSlot | None) -> None:
        self._work.put((path, data, slot))
        self._added += 1
        if self._added == self._start_after:
            for _ in range(self._processes):
                child = FactsProcess()
                self._children.append(child)
                thread = threading.Thread(target=self._drain_to, args=(child,), name="exhort-facts-child", daemon=True)
                self._threads.append(thread)
                thread.start()

    def finish(self) -> int:
        """Read until every text added is read; the number read in child processes."""
        for _ in range(len(self._threads) + 1):
            self._work.put(None)
        try:
            self._drain_here()
            for thread in self._threads:
                thread.join()
        finally:
            for child in self._children:
                child.close()
        return self._read_in_children

    def _drain_to(self, child: FactsProcess) -> None:
        """Feed a child BATCH texts at a time, until the work ends."""
        ended = False
        while not ended:
            batch = []
            while len(batch) < BATCH and (item := self._work.get()) is not None:
                batch.append(item)
            ended = len(batch) < BATCH
            if not batch:
                break
            try:
                answers = child.extract_batch(batch)
            except RuntimeError:
                logger.exception("reading index facts in a child process failed")
                answers = [("error", "")] * len(batch)
            for (path, _data, _slot), (status, value) in zip(batch, answers):
                if status != "ok":
                    logger.error("reading the index facts of %s failed:\n%s", path, value)
                    continue
                with self._lock:
                    self._read_in_children += 1
                self._done(path, value, None)

    def _drain_here(self) -> None:
        while (item := self._work.get()) is not None:
            path, data, slot = item
            try:
                facts = self._here(path, data)
            except Exception:
                logger.exception("reading the index facts of %s failed", path)
                continue
            self._done(path, facts, slot)
            time.sleep(0)  # let the loop thread answer the editor between files


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
