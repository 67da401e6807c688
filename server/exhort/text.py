"""Byte offsets, lines and columns.

The core works in UTF-8 byte offsets. This module is the one place that turns them into
(line, column) pairs counted in UTF-8 bytes, UTF-16 code units or code points (UTF-32),
and back. Lines end at "\\n", "\\r\\n" or a lone "\\r", the way LSP and editors count them;
form feeds, U+2028 and other characters that str.splitlines() treats as breaks are not.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Literal

Encoding = Literal["utf-8", "utf-16", "utf-32"]
ENCODINGS: tuple[Encoding, ...] = ("utf-8", "utf-16", "utf-32")

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def normalise_encoding(value: object) -> Encoding:
    """Accept an lsprotocol PositionEncodingKind member or its string value."""
    value = getattr(value, "value", value) or "utf-16"
    value = str(value).lower()
    return value if value in ENCODINGS else "utf-16"  # type: ignore[return-value]


def line_starts(data: bytes, start_offset: int = 0, first_line_start: int = 0, end_offset: int | None = None) -> list[int]:
    """Byte offsets where each line begins, scanning `data` from `start_offset` (to `end_offset`)."""
    starts = [first_line_start]
    end = len(data) if end_offset is None else end_offset
    starts.extend(m.end() for m in _LINE_BREAK.finditer(data, start_offset, end))
    return starts


def units_to_byte_column(line: bytes, units: int, encoding: Encoding) -> int:
    """A column counted in `encoding` units -> a byte column within `line` (clamped)."""
    if units <= 0:
        return 0
    if encoding == "utf-8":
        if units >= len(line):
            return len(line)
        # Never split a multi-byte character: back up to its first byte.
        while units > 0 and (line[units] & 0xC0) == 0x80:
            units -= 1
        return units
    if line.isascii():
        return min(units, len(line))
    text = line.decode("utf-8", errors="surrogateescape")
    if encoding == "utf-32":
        return len(text[:units].encode("utf-8", errors="surrogateescape"))
    count = 0
    for index, char in enumerate(text):
        width = 2 if ord(char) > 0xFFFF else 1
        if count + width > units:  # inside a surrogate pair: round down
            return len(text[:index].encode("utf-8", errors="surrogateescape"))
        count += width
    return len(line)


def byte_column_to_units(line: bytes, byte_column: int, encoding: Encoding) -> int:
    """A byte column within `line` -> a column counted in `encoding` units."""
    if encoding == "utf-8" or line.isascii():
        return byte_column
    prefix = line[:byte_column].decode("utf-8", errors="surrogateescape")
    if encoding == "utf-32":
        return len(prefix)
    return len(prefix) + sum(1 for char in prefix if ord(char) > 0xFFFF)


class LineIndex:
    """Line starts of a byte buffer, with conversions between offsets and positions.

    After an edit, every line below it starts `delta` bytes later. Rewriting those starts
    costs O(lines) per keystroke (25,000 new ints on a 50,000-line file), so the index keeps
    a pending shift instead: lines from `shift_from` on start at their stored value plus
    `shift`. `Document.apply` carries the pending shift into the next index, so typing in one
    place never rewrites the lines below it. The stored list is shared between indexes and
    never mutated.
    """

    __slots__ = ("data", "_starts", "_shift_from", "_shift")

    def __init__(self, data: bytes, starts: list[int] | None = None, shift_from: int | None = None, shift: int = 0) -> None:
        self.data = data
        self._starts = starts if starts is not None else line_starts(data)
        self._shift_from = len(self._starts) if shift_from is None or not shift else shift_from
        self._shift = shift

    @property
    def starts(self) -> list[int]:
        """Every line's start (a new list, built in O(lines): prefer start() and line_of())."""
        cut, shift = self._shift_from, self._shift
        if not shift:
            return list(self._starts)
        return self._starts[:cut] + [position + shift for position in self._starts[cut:]]

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def start(self, line: int) -> int:
        position = self._starts[line]
        return position + self._shift if line >= self._shift_from else position

    def line_of(self, offset: int) -> int:
        starts, cut = self._starts, self._shift_from
        if cut < len(starts) and offset >= starts[cut] + self._shift:
            return bisect_right(starts, offset - self._shift, cut) - 1
        return bisect_right(starts, offset, 0, cut) - 1

    def stored(self) -> tuple[list[int], int, int]:
        """(stored starts, shift_from, shift): for Document.apply to build the next index."""
        return self._starts, self._shift_from, self._shift

    def line_bytes(self, line: int) -> bytes:
        """The bytes of `line` without its line break."""
        start = self.start(line)
        end = self.start(line + 1) if line + 1 < len(self._starts) else len(self.data)
        text = self.data[start:end]
        if text.endswith(b"\n"):
            text = text[:-1]
        if text.endswith(b"\r"):
            text = text[:-1]
        return text

    def line_end(self, line: int) -> int:
        """Offset of the end of `line`, before its line break."""
        return self.start(line) + len(self.line_bytes(line))

    def offset_at(self, line: int, column: int, encoding: Encoding = "utf-8") -> int:
        """(line, column in `encoding` units) -> byte offset, clamped into the buffer."""
        if line < 0:
            return 0
        if line >= len(self._starts):
            return len(self.data)
        return self.start(line) + units_to_byte_column(self.line_bytes(line), column, encoding)

    def position_at(self, offset: int, encoding: Encoding = "utf-8") -> tuple[int, int]:
        """byte offset -> (0-based line, column in `encoding` units)."""
        offset = max(0, min(offset, len(self.data)))
        line = self.line_of(offset)
        prefix = self.data[self.start(line) : offset]
        if prefix.endswith(b"\r"):  # an offset inside "\r\n" belongs to the line end
            prefix = prefix[:-1]
        if encoding == "utf-8" or prefix.isascii():
            return line, len(prefix)
        text = prefix.decode("utf-8", errors="surrogateescape")
        if encoding == "utf-32":
            return line, len(text)
        return line, len(text) + sum(1 for char in text if ord(char) > 0xFFFF)

    def point_at(self, offset: int) -> tuple[int, int]:
        """byte offset -> tree-sitter point (row, byte column); rows split on "\\n" only.

        tree-sitter counts only "\\n" as a row break. For buffers with lone "\\r" the points
        differ from `position_at`, which is why the engine never reads node.start_point for
        user-facing positions.
        """
        row = self.data.count(b"\n", 0, offset)
        last = self.data.rfind(b"\n", 0, offset)
        return row, offset - (last + 1)
