"""Which findings a run reports, and why the others are not shown.

The engine's findings of a file go through the same triage in the worker (so `--fix`
applies only fixes of reported findings: what is new) and in the main process (for the
report and its summary). A finding is held back, counted under the first reason that
applies, when it is:

1. accepted in the baseline (`--baseline`),
2. on a line the change under review did not touch (`--diff-base`),
3. below the minimum severity (`--min-severity`, hints by default), unless its rule was
   asked for by name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..baseline import Baseline, Entry, baseline_path, fingerprint
from ..changes import ChangedLines
from ..findings import Severity
from ..syntax_errors import SYNTAX_ERROR

if TYPE_CHECKING:
    from .runner import Located

DEFAULT_MIN_SEVERITY = Severity.INFORMATION


@dataclass(frozen=True)
class Triage:
    min_severity: Severity = DEFAULT_MIN_SEVERITY
    always_shown: frozenset[str] = frozenset()  # rule codes asked for by name: shown at any severity
    baseline: Baseline | None = None
    baseline_folder: str = ""  # absolute: baseline paths are relative to it
    changes: ChangedLines | None = None

    def split(self, path: str, findings: list["Located"],
              original_line: Callable[[int], int | None] | None = None) -> "Outcome":
        """`path` is the file's absolute path; `findings` its findings in document order.
        `original_line` maps a line of the text being fixed to the line of the file as it was
        on disk (None for a line a fix wrote), for `--fix` with `--diff-base`."""
        outcome = Outcome()
        matcher = None
        if self.baseline is not None:
            key = baseline_path(path, self.baseline_folder)
            matcher = self.baseline.matcher(key)
        for item in findings:
            finding = item.finding
            if matcher is not None and matcher.accepts(fingerprint(finding.code, key, item.identity)):
                outcome.baselined += 1
            elif self.changes is not None and not self._in_change(path, item, original_line):
                outcome.outside_diff += 1
            elif finding.severity > self.min_severity and finding.code not in self.always_shown:
                outcome.below_severity[finding.severity] += 1
            else:
                outcome.shown.append(item)
        if matcher is not None:
            outcome.fixed = matcher.unmatched()
        return outcome

    def _in_change(self, path: str, item: "Located", original_line) -> bool:
        assert self.changes is not None
        if item.finding.code == SYNTAX_ERROR.code:
            # where the parser gave up is not where the mistake is (a deleted `end` is reported
            # at the end of the file): any change to the file owns its syntax errors
            return self.changes.file_changed(path)
        lines = range(item.line, item.end_line + 1)
        if original_line is not None:
            mapped = [original_line(line) for line in lines]
            if None in mapped:
                return self.changes.file_changed(path)  # a line the fix wrote, in a changed file
            lines = mapped
        return self.changes.touches(path, min(lines), max(lines))


@dataclass
class Outcome:
    shown: list["Located"] = field(default_factory=list)
    baselined: int = 0
    outside_diff: int = 0
    below_severity: Counter[Severity] = field(default_factory=Counter)
    fixed: list[Entry] = field(default_factory=list)  # baseline entries that no finding matched

    def add(self, other: "Outcome") -> None:
        self.baselined += other.baselined
        self.outside_diff += other.outside_diff
        self.below_severity.update(other.below_severity)
        self.fixed.extend(other.fixed)
