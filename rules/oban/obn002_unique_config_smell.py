"""OBN002 unique-config-smell."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import atom_value, keyword_pairs

from ._common import STATES, STATE_GROUPS, in_test_script, oban_version, options_owner, reschedules_itself

INSERT_STATES = frozenset({"scheduled", "available", "suspended"})
IN_FLIGHT = frozenset({"available", "scheduled", "executing", "retryable"})

RULE = Rule(
    code="OBN002",
    name="unique-config-smell",
    category="oban",
    severity=Severity.WARNING,
    summary="A `unique:` configuration that is deprecated or leaves gaps",
    fix_safety="safe/offer",
    workspace=True,
    query=r"""
    ((pair key: (keyword) @key value: (list) @unique) @pair (#match? @key "^unique:"))
    """,
    explanation="""
        ## OBN002 unique-config-smell

        Explicit `states: [...]` lists are deprecated in favour of the groups `:all`,
        `:incomplete`, `:scheduled` and `:successful` (`guides/upgrading/v2.20.md`): advice
        (information), since the list still works. Worse, Oban 2.23 warns that "Lists that omit
        insert states … silently fail to prevent duplicates at all. Partial state lists … leave
        gaps" (CHANGELOG v2.23.0, `job.ex:845-880@v2.23.1`): warnings. Changing `fields:` away
        from the default risks conflicts between unrelated jobs when `:worker` is left out
        (`guides/learning/unique_jobs.md`), a hint.

        A worker whose `perform/1` inserts its own next run (`new(...)`, `__MODULE__.new(...)`,
        directly or through the module's functions) must leave `:executing` out, or the running
        job would block its successor. No group does that, so such a list is not reported for
        missing `:executing` (other gaps still are, without a group fix).

        **Bad**

        ```elixir
        use Oban.Worker, unique: [period: 60, states: [:available, :executing, :scheduled]]
        ```

        **Good**

        ```elixir
        use Oban.Worker, unique: [period: 60, states: :incomplete]
        ```

        **Fix**: a list equal to a group becomes that group (safe). A list that differs from a
        group only by `:suspended` (used by Pro workflows only) gets that group offered, and
        any other list gets `:incomplete` or `:successful` offered. Non-literal values are
        skipped. Groups need Oban 2.20 or later (from mix.lock); before that no fix is given.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Sync do
              use Oban.Worker,
                unique: [period: 60, states: [:available, :executing, :scheduled]]  # expect: OBN002
              def perform(_job), do: :ok
            end
            """,
            fixed="""
            defmodule MyApp.Sync do
              use Oban.Worker,
                unique: [period: 60, states: :incomplete]  # expect: OBN002
              def perform(_job), do: :ok
            end
            """,
            note="partial list: offer :incomplete",
        ),
        bad(
            """
            defmodule MyApp.Sync do
              use Oban.Worker,
                unique: [states: [:available, :scheduled, :executing, :retryable, :completed, :suspended]]  # expect: OBN002
              def perform(_job), do: :ok
            end
            """,
            fixed="""
            defmodule MyApp.Sync do
              use Oban.Worker,
                unique: [states: :successful]  # expect: OBN002
              def perform(_job), do: :ok
            end
            """,
            note="exactly a group: safe fix",
        ),
        bad(
            """
            defmodule MyApp.Sync do
              use Oban.Worker, unique: [states: [:completed, :discarded]]  # expect: OBN002
              def perform(_job), do: :ok
            end
            """,
            note="no insert state at all",
        ),
        bad(
            """
            defmodule MyApp.Report do
              use Oban.Worker, unique: [fields: [:args], period: 300]  # expect: OBN002
              def perform(_job), do: :ok

              def enqueue(id) do
                %{id: id}
                |> new(unique: [period: 60, states: [:scheduled]])  # expect: OBN002
                |> Oban.insert()
              end
            end
            """,
            note="fields without :worker (hint), and a new/2 option in a pipe",
        ),
        bad(
            """
            defmodule MyApp.Poller do
              use Oban.Worker, unique: [period: :infinity, states: [:available, :scheduled]]  # expect: OBN002

              def perform(%Oban.Job{args: %{"feed_id" => id}}) do
                poll(id)
                %{feed_id: id} |> new(schedule_in: 600) |> Oban.insert()
              end
            end
            """,
            note="a worker that reschedules itself still needs :retryable (no group fix: they all hold :executing)",
        ),
        good(
            """
            defmodule MyApp.Indexer do
              use Oban.Worker, unique: [period: :infinity, states: [:available, :scheduled, :retryable]]
              alias __MODULE__

              def perform(%Oban.Job{args: %{"source_id" => id}}) do
                index(id)
                reschedule(id)
              end

              def kickoff(id, opts \\ []), do: %{source_id: id} |> Indexer.new(opts) |> Oban.insert()

              defp reschedule(id), do: kickoff(id, schedule_in: 3600)
            end
            """,
            note="perform inserts the worker's own next run: :executing is left out on purpose",
        ),
        good(
            """
            defmodule MyApp.Sync do
              use Oban.Worker, unique: [period: 60, states: :incomplete, fields: [:args, :worker]]
              def perform(_job), do: :ok
            end
            """,
        ),
        good(
            """
            defmodule MyApp.Sync do
              @states [:available, :scheduled]
              use Oban.Worker, unique: [period: 60, states: @states]
              def perform(_job), do: :ok
            end
            """,
            note="non-literal states are skipped",
        ),
        good(
            """
            defmodule MyApp.Cache do
              def put(key, value), do: Store.put(key, value, unique: [states: [:a]])
            end
            """,
            note="a unique: option outside Oban is not Oban's",
        ),
        good(
            """
            defmodule MyApp.Typo do
              use Oban.Worker, unique: [states: [:unknown]]
              def perform(_job), do: :ok
            end
            """,
            note="a list with an unknown state is OBN001's error, not a coverage smell",
        ),
        good(
            """
            defmodule MyApp.Pro do
              use Oban.Pro.Worker, unique: [states: [:available]]
              def process(_job), do: :ok
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
    pair = match.node("pair")
    if options_owner(ctx, pair) is None:
        return
    version = oban_version(ctx)
    for key, value, inner in keyword_pairs(match.node("unique")):
        if key == "fields" and value.type == "list":
            names = {atom_value(c) for c in value.named_children if c.type == "atom"}
            if len(names) == len(value.named_children) and names and "worker" not in names:
                yield ctx.finding(
                    inner,
                    "unique fields without :worker: jobs of unrelated workers with the same args conflict",
                    severity=Severity.HINT,
                )
        if key != "states" or value.type != "list":
            continue
        states = [atom_value(c) for c in value.named_children]
        if any(s is None for s in states) or any(c.type != "atom" for c in value.named_children):
            continue
        found = set(states)
        if not found <= set(STATES):
            continue  # an unknown state is OBN001's error; the list's coverage means nothing then
        severity = None
        in_flight = IN_FLIGHT
        if "executing" not in found and found & INSERT_STATES:
            module = ctx.module_of(pair)
            if module is not None and reschedules_itself(ctx, module):
                # The running job inserts its successor: :executing must stay out, and no
                # group leaves it out, so the list is the only way to say this.
                in_flight = IN_FLIGHT - {"executing"}
                if in_flight <= found:
                    continue
        if not found & INSERT_STATES:
            message = "unique states list without an insert state (:available, :scheduled): it never prevents duplicates"
        elif found & in_flight and not in_flight <= found:
            missing = ", ".join(f":{s}" for s in sorted(in_flight - found))
            message = f"partial unique states list misses {missing}: duplicates slip in while a job is in that state"
        else:
            message = "explicit unique states lists are deprecated; use a group"
            severity = Severity.INFORMATION  # advice: the list still works
        if version < (2, 20):
            if found & INSERT_STATES:
                continue  # lists are the only form before 2.20
            yield ctx.finding(value, message, severity=severity)
            continue
        fixes = []
        if in_flight != IN_FLIGHT:
            yield ctx.finding(value, message, severity=severity)  # every group has :executing
            continue
        exact = next((g for g, members in STATE_GROUPS.items() if members == found), None)
        near = next((g for g, members in STATE_GROUPS.items() if members - {"suspended"} == found - {"suspended"}), None)
        if exact:
            fixes.append(fix(f"Use states: :{exact}", replace_node(value, f":{exact}"), safe=True))
            message = f"this list is exactly the :{exact} group; " + message
        elif near:
            fixes.append(fix(f"Use states: :{near}", replace_node(value, f":{near}"), safe=False))
        else:
            group = "successful" if "completed" in found else "incomplete"
            fixes.append(fix(f"Use states: :{group}", replace_node(value, f":{group}"), safe=False))
        yield ctx.finding(value, message, fixes=fixes, severity=severity)
