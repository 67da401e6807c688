"""OBN005 invalid-perform-return."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import atom_value, call_name, enclosing_def, integer_value, text, walk

from exhort_rules.ecto._common import named_like_repo

from ._common import PERIOD_UNITS, in_test_script, oban_version, perform_tails, pipe_call, tuple_head, worker_use_at

ACCEPTED = frozenset({"ok", "error", "cancel", "discard", "snooze"})

RULE = Rule(
    code="OBN005",
    requires=(b"Oban",),  # only modules that `use Oban.Worker`
    name="invalid-perform-return",
    category="oban",
    severity=Severity.ERROR,
    summary="perform/1 returns a value Oban counts as a success",
    fix_safety="offer",
    scope="module",
    workspace=True,
    query=r"""
    ((call target: (identifier) @use (arguments . (alias))) @call (#eq? @use "use"))
    """,
    explanation="""
        ## OBN005 invalid-perform-return

        The executor accepts `:ok`, `{:ok, _}`, `{:cancel, _}`, `:discard`, `{:discard, _}`,
        `{:error, _}` and `{:snooze, period}` with a valid period. Anything else is logged ("The
        job will be considered a success.") and the job is **marked completed**
        (`oban:lib/oban/queue/executor.ex:145-171, 338-360@v2.23.1`). That includes `:error`,
        `nil`, `{:error, a, b}` and the 4-tuple a failed `Ecto.Multi` transaction returns
        (`{:error, op, value, changes}`, a warning). A snooze period is an integer ≥ 0 or
        `{n, unit}` with unit `second(s)`..`week(s)` (Oban ≥ 2.20.3; `:month` only after 2.23.1).

        Tails are followed through `if`/`case`/`cond`/`with`/`try` and one level into local
        functions; calls to anything else are unknown and never fire.

        **Bad**

        ```elixir
        case sync(id) do
          :ok -> :ok
          {:error, :rate_limited} -> {:snooze, 2.5}
          _ -> :error
        end
        ```

        **Good**: `{:snooze, 3}` and `{:error, :sync_failed}`.

        **Fix** (offer): `:error` → `{:error, :failed}`; a float snooze `x` → `{:snooze, ceil(x)}`.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Sync do
              use Oban.Worker

              @impl true
              def perform(%Job{args: %{"id" => id}}) do
                case sync(id) do
                  :ok -> :ok
                  {:error, :rate_limited} -> {:snooze, 2.5}  # expect: OBN005
                  _ -> :error  # expect: OBN005
                end
              end

              defp sync(_id), do: :ok
            end
            """,
            fixed="""
            defmodule MyApp.Sync do
              use Oban.Worker

              @impl true
              def perform(%Job{args: %{"id" => id}}) do
                case sync(id) do
                  :ok -> :ok
                  {:error, :rate_limited} -> {:snooze, ceil(2.5)}  # expect: OBN005
                  _ -> {:error, :failed}  # expect: OBN005
                end
              end

              defp sync(_id), do: :ok
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Import do
              use Oban.Worker
              alias Ecto.Multi

              def perform(%Job{args: %{"mode" => "multi"}}) do
                multi = Multi.new() |> Multi.run(:a, fn _, _ -> {:ok, 1} end)
                MyApp.Repo.transaction(multi)  # expect: OBN005
              end

              def perform(%Job{args: %{"mode" => "pipe"}}) do
                Multi.new()  # expect: OBN005
                |> Multi.run(:a, fn _, _ -> {:ok, 1} end)
                |> Repo.transact()
              end

              def perform(%Job{args: %{"mode" => "bad"}}), do: {:error, :a, :b}  # expect: OBN005
              def perform(%Job{args: %{"mode" => "month"}}), do: {:snooze, {1, :month}}  # expect: OBN005
              def perform(%Job{}), do: finish()

              defp finish do
                if ready?() do
                  nil  # expect: OBN005
                else
                  {:noreply, :state}  # expect: OBN005
                end
              end

              defp ready?, do: true
            end
            """,
            note="Multi tails (warnings), a 3-tuple, month units, one-level local follow",
        ),
        bad(
            """
            defmodule MyApp.Old do
              use Oban.Worker
              def perform(_job), do: {:snooze, {5, :minutes}}  # expect: OBN005
            end
            """,
            files={"mix.lock": '%{\n  "oban": {:hex, :oban, "2.19.4", "abc", [:mix], [], "hexpm", "def"},\n}\n'},
            note="tuple snooze periods arrived in 2.20.3 (version gate)",
        ),
        good(
            """
            defmodule MyApp.Sync do
              use Oban.Worker

              def perform(%Job{args: %{"id" => id}}) do
                case fetch(id) do
                  {:ok, _} -> :ok
                  {:error, :gone} -> {:cancel, :gone}
                  {:error, :busy} -> {:snooze, {5, :minutes}}
                  {:error, reason} -> {:error, reason}
                  :later -> {:snooze, 30}
                end
              end

              defp fetch(_id), do: {:ok, 1}
            end
            """,
        ),
        good(
            """
            defmodule MyApp.Import do
              use Oban.Worker
              alias Ecto.Multi

              def perform(_job) do
                Multi.new()
                |> Multi.run(:a, fn _, _ -> {:ok, 1} end)
                |> Repo.transaction()
                |> handle_result()
              end

              defp handle_result({:ok, _}), do: :ok
              defp handle_result({:error, _op, reason, _changes}), do: {:error, reason}
            end
            """,
            note="a local helper that maps the Multi 4-tuple must not fire",
        ),
        good(
            """
            defmodule MyApp.Unknown do
              use Oban.Worker
              def perform(job), do: MyApp.Runner.run(job)
              def helper, do: :error
            end
            """,
            note="calls to other modules are unknown",
        ),
        good(
            """
            defmodule MyApp.ExecutorTest do
              use ExUnit.Case, async: true

              defmodule BadReturns do
                use Oban.Worker
                def perform(%{args: %{"mode" => "atom"}}), do: :wrong
                def perform(%{args: %{"mode" => "snooze"}}), do: {:snooze, {1, :fortnight}}
              end

              test "bad returns complete the job", do: assert(run(BadReturns))
            end
            """,
            path="test/my_app/executor_test.exs",
            note="a worker fixture in a test script returns bad values on purpose",
        ),
        good(
            """
            defmodule MyApp.GenServerLike do
              use GenServer
              def perform(_state), do: :error
            end
            """,
            note="not an Oban worker",
        ),
        good(
            """
            defmodule MyApp.Transact do
              use Oban.Worker
              def perform(%Job{args: args}) do
                Repo.transaction(fn -> save(args) end)
              end
              defp save(_), do: :ok
            end
            """,
            note="Repo.transaction with a function, not a Multi",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    if in_test_script(ctx):
        return  # worker fixtures in test scripts are often invalid on purpose
    worker = worker_use_at(ctx, match.node("call"))
    if worker is None:
        return
    module, _use = worker
    version = oban_version(ctx)
    for tail, via in perform_tails(module):
        through = f" (returned by perform/1 through {via})" if via else ""
        kind = getattr(tail, "type", None)
        if kind == "implicit_nil":
            # Usually a branch with nothing left to do: the job was meant to succeed, and Oban
            # does complete it, logging a warning on every run. Not the silent lost retry of
            # `:error`, hence a warning like Oban's own.
            yield ctx.finding(
                (tail.start_byte, tail.start_byte + 2),
                f"this `if`/`unless` without `else` makes perform/1 return nil{through}: Oban logs a warning "
                "on each run and counts it as a success; end the branch with :ok",
                severity=Severity.WARNING,
            )
            continue
        if kind in ("atom", "nil", "boolean"):
            value = text(tail)
            if atom_value(tail) in ("ok", "discard") and kind == "atom":
                continue
            fixes = []
            if value == ":error":
                fixes = [fix("Return {:error, :failed}", replace_node(tail, "{:error, :failed}"), safe=False)]
            yield ctx.finding(tail, f"perform/1 returns {value}{through}: Oban logs it and marks the job completed", fixes=fixes)
            continue
        if kind in ("integer", "float", "string", "list", "map", "charlist"):
            yield ctx.finding(tail, f"perform/1 returns a {kind}{through}: Oban marks the job completed")
            continue
        if kind == "tuple":
            yield from _check_tuple(ctx, tail, through, version)
            continue
        multi = _multi_transaction(ctx, tail)
        if multi:
            yield ctx.finding(
                tail,
                f"a failed Ecto.Multi transaction returns {{:error, op, value, changes}}{through}, which Oban "
                "counts as a success; map it to {:error, reason}",
                severity=Severity.WARNING,
            )


def _check_tuple(ctx, tail, through, version):
    head, items = tuple_head(tail)
    if head is None:
        return
    if head not in ACCEPTED:
        yield ctx.finding(tail, f"perform/1 returns a {{:{head}, ...}} tuple{through}: Oban marks the job completed")
        return
    if len(items) != 2:
        yield ctx.finding(tail, f"perform/1 returns a {len(items)}-tuple{through}: Oban expects {{:{head}, value}} and marks the job completed")
        return
    if head != "snooze":
        return
    period = items[1]
    problem = None
    fixes = []
    if period.type == "float":
        problem = "a float snooze period"
        fixes = [fix("Round up with ceil/1", replace_node(period, f"ceil({text(period)})"), safe=False)]
    elif integer_value(period) is not None and integer_value(period) < 0:
        problem = "a negative snooze period"
    elif period.type in ("string", "atom", "list", "map", "nil", "boolean"):
        problem = f"a {period.type} snooze period"
    elif period.type == "tuple":
        if version < (2, 20, 3):
            problem = "a {n, unit} snooze period (supported from Oban 2.20.3; the lock has " + ".".join(map(str, version)) + ")"
        else:
            parts = period.named_children
            units = set(PERIOD_UNITS) | ({"month", "months"} if version > (2, 23, 1) else set())
            if len(parts) != 2:
                problem = "a malformed {n, unit} snooze period"
            elif parts[1].type == "atom" and atom_value(parts[1]) not in units:
                problem = f"snooze unit {text(parts[1])}"
            elif parts[0].type == "float" or (integer_value(parts[0]) is not None and integer_value(parts[0]) < 0):
                problem = "a snooze amount that is not an integer ≥ 0"
    if problem:
        yield ctx.finding(tail, f"{problem}{through} is invalid: Oban logs it and marks the job completed", fixes=fixes)


def _multi_transaction(ctx, tail) -> bool:
    call, _arity = pipe_call(tail)
    if call is None:
        return False
    mod, fun = call_name(call)
    if fun not in ("transaction", "transact") or mod is None or not named_like_repo(mod):
        return False
    if tail.type == "binary_operator":
        source = tail.child_by_field_name("left")
    else:
        from exhort.syntax import call_arguments

        args = call_arguments(call)
        if not args:
            return False
        source = args[0]
    return _starts_from_multi(ctx, source, tail)


def _pipe_head(node):
    while node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "|>":
        node = node.child_by_field_name("left")
    return node


def _is_multi_new(ctx, node) -> bool:
    if node.type != "call":
        return False
    mod, fun = call_name(node)
    if fun != "new" or mod is None:
        return False
    module = ctx.module_of(node)
    full = module.resolve_alias(mod) if module is not None else mod
    return full == "Ecto.Multi"


def _starts_from_multi(ctx, source, tail) -> bool:
    head = _pipe_head(source)
    if head.type == "call":
        # Multi.insert(Multi.new(), ...) nesting
        while head.type == "call" and not _is_multi_new(ctx, head):
            from exhort.syntax import call_arguments

            args = call_arguments(head)
            mod, _fun = call_name(head)
            module = ctx.module_of(head)
            if not args or mod is None or (module.resolve_alias(mod) if module else mod) != "Ecto.Multi":
                return False
            head = _pipe_head(args[0])
        return _is_multi_new(ctx, head)
    if head.type == "identifier":
        definition = enclosing_def(tail)
        if definition is None:
            return False
        name = text(head)
        for node in walk(definition):
            if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "=" \
                    and node.end_byte <= tail.start_byte:
                left = node.child_by_field_name("left")
                if left.type == "identifier" and text(left) == name:
                    right = node.child_by_field_name("right")
                    return _starts_from_multi(ctx, right, tail) if right.type != "identifier" else False
    return False
