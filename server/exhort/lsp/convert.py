"""Findings and byte offsets -> LSP shapes, in the negotiated position encoding.

Everything here produces plain JSON-ready dicts (camelCase keys, as on the wire). The push
path writes them straight into the publishDiagnostics message: building lsprotocol objects
and unstructuring them with cattrs costs more than the whole incremental check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import unquote, urlparse

from .. import rule_docs_url
from ..document import Document
from ..findings import Edit, Finding
from ..text import Encoding

SOURCE = "exhort"
TAG_UNNECESSARY = 1  # lsprotocol DiagnosticTag.Unnecessary
TAG_DEPRECATED = 2  # lsprotocol DiagnosticTag.Deprecated


def path_to_uri(path: str) -> str:
    if "://" in path or path.startswith("untitled:"):
        return path
    return Path(path).absolute().as_uri()


def uri_to_path(uri: str) -> str:
    """A file URI's path; other schemes (untitled:, ...) keep the URI as their 'path'."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return uri
    path = unquote(parsed.path)
    if len(path) >= 3 and path[0] == "/" and path[2] == ":":  # file:///C:/x on Windows
        path = path[1:]
    return path


def position(document: Document, offset: int, encoding: Encoding) -> dict:
    line, character = document.lines.position_at(offset, encoding)
    return {"line": line, "character": character}


def lsp_range(document: Document, start: int, end: int, encoding: Encoding) -> dict:
    return {"start": position(document, start, encoding), "end": position(document, end, encoding)}


def offset_of(document: Document, pos, encoding: Encoding) -> int:
    """An lsprotocol Position -> byte offset (clamped into the document)."""
    return document.lines.offset_at(pos.line, pos.character, encoding)


def diagnostic(
    finding: Finding,
    document: Document,
    encoding: Encoding,
    uri: str,
    other_document: Callable[[str], Document | None],
) -> dict:
    """One finding as an LSP Diagnostic.

    `other_document(path)` gives the text of another file so that related locations there
    get real positions; a file it cannot give is pointed at its first line.
    """
    item: dict = {
        "range": lsp_range(document, finding.start, finding.end, encoding),
        "severity": int(finding.severity),
        "code": finding.code,
        "codeDescription": {"href": rule_docs_url(finding.code)},
        "source": SOURCE,
        "message": finding.message,
    }
    tags = []
    if finding.unnecessary:
        tags.append(TAG_UNNECESSARY)
    if finding.deprecated:
        tags.append(TAG_DEPRECATED)
    if tags:
        item["tags"] = tags
    if finding.related:
        related = []
        for entry in finding.related:
            if entry.path is None:
                location = {"uri": uri, "range": lsp_range(document, entry.start, entry.end, encoding)}
            else:
                other = other_document(entry.path)
                target = (
                    lsp_range(other, entry.start, entry.end, encoding)
                    if other is not None
                    else {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
                )
                location = {"uri": path_to_uri(entry.path), "range": target}
            related.append({"location": location, "message": entry.message})
        item["relatedInformation"] = related
    return item


class DiagnosticsCache:
    """One document's last converted diagnostics, reused for findings an edit only moved.

    On a big file with many findings, converting every position and encoding every
    diagnostic costs more per keystroke than the incremental check. After one edit that
    adds or removes no line, a finding that ends before the edit, or starts on a line after
    the edited one, keeps its LSP range exactly: its diagnostic and JSON text are reused.
    Anything else (several edits between conversions, line changes, related locations)
    is converted afresh.
    """

    __slots__ = ("_entries", "_edit", "_valid")

    def __init__(self) -> None:
        self._entries: dict[tuple, tuple[dict, str]] = {}
        self._edit: tuple[int, int, int] | None = None
        self._valid = True

    def edited(self, start: int, old_end: int, new_end: int, line_delta: int) -> None:
        if self._edit is not None or line_delta:
            self._valid = False
        else:
            self._edit = (start, old_end, new_end)

    def invalidate(self) -> None:
        self._valid = False

    def convert(
        self,
        findings: list[Finding],
        document: Document,
        encoding: Encoding,
        uri: str,
        other_document: Callable[[str], Document | None],
    ) -> list[tuple[dict, str]]:
        """(diagnostic, its JSON text) per finding, in order."""
        previous = self._entries if self._valid else {}
        edit = self._edit
        if edit is not None:
            edit_start, old_end, new_end = edit
            delta = new_end - old_end
            lines = document.lines
            next_line = lines.line_of(new_end) + 1
            after = lines.start(next_line) if next_line < lines.line_count else len(document.data) + 1
        entries: dict[tuple, tuple[dict, str]] = {}
        out: list[tuple[dict, str]] = []
        for finding in findings:
            entry = None
            key = None
            if not finding.related:
                key = _key(finding, finding.start, finding.end)
                if edit is None or finding.end < edit_start:
                    entry = previous.get(key)
                elif finding.start >= after:
                    entry = previous.get(_key(finding, finding.start - delta, finding.end - delta))
            if entry is None:
                item = diagnostic(finding, document, encoding, uri, other_document)
                entry = (item, json.dumps(item))
            if key is not None:
                entries[key] = entry
            out.append(entry)
        self._entries = entries
        self._edit = None
        self._valid = True
        return out


def _key(finding: Finding, start: int, end: int) -> tuple:
    return (finding.code, start, end, finding.severity, finding.message, finding.deprecated, finding.unnecessary)


def text_edit(document: Document, edit: Edit, encoding: Encoding) -> dict:
    """An LSP TextEdit; `document` is the text the edit's offsets count in (for an edit with a
    `path`, that other file's text, never the finding's own document)."""
    return {"range": lsp_range(document, edit.start, edit.end, encoding), "newText": edit.text}


def workspace_edit(
    document: Document,
    uri: str,
    edits: Iterable[Edit],
    encoding: Encoding,
    other_document: Callable[[str], Document | None],
) -> dict | None:
    """A WorkspaceEdit (`changes` by URI) for a fix's edits: those without a path go to `uri`
    (positions from `document`), the others to their own file, whose text `other_document(path)`
    gives. None when one of those files cannot be read: the fix is then not offered."""
    changes: dict[str, list[dict]] = {}
    for edit in edits:
        target, text = uri, document
        if edit.path is not None:
            target = path_to_uri(edit.path)
            if target != uri:
                text = other_document(edit.path)
                if text is None:
                    return None
        changes.setdefault(target, []).append(text_edit(text, edit, encoding))
    return {"changes": changes}


def non_overlapping_safe_edits(findings: list[Finding]) -> list[Edit]:
    """Every safe fix that can be applied together, in document order.

    Same rule as findings.apply_edits (sorted, an edit overlapping an earlier one is
    skipped), but a fix is taken or skipped as a whole so that none is half applied.
    """
    fixes = [finding.safe_fix for finding in findings if finding.safe_fix is not None]
    fixes.sort(key=lambda fix: min((edit.start, edit.end) for edit in fix.edits) if fix.edits else (0, 0))
    taken: list[Edit] = []
    for fix in fixes:
        edits = sorted(fix.edits, key=lambda edit: (edit.start, edit.end))
        if not edits:
            continue
        if any(_overlaps(edit, other) for edit in edits for other in taken):
            continue
        taken.extend(edits)
    taken.sort(key=lambda edit: (edit.start, edit.end))
    return taken


def _overlaps(a: Edit, b: Edit) -> bool:
    if a.start == a.end == b.start == b.end:
        return True  # two insertions at one point: their order would be arbitrary
    return a.start < b.end and b.start < a.end
