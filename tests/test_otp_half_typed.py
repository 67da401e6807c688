"""Half-typed files: a syntax error elsewhere in the module must not hide the OTP findings the
catalog specifies (issue 14, item 4). Every bad example of the rules below is checked again
with code being typed inserted into it, in the shapes an editor sees most: an unfinished
binding or pipe that takes the next `end` as its operand (so the definitions after it parse
as its body), and a new function whose `end` is not typed yet (it takes the module's)."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from exhort.document import Document
from exhort.registry import default_registry
from exhort.syntax import function_def, module_members, unfinished_definitions
from test_rule_examples import expected_lines, run_example

CODES = ("OTP004", "OTP005", "OTP010", "OTP013", "OTP014")

# name -> (lines inserted, where: before the module's first `def` or before its last `end`)
BREAKAGES = {
    "unfinished binding before the definitions": ("  def typing(x) do\n    y =\n  end\n", "first def"),
    "unfinished pipe after the definitions": ("  def typing(x) do\n    x |>\n  end\n", "last end"),
    "function without its end yet": ("  def typing(x) do\n    x\n", "last end"),
}


def _cases():
    registry = default_registry()
    for code in CODES:
        rule = registry.by_code[code]
        for number, example in enumerate(rule.examples, start=1):
            if not example.bad or "half-typed" in example.note:
                continue
            lines = example.code.splitlines(keepends=True)
            if not any(line.startswith("  def") for line in lines):
                continue  # nothing but `use` lines: no place to type a function in
            for name in BREAKAGES:
                yield pytest.param(rule, example, name, id=f"{code}-bad{number}-{name.replace(' ', '-')}")


def _break(code: str, breakage: str) -> tuple[str, int, int]:
    """The code with the breakage inserted: (text, line number it starts at, lines added)."""
    inserted, where = BREAKAGES[breakage]
    lines = code.splitlines(keepends=True)
    if where == "first def":
        index = next(i for i, line in enumerate(lines) if line.startswith("  def"))
    else:
        index = max(i for i, line in enumerate(lines) if line.rstrip() == "end")
    return "".join(lines[:index]) + inserted + "".join(lines[index:]), index + 1, inserted.count("\n")


@pytest.mark.parametrize(("rule", "example", "breakage"), list(_cases()))
def test_findings_survive_a_half_typed_module(rule, example, breakage):
    broken, at, added = _break(example.code, breakage)
    document, findings = run_example(rule, dataclasses.replace(example, code=broken, fixed=None, fixed_files={}))
    expected = sorted(line + added if line >= at else line for line in expected_lines(example, rule.code))
    found = sorted(document.lines.line_of(f.start) + 1 for f in findings)
    assert found == expected, f"{rule.code} on:\n{broken}"


def test_definitions_an_unfinished_one_swallowed_are_members_again():
    source = textwrap.dedent(
        """
        defmodule MyApp.Server do
          use GenServer

          def typing(x) do
            y =
          end

          @impl true
          def init(arg), do: {:ok, arg}

          def handle_info(:tick, state), do: {:noreply, state}
        end
        """
    ).lstrip("\n")
    module = Document("/app/lib/my_app/server.ex", source).tree.root_node.named_children[0]
    names = [fdef.name for fdef in (function_def(member) for member in module_members(module)) if fdef is not None]
    assert names == ["init", "handle_info"]  # the unfinished `typing` is dropped: unknown
    assert [function_def(node).name for node in unfinished_definitions(module)] == ["typing"]


def test_a_swallowed_local_definition_still_shadows_the_import():
    source = textwrap.dedent(
        """
        defmodule MyApp.Pool do
          use Supervisor

          def typing(x) do
            x |>
          end

          def init(_), do: Supervisor.init([worker(:a, 1)], strategy: :one_for_one)

          defp worker(name, n), do: %{id: name, start: {MyApp.W, :start_link, [n]}}
        end
        """
    ).lstrip("\n")
    rule = default_registry().by_code["OTP005"]
    example = dataclasses.replace(rule.examples[0], code=source, fixed=None, bad=False)
    _document, findings = run_example(rule, example)
    assert findings == []
