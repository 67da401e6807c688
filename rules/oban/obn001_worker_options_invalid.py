"""OBN001 worker-options-invalid."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import call_name, integer_value, keyword_pairs, walk

from ._common import WORKER_OPTIONS, did_you_mean, in_test_script, is_worker_use_call, replace_problems, unique_problems

RULE = Rule(
    code="OBN001",
    requires=(b"Oban",),  # only `use Oban.Worker` lines (aliases resolved: "Oban" is written)
    name="worker-options-invalid",
    category="oban",
    severity=Severity.ERROR,
    summary="Invalid `use Oban.Worker` options (Oban rejects them at compile time)",
    fix_safety="offer",
    query=r"""
    ((call target: (identifier) @use (arguments . (alias) (keywords) @opts)) @call (#eq? @use "use"))
    """,
    explanation="""
        ## OBN001 worker-options-invalid

        `use Oban.Worker` registers an `@after_compile` hook that validates the options with
        `Validation.validate_schema!/2` and raises `ArgumentError` while compiling
        (`oban:lib/oban/worker.ex:501-517@v2.23.1`): unknown keys ("unknown option :x, did you
        mean :y?"), `max_attempts` not a positive integer, `priority` outside 0..9, `queue` not
        an atom or string, `tags` not a list of strings, an empty or malformed `unique`, and a
        `replace` that is not keyed by state. exhort reports the same problems before the save.

        The options are injected into the generated `__opts__/0` and evaluated at compile time,
        so `Application.get_env/2` inside them reads the compile-time environment: a value set
        only in `runtime.exs` is `nil` then (a hint; `Application.compile_env/3` is fine).

        **Bad**

        ```elixir
        use Oban.Worker, queue: :mailers, max_attemps: 3, priority: 10, unique: [period: 0]
        ```

        **Good**

        ```elixir
        use Oban.Worker, queue: :mailers, max_attempts: 3, priority: 9, unique: [period: 60]
        ```

        **Fix** (offer): rename an unknown key to the closest valid one. No fix for values.
        Non-literal values are skipped (Oban still checks them when compiling), and
        `use Oban.Pro.Worker`, which accepts more options, is left alone.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Mailer do
              use Oban.Worker,
                queue: :mailers,
                max_attemps: 3,  # expect: OBN001
                priority: 10,  # expect: OBN001
                unique: [period: 0]  # expect: OBN001
              def perform(_job), do: :ok
            end
            """,
            fixed="""
            defmodule MyApp.Mailer do
              use Oban.Worker,
                queue: :mailers,
                max_attempts: 3,  # expect: OBN001
                priority: 10,  # expect: OBN001
                unique: [period: 0]  # expect: OBN001
              def perform(_job), do: :ok
            end
            """,
            note="typo key, priority out of range and a zero period",
        ),
        bad(
            """
            defmodule MyApp.Sync do
              alias Oban.Worker
              use Worker,
                queue: 42,  # expect: OBN001
                max_attempts: 0,  # expect: OBN001
                tags: [:sync],  # expect: OBN001
                unique: [
                  fields: [:args, :user],  # expect: OBN001
                  states: :pending,  # expect: OBN001
                  timestamp: :updated_at  # expect: OBN001
                ],
                replace: [:scheduled_at]  # expect: OBN001
              def perform(_job), do: :ok
            end
            """,
            note="aliased use, multi-line options",
        ),
        bad(
            """
            defmodule MyApp.Empty do
              use Oban.Worker, unique: []  # expect: OBN001
              def perform(_job), do: :ok
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Keys do
              use Oban.Worker,
                unique: [fields: [:worker, :queue], keys: [:id]],  # expect: OBN001
                replace: [pending: [:args]]  # expect: OBN001
              def perform(_job), do: :ok
            end
            """,
            note="keys without :args/:meta in fields and an unknown replace state",
        ),
        bad(
            """
            defmodule MyApp.Configured do
              use Oban.Worker, queue: Application.get_env(:my_app, :queue)  # expect: OBN001
              def perform(_job), do: :ok
            end
            """,
            note="Application.get_env in worker options is a hint",
        ),
        good(
            """
            defmodule MyApp.Mailer do
              use Oban.Worker,
                queue: :mailers,
                max_attempts: 3,
                priority: 9,
                tags: ["mail"],
                unique: [period: {1, :hour}, fields: [:args, :worker], keys: [:id], states: :incomplete],
                replace: [scheduled: [:scheduled_at]]
              def perform(_job), do: :ok
            end
            """,
        ),
        good(
            """
            defmodule MyApp.Pro do
              use Oban.Pro.Worker, queue: :default, recorded: true, max_attempts: 0
              def process(_job), do: :ok
            end
            """,
            note="Oban.Pro.Worker accepts more options",
        ),
        good(
            """
            defmodule MyApp.Dynamic do
              @attempts 5
              use Oban.Worker, max_attempts: @attempts, priority: priority(), queue: Application.compile_env(:my_app, :queue)
              def perform(_job), do: :ok
            end
            """,
            note="non-literal values are skipped; compile_env is fine",
        ),
        good(
            """
            defmodule MyApp.Other do
              use MyApp.Worker, max_attemps: 3
            end
            """,
            note="only `use Oban.Worker` itself",
        ),
        good(
            """
            defmodule MyApp.WorkerOptionsTest do
              use ExUnit.Case, async: true

              test "rejects a bad priority" do
                assert_raise ArgumentError, fn ->
                  defmodule BadPriority do
                    use Oban.Worker, priority: 12
                    def perform(_job), do: :ok
                  end
                end
              end
            end
            """,
            path="test/my_app/worker_options_test.exs",
            note="a test script that asserts Oban rejects the options",
        ),
        good(
            """
            defmodule MyApp.Unique do
              use Oban.Worker, unique: true, queue: "events"
              def perform(_job), do: :ok
            end
            """,
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    if in_test_script(ctx):
        return  # worker fixtures in test scripts are often invalid on purpose
    call = match.node("call")
    if not is_worker_use_call(ctx, call):
        return
    for key, value, pair in keyword_pairs(match.node("opts")):
        if key is None:
            continue
        key_node = pair.child_by_field_name("key")
        if key not in WORKER_OPTIONS:
            guess = did_you_mean(key, WORKER_OPTIONS)
            message = f"unknown Oban.Worker option :{key}" + (f", did you mean :{guess}?" if guess else "")
            fixes = [fix(f"Rename to {guess}:", replace_node(key_node, f"{guess}: "), safe=False)] if guess else []
            if key_node.type != "keyword":
                fixes = []
            yield ctx.finding(key_node, message, fixes=fixes)
            continue
        yield from _env_hints(ctx, value)
        problem = None
        if key == "max_attempts":
            number = integer_value(value)
            if (number is not None and number <= 0) or value.type in ("float", "string", "atom", "list"):
                problem = "max_attempts must be a positive integer"
        elif key == "priority":
            number = integer_value(value)
            if (number is not None and not 0 <= number <= 9) or value.type in ("float", "string", "atom", "list"):
                problem = "priority must be an integer in 0..9"
        elif key == "queue":
            if value.type in ("integer", "float", "list", "tuple", "map", "boolean", "nil"):
                problem = "queue must be an atom or a string"
        elif key == "tags":
            if value.type == "list":
                if any(c.type in ("atom", "integer", "float", "boolean", "nil", "tuple", "list") for c in value.named_children):
                    problem = "tags must be a list of strings"
            elif value.type in ("string", "atom", "integer"):
                problem = "tags must be a list of strings"
        elif key == "unique":
            for node, message in unique_problems(value):
                yield ctx.finding(node, message)
        elif key == "replace":
            for node, message in replace_problems(value, flat_allowed=False):
                yield ctx.finding(node, message)
        if problem:
            yield ctx.finding(value, problem)


def _env_hints(ctx: Context, value):
    for node in walk(value):
        if node.type == "call" and call_name(node) in (("Application", "get_env"), ("Application", "fetch_env!"), ("Application", "fetch_env")):
            yield ctx.finding(
                node,
                "Worker options are evaluated at compile time; Application.get_env here reads the "
                "compile-time config (runtime.exs values are nil). Use a literal or Application.compile_env/3",
                severity=Severity.HINT,
            )
