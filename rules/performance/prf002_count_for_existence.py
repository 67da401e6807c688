"""PRF002 count-for-existence."""

import re

from exhort.execution import Runs
from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import atom_value, call_name, effective_arguments, integer_value, text

from exhort_rules.ecto._common import repo_name

# (operator with the count on the left, constant) -> True when it asks "exists?"
EXISTS = {(">", 0): True, ("!=", 0): True, ("!==", 0): True, (">=", 1): True,
          ("==", 0): False, ("===", 0): False, ("<", 1): False, ("<=", 0): False}
MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!=", "===": "===", "!==": "!=="}
CHANGES_COUNT = re.compile(r"\b(group_by|having|limit|offset|distinct|windows|union|union_all|except|intersect)\b")
LOOSE_PARENTS = {"and", "or", "&&", "||", "when", "=", "->", "not", "!"}

RULE = Rule(
    code="PRF002",
    name="count-for-existence",
    category="performance",
    severity=Severity.HINT,
    runs_in=frozenset({Runs.PRODUCTION}),  # not tests, migrations, console or Mix tasks
    summary="Counting or loading rows only to test whether any exist; use Repo.exists?/2",
    fix_safety="safe/offer",
    workspace=True,
    # One side a call (or a pipe into a call) named all/length/aggregate, the other an integer
    # or a list (`[]`); _repo_all, _counted and EXISTS decide the rest.
    query=r"""
    ((binary_operator
       left: COUNTED
       operator: _ @operator
       right: [(integer) (unary_operator) (list)]) @comparison
      (#any-of? @operator "==" "!=" "===" "!==" ">" "<" ">=" "<=") (#any-of? @_fn "all" "length" "aggregate"))
    ((binary_operator
       left: [(integer) (unary_operator) (list)]
       operator: _ @operator
       right: COUNTED) @comparison
      (#any-of? @operator "==" "!=" "===" "!==" ">" "<" ">=" "<=") (#any-of? @_fn "all" "length" "aggregate"))
    ((call target: (dot left: (alias) @module right: (identifier) @function)) @call
      (#eq? @module "Enum") (#eq? @function "empty?"))
    """.replace("COUNTED", r"""[(call target: [(identifier) @_fn (dot right: (identifier) @_fn)])
               (binary_operator operator: "|>" right: (call target: [(identifier) @_fn (dot right: (identifier) @_fn)]))]"""),
    explanation="""
        ## PRF002 count-for-existence

        `Repo.aggregate(q, :count)` counts every matching row and `Repo.all(q)` loads them all;
        comparing the result with 0 or `[]` only asks whether one exists. `Repo.exists?/2`
        "Checks if there exists an entry that matches the given queryable"
        (`ecto:lib/ecto/repo.ex:1204-1241@v3.14.2`) and stops at the first row.

        Flagged: `Repo.aggregate(q, :count)` compared with `0` (`>`, `==`, `!=`) or `1` (`>=`,
        `<`), `length(Repo.all(q))` compared the same way, `Repo.all(q) != []` / `== []`, and
        `Enum.empty?(Repo.all(q))`.

        **Bad**

        ```elixir
        Repo.aggregate(q, :count) > 0
        ```

        **Good**

        ```elixir
        Repo.exists?(q)
        ```

        **Fix**: → `Repo.exists?(q)` (negated for "none"). Safe for `:count` without a field on
        a schema or a query written in place without `group_by`, `having`, `limit`, `offset` or
        `distinct`. Otherwise offered: `count(field)` skips NULLs, and those clauses change
        what is counted.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Posts do
              alias MyApp.Repo

              def any_drafts?, do: Repo.aggregate(Post, :count) > 0  # expect: PRF002
              def no_posts?(user), do: Repo.aggregate(from(p in Post, where: p.user_id == ^user.id), :count) == 0  # expect: PRF002
              def any?(query), do: length(Repo.all(query)) > 0  # expect: PRF002
              def empty?, do: Enum.empty?(Repo.all(Post))  # expect: PRF002
              def some?, do: Repo.all(Post) != []  # expect: PRF002
              def piped?, do: Post |> where(state: "live") |> Repo.aggregate(:count) > 0  # expect: PRF002
            end
            """,
            fixed="""
            defmodule MyApp.Posts do
              alias MyApp.Repo

              def any_drafts?, do: Repo.exists?(Post)  # expect: PRF002
              def no_posts?(user), do: not Repo.exists?(from(p in Post, where: p.user_id == ^user.id))  # expect: PRF002
              def any?(query), do: Repo.exists?(query)  # expect: PRF002
              def empty?, do: not Repo.exists?(Post)  # expect: PRF002
              def some?, do: Repo.exists?(Post)  # expect: PRF002
              def piped?, do: Repo.exists?(Post |> where(state: "live"))  # expect: PRF002
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Posts do
              def any?(q), do: MyApp.Repo.aggregate(q, :count, :title) >= 1  # expect: PRF002
              def grouped?, do: 0 < MyApp.Repo.aggregate(from(p in Post, group_by: p.user_id), :count)  # expect: PRF002
            end
            """,
            note="a field and a group_by make the fix an offer only",
        ),
        good(
            """
            defmodule MyApp.Posts do
              alias MyApp.Repo
              def many?, do: Repo.aggregate(Post, :count) > 10
              def total, do: Repo.aggregate(Post, :sum, :views) > 0
              def exists?, do: Repo.exists?(Post)
              def list_empty?(posts), do: Enum.empty?(posts)
              def other, do: MyApp.Stats.aggregate(Post, :count) > 0
            end
            """,
            note="other thresholds, other aggregates, non-Repo modules",
        ),
        good(
            """
            defmodule MyApp.PostsTest do
              use MyApp.DataCase
              test "purges", do: assert(Repo.all(Post) == [])
            end
            """,
            path="test/my_app/posts_test.exs",
            note="tests assert on whole results (catalog 0.4.4: production code only)",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    if not ctx.path.is_production_code:
        return  # tests, scripts and migrations: catalog 0.4.4
    module = ctx.module_of(match.get("comparison") or match.node("call"))
    comparison = match.get("comparison")
    if comparison is None:
        call = match.node("call")
        arguments = effective_arguments(call)
        if len(arguments) != 1:
            return
        loaded = _repo_all(ctx, module, arguments[0])
        if loaded is None:
            return
        yield _finding(ctx, call, loaded[0], loaded[1], None, exists=False, how="Enum.empty?(Repo.all(q))")
        return
    operator = text(match.node("operator"))
    left, right = comparison.child_by_field_name("left"), comparison.child_by_field_name("right")
    if left is None or right is None:
        return
    for subject, other, op in ((left, right, operator), (right, left, MIRROR[operator])):
        if other.type == "list" and not other.named_children and op in ("==", "!=", "===", "!=="):
            loaded = _repo_all(ctx, module, subject)
            if loaded is not None:
                yield _finding(ctx, comparison, loaded[0], loaded[1], None, exists=op in ("!=", "!=="),
                               how="comparing Repo.all(q) with []")
                return
        constant = integer_value(other)
        exists = EXISTS.get((op, constant)) if constant is not None else None
        if exists is None:
            continue
        counted = _counted(ctx, module, subject)
        if counted is not None:
            repo, query, field, how = counted
            yield _finding(ctx, comparison, repo, query, field, exists=exists, how=how)
            return


def _unpipe(node):
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "|>":
        return node.child_by_field_name("right")
    return node


def _counted(ctx, module, node):
    """(repo text, query node, field or None, description) for a count of rows."""
    node = _unpipe(node)
    if node is None or node.type != "call":
        return None
    mod, fun = call_name(node)
    arguments = effective_arguments(node)
    if mod is None and fun == "length" and len(arguments) == 1:
        loaded = _repo_all(ctx, module, arguments[0])
        if loaded is not None:
            return loaded[0], loaded[1], None, "length(Repo.all(q))"
        return None
    if fun != "aggregate" or repo_name(ctx, module, mod) is None or len(arguments) < 2:
        return None
    if atom_value(arguments[1]) != "count" or arguments[1].type != "atom":
        return None
    field = None
    if len(arguments) >= 3 and arguments[2].type == "atom":
        field = arguments[2]
    elif len(arguments) >= 3 and arguments[2].type != "keywords":
        return None
    return mod, arguments[0], field, "Repo.aggregate(q, :count)"


def _repo_all(ctx, module, node):
    node = _unpipe(node)
    if node is None or node.type != "call":
        return None
    mod, fun = call_name(node)
    arguments = effective_arguments(node)
    if fun != "all" or repo_name(ctx, module, mod) is None or len(arguments) != 1:
        return None
    return mod, arguments[0]


def _finding(ctx, node, repo, query, field, *, exists: bool, how: str):
    replacement = f"{repo}.exists?({text(query)})"
    if not exists:
        replacement = "not " + replacement
        parent = node.parent
        if parent is not None and parent.type in ("binary_operator", "unary_operator"):
            if text(parent.child_by_field_name("operator")) not in LOOSE_PARENTS:
                replacement = f"({replacement})"
    safe = field is None and _plain_query(query)
    return ctx.finding(
        node,
        f"{how} {'counts' if 'aggregate' in how else 'loads'} every row only to test existence; use {repo}.exists?/2",
        fixes=[fix(f"Replace with {replacement}", replace_node(node, replacement), safe=safe)],
    )


def _plain_query(query) -> bool:
    """A schema, or a query written in place without clauses that change what is counted."""
    if query.type == "alias":
        return True
    if query.type in ("call", "binary_operator"):
        written = text(query)
        return not CHANGES_COUNT.search(written) and query.type != "identifier"
    return False
