"""Checking many files: configuration lookup, the workspace index, worker processes, fixes.

Workers are forked after the main process has loaded the rules and the configs (and the
mix.lock versions), so they inherit them without pickling. Each worker reads and parses its
share of the files once: it sends their index facts, receives everyone's, then checks them
and sends back plain data (FileReport), positions already converted for people.
"""

from __future__ import annotations

import difflib
import multiprocessing
import multiprocessing.connection
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..config import Config, find_config_file, load_config
from ..document import Document
from ..engine import Engine
from ..files import Skipped, discover, project_root_for_file, read_source
from ..findings import Finding, apply_edits
from ..registry import Registry
from ..workspace import WorkspaceIndex

MAX_FIX_PASSES = 10


@dataclass
class Located:
    """A finding with 1-based line/column positions (columns in characters)."""

    finding: Finding
    line: int
    column: int
    end_line: int
    end_column: int
    source_line: str
    related: list[tuple[str, int, int, str]] = field(default_factory=list)  # path, line, column, message
    fix_edits: list[dict] | None = None  # the first fix as positions, for JSON/SARIF


@dataclass
class FileReport:
    path: str
    findings: list[Located] = field(default_factory=list)
    skipped: Skipped | None = None
    failures: list[str] = field(default_factory=list)
    fixed: int = 0  # safe fixes applied (or that would be, with --diff)
    diff: str = ""


@dataclass
class RunOptions:
    fix: bool = False
    diff: bool = False
    report_unused_suppressions: bool = False


class ConfigCache:
    """The config in force for each folder: the nearest .exhort.toml above it, or the defaults."""

    def __init__(self, registry: Registry, overrides: Callable[[Config], Config]) -> None:
        self.registry = registry
        self.overrides = overrides
        self._by_folder: dict[Path, Config] = {}
        self._by_file: dict[Path | None, Config] = {}

    def for_path(self, path: Path) -> Config:
        folder = (path if path.is_dir() else path.parent).resolve()
        config = self._by_folder.get(folder)
        if config is None:
            config_file = find_config_file(folder)
            config = self._by_file.get(config_file)
            if config is None:
                base = load_config(config_file, self.registry) if config_file else Config()
                config = self.overrides(base)
                self._by_file[config_file] = config
            self._by_folder[folder] = config
        return config

    def configs(self) -> list[Config]:
        return list(self._by_file.values())


# State inherited by forked workers.
_engines: dict[int, Engine] = {}
_index: WorkspaceIndex | None = None
_options = RunOptions()


def _engine_for(config: Config, registry: Registry) -> Engine:
    engine = _engines.get(id(config))
    if engine is None:
        engine = Engine(config, registry)
        _engines[id(config)] = engine
    return engine


def check_paths(
    paths: list[Path],
    configs: ConfigCache,
    options: RunOptions,
    jobs: int,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[FileReport], int]:
    """Check every source file under `paths`. Returns the reports and the number of files."""
    global _index, _options
    files = list(discover(paths, configs.for_path))
    file_configs = [configs.for_path(path) for path in files]
    registry = configs.registry
    engines = [_engine_for(config, registry) for config in configs.configs()]
    for engine in engines:
        engine.warm_up()
    by_id = {id(c): c for c in configs.configs()}

    needs_index = any(registry.by_code[code].workspace for engine in engines for code in engine.enabled)
    index = WorkspaceIndex(root_finder=project_root_for_file)
    _index = index  # forked workers extract facts with it
    if needs_index:
        _feed_lockfiles(index, paths)
    _options = options
    tasks = [(str(path), id(config)) for path, config in zip(files, file_configs)]
    _engines.update({key: _engine_for(config, registry) for key, config in by_id.items()})
    reports: list[FileReport | None] = [None] * len(tasks)
    for done, (number, report) in enumerate(_run(tasks, jobs, needs_index), start=1):
        reports[number] = report
        if progress is not None:
            progress(done, len(tasks))
    return [report for report in reports if report is not None], len(files)


# Parsed documents a worker keeps from reading the facts of its files to checking them, so
# that each file is parsed once: counted in source bytes (a syntax tree takes about thirty
# times its source), beyond which files are parsed a second time.
KEPT_SOURCE_BYTES = 6 * 1024 * 1024


def _run(tasks: list[tuple[str, int]], jobs: int, needs_index: bool) -> Iterator[tuple[int, FileReport]]:
    """(task number, report) for every task, in the order they finish.

    Every file is read and parsed once: the worker that reads a file's index facts keeps its
    parsed document and checks the file once the whole index is known. So each worker owns
    a fixed share of the files (the largest first, each to the least loaded worker), sends
    their facts, receives everyone's, then checks its share.
    """
    if jobs <= 1 or len(tasks) < 8 or "fork" not in multiprocessing.get_all_start_methods():
        numbers = list(range(len(tasks)))
        kept = _extract_share(tasks, numbers, _index, needs_index) if needs_index else {}
        for number in numbers:
            yield number, _check_one(tasks[number], kept.pop(number, None))
        return
    shares = _shares(tasks, jobs)
    context = multiprocessing.get_context("fork")
    workers = []
    for share in shares:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_worker, args=(child_end, tasks, share, needs_index), daemon=True)
        process.start()
        child_end.close()
        workers.append((process, parent_end))
    try:
        if needs_index:
            facts: list[tuple[str, dict]] = []
            for _process, connection in workers:
                facts.extend(_receive(connection))
            for _process, connection in workers:
                connection.send(facts)
        pending = [connection for _process, connection in workers]
        while pending:
            for connection in multiprocessing.connection.wait(pending):
                message = _receive(connection)
                if message is None:
                    pending.remove(connection)
                else:
                    yield message
    finally:
        for process, connection in workers:
            connection.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


def _shares(tasks: list[tuple[str, int]], jobs: int) -> list[list[int]]:
    """Task numbers per worker: the largest files first, each to the least loaded worker."""
    sizes = []
    for number, (path, _config) in enumerate(tasks):
        try:
            sizes.append((os.path.getsize(path), number))
        except OSError:
            sizes.append((0, number))
    shares: list[list[int]] = [[] for _ in range(jobs)]
    loads = [0] * jobs
    for size, number in sorted(sizes, reverse=True):
        lightest = loads.index(min(loads))
        shares[lightest].append(number)
        loads[lightest] += size + 1
    return [sorted(share) for share in shares if share]


def _receive(connection):
    """A worker's next message; a worker that failed raises here, in the parent."""
    try:
        kind, value = connection.recv()
    except EOFError:
        raise RuntimeError("a worker process ended without finishing its files") from None
    if kind == "error":
        raise RuntimeError(f"a worker process failed:\n{value}")
    return value


def _worker(connection, tasks: list[tuple[str, int]], share: list[int], needs_index: bool) -> None:
    try:
        kept: dict[int, Document] = {}
        if needs_index:
            assert _index is not None
            kept = _extract_share(tasks, share, _index, needs_index, connection)
            for path, facts in connection.recv():
                _index.set_facts(path, facts)
        for number in share:
            connection.send(("report", (number, _check_one(tasks[number], kept.pop(number, None)))))
        connection.send(("report", None))
    except BaseException:  # the parent must hear of it, not wait forever
        connection.send(("error", traceback.format_exc()))
    finally:
        connection.close()


def _extract_share(tasks, share, index, needs_index, connection=None) -> dict[int, Document]:
    """Read, parse and extract the index facts of the files of `share`; returns the parsed
    documents kept for checking. In a worker, sends the facts to the parent; inline, stores
    them in `index` directly."""
    kept: dict[int, Document] = {}
    facts: list[tuple[str, dict]] = []
    budget = KEPT_SOURCE_BYTES
    for number in share:
        path = str(Path(tasks[number][0]).resolve())
        text, skipped = read_source(Path(path))
        if skipped is not None or text is None:
            continue
        document = Document(path, text)
        facts.append((path, index.extract(document)))
        if len(document.data) <= budget:
            kept[number] = document
            budget -= len(document.data)
    if connection is not None:
        connection.send(("facts", facts))
    else:
        for path, value in facts:
            index.set_facts(path, value)
    return kept


def _feed_lockfiles(index: WorkspaceIndex, paths: Iterable[Path]) -> None:
    seen = set()
    for given in paths:
        folder = given if given.is_dir() else given.parent
        candidates = [folder.resolve(), *folder.resolve().parents]
        locks = [c / "mix.lock" for c in candidates]
        if given.is_dir():
            locks += [p for p in given.rglob("mix.lock") if "deps" not in p.parts and "_build" not in p.parts]
        for lock in locks:
            if lock in seen or not lock.is_file():
                continue
            seen.add(lock)
            try:
                index.set_lockfile(str(lock.resolve()), lock.read_bytes())
            except OSError:
                pass


def _check_one(task: tuple[str, int], document: Document | None = None) -> FileReport:
    """Check one file; `document` is its text already parsed, when the caller kept it."""
    path, config_id = task
    report = FileReport(path)
    engine = _engines[config_id]
    absolute = str(Path(path).resolve())
    if document is None:
        text, skipped = read_source(Path(path))
        if skipped is not None or text is None:
            report.skipped = skipped
            return report
        document = Document(absolute, text)
    try:
        result = engine.check(document, _index, report_unused_suppressions=_options.report_unused_suppressions)
        if _options.fix or _options.diff:
            original = document.data
            for _ in range(MAX_FIX_PASSES):
                edits, count = _safe_edits(result.findings)
                if not edits:
                    break
                report.fixed += count
                document = Document(absolute, apply_edits(document.data, edits))
                result = engine.check(
                    document, _index, report_unused_suppressions=_options.report_unused_suppressions
                )
            if document.data != original:
                if _options.diff:
                    report.diff = _unified_diff(path, original, document.data)
                else:
                    Path(path).write_bytes(document.data)
    except Exception as error:  # never let one file end the run
        report.failures.append(f"internal error: {type(error).__name__}: {error}")
        return report
    report.failures.extend(f"rule {f.code} failed: {f.error.splitlines()[0]}" for f in result.failures)
    report.findings = [locate(document, finding) for finding in result.findings]
    return report


def _safe_edits(findings: list[Finding]):
    """Edits of every safe fix that does not overlap an earlier one."""
    chosen = []
    taken: list[tuple[int, int]] = []
    count = 0
    for finding in findings:
        fix = finding.safe_fix
        if fix is None:
            continue
        spans = [(e.start, e.end) for e in fix.edits]
        if any(s < te and ts < e or (s == e == ts) for s, e in spans for ts, te in taken):
            continue
        taken.extend(spans)
        chosen.extend(fix.edits)
        count += 1
    return chosen, count


def _unified_diff(path: str, before: bytes, after: bytes) -> str:
    old = before.decode("utf-8", errors="replace").splitlines(keepends=True)
    new = after.decode("utf-8", errors="replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(old, new, fromfile=f"a/{path}", tofile=f"b/{path}"))


def locate(document: Document, finding: Finding) -> Located:
    line, column = document.position(finding.start, "utf-32")
    end_line, end_column = document.position(finding.end, "utf-32")
    source = document.lines.line_bytes(line).decode("utf-8", errors="replace")
    related = []
    for item in finding.related:
        if item.path is None:
            r_line, r_col = document.position(item.start, "utf-32")
            related.append((document.path, r_line + 1, r_col + 1, item.message))
        else:
            related.append((item.path, *_position_in_file(item.path, item.start), item.message))
    fix_edits = None
    if finding.fixes:
        fix_edits = []
        for edit in finding.fixes[0].edits:
            if edit.path is None:
                s_line, s_col = document.position(edit.start, "utf-32")
                e_line, e_col = document.position(edit.end, "utf-32")
            else:  # an edit of another file: its positions are in that file's text
                (s_line, s_col), (e_line, e_col) = _positions_in_file(edit.path, edit.start, edit.end)
            entry = {"line": s_line + 1, "column": s_col + 1, "end_line": e_line + 1, "end_column": e_col + 1,
                     "content": edit.text}
            if edit.path is not None:
                entry["path"] = edit.path
            fix_edits.append(entry)
    return Located(finding, line + 1, column + 1, end_line + 1, end_column + 1, source, related, fix_edits)


def _position_in_file(path: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a byte offset of another file; (1, 1) when it cannot be read."""
    line, column = _positions_in_file(path, offset)[0]
    return line + 1, column + 1


def _positions_in_file(path: str, *offsets: int) -> list[tuple[int, int]]:
    """0-based (line, column) of byte offsets of another file; (0, 0) when it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return [(0, 0) for _ in offsets]
    document = Document(path, data, language="text")
    return [document.position(offset, "utf-32") for offset in offsets]


class Progress:
    """A one-line progress bar on stderr, shown only on a terminal and for long scans."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < 50:
            return
        if not self.shown and time.monotonic() - self.started < 0.5:
            return
        self.shown = True
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} files")
        if done == total:
            sys.stderr.write("\r" + " " * (width + 30) + "\r")
        sys.stderr.flush()

