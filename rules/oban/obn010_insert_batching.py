"""OBN010 insert-batching."""

from exhort.execution import Runs
from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import (
    ancestors,
    call_arguments,
    call_name,
    call_target,
    integer_value,
    keyword_pairs,
    pipe_source,
    text,
    walk,
)

from ._common import new_call_parts, oban_configs, unique_settings, worker_of_receiver

LOOPS = {("Enum", "each"), ("Enum", "map"), ("Enum", "flat_map"), ("Enum", "reduce"), ("Enum", "with_index")}

RULE = Rule(
    code="OBN010",
    requires=(b"Oban",),  # the query matches `Oban.insert*` as written
    name="insert-batching",
    category="oban",
    severity=Severity.INFORMATION,
    summary="Oban.insert in a loop, or insert_all over a unique worker",
    fix_safety="offer",
    workspace=True,
    query=r"""
    ((call target: (dot left: (alias) @mod right: (identifier) @fun)) @call
      (#eq? @mod "Oban") (#any-of? @fun "insert" "insert!" "insert_all"))
    """,
    explanation="""
        ## OBN010 insert-batching

        - (a) information: `Oban.insert` inside `Enum.each/map`, `for` or `Stream.*` over a
          collection that is not a small literal inserts one row per statement; `Oban.insert_all/2`
          does it in one.
        - (b) warning: "With the basic engine, you must use `insert/3` to insert unique jobs one
          at a time" (`oban:lib/oban.ex:739-744@v2.23.1`): `Basic.insert_all_jobs/3` drops the
          virtual `unique` field and inserts with `on_conflict: :nothing`
          (`engines/basic.ex:78-83`), so `insert_all` over a unique worker ignores uniqueness.
        - (c) warning: a looped insert for a unique worker (fields include `:args`) whose args
          never use the loop variable: every insert after the first within `period` is a
          conflict and inserts nothing (`unique_jobs.md`, "Detecting Conflicts").

        **Bad** `Enum.each(users, fn u -> %{id: u.id} |> Digest.new() |> Oban.insert() end)`

        **Good** `users |> Enum.map(&Digest.new(%{id: &1.id})) |> Oban.insert_all()`

        Small literal lists/ranges (10 elements or fewer) are not loops, and only production
        code is checked (not `test/` or test helpers, benchmarks, seeds, Mix tasks, release
        and console modules such as `*.Release` or `*.AdminTasks`, nor compile-time code). (a) needs the worker to be
        known: a workspace `use Oban.Worker` module with a literal `unique` setting, or
        `Oban.Job`. A worker passed in a variable may be unique, and then one insert per job
        is what Oban asks for. (a) never suggests
        `insert_all` for a unique worker; (b) is suppressed when the config sets another engine
        (such as `Oban.Pro.Engines.Smart`). A `unique:` given to `new/2` replaces the worker's.
        Looped inserts into an `Ecto.Multi` (`Oban.insert(multi, name, changeset)`) are
        already one transaction: information only, without the `insert_all` advice.

        **Fix** (offer): when the loop is an `Enum.each` statement whose value is unused and
        whose body is exactly one `changeset |> Oban.insert()` for a worker known not to be
        unique, rewrite it to `Enum.map(..., fn x -> changeset end) |> Oban.insert_all()`.
        `insert_all` raises on an invalid changeset instead of returning `{:error, _}`, and
        inserts everything in one statement. (b) and (c) have no fix.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Digests do
              def send_all(users) do
                Enum.each(users, fn u -> %{id: u.id} |> MyApp.Digest.new() |> Oban.insert() end)  # expect: OBN010
                for u <- users, do: Oban.insert(MyApp.Digest.new(%{id: u.id}))  # expect: OBN010
                Enum.reduce(users, Ecto.Multi.new(), fn u, multi -> Oban.insert(multi, {:digest, u.id}, MyApp.Digest.new(%{id: u.id})) end)  # expect: OBN010
              end

              def unique_all(users) do
                users |> Enum.map(&MyApp.Sync.new(%{id: &1.id})) |> Oban.insert_all()  # expect: OBN010
                users |> Enum.map(&MyApp.Digest.new(%{id: &1.id}, unique: [period: 30])) |> Oban.insert_all()  # expect: OBN010
              end

              def day do
                for offset <- 1..96 do
                  %{type: "sync"} |> MyApp.Sync.new(schedule_in: {offset * 15, :minute}) |> Oban.insert()  # expect: OBN010
                end
              end
            end
            """,
            files={
                "lib/my_app/digest.ex": "defmodule MyApp.Digest do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n",
                "lib/my_app/sync.ex": "defmodule MyApp.Sync do\n  use Oban.Worker, unique: [period: 60]\n  def perform(_), do: :ok\nend\n",
            },
        ),
        bad(
            """
            defmodule MyApp.Digests do
              alias MyApp.Digest

              def send_all(users) do
                Enum.each(users, fn user ->
                  %{id: user.id} |> Digest.new() |> Oban.insert()  # expect: OBN010
                end)

                :ok
              end

              def send_active(users) do
                users
                |> Enum.filter(& &1.active)
                |> Enum.each(fn user -> Oban.insert(Digest.new(%{id: user.id})) end)  # expect: OBN010

                users
              end
            end
            """,
            files={"lib/my_app/digest.ex": "defmodule MyApp.Digest do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n"},
            fixed="""
            defmodule MyApp.Digests do
              alias MyApp.Digest

              def send_all(users) do
                Enum.map(users, fn user ->
                  %{id: user.id} |> Digest.new()  # expect: OBN010
                end) |> Oban.insert_all()

                :ok
              end

              def send_active(users) do
                users
                |> Enum.filter(& &1.active)
                |> Enum.map(fn user -> Digest.new(%{id: user.id}) end) |> Oban.insert_all()  # expect: OBN010

                users
              end
            end
            """,
            note="the offered rewrite: an Enum.each statement whose value is unused, called or piped",
        ),
        bad(
            """
            defmodule MyApp.Templates.Worker do
              use Oban.Worker, queue: :default

              def enqueue(templates) do
                Enum.each(templates, fn {name, body} ->
                  __MODULE__.new(%{name: name, body: body}) |> Oban.insert()  # expect: OBN010
                end)
              end

              def perform(_job), do: :ok
            end
            """,
            note="__MODULE__.new inside the worker; the loop is the function's value, so no rewrite",
        ),
        good(
            """
            defmodule MyApp.Syncs do
              def all(users) do
                Enum.each(users, &Oban.insert(MyApp.Sync.new(%{id: &1.id})))
                Enum.each(users, fn user ->
                  id = user.id
                  %{id: id} |> MyApp.Sync.new() |> Oban.insert()
                end)
                for user <- users, %{org: org} = user, do: %{org: org} |> MyApp.Sync.new() |> Oban.insert()
              end
            end
            """,
            files={"lib/my_app/sync.ex": "defmodule MyApp.Sync do\n  use Oban.Worker, unique: [period: 60]\n  def perform(_), do: :ok\nend\n"},
            note="unique worker whose args vary per element through a capture or a variable bound in the loop",
        ),
        good(
            """
            defmodule MyApp.Syncs do
              def all(users) do
                Enum.each(users, fn u -> %{id: u.id} |> MyApp.Dynamic.new() |> Oban.insert() end)
                Enum.each(users, fn u -> %{id: u.id} |> MyApp.Digest.new(unique: [period: 60]) |> Oban.insert() end)
                Enum.each([Oban.insert(MyApp.Sync.new(%{a: 1})) | users], &IO.inspect/1)
              end
            end
            """,
            files={
                "lib/my_app/sync.ex": "defmodule MyApp.Sync do\n  use Oban.Worker, unique: [period: 60]\n  def perform(_), do: :ok\nend\n",
                "lib/my_app/dynamic.ex": "defmodule MyApp.Dynamic do\n  use Oban.Worker, unique: @unique\n  def perform(_), do: :ok\nend\n",
                "lib/my_app/digest.ex": "defmodule MyApp.Digest do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n",
            },
            note="a non-literal unique setting is unknown; new/2's unique: makes a plain worker unique; an insert that builds the collection",
        ),
        good(
            """
            defmodule MyApp.Digests do
              def send_all(users) do
                users |> Enum.map(&MyApp.Digest.new(%{id: &1.id})) |> Oban.insert_all()
                Enum.each([:a, :b], fn k -> %{k: k} |> MyApp.Digest.new() |> Oban.insert() end)
                for n <- 1..3, do: Oban.insert(MyApp.Digest.new(%{n: n}))
              end
            end
            """,
            files={"lib/my_app/digest.ex": "defmodule MyApp.Digest do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n"},
            note="insert_all over a non-unique worker; small literal collections",
        ),
        good(
            """
            defmodule MyApp.Sync do
              def all(users), do: users |> Enum.map(&MyApp.Sync.new(%{id: &1.id})) |> Oban.insert_all()
            end
            """,
            files={
                "lib/my_app/sync.ex": "defmodule MyApp.Sync do\n  use Oban.Worker, unique: [period: 60]\n  def perform(_), do: :ok\nend\n",
                "config/config.exs": "import Config\nconfig :my_app, Oban, engine: Oban.Pro.Engines.Smart, queues: [default: 1]\n",
            },
            note="the Smart engine supports bulk unique inserts",
        ),
        good(
            """
            defmodule MyApp.DigestTest do
              test "overload" do
                for v <- 100..119, do: %{v: v} |> MyApp.Digest.new() |> Oban.insert!()
              end
            end
            """,
            path="test/my_app/digest_test.exs",
            files={"lib/my_app/digest.ex": "defmodule MyApp.Digest do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n"},
            note="looped inserts in tests are not production code (hexpm false alarm)",
        ),
        good(
            """
            defmodule MyApp.Sync do
              use Oban.Worker, unique: [period: :infinity]
              def perform(_), do: :ok
            end

            Enum.each(1..1_000, fn chunk -> [1, 2] |> Enum.map(&MyApp.Sync.new(%{id: &1 + chunk})) |> Oban.insert_all() end)
            """,
            path="bench/unique_inserts.exs",
            note="a benchmark or seed script bulk-inserts unique jobs on purpose",
        ),
        good(
            """
            defmodule MyApp.Release do
              def backfill_digests(user_ids) do
                Enum.each(user_ids, fn id -> %{id: id} |> MyApp.Digest.new() |> Oban.insert() end)
              end
            end
            """,
            path="lib/my_app/release.ex",
            files={"lib/my_app/digest.ex": "defmodule MyApp.Digest do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n"},
            note="release and console tasks (*.Release, *.AdminTasks, *.Seeds) run by hand, once",
        ),
        good(
            """
            defmodule MyApp.Scheduler do
              def insert_due(entries, name) do
                for {worker, opts} <- entries, due?(opts) do
                  Oban.insert!(name, build_changeset(worker, opts))
                end
                Enum.each(entries, fn {worker, args} -> args |> worker.new() |> Oban.insert() end)
              end
            end
            """,
            note="the worker is unknown (it may be unique): one insert per job may be required",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    if ctx.runs(call) is not Runs.PRODUCTION:
        return  # tests, benchmarks, seeds and console tasks insert in loops on purpose (Oban's own bench/ and test/)
    fun = text(match.node("fun"))
    if fun == "insert_all":
        yield from _insert_all(ctx, call)
        return
    loop = _loop(call)
    if loop is None:
        return
    loop_node, variables = loop
    args = [a for a in ([pipe_source(call)] if pipe_source(call) is not None else []) + call_arguments(call)]
    new = next((n for a in args for n in walk(a) if n.type == "call" and call_name(n)[1] == "new"), None)
    worker = worker_of_receiver(ctx, new) if new is not None else None
    fact = worker[1] if worker else None
    unique, unique_args = (fact[2], fact[3]) if fact else (None, None)
    if worker is not None and worker[0] == "Oban.Job":
        unique, unique_args = False, False  # Oban.Job.new/2 is unique only through its options
    job_args, opts = new_call_parts(new) if worker else (None, None)
    override = _unique_option(opts)
    if override is not None:
        unique, unique_args = unique_settings(override)  # new/2's unique: replaces the worker's
    if unique:
        bound = variables | _bound_inside(loop_node)
        if unique_args and job_args is not None and job_args.type == "map" and bound \
                and not _uses_any(job_args, bound):
            yield ctx.finding(
                call,
                f"{worker[0]} is unique on its args, and these args never change in the loop: "
                "every insert after the first is a conflict and inserts nothing",
                severity=Severity.WARNING,
            )
        return
    if worker is None or unique is None:
        # The worker (or its unique setting) is unknown: it may be unique, and then one insert
        # per job is what Oban asks for (Oban's own Cron plugin inserts this way).
        return
    multi = len(args) >= 3
    message = "Oban.insert in a loop inserts one job per statement"
    fixes = []
    if not multi:
        message += "; build the changesets and use Oban.insert_all/2"
        fixes = _batch_fix(loop_node, call)
    yield ctx.finding(call, message, fixes=fixes)


def _unique_option(opts):
    for key, value, _pair in keyword_pairs(opts):
        if key == "unique":
            return value
    return None


def _uses_any(node, names) -> bool:
    for sub in walk(node):
        if sub.type == "identifier" and text(sub) in names:
            return True
        if sub.type == "unary_operator" and text(sub.child_by_field_name("operator")) == "&" and "&1" in names:
            return True  # &1, &2 ... inside a capture
    return False


def _bound_inside(loop) -> set[str]:
    """Variables bound inside the loop body (`x = ...`, `x <- ...`): they may vary per element."""
    names = set()
    for node in walk(loop):
        if node.type == "binary_operator" and text(node.child_by_field_name("operator")) in ("=", "<-"):
            left = node.child_by_field_name("left")
            if left is not None:
                names |= {text(n) for n in walk(left) if n.type == "identifier"}
    return names


def _batch_fix(loop, call):
    """`Enum.each(xs, fn x -> new(..) |> Oban.insert() end)` as a statement whose value is unused:
    offer `xs |> Enum.map(fn x -> new(..) end) |> Oban.insert_all()`."""
    if call_name(loop) != ("Enum", "each"):
        return []
    statement = loop
    while statement.parent is not None and statement.parent.type == "binary_operator" \
            and text(statement.parent.child_by_field_name("operator")) == "|>" \
            and statement.parent.child_by_field_name("right") == statement:
        statement = statement.parent  # `xs |> Enum.each(...)`: the whole pipe is the statement
    parent = statement.parent
    if parent is None or parent.type not in ("do_block", "body", "block"):
        return []
    siblings = [c for c in parent.named_children if c.type != "comment"]
    if not siblings or siblings[-1] == statement or statement not in siblings:
        return []  # the loop is the value of its block: Enum.each's :ok would change
    loop_args = call_arguments(loop)
    source = pipe_source(loop)
    if (source is None and len(loop_args) != 2) or (source is not None and len(loop_args) != 1):
        return []
    function = loop_args[-1]
    if function.type != "anonymous_function":
        return []
    stabs = [c for c in function.named_children if c.type == "stab_clause"]
    if len(stabs) != 1:
        return []
    body = stabs[0].child_by_field_name("right")
    statements = [c for c in body.named_children if c.type != "comment"] if body is not None else []
    if len(statements) != 1:
        return []
    statement = statements[0]
    if statement.type == "binary_operator" and statement.child_by_field_name("right") == call \
            and not call_arguments(call):
        changeset = statement.child_by_field_name("left")
    elif statement == call and len(call_arguments(call)) == 1 and pipe_source(call) is None:
        changeset = call_arguments(call)[0]
    else:
        return []
    bang = (call_name(call)[1] or "").endswith("!")
    if bang:
        return []  # insert! raises per job; insert_all raises for the whole batch
    edits = [
        Edit(call_target(loop).start_byte, call_target(loop).end_byte, "Enum.map"),
        Edit(statement.start_byte, statement.end_byte, text(changeset)),
        Edit(loop.end_byte, loop.end_byte, " |> Oban.insert_all()"),
    ]
    return [fix("Build the changesets and insert them with Oban.insert_all/2", *edits, safe=False)]


def _loop(call):
    """(loop node, loop variable names) when `call` runs once per element of a non-literal collection."""
    child = call
    for parent in ancestors(call):
        if parent.type == "call":
            mod, fun = call_name(parent)
            if (mod, fun) in LOOPS or mod == "Stream":
                args = call_arguments(parent)
                source = pipe_source(parent)
                collection = source if source is not None else (args[0] if args else None)
                if collection is None or _small_literal(collection):
                    return None
                if source is None and child.parent is not None and child.parent.type == "arguments" \
                        and child == args[0]:
                    return None  # the insert builds the collection, it does not run per element
                return parent, _fn_variables(parent)
            if (mod, fun) == (None, "for"):
                args = call_arguments(parent)
                if child.parent is not None and child.parent.type == "arguments" and child.type != "keywords":
                    return None  # inside a generator or filter, not the body
                names = set()
                for arg in args:
                    if arg.type == "binary_operator" and text(arg.child_by_field_name("operator")) == "<-":
                        if _small_literal(arg.child_by_field_name("right")):
                            return None
                        names |= {text(n) for n in walk(arg.child_by_field_name("left")) if n.type == "identifier"}
                return parent, names
            if fun in ("def", "defp", "fn"):
                return None
        child = parent
    return None


def _fn_variables(loop):
    names = set()
    for node in walk(loop):
        if node.type == "stab_clause":
            left = node.child_by_field_name("left")
            if left is not None:
                names |= {text(n) for n in walk(left) if n.type == "identifier"}
        if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "&":
            names.add("&1")
    return names


def _small_literal(node) -> bool:
    if node.type == "list":
        return len(node.named_children) <= 10
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "..":
        low = integer_value(node.child_by_field_name("left"))
        high = integer_value(node.child_by_field_name("right"))
        return low is not None and high is not None and abs(high - low) < 10
    return False


def _insert_all(ctx, call):
    for _path, entry in oban_configs(ctx):
        engine = entry[5]
        if engine and engine not in ("Oban.Engines.Basic",):
            return
    source = pipe_source(call)
    nodes = ([source] if source is not None else []) + call_arguments(call)
    for node in nodes:
        for sub in walk(node):
            if sub.type == "call" and call_name(sub)[1] == "new":
                worker = worker_of_receiver(ctx, sub)
                if worker is None:
                    continue
                unique = worker[1][2] if worker[1] else False
                override = _unique_option(new_call_parts(sub)[1])
                if override is not None:
                    unique = unique_settings(override)[0]
                if unique:
                    yield ctx.finding(
                        call,
                        f"{worker[0]} is unique, but insert_all on the Basic engine ignores `unique`: insert them one at a time with Oban.insert/2",
                        severity=Severity.WARNING,
                    )
                    return
