"""`exhort serve`: the language server.

A thin adapter over the engine. Per open document it keeps an exhort.document.Document
(bytes, line table, incremental tree), the engine's DocumentState and the last findings.
Edits are applied synchronously in arrival order; checks are queued with call_soon, so a
burst of changes read before the loop is free is checked once, for the newest version.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types as t
from pygls.exceptions import FeatureRequestError
from pygls.io_ import StdoutWriter, run_async
from pygls.lsp.server import LanguageServer

from .. import __version__, files
from ..config import CONFIG_FILE, Config, ConfigError, find_config_file, load_config
from ..document import Document, language_for_path
from ..engine import DocumentState, Engine
from ..findings import Finding, Severity
from ..registry import default_registry, discover_hover_providers
from ..rule import Context
from ..project import ProjectPath
from ..suppression import UNUSED_SUPPRESSION, suppression_at
from ..text import Encoding, normalise_encoding
from ..workspace import WorkspaceIndex
from . import convert
from .precheck import PrecheckStore
from .protocol import ExhortProtocol
from .stdio import PipeReader, readable_in_loop

logger = logging.getLogger("exhort.lsp")

FIX_ALL_KIND = "source.fixAll.exhort"
INDEX_DEBOUNCE_SECONDS = 0.3  # an open document's facts are re-read after typing pauses
# Whole-document rules (templates, cross-module reads) cost far more than a keystroke's
# budget on big files. A keystroke is answered from the per-form scopes plus the previous
# whole-document findings moved through the edits; the full check follows once typing pauses.
FULL_CHECK_DEBOUNCE_SECONDS = 0.25
FAST_SCOPES = frozenset({"node", "module"})
PRECHECK_QUIET_SECONDS = 1.0  # the background check of workspace files pauses while edits arrive
GC_YOUNG_THRESHOLD = 10_000
WATCHED_GLOBS = ("**/*.{ex,exs,heex}", "**/mix.lock", f"**/{CONFIG_FILE}")


@dataclass
class OpenDocument:
    uri: str
    document: Document
    version: int | None
    state: DocumentState = field(default_factory=DocumentState)
    findings: list[Finding] = field(default_factory=list)
    checked_version: int | None = -1  # version the findings belong to (-1: never checked)
    dirty: bool = True
    result_serial: int = 0  # bumped whenever the reported diagnostics change (pull resultId)
    last_diagnostics: list[dict] | None = None
    last_texts: list[str] = field(default_factory=list)  # last_diagnostics as JSON, for publishing
    converted: convert.DiagnosticsCache = field(default_factory=convert.DiagnosticsCache)
    index_timer: asyncio.TimerHandle | None = None
    index_serial: int = 0  # bumped per index-facts extraction; only the latest one is stored
    full_timer: asyncio.TimerHandle | None = None
    # (start, old end, new end) byte edits since the last full check; None: cannot map (full sync)
    edits_since_full: list[tuple[int, int, int]] | None = field(default_factory=list)
    full_findings: list[Finding] = field(default_factory=list)  # whole-document ones, as last checked
    prechecked: bool = False  # opened with the state of a background check of the same text
    parsed_in_background: bool = False  # and with the document that check parsed

    @property
    def path(self) -> str:
        return self.document.path

    @property
    def result_id(self) -> str:
        return f"{self.version}.{self.result_serial}"


class ExhortServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("exhort", __version__, protocol_cls=ExhortProtocol, max_workers=4)
        self.documents: dict[str, OpenDocument] = {}
        self.encoding: Encoding = "utf-16"
        self.pull_mode = False
        self.refresh_support = False
        self.settings: dict[str, Any] = {}
        self.folders: list[Path] = []
        self._index: WorkspaceIndex | None = None
        self._index_lock = threading.Lock()
        self.index_done = threading.Event()
        self.prechecks = PrecheckStore()
        self.last_edit_at = 0.0  # time.monotonic() of the last didChange
        # One worker: extractions of open documents run in order, off the event loop.
        self._facts_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exhort-facts")
        self._pending_checks: set[str] = set()
        self._engines: dict[str | None, Engine] = {}
        self._configs: dict[str, Config] = {}  # config file -> last good config
        self._config_errors: dict[str, ConfigError] = {}
        self._config_file_of_dir: dict[str, str | None] = {}
        self._hover_providers: list | None = None
        self._disk_documents: dict[str, tuple[int, Document | None]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def index(self) -> WorkspaceIndex:
        """Created on first use: it imports every rule pack, which initialize need not wait for."""
        with self._index_lock:
            if self._index is None:
                self._index = WorkspaceIndex(root_finder=files.project_root_for_file)
            return self._index

    # -- transport -----------------------------------------------------------------------------

    def _start_io_async(self, stdin=None, stdout=None) -> None:
        """pygls' stdio loop, with stdin read by the event loop when it is a pipe (see stdio)."""
        stdin, stdout = stdin or sys.stdin.buffer, stdout or sys.stdout.buffer
        if not readable_in_loop(stdin, stdout):
            super()._start_io_async(stdin, stdout)
            return
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout))

        async def serve() -> None:
            reader = await PipeReader.open(stdin)
            await run_async(
                stop_event=self._stop_event, reader=reader, protocol=self.protocol,
                logger=logger, error_handler=self.report_server_error,
            )

        try:
            asyncio.run(serve())
        except BrokenPipeError:
            logger.error("the connection to the client is lost; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    # -- errors --------------------------------------------------------------------------------

    def report_server_error(self, error: Exception, source) -> None:
        """Log instead of popping up a message: a failing notification would pop up per keystroke."""
        if isinstance(error, json.JSONDecodeError):
            logger.warning("malformed JSON from the client: %s", error)
            self.protocol._send_data(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": f"Parse error: {error}"}}
            )
            return
        if source is FeatureRequestError:  # the client already got an error response
            logger.debug("request failed: %s", error)
            return
        logger.error("internal error (%s): %s", getattr(source, "__name__", source), error)

    def log_to_client(self, level: int, message: str) -> None:
        kind = {
            logging.ERROR: t.MessageType.Error,
            logging.WARNING: t.MessageType.Warning,
            logging.INFO: t.MessageType.Info,
        }.get(level, t.MessageType.Log)
        try:
            self.window_log_message(t.LogMessageParams(type=kind, message=message))
        except Exception:  # no transport yet, or it is gone: stderr already has it
            pass

    # -- configuration -------------------------------------------------------------------------

    def config_file_for(self, path: str) -> str | None:
        if "://" in path or path.startswith("untitled:"):
            folder = str(self.folders[0]) if self.folders else None
        else:
            folder = str(Path(path).parent)
        if folder is None:
            return None
        if folder not in self._config_file_of_dir:
            found = find_config_file(Path(folder)) if Path(folder).exists() else None
            self._config_file_of_dir[folder] = str(found) if found else None
        return self._config_file_of_dir[folder]

    def load_config_file(self, config_path: str) -> Config:
        """The config in `config_path`; when broken, the last good one (or the defaults)."""
        try:
            config = load_config(Path(config_path), default_registry())
        except ConfigError as error:
            logger.warning("%s", error)
            self._config_errors[config_path] = error
            return self._configs.get(config_path, Config(root=str(Path(config_path).parent)))
        self._config_errors.pop(config_path, None)
        self._configs[config_path] = config
        return config

    def engine_for(self, path: str) -> Engine:
        config_path = self.config_file_for(path)
        engine = self._engines.get(config_path)
        if engine is None:
            if config_path is None:
                base = Config()
            elif config_path in self._configs:
                base = self._configs[config_path]
            else:
                base = self.load_config_file(config_path)
                self.publish_config_diagnostics(config_path)
            engine = Engine(self._with_settings(base), default_registry())
            self._engines[config_path] = engine
        return engine

    def _with_settings(self, config: Config) -> Config:
        settings = self.settings
        severity: dict[str, Severity] = {}
        for code, value in (settings.get("severity") or {}).items():
            try:
                severity[str(code).upper()] = Severity.parse(str(value))
            except ValueError as error:
                logger.warning("editor setting severity.%s: %s", code, error)
        return config.with_overrides(
            select=settings.get("select"),
            ignore=settings.get("ignore"),
            severity=severity or None,
        )

    def set_settings(self, raw: Any) -> None:
        settings = _read_settings(raw)
        if settings == self.settings:
            return
        self.settings = settings
        self.reset_engines()

    def reset_engines(self) -> None:
        """Config or settings changed: rebuild engines and re-check every open document."""
        self._engines.clear()
        for item in self.documents.values():
            item.state.clear()  # rule parameters may differ: cached results are stale
            item.dirty = True
            self.schedule_check(item.uri)

    def config_changed(self, config_path: str) -> None:
        self._config_file_of_dir.clear()  # a file may have appeared or disappeared
        if Path(config_path).is_file():
            self.load_config_file(config_path)
        else:
            self._configs.pop(config_path, None)
            self._config_errors.pop(config_path, None)
        self.publish_config_diagnostics(config_path)
        self.reset_engines()

    def config_diagnostics(self, config_path: str) -> list[dict]:
        error = self._config_errors.get(config_path)
        if error is None:
            return []
        line = max((error.line or 1) - 1, 0)
        return [
            {
                "range": {"start": {"line": line, "character": 0}, "end": {"line": line + 1, "character": 0}},
                "severity": int(Severity.ERROR),
                "source": convert.SOURCE,
                "message": f"{error.message} (the last valid configuration stays in force)",
            }
        ]

    def publish_config_diagnostics(self, config_path: str) -> None:
        if self.pull_mode:
            self.request_refresh()
            return
        self._notify_diagnostics(convert.path_to_uri(config_path), None, self.config_diagnostics(config_path))

    # -- documents and checks ----------------------------------------------------------------

    def open_document(self, uri: str, text: str, version: int | None, language_id: str | None) -> None:
        path = convert.uri_to_path(uri)
        language = "heex" if language_id in ("heex", "phoenix-heex") else language_for_path(path)
        data = text.encode("utf-8", errors="surrogateescape")
        prechecked = self.prechecks.take(path, data)
        state, document = prechecked if prechecked is not None else (DocumentState(), None)
        reused = document is not None and document.language == language
        if not reused:
            document = Document(path, data, language)
        self.documents[uri] = OpenDocument(
            uri, document, version, state=state, prechecked=prechecked is not None, parsed_in_background=reused
        )
        self.schedule_check(uri)
        self.schedule_index_update(uri)

    def schedule_check(self, uri: str) -> None:
        if uri in self._pending_checks:
            return
        self._pending_checks.add(uri)
        asyncio.get_running_loop().call_soon(self._check_and_report, uri)

    def _check_and_report(self, uri: str, full: bool = False) -> None:
        self._pending_checks.discard(uri)
        item = self.documents.get(uri)
        if item is None or not (item.dirty or full):
            return
        fast = not full and item.edits_since_full is not None
        first = item.checked_version == -1
        diagnostics = self.check(item, fast=fast)
        if fast:
            if item.full_timer is not None:
                item.full_timer.cancel()
            item.full_timer = asyncio.get_running_loop().call_later(
                0 if first else FULL_CHECK_DEBOUNCE_SECONDS, self._check_and_report, uri, True
            )
        if self.pull_mode:
            if full:
                self.request_refresh()
            return
        self._publish_texts(uri, item.version, item.last_texts)

    def check(self, item: OpenDocument, fast: bool = False) -> list[dict]:
        """Run the engine on the current text; returns the diagnostics (also kept on `item`).

        `fast` runs only the per-form scopes and carries the last whole-document findings
        over, moved through the edits made since (dropped where an edit touched them).
        """
        engine = self.engine_for(item.path)
        if self._is_excluded(engine, item.path):
            findings: list[Finding] = []
        else:
            try:
                if fast:
                    result = engine.check(item.document, self.index, item.state, scopes=FAST_SCOPES)
                else:
                    result = engine.check(item.document, self.index, item.state, report_unused_suppressions=True)
            except Exception:  # the engine isolates rules; this is a bug in the engine itself
                logger.exception("checking %s failed", item.path)
                result = None
            findings = result.findings if result is not None else item.findings
            if result is not None and fast:
                carried = _moved_through(item.full_findings, item.edits_since_full or [])
                if carried:
                    findings = sorted([*findings, *carried], key=lambda f: (f.start, f.end, f.code))
            elif result is not None:
                slow_codes = {r.code for r in engine.registry.rules if r.scope == "document"} | {UNUSED_SUPPRESSION.code}
                item.full_findings = [f for f in findings if f.code in slow_codes]
                item.edits_since_full = []
                if item.full_timer is not None:
                    item.full_timer.cancel()
                    item.full_timer = None
            for failure in result.failures if result is not None else ():
                message = (
                    f"exhort: rule {failure.code} raised on {failure.path} and is disabled for this document: "
                    f"{failure.error.splitlines()[0]}"
                )
                logger.error("%s\n%s", message, failure.error, extra={"client": False})
                self.log_to_client(logging.ERROR, message)
        item.findings = findings
        item.checked_version = item.version
        item.dirty = False
        entries = item.converted.convert(findings, item.document, self.encoding, item.uri, self.document_for_path)
        diagnostics = [entry[0] for entry in entries]
        item.last_texts = [entry[1] for entry in entries]
        if diagnostics != item.last_diagnostics:
            item.result_serial += 1
            item.last_diagnostics = diagnostics
        return diagnostics

    def ensure_checked(self, item: OpenDocument) -> None:
        if item.dirty:
            self.check(item)

    @staticmethod
    def _is_excluded(engine: Engine, path: str) -> bool:
        if "://" in path or engine.config.root is None:
            return False
        return engine.config.is_excluded(Path(path))

    def document_for_path(self, path: str) -> Document | None:
        """The text of another file (related locations point into it): the open buffer, or
        the file on disk, read again only when it changed (this runs on every publish)."""
        for item in self.documents.values():
            if item.path == path:
                return item.document
        try:
            stamp = Path(path).stat().st_mtime_ns
        except OSError:
            return None
        cached = self._disk_documents.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        text, skipped = files.read_source(Path(path))
        document = Document(path, text, language="text") if skipped is None and text is not None else None
        if len(self._disk_documents) > 256:
            self._disk_documents.clear()
        self._disk_documents[path] = (stamp, document)
        return document

    def _publish_texts(self, uri: str, version: int | None, texts: list[str]) -> None:
        """publishDiagnostics from diagnostics already encoded as JSON (see DiagnosticsCache)."""
        head = {"uri": uri, "version": version} if version is not None else {"uri": uri}
        params = json.dumps(head)[:-1] + ', "diagnostics": [' + ", ".join(texts) + "]}"
        self.protocol.send_json_text(
            '{"jsonrpc": "2.0", "method": "' + t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS + '", "params": ' + params + "}"
        )

    def _notify_diagnostics(self, uri: str, version: int | None, diagnostics: list[dict]) -> None:
        # Plain dicts straight to the writer: cattrs unstructuring costs more than the check.
        self._publish_texts(uri, version, [json.dumps(item) for item in diagnostics])

    def recheck_all(self, except_uri: str | None = None) -> None:
        for item in self.documents.values():
            if item.uri != except_uri:
                item.dirty = True
                self.schedule_check(item.uri)
        self.request_refresh()

    def request_refresh(self) -> None:
        if self.pull_mode and self.refresh_support:
            try:
                self.workspace_diagnostic_refresh(None)
            except Exception:
                logger.debug("diagnostic refresh failed", exc_info=True)

    # -- workspace index -------------------------------------------------------------------

    def schedule_index_update(self, uri: str, delay: float = INDEX_DEBOUNCE_SECONDS) -> None:
        item = self.documents.get(uri)
        if item is None:
            return
        if item.index_timer is not None:
            item.index_timer.cancel()
        item.index_timer = asyncio.get_running_loop().call_later(delay, self.update_index_from_open, uri)

    def update_index_from_open(self, uri: str) -> None:
        """Re-read an open document's index facts from a snapshot of its text, in a worker
        thread: on a big file the extractors take far longer than a keystroke's budget, and
        the editor must not wait for them. Results older than the latest request are dropped."""
        item = self.documents.get(uri)
        if item is None:
            return
        item.index_timer = None
        if item.document.language != "elixir" or "://" in item.path:
            return
        item.index_serial += 1
        serial, snapshot, loop = item.index_serial, item.document.snapshot(), asyncio.get_running_loop()

        def extract() -> None:
            try:
                facts = self.index.extract(snapshot)
            except Exception:
                logger.exception("reading the index facts of %s failed", snapshot.path)
                return
            loop.call_soon_threadsafe(self._store_open_facts, uri, serial, facts)

        self._facts_worker.submit(extract)

    def index_from_disk(self, path: str) -> None:
        """Once a document is closed, its index facts are those of the file on disk, if any
        (read in the facts worker, after any extraction of the buffer still under way)."""
        loop = asyncio.get_running_loop()

        def read() -> None:
            try:
                facts = self._disk_facts(path)
            except Exception:
                logger.exception("reading the index facts of %s failed", path)
                return
            loop.call_soon_threadsafe(self._store_disk_facts, path, facts)

        self._facts_worker.submit(read)

    def _store_disk_facts(self, path: str, facts: dict[str, Any] | None) -> None:
        if any(item.path == path for item in self.documents.values()):
            return  # opened again meanwhile: the buffer is the truth
        if self._store_facts(path, facts):
            self.recheck_all()

    def _store_open_facts(self, uri: str, serial: int, facts: dict[str, Any]) -> None:
        item = self.documents.get(uri)
        if item is None or item.index_serial != serial:
            return  # closed, or a newer extraction is on its way
        changed = self.index.set_facts(item.path, facts)
        if changed:
            logger.debug("index facts changed by %s: %s", item.path, sorted(changed))
            self.recheck_all(except_uri=uri)

    def index_workspace(self, token: str | None) -> None:
        """Runs in a background thread. Parsing holds the GIL, so it yields between files."""
        loop = self.loop
        assert loop is not None
        try:
            paths: list[Path] = []
            for folder in self.folders:
                config_for = self._exclusion_config_for
                for lock in folder.rglob("mix.lock"):
                    if not ({"deps", "_build", "node_modules"} & set(lock.parts)):
                        try:
                            self.index.set_lockfile(str(lock), lock.read_bytes())
                        except OSError:
                            pass
                paths.extend(files.discover([folder], config_for))
            total = len(paths)
            if token is not None:
                self._progress(token, t.WorkDoneProgressBegin(title="exhort", message=f"Indexing {total} files", percentage=0, cancellable=False))
            open_paths = {item.path for item in list(self.documents.values())}
            generation = self.index.generation
            last_report = time.monotonic()
            for number, path in enumerate(paths, start=1):
                absolute = str(path.absolute())
                if absolute in open_paths or path.suffix == ".heex":
                    continue
                text, skipped = files.read_source(path)
                if text is not None and skipped is None:
                    document = Document(absolute, text)
                    facts = self.index.extract(document)
                    if not any(item.path == absolute for item in list(self.documents.values())):
                        self.index.set_facts(absolute, facts)
                time.sleep(0)  # let the loop thread answer the editor between files
                if token is not None and time.monotonic() - last_report > 0.2:
                    last_report = time.monotonic()
                    self._progress(token, t.WorkDoneProgressReport(message=f"{number}/{total} files", percentage=int(100 * number / max(total, 1))))
            if token is not None:
                self._progress(token, t.WorkDoneProgressEnd(message=f"Indexed {total} files"))
            logger.info("indexed %d files", total)
            if self.index.generation != generation:
                loop.call_soon_threadsafe(self.recheck_all)
        except Exception:
            logger.exception("workspace indexing failed")
            paths = []
        finally:
            self.index_done.set()
        self.precheck_workspace(paths)

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
                if not self.prechecks.has_room_for(size) or any(
                    item.path == absolute for item in list(self.documents.values())
                ):
                    continue
                engine = self.engine_for(absolute)
                if self._is_excluded(engine, absolute):
                    continue
                # Keystrokes first: this work only saves time later, so it waits while the
                # user is typing rather than competing with the checks for the GIL.
                while time.monotonic() - self.last_edit_at < PRECHECK_QUIET_SECONDS:
                    time.sleep(PRECHECK_QUIET_SECONDS / 4)
                text, skipped = files.read_source(path)
                if text is None or skipped is not None:
                    continue
                document = Document(absolute, text)
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

    def _exclusion_config_for(self, folder: Path) -> Config:
        config_path = self.config_file_for(str(folder / "x.ex"))
        if config_path is None:
            return Config(root=str(self.folders[0]) if self.folders else None)
        return self._configs.get(config_path) or self.load_config_file(config_path)

    def _progress(self, token: str, value) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.protocol.notify, t.PROGRESS, t.ProgressParams(token=token, value=value))

    def start_indexing(self) -> None:
        capabilities = self.client_capabilities
        supports_progress = bool(capabilities.window and capabilities.window.work_done_progress)
        token = "exhort-index" if supports_progress and self.folders else None

        def run() -> None:
            if token is not None:
                future = asyncio.run_coroutine_threadsafe(self.work_done_progress.create_async(token), self.loop)
                try:
                    future.result(timeout=10)
                except Exception:
                    logger.info("the client declined a progress token; indexing without progress")
                    self.index_workspace(None)
                    return
            self.index_workspace(token)

        threading.Thread(target=run, name="exhort-index", daemon=True).start()

    def file_changed(self, uri: str, kind: t.FileChangeType) -> bool:
        """A watched file changed on disk. Returns True when index facts changed."""
        path = convert.uri_to_path(uri)
        name = Path(path).name
        if name == CONFIG_FILE:
            self.config_changed(path)
            return False
        if name == "mix.lock":
            data = None
            if kind != t.FileChangeType.Deleted:
                try:
                    data = Path(path).read_bytes()
                except OSError:
                    data = None
            return self.index.set_lockfile(path, data)
        if not files.is_source(Path(path)) or path.endswith(".heex"):
            return False
        if any(item.path == path for item in self.documents.values()):
            return False  # the editor's buffer is the truth for open files
        self.prechecks.discard(path)
        facts = None if kind == t.FileChangeType.Deleted else self._disk_facts(path)
        return bool(self._store_facts(path, facts))

    def _disk_facts(self, path: str) -> dict[str, Any] | None:
        """The index facts of the file at `path` as it is on disk; None when there is no
        readable Elixir source there."""
        if not files.is_source(Path(path)) or path.endswith(".heex"):
            return None
        text, skipped = files.read_source(Path(path))
        if text is None or skipped is not None:
            return None
        return self.index.extract(Document(path, text))

    def _store_facts(self, path: str, facts: dict[str, Any] | None) -> set[str]:
        """Record a file's facts (None: it has none, forget it); the names of those that changed."""
        return self.index.set_facts(path, facts) if facts is not None else self.index.remove(path)

    # -- hover -------------------------------------------------------------------------------

    def hover_markdown(self, item: OpenDocument, offset: int) -> tuple[str, tuple[int, int]] | None:
        self.ensure_checked(item)
        document = item.document
        covering = [f for f in item.findings if f.start <= offset <= f.end and f.code != UNUSED_SUPPRESSION.code]
        suppression = suppression_at(document, offset)
        if suppression is not None:
            return self._suppression_hover(item, suppression), (suppression.start, suppression.end)
        parts: list[str] = []
        span: tuple[int, int] | None = None
        engine = self.engine_for(item.path)
        if covering:
            for finding in covering:
                rule = engine.rule(finding.code)
                parts.append(f"**{finding.code}**: {finding.message}")
                if rule is not None:
                    parts.append(rule.explanation_markdown)
            span = (min(f.start for f in covering), max(f.end for f in covering))
        option = self._provider_hover(item, engine, offset)
        if option is not None:
            markdown, option_span = option
            parts.insert(0, markdown)  # the option under the cursor first, then the findings
            span = span or option_span
        if not parts or span is None:
            return None
        return "\n\n---\n\n".join(parts), span

    def _provider_hover(self, item: OpenDocument, engine, offset: int) -> tuple[str, tuple[int, int]] | None:
        """The option references of the rule packs (HOVERS) for the cursor position."""
        document = item.document
        # Templates (.heex files) have no Elixir tree: providers then get node None and read
        # the cursor from ctx.hover_offset.
        node = document.tree.root_node.named_descendant_for_byte_range(offset, offset) if document.tree else None
        if document.tree is not None and node is None:
            return None
        if self._hover_providers is None:
            self._hover_providers = discover_hover_providers()
        root = self.index.project_root_of(item.path) if "://" not in item.path else None
        ctx = Context(document, ProjectPath.of(item.path, root), self.index, engine.config.rule_params)
        ctx.hover_offset = offset
        for provider in self._hover_providers:
            try:
                markdown = provider(ctx, node)
            except Exception:
                logger.exception("hover provider %s failed", getattr(provider, "__name__", provider))
                continue
            if markdown:
                return markdown, (node.start_byte, node.end_byte) if node is not None else (offset, offset)
        return None

    def _suppression_hover(self, item: OpenDocument, suppression) -> str:
        scope = {
            "disable-next-line": "the next line",
            "disable-line": "this line",
            "disable-file": "this file",
        }[suppression.kind]
        codes = ", ".join(f"`{code}`" for code in suppression.codes) if suppression.codes else "every rule"
        lines = [f"**exhort suppression**: silences {codes} on {scope}."]
        engine = self.engine_for(item.path)
        for code in suppression.codes:
            rules = [rule for rule in engine.registry.rules if rule.code.startswith(code)]
            if not rules:
                lines.append(f"- `{code}`: no such rule")
            for rule in rules[:10]:
                lines.append(f"- `{rule.code}` {rule.name}: {rule.summary}")
        unused = [
            f
            for f in item.findings
            if f.code == UNUSED_SUPPRESSION.code and f.start == suppression.start and f.end == suppression.end
        ]
        if unused:
            lines.append("")
            lines.append(f"It silences nothing here: {unused[0].message}.")
        else:
            lines.append("")
            lines.append("It silences at least one finding here.")
        return "\n".join(lines)

    # -- code actions --------------------------------------------------------------------------

    def code_actions(self, item: OpenDocument, start: int, end: int, only: list[str] | None) -> list[dict]:
        self.ensure_checked(item)
        document, encoding, uri = item.document, self.encoding, item.uri
        wants_quickfix = only is None or any(kind == "quickfix" or "quickfix".startswith(kind) for kind in only)
        wants_fix_all = only is None or any(FIX_ALL_KIND.startswith(kind) for kind in only)
        actions: list[dict] = []
        touched = [f for f in item.findings if f.start <= end and start <= f.end]
        if wants_quickfix:
            for finding in touched:
                diagnostic = convert.diagnostic(finding, document, encoding, uri, self.document_for_path)
                for fix in finding.fixes:
                    edit = convert.workspace_edit(document, uri, fix.edits, encoding, self.document_for_path)
                    if edit is None:
                        continue  # it edits another file that cannot be read
                    actions.append(
                        {
                            "title": fix.title,
                            "kind": "quickfix",
                            "diagnostics": [diagnostic],
                            "isPreferred": fix.safe and fix.in_document,
                            "edit": edit,
                        }
                    )
                if finding.code != UNUSED_SUPPRESSION.code:
                    actions.append(
                        {
                            "title": f"Disable {finding.code} for this line",
                            "kind": "quickfix",
                            "diagnostics": [diagnostic],
                            "edit": {"changes": {uri: [self._disable_edit(document, finding)]}},
                        }
                    )
        if wants_fix_all:
            edits = convert.non_overlapping_safe_edits(item.findings)
            if edits:
                fixed = [f for f in item.findings if f.safe_fix is not None]
                actions.append(
                    {
                        "title": "exhort: fix all safe problems",
                        "kind": FIX_ALL_KIND,
                        "diagnostics": [
                            convert.diagnostic(f, document, encoding, uri, self.document_for_path) for f in fixed
                        ],
                        "edit": {"changes": {uri: [convert.text_edit(document, e, encoding) for e in edits]}},
                    }
                )
        return actions

    def _disable_edit(self, document: Document, finding: Finding) -> dict:
        line = document.lines.line_of(finding.start)
        line_text = document.lines.line_bytes(line)
        indent = line_text[: len(line_text) - len(line_text.lstrip(b" \t"))].decode()
        if document.language == "heex" or _inside_heex_sigil(document, finding.start):
            comment = f"{indent}<%!-- exhort:disable-next-line {finding.code} --%>"
        else:
            comment = f"{indent}# exhort:disable-next-line {finding.code}"
        newline = "\r\n" if document.data[document.lines.line_end(line) : document.lines.line_end(line) + 2] == b"\r\n" else "\n"
        position = {"line": line, "character": 0}
        return {"range": {"start": position, "end": position}, "newText": comment + newline}


def _moved_through(findings: list[Finding], edits: list[tuple[int, int, int]]) -> list[Finding]:
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


def _inside_heex_sigil(document: Document, offset: int) -> bool:
    if document.tree is None:
        return False
    node = document.tree.root_node.named_descendant_for_byte_range(offset, offset)
    while node is not None:
        if node.type == "sigil":
            name = next((c for c in node.named_children if c.type == "sigil_name"), None)
            return name is not None and name.text in (b"H", b"LVN")
        node = node.parent
    return False


def _read_settings(raw: Any) -> dict[str, Any]:
    """Editor settings: {"select": [...], "ignore": [...], "severity": {...}}, maybe under "exhort"."""
    if not isinstance(raw, dict):
        return {}
    if isinstance(raw.get("exhort"), dict):
        raw = raw["exhort"]
    settings: dict[str, Any] = {}
    for key in ("select", "ignore"):
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            settings[key] = tuple(value)
        else:
            logger.warning("editor setting %r must be a list of rule codes; ignored", key)
    severity = raw.get("severity")
    if isinstance(severity, dict):
        settings["severity"] = {str(k): str(v) for k, v in severity.items()}
    elif severity is not None:
        logger.warning("editor setting 'severity' must map rule codes to severities; ignored")
    return settings


# -- handlers ----------------------------------------------------------------------------------

server = ExhortServer()


def _item(ls: ExhortServer, uri: str) -> OpenDocument | None:
    item = ls.documents.get(uri)
    if item is None:
        logger.info("request for a document that is not open: %s", uri)
    return item


@server.feature(t.INITIALIZE)
def on_initialize(ls: ExhortServer, params: t.InitializeParams) -> None:
    ls.loop = asyncio.get_running_loop()
    ls.encoding = normalise_encoding(ls.workspace.position_encoding)
    capabilities = params.capabilities
    text_document = capabilities.text_document
    ls.pull_mode = bool(text_document and text_document.diagnostic)
    workspace = capabilities.workspace
    ls.refresh_support = bool(workspace and workspace.diagnostics and workspace.diagnostics.refresh_support)
    folders = [convert.uri_to_path(folder.uri) for folder in params.workspace_folders or []]
    if not folders and params.root_uri:
        folders = [convert.uri_to_path(params.root_uri)]
    elif not folders and params.root_path:
        folders = [params.root_path]
    ls.folders = [Path(folder) for folder in folders if Path(folder).is_dir()]
    ls.set_settings(params.initialization_options)
    if ls.pull_mode:
        ls.feature(
            t.TEXT_DOCUMENT_DIAGNOSTIC,
            t.DiagnosticOptions(identifier="exhort", inter_file_dependencies=True, workspace_diagnostics=False),
        )(on_pull_diagnostics)
    logger.info("initialize: encoding %s, %s diagnostics, folders %s", ls.encoding, "pull" if ls.pull_mode else "push", ls.folders)


@server.feature(t.INITIALIZED)
def on_initialized(ls: ExhortServer, params: t.InitializedParams) -> None:
    workspace = ls.client_capabilities.workspace
    watched = workspace and workspace.did_change_watched_files
    if watched and watched.dynamic_registration:
        options = t.DidChangeWatchedFilesRegistrationOptions(
            watchers=[t.FileSystemWatcher(glob_pattern=glob) for glob in WATCHED_GLOBS]
        )
        ls.client_register_capability(
            t.RegistrationParams(
                registrations=[
                    t.Registration(id="exhort-watched-files", method=t.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options)
                ]
            )
        )
    # Compile the rule queries off the loop thread so that initialize returns at once.
    threading.Thread(target=_warm_up, args=(ls,), name="exhort-warm-up", daemon=True).start()
    ls.start_indexing()


def _warm_up(ls: ExhortServer) -> None:
    try:
        for folder in ls.folders or [Path.cwd()]:
            ls.engine_for(str(folder / "lib" / "x.ex")).warm_up()
    except Exception:
        logger.exception("warming up the rule queries failed")


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
def on_did_open(ls: ExhortServer, params: t.DidOpenTextDocumentParams) -> None:
    document = params.text_document
    ls.open_document(document.uri, document.text, document.version, document.language_id)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
def on_did_change(ls: ExhortServer, params: t.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    item = ls.documents.get(uri)
    if item is None:
        logger.warning("didChange for a document that is not open: %s", uri)
        return
    for change in params.content_changes:
        if isinstance(change, t.TextDocumentContentChangePartial):
            r = change.range
            line_count = item.document.lines.line_count
            in_range = item.document.apply_range_edit(
                r.start.line, r.start.character, r.end.line, r.end.character, change.text, ls.encoding
            )
            start, end, new_end = item.document.last_edit
            if item.edits_since_full is not None:
                item.edits_since_full.append((start, end, new_end))
            item.converted.edited(start, end, new_end, item.document.lines.line_count - line_count)
            if not in_range:
                logger.warning(
                    "edit outside %s (%d lines) clamped: %s", uri, item.document.lines.line_count, r
                )
        else:
            item.document.replace(change.text)
            item.converted.invalidate()
            item.edits_since_full = None  # nothing to map old findings through: check fully
    item.version = params.text_document.version
    item.dirty = True
    ls.last_edit_at = time.monotonic()
    ls.schedule_check(uri)
    ls.schedule_index_update(uri)


@server.feature(t.TEXT_DOCUMENT_DID_SAVE)
def on_did_save(ls: ExhortServer, params: t.DidSaveTextDocumentParams) -> None:
    ls.update_index_from_open(params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def on_did_close(ls: ExhortServer, params: t.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    item = ls.documents.pop(uri, None)
    if item is None:
        return
    for timer in (item.index_timer, item.full_timer):
        if timer is not None:
            timer.cancel()
    if not ls.pull_mode:
        ls._notify_diagnostics(uri, None, [])
    # The buffer's facts may differ from the file's (unsaved edits), or there may be no file.
    ls.index_from_disk(item.path)


def on_pull_diagnostics(ls: ExhortServer, params: t.DocumentDiagnosticParams):
    uri = params.text_document.uri
    item = ls.documents.get(uri)
    if item is None:
        config_path = convert.uri_to_path(uri)
        if Path(config_path).name == CONFIG_FILE:
            diagnostics = ls.config_diagnostics(config_path)
            return _structure(ls, {"kind": "full", "items": diagnostics}, t.RelatedFullDocumentDiagnosticReport)
        return t.RelatedFullDocumentDiagnosticReport(items=[])
    ls.ensure_checked(item)
    if params.previous_result_id == item.result_id:
        return t.RelatedUnchangedDocumentDiagnosticReport(result_id=item.result_id)
    report = {"kind": "full", "resultId": item.result_id, "items": item.last_diagnostics or []}
    return _structure(ls, report, t.RelatedFullDocumentDiagnosticReport)


def _structure(ls: ExhortServer, data: dict, kind):
    return ls.protocol._converter.structure(data, kind)


@server.feature(t.TEXT_DOCUMENT_HOVER)
def on_hover(ls: ExhortServer, params: t.HoverParams) -> t.Hover | None:
    item = _item(ls, params.text_document.uri)
    if item is None:
        return None
    offset = convert.offset_of(item.document, params.position, ls.encoding)
    found = ls.hover_markdown(item, offset)
    if found is None:
        return None
    markdown, (start, end) = found
    return t.Hover(
        contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=markdown),
        range=_structure(ls, convert.lsp_range(item.document, start, end, ls.encoding), t.Range),
    )


@server.feature(
    t.TEXT_DOCUMENT_CODE_ACTION,
    t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix, FIX_ALL_KIND]),
)
def on_code_action(ls: ExhortServer, params: t.CodeActionParams) -> list[t.CodeAction]:
    item = _item(ls, params.text_document.uri)
    if item is None:
        return []
    start = convert.offset_of(item.document, params.range.start, ls.encoding)
    end = convert.offset_of(item.document, params.range.end, ls.encoding)
    only = [str(getattr(kind, "value", kind)) for kind in params.context.only] if params.context.only else None
    actions = ls.code_actions(item, start, end, only)
    return [_structure(ls, action, t.CodeAction) for action in actions]


@server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
def on_did_change_configuration(ls: ExhortServer, params: t.DidChangeConfigurationParams) -> None:
    ls.set_settings(params.settings)


@server.feature(t.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def on_did_change_watched_files(ls: ExhortServer, params: t.DidChangeWatchedFilesParams) -> None:
    changed = False
    for event in params.changes:
        try:
            changed |= ls.file_changed(event.uri, event.type)
        except Exception:
            logger.exception("handling the change of %s failed", event.uri)
    if changed:
        ls.recheck_all()


@server.command("exhort.debug.document")
def debug_document(ls: ExhortServer, uri: str) -> dict:
    """The server's copy of a document: tests compare it with the client's."""
    item = ls.documents.get(uri)
    if item is None:
        return {}
    tree = item.document.tree
    fresh = Document(item.path, item.document.data, item.document.language).tree
    return {
        "text": item.document.text,
        "version": item.version,
        "encoding": ls.encoding,
        "tree": str(tree.root_node) if tree is not None else None,
        "fresh_tree": str(fresh.root_node) if fresh is not None else None,
        "prechecked": item.prechecked,
        "parsed_in_background": item.parsed_in_background,
    }


@server.command("exhort.debug.index")
def debug_index(ls: ExhortServer) -> dict:
    """What the workspace index holds (module names per file) and whether indexing finished."""
    return {
        "done": ls.index_done.is_set(),
        "prechecked": len(ls.prechecks),
        "precheck_done": ls.prechecks.done.is_set(),
        "generation": ls.index.generation,
        "modules": sorted(record.name for record in ls.index.modules()),
        "paths": sorted(ls.index.paths()),
    }


# -- entry point -------------------------------------------------------------------------------


class _ClientLogHandler(logging.Handler):
    """Forwards warnings and errors to the client's log (window/logMessage)."""

    def __init__(self, ls: ExhortServer) -> None:
        super().__init__(logging.WARNING)
        self.ls = ls
        self._inside = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "client", True) is False or getattr(self._inside, "active", False):
            return
        loop = self.ls.loop
        if loop is None or loop.is_closed():
            return
        self._inside.active = True
        try:
            message = record.getMessage()
            if threading.current_thread() is threading.main_thread():
                self.ls.log_to_client(record.levelno, message)
            else:
                loop.call_soon_threadsafe(self.ls.log_to_client, record.levelno, message)
        except Exception:
            pass
        finally:
            self._inside.active = False


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(stderr)
    root.setLevel(logging.WARNING)
    logging.getLogger("exhort").setLevel(getattr(logging, level.upper(), logging.INFO))
    # pygls logs every message body at INFO/DEBUG; formatting them would cost more than a check.
    logging.getLogger("pygls").setLevel(logging.WARNING)
    logging.getLogger("exhort").addHandler(_ClientLogHandler(server))


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="exhort serve", description="Run the exhort language server.")
    parser.add_argument("--stdio", action="store_true", help="speak LSP over stdin/stdout (the default)")
    parser.add_argument("--tcp", metavar="HOST:PORT", help="listen on a TCP socket instead of stdio")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """`exhort serve [--stdio | --tcp HOST:PORT] [--log-level LEVEL]`; returns the exit code."""
    arguments = parse_arguments(list(sys.argv[1:] if argv is None else argv))
    _configure_logging(arguments.log_level)
    # A keystroke on a big file builds thousands of short-lived containers (the forms, the
    # moved findings); with the default young-generation threshold of 700 their bursts set
    # off about two collections per keystroke, 2 ms on a 50,000-line file. Most die by
    # reference counting anyway: collect the young generation less often.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    if arguments.tcp:
        host, _, port = arguments.tcp.rpartition(":")
        if not port.isdigit():
            print(f"exhort serve: --tcp wants HOST:PORT, got {arguments.tcp!r}", file=sys.stderr)
            return 2
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0 if server.protocol._shutdown else 1
