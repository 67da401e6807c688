"""The document model: incremental edits in every position encoding stay equal to a full parse."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from exhort.document import Document, TextChange
from exhort.text import LineIndex, byte_column_to_units, units_to_byte_column

ALPHABET = ["a", "x", " ", "\n", "\r\n", "\r", "\x0c", "\u2028", "é", "日", "😀", "(", ")", "do", "end",
            "def f(x)", '"', "#", ":ok", "|>", "length(x) > 0", "defmodule M do\n"]
SEED = 'defmodule M do\n  @doc "é 日 😀"\n  def f(x), do: length(x) > 0\r\n  # a\x0cb\u2028c\nend\n'


def reference_units(text: str, encoding: str) -> list[list[int]]:
    """Unit offsets of every character boundary on every line, computed independently."""
    lines, current = [], [""]
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\r" and text[index + 1 : index + 2] == "\n":
            lines.append(current[0]); current = [""]; index += 2; continue
        if char in "\r\n":
            lines.append(current[0]); current = [""]; index += 1; continue
        current[0] += char
        index += 1
    lines.append(current[0])
    return lines


def to_units(line: str, characters: int, encoding: str) -> int:
    prefix = line[:characters]
    if encoding == "utf-8":
        return len(prefix.encode())
    if encoding == "utf-16":
        return len(prefix.encode("utf-16-le")) // 2
    return len(prefix)


@st.composite
def edit_sequences(draw):
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "utf-32"]))
    count = draw(st.integers(1, 12))
    seeds = draw(st.lists(st.integers(0, 2**31), min_size=count, max_size=count))
    inserts = draw(st.lists(st.lists(st.sampled_from(ALPHABET), max_size=4), min_size=count, max_size=count))
    return encoding, list(zip(seeds, inserts))


@settings(max_examples=150, deadline=None)
@given(edit_sequences())
def test_incremental_edits_match_a_full_parse(case):
    encoding, edits = case
    document = Document("lib/m.ex", SEED)
    expected = SEED
    for seed, pieces in edits:
        rng = random.Random(seed)
        lines = reference_units(expected, encoding)
        l0 = rng.randrange(len(lines))
        l1 = rng.randrange(l0, len(lines))
        c0 = rng.randrange(len(lines[l0]) + 1)
        c1 = rng.randrange(len(lines[l1]) + 1) if l1 != l0 else rng.randrange(c0, len(lines[l1]) + 1)
        new_text = "".join(pieces)
        document.apply_range_edit(l0, to_units(lines[l0], c0, encoding), l1, to_units(lines[l1], c1, encoding),
                                  new_text, encoding)
        expected = splice(expected, l0, c0, l1, c1, new_text)
        assert document.text == expected
        fresh = Document("lib/m.ex", expected)
        assert str(document.tree.root_node) == str(fresh.tree.root_node)
        assert document.lines.starts == fresh.lines.starts


def splice(text: str, l0: int, c0: int, l1: int, c1: int, new_text: str) -> str:
    """Character-level splice by (line, character) with LSP line breaks."""
    offsets = [0]
    index = 0
    while index < len(text):
        if text[index] == "\r" and text[index + 1 : index + 2] == "\n":
            index += 2; offsets.append(index); continue
        if text[index] in "\r\n":
            index += 1; offsets.append(index); continue
        index += 1
    start = offsets[l0] + c0
    end = offsets[l1] + c1
    return text[:start] + new_text + text[end:]


def test_columns_in_each_encoding():
    line = 'x = "héllo 😀 wörld 日本"'.encode()
    emoji = line.index("😀".encode())
    assert byte_column_to_units(line, emoji, "utf-8") == 12
    assert byte_column_to_units(line, emoji, "utf-16") == 11
    assert byte_column_to_units(line, emoji + 4, "utf-16") == 13
    assert byte_column_to_units(line, emoji + 4, "utf-32") == 12
    assert units_to_byte_column(line, 12, "utf-16") == emoji  # inside the surrogate pair: round down
    assert units_to_byte_column(line, 999, "utf-32") == len(line)
    assert units_to_byte_column(line, 7, "utf-8") == 6  # never inside a multi-byte character


def test_line_breaks_are_lsp_line_breaks():
    index = LineIndex("a\x0cb\u2028c\r\nd\re\nf".encode())
    assert index.line_count == 4
    assert index.line_bytes(0) == "a\x0cb\u2028c".encode()
    assert index.position_at(index.starts[1] - 1) == (0, len("a\x0cb\u2028c".encode()))  # inside \r\n


def test_out_of_range_edits_are_clamped():
    document = Document("lib/m.ex", "a\nb\n")
    assert document.apply_range_edit(9, 0, 12, 3, "z", "utf-16") is False
    assert document.text == "a\nb\nz"
    document.apply_range_edit(0, 99, 0, 120, "!", "utf-16")
    assert document.text == "a!\nb\nz"


def test_crlf_joined_by_an_edit():
    document = Document("lib/m.ex", "a\r\nb\r\n")
    document.apply_range_edit(0, 1, 1, 0, "\r", "utf-16")  # leaves a lone "\r" then "b"
    assert document.text == "a\rb\r\n"
    assert document.lines.line_count == 3
    assert str(document.tree.root_node) == str(Document("lib/m.ex", document.text).tree.root_node)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**31), st.sampled_from(["", "x", "\n", "ab\ncd", "\r", "\r\n", "\n\n\n", "é"]),
                          st.integers(0, 40)), min_size=1, max_size=25))
def test_line_index_after_edits_anywhere(edits):
    """Edits near and far from each other (the pending shift of line starts is carried, applied
    to the kept lines, or taken back from the lines it had not reached): every lookup agrees
    with an index built from scratch."""
    document = Document("notes.txt", "one\ntwo\r\nthree\rfour\n" * 8, language="text")
    for seed, text, length in edits:
        rng = random.Random(seed)
        start = rng.randrange(len(document.data) + 1)
        document.apply(TextChange(start, min(len(document.data), start + length), text.encode()))
        fresh = LineIndex(document.data)
        assert document.lines.starts == fresh.starts
        assert [document.lines.start(line) for line in range(fresh.line_count)] == fresh.starts
        for offset in range(0, len(document.data) + 1, 3):
            assert document.lines.line_of(offset) == fresh.line_of(offset)
            assert document.lines.position_at(offset, "utf-16") == fresh.position_at(offset, "utf-16")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**31), st.sampled_from(["", "x", "exh", "ort:", "exhort:", ":", "e"]),
                          st.integers(0, 9), st.booleans()), min_size=1, max_size=30))
def test_contains_follows_edits(edits):
    """An absence is remembered across edits; the pieces of the needle typed one by one, or
    joined by deleting what stood between them, are seen."""
    document = Document("lib/m.ex", "# exh ort:\n", language="text")
    for seed, text, length, ask in edits:
        rng = random.Random(seed)
        start = rng.randrange(len(document.data) + 1)
        document.apply(TextChange(start, min(len(document.data), start + length), text.encode()))
        if ask:
            assert document.contains(b"exhort:") == (b"exhort:" in document.data)
    assert document.contains(b"exhort:") == (b"exhort:" in document.data)
