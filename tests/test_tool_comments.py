"""Sobelow and Credo suppression comments (exhort.tool_comments) that mirroring rules honour."""

from __future__ import annotations

import textwrap

import pytest

from exhort.document import Document
from exhort.tool_comments import credo_disabled, sobelow_skipped
from exhort.syntax import call_name, walk

IO_INSPECT = ("Credo.Check.Warning.IoInspect",)


def target(source: str):
    document = Document("lib/app/thing.ex", textwrap.dedent(source).lstrip("\n"))
    for node in walk(document.tree.root_node):
        if node.type == "call" and call_name(node)[1] == "target":
            return document.data, node
    raise AssertionError("no target(...) call")


@pytest.mark.parametrize(
    ("comment", "skipped"),
    [
        ('# sobelow_skip ["DOS.StringToAtom"]', True),
        ('# sobelow_skip ["DOS"]', True),
        ('# sobelow_skip ["SQL.Query", "DOS.StringToAtom"]', True),
        ('# sobelow_skip ["SQL.Query"]', False),
        ("# an ordinary comment", False),
    ],
)
def test_sobelow_skip_above_the_function(comment, skipped):
    data, node = target(f"defmodule A do\n  {comment}\n  @spec f(term) :: atom\n  defp f(x), do: target(x)\nend\n")
    assert sobelow_skipped(data, node, ("DOS.StringToAtom",)) is skipped


def test_sobelow_skip_covers_only_the_function_below_it():
    source = 'defmodule A do\n  # sobelow_skip ["DOS.StringToAtom"]\n  def g(x), do: x\n\n  def f(x), do: target(x)\nend\n'
    data, node = target(source)
    assert not sobelow_skipped(data, node, ("DOS.StringToAtom",))


@pytest.mark.parametrize(
    ("source", "disabled"),
    [
        ("# credo:disable-for-next-line\ntarget(x)", True),
        ("# credo:disable-for-next-line Credo.Check.Warning.IoInspect\ntarget(x)", True),
        ("# credo:disable-for-next-line Credo.Check.Readability.Specs\ntarget(x)", False),
        ("# credo:disable-for-next-line\nother()\ntarget(x)", False),
        ("target(x)\n# credo:disable-for-previous-line", True),
        ("# credo:disable-for-lines:3\na()\nb()\ntarget(x)", True),
        ("# credo:disable-for-lines:1\na()\ntarget(x)", False),
        ("# credo:disable-for-this-file\n\n\ntarget(x)", True),
        ("target(x)", False),
    ],
)
def test_credo_disable_comments(source, disabled):
    data, node = target(source)
    assert credo_disabled(data, node, IO_INSPECT) is disabled
