"""The server's document store: random incremental edits must give the same bytes, line
table and syntax tree as parsing the final text from scratch, in every position encoding."""

from __future__ import annotations

import random

import pytest

from exhort.document import Document
from exhort.text import LineIndex

PIECES = ["a", "é", "日", "😀", "\n", "\r\n", "\r", " ", "do", "end", "\x0c", "\u2028", "def f(x)", '"s"', "#"]
START = 'defmodule A do\r\n  def f(x), do: "é日😀"\n\x0c\n  # c\u2028d\rend\n'


def _random_edit(rng: random.Random, document: Document, encoding: str):
    lines = document.lines
    line0 = rng.randrange(lines.line_count)
    line1 = min(lines.line_count - 1, line0 + rng.choice([0, 0, 1, 2]))
    width0 = len(lines.line_bytes(line0)) + 2
    width1 = len(lines.line_bytes(line1)) + 2
    column0 = rng.randrange(width0)
    column1 = rng.randrange(width1) if line1 != line0 else rng.randrange(column0, width0 + 1)
    text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 4)))
    return line0, column0, line1, column1, text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_random_edits_match_a_fresh_parse(encoding):
    rng = random.Random(f"exhort-{encoding}")
    document = Document("/p/lib/a.ex", START)
    for _ in range(400):
        line0, column0, line1, column1, text = _random_edit(rng, document, encoding)
        start = document.offset(line0, column0, encoding)
        end = document.offset(line1, column1, encoding)
        start, end = min(start, end), max(start, end)
        expected = document.data[:start] + text.encode() + document.data[end:]
        document.apply_range_edit(line0, column0, line1, column1, text, encoding)
        assert document.data == expected
        assert document.lines.starts == LineIndex(expected).starts
        fresh = Document("/p/lib/a.ex", expected)
        assert str(document.tree.root_node) == str(fresh.tree.root_node)
