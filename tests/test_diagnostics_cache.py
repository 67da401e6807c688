"""The language server's reuse of converted diagnostics across edits must never change what
is published: after any edit, the cached conversion equals a fresh one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from exhort.document import Document
from exhort.findings import Finding, Related, Severity
from exhort.lsp import convert

PIECES = ["a", " ", "\n", "\r\n", "\r", "é", "日", "😀", "x = 1", "def f(x)"]
TEXT = 'defmodule M do\n  @doc "é 日 😀"\r\n  def f(x), do: length(x) > 0\n\n  def g, do: :ok\nend\n'


def findings_at(data: bytes, spans: list[tuple[int, int]]) -> list[Finding]:
    found = []
    for number, (a, b) in enumerate(sorted(spans)):
        start, end = sorted((min(a, len(data)), min(b, len(data))))
        related = (Related(start, start, "here"),) if number % 5 == 4 else ()
        found.append(Finding("PRF001", Severity.HINT, start, end, f"finding {number}", related))
    return found


def moved(findings: list[Finding], start: int, old_end: int, new_end: int) -> list[Finding]:
    """What the engine reports after an edit: findings away from it, moved with the text."""
    out = []
    for finding in findings:
        if finding.end < start:
            out.append(finding)
        elif finding.start >= old_end:
            out.append(finding.shifted(new_end - old_end))
    return out


def fresh(findings: list[Finding], document: Document, encoding: str) -> list[dict]:
    return [convert.diagnostic(f, document, encoding, "file:///m.ex", lambda _p: None) for f in findings]


@settings(max_examples=300, deadline=None)
@given(
    spans=st.lists(st.tuples(st.integers(0, 90), st.integers(0, 90)), max_size=12),
    edits=st.lists(
        st.tuples(st.integers(0, 90), st.integers(0, 6), st.lists(st.sampled_from(PIECES), max_size=3)),
        min_size=1, max_size=4,
    ),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]),
    checks_between=st.booleans(),
)
def test_cached_conversion_equals_a_fresh_one(spans, edits, encoding, checks_between):
    document = Document("/p/lib/m.ex", TEXT)
    cache = convert.DiagnosticsCache()
    findings = findings_at(document.data, spans)
    assert [e[0] for e in cache.convert(findings, document, encoding, "file:///m.ex", lambda _p: None)] == fresh(
        findings, document, encoding
    )
    for position, length, pieces in edits:
        start = min(position, len(document.data))
        end = min(start + length, len(document.data))
        text = "".join(pieces)
        lines_before = document.lines.line_count
        line, column = document.lines.position_at(start, encoding)
        end_line, end_column = document.lines.position_at(end, encoding)
        start, end = document.lines.offset_at(line, column, encoding), document.lines.offset_at(end_line, end_column, encoding)
        start, end = min(start, end), max(start, end)  # as the server orders them (an offset inside a character can reverse them)
        document.apply_range_edit(line, column, end_line, end_column, text, encoding)
        new_end = start + len(text.encode())
        cache.edited(start, end, new_end, document.lines.line_count - lines_before)
        findings = moved(findings, start, end, new_end)
        if checks_between:
            entries = cache.convert(findings, document, encoding, "file:///m.ex", lambda _p: None)
            assert [e[0] for e in entries] == fresh(findings, document, encoding)
    entries = cache.convert(findings, document, encoding, "file:///m.ex", lambda _p: None)
    expected = fresh(findings, document, encoding)
    assert [e[0] for e in entries] == expected
    assert [convert.json.loads(e[1]) for e in entries] == expected
