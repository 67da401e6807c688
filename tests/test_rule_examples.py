"""One test per example declared by a rule under rules/: bad ones must be flagged on exactly
the marked lines (and fixed into the declared text), good ones must stay silent."""

from __future__ import annotations

import re

import pytest

from exhort.config import Config
from exhort.document import Document
from exhort.engine import Engine
from exhort.findings import apply_edits
from exhort.registry import default_registry
from exhort.rule import Example, Rule
from exhort.workspace import WorkspaceIndex

MARKER = re.compile(r"(?:#|<%!--)\s*expect:\s*([A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")
EXAMPLE_ROOT = "/workspace/app"


def _cases():
    for rule in default_registry().rules:
        for number, example in enumerate(rule.examples, start=1):
            kind = "bad" if example.bad else "good"
            yield pytest.param(rule, example, id=f"{rule.code}-{kind}{number}")


def expected_lines(example: Example, code: str) -> list[int]:
    lines = []
    for number, line in enumerate(example.code.splitlines(), start=1):
        for match in MARKER.finditer(line):
            if code in [c.strip() for c in match.group(1).split(",")]:
                lines.append(number)
    return lines


def run_example(rule: Rule, example: Example):
    # The rule itself, plus rules the snippet names (suppression examples need them running).
    mentioned = set(re.findall(r"\b[A-Z]{2,3}[0-9]{3}\b", example.code)) & set(default_registry().by_code)
    engine = Engine(Config(select=(rule.code, *sorted(mentioned))))
    index = WorkspaceIndex(root_finder=lambda _path: EXAMPLE_ROOT)
    documents = {}
    for path, source in {**example.files, example.path: example.code}.items():
        documents[path] = Document(f"{EXAMPLE_ROOT}/{path}", source)
        if path.endswith("mix.lock"):
            index.set_lockfile(f"{EXAMPLE_ROOT}/{path}", source.encode())
        else:
            index.update(documents[path])
    document = documents[example.path]
    result = engine.check(document, index, report_unused_suppressions=True, report_syntax_errors=True)
    assert not result.failures, result.failures[0].error
    return document, [f for f in result.findings if f.code == rule.code]


@pytest.mark.parametrize(("rule", "example"), list(_cases()))
def test_example(rule: Rule, example: Example):
    document, findings = run_example(rule, example)
    found_lines = sorted(document.lines.line_of(f.start) + 1 for f in findings)
    if not example.bad:
        assert found_lines == [], f"{rule.code} fired on a good example ({example.note}): " + "; ".join(
            f.message for f in findings
        )
        return
    expected = expected_lines(example, rule.code)
    assert expected, "a bad example must mark its flagged lines with `# expect: CODE`"
    assert found_lines == sorted(expected), [f.message for f in findings]
    if example.fixed is not None or example.fixed_files:
        edits = [edit for f in findings if f.fixes for edit in f.fixes[0].edits]
        assert edits, "the example declares a fixed text but the findings carry no fix"
        expected = example.fixed if example.fixed is not None else example.code
        assert apply_edits(document.data, edits).decode() == expected
        check_other_files(example, edits)


def check_other_files(example: Example, edits) -> None:
    """A fix's edits of other files land in exactly the files `fixed_files` names, as declared."""
    edited = {edit.path for edit in edits if edit.path is not None}
    declared = {f"{EXAMPLE_ROOT}/{path}": path for path in example.fixed_files}
    assert edited == set(declared), f"the fix edits {sorted(edited)}, the example declares {sorted(declared)}"
    for absolute, relative in declared.items():
        before = example.files[relative].encode()
        after = apply_edits(before, edits, path=absolute).decode()
        assert after == example.fixed_files[relative], relative


def test_every_rule_is_documented_and_exemplified():
    for rule in default_registry().rules:
        assert rule.explanation_markdown.startswith(f"## {rule.code} {rule.name}"), rule.code
        assert any(e.bad for e in rule.examples), f"{rule.code} has no bad example"
        assert any(not e.bad for e in rule.examples), f"{rule.code} has no good example"
        assert rule.fix_safety in ("safe", "offer", "safe/offer", "none"), rule.code
