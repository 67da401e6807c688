"""Checking many files: configuration lookup, the workspace index, worker processes, fixes.

Workers are forked after the main process has loaded the rules, the configs and the index,
so they inherit all three without pickling. Each worker reads, parses and checks whole files
and sends back plain data (FileReport), positions already converted for people.
"""

from __future__ import annotations

import difflib
import multiprocessing
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..baseline import Entry, Identity, identify
from ..config import Config, find_config_file, load_config
from ..document import Document
from ..engine import Engine
from ..files import Skipped, discover, project_root_for_file, read_source
from ..findings import Finding, Severity, apply_edits
from ..registry import Registry
from ..workspace import WorkspaceIndex
from .progress import Progress
from .triage import Outcome, Triage

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
    identity: Identity | None = None  # where it is and what it flags, for baseline fingerprints


@dataclass
class FileReport:
    path: str  # as the user named it
    absolute: str = ""
    findings: list[Located] = field(default_factory=list)
    skipped: Skipped | None = None
    failures: list[str] = field(default_factory=list)
    fixed: int = 0  # safe fixes applied (or that would be, with --diff)
    diff: str = ""


@dataclass
class Summary:
    """What the run covered, for the closing lines of every format."""

    checked: int  # files read and analysed
    skipped: list[Skipped]  # files found but not analysed (not UTF-8, too large, unreadable)
    missing: list[str]  # arguments that name nothing on disk
    held_back: Outcome  # findings not shown, and why
    baseline_file: str | None = None  # as given
    diff_base: str | None = None  # "REF (merge-base 1a2b3c4)"

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
        return cls(len(reports) - len(skipped), skipped, missing, held_back, baseline_file, diff_base)

    def notes(self) -> list[str]:
        """Closing lines about what was held back (text: after the summary; others: on stderr)."""
        notes = []
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
    progress: Progress | None = None,
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
        if progress is not None:
            progress.phase("indexing", [str(p) for p in files])
        for path, facts in _map(_extract_facts, [str(p.resolve()) for p in files], jobs):
            if progress is not None:
                progress.advance()
            if facts is not None:
                index.set_facts(path, facts)
    _options = options
    tasks = [(str(path), id(config)) for path, config in zip(files, file_configs)]
    _engines.update({key: _engine_for(config, registry) for key, config in by_id.items()})
    reports: list[FileReport] = []
    if progress is not None:
        progress.phase("checking", [path for path, _ in tasks])
    for report in _map(_check_one, tasks, jobs):
        reports.append(report)
        if progress is not None:
            progress.advance()
    return reports, len(files)


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


def _map(function, items: list, jobs: int):
    """Ordered map over worker processes (or inline for small inputs / one job)."""
    if jobs <= 1 or len(items) < 8 or "fork" not in multiprocessing.get_all_start_methods():
        for item in items:
            yield function(item)
        return
    context = multiprocessing.get_context("fork")
    chunk = max(1, min(32, len(items) // (jobs * 8)))
    with context.Pool(processes=jobs) as pool:
        yield from pool.imap(function, items, chunksize=chunk)


def _extract_facts(path: str):
    text, skipped = read_source(Path(path))
    if skipped is not None or text is None:
        return path, None
    assert _index is not None
    return path, _index.extract(Document(path, text))


def _check_one(task: tuple[str, int]) -> FileReport:
    path, config_id = task
    report = FileReport(path, str(Path(path).resolve()))
    text, skipped = read_source(Path(path))
    if skipped is not None or text is None:
        report.skipped = skipped
        return report
    engine = _engines[config_id]
    absolute = str(Path(path).resolve())
    document = Document(absolute, text)
    try:
        result = engine.check(document, _index, report_unused_suppressions=_options.report_unused_suppressions,
                              report_syntax_errors=True)
        if _options.fix or _options.diff:
            original = document.data
            for _ in range(MAX_FIX_PASSES):
                # only what the run reports is fixed: not hidden hints, nor (later) baselined ones
                located = [locate(document, f) for f in result.findings]
                lines = _line_map(original, document.data) if _options.triage.changes is not None else None
                reported = _options.triage.split(absolute, located, lines).shown
                edits, count = _safe_edits([item.finding for item in reported])
                if not edits:
                    break
                report.fixed += count
                document = Document(absolute, apply_edits(document.data, edits))
                result = engine.check(
                    document, _index, report_unused_suppressions=_options.report_unused_suppressions,
                    report_syntax_errors=True,
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
    return Located(finding, line + 1, column + 1, end_line + 1, end_column + 1, source, related, fix_edits,
                   identify(document, finding))


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
