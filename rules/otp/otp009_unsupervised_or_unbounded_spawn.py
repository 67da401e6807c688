"""OTP009 unsupervised-or-unbounded-spawn."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.execution import Runs
from exhort.syntax import (
    ancestors,
    call_arguments,
    call_name,
    enclosing_function,
    is_definition_head,
    is_literal,
    pipe_source,
    text,
    walk,
)

from exhort_rules.ecto._common import binds

from ._common import effective_arguments, inside, resolved_call

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
    # A hint (hidden by the CLI unless asked): see "Severity" in the explanation.
    severity=Severity.HINT,
    summary="A process started outside any supervisor (one per element inside a loop)",
    fix_safety="offer",
    workspace=True,
    # Production risk only: tests, Mix tasks, migrations, release tasks, console helpers and
    # compile-time code (exhort.execution) start processes that die with the command.
    runs_in=frozenset({Runs.PRODUCTION}),
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

        Flagged in `lib/`: `Task.start/1,3`, `spawn/1,3` and `Process.spawn/2,4` (information in
        code that serves requests or jobs: controllers, LiveViews, channels, plugs, resolvers,
        Oban workers; a hint elsewhere), and any of them or `spawn_link/1,3` inside such a loop
        (warning).

        **Severity.** The catalog has the single spawn at information; it keeps that severity
        only in code that serves requests or jobs, and is a hint elsewhere, which the CLI shows
        only when asked (`--min-severity hint`) and editors show faded.
        Read by hand on real code, a single `Task.start` in a request path (a notification, a
        webhook, a counter) was nearly always worth the advice, but in tooling and
        infrastructure code most spawns were deliberate: helpers whose failure is handled,
        fixture projects, processes whose end does not matter. About three findings in four
        were worth reading, short of the bar for a finding shown by default. The unbounded
        loop stays a warning.

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

        Not flagged:

        - `spawn_link` (and `Process.spawn(..., [:link])`) outside a loop: the process is linked
          to its caller, so it stops when the caller's supervisor stops the caller and its crash
          reaches the caller; it is not the unsupervised process this rule is about;
        - a spawn inside a custom `start_link`: that process is the one the supervisor starts;
        - a process spawned only to stop another one or the node without waiting
          (`GenServer.stop`, `Supervisor.stop`, `Process.exit`, `terminate_child`,
          `System.halt` in its function, or in the local function its MFA names): it holds no
          work a shutdown could lose;
        - a process the caller waits for right away (a `receive` follows in the same
          function): its lifetime is the caller's wait;
        - `def spawn(...)`: a definition, not a call;
        - loops over a bounded collection (a literal, or a range whose ends are literals,
          module attributes, `System.schedulers_online()` or `min(n, bound)`: a fixed pool),
          and loops that sleep between iterations (one process per element or chunk at a fixed
          rate); a `Task.start` there is still an unsupervised process (a hint);
        - code that does not serve production traffic (`exhort.execution`): tests and test
          support, Mix tasks and scripts, migrations, release tasks and console helpers
          (`MyApp.Release`, `MyApp.Debug`), macros and other compile-time code.

        Libraries that spawn on purpose get a hint only.
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
            note="Enum.each, guard, for and Stream.map loops (warnings) and a single spawn (hint)",
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
        bad(
            """
            defmodule MyApp.Pinger do
              alias MyApp.Worker

              def ping(node), do: Kernel.spawn(Node, :ping, [node])  # expect: OTP009
              def run(job), do: Task.start(Worker, :run, [job])  # expect: OTP009
              def detach(fun), do: Process.spawn(fun, [])  # expect: OTP009

              def fan(jobs, pool) do
                Enum.map(jobs, fn job -> spawn_link(fn -> Worker.run(job, pool) end) end)  # expect: OTP009
              end

              def drip(rows) do
                rows
                |> Enum.chunk_every(100)
                |> Enum.each(fn chunk ->
                  Task.start(fn -> Worker.import(chunk) end)  # expect: OTP009
                  Process.sleep(1_000)
                end)
              end
            end
            """,
            note="MFA forms and Kernel.spawn (hint); spawn_link in a loop (warning); a paced loop's Task.start is still unsupervised (hint)",
        ),
        good(
            """
            defmodule MyApp.Proc do
              def spawn(fun), do: Task.Supervisor.start_child(MyApp.TaskSup, fun)
              def spawn_link(mod, fun, args) when is_atom(mod), do: apply(mod, fun, args)
            end
            """,
            note="definitions named spawn/spawn_link are not calls",
        ),
        good(
            """
            defmodule MyApp.Listener do
              def start_link(port) do
                pid = spawn_link(fn -> accept(port) end)
                {:ok, pid}
              end

              def start_link(port, opts) when is_list(opts), do: {:ok, spawn(__MODULE__, :accept, [port])}

              def watch(parent), do: spawn_link(fn -> loop(parent) end)
              def helper(fun), do: Process.spawn(fun, [:link])
            end
            """,
            note="a custom start_link spawns the supervised process itself; linked helpers die with their caller",
        ),
        good(
            """
            defmodule MyApp.Pool do
              @workers 4

              def drain(queue, jobs) do
                count = min(length(jobs), System.schedulers_online())
                for _ <- 1..count, do: spawn_link(fn -> work(queue) end)
                Enum.each(1..System.schedulers_online(), fn _ -> spawn_link(fn -> work(queue) end) end)
                Enum.map(1..@workers, fn _ -> spawn_link(fn -> work(queue) end) end)
              end

              def throttle(ids) do
                ids
                |> Enum.chunk_every(50)
                |> Enum.each(fn chunk ->
                  spawn_link(fn -> work(chunk) end)
                  :timer.sleep(500)
                end)
              end
            end
            """,
            note="bounded loops: a fixed pool of min(n, schedulers) processes, and one process per chunk with a sleep between",
        ),
        good(
            """
            defmodule MyApp.Conns do
              def close_async(conn) do
                spawn(fn ->
                  try do
                    GenServer.stop(conn, :normal, 5_000)
                  catch
                    :exit, _ -> Process.exit(conn, :kill)
                  end
                end)

                :ok
              end

              def resolve_conflict(loser), do: Task.start(fn -> Supervisor.stop(loser, :shutdown) end)
            end
            """,
            note="processes spawned only to stop another one without waiting for it",
        ),
        good(
            """
            defmodule MyApp.Pipeline do
              def terminate(pid, async?) do
                if async?, do: Task.start(__MODULE__, :do_terminate, [pid]), else: do_terminate(pid)
              end

              def do_terminate(pid), do: Supervisor.stop(pid, :normal)

              def restart, do: Task.start(fn -> MyApp.Log.info("restart") && System.halt(0) end)

              def with_input(input, fun) do
                caller = self()
                spawn(fn -> send(caller, {:result, MyApp.IO.with_input(input, fun)}) end)

                receive do
                  {:result, result} -> result
                after
                  5_000 -> {:error, :timeout}
                end
              end
            end
            """,
            note="a stop helper named by an MFA, a process that halts the node, and a process the caller awaits with receive",
        ),
        good(
            """
            defmodule MyApp.Debug do
              def trace_for(ms), do: spawn(fn -> Process.sleep(ms) end)
            end

            defmodule MyApp.Macros do
              defmacro warm(name) do
                spawn(fn -> IO.puts("compiling") end)
                quote do: unquote(name)
              end
            end
            """,
            note="console helpers (MyApp.Debug) and macro bodies (compile time) do not serve production traffic",
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


SLEEPS = {("Process", "sleep"), (":timer", "sleep")}
# Calls that return a number fixed for the life of the node: a pool sized by them is bounded.
FIXED_SIZES = {("System", "schedulers_online"), ("System", "schedulers"), (":erlang", "system_info")}


def _bounded_number(node, depth: int = 0) -> bool:
    """A literal, a module attribute, the scheduler count, `min(x, bound)` or a variable bound
    to one of those: a pool size that does not grow with the input."""
    if node is None or depth > 4:
        return False
    if is_literal(node):
        return True
    if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "@":
        return True  # a module attribute is fixed at compile time
    if node.type == "identifier":
        bound = binds(node, text(node))
        return bool(bound) and _bounded_number(bound[-1], depth + 1)
    if node.type == "call":
        name = call_name(node)
        if name in FIXED_SIZES:
            return True
        if name in ((None, "min"), ("Kernel", "min")):
            return any(_bounded_number(arg, depth + 1) for arg in call_arguments(node))
    return False


def _bounded(collection) -> bool:
    """A literal collection, or a range whose ends are bounded numbers (`1..4`,
    `1..min(length(jobs), System.schedulers_online())`)."""
    if collection is None:
        return True
    if is_literal(collection):
        return True
    if collection.type == "binary_operator" and text(collection.child_by_field_name("operator")) == "//":
        collection = collection.child_by_field_name("left")  # a stepped range a..b//s
    if collection.type == "binary_operator" and text(collection.child_by_field_name("operator")) == "..":
        return _bounded_number(collection.child_by_field_name("left")) and _bounded_number(collection.child_by_field_name("right"))
    return False


def _loop(call):
    """The loop body (anonymous function or `for`) that runs `call` once per element of a
    collection that is not bounded, or None."""
    for parent in ancestors(call):
        if parent.type == "anonymous_function":
            holder = parent.parent
            if holder is not None and holder.type == "arguments" and holder.parent is not None:
                loop = holder.parent
                mod, fun = call_name(loop)
                if (mod, fun) in LOOPS or mod == "Stream":
                    args = effective_arguments(loop)
                    if args and args[0] != parent and not _bounded(args[0]):
                        return parent
        if parent.type == "call" and call_name(parent) == (None, "for"):
            generators = [
                a for a in call_arguments(parent)
                if a.type == "binary_operator" and text(a.child_by_field_name("operator")) == "<-"
            ]
            if any(not _bounded(g.child_by_field_name("right")) for g in generators):
                return parent
        if parent.type == "call" and call_name(parent)[1] in ("def", "defp"):
            return None
    return None


def _paced(loop, spawn) -> bool:
    """The loop sleeps between iterations (outside the process it starts): one process per
    element or chunk, at a fixed rate."""
    for node in walk(loop):
        if node.type == "call" and call_name(node) in SLEEPS and not inside(node, spawn):
            return True
    return False


# Calls that stop another process or the node: a process spawned to run one (so that the caller
# need not wait) holds no work a shutdown could lose.
STOPS = {
    ("GenServer", "stop"), ("Supervisor", "stop"), ("DynamicSupervisor", "stop"), ("Agent", "stop"),
    ("Process", "exit"), (":gen_statem", "stop"), (":gen_server", "stop"),
    ("Supervisor", "terminate_child"), ("DynamicSupervisor", "terminate_child"),
    ("System", "halt"), ("System", "stop"), (":init", "stop"),
}


def _handed_functions(info, args):
    """The code the new process runs: closures among the arguments, and the local function an
    MFA of this module names (`Task.start(__MODULE__, :do_stop, [pid])`)."""
    for arg in args:
        if arg.type == "anonymous_function":
            yield arg
    if len(args) >= 2 and text(args[0]) == "__MODULE__" and args[1].type == "atom" and info is not None:
        for fdef in info.definitions(text(args[1])[1:]):
            yield fdef.node


def _stops_another_process(info, args) -> bool:
    """The function handed over stops another process or the node (a shutdown helper)."""
    return any(
        node.type == "call" and call_name(node) in STOPS
        for function in _handed_functions(info, args)
        for node in walk(function)
    )


def _awaited(call, function) -> bool:
    """The caller waits for the new process right away: a `receive` follows the spawn in the
    same function. Its lifetime is the caller's wait, like Task.async and await."""
    return any(
        node.type == "call" and call_name(node) == (None, "receive") and node.start_byte > call.end_byte
        for node in walk(function.node)
    )


def _linked(name, args) -> bool:
    """spawn_link, or Process.spawn with the :link option: the process dies with its caller."""
    if name[1] == "spawn_link":
        return True
    return name == ("Process", "spawn") and bool(args) and ":link" in text(args[-1])


@RULE.check
def check(ctx: Context, match: Match):
    path = ctx.path
    if not path.is_lib:
        return
    call = match.node("call")
    if is_definition_head(call):
        return  # `def spawn(fun)` defines a function, it does not start a process
    name = resolved_call(ctx, call)
    arities = SPAWNS.get(name)
    args = effective_arguments(call)
    function = enclosing_function(call)
    if arities is None or len(args) not in arities or function is None:
        return
    if function.name == "start_link":
        return  # a custom start_link: the process it spawns is the one its supervisor starts
    loop = _loop(call)
    if loop is not None and _paced(loop, call):
        loop = None
    label = text(call.child_by_field_name("target"))
    if loop is not None:
        message = f"{label} inside a loop starts one process per element, with no limit; use Task.Supervisor.async_stream_nolink with max_concurrency"
    elif _linked(name, args):
        return  # linked to its caller: stopped when the caller stops, its crash reaches the caller
    elif _stops_another_process(ctx.module_of(call), args) or _awaited(call, function):
        return
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
    if loop is not None:
        severity = Severity.WARNING
    else:
        severity = Severity.INFORMATION if _serves_requests(ctx.module_of(call)) else Severity.HINT
    yield ctx.finding(call, message, fixes=fixes, severity=severity)


# Module kinds and name endings of code that serves requests or jobs: a lone Task.start there
# (a notification, a webhook, a counter) was nearly always worth the advice on real code.
_REQUEST_KINDS = frozenset({"live_view", "live_component", "oban_worker"})
_REQUEST_NAME_ENDINGS = ("Controller", "Live", "Plug", "Resolver", "Worker", "Channel", "Socket")


def _serves_requests(module) -> bool:
    if module is None:
        return False
    if module.kind in _REQUEST_KINDS:
        return True
    last = (module.name or "").rsplit(".", 1)[-1]
    return last.endswith(_REQUEST_NAME_ENDINGS) or any(
        use.module.endswith("Web") and "controller" in text(use.options) for use in module.uses
    )
