"""tree-sitter-elixir: the language object, parsers and query compilation."""

from __future__ import annotations

import re
from functools import lru_cache

import tree_sitter as ts
import tree_sitter_elixir

ELIXIR = ts.Language(tree_sitter_elixir.language())

# Predicates the tree-sitter binding evaluates itself. Any other predicate would be silently
# treated as true, so queries using one are rejected when they are compiled.
KNOWN_PREDICATES = frozenset(
    {
        "eq?", "not-eq?", "any-eq?", "any-not-eq?",
        "match?", "not-match?", "any-match?", "any-not-match?",
        "any-of?", "not-any-of?",
        "set!", "is?", "is-not?",
    }
)
_PREDICATE = re.compile(r"\(#([A-Za-z0-9_?!-]+)")
_STRING_OR_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|;[^\n]*')


class QueryCompileError(ValueError):
    pass


def new_elixir_parser() -> ts.Parser:
    return ts.Parser(ELIXIR)


def unknown_predicates(source: str) -> set[str]:
    bare = _STRING_OR_COMMENT.sub('""', source)
    return {name for name in _PREDICATE.findall(bare) if name not in KNOWN_PREDICATES}


def compile_query(source: str, language: ts.Language = ELIXIR) -> ts.Query:
    unknown = unknown_predicates(source)
    if unknown:
        raise QueryCompileError(f"unsupported query predicates: {', '.join(sorted(unknown))}")
    try:
        return ts.Query(language, source)
    except ts.QueryError as error:
        raise QueryCompileError(str(error)) from error


@lru_cache(maxsize=64)
def cached_query(source: str) -> ts.Query:
    """Compile a query once per process (compiling costs ~5-10 ms per pattern)."""
    return compile_query(source)


_DECLARED: list[str] = []


def declared_query(source: str) -> str:
    """`source`, noted as a query that checks or index extractors run through `cached_query`,
    so that `compile_declared_queries` can compile it ahead of need. Returns `source`."""
    if source not in _DECLARED:
        _DECLARED.append(source)
    return source


def compile_declared_queries() -> None:
    """Compile every declared query now: `exhort check` does it before forking its workers,
    which then inherit them instead of each compiling them again on first use."""
    for source in _DECLARED:
        cached_query(source)
