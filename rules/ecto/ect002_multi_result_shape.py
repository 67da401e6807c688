"""ECT002 multi-result-shape."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import (
    atom_value,
    call_name,
    do_block,
    effective_arguments,
    is_literal,
    pipe_source,
    tails,
    text,
)

from ._common import binds, indentation_at, is_multi, repo_name

RULE = Rule(
    code="ECT002",
    name="multi-result-shape",
    category="ecto",
    severity=Severity.ERROR,
    summary="A failed Ecto.Multi returns a 4-tuple; Multi.run steps must return {:ok, _} or {:error, _}",
    fix_safety="offer",
    workspace=True,
    query=r"""
    ((call target: (identifier) @construct) @call (#any-of? @construct "case" "with"))
    ((call target: (dot left: (alias) @module right: (identifier) @function)) @call (#eq? @function "run"))
    """,
    explanation="""
        ## ECT002 multi-result-shape

        A failed `Ecto.Multi` returns `{:error, failed_operation, failed_value,
        changes_so_far}` (`ecto:lib/ecto/multi.ex:162-164@v3.14.2`; `repo.ex:2343, 2460`), not
        `{:error, reason}`. A `case` (or the `else` of a `with`) on `Repo.transaction(multi)` or
        `Repo.transact(multi)` whose error clauses match only 2-tuples raises `CaseClauseError`
        (or `WithClauseError`) the first time a step fails. `Repo.transact/2` (Ecto 3.13) has
        the same Multi result shape (`repo.ex:2575-2579`).

        An `Ecto.Multi.run` function must return `{:ok, value}` or `{:error, value}`; anything
        else raises "expected Ecto.Multi callback named ... to return either {:ok, value} or
        {:error, value}" (`multi.ex:905-914`).

        Only Multis the code visibly builds (a pipeline from `Ecto.Multi.new()`, or a variable
        bound to one in the same function) are checked: with a function
        (`Repo.transaction(fn -> ... end)`) the result is a 2-tuple. A Multi whose steps are
        all reads or values (`one`, `all`, `exists?`, `put`, `inspect`, and the `*_all`
        operations, which return counts) cannot fail a step, so it has no 4-tuple either.

        **Bad**

        ```elixir
        case Repo.transaction(multi) do
          {:ok, %{user: user}} -> {:ok, user}
          {:error, reason} -> {:error, reason}
        end
        ```

        **Good**

        ```elixir
        case Repo.transaction(multi) do
          {:ok, %{user: user}} -> {:ok, user}
          {:error, _step, reason, _changes} -> {:error, reason}
        end
        ```

        **Fix** (offered): insert `{:error, _step, reason, _changes} -> {:error, reason}` before
        the 2-tuple clause. Check that the clause body fits your caller.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Accounts do
              alias Ecto.Multi
              alias MyApp.Repo

              def register(attrs) do
                multi =
                  Multi.new()
                  |> Multi.insert(:user, User.changeset(%User{}, attrs))
                  |> Multi.insert(:profile, &Profile.for_user(&1.user))

                case Repo.transaction(multi) do  # expect: ECT002
                  {:ok, %{user: user}} -> {:ok, user}
                  {:error, reason} -> {:error, reason}
                end
              end
            end
            """,
            fixed="""
            defmodule MyApp.Accounts do
              alias Ecto.Multi
              alias MyApp.Repo

              def register(attrs) do
                multi =
                  Multi.new()
                  |> Multi.insert(:user, User.changeset(%User{}, attrs))
                  |> Multi.insert(:profile, &Profile.for_user(&1.user))

                case Repo.transaction(multi) do  # expect: ECT002
                  {:ok, %{user: user}} -> {:ok, user}
                  {:error, _step, reason, _changes} -> {:error, reason}
                  {:error, reason} -> {:error, reason}
                end
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Orders do
              alias MyApp.Repo

              def place(order) do
                Ecto.Multi.new()
                |> Ecto.Multi.update(:order, Order.placed(order))
                |> Repo.transact()
                |> case do  # expect: ECT002
                  {:ok, changes} -> {:ok, changes.order}
                  {:error, :order} -> :conflict
                end
              end

              def pay(order) do
                with {:ok, _} <- validate(order),
                     {:ok, %{payment: p}} <- Repo.transaction(Ecto.Multi.new() |> Ecto.Multi.insert(:payment, order)) do  # expect: ECT002
                  {:ok, p}
                else
                  {:error, reason} -> {:error, reason}
                end
              end

              def step(multi) do
                Ecto.Multi.run(multi, :check, fn _repo, _changes -> :ok end)  # expect: ECT002
              end

              def step2(multi) do
                multi
                |> Ecto.Multi.run(:flag, fn repo, %{user: u} ->
                  if u.admin, do: {:ok, u}, else: nil  # expect: ECT002
                end)
              end
            end
            """,
            note="piped case, with/else, Repo.transact, and Multi.run tails",
        ),
        good(
            """
            defmodule MyApp.Accounts do
              alias Ecto.Multi

              def register(attrs) do
                multi = Multi.new() |> Multi.insert(:user, User.changeset(%User{}, attrs))

                case Repo.transaction(multi) do
                  {:ok, %{user: user}} -> {:ok, user}
                  {:error, :user, changeset, _} -> {:error, changeset}
                  {:error, _operation, reason, _changes} -> {:error, reason}
                end
              end

              def other(multi_from_elsewhere) do
                case Repo.transaction(Multi.new() |> Multi.run(:x, &run/2)) do
                  {:ok, _} -> :ok
                  other -> other
                end
              end
            end
            """,
            note="4-tuple clauses and catch-all clauses",
        ),
        good(
            """
            defmodule MyApp.Accounts do
              def register(attrs) do
                case Repo.transaction(fn -> Repo.insert!(User.changeset(%User{}, attrs)) end) do
                  {:ok, user} -> {:ok, user}
                  {:error, reason} -> {:error, reason}
                end
              end

              def again(fun, multi) do
                case Repo.transaction(&do_work/0) do
                  {:ok, user} -> {:ok, user}
                  {:error, reason} -> {:error, reason}
                end

                case Repo.transaction(multi) do
                  {:ok, user} -> {:ok, user}
                  {:error, reason} -> {:error, reason}
                end
              end
            end
            """,
            note="a function literal or capture returns a 2-tuple; a Multi parameter is unknown",
        ),
        good(
            """
            defmodule MyApp.Stats do
              alias MyApp.Repo

              def dashboard do
                Ecto.Multi.new()
                |> Ecto.Multi.one(:users, user_counts())
                |> Ecto.Multi.all(:orders, recent_orders())
                |> Ecto.Multi.put(:at, DateTime.utc_now())
                |> Repo.transaction()
                |> case do
                  {:ok, %{users: users, orders: orders}} -> {:ok, {users, orders}}
                  {:error, reason} -> {:error, reason}
                end
              end
            end
            """,
            note="a Multi of read steps (one, all, exists?, put, ...) returns {:ok, _} or raises: no 4-tuple",
        ),
        good(
            """
            defmodule MyApp.Steps do
              def steps(multi) do
                multi
                |> Ecto.Multi.run(:a, fn _repo, _ -> {:ok, :done} end)
                |> Ecto.Multi.run(:b, fn _repo, %{a: a} -> {:error, a} end)
                |> Ecto.Multi.run(:c, fn repo, _ -> repo.insert(%Log{}) end)
                |> Ecto.Multi.run(:d, MyApp.Steps, :check, [])
              end
            end
            """,
            note="Multi.run tails that are {:ok, _}, {:error, _}, calls, or run/5",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    module = ctx.module_of(call)
    if match.get("construct") is not None:
        yield from _check_branching(ctx, module, call, text(match.node("construct")))
    elif is_multi(module, text(match.node("module"))):
        yield from _check_run(ctx, call)


def _check_branching(ctx, module, call, construct):
    block = do_block(call)
    if block is None:
        return
    if construct == "case":
        arguments = effective_arguments(call)
        if len(arguments) != 1 or not _is_multi_transaction(ctx, module, arguments[0]):
            return
        clauses = [c for c in block.named_children if c.type == "stab_clause"]
        where = call
    else:
        else_block = next((c for c in block.named_children if c.type == "else_block"), None)
        if else_block is None:
            return
        sources = [
            a for a in effective_arguments(call)
            if a.type == "binary_operator" and text(a.child_by_field_name("operator")) == "<-"
            and _is_multi_transaction(ctx, module, a.child_by_field_name("right"))
        ]
        if not sources or any(_pattern_kind(_first_pattern_of(s.child_by_field_name("left"))) != "ok" for s in sources):
            return
        clauses = [c for c in else_block.named_children if c.type == "stab_clause"]
        where = sources[0]
    kinds = [_clause_kind(c) for c in clauses]
    if "error2" not in kinds or "error4" in kinds or "other" in kinds:
        return
    two = next(c for c, k in zip(clauses, kinds) if k == "error2")
    indent = indentation_at(ctx, two.start_byte)
    edit = Edit(two.start_byte, two.start_byte, "{:error, _step, reason, _changes} -> {:error, reason}\n" + indent)
    yield ctx.finding(
        where if construct == "with" else _head(call),
        "A failed Ecto.Multi returns {:error, step, value, changes}; no clause matches that 4-tuple",
        fixes=[fix("Add a {:error, _step, reason, _changes} clause", edit, safe=False)],
    )


def _head(call):
    target = call.child_by_field_name("target")
    return (call.start_byte, target.end_byte) if target is not None else call



def _first_pattern_of(node):
    if node is not None and node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "when":
        node = node.child_by_field_name("left")
    return node


def _clause_kind(clause):
    left = clause.child_by_field_name("left")
    if left is None:
        return "other"
    if left.type == "binary_operator" and text(left.child_by_field_name("operator")) == "when":
        left = left.child_by_field_name("left")
    patterns = [c for c in left.named_children if c.type != "comment"] if left is not None and left.type == "arguments" else []
    if len(patterns) != 1:
        return "other"
    return _pattern_kind(patterns[0])


def _pattern_kind(pattern):
    """ok / error2 / error4 / error_other / other (a catch-all or something unknown)."""
    if pattern is None:
        return "other"
    if pattern.type == "binary_operator" and text(pattern.child_by_field_name("operator")) == "=":
        left, right = pattern.child_by_field_name("left"), pattern.child_by_field_name("right")
        for side in (left, right):
            if side is not None and side.type == "tuple":
                return _pattern_kind(side)
        return "other"
    if pattern.type != "tuple":
        return "other"
    items = [c for c in pattern.named_children if c.type != "comment"]
    tag = atom_value(items[0]) if items and items[0].type == "atom" else None
    if tag == "ok":
        return "ok"
    if tag == "error":
        return {2: "error2", 4: "error4"}.get(len(items), "error_other")
    if tag is None:
        return "other"
    return "tagged"


def _is_multi_transaction(ctx, module, node) -> bool:
    """`Repo.transaction(multi)` / `multi |> Repo.transact()` with a visible Multi."""
    if node is None:
        return False
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "|>":
        node = node.child_by_field_name("right")
    if node is None or node.type != "call":
        return False
    mod, fun = call_name(node)
    if fun not in ("transaction", "transact") or repo_name(ctx, module, mod) is None:
        return False
    arguments = effective_arguments(node)
    if not arguments:
        return False
    return _is_multi_value(module, arguments[0], node)


# Multi steps that return {:ok, _} or raise, never {:error, _}: a Multi of only these cannot
# produce the 4-tuple (`multi.ex`: one/all/exists? run the query, put/inspect store a value,
# the *_all operations return {count, rows}).
INFALLIBLE_STEPS = frozenset({"one", "all", "exists?", "put", "inspect", "insert_all", "update_all", "delete_all"})


def _is_multi_value(module, node, at, depth=0) -> bool:
    """A Multi built in sight (`Multi.new() |> ...`, or a variable bound once to one) with at
    least one step that can fail."""
    if node.type == "identifier" and depth == 0:
        bound = binds(at, text(node))
        return len(bound) == 1 and bound[0] is not None and _is_multi_value(module, bound[0], at, depth + 1)
    steps = []
    while node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "|>":
        right = node.child_by_field_name("right")
        steps.append(call_name(right)[1] if right is not None and right.type == "call" else None)
        node = node.child_by_field_name("left")
    if node.type != "call":
        return False
    mod, fun = call_name(node)
    if not (fun == "new" and is_multi(module, mod) and pipe_source(node) is None):
        return False
    return not steps or not all(step in INFALLIBLE_STEPS for step in steps)


def _check_run(ctx, call):
    arguments = effective_arguments(call)
    if len(arguments) != 3 or arguments[2].type != "anonymous_function":
        return
    for clause in (c for c in arguments[2].named_children if c.type == "stab_clause"):
        for tail in tails(clause.child_by_field_name("right")):
            if tail.type == "implicit_nil":
                yield ctx.finding(
                    (tail.start_byte, tail.end_byte),
                    "This Ecto.Multi.run step can return nil (an if without else); it must return {:ok, _} or {:error, _}",
                )
            elif _bad_literal_tail(tail):
                yield ctx.finding(
                    tail,
                    f"Ecto.Multi.run step returns {text(tail)}; it must return {{:ok, value}} or {{:error, value}}",
                )


def _bad_literal_tail(tail) -> bool:
    if tail.type == "tuple":
        items = [c for c in tail.named_children if c.type != "comment"]
        if items and items[0].type == "atom":
            return not (len(items) == 2 and atom_value(items[0]) in ("ok", "error"))
        return False
    return is_literal(tail)
