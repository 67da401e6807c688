"""Query fragments shared by the packs (not a pack: no rules here).

Narrow patterns keep the engine's one combined query cheap: every match costs a Python call,
so a rule about a few callbacks anchors on their names instead of on every `def`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import tree_sitter as ts

from exhort.parsing import cached_query


def _quoted(names: Iterable[str]) -> str:
    return " ".join(f'"{name}"' for name in names)


def def_query(kinds: Iterable[str], names: Iterable[str], capture: str = "def") -> str:
    """A pattern matching `def name(...)`, `def name(...) when ...`, `def name` and
    `def name when ...` (kinds: def, defp, ...) for the given names, captured as @capture.

    The head is the definition's first argument, as exhort.syntax.function_def reads it."""
    return f"""
    ((call target: (identifier) @_def_kind
       (arguments [(call target: (identifier) @_def_name)
                   (identifier) @_def_name
                   (binary_operator left: (call target: (identifier) @_def_name) operator: "when")
                   (binary_operator left: (identifier) @_def_name operator: "when")])) @{capture}
      (#any-of? @_def_kind {_quoted(kinds)}) (#any-of? @_def_name {_quoted(names)}))
    """


def sub_matches(node: ts.Node, source: str) -> Iterator[tuple[int, dict[str, list[ts.Node]]]]:
    """Matches of `source` (compiled once) inside `node` only."""
    return iter(ts.QueryCursor(cached_query(source)).matches(node))
