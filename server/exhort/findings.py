"""What the engine reports: findings with byte ranges, related locations and fixes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

# Edit, Fix, Related and Finding are values: never mutate one, the engine caches and shares
# them. They are not frozen dataclasses because a frozen __init__ costs eight times a plain
# one (2.1 against 0.26 us) and every finding an edit moves is rebuilt on each keystroke.


class Severity(IntEnum):
    """Numbered like LSP's DiagnosticSeverity so adapters can pass the value through."""

    ERROR = 1
    WARNING = 2
    INFORMATION = 3
    HINT = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> "Severity":
        aliases = {"info": "information", "warn": "warning"}
        key = aliases.get(value.strip().lower(), value.strip().lower())
        for member in cls:
            if member.label == key:
                return member
        raise ValueError(f"unknown severity {value!r} (expected error, warning, information or hint)")


@dataclass(slots=True, unsafe_hash=True)
class Edit:
    """Replace the bytes [start, end) of the document with `text`.

    `path` None means the finding's own document; otherwise the edit is in that other file
    (its offsets are bytes of that file, never shifted with the document's edits).
    """

    start: int
    end: int
    text: str
    path: str | None = None

    def shifted(self, delta: int) -> "Edit":
        return self if self.path is not None else Edit(self.start + delta, self.end + delta, self.text)


@dataclass(slots=True, unsafe_hash=True)
class Fix:
    """A set of non-overlapping edits. `safe` fixes may be applied without asking."""

    title: str
    edits: tuple[Edit, ...]
    safe: bool

    def shifted(self, delta: int) -> "Fix":
        return Fix(self.title, tuple([edit.shifted(delta) for edit in self.edits]), self.safe)

    @property
    def in_document(self) -> bool:
        """Every edit is in the finding's own document (none edits another file)."""
        return all(edit.path is None for edit in self.edits)


@dataclass(slots=True, unsafe_hash=True)
class Related:
    """Another location that explains a finding. `path` None means the same document."""

    start: int
    end: int
    message: str
    path: str | None = None

    def shifted(self, delta: int) -> "Related":
        return self if self.path is not None else Related(self.start + delta, self.end + delta, self.message)


class Finding:
    """One reported problem: a rule code, a byte range, a message, related locations, fixes.

    A value: compared and hashed by its fields, never mutated. A finding that an edit only
    moved is rebuilt on every keystroke (a 50,000-line file moves hundreds), so `shifted`
    copies the scalar fields and defers moving the related locations and fixes until they
    are read: the diagnostics publish needs neither, code actions and fix-all read few.
    """

    __slots__ = ("code", "severity", "start", "end", "message", "deprecated", "unnecessary",
                 "_related", "_fixes", "_moved", "_moved_related", "_moved_fixes")

    def __init__(
        self,
        code: str,
        severity: Severity,
        start: int,
        end: int,
        message: str,
        related: tuple[Related, ...] = (),
        fixes: tuple[Fix, ...] = (),
        deprecated: bool = False,  # the finding is about a deprecated API (LSP tag Deprecated)
        unnecessary: bool = False,  # the flagged code does nothing (LSP tag Unnecessary)
    ) -> None:
        self.code = code
        self.severity = severity
        self.start = start
        self.end = end
        self.message = message
        self.deprecated = deprecated
        self.unnecessary = unnecessary
        self._related = related
        self._fixes = fixes
        self._moved = 0  # how far `related` and `fixes` are from `_related` and `_fixes`
        self._moved_related: tuple[Related, ...] | None = None
        self._moved_fixes: tuple[Fix, ...] | None = None

    @property
    def related(self) -> tuple[Related, ...]:
        if not self._moved or not self._related:
            return self._related
        if self._moved_related is None:  # computed once; two threads would compute the same
            self._moved_related = tuple([item.shifted(self._moved) for item in self._related])
        return self._moved_related

    @property
    def fixes(self) -> tuple[Fix, ...]:
        if not self._moved or not self._fixes:
            return self._fixes
        if self._moved_fixes is None:
            self._moved_fixes = tuple([fix.shifted(self._moved) for fix in self._fixes])
        return self._moved_fixes

    def shifted(self, delta: int) -> "Finding":
        if delta == 0:
            return self
        moved = object.__new__(Finding)  # the fields are copied below, not through __init__
        moved.code, moved.severity, moved.message = self.code, self.severity, self.message
        moved.start, moved.end = self.start + delta, self.end + delta
        moved.deprecated, moved.unnecessary = self.deprecated, self.unnecessary
        moved._related, moved._fixes, moved._moved = self._related, self._fixes, self._moved + delta
        moved._moved_related = moved._moved_fixes = None
        return moved

    def with_severity(self, severity: Severity) -> "Finding":
        return Finding(self.code, severity, self.start, self.end, self.message, self.related, self.fixes,
                       self.deprecated, self.unnecessary)

    def _fields(self) -> tuple:
        return (self.code, self.severity, self.start, self.end, self.message, self.related, self.fixes,
                self.deprecated, self.unnecessary)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Finding:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        names = ("code", "severity", "start", "end", "message", "related", "fixes", "deprecated", "unnecessary")
        return "Finding(" + ", ".join(f"{name}={value!r}" for name, value in zip(names, self._fields())) + ")"

    def offsets(self) -> list[int]:
        """Every in-document offset the finding refers to (for cache-validity checks)."""
        values = [self.start, self.end]
        values += [o for item in self.related if item.path is None for o in (item.start, item.end)]
        values += [
            o for fix in self.fixes for edit in fix.edits if edit.path is None for o in (edit.start, edit.end)
        ]
        return values

    @property
    def safe_fix(self) -> Fix | None:
        """The first safe fix that edits only this document: what fix-all and `--fix` apply.

        A fix that edits another file is only ever offered, whatever its `safe` flag."""
        return next((fix for fix in self.fixes if fix.safe and fix.in_document), None)


@dataclass(slots=True)
class RuleFailure:
    """A rule raised while checking a document; its findings for that document were dropped."""

    code: str
    path: str
    error: str


@dataclass(slots=True)
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    failures: list[RuleFailure] = field(default_factory=list)


def apply_edits(data: bytes, edits: list[Edit], path: str | None = None) -> bytes:
    """Apply the non-overlapping byte edits that belong to `data`; later overlapping edits are
    skipped. `data` is the finding's own document when `path` is None, else the file `path`:
    only the edits whose `path` equals it are applied, never those of another file."""
    out: list[bytes] = []
    position = 0
    for edit in sorted((e for e in edits if e.path == path), key=lambda e: (e.start, e.end)):
        if edit.start < position:
            continue
        out.append(data[position : edit.start])
        out.append(edit.text.encode("utf-8"))
        position = edit.end
    out.append(data[position:])
    return b"".join(out)
