"""`exhort serve`: the language server, a thin adapter over the engine.

This module maps LSP messages to the pieces that do the work:

- documents: the server's copy of each open document (text, tree, last findings);
- checks: when and where each document is checked (worker threads, newest text first);
- publishing: what the client has been shown and what it is still owed;
- configs: the configuration and engine in force for a file;
- indexing: the workspace index, the background check of the workspace's files;
- features: hover and code actions;
- protocol and transport: pygls' protocol and reader, made strict where LSP is and
  forgiving where clients are.

Edits are applied on the event loop in arrival order; everything slow (checks, parsing big
buffers, reading index facts) runs in threads, so the loop always answers within a few
milliseconds.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import os
import sys
import threading
import time
from pathlib import Path

from lsprotocol import types as t
from pygls.exceptions import FeatureRequestError, JsonRpcContentModified
from pygls.io_ import StdinAsyncReader, StdoutWriter
from pygls.lsp.server import LanguageServer

from .. import __version__, files
from ..cache import fact_digests
from ..config import CONFIG_FILE
from ..document import Document
from ..engine import DocumentState
from ..findings import RuleFailure
from ..text import Encoding, normalise_encoding
from . import convert, documents, features, transport
from .checks import Checker, is_excluded
from .configs import Configurations
from .documents import OpenDocument
from .early import Handover
from .indexing import Indexer
from .arguments import parse_arguments
from .protocol import ExhortProtocol
from .publishing import Publisher
from .stdio import open_pipe_reader, readable_in_loop

logger = logging.getLogger("exhort.lsp")

GC_YOUNG_THRESHOLD = 10_000
SWITCH_INTERVAL_SECONDS = 0.001
WATCHED_GLOBS = ("**/*.{ex,exs,heex}", "**/mix.lock", f"**/{CONFIG_FILE}")


class ExhortServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("exhort", __version__, protocol_cls=ExhortProtocol, max_workers=4)
        self.documents: dict[str, OpenDocument] = {}
        self.encoding: Encoding = "utf-16"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.configs = Configurations(on_config_loaded=self._config_loaded)
        self.indexer = Indexer(self)
        self.publisher = Publisher(self.protocol.send_json_text, lambda: self.workspace_diagnostic_refresh(None))
        self.checker = Checker(
            self.documents,
            engine_for=self.configs.engine_for,
            is_excluded=is_excluded,
            index=lambda: self.indexer.index,
            encoding=lambda: self.encoding,
            other_document=self.document_for_path,
            baseline=self.configs.baseline,
            on_checked=self._checked,
            on_loaded=self._loaded,
        )
        self._surrogates_logged: set[str] = set()
        self._disk_documents: dict[str, tuple[int, Document | None]] = {}
        self.handover: Handover | None = None  # what early.answer_initialize read, for start_io

    # -- transport -----------------------------------------------------------------------------

    def _start_io_async(self, stdin=None, stdout=None) -> None:
        """Serve stdio with the forgiving reader (see transport); stdin is read by the event
        loop itself when it is a pipe (see stdio), else by a thread as pygls does."""
        stdin, stdout = stdin or sys.stdin.buffer, stdout or sys.stdout.buffer
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout))
        handover, self.handover = self.handover, None

        async def serve() -> None:
            if handover is not None:  # early.answer_initialize read the start of stdin (a pipe)
                reader = await open_pipe_reader(stdin, handover.unread)
                if handover.request is not None:
                    self.protocol.take_over(handover)
            elif readable_in_loop(stdin, stdout):
                reader = await open_pipe_reader(stdin)
            else:
                reader = StdinAsyncReader(stdin, self.thread_pool)
            await transport.serve(reader, self.protocol, self._stop_event)

        try:
            asyncio.run(serve())
        except BrokenPipeError:
            logger.error("the connection to the client is lost; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    def start_tcp(self, host: str, port: int) -> None:
        """One client over TCP, read with the same forgiving reader."""
        self._stop_event = stop_event = threading.Event()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.protocol.set_writer(writer)
            await transport.serve(transport.StreamReaderAdapter(reader), self.protocol, stop_event)
            self.shutdown()

        async def listen() -> None:
            self._server = await asyncio.start_server(connection, host, port)
            logger.info("serving on %s", ", ".join(str(s.getsockname()) for s in self._server.sockets))
            async with self._server:
                await self._server.serve_forever()

        try:
            asyncio.run(listen())
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            pass

    def shutdown(self) -> None:
        """pygls' shutdown, without waiting for its thread pool: a thread there may be blocked
        reading stdin for good."""
        if self._stop_event is not None:
            self._stop_event.set()
        if self._thread_pool is not None:
            self._thread_pool.shutdown(wait=False, cancel_futures=True)
        if self._server is not None:
            self._server.close()

    # -- errors and logs -----------------------------------------------------------------------

    def report_server_error(self, error: Exception, source) -> None:
        """Log instead of popping up a message: a failing notification would pop up per keystroke."""
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

    # -- documents -----------------------------------------------------------------------------

    def open_document(self, uri: str, text: str, version: int | None, language_id: str | None) -> None:
        path = convert.uri_to_path(uri)
        language = documents.language_of(path, language_id)
        data = documents.client_bytes(text, uri, self._surrogates_logged)
        prechecked = self.indexer.prechecks.take(path, data)
        state, document = prechecked if prechecked is not None else (DocumentState(), None)
        reused = document is not None and document.language == language
        item = OpenDocument(
            uri, Document(path, b"", documents.TEXT_ONLY), version, language,
            state=state, prechecked=prechecked is not None, parsed_in_background=reused,
        )
        documents.set_text(item, data, document if reused else None)
        self.tell_if_too_large(item)
        self.documents[uri] = item
        self.checker.request(item, full=True)
        self.indexer.schedule_update(uri)

    def change_document(self, params: t.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        item = self.documents.get(uri)
        if item is None:
            logger.warning("didChange for a document that is not open: %s", uri)
            return
        documents.apply_changes(item, params.content_changes, self.encoding, self._surrogates_logged)
        item.version = params.text_document.version
        self.tell_if_too_large(item)
        self.indexer.last_edit_at = time.monotonic()
        self.checker.request(item, full=item.edits_since_full is None)
        self.indexer.schedule_update(uri)

    def close_document(self, uri: str) -> None:
        item = self.documents.pop(uri, None)
        if item is None:
            return
        if item.index_timer is not None:
            item.index_timer.cancel()
        self.checker.closed(item)
        self.publisher.closed(uri)
        # The buffer's facts may differ from the file's (unsaved edits), or there may be no file.
        self.indexer.closed(item.path)

    def tell_if_too_large(self, item: OpenDocument) -> None:
        """Say once why a buffer over the size limit shows no diagnostics (again if it
        crosses the limit again)."""
        if not item.oversized:
            item.told_oversized = False
            return
        if item.told_oversized:
            return
        item.told_oversized = True
        message = documents.too_large_message(item.path, item.size)
        try:
            self.window_show_message(t.ShowMessageParams(type=t.MessageType.Warning, message=message))
        except Exception:
            logger.debug("showing a message failed", exc_info=True)

    def _loaded(self, item: OpenDocument) -> None:
        self.tell_if_too_large(item)
        self.indexer.schedule_update(item.uri, 0)

    def _checked(self, item: OpenDocument, failures: list[RuleFailure]) -> None:
        for failure in failures:
            message = (
                f"exhort: rule {failure.code} raised on {failure.path} and is disabled for this document: "
                f"{failure.error.splitlines()[0]}"
            )
            logger.error("%s\n%s", message, failure.error, extra={"client": False})
            self.log_to_client(logging.ERROR, message)
        self.publisher.checked(item)

    def recheck_all(self, supersede: bool = False) -> None:
        """What every document's findings may read changed: the index facts, or (superseding
        the checks under way) the configuration. Either way the rules that read them run
        again on every form, which may take a while."""
        for item in self.documents.values():
            self.checker.request(item, full=True, supersede=supersede, cold=True)

    def document_for_path(self, path: str) -> Document | None:
        """The text of another file (related locations point into it): the open buffer, or
        the file on disk, read again only when it changed. Called from the check workers."""
        for item in list(self.documents.values()):
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

    async def checked_item(self, uri: str, complete: bool = False) -> OpenDocument | None:
        """The open document at `uri` once its findings are those of its current text."""
        item = self.documents.get(uri)
        if item is None:
            logger.info("request for a document that is not open: %s", uri)
            return None
        version = item.version
        if not await self.checker.checked(item, complete):
            return None
        if item.version != version:
            raise JsonRpcContentModified(f"{uri} changed while the request waited for its check")
        return item

    # -- configuration -------------------------------------------------------------------------

    def _config_loaded(self, config_path: str) -> None:
        """A config file was read (maybe in a worker thread): show its errors, on the loop."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.publish_config_diagnostics, config_path)

    def publish_config_diagnostics(self, config_path: str) -> None:
        if self.publisher.pull_mode:
            self.publisher.request_refresh()
            return
        self.publisher.push_dicts(convert.path_to_uri(config_path), None, self.configs.diagnostics(config_path))

    def set_settings(self, raw) -> None:
        if self.configs.set_settings(raw):
            self.reset_checks()

    def reset_checks(self) -> None:
        """Config or settings changed: cached results are stale, check everything again."""
        for item in self.documents.values():
            item.state.clear()  # rule parameters may differ
        self.recheck_all(supersede=True)

    def file_changed(self, uri: str, kind: t.FileChangeType) -> bool:
        """A watched file changed on disk. Returns True when index facts changed."""
        path = convert.uri_to_path(uri)
        if Path(path).name == CONFIG_FILE:
            self.configs.file_changed(path)
            self.publish_config_diagnostics(path)
            self.reset_checks()
            return False
        return self.indexer.file_changed(uri, kind)


# -- handlers ----------------------------------------------------------------------------------

server = ExhortServer()


@server.feature(t.INITIALIZE)
def on_initialize(ls: ExhortServer, params: t.InitializeParams) -> None:
    ls.loop = asyncio.get_running_loop()
    ls.encoding = normalise_encoding(ls.workspace.position_encoding)
    capabilities = params.capabilities
    text_document = capabilities.text_document
    ls.publisher.pull_mode = bool(text_document and text_document.diagnostic)
    workspace = capabilities.workspace
    ls.publisher.refresh_support = bool(workspace and workspace.diagnostics and workspace.diagnostics.refresh_support)
    folders = [convert.uri_to_path(folder.uri) for folder in params.workspace_folders or []]
    if not folders and params.root_uri:
        folders = [convert.uri_to_path(params.root_uri)]
    elif not folders and params.root_path:
        folders = [params.root_path]
    ls.configs.folders = [Path(folder) for folder in folders if Path(folder).is_dir()]
    ls.set_settings(params.initialization_options)
    if ls.publisher.pull_mode:
        ls.feature(
            t.TEXT_DOCUMENT_DIAGNOSTIC,
            t.DiagnosticOptions(identifier="exhort", inter_file_dependencies=True, workspace_diagnostics=False),
        )(on_pull_diagnostics)
    logger.info(
        "initialize: encoding %s, %s diagnostics, folders %s",
        ls.encoding, "pull" if ls.publisher.pull_mode else "push", ls.configs.folders,
    )


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
    # Compile the rule queries off the loop thread (0.6 s): once the index holds the facts
    # the cache had, which compiling would otherwise slow down (both hold the GIL).
    ls.indexer.start(after_cache=lambda: _warm_up(ls))


def _warm_up(ls: ExhortServer) -> None:
    try:
        for folder in ls.configs.folders or [Path.cwd()]:
            ls.configs.engine_for(str(folder / "lib" / "x.ex")).warm_up()
    except Exception:
        logger.exception("warming up the rule queries failed")


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
def on_did_open(ls: ExhortServer, params: t.DidOpenTextDocumentParams) -> None:
    document = params.text_document
    ls.open_document(document.uri, document.text, document.version, document.language_id)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
def on_did_change(ls: ExhortServer, params: t.DidChangeTextDocumentParams) -> None:
    ls.change_document(params)


@server.feature(t.TEXT_DOCUMENT_DID_SAVE)
def on_did_save(ls: ExhortServer, params: t.DidSaveTextDocumentParams) -> None:
    ls.indexer.update_from_open(params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def on_did_close(ls: ExhortServer, params: t.DidCloseTextDocumentParams) -> None:
    ls.close_document(params.text_document.uri)


async def on_pull_diagnostics(ls: ExhortServer, params: t.DocumentDiagnosticParams):
    uri = params.text_document.uri
    if uri not in ls.documents:
        config_path = convert.uri_to_path(uri)
        if Path(config_path).name == CONFIG_FILE:
            report = {"kind": "full", "items": ls.configs.diagnostics(config_path)}
            return _structure(ls, report, t.RelatedFullDocumentDiagnosticReport)
        return t.RelatedFullDocumentDiagnosticReport(items=[])
    # A client that cannot be asked to pull again gets the whole-document rules now.
    complete = not ls.publisher.refresh_support
    item = ls.documents[uri]
    if not await ls.checker.checked(item, complete):
        return t.RelatedFullDocumentDiagnosticReport(items=[])
    ls.publisher.pulled(item)
    if params.previous_result_id == item.result_id:
        return t.RelatedUnchangedDocumentDiagnosticReport(result_id=item.result_id)
    report = {"kind": "full", "resultId": item.result_id, "items": item.diagnostics}
    return _structure(ls, report, t.RelatedFullDocumentDiagnosticReport)


def _structure(ls: ExhortServer, data: dict, kind):
    return ls.protocol._converter.structure(data, kind)


@server.feature(t.TEXT_DOCUMENT_HOVER)
async def on_hover(ls: ExhortServer, params: t.HoverParams) -> t.Hover | None:
    item = await ls.checked_item(params.text_document.uri)
    if item is None:
        return None
    offset = convert.offset_of(item.document, params.position, ls.encoding)
    found = features.hover_markdown(ls, item, offset)
    if found is None:
        return None
    markdown, (start, end) = found
    return t.Hover(
        contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=markdown),
        range=_structure(ls, convert.lsp_range(item.document, start, end, ls.encoding), t.Range),
    )


@server.feature(
    t.TEXT_DOCUMENT_CODE_ACTION,
    t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix, features.FIX_ALL_KIND]),
)
async def on_code_action(ls: ExhortServer, params: t.CodeActionParams) -> list[t.CodeAction]:
    item = await ls.checked_item(params.text_document.uri)
    if item is None:
        return []
    start = convert.offset_of(item.document, params.range.start, ls.encoding)
    end = convert.offset_of(item.document, params.range.end, ls.encoding)
    only = [str(getattr(kind, "value", kind)) for kind in params.context.only] if params.context.only else None
    actions = features.code_actions(ls, item, start, end, only)
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
async def debug_document(ls: ExhortServer, uri: str) -> dict:
    """The server's copy of a document (once built): tests compare it with the client's."""
    item = ls.documents.get(uri)
    if item is None or not await ls.checker.loaded(item):
        return {}
    tree = item.document.tree
    fresh = Document(item.path, item.document.data, item.document.language).tree
    return {
        "text": item.document.text,
        "version": item.version,
        "encoding": ls.encoding,
        "tree": str(tree.root_node) if tree is not None else None,
        "fresh_tree": str(fresh.root_node) if fresh is not None else None,
        "analysed": not (item.oversized or item.loading),
        "checks": {"started": item.checks_started, "cancelled": item.checks_cancelled},
        "prechecked": item.prechecked,
        "parsed_in_background": item.parsed_in_background,
    }


@server.command("exhort.debug.checked")
def debug_checked(ls: ExhortServer, uri: str) -> dict:
    """Which version of a document the findings belong to, and whether they include the
    whole-document rules: the server publishes a version once when nothing changed, so a
    client cannot tell from the publishes alone when the check after the pause is done."""
    item = ls.documents.get(uri)
    if item is None:
        return {}
    return {"version": item.version, "checked_version": item.checked_version, "complete": item.complete}


@server.command("exhort.debug.index")
def debug_index(ls: ExhortServer) -> dict:
    """What the workspace index holds (module names per file) and whether indexing finished."""
    indexer = ls.indexer
    return {
        "done": indexer.done.is_set(),
        "facts_stored": indexer.facts_stored.is_set(),
        "prechecked": len(indexer.prechecks),
        "precheck_done": indexer.prechecks.done.is_set(),
        "generation": indexer.index.generation,
        "modules": sorted(record.name for record in indexer.index.modules()),
        "paths": sorted(indexer.index.paths()),
    }


@server.command("exhort.debug.facts")
def debug_facts(ls: ExhortServer) -> dict:
    """A digest of every index fact of every file: tests compare indexes built in other ways."""
    index = ls.indexer.index
    digest = hashlib.sha256()
    for path in sorted(index.paths()):
        digest.update(f"{path}\0{fact_digests(index.facts_of(path))[0]}\n".encode("utf-8", "surrogateescape"))
    return {"digest": digest.hexdigest()}


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


def main(argv: list[str] | None = None, handover: Handover | None = None) -> int:
    """`exhort serve [--stdio | --tcp HOST:PORT] [--log-level LEVEL]`; `handover`: what
    early.answer_initialize read off stdin and answered before this module was imported.

    Once the client says exit (or goes away) the process ends at once, with 0 if shutdown
    came first: checks and parses still running in worker threads have nothing to save."""
    arguments = parse_arguments(list(sys.argv[1:] if argv is None else argv))
    _configure_logging(arguments.log_level)
    # A keystroke on a big file builds thousands of short-lived containers (the forms, the
    # moved findings); with the default young-generation threshold of 700 their bursts set
    # off about two collections per keystroke, 2 ms on a 50,000-line file. Most die by
    # reference counting anyway: collect the young generation less often.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    # Checks and parses run in worker threads; the loop thread waits this long for the GIL
    # each time it wants it back (the default 5 ms, a few times per request, adds up).
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    if arguments.tcp:
        host, _, port = arguments.tcp.rpartition(":")
        if not port.isdigit():
            print(f"exhort serve: --tcp wants HOST:PORT, got {arguments.tcp!r}", file=sys.stderr)
            return 2
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.handover = handover
        server.start_io()
    code = 0 if server.protocol._shutdown else 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
