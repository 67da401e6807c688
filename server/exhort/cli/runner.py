"""Checking many files: configuration lookup, the workspace index, worker processes, fixes,
the result cache.

Each file is read and parsed once per run. Workers are forked after the main process has
loaded the rules, the configs and the mix.lock versions, so they inherit them without
pickling, and each owns a fixed share of the files (the largest first, each to the least
loaded worker). First pass: a worker reads its files, takes each one's index facts and
cached results from the result cache when the file is unchanged, else parses it and extracts
its facts, keeping the parsed documents of the files to check. The main process gathers
everyone's facts, takes every result the cache still holds, and sends each worker the index
facts and the files it must check; second pass: the worker checks them and sends back plain
data (FileReport), positions already converted for people.
"""

from __future__ import annotations

import difflib
import gc
import json
import multiprocessing
import multiprocessing.connection
import os
import pickle
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..baseline import Entry
from ..cache import (
    ReadRecorder,
    ResultCache,
    Unencodable,
    decode_facts,
    fact_digests,
    file_key,
    settings_key,
    workspace_digests,
)
from ..config import CONFIG_FILE, Config, load_config
from ..document import Document
from ..engine import Engine
from ..files import Skipped, discover_resolved, find_project_root, project_root_for_file, read_source
from ..findings import Finding, Severity, apply_edits
from ..parsing import compile_declared_queries
from ..registry import Registry
from ..workspace import WorkspaceIndex
from .located import FileReport, locate
from .progress import Progress
from .report_codec import decode_findings, encode_findings
from .triage import Outcome, Triage

MAX_FIX_PASSES = 10
KEEP_SETTINGS = 4  # results kept per file for different settings (a --select run beside the usual one)


@dataclass
class Summary:
    """What the run covered, for the closing lines of every format."""

    checked: int  # files read and analysed
    skipped: list[Skipped]  # files found but not analysed (not UTF-8, too large, unreadable)
    missing: list[str]  # arguments that name nothing on disk
    held_back: Outcome  # findings not shown, and why
    baseline_file: str | None = None  # as given
    diff_base: str | None = None  # "REF (merge-base 1a2b3c4)"
    failed: int = 0  # files where the checker or a rule failed: not fully checked

    @classmethod
    def triage(cls, reports: list["FileReport"], missing: list[str], triage: Triage,
               baseline_file: str | None = None, gone: Iterable[Entry] = (), diff_base: str | None = None,
               ) -> "Summary":
        """Keep in each report only the findings the run shows; count the others. `gone` are
        baseline entries of files that no longer exist where the run looked."""
        held_back = Outcome()
        for report in reports:
            if report.skipped is None:  # a file not read says nothing about its baseline entries
                outcome = triage.split(report.absolute, report.findings)
                report.findings = outcome.shown
                held_back.add(outcome)
        held_back.fixed.extend(gone)
        skipped = sorted((r.skipped for r in reports if r.skipped is not None), key=lambda s: s.path)
        failed = sum(1 for r in reports if r.failures)
        return cls(len(reports) - len(skipped), skipped, missing, held_back, baseline_file, diff_base, failed)

    def notes(self) -> list[str]:
        """Closing lines about what was held back (text: after the summary; others: on stderr)."""
        notes = []
        if self.failed:
            notes.append(f"{plural(self.failed, 'file')} not fully checked: the checker failed on "
                         f"{'it' if self.failed == 1 else 'them'} (the errors are on stderr).")
        below = self.held_back.below_severity
        if below:
            parts = [severity_count(below[s], s) for s in Severity if below[s]]
            what = parts[0] if len(parts) == 1 else f"{plural(sum(below.values()), 'finding')} ({', '.join(parts)})"
            notes.append(f"{what} not shown; `--min-severity {max(below).label}` shows them.")
        if self.held_back.outside_diff:
            notes.append(f"{plural(self.held_back.outside_diff, 'finding')} on lines not changed since "
                         f"{self.diff_base} not shown.")
        if self.held_back.baselined:
            notes.append(f"{plural(self.held_back.baselined, 'finding')} accepted in {self.baseline_file} not shown.")
        fixed = self.held_back.fixed
        if fixed:
            notes.append(f"{plural(len(fixed), 'finding')} of {self.baseline_file} no longer found; "
                         "`--update-baseline` drops them from it:")
            notes += [f"  fixed: {entry.path}: {entry.code}" + (f" in {entry.context}" if entry.context else "")
                      for entry in sorted(fixed, key=lambda e: (e.path, e.code, e.context))]
        return notes

    def nothing_checked(self) -> str:
        if self.skipped:
            return f"nothing checked: every file was skipped ({plural(len(self.skipped), 'file')} skipped)"
        return "nothing checked: no .ex, .exs or .heex files under the given paths"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """'1 file', '2 files' (or `many` when the plural is irregular)."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def severity_count(count: int, severity: Severity) -> str:
    """'1 warning', '2 hints', '3 information'."""
    return plural(count, severity.label, severity.label if severity == Severity.INFORMATION else None)


@dataclass
class RunOptions:
    fix: bool = False
    diff: bool = False
    report_unused_suppressions: bool = False
    triage: Triage = field(default_factory=Triage)
    cache: ResultCache | None = None


class ConfigCache:
    """The config in force for each folder: the nearest .exhort.toml above it, or the defaults."""

    def __init__(self, registry: Registry, overrides: Callable[[Config], Config]) -> None:
        self.registry = registry
        self.overrides = overrides
        self._by_folder: dict[Path, Config] = {}
        self._by_written: dict[Path, Config] = {}
        self._by_file: dict[Path | None, Config] = {}
        self._config_files: dict[Path, Path | None] = {}  # resolved folder -> nearest .exhort.toml

    def for_path(self, path: Path) -> Config:
        return self._for_folder((path if path.is_dir() else path.parent).resolve())

    def for_file(self, path: Path) -> Config:
        """The config of a file known to be one: looked up by its folder as written, which
        spares resolving the path of every file of a folder."""
        config = self._by_written.get(path.parent)
        if config is None:
            config = self._by_written[path.parent] = self._for_folder(path.parent.resolve())
        return config

    def _for_folder(self, folder: Path) -> Config:
        config = self._by_folder.get(folder)
        if config is None:
            config_file = self._config_file(folder)
            config = self._by_file.get(config_file)
            if config is None:
                base = load_config(config_file, self.registry) if config_file else Config()
                config = self.overrides(base)
                self._by_file[config_file] = config
            self._by_folder[folder] = config
        return config

    def _config_file(self, folder: Path) -> Path | None:
        """find_config_file for a resolved folder, each folder looked at once: a tree's
        folders share their ancestors."""
        found = self._config_files.get(folder, ...)
        if found is ...:
            candidate = folder / CONFIG_FILE
            if candidate.is_file():
                found = candidate
            else:
                found = None if folder.parent == folder else self._config_file(folder.parent)
            self._config_files[folder] = found
        return found

    def configs(self) -> list[Config]:
        return list(self._by_file.values())


@dataclass
class RunStats:
    """What a run did, for --verbose."""

    checked_files: int = 0
    indexed_files: int = 0  # files whose facts the index holds (the checked ones and their projects')
    facts_from_cache: int = 0
    results_from_cache: int = 0


# State inherited by forked workers.
_engines: dict[int, Engine] = {}
_settings: dict[int, str] = {}  # config id -> settings key of the result cache
_index: WorkspaceIndex | None = None
_options = RunOptions()
_digests: dict[str, str] = {}  # fact name -> digest over the workspace, for the result cache
_undecoded: list[tuple[str, str]] = []  # (path, facts as JSON) not yet in _index: decoded on a worker's first miss


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
    progress: Progress | None = None,
) -> tuple[list[FileReport], RunStats]:
    """Check every source file under `paths`; reuse cached results where nothing they depend
    on changed. Cross-file rules read an index of the whole Mix project of each path, so a
    file checked alone (a pre-commit hook) gets the findings a check of the project gives it."""
    global _index, _options, _digests
    found = list(discover_resolved(paths, configs.for_path))
    files = [path for path, _resolved in found]
    absolute = [resolved for _path, resolved in found]
    file_configs = [configs.for_file(path) for path in files]
    registry = configs.registry
    engines = {id(config): _engine_for(config, registry) for config in configs.configs()}
    _options = options
    stats = RunStats(checked_files=len(files))
    _settings.update({key: _settings_key(engine, options) for key, engine in engines.items()})

    needs_index = any(registry.by_code[code].workspace for engine in engines.values() for code in engine.enabled)
    index = WorkspaceIndex(root_finder=_project_root_of_resolved)
    _index = index  # forked workers extract facts with it
    lockfiles: list[tuple[str, bytes]] = []
    extra: list[tuple[Path, str]] = []  # the rest of the checked files' projects: indexed, not checked
    if needs_index:
        checked = set(absolute)
        given_folders = {str(p.resolve()) for p in paths if p.is_dir()}
        scope = [root for root in _index_scope(paths) if str(root) not in given_folders]  # not discovered twice
        extra = [found for found in discover_resolved(scope, configs.for_path) if found[1] not in checked]
        lockfiles = _read_lockfiles([*paths, *scope])
        for lock, data in lockfiles:
            index.set_lockfile(lock, data)
        stats.indexed_files = len(files) + len(extra)
    items = [(str(path), absolute[number]) for number, path in enumerate(files)]
    items += [(str(path), resolved) for path, resolved in extra]
    tasks = [(str(path), id(config), absolute[number]) for number, (path, config) in enumerate(zip(files, file_configs))]
    if options.cache is None:  # every file is checked: compiled once here, inherited by the workers
        for config_id in {task[1] for task in tasks}:
            _engines[config_id].warm_up()
        if _forks(items, jobs):
            _compile_lazy_queries([_engines[config_id] for config_id in {task[1] for task in tasks}])

    per_file_digests: list[tuple[str, dict[str, str]]] = []
    fresh_facts: dict[str, tuple[str, str, dict[str, str]]] = {}  # path -> (key, facts JSON, digests)
    stored: dict[str, tuple[str | None, dict]] = {}  # path -> (file key, cached results by settings)
    reports: list[FileReport | None] = [None] * len(files)
    with _workers(items, tasks, needs_index, jobs) as workers:
        if progress is not None and needs_index:
            progress.phase("indexing", [given for given, _path in items])
        for number, (path, facts_json, digests, key, from_cache, results) in workers.read():
            if progress is not None and needs_index:
                progress.advance(items[number][0])
            stored[path] = (key, results)
            if digests is not None:
                per_file_digests.append((path, digests))
            stats.facts_from_cache += from_cache
            if facts_json is not None and not from_cache:
                fresh_facts[path] = (key, facts_json, digests)
        _digests = workspace_digests(per_file_digests, lockfiles) if options.cache is not None else {}

        missing: list[int] = []
        for number, (path, config) in enumerate(zip(files, file_configs)):
            report = FileReport(str(path), absolute[number])
            key, results = stored.get(report.absolute, (None, {}))
            if key is not None and _take_cached(report, results.get(_settings[id(config)])):
                reports[number] = report
                stats.results_from_cache += 1
            else:
                missing.append(number)
        if progress is not None and missing:
            progress.phase("checking", [tasks[number][0] for number in missing])
        for number, report, payload in workers.check(missing, _digests):
            reports[number] = report
            if options.cache is not None and payload is not None:
                _store(options.cache, report.absolute, payload, fresh_facts.pop(report.absolute, None))
            if progress is not None:
                progress.advance(report.path)
    if options.cache is not None:
        for path, facts in fresh_facts.items():  # files indexed, not checked (the rest of their project)
            _store(options.cache, path, None, facts)
    return [report for report in reports if report is not None], stats


def _settings_key(engine: Engine, options: RunOptions) -> str:
    config = engine.config
    return settings_key(sorted(engine.enabled), sorted(config.severity_overrides.items()),
                        json.dumps(config.rule_params, sort_keys=True, default=str),
                        options.report_unused_suppressions)


def _project_root_of_resolved(path: str) -> str | None:
    """project_root_for_file for the paths the runner indexes and checks, all resolved
    already: their folder needs no second resolve (a walk of every component of the path)."""
    return find_project_root(os.path.dirname(path))


def _index_scope(paths: list[Path]) -> list[Path]:
    """The Mix projects the paths belong to: for each, the outermost folder above it holding
    mix.exs (an umbrella's root rather than one of its apps). Empty outside any project."""
    scope: list[Path] = []
    for given in paths:
        folder = (given if given.is_dir() else given.parent).resolve()
        projects = [f for f in (folder, *folder.parents) if (f / "mix.exs").is_file()]
        if projects and projects[-1] not in scope:
            scope.append(projects[-1])
    return scope


def _read_lockfiles(paths: Iterable[Path]) -> list[tuple[str, bytes]]:
    """Every mix.lock at or above the paths, and under the folders among them."""
    found: dict[str, bytes] = {}
    for given in paths:
        folder = given if given.is_dir() else given.parent
        candidates = [folder.resolve(), *folder.resolve().parents]
        locks = [c / "mix.lock" for c in candidates]
        if given.is_dir():
            locks += [p for p in given.rglob("mix.lock") if "deps" not in p.parts and "_build" not in p.parts]
        for lock in locks:
            key = str(lock.resolve())
            if key in found or not lock.is_file():
                continue
            try:
                found[key] = lock.read_bytes()
            except OSError:
                pass
    return sorted(found.items())


# Parsed documents a worker keeps from reading the facts of its files to checking them, so
# that each file is parsed once: counted in source bytes (a syntax tree takes about thirty
# times its source), beyond which files are parsed a second time.
KEPT_SOURCE_BYTES = 6 * 1024 * 1024

# What the first pass learns of a file, for the main process: (absolute path, facts as JSON
# when freshly extracted for the cache, fact digests, file key, facts from the cache, cached
# results by settings).
FirstRead = tuple[str, str | None, dict[str, str] | None, str | None, bool, dict]
# A file's text as read, why it was skipped, and its parsed document when kept: what the
# second pass checks instead of reading and parsing the file again.
Source = tuple[str | None, Skipped | None, Document | None]
# A file to check: as given, the id of its config, its resolved path.
Task = tuple[str, int, str]
# A file's index facts as objects (freshly extracted) or as JSON (from the cache), by number.
IndexEntry = tuple[int, str, dict | None, str | None]


def _forks(items: list[tuple[str, str]], jobs: int) -> bool:
    """Whether the run forks workers: not for one job or few files."""
    return jobs > 1 and len(items) >= 8 and "fork" in multiprocessing.get_all_start_methods()


def _workers(items: list[tuple[str, str]], tasks: list[Task], needs_index: bool, jobs: int):
    """The inline runner for one job or few files; else forked workers."""
    if not _forks(items, jobs):
        return _Inline(items, tasks, needs_index)
    return _Workers(items, tasks, needs_index, jobs)


def _compile_lazy_queries(engines: list[Engine]) -> None:
    """The queries compiled on first need (the patterns a group runs apart, those checks and
    index extractors run themselves), compiled here once rather than in every worker."""
    for engine in engines:
        for group in engine.registry.groups(engine.enabled):
            matcher, _dispatch = group.compiled
            if matcher is not None:
                matcher.residual_query  # noqa: B018 - compiled on first access, then kept
    compile_declared_queries()


class _Inline:
    """Both passes in this process."""

    def __init__(self, items: list[tuple[str, str]], tasks: list[Task], needs_index: bool) -> None:
        self.items, self.tasks, self.needs_index = items, tasks, needs_index
        self.kept: dict[int, Source] = {}
        self.facts: list[IndexEntry] = []

    def read(self) -> Iterator[tuple[int, FirstRead]]:
        share = list(range(len(self.items)))
        yield from _read_share(self.items, len(self.tasks), share, self.needs_index, self.kept, self.facts)

    def check(self, numbers: list[int], _digests: dict[str, str]) -> Iterator[tuple[int, FileReport, dict | None]]:
        if numbers:
            _set_index_facts(self.facts)
        for number in numbers:
            yield number, *_check_one(self.tasks[number], self.kept.pop(number, None))

    def __enter__(self) -> "_Inline":
        return self

    def __exit__(self, *_exc) -> None:
        self.kept.clear()


class _Workers:
    """Forked workers, each owning a fixed share of the files for both passes. A worker that
    fails or dies is reported here, in the main process: the run never waits for it forever."""

    def __init__(self, items: list[tuple[str, str]], tasks: list[Task], needs_index: bool,
                 jobs: int) -> None:
        context = multiprocessing.get_context("fork")
        self.workers: list[tuple[multiprocessing.Process, multiprocessing.connection.Connection, list[int]]] = []
        self.facts: dict[multiprocessing.connection.Connection, bytes] = {}  # pickled, passed on unread
        # The workers' garbage collector leaves alone what they inherit (rules, compiled queries,
        # configs): not scanned again and again, nor copied page by page as it touches them.
        gc.freeze()
        try:
            for share in _shares(items, len(tasks), jobs):
                parent_end, child_end = context.Pipe()
                process = context.Process(target=_worker, args=(child_end, items, tasks, share, needs_index),
                                          daemon=True)
                process.start()
                child_end.close()
                self.workers.append((process, parent_end, share))
        finally:
            gc.unfreeze()  # this process goes on as before

    def read(self) -> Iterator[tuple[int, FirstRead]]:
        pending = [connection for _process, connection, _share in self.workers]
        while pending:
            for connection in multiprocessing.connection.wait(pending):
                kind, value = _receive(connection)
                if kind == "facts":  # the worker's last word of the first pass
                    self.facts[connection] = value
                    pending.remove(connection)
                else:
                    yield from value

    def check(self, numbers: list[int], digests: dict[str, str]) -> Iterator[tuple[int, FileReport, dict | None]]:
        wanted = set(numbers)
        for _process, connection, share in self.workers:
            to_check = [number for number in share if number in wanted]
            others = [facts for other, facts in self.facts.items() if other is not connection] if to_check else []
            connection.send((to_check, digests, others))
        self.facts.clear()
        pending = [connection for _process, connection, _share in self.workers]
        while pending:
            for connection in multiprocessing.connection.wait(pending):
                kind, value = _receive(connection)
                if kind == "end":
                    pending.remove(connection)
                else:
                    yield from value

    def __enter__(self) -> "_Workers":
        return self

    def __exit__(self, *_exc) -> None:
        for process, connection, _share in self.workers:
            connection.close()  # a worker still waiting for the second pass reads the end and stops
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


def _shares(items: list[tuple[str, str]], checked: int, jobs: int) -> list[list[int]]:
    """Item numbers per worker: the largest files first, each to the least loaded worker. A
    file to check weighs twice what a file only indexed weighs: checking it costs about as
    much again as reading its facts."""
    weights = []
    for number, (given, _path) in enumerate(items):
        try:
            size = os.path.getsize(given)
        except OSError:
            size = 0
        weights.append(((size + 1) * (2 if number < checked else 1), number))
    shares: list[list[int]] = [[] for _ in range(jobs)]
    loads = [0] * jobs
    for weight, number in sorted(weights, reverse=True):
        lightest = loads.index(min(loads))
        shares[lightest].append(number)
        loads[lightest] += weight
    return [sorted(share) for share in shares if share]


class WorkerFailed(RuntimeError):
    """A worker process failed or died: the run cannot say what the files of its share hold."""


def _receive(connection: multiprocessing.connection.Connection) -> tuple[str, object]:
    """A worker's next message; a worker that failed raises here, in the main process."""
    try:
        kind, value = connection.recv()
    except EOFError:
        raise WorkerFailed("a worker process ended without finishing its files") from None
    if kind == "error":
        raise WorkerFailed(f"a worker process failed:\n{value}")
    return kind, value


def _worker(connection, items: list[tuple[str, str]], tasks: list[Task], share: list[int],
            needs_index: bool) -> None:
    """Both passes over one share: send each file's first read, then the share's index facts
    (pickled once here, passed on by the main process unread); receive the files to check,
    the fact digests and the other shares' facts; send each report as it is done."""
    global _digests
    try:
        kept: dict[int, Source] = {}
        facts: list[IndexEntry] = []
        reads = _Batches(connection, "reads")
        for read in _read_share(items, len(tasks), share, needs_index, kept, facts):
            reads.add(read)
        reads.flush()
        connection.send(("facts", pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL)))
        to_check, digests, others = connection.recv()
        kept = {number: kept[number] for number in to_check if number in kept}  # the rest can go
        if to_check:
            _digests = digests
            _set_index_facts(facts + [entry for blob in others for entry in pickle.loads(blob)])
        reports = _Batches(connection, "reports")
        for number in to_check:
            reports.add((number, *_check_one(tasks[number], kept.pop(number, None))))
        reports.flush()
        connection.send(("end", None))
    except EOFError:  # the main process stopped listening (it failed or was interrupted)
        pass
    except BaseException:  # the main process must hear of it, not wait forever
        try:
            connection.send(("error", traceback.format_exc()))
        except OSError:
            pass
    finally:
        connection.close()


class _Batches:
    """A worker's results, sent to the main process a few at a time rather than one message
    each (every message costs both processes a system call and the main process a wait),
    yet often enough for the progress display to move."""

    INTERVAL = 0.1  # seconds

    def __init__(self, connection, kind: str) -> None:
        self.connection, self.kind = connection, kind
        self.pending: list = []
        self.sent = time.monotonic()

    def add(self, item) -> None:
        self.pending.append(item)
        if time.monotonic() - self.sent >= self.INTERVAL:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.connection.send((self.kind, self.pending))
            self.pending = []
        self.sent = time.monotonic()


def _read_share(items: list[tuple[str, str]], checked: int, share: list[int], needs_index: bool,
                kept: dict[int, Source], facts: list[IndexEntry]) -> Iterator[tuple[int, FirstRead]]:
    """The first pass over `share`: each file's first read; fills `kept` with the sources of
    the files to check (parsed documents up to KEPT_SOURCE_BYTES) and `facts` with the index
    facts of every file."""
    budget = KEPT_SOURCE_BYTES
    for number in share:
        given, path = items[number]
        read, source, index_facts = _read_one(given, path, needs_index)
        if number < checked:
            text, skipped, document = source
            if document is not None and len(document.data) <= budget:
                budget -= len(document.data)
            else:
                document = None  # over the budget: read again, parsed again
            kept[number] = (text, skipped, document)
        if index_facts is not None:
            facts.append((number, path, *index_facts))
        yield number, read


def _read_one(given: str, path: str, needs_index: bool) -> tuple[FirstRead, Source, tuple[dict | None, str | None] | None]:
    """One file's first read, its source, and its index facts (objects when extracted here,
    JSON when they come from the cache: an unchanged file is not parsed)."""
    assert _index is not None
    text, skipped = read_source(Path(given))
    if skipped is not None or text is None:
        return (path, None, None, None, False, {}), (None, skipped, None), None
    cache = _options.cache
    key, results = None, {}
    if cache is not None:
        key = file_key(path, _index.project_root_of(path), text.encode("utf-8", errors="surrogateescape"))
        entry = cache.load(path)
        entry = entry if entry is not None and entry.get("key") == key else {}
        results = entry.get("results")
        results = results if isinstance(results, dict) else {}
        if needs_index and isinstance(entry.get("facts"), str) and isinstance(entry.get("fact_digests"), dict):
            return (path, None, entry["fact_digests"], key, True, results), (text, None, None), (None, entry["facts"])
    if not needs_index:
        return (path, None, None, key, False, results), (text, None, None), None
    document = Document(path, text)
    facts = _index.extract(document)
    if cache is None:
        return (path, None, None, None, False, {}), (text, None, document), (facts, None)
    try:
        facts_json, digests = fact_digests(facts)
    except Unencodable:
        # a fact the cache cannot hold: the facts go to the index as they are, and their digests
        # are new on every run, so no cached result that read them is ever taken again
        digests = {name: os.urandom(12).hex() for name, value in facts.items() if value}
        return (path, None, digests, key, False, results), (text, None, document), (facts, None)
    return (path, facts_json, digests, key, False, results), (text, None, document), (facts, None)


def _set_index_facts(entries: list[IndexEntry]) -> None:
    """Put every file's facts into the index, in file order: objects now, JSON decoded before
    the first check."""
    assert _index is not None
    for _number, path, facts, facts_json in sorted(entries, key=lambda entry: entry[0]):
        if facts is not None:
            _index.set_facts(path, facts)
        elif facts_json is not None:
            _undecoded.append((path, facts_json))


def _decode_pending_facts() -> None:
    """Put the facts read as JSON into the index, once per process, before the first check."""
    assert _index is not None
    while _undecoded:
        path, facts_json = _undecoded.pop()
        try:
            facts = decode_facts(facts_json)
        except (ValueError, TypeError, KeyError, AttributeError, ImportError):  # a damaged entry
            text, _skipped = read_source(Path(path))
            facts = _index.extract(Document(path, text)) if text is not None else {}
        _index.set_facts(path, facts)


def _take_cached(report: FileReport, stored: dict | None) -> bool:
    """Fill `report` from a cached result if every index fact it read is unchanged."""
    try:
        if stored is None or not _reads_hold(stored["reads"]):
            return False
        findings = decode_findings(stored["findings"])
    except (KeyError, TypeError, ValueError, AttributeError):  # a damaged entry is a miss
        return False
    if _options.fix or _options.diff:
        reported = _options.triage.split(report.absolute, findings).shown
        if any(item.finding.safe_fix is not None for item in reported):
            return False  # something to fix: check it for real
    report.findings = findings
    report.from_cache = True
    return True


def _reads_hold(reads: dict) -> bool:
    if any(_digests.get(name) != digest for name, digest in reads["facts"].items()):
        return False
    return all(project_root_for_file(path) == root for path, root in reads["roots"].items())


def _check_one(task: Task, source: Source | None = None) -> tuple[FileReport, dict | None]:
    """A file's report, and what to cache of it (None when it came from the cache or must not
    be kept: a rule failed, or --diff left the file on disk different from what was checked).
    `source` is the file as the first pass read it (and parsed it, when kept)."""
    path, config_id, absolute = task
    report = FileReport(path, absolute)
    text, skipped, document = source if source is not None else (*read_source(Path(path)), None)
    if skipped is not None or text is None:
        report.skipped = skipped
        return report, None
    _decode_pending_facts()
    engine = _engines[config_id]
    if document is None:
        document = Document(absolute, text)
    index = ReadRecorder(_index)
    try:
        result = engine.check(document, index, report_unused_suppressions=_options.report_unused_suppressions,
                              report_syntax_errors=True)
        if _options.fix or _options.diff:
            original = document.data
            for _ in range(MAX_FIX_PASSES):
                # only what the run reports is fixed: not hidden hints, baselined findings or
                # findings outside the change under review
                located = [locate(document, f) for f in result.findings]
                lines = _line_map(original, document.data) if _options.triage.changes is not None else None
                reported = _options.triage.split(absolute, located, lines).shown
                edits, count = _safe_edits([item.finding for item in reported])
                if not edits:
                    break
                report.fixed += count
                document = Document(absolute, apply_edits(document.data, edits))
                result = engine.check(
                    document, index, report_unused_suppressions=_options.report_unused_suppressions,
                    report_syntax_errors=True,
                )
            if document.data != original:
                if _options.diff:
                    report.diff = _unified_diff(path, original, document.data)
                else:
                    Path(path).write_bytes(document.data)
    except Exception as error:  # never let one file end the run
        report.failures.append(f"internal error: {type(error).__name__}: {error}")
        return report, None
    report.failures.extend(f"rule {f.code} failed: {f.error.splitlines()[0]}" for f in result.failures)
    report.findings = [locate(document, finding) for finding in result.findings]
    if _options.cache is None or report.failures or report.diff:
        return report, None
    reads = index.reads(absolute)
    payload = {
        "key": file_key(absolute, _index.project_root_of(absolute), document.data),
        "settings": _settings[config_id],
        "reads": {"facts": {name: _digests.get(name) for name in reads["facts"]}, "roots": reads["roots"]},
        "findings": encode_findings(report.findings),
    }
    return report, payload


def _store(cache: ResultCache, path: str, result: dict | None, facts: tuple[str, str, dict[str, str]] | None) -> None:
    """Write a file's entry: its facts for the bytes they came from, its result for the
    settings it was checked with (a few settings are kept side by side)."""
    key = result["key"] if result is not None else facts[0] if facts is not None else None
    entry = cache.load(path) or {}
    if entry.get("key") != key:
        entry = {"key": key, "results": {}}
    if facts is not None and facts[0] == key:  # after --fix the file's bytes are new: facts were of the old
        entry["facts"], entry["fact_digests"] = facts[1], facts[2]
    if result is not None:
        previous = entry.get("results")
        previous = previous if isinstance(previous, dict) else {}
        results = {name: value for name, value in previous.items() if name != result["settings"]}
        results[result["settings"]] = {"reads": result["reads"], "findings": result["findings"]}
        entry["results"] = dict(list(results.items())[-KEEP_SETTINGS:])
    cache.store(path, entry)


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


def _line_map(before: bytes, after: bytes) -> Callable[[int], int | None]:
    """Maps a 1-based line of `after` to its line in `before`, None where a fix wrote it."""
    if before == after:
        return lambda line: line
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    mapping: dict[int, int] = {}
    for tag, old_start, _old_end, new_start, new_end in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(new_end - new_start):
                mapping[new_start + offset + 1] = old_start + offset + 1
    return mapping.get


def _unified_diff(path: str, before: bytes, after: bytes) -> str:
    old = before.decode("utf-8", errors="replace").splitlines(keepends=True)
    new = after.decode("utf-8", errors="replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(old, new, fromfile=f"a/{path}", tofile=f"b/{path}"))
