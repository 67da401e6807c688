"""OBN010 insert-batching."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, good
from exhort.syntax import ancestors, call_arguments, call_name, integer_value, pipe_source, text, walk

from ._common import new_call_parts, oban_configs, worker_of_receiver

LOOPS = {("Enum", "each"), ("Enum", "map"), ("Enum", "flat_map"), ("Enum", "reduce"), ("Enum", "with_index")}

RULE = Rule(
    code="OBN010",
    requires=(b"Oban",),  # the query matches `Oban.insert*` as written
    name="insert-batching",
    category="oban",
    severity=Severity.INFORMATION,
    summary="Oban.insert in a loop, or insert_all over a unique worker",
    fix_safety="none",
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

        Small literal lists/ranges (10 elements or fewer) are not loops. (a) never suggests
        `insert_all` for a unique worker; (b) is suppressed when the config sets another engine
        (such as `Oban.Pro.Engines.Smart`). No fix yet.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Digests do
              def send_all(users) do
                Enum.each(users, fn u -> %{id: u.id} |> MyApp.Digest.new() |> Oban.insert() end)  # expect: OBN010
                for u <- users, do: Oban.insert(MyApp.Digest.new(%{id: u.id}))  # expect: OBN010
              end

              def unique_all(users) do
                users |> Enum.map(&MyApp.Sync.new(%{id: &1.id})) |> Oban.insert_all()  # expect: OBN010
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
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
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
    unique = fact[2] if fact else None
    if unique:
        job_args, _opts = new_call_parts(new)
        if fact[3] and job_args is not None and job_args.type == "map" and variables \
                and not any(n.type == "identifier" and text(n) in variables for n in walk(job_args)):
            yield ctx.finding(
                call,
                f"{worker[0]} is unique on its args, and these args never change in the loop: "
                "every insert after the first is a conflict and inserts nothing",
                severity=Severity.WARNING,
            )
        return
    if ctx.path.is_test:
        return  # batching advice is noise in tests (found on hexpm's test suite)
    multi = len(args) >= 3
    message = "Oban.insert in a loop inserts one job per statement"
    if not multi:
        message += "; build the changesets and use Oban.insert_all/2"
    yield ctx.finding(call, message)


def _loop(call):
    """(loop node, loop variable names) when `call` runs once per element of a non-literal collection."""
    for parent in ancestors(call):
        if parent.type == "call":
            mod, fun = call_name(parent)
            if (mod, fun) in LOOPS or mod == "Stream":
                args = call_arguments(parent)
                source = pipe_source(parent)
                collection = source if source is not None else (args[0] if args else None)
                if collection is None or _small_literal(collection):
                    return None
                return parent, _fn_variables(parent)
            if (mod, fun) == (None, "for"):
                args = call_arguments(parent)
                names = set()
                for arg in args:
                    if arg.type == "binary_operator" and text(arg.child_by_field_name("operator")) == "<-":
                        if _small_literal(arg.child_by_field_name("right")):
                            return None
                        names |= {text(n) for n in walk(arg.child_by_field_name("left")) if n.type == "identifier"}
                return parent, names
            if fun in ("def", "defp", "fn"):
                return None
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
                if worker and worker[1] and worker[1][2]:
                    yield ctx.finding(
                        call,
                        f"{worker[0]} is unique, but insert_all on the Basic engine ignores `unique`: insert them one at a time with Oban.insert/2",
                        severity=Severity.WARNING,
                    )
                    return
