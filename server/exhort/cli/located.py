"""A finding placed for people (1-based lines, columns in characters) and a file's report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..baseline import Identity, identify
from ..document import Document
from ..files import Skipped
from ..findings import Finding


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
    from_cache: bool = False


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
