"""A source document: bytes, line index and an incrementally maintained syntax tree."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import tree_sitter as ts

from .parsing import new_elixir_parser
from .text import Encoding, LineIndex, line_starts

_LONE_CR = re.compile(rb"\r(?!\n)")
EDIT_LOG_LIMIT = 64  # edits between two checks; more than that and caches rekey by text


def language_for_path(path: str) -> str:
    """'elixir' for .ex/.exs, 'heex' for .heex templates (also .html.heex, .sface is not ours)."""
    suffix = PurePosixPath(path).suffix.lower()
    return "heex" if suffix in (".heex", ".leex") else "elixir"


@dataclass(frozen=True, slots=True)
class TextChange:
    """One edit in byte offsets: replace data[start:end] with `text` (UTF-8)."""

    start: int
    end: int
    text: bytes


def _has_lone_cr_between(data: bytes, first: int, last: int) -> bool:
    """Is there a "\r" not followed by "\n" at a position in [first, last]?"""
    position = data.find(b"\r", first, last + 1)
    while position != -1:
        if data[position + 1 : position + 2] != b"\n":
            return True
        position = data.find(b"\r", position + 1, last + 1)
    return False


class Document:
    """Text of one file plus what the engine needs to read it.

    `path` is the file's path (absolute or relative, POSIX separators) and is used only for
    path-aware rules and messages; nothing here touches the disk. `tree`, if given, is the
    tree of exactly this text, parsed already (the language server parses big buffers in a
    way that lets other threads run meanwhile).
    """

    def __init__(self, path: str, text: str | bytes, language: str | None = None, tree: ts.Tree | None = None) -> None:
        self.path = path
        self.language = language or language_for_path(path)
        self.data = text if isinstance(text, bytes) else text.encode("utf-8", errors="surrogateescape")
        self.lines = LineIndex(self.data)
        self._has_lone_cr = _LONE_CR.search(self.data) is not None
        # Facts derived from this exact text (module headers, templates), shared by every rule
        # and extractor that reads the document; emptied by each edit.
        self.memo: dict = {}
        # The edits since this text was loaded (bounded): a cache keyed by position can then
        # tell which of its entries an edit left untouched (the engine's form keys).
        self.lineage = object()  # replaced with the whole text: no position carries over
        self.revision = 0
        self._edit_log: list[tuple[int, int, int]] = []  # (start, old end, new end) per revision
        self._absent: set[bytes] = set()  # byte strings known not to occur (see contains)
        self._found: dict[bytes, int] = {}  # byte strings known to occur, at that offset
        self._parser: ts.Parser | None = None
        self.tree: ts.Tree | None = None
        if self.language == "elixir":
            self._parser = new_elixir_parser()
            self.tree = tree if tree is not None else self._parser.parse(self.data)

    # -- reading -------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="surrogateescape")

    def slice(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", errors="replace")

    def position(self, offset: int, encoding: Encoding = "utf-8") -> tuple[int, int]:
        return self.lines.position_at(offset, encoding)

    def offset(self, line: int, column: int, encoding: Encoding = "utf-8") -> int:
        return self.lines.offset_at(line, column, encoding)

    def snapshot(self) -> "Document":
        """A copy of the current text and tree that later edits of this document do not
        reach, for reading in another thread. The bytes and line index are immutable and
        shared; the tree is copied (cheap: tree-sitter shares its nodes)."""
        copy = Document.__new__(Document)
        copy.path, copy.language, copy.data, copy.lines = self.path, self.language, self.data, self.lines
        copy._has_lone_cr = self._has_lone_cr
        copy.memo = {}
        copy.lineage, copy.revision, copy._edit_log = self.lineage, self.revision, list(self._edit_log)
        copy._absent = set(self._absent)
        copy._found = dict(self._found)
        copy._parser = None
        copy.tree = self.tree.copy() if self.tree is not None else None
        return copy

    def contains(self, needle: bytes) -> bool:
        """Does the text contain `needle`? A per-keystroke question (is there any suppression
        comment? any `Oban`?) that would scan megabytes each time: an absence is remembered,
        and an edit can only create an occurrence that overlaps it, so only its surroundings
        are searched; a presence is remembered with the offset of one occurrence, which
        stays true while edits leave that occurrence alone."""
        if needle in self._absent:
            return False
        if needle in self._found:
            return True
        position = self.data.find(needle)
        if position >= 0:
            self._found[needle] = position
            return True
        self._absent.add(needle)
        return False

    @property
    def last_edit(self) -> tuple[int, int, int] | None:
        """(start, old end, new end) of the latest edit as applied (clamped); None when the
        text has not been edited since it was loaded."""
        return self._edit_log[-1] if self._edit_log else None

    def edits_since(self, lineage: object, revision: int) -> list[tuple[int, int, int]] | None:
        """The (start, old end, new end) byte edits made after `revision` of `lineage`, in
        order; None when they are unknown (another text, or older than the log keeps)."""
        if lineage is not self.lineage or revision > self.revision:
            return None
        count = self.revision - revision
        if count > len(self._edit_log):
            return None
        return self._edit_log[len(self._edit_log) - count :] if count else []

    # -- editing -------------------------------------------------------------------------

    def replace(self, text: str | bytes) -> None:
        """Replace the whole text (a full-sync change)."""
        self.__init__(self.path, text, self.language)  # type: ignore[misc]

    def apply_range_edit(
        self,
        start_line: int,
        start_column: int,
        end_line: int,
        end_column: int,
        new_text: str,
        encoding: Encoding,
    ) -> bool:
        """Apply an LSP-style range edit in `encoding` units. Returns False if it was clamped."""
        start = self.lines.offset_at(start_line, start_column, encoding)
        end = self.lines.offset_at(end_line, end_column, encoding)
        in_range = 0 <= start_line < self.lines.line_count and 0 <= end_line < self.lines.line_count
        if end < start:
            start, end = end, start
            in_range = False
        self.apply(TextChange(start, end, new_text.encode("utf-8", errors="surrogateescape")))
        return in_range

    def apply(self, change: TextChange) -> None:
        """Splice bytes, update the line index and reparse incrementally."""
        self.memo = {}
        start = max(0, min(change.start, len(self.data)))
        end = max(start, min(change.end, len(self.data)))
        old_data = self.data
        new_data = old_data[:start] + change.text + old_data[end:]
        new_end = start + len(change.text)

        start_point = self._point(start)
        old_end_point = self._point(end)

        # Lines before the edit keep their starts; rescan from the start of the edited line.
        # A "\r" right before the edit may now pair with a "\n" we insert, so step back one line.
        stored, shift_from, shift = self.lines.stored()
        first_line = max(self.lines.line_of(start) - 1, 0)
        keep = stored[: first_line + 1]
        if shift_from <= first_line:  # the pending shift begins among the kept lines: apply it there
            keep[shift_from:] = [position + shift for position in keep[shift_from:]]
        # Only the edited stretch is rescanned: a line start after the old end depends on
        # bytes that did not change, so it just moves by the edit's length difference.
        # Scanning one byte past new_end lets a "\r" there pair with its "\n".
        region = [
            position
            for position in line_starts(new_data, keep[-1], keep[-1], new_end + 2)[1:]
            if position <= new_end
        ]
        # The lines after the old end move by the edit's length difference: added to the
        # pending shift, which then covers all of them (those the old shift did not reach
        # yet are stored one shift lower, so that it does).
        first_after = self.lines.line_of(end) + 1
        suffix = stored[first_after:]
        if shift and shift_from > first_after:
            count = shift_from - first_after
            suffix[:count] = [position - shift for position in suffix[:count]]
        starts = keep + region + suffix
        lines = LineIndex(new_data, starts, len(keep) + len(region), shift + new_end - end)
        self.data = new_data
        self.lines = lines
        self._absent = {
            needle for needle in self._absent
            if new_data.find(needle, max(0, start - len(needle) + 1), new_end + len(needle) - 1) < 0
        }
        # A known occurrence wholly before the edit stays; one wholly after it moves by the
        # edit's length difference; one the edit touched is forgotten (searched again).
        self._found = {
            needle: position if position + len(needle) <= start else position + new_end - end
            for needle, position in self._found.items()
            if position + len(needle) <= start or position >= end
        }
        self.revision += 1
        self._edit_log.append((start, end, new_end))
        if len(self._edit_log) > EDIT_LOG_LIMIT:
            del self._edit_log[: len(self._edit_log) - EDIT_LOG_LIMIT]
        if self._has_lone_cr:
            self._has_lone_cr = _LONE_CR.search(new_data) is not None
        else:  # a lone "\r" can only appear where the edit joined or inserted bytes
            self._has_lone_cr = _has_lone_cr_between(new_data, max(start - 1, 0), new_end)
        if self.tree is not None and self._parser is not None:
            new_end_point = self._point(new_end)
            self.tree.edit(
                start_byte=start,
                old_end_byte=end,
                new_end_byte=new_end,
                start_point=start_point,
                old_end_point=old_end_point,
                new_end_point=new_end_point,
            )
            self.tree = self._parser.parse(self.data, self.tree)

    def _point(self, offset: int) -> tuple[int, int]:
        """tree-sitter point of `offset` in the *current* data (rows split on "\\n")."""
        if not self._has_lone_cr:
            line = self.lines.line_of(offset)
            return line, offset - self.lines.start(line)
        return self.lines.point_at(offset)
