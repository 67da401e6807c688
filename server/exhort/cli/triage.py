"""Which findings a run reports, and why the others are not shown.

The engine's findings of a file go through the same triage in the worker (so `--fix`
applies only fixes of reported findings) and in the main process (for the report and its
summary). A finding is held back, counted under the first reason that applies, when it is:

- below the minimum severity (`--min-severity`, hints by default), unless its rule was
  asked for by name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..findings import Severity

if TYPE_CHECKING:
    from .runner import Located

DEFAULT_MIN_SEVERITY = Severity.INFORMATION


@dataclass(frozen=True)
class Triage:
    min_severity: Severity = DEFAULT_MIN_SEVERITY
    always_shown: frozenset[str] = frozenset()  # rule codes asked for by name: shown at any severity

    def split(self, findings: list["Located"]) -> "Outcome":
        outcome = Outcome()
        for item in findings:
            finding = item.finding
            if finding.severity > self.min_severity and finding.code not in self.always_shown:
                outcome.below_severity[finding.severity] += 1
            else:
                outcome.shown.append(item)
        return outcome


@dataclass
class Outcome:
    shown: list["Located"] = field(default_factory=list)
    below_severity: Counter[Severity] = field(default_factory=Counter)

    def add(self, other: "Outcome") -> None:
        self.below_severity.update(other.below_severity)
