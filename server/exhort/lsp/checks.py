"""When each open document is checked, and where: off the event loop, one check per
document at a time, the newest text first.

A keystroke asks for a fast check: the per-form scopes, with the last whole-document
findings moved through the edits made since. The whole-document rules follow once typing
pauses (FULL_CHECK_DEBOUNCE_SECONDS). The first check of a document is a full one, so that
the first thing the editor is shown is complete.

Checks run in worker threads, so the loop keeps reading: an edit, a request on another
document or `exit` is handled while a big file is checked. A newer request for the same
document cancels the running check (the engine keeps the forms it finished, so checks that
keep being cancelled still get somewhere); results for a text that has changed since are
dropped. Nothing is published here: each finished check hands its result to the server,
which publishes what is owed (see publishing).

Big documents are parsed in the workers too (see documents).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import tree_sitter as ts

from ..document import Document
from ..engine import CheckCancelled, DocumentState, Engine
from ..baseline import Baseline, shown_against
from ..findings import Finding, RuleFailure
from ..parsing import new_elixir_parser
from ..suppression import UNUSED_SUPPRESSION
from ..text import Encoding
from . import documents
from .documents import OpenDocument

if TYPE_CHECKING:
    from ..workspace import WorkspaceIndex

logger = logging.getLogger("exhort.lsp")

FULL_CHECK_DEBOUNCE_SECONDS = 0.25
FAST_SCOPES = frozenset({"node", "module"})
# Jobs on documents this big run with the cyclic collector's full passes held off (see
# QuietCollector); smaller ones finish before a full pass would matter.
BIG_DOCUMENT_BYTES = 256 * 1024
MAX_WORKERS = 8
PARSE_CHUNK_BYTES = 16 * 1024
# A check runs on the event loop when the last one of its kind on the same document took
# less than this and nothing it cached was dropped since; any other in a worker thread.
INLINE_CHECK_SECONDS = 0.02


class QuietCollector:
    """Holds off the cyclic collector's full passes while big jobs run.

    A check of a big file builds hundreds of thousands of containers (cached per-member
    results, findings), and each full pass walks all of them with the GIL held: on a 2 MB
    file, pauses of up to a second on the event loop, and four fifths of the check's time.
    While a big job runs, only the young generations are collected; when the last one
    ends, what survived is frozen (moved out of the collector's sight, as the server does
    after its start-up work), so later full passes stay short. Cycles that die after being
    frozen are not reclaimed: the price of pauses that stay under a few milliseconds.
    """

    NEVER = 1 << 30

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved: tuple[int, int, int] | None = None

    @contextmanager
    def held(self, big: bool = True) -> Iterator[None]:
        if not big:
            yield
            return
        with self._lock:
            if self._active == 0:
                self._saved = gc.get_threshold()
                gc.set_threshold(self._saved[0], self._saved[1], self.NEVER)
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0 and self._saved is not None:
                    gc.freeze()
                    gc.set_threshold(*self._saved)


collector = QuietCollector()


class Workers:
    """Daemon threads for checks and parses. A job never waits for another document's job
    while fewer than MAX_WORKERS run: a thread is started when none is idle. Daemons, so
    that `exit` does not wait for a check of a big file to finish."""

    def __init__(self, limit: int = MAX_WORKERS) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._limit = limit
        self._threads = 0
        self._idle = 0
        self._backlog = 0  # jobs queued with no thread reserved for them

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1  # reserved: that thread takes this job
            elif self._threads < self._limit:
                self._threads += 1
                threading.Thread(target=self._work, name=f"exhort-check-{self._threads}", daemon=True).start()
            else:
                self._backlog += 1
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except BaseException:  # a job reports its own errors; this is a bug in one
                logger.exception("a background job failed")
            with self._lock:
                if self._backlog:
                    self._backlog -= 1
                else:
                    self._idle += 1


@dataclass
class CheckJob:
    """One check of one version, with everything it reads captured on the loop thread."""

    item: OpenDocument
    version: int | None
    full: bool
    document: Document  # a snapshot: edits made meanwhile do not reach it
    state: DocumentState
    engine: Engine
    index: "WorkspaceIndex"
    encoding: Encoding
    excluded: bool
    carried: list[Finding]  # whole-document findings of the last full check
    edits: list[tuple[int, int, int]]  # made since that check
    other_document: Callable[[str], Document | None]
    baseline: "tuple[Baseline, str, str] | None" = None  # (baseline, its folder, "hint" | "hidden")
    cancelled: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0
    ended: float = 0.0
    cpu_seconds: float = 0.0

    # results, set by run()
    findings: list[Finding] | None = None
    full_findings: list[Finding] = field(default_factory=list)
    entries: list[tuple[dict, str]] = field(default_factory=list)
    failures: list[RuleFailure] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.ended - self.started

    def run(self) -> None:
        self.started, cpu = time.monotonic(), time.thread_time()
        try:
            self._run()
        finally:
            self.ended = time.monotonic()
            self.cpu_seconds = time.thread_time() - cpu  # its cost, whatever it waited for

    def _run(self) -> None:
        with collector.held(len(self.document.data) > BIG_DOCUMENT_BYTES):
            try:
                self.findings = self._check()
            except CheckCancelled:
                self.findings = None
                return
            self.entries = self.item.converted.convert(
                self.findings, self.document, self.encoding, self.item.uri, self.other_document
            )

    def _check(self) -> list[Finding]:
        if self.excluded:
            return []
        stop = self.cancelled.is_set
        try:
            if self.full:
                result = self.engine.check(
                    self.document, self.index, self.state, report_unused_suppressions=True, cancelled=stop
                )
            else:
                result = self.engine.check(self.document, self.index, self.state, scopes=FAST_SCOPES, cancelled=stop)
        except CheckCancelled:
            raise
        except Exception:  # the engine isolates rules; this is a bug in the engine itself
            logger.exception("checking %s failed", self.document.path)
            return list(self.item.findings)
        self.failures = result.failures
        findings = result.findings
        if self.full:
            slow = {r.code for r in self.engine.registry.rules if r.scope == "document"} | {UNUSED_SUPPRESSION.code}
            self.full_findings = [f for f in findings if f.code in slow]
        else:
            carried = moved_through(self.carried, self.edits)
            if carried:
                findings = sorted([*findings, *carried], key=lambda f: (f.start, f.end, f.code))
        if self.baseline is not None:
            baseline, folder, show = self.baseline
            findings = shown_against(baseline, folder, self.document, findings, show)
        return findings


class Checker:
    """Schedules, runs and cancels the checks of the open documents.

    `on_checked(item, failures)` is called on the loop thread after each check whose
    result was stored on `item` (its text had not changed meanwhile).
    """

    def __init__(
        self,
        documents: dict[str, OpenDocument],
        engine_for: Callable[[str], Engine],
        is_excluded: Callable[[Engine, str], bool],
        index: Callable[[], "WorkspaceIndex"],
        encoding: Callable[[], Encoding],
        other_document: Callable[[str], Document | None],
        baseline: "Callable[[], tuple[Baseline, str, str] | None]",
        on_checked: Callable[[OpenDocument, list[RuleFailure]], None],
        on_loaded: Callable[[OpenDocument], None],
    ) -> None:
        self._engine_for = engine_for
        self._is_excluded = is_excluded
        self._index = index
        self._encoding = encoding
        self._other_document = other_document
        self._baseline = baseline
        self._on_checked = on_checked
        self._on_loaded = on_loaded
        self._workers = Workers()
        self._running: dict[str, object] = {}  # uri -> the CheckJob or load under way
        self._starting: set[str] = set()
        self.open = documents  # the server's open documents, by URI

    # -- asking ---------------------------------------------------------------------------------

    def request(self, item: OpenDocument, full: bool = False, supersede: bool = True, cold: bool = False) -> None:
        """A check of `item` is owed: its text, its config or the index changed. The running
        check, if any, is cancelled when `supersede` (its result would be for an older text
        or an older config); new index facts let it finish (most of what it finds stays
        true, and the next check reuses it) and check again after. `cold`: the cached
        results it could reuse are gone, so it may take long (it runs in a worker)."""
        item.check_requested = True
        item.next_check_cold |= cold
        if full:
            item.want_full = True
        if item.full_timer is not None:
            item.full_timer.cancel()  # typing goes on: the whole-document check waits again
            item.full_timer = None
        running = self._running.get(item.uri)
        if isinstance(running, CheckJob):
            if supersede:
                running.cancelled.set()
            return
        if running is None and item.uri not in self._starting:
            # Soon rather than now: the changes of a burst read in one go are checked once.
            self._starting.add(item.uri)
            asyncio.get_running_loop().call_soon(self._start, item.uri)

    async def checked(self, item: OpenDocument, complete: bool = False) -> bool:
        """Wait until `item` holds the findings of its current text (with the whole-document
        rules when `complete`). False if it was closed meanwhile."""
        if complete and not self._satisfied(item, True) and not self._full_check_coming(item):
            self.request(item, full=True)  # asked for now: no point waiting for the pause
        return await self._until(item, lambda: self._satisfied(item, complete))

    async def loaded(self, item: OpenDocument) -> bool:
        """Wait until `item`'s document is built (see documents). False if it was closed."""
        return await self._until(item, lambda: not item.loading)

    async def _until(self, item: OpenDocument, condition: Callable[[], bool]) -> bool:
        if condition():
            return True
        future = asyncio.get_running_loop().create_future()
        item.waiters.append((condition, future))
        return await future

    def _wake(self, item: OpenDocument) -> None:
        waiting, item.waiters = item.waiters, []
        for condition, future in waiting:
            if future.done():
                continue
            if condition():
                future.set_result(True)
            else:
                item.waiters.append((condition, future))

    def closed(self, item: OpenDocument) -> None:
        """`item` was closed (and is no longer among the open documents)."""
        if item.full_timer is not None:
            item.full_timer.cancel()
        running = self._running.get(item.uri)
        if isinstance(running, CheckJob):
            running.cancelled.set()
        for _condition, future in item.waiters:
            if not future.done():
                future.set_result(False)
        item.waiters.clear()

    # -- running --------------------------------------------------------------------------------

    def _full_check_coming(self, item: OpenDocument) -> bool:
        running = self._running.get(item.uri)
        if isinstance(running, CheckJob) and running.full and not running.cancelled.is_set():
            return True
        return item.check_requested and item.want_full

    @staticmethod
    def _satisfied(item: OpenDocument, complete: bool) -> bool:
        return item.checked and (item.complete or not complete)

    def _start(self, uri: str) -> None:
        self._starting.discard(uri)
        item = self.open.get(uri)
        if item is None or uri in self._running or not (item.check_requested or item.loading):
            return
        if item.loading:
            self._load(item)
            return
        item.check_requested = False
        if item.oversized:  # kept as text only: nothing to say about it
            self._store(item, item.version, True, [], [], [])
            self._on_checked(item, [])
            return
        full = item.want_full or item.edits_since_full is None or item.checked_version == -1
        item.want_full = False
        engine = self._engine_for(item.path)
        job = CheckJob(
            item=item,
            version=item.version,
            full=full,
            document=item.document.snapshot(),
            state=item.state,
            engine=engine,
            index=self._index(),
            encoding=self._encoding(),
            excluded=self._is_excluded(engine, item.path),
            carried=list(item.full_findings),
            edits=list(item.edits_since_full or ()),
            other_document=self._other_document,
            baseline=self._baseline(),
        )
        self._running[uri] = job
        item.checks_started += 1
        if not item.next_check_cold and item.last_check_seconds.get(full, INLINE_CHECK_SECONDS) < INLINE_CHECK_SECONDS:
            # As short as the last one was: run it here. Handing it to a worker and back
            # costs two thread wake-ups, a millisecond or more on a busy machine.
            job.run()
            self._finished(job)
            return
        loop = asyncio.get_running_loop()

        def run() -> None:
            job.run()
            loop.call_soon_threadsafe(self._finished, job)

        self._workers.submit(run)

    def _finished(self, job: CheckJob) -> None:
        item = job.item
        logger.debug(
            "%s check of %s v%s %s in %.1f ms", "full" if job.full else "fast", item.uri, job.version,
            "cancelled" if job.findings is None else "done", job.duration * 1000,
        )
        if self._running.get(item.uri) is job:
            del self._running[item.uri]
        if self.open.get(item.uri) is not item:
            return  # closed meanwhile
        if job.findings is None or job.version != item.version or item.loading:
            # Cancelled, or the text changed meanwhile: the next check is on its way. The
            # conversion may have read an edit made during the check: forget it.
            item.converted.invalidate()
            if job.findings is None:
                # A cancelled whole-document check comes again after the next pause in typing.
                item.checks_cancelled += 1
        else:
            item.last_check_seconds[job.full] = job.cpu_seconds
            item.next_check_cold = False
            self._store(item, job.version, job.full, job.findings, job.full_findings, job.entries)
            self._on_checked(item, job.failures)
            if not job.full and not item.check_requested and item.full_timer is None:
                item.full_timer = asyncio.get_running_loop().call_later(
                    FULL_CHECK_DEBOUNCE_SECONDS, self._full_check_due, item
                )
        if item.check_requested or item.loading:
            self._start(item.uri)

    def _full_check_due(self, item: OpenDocument) -> None:
        item.full_timer = None
        if self.open.get(item.uri) is item:
            self.request(item, full=True)

    def _store(self, item, version, full, findings, full_findings, entries) -> None:
        item.findings = findings
        item.checked_version = version
        item.complete = full
        if full:
            item.full_findings = full_findings
            item.edits_since_full = []
        diagnostics = [entry[0] for entry in entries]
        if diagnostics != item.diagnostics or item.result_serial == 0:
            item.result_serial += 1
            item.diagnostics = diagnostics
        item.diagnostic_texts = [entry[1] for entry in entries]
        self._wake(item)

    # -- building big documents ----------------------------------------------------------------

    def _load(self, item: OpenDocument) -> None:
        """Build the document of a big text in a worker, then apply there the changes that
        arrived meanwhile, until it has caught up; the loop only installs it."""
        text, changes = item.loading_text, list(item.changes_while_loading)
        self._running[item.uri] = text
        loop, encoding = asyncio.get_running_loop(), self._encoding()

        def build() -> None:
            with collector.held():
                document = documents.build(item.path, text, item.language, changes, encoding, parse_in_pieces)
            loop.call_soon_threadsafe(self._loaded, item, text, document, len(changes))

        self._workers.submit(build)

    def _loaded(self, item: OpenDocument, text: bytes, document: Document, applied: int) -> None:
        if self._running.get(item.uri) is text:
            del self._running[item.uri]
        if self.open.get(item.uri) is not item:
            return
        if not item.loading or item.loading_text is not text:
            self._start(item.uri)  # a whole new text came meanwhile: build that one
            return
        pending = item.changes_while_loading[applied:]
        if pending:
            self._running[item.uri] = text
            loop, encoding = asyncio.get_running_loop(), self._encoding()

            def catch_up() -> None:
                with collector.held():
                    documents.catch_up(document, pending, encoding)
                loop.call_soon_threadsafe(self._loaded, item, text, document, applied + len(pending))

            self._workers.submit(catch_up)
            return
        text_only = document.language == documents.TEXT_ONLY
        if text_only != (len(document.data) > documents.MAX_BUFFER_BYTES):
            documents.set_text(item, document.data)  # the changes crossed the size limit: again
        else:
            documents.set_text(item, document.data, document)
        self._on_loaded(item)
        self._wake(item)
        item.check_requested = True
        self._start(item.uri)


def parse_in_pieces(data: bytes) -> ts.Tree:
    """Parse `data` so that other threads run meanwhile.

    tree-sitter holds the GIL through a parse of a bytes object: 2 s for 3 MB, during which
    the event loop cannot answer anything. Given the text through a read callback, and with
    a progress callback, it calls into Python every few microseconds of work, where the
    interpreter hands the GIL to a thread that waits for it. Such a tree reads each node's
    text through the callback too (70 times slower than from bytes), so the text is parsed
    once more from bytes with that tree as the old one: every node is reused, and the GIL
    is held for about 30 ms per MB instead of 700.
    """
    parser = new_elixir_parser()
    pieces = parser.parse(lambda offset, _point: data[offset : offset + PARSE_CHUNK_BYTES], progress_callback=_go_on)
    return parser.parse(data, pieces)


def _go_on(*_state) -> bool:
    return False  # never cancel


def moved_through(findings: list[Finding], edits: list[tuple[int, int, int]]) -> list[Finding]:
    """Findings moved through byte edits (start, old end, new end), applied in order.

    A finding any of whose offsets falls inside an edited stretch, or whose offsets lie on
    both sides of one, is dropped: the full check will say again what holds there.
    """
    moved = []
    for finding in findings:
        current: Finding | None = finding
        for start, old_end, new_end in edits:
            offsets = current.offsets()
            if max(offsets) <= start:  # wholly before the edit
                continue
            if min(offsets) >= old_end and min(offsets) > start:  # wholly after it
                current = current.shifted(new_end - old_end)
                continue
            current = None
            break
        if current is not None:
            moved.append(current)
    return moved


def is_excluded(engine: Engine, path: str) -> bool:
    if "://" in path or engine.config.root is None:
        return False
    return engine.config.is_excluded(Path(path))
