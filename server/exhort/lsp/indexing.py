"""The workspace index as the server keeps it: built from the files on disk at start-up
(then the per-form check of those files in the background, see precheck), updated from
watched-file events, and from the open buffers once typing pauses. Whenever the facts
change, every open document is checked again, the one whose edit changed them included."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from lsprotocol import types as t

from .. import files
from ..cache import ResultCache, cache_folder_for, file_key
from ..document import Document
from ..engine import DocumentState
from ..workspace import WorkspaceIndex
from . import convert
from .checks import BIG_DOCUMENT_BYTES, FAST_SCOPES, collector, is_excluded, parse_in_pieces
from .facts import CacheSlot, FactsReader, ManyFacts, store_in_cache
from .precheck import PrecheckStore

if TYPE_CHECKING:
    from .server import ExhortServer

logger = logging.getLogger("exhort.lsp")

# Child processes read facts too once this many files are found unread (each takes half a
# second to start: not worth it for a few changed files), one per other core.
FILES_BEFORE_FACTS_PROCESSES = 50
MAX_FACTS_PROCESSES = 3
PROGRESS_INTERVAL_SECONDS = 0.2
INDEX_DEBOUNCE_SECONDS = 0.3  # an open document's facts are re-read after typing pauses
PRECHECK_QUIET_SECONDS = 1.0  # the background check of workspace files pauses while edits arrive


class Indexer:
    def __init__(self, server: "ExhortServer") -> None:
        self.server = server
        self._index: WorkspaceIndex | None = None
        self._index_lock = threading.Lock()
        self.done = threading.Event()
        self.facts_stored = threading.Event()  # the facts read at start-up are in the facts cache
        self._after_cache: Callable[[], None] | None = None
        self.prechecks = PrecheckStore()
        self.last_edit_at = 0.0  # time.monotonic() of the last didChange
        self.facts = FactsReader(lambda: self.index, BIG_DOCUMENT_BYTES)

    @property
    def index(self) -> WorkspaceIndex:
        """Created on first use: it imports every rule pack, which initialize need not wait for."""
        with self._index_lock:
            if self._index is None:
                self._index = WorkspaceIndex(root_finder=files.project_root_for_file)
            return self._index

    def _open_paths(self) -> set[str]:
        return {item.path for item in list(self.server.documents.values())}

    # -- open documents -------------------------------------------------------------------------

    def schedule_update(self, uri: str, delay: float = INDEX_DEBOUNCE_SECONDS) -> None:
        item = self.server.documents.get(uri)
        if item is None:
            return
        if item.index_timer is not None:
            item.index_timer.cancel()
        item.index_timer = asyncio.get_running_loop().call_later(delay, self.update_from_open, uri)

    def update_from_open(self, uri: str) -> None:
        """Re-read an open document's index facts from a snapshot of its text, in a worker
        thread: on a big file the extractors take far longer than a keystroke's budget, and
        the editor must not wait for them. Results older than the latest request are dropped."""
        item = self.server.documents.get(uri)
        if item is None:
            return
        item.index_timer = None
        if item.document.language != "elixir" or "://" in item.path:
            return  # not analysed (yet): the document is text only, or not Elixir
        item.index_serial += 1
        serial, snapshot, loop = item.index_serial, item.document.snapshot(), asyncio.get_running_loop()
        self.facts.submit(
            snapshot.path, snapshot.data,
            lambda facts: loop.call_soon_threadsafe(self._store_open_facts, uri, serial, facts),
            document=snapshot,
        )

    def _store_open_facts(self, uri: str, serial: int, facts: dict[str, Any]) -> None:
        item = self.server.documents.get(uri)
        if item is None or item.index_serial != serial:
            return  # closed, or a newer extraction is on its way
        changed = self.index.set_facts(item.path, facts)
        if changed:
            logger.debug("index facts changed by %s: %s", item.path, sorted(changed))
            self.server.recheck_all()  # this document too: its own findings may read them

    def closed(self, path: str) -> None:
        """Once a document is closed, its index facts are those of the file on disk, if any
        (read after any extraction of the buffer still under way)."""
        self.read_from_disk(path)

    def read_from_disk(self, path: str) -> None:
        """Read the facts of the file at `path` as it is on disk (none if there is no readable
        Elixir source there), and store them."""
        loop = asyncio.get_running_loop()

        def store(facts: dict[str, Any] | None) -> None:
            loop.call_soon_threadsafe(self._store_disk_facts, path, facts)

        def read() -> None:
            data = _source_bytes(path)
            if data is None:
                store(None)
            else:
                self.facts.submit(path, data, store)

        self.facts.run(read)

    def _store_disk_facts(self, path: str, facts: dict[str, Any] | None) -> None:
        if path in self._open_paths():
            return  # opened again meanwhile: the buffer is the truth
        if self._store_facts(path, facts):
            self.server.recheck_all()

    # -- files on disk --------------------------------------------------------------------------

    def file_changed(self, uri: str, kind: t.FileChangeType) -> bool:
        """A watched source file or mix.lock changed on disk. Returns True when facts changed
        now (a source file's are read in the background, and rechecks follow from there)."""
        path = convert.uri_to_path(uri)
        if Path(path).name == "mix.lock":
            data = None
            if kind != t.FileChangeType.Deleted:
                try:
                    data = Path(path).read_bytes()
                except OSError:
                    data = None
            return self.index.set_lockfile(path, data)
        if not files.is_source(Path(path)) or path.endswith(".heex"):
            return False
        if path in self._open_paths():
            return False  # the editor's buffer is the truth for open files
        self.prechecks.discard(path)
        if kind == t.FileChangeType.Deleted:
            return bool(self._store_facts(path, None))
        self.read_from_disk(path)
        return False

    def _store_facts(self, path: str, facts: dict[str, Any] | None) -> set[str]:
        """Record a file's facts (None: it has none, forget it); the names of those that changed."""
        return self.index.set_facts(path, facts) if facts is not None else self.index.remove(path)

    # -- start-up -------------------------------------------------------------------------------

    def start(self, after_cache: Callable[[], None] = lambda: None) -> None:
        """Index the workspace in a background thread; `after_cache` is started in a thread
        of its own once the facts cache was read (or indexing failed before)."""
        self._after_cache = after_cache
        server = self.server
        capabilities = server.client_capabilities
        supports_progress = bool(capabilities.window and capabilities.window.work_done_progress)
        token = "exhort-index" if supports_progress and server.configs.folders else None

        def run() -> None:
            if token is not None:
                future = asyncio.run_coroutine_threadsafe(server.work_done_progress.create_async(token), server.loop)
                try:
                    future.result(timeout=10)
                except Exception:
                    logger.info("the client declined a progress token; indexing without progress")
                    self.index_workspace(None)
                    return
            self.index_workspace(token)

        threading.Thread(target=run, name="exhort-index", daemon=True).start()

    def index_workspace(self, token: str | None) -> None:
        """Runs in a background thread. Each file's facts come from the facts cache when its
        bytes are those they were read from (see cache.py: the CLI's cache, shared); the others
        are read in this thread and in child processes when cores are idle (parsing holds the
        GIL: the server's own share yields between files)."""
        server = self.server
        loop = server.loop
        assert loop is not None
        try:
            paths: list[Path] = []
            caches: list[tuple[ResultCache, list[Path]]] = []
            for folder in server.configs.folders:
                for lock in folder.rglob("mix.lock"):
                    if not ({"deps", "_build", "node_modules"} & set(lock.parts)):
                        try:
                            self.index.set_lockfile(str(lock), lock.read_bytes())
                        except OSError:
                            pass
                found = list(files.discover([folder], server.configs.exclusion_config_for))
                caches.append((ResultCache(cache_folder_for(folder)), found))
                paths.extend(found)
            progress = _Progress(self, token, len(paths))
            generation = self.index.generation

            to_store: list[tuple[CacheSlot, str, dict[str, Any]]] = []

            def extracted(path: str, facts: dict[str, Any], slot: CacheSlot | None) -> None:
                if path not in self._open_paths():
                    self.index.set_facts(path, facts)
                if slot is not None:
                    to_store.append((slot, path, facts))
                progress.advance()

            reader = ManyFacts(self.facts.extract_here, extracted, idle_cores(), FILES_BEFORE_FACTS_PROCESSES)
            from_cache = self._facts_from_cache(caches, progress, reader)
            self._start_after_cache()
            in_children = reader.finish()
            progress.end(f"Indexed {len(paths)} files")
            logger.info("indexed %d files: %d from the facts cache, %d read in other processes", len(paths), from_cache, in_children)
            if self.index.generation != generation:
                loop.call_soon_threadsafe(server.recheck_all)
        except Exception:
            logger.exception("workspace indexing failed")
            paths, to_store = [], []
        finally:
            self._start_after_cache()
            self.done.set()
        # Only the next start reads them: written once the index is complete.
        try:
            for slot, path, facts in to_store:
                store_in_cache(slot, path, facts)
        except Exception:
            logger.exception("writing the facts cache failed")
        del to_store
        self.facts_stored.set()
        self.precheck_workspace(paths)

    def _start_after_cache(self) -> None:
        task, self._after_cache = self._after_cache, None
        if task is not None:
            threading.Thread(target=task, name="exhort-after-cache", daemon=True).start()

    def _facts_from_cache(self, caches: list[tuple[ResultCache, list[Path]]], progress: "_Progress", reader: ManyFacts) -> int:
        """Store the facts the cache holds for the files' current bytes, and hand the others to
        `reader`; the number of files whose facts came from the cache."""
        found = 0
        for cache, paths in caches:
            for path in paths:
                absolute = str(path.absolute())
                if absolute in self._open_paths() or path.suffix == ".heex":
                    progress.advance()
                    continue
                data = _source_bytes(absolute)
                if data is None:
                    progress.advance()
                    continue
                key = file_key(absolute, self.index.project_root_of(absolute), data)
                facts = cache.load_facts(absolute, key)
                if facts is None:
                    reader.add(absolute, data, (str(cache.folder), key))
                    continue
                found += 1
                if absolute not in self._open_paths():
                    self.index.set_facts(absolute, facts)
                progress.advance()
        return found

    def precheck_workspace(self, paths: list[Path]) -> None:
        """Check the workspace's files with the per-form rules, newest first, keeping each
        file's engine state for the moment it is opened (see precheck.py). Runs in the
        indexing thread after the index is complete, yielding between files."""
        try:
            candidates = []
            for path in paths:
                if path.suffix == ".heex":
                    continue
                try:
                    info = path.stat()
                except OSError:
                    continue
                candidates.append((info.st_mtime, info.st_size, path))
            candidates.sort(key=lambda entry: entry[0], reverse=True)
            for _mtime, size, path in candidates:
                absolute = str(path.absolute())
                if not self.prechecks.has_room_for(size) or absolute in self._open_paths():
                    continue
                engine = self.server.configs.engine_for(absolute)
                if is_excluded(engine, absolute):
                    continue
                # Keystrokes first: this work only saves time later, so it waits while the
                # user is typing rather than competing with the checks for the GIL.
                while time.monotonic() - self.last_edit_at < PRECHECK_QUIET_SECONDS:
                    time.sleep(PRECHECK_QUIET_SECONDS / 4)
                text, skipped = files.read_source(path)
                if text is None or skipped is not None:
                    continue
                big = size > BIG_DOCUMENT_BYTES
                with collector.held(big):
                    data = text.encode("utf-8")
                    document = Document(absolute, data, tree=parse_in_pieces(data) if big else None)
                    state = DocumentState()
                    result = engine.check(document, self.index, state, scopes=FAST_SCOPES)
                if not result.failures:  # a raising rule is reported when the file is opened
                    self.prechecks.put(absolute, document, state)
                time.sleep(0)  # let the loop thread answer the editor between files
            logger.info("prechecked %d files", len(self.prechecks))
        except Exception:
            logger.exception("checking the workspace in the background failed")
        finally:
            # What start-up built (modules, index facts, the stored states) lives as long as
            # the server: keep it out of the cyclic collector's full passes, which otherwise
            # walk all of it and pause a keystroke now and then.
            gc.collect()
            gc.freeze()
            self.prechecks.done.set()

    def _progress(self, token: str, value) -> None:
        server = self.server
        assert server.loop is not None
        server.loop.call_soon_threadsafe(server.protocol.notify, t.PROGRESS, t.ProgressParams(token=token, value=value))


class _Progress:
    """Work-done progress of indexing (nothing without a token), reported from any thread,
    at most every PROGRESS_INTERVAL_SECONDS."""

    def __init__(self, indexer: Indexer, token: str | None, total: int) -> None:
        self._indexer, self._token, self._total = indexer, token, total
        self._done = 0
        self._last_report = time.monotonic()
        self._lock = threading.Lock()
        if token is not None:
            indexer._progress(token, t.WorkDoneProgressBegin(title="exhort", message=f"Indexing {total} files", percentage=0, cancellable=False))

    def advance(self) -> None:
        with self._lock:
            self._done += 1
            if self._token is None or time.monotonic() - self._last_report <= PROGRESS_INTERVAL_SECONDS:
                return
            self._last_report = time.monotonic()
            done, total = self._done, self._total
        message = f"{done}/{total} files"
        self._indexer._progress(self._token, t.WorkDoneProgressReport(message=message, percentage=int(100 * done / max(total, 1))))

    def end(self, message: str) -> None:
        if self._token is not None:
            self._indexer._progress(self._token, t.WorkDoneProgressEnd(message=message))


def idle_cores() -> int:
    """Child processes worth starting to read facts beside the server: one per core that the
    last minute left idle, besides the server's own. On a busy machine a child only competes
    for the same cores and adds its start-up (measured: 4.2 s instead of 3.6 s for 877 files
    at load 2.7 on 2 cores)."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 0
    return max(0, min(int(cores - load), cores - 1, MAX_FACTS_PROCESSES))


def _source_bytes(path: str) -> bytes | None:
    """The text of an Elixir source file on disk as UTF-8; None if there is none to read."""
    if not files.is_source(Path(path)) or path.endswith(".heex"):
        return None
    text, skipped = files.read_source(Path(path))
    return text.encode("utf-8") if text is not None and skipped is None else None
