"""Fix edits in another file (Edit.path): never shifted, never applied to the finding's own
document, cached like any finding, and turned into a WorkspaceEdit for that file's URI."""

from __future__ import annotations

from exhort.config import Config
from exhort.document import Document
from exhort.engine import DocumentState, Engine
from exhort.findings import Edit, Finding, Fix, Severity, apply_edits
from exhort.lsp import convert
from exhort.lsp.checks import moved_through
from exhort.registry import Registry
from exhort.rule import Rule, bad, fix, good

CONFIG = "/p/config/config.exs"


def finding(*fixes: Fix) -> Finding:
    return Finding("TST002", Severity.WARNING, 10, 20, "m", fixes=fixes)


def test_an_edit_of_another_file_is_never_shifted_nor_an_offset_of_the_document():
    other = Edit(500, 500, ", x: 10", path=CONFIG)
    own = Edit(12, 14, "y")
    moved = finding(Fix("t", (own, other), safe=False)).shifted(7)
    assert moved.fixes[0].edits == (Edit(19, 21, "y"), other)
    assert finding(Fix("t", (own, other), safe=False)).offsets() == [10, 20, 12, 14]


def test_apply_edits_keeps_each_edit_to_its_own_file():
    data = b"0123456789"
    edits = [Edit(1, 2, "a"), Edit(3, 4, "b", path=CONFIG), Edit(5, 6, "c", path="/p/other.exs")]
    assert apply_edits(data, edits) == b"0a23456789"
    assert apply_edits(data, edits, path=CONFIG) == b"012b456789"


def test_a_fix_that_edits_another_file_is_never_the_safe_fix():
    cross = Fix("cross", (Edit(1, 1, "x", path=CONFIG),), safe=True)
    local = Fix("local", (Edit(1, 2, "y"),), safe=True)
    assert finding(cross).safe_fix is None
    assert finding(cross, local).safe_fix is local
    assert convert.non_overlapping_safe_edits([finding(cross)]) == []


def test_keystroke_mapping_ignores_the_other_file_offsets():
    # Typing at 100 (after the finding) must keep it where it is; the config offset 500 is not
    # in this document, so it must not make the finding look as if it straddled the edit.
    item = finding(Fix("t", (Edit(500, 500, "x", path=CONFIG),), safe=False))
    assert moved_through([item], [(100, 100, 101)]) == [item]
    assert moved_through([item], [(0, 0, 3)])[0].fixes[0].edits[0].start == 500


def cross_file_rule(calls: list) -> Rule:
    rule = Rule(
        code="TST002", name="cross", category="test", severity=Severity.WARNING, summary="cross-file fix",
        explanation="## TST002 cross\n", query="((call) @call)", examples=[bad("x()  # expect: TST002"), good("1")],
    )
    rule.pack = "test"

    @rule.check
    def check(ctx, match):
        calls.append(1)
        yield ctx.finding(match.node("call"), "m", fixes=[fix("t", Edit(5000, 5000, "x", path=CONFIG), safe=False)])

    return rule


def test_engine_caches_a_finding_whose_fix_edits_another_file():
    calls: list = []
    engine = Engine(Config(select=("TST002",)), Registry([cross_file_rule(calls)]))
    state = DocumentState()
    document = Document("/p/lib/a.ex", "defmodule A do\n  def f, do: g()\nend\n")
    first = engine.check(document, state=state).findings
    ran = len(calls)
    document.apply_range_edit(0, 0, 0, 0, "# moved\n", "utf-16")
    second = engine.check(document, state=state).findings
    assert len(calls) == ran  # the form's results were reused, not recomputed
    assert [f.start - 8 for f in second] == [f.start for f in first]
    assert {e for f in second for e in f.fixes[0].edits} == {Edit(5000, 5000, "x", path=CONFIG)}


def test_workspace_edit_uses_the_other_file_text_and_uri():
    own = Document("/p/lib/a.ex", "defmodule A do\nend\n")
    config = Document(CONFIG, "import Config\nconfig :a, Oban, x: \"😀\", queues: [default: 10]\n", language="text")
    at = config.data.index(b"]")
    edits = [Edit(0, 0, "# a\n"), Edit(at, at, ", r: 10", path=CONFIG)]
    uri = convert.path_to_uri(own.path)
    result = convert.workspace_edit(own, uri, edits, "utf-16", {CONFIG: config}.get)
    line = config.text.splitlines()[1]
    column = len(line[: line.index("]")].encode("utf-16-le")) // 2
    assert result == {
        "changes": {
            uri: [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "newText": "# a\n"}],
            convert.path_to_uri(CONFIG): [
                {"range": {"start": {"line": 1, "character": column}, "end": {"line": 1, "character": column}},
                 "newText": ", r: 10"}
            ],
        }
    }
    assert convert.workspace_edit(own, uri, edits, "utf-16", lambda _path: None) is None  # unreadable: no fix
