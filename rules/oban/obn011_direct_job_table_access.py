"""OBN011 direct-job-table-access."""

from exhort.execution import Runs
from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import call_arguments, call_name, enclosing_def, keyword_pairs, string_value, text, walk

from exhort_rules.ecto._common import named_like_repo

from ._common import is_oban_job, oban_version

# Oban's own bulk functions and the release that added each (`lib/oban.ex@v2.23.1`)
STATE_FIELDS = frozenset({"state", "cancelled_at", "completed_at", "discarded_at", "attempted_at"})
BULK_APIS = (("cancel_all_jobs", (2, 9)), ("retry_all_jobs", (2, 9)), ("delete_all_jobs", (2, 19)), ("update_job", (2, 20)))

RULE = Rule(
    code="OBN011",
    name="direct-job-table-access",
    category="oban",
    severity=Severity.WARNING,
    summary="Bulk writes to oban_jobs or an \"Elixir.\"-prefixed worker string",
    fix_safety="offer",
    workspace=True,
    # Tests, migrations (one-off data fixes), the build and compile-time code may touch the
    # table directly; code that runs beside live queues should not.
    runs_in=frozenset({Runs.PRODUCTION, Runs.OPERATOR}),
    query=r"""
    ((call target: (dot right: (identifier) @fun)) @call (#any-of? @fun "update_all" "delete_all"))
    ((binary_operator left: (_) @_left operator: _ @op right: (string . (quoted_content) @_content) @string) @cmp
      (#any-of? @op "==" "!=") (#match? @_left "\\.worker$") (#match? @_content "^Elixir\\."))
    """,
    explanation="""
        ## OBN011 direct-job-table-access

        Oban has `cancel_all_jobs/2`, `retry_all_jobs/2`, `delete_all_jobs/2` and
        `update_job/3` (`oban:lib/oban.ex:1383, 1479, 1537, 1598@v2.23.1`). Its cancel also sets
        `cancelled_at` and signals executing jobs; a raw `update_all(set: [state: "cancelled"])`
        leaves them running and `cancelled_at` NULL, so the pruner never deletes those rows
        (`engines/basic.ex:156-178`). Workers are stored without the `Elixir.` prefix
        (`inspect(__MODULE__)`), so `worker == "Elixir.MyApp.Worker"` never matches.

        **Bad**

        ```elixir
        Repo.update_all(from(j in Oban.Job, where: j.worker == "Elixir.MyApp.Workers.Sync"),
          set: [state: "cancelled"])
        ```

        **Good**

        ```elixir
        [worker: MyApp.Workers.Sync, state: ~w(available scheduled)] |> Oban.Job.query() |> Oban.cancel_all_jobs()
        ```

        The advice names only the functions the locked Oban version has (mix.lock;
        `Oban.Job.query/1` from 2.22).

        **Fix**: drop the `"Elixir."` prefix (offer: the query then starts matching rows). No
        fix for bulk writes. `update_all` is flagged only when its literal updates write `state`
        or a state timestamp (`set: [priority: 8]` bypasses nothing). Only code that runs beside
        live queues is checked (production, release and console tasks): not tests and test
        helpers (resetting the table there is routine), migrations (a one-off data fix runs
        before the queues start), Mix tasks or compile-time code.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Admin do
              import Ecto.Query
              alias Oban.Job

              def cancel_syncs do
                Repo.update_all(  # expect: OBN011
                  from(j in Oban.Job, where: j.worker == "Elixir.MyApp.Workers.Sync"),  # expect: OBN011
                  set: [state: "cancelled"]
                )
              end

              def purge do
                query = from j in Job, where: j.state == "discarded"
                Repo.delete_all(query)  # expect: OBN011
              end

              def wipe, do: "oban_jobs" |> where([j], j.queue == "x") |> MyApp.Repo.delete_all()  # expect: OBN011
            end
            """,
            fixed="""
            defmodule MyApp.Admin do
              import Ecto.Query
              alias Oban.Job

              def cancel_syncs do
                Repo.update_all(  # expect: OBN011
                  from(j in Oban.Job, where: j.worker == "MyApp.Workers.Sync"),  # expect: OBN011
                  set: [state: "cancelled"]
                )
              end

              def purge do
                query = from j in Job, where: j.state == "discarded"
                Repo.delete_all(query)  # expect: OBN011
              end

              def wipe, do: "oban_jobs" |> where([j], j.queue == "x") |> MyApp.Repo.delete_all()  # expect: OBN011
            end
            """,
            note="from/2, a bound query and a table-name pipe",
        ),
        bad(
            """
            defmodule MyApp.Stats do
              import Ecto.Query
              def count(repo), do: repo.aggregate(from(j in Oban.Job, where: j.worker == "Elixir.MyApp.Sync"), :count)  # expect: OBN011
            end
            """,
            fixed="""
            defmodule MyApp.Stats do
              import Ecto.Query
              def count(repo), do: repo.aggregate(from(j in Oban.Job, where: j.worker == "MyApp.Sync"), :count)  # expect: OBN011
            end
            """,
            note="an Elixir.-prefixed worker string never matches",
        ),
        good(
            """
            defmodule MyApp.Admin do
              def cancel_syncs do
                [worker: MyApp.Workers.Sync, state: ~w(available scheduled)] |> Oban.Job.query() |> Oban.cancel_all_jobs()
                Repo.update_all(MyApp.User, set: [active: false])
                Repo.delete_all(from(u in "users", where: u.worker == "MyApp.Sync"))
              end
            end
            """,
        ),
        good(
            """
            defmodule MyApp.Admin do
              import Ecto.Query

              def bump_discarded(updates) do
                query = from(j in Oban.Job, where: j.state == "discarded")
                Repo.update_all(query, set: [priority: 8])
                Repo.update_all(query, updates)
              end
            end
            """,
            note="update_all that does not write the state (or its timestamps), or whose updates are not literal",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.RequeueStuckJobs do
              use Ecto.Migration
              import Ecto.Query

              def up do
                from(j in "oban_jobs", where: j.state == "executing")
                |> MyApp.Repo.update_all(set: [state: "available"])
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_requeue_stuck_jobs.exs",
            note="a migration's one-off data fix runs before the queues start",
        ),
        good(
            """
            defmodule MyApp.JobsTest do
              def reset, do: Repo.delete_all(Oban.Job)
            end
            """,
            path="test/my_app/jobs_test.exs",
            note="test files reset the table routinely",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    cmp = match.get("cmp")
    if cmp is not None:
        string = match.node("string")
        value = string_value(string)
        left = cmp.child_by_field_name("left")
        if value and value.startswith("Elixir.") and left is not None and text(left).endswith(".worker"):
            content = next(c for c in string.named_children if c.type == "quoted_content")
            edit = replace_node((content.start_byte, content.start_byte + len("Elixir.")), "")
            yield ctx.finding(
                string,
                'Oban stores workers without the "Elixir." prefix: this comparison never matches',
                fixes=[fix('Drop the "Elixir." prefix', edit, safe=False)],
            )
        return
    call = match.node("call")
    mod, fun = call_name(call)
    if mod is None or mod == "<expr>":
        return
    args = call_arguments(call)
    from exhort.syntax import pipe_source

    source = pipe_source(call)
    full = [*([source] if source is not None else []), *args]
    if mod.split(".")[-1] == "Multi" or mod == "Ecto.Multi":
        queryable, updates = (full[2] if len(full) > 2 else None), (full[3] if len(full) > 3 else None)
    elif named_like_repo(mod):
        queryable, updates = (full[0] if full else None), (full[1] if len(full) > 1 else None)
    else:
        return
    if fun == "update_all" and not _changes_state(updates):
        return  # e.g. `set: [priority: 8]`: no state bookkeeping is bypassed (hexpm's retry helper)
    if queryable is not None and _is_job_query(ctx, queryable, call, depth=0):
        version = oban_version(ctx)
        apis = [name for name, since in BULK_APIS if version >= since]
        advice = f"use {' / '.join(f'Oban.{name}' for name in apis)}" if apis else "upgrade Oban for its bulk job functions"
        if version >= (2, 22):
            advice += " (select the jobs with Oban.Job.query/1)"
        if '"executing"' in text(call) or (source is not None and '"executing"' in text(source)):
            advice += "; orphaned executing jobs are what Oban.Plugins.Lifeline rescues"
        yield ctx.finding(
            call,
            f"{fun} on oban_jobs bypasses Oban's bookkeeping (cancelled_at, signals to executing jobs): {advice}",
        )


def _changes_state(updates) -> bool:
    """A literal update keyword (`set: [state: ...]`, `inc: ...`) that writes the state or one of
    its timestamps. Anything not literal is unknown and never fires."""
    if updates is None:
        return False
    for _op, fields, _pair in keyword_pairs(updates):
        for key, _value, _inner in keyword_pairs(fields):
            if key in STATE_FIELDS:
                return True
    return False


def _is_job_query(ctx, node, anchor, depth) -> bool:
    while node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "|>":
        node = node.child_by_field_name("left")
    if node.type == "alias":
        return is_oban_job(ctx, node, text(node))
    if node.type == "string":
        return string_value(node) == "oban_jobs"
    if node.type == "call":
        mod, fun = call_name(node)
        if fun == "query" and mod is not None and is_oban_job(ctx, node, mod):
            return True
        if fun == "from" and mod in (None, "Ecto.Query"):
            args = call_arguments(node)
            if args and args[0].type == "binary_operator" and text(args[0].child_by_field_name("operator")) == "in":
                return _is_job_query(ctx, args[0].child_by_field_name("right"), anchor, depth)
            if args:
                return _is_job_query(ctx, args[0], anchor, depth)
        if fun in ("where", "select", "limit", "order_by") and mod in (None, "Ecto.Query"):
            args = call_arguments(node)
            if args:
                return _is_job_query(ctx, args[0], anchor, depth)
        return False
    if node.type == "identifier" and depth == 0:
        definition = enclosing_def(anchor)
        if definition is None:
            return False
        name = text(node)
        for sub in walk(definition):
            if sub.type == "binary_operator" and text(sub.child_by_field_name("operator")) == "=" \
                    and sub.end_byte <= anchor.start_byte:
                left = sub.child_by_field_name("left")
                if left.type == "identifier" and text(left) == name:
                    return _is_job_query(ctx, sub.child_by_field_name("right"), anchor, depth + 1)
    return False
