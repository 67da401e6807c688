"""OTP009 unsupervised-or-unbounded-spawn."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import ancestors, call_arguments, call_name, enclosing_function, is_literal, is_mix_task_module, pipe_source, text

from ._common import effective_arguments, resolved_call

SPAWNS = {
    ("Task", "start"): (1, 3),
    (None, "spawn"): (1, 3),
    (None, "spawn_link"): (1, 3),
    ("Kernel", "spawn"): (1, 3),
    ("Kernel", "spawn_link"): (1, 3),
    ("Process", "spawn"): (2, 4),
}
LOOPS = {("Enum", "each"), ("Enum", "map"), ("Enum", "flat_map")}

RULE = Rule(
    code="OTP009",
    name="unsupervised-or-unbounded-spawn",
    category="otp",
    severity=Severity.INFORMATION,
    summary="A process started outside any supervisor (one per element inside a loop)",
    fix_safety="offer",
    workspace=True,
    query=r"""
    ((call target: (dot left: (alias) right: (identifier) @fun)) @call (#any-of? @fun "start" "spawn" "spawn_link"))
    ((call target: (identifier) @fun) @call (#any-of? @fun "spawn" "spawn_link"))
    """,
    explanation="""
        ## OTP009 unsupervised-or-unbounded-spawn

        `Task.start/1` should only be used when you have "no interest on its results nor if it
        completes successfully… If the current node is shutdown, the node will terminate even if
        the task was not completed… we recommend to use `Task.Supervisor.start_child/2`"
        (`elixir:lib/elixir/lib/task.ex:389-402@v1.20.3`; see also "Unsupervised processes",
        `lib/elixir/pages/anti-patterns/process-anti-patterns.md:250-330`). Inside
        `Enum.each/map/flat_map`, `for` or `Stream.*` over a collection that is not a literal, it
        starts one process per element with no limit (a warning).

        Flagged in `lib/` (not Mix tasks): `Task.start/1,3`, `spawn/1,3`, `spawn_link/1,3` and
        `Process.spawn/2,4`.

        **Bad**

        ```elixir
        Enum.each(users, fn u -> Task.start(fn -> Mailer.deliver(email_for(u)) end) end)
        ```

        **Good**

        ```elixir
        MyApp.TaskSupervisor
        |> Task.Supervisor.async_stream_nolink(users, &Mailer.deliver(email_for(&1)), max_concurrency: 10)
        |> Stream.run()
        ```

        **Fix** (offer): `Task.start(fun)` → `Task.Supervisor.start_child(Sup, fun)` when a
        `Task.Supervisor` is found among the workspace's children. Both are unlinked, but
        `start_child` can return `{:error, :max_children}` and the supervisor must be running.

        Not flagged: scripts, tests and Mix tasks (by path). Libraries that spawn on purpose get
        an information-level note only.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Notifier do
              def notify_all(users) do
                Enum.each(users, fn u -> Task.start(fn -> MyApp.Mailer.deliver(u) end) end)  # expect: OTP009
              end

              def ping(node) when is_atom(node), do: spawn(fn -> Node.ping(node) end)  # expect: OTP009

              def fanout(ids) do
                for id <- ids do
                  Process.spawn(fn -> work(id) end, [:link])  # expect: OTP009
                end
              end

              def stream(rows), do: rows |> Stream.map(fn r -> spawn_link(MyApp.Row, :work, [r]) end) |> Stream.run()  # expect: OTP009
            end
            """,
            note="Enum.each, guard, for and Stream.map loops (warnings) and a single spawn (information)",
        ),
        bad(
            """
            defmodule MyApp.Audit do
              def log(event), do: Task.start(fn -> write(event) end)  # expect: OTP009
            end
            """,
            fixed="""
            defmodule MyApp.Audit do
              def log(event), do: Task.Supervisor.start_child(MyApp.TaskSupervisor, fn -> write(event) end)  # expect: OTP009
            end
            """,
            files={
                "lib/my_app/application.ex": "defmodule MyApp.Application do\n  def start(_, _) do\n    children = [{Task.Supervisor, name: MyApp.TaskSupervisor}]\n    Supervisor.start_link(children, strategy: :one_for_one)\n  end\nend\n"
            },
            note="the offered fix uses the workspace's Task.Supervisor",
        ),
        good(
            """
            defmodule MyApp.Notifier do
              def run, do: Task.start(fn -> :ok end)
            end
            """,
            path="priv/repo/seeds.exs",
            note="scripts are excluded by path",
        ),
        good(
            """
            defmodule Mix.Tasks.MyApp.Warm do
              use Mix.Task
              def run(_), do: Enum.each(1..3, fn _ -> spawn(fn -> :ok end) end)
            end
            """,
            path="lib/mix/tasks/my_app.warm.ex",
            note="Mix tasks are excluded",
        ),
        good(
            """
            defmodule MyApp.Release do
              def warm_caches, do: Enum.each([:a, :b], fn name -> spawn(fn -> name end) end)
            end
            """,
            path="lib/my_app/release.ex",
            note="release tasks (`MyApp.Release`, run with `bin/my_app eval`) are excluded like scripts",
        ),
        good(
            """
            defmodule MyApp.Notifier do
              def notify(users), do: Task.Supervisor.start_child(MyApp.TaskSup, fn -> users end)
              def linked(f), do: Task.start_link(f)
              def other(x), do: MyApp.Job.start(x)
            end
            """,
            note="supervised and linked starts, other modules' start/1",
        ),
        good(
            """
            defmodule MyApp.NotifierTest do
              use ExUnit.Case
              test "x", do: spawn(fn -> :ok end)
            end
            """,
            path="test/my_app/notifier_test.exs",
            note="tests are excluded",
        ),
    ],
)


def _bounded(collection) -> bool:
    """A literal collection, or a range with literal ends."""
    if collection is None:
        return True
    if is_literal(collection):
        return True
    if collection.type == "binary_operator" and text(collection.child_by_field_name("operator")) == "..":
        return is_literal(collection.child_by_field_name("left")) and is_literal(collection.child_by_field_name("right"))
    return False


def _in_loop(call) -> bool:
    for parent in ancestors(call):
        if parent.type == "anonymous_function":
            holder = parent.parent
            if holder is not None and holder.type == "arguments" and holder.parent is not None:
                loop = holder.parent
                mod, fun = call_name(loop)
                if (mod, fun) in LOOPS or mod == "Stream":
                    args = effective_arguments(loop)
                    if args and args[0] != parent and not _bounded(args[0]):
                        return True
        if parent.type == "call" and call_name(parent) == (None, "for"):
            generators = [
                a for a in call_arguments(parent)
                if a.type == "binary_operator" and text(a.child_by_field_name("operator")) == "<-"
            ]
            if any(not _bounded(g.child_by_field_name("right")) for g in generators):
                return True
        if parent.type == "call" and call_name(parent)[1] in ("def", "defp"):
            return False
    return False


@RULE.check
def check(ctx: Context, match: Match):
    path = ctx.path
    if not path.is_lib or path.is_mix_task or not path.is_production_code:
        return
    call = match.node("call")
    info = ctx.module_of(call)
    if info is not None and is_mix_task_module(info.name):
        return
    if (info is not None and info.name and info.name.rsplit(".", 1)[-1] in ("Release", "ReleaseTasks")) or path.name == "release.ex":
        return  # release tasks run once from `bin/app eval`, like scripts (catalog OTP009)
    name = resolved_call(ctx, call)
    arities = SPAWNS.get(name)
    args = effective_arguments(call)
    if arities is None or len(args) not in arities or enclosing_function(call) is None:
        return
    label = text(call.child_by_field_name("target"))
    loop = _in_loop(call)
    if loop:
        message = f"{label} inside a loop starts one unsupervised process per element, with no limit; use Task.Supervisor.async_stream_nolink with max_concurrency"
    else:
        message = f"{label} starts an unsupervised process: it is not shut down cleanly and its failures are not restarted; prefer Task.Supervisor.start_child"
    fixes = []
    if name == ("Task", "start") and ctx.workspace is not None and pipe_source(call) is None:
        supervisors = sorted({n for _p, names in ctx.workspace.facts("otp_task_supervisors") for n in names})
        arguments = call_arguments(call)
        if supervisors and arguments:
            target = call.child_by_field_name("target")
            fixes.append(
                fix(
                    f"Use Task.Supervisor.start_child({supervisors[0]}, ...)",
                    Edit(target.start_byte, target.end_byte, "Task.Supervisor.start_child"),
                    Edit(arguments[0].start_byte, arguments[0].start_byte, f"{supervisors[0]}, "),
                    safe=False,
                )
            )
    yield ctx.finding(call, message, fixes=fixes, severity=Severity.WARNING if loop else Severity.INFORMATION)
