"""OBN006 deprecated-discard-return."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import atom_value, text

from ._common import in_test_script, perform_tails, tuple_head, worker_use_at

RULE = Rule(
    code="OBN006",
    requires=(b"Oban",),  # only modules that `use Oban.Worker`
    name="deprecated-discard-return",
    category="oban",
    # Advice: the return still works and Oban warns about nothing at run time.
    severity=Severity.INFORMATION,
    summary="perform/1 returns the deprecated :discard",
    fix_safety="offer",
    scope="module",
    deprecated_api=True,
    query=r"""
    ((call target: (identifier) @use (arguments . (alias))) @call (#eq? @use "use"))
    """,
    explanation="""
        ## OBN006 deprecated-discard-return

        The `Oban.Worker` `result` typedoc says ":discard - deprecated, use `{:cancel, reason}`
        instead" (`oban:lib/oban/worker.ex:366-381@v2.23.1`). It still works: the job ends in
        the `discarded` state, and nothing is logged. So this is information (advice for the
        next upgrade), not a warning.

        **Bad** `{:discard, :invalid_payload}` · **Good** `{:cancel, :invalid_payload}`

        **Fix** (offer): `{:discard, r}` → `{:cancel, r}`; `:discard` → `{:cancel, :discarded}`.
        The job then ends as `cancelled` rather than `discarded`, which matters for dashboards,
        state queries and `unique` states lists.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Import do
              use Oban.Worker

              def perform(%Job{args: %{"payload" => payload}}) do
                case decode(payload) do
                  {:ok, data} -> store(data)
                  {:error, :invalid} -> {:discard, :invalid_payload}  # expect: OBN006
                  {:error, _} -> :discard  # expect: OBN006
                end
              end

              def perform(_job), do: give_up()

              defp give_up, do: {:discard, "no payload"}  # expect: OBN006
            end
            """,
            fixed="""
            defmodule MyApp.Import do
              use Oban.Worker

              def perform(%Job{args: %{"payload" => payload}}) do
                case decode(payload) do
                  {:ok, data} -> store(data)
                  {:error, :invalid} -> {:cancel, :invalid_payload}  # expect: OBN006
                  {:error, _} -> {:cancel, :discarded}  # expect: OBN006
                end
              end

              def perform(_job), do: give_up()

              defp give_up, do: {:cancel, "no payload"}  # expect: OBN006
            end
            """,
        ),
        good(
            """
            defmodule MyApp.Import do
              use Oban.Worker
              def perform(_job), do: {:cancel, :invalid_payload}
              def cleanup(_), do: :discard
            end
            """,
            note="only perform/1 tails",
        ),
        good(
            """
            defmodule MyApp.Pro do
              use Oban.Pro.Worker
              def process(_job), do: {:discard, :x}
              def perform(_job), do: {:discard, :x}
            end
            """,
            note="Pro workers are excluded",
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
    for tail, via in perform_tails(module):
        through = f" (returned through {via})" if via else ""
        kind = getattr(tail, "type", None)
        if kind == "atom" and atom_value(tail) == "discard":
            yield ctx.finding(
                tail,
                f":discard is deprecated{through}; return {{:cancel, reason}}",
                fixes=[fix("Return {:cancel, :discarded}", replace_node(tail, "{:cancel, :discarded}"), safe=False)],
            )
        elif kind == "tuple":
            head, items = tuple_head(tail)
            if head == "discard" and len(items) == 2:
                yield ctx.finding(
                    tail,
                    f"{{:discard, reason}} is deprecated{through}; return {{:cancel, reason}}",
                    fixes=[fix("Return {:cancel, reason}", replace_node(tail, f"{{:cancel, {text(items[1])}}}"), safe=False)],
                )
