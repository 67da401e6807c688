"""OTP007 blocking-call-in-callback."""

from exhort.execution import Runs
from exhort.findings import Edit, Severity
from exhort.parsing import declared_query
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import block_body, call_arguments, call_name, do_block, enclosing_function, tails, text

from .._queries import def_query, sub_matches
from ._common import effective_arguments, literal_int, resolved_call, runs_in_other_process, uses_genserver

BLOCKING_CALLBACKS = {("handle_call", 3), ("handle_cast", 2), ("handle_info", 2), ("handle_continue", 2), ("init", 1)}
HTTP_MODULES = ("Req", "HTTPoison", "Tesla")

RULE = Rule(
    code="OTP007",
    requires=(b"GenServer",),  # only modules that `use GenServer` (aliases resolved: the name is written)
    name="blocking-call-in-callback",
    category="otp",
    severity=Severity.WARNING,
    summary="A blocking call inside a GenServer callback stalls every caller of the server",
    # A server in a test, a Mix task or a migration blocks only that command.
    runs_in=frozenset({Runs.PRODUCTION}),
    fix_safety="offer",
    # Anchored on the callbacks' definitions; CALLS finds the candidate calls inside each.
    query=def_query(["def"], sorted({name for name, _ in BLOCKING_CALLBACKS})),
    explanation="""
        ## OTP007 blocking-call-in-callback

        A GenServer handles one message at a time; while a callback blocks, every caller waits
        and their `GenServer.call` timeouts start firing. The `Task` docs: "It is not
        recommended to `await` a long-running task inside an OTP behaviour such as GenServer.
        Instead, you should match on the message coming from a task inside your
        handle_info/2 callback" (`elixir:lib/elixir/lib/task.ex:801-822@v1.20.3`).
        `start_link/3` "will block until [init/1] returns" (`gen_server.ex:533-535`), so slow
        work in `init/1` delays the whole supervision tree; `{:continue, arg}` runs right after
        the loop is entered (`gen_server.ex:550-553`).

        Flagged in `handle_call/3`, `handle_cast/2`, `handle_info/2`, `handle_continue/2` and
        `init/1`: `Task.await`, `Task.await_many`, `Task.yield` with a non-zero timeout,
        `Process.sleep`, `:timer.sleep` and a `receive` without `after 0`. In `init/1` only, a
        hint for `Repo.*` and HTTP client calls (`Req`, `HTTPoison`, `Finch.request*`, `Tesla`).

        **Bad**

        ```elixir
        def handle_call({:fetch, url}, _from, state) do
          task = Task.async(fn -> HTTP.get(url) end)
          {:reply, Task.await(task, 30_000), state}
        end
        ```

        **Good**: start the work with `Task.Supervisor.async_nolink/3`, return `{:noreply, ...}`,
        and reply from the `handle_info({ref, result}, state)` clause with `GenServer.reply/2`
        (plus a `{:DOWN, ref, :process, _, reason}` clause).

        **Fix** (offer, `init/1` only): move the body into `handle_continue/2`. Callers can then
        reach the server before the data is loaded, and later siblings start earlier.

        Not flagged: `Task.await(t, 0)`, `Task.yield(t, 0)`, `receive ... after 0`; a wait
        followed in its block by `System.halt`/`System.stop` (the node is going down); the body of a
        function handed to `Task.*`, `Task.Supervisor.*`, `spawn*`, `Agent.*` or the LiveView
        async functions (`start_async`, `assign_async`, `stream_async`): another process runs
        it, not the callback; code that does not serve production traffic (`exhort.execution`:
        tests and test support, Mix tasks, migrations, release tasks).
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Fetcher do
              use GenServer

              def handle_call({:fetch, url}, _from, state) do
                task = Task.async(fn -> MyApp.HTTP.get(url) end)
                {:reply, Task.await(task, 30_000), state}  # expect: OTP007
              end

              def handle_cast({:many, tasks}, state) when is_list(tasks) do
                tasks |> Task.await_many()  # expect: OTP007
                {:noreply, state}
              end

              def handle_info(:poll, state) do
                Process.sleep(1_000)  # expect: OTP007
                receive do  # expect: OTP007
                  {:done, x} -> {:noreply, x}
                after
                  5_000 -> {:noreply, state}
                end
              end

              def handle_continue(:wait, state), do: {:noreply, Task.yield(state.task) || state}  # expect: OTP007
            end
            """,
            note="await, await_many in a pipe, sleep, receive with a long after, yield with the default timeout",
        ),
        bad(
            """
            defmodule MyApp.Loader do
              use GenServer
              alias MyApp.Repo

              def init(opts) do
                rows = Repo.all(MyApp.Row)  # expect: OTP007
                {:ok, %{rows: rows, opts: opts}}
              end
            end
            """,
            fixed="""
            defmodule MyApp.Loader do
              use GenServer
              alias MyApp.Repo

              def init(opts) do
                {:ok, opts, {:continue, :init}}
              end

              @impl true
              def handle_continue(:init, opts) do
                rows = Repo.all(MyApp.Row)  # expect: OTP007
                {:noreply, %{rows: rows, opts: opts}}
              end
            end
            """,
            note="a Repo call in init/1 is a hint; the offered fix moves the body to handle_continue/2",
        ),
        good(
            """
            defmodule MyApp.Fetcher do
              use GenServer

              def handle_info(:check, state) do
                Task.yield(state.task, 0)
                Task.await(state.other, 0)
                receive do
                  :flush -> :ok
                after
                  0 -> :ok
                end
                Task.start(fn -> Process.sleep(100) end)
                {:noreply, state}
              end

              def handle_call(:get, _from, state), do: {:reply, state, state}
              def reload(state), do: Process.sleep(10) && state
            end
            """,
            note="zero timeouts do not block; closures in other processes; non-callbacks",
        ),
        good(
            """
            defmodule MyApp.Refresher do
              use GenServer

              def handle_info(:refresh, state) do
                Task.Supervisor.async_nolink(MyApp.TaskSup, fn ->
                  Process.sleep(1_000)
                  Task.await(Task.async(fn -> MyApp.Api.fetch() end), 30_000)
                end)

                spawn_link(fn ->
                  receive do
                    :go -> MyApp.Api.fetch()
                  end
                end)

                poll = fn -> Process.sleep(500) && MyApp.Api.fetch() end
                Task.Supervisor.start_child(MyApp.TaskSup, poll)
                {:noreply, state}
              end

              def handle_cast(:load, state) do
                Agent.update(state.agent, fn s -> Process.sleep(10) && s end)
                {:noreply, state}
              end
            end
            """,
            note="bodies of functions handed to Task.Supervisor, Task, spawn_link and Agent run in another process, also when bound to a variable first",
        ),
        good(
            """
            defmodule MyApp.Server do
              use GenServer

              def handle_continue(:exit, state) do
                Process.sleep(200)
                System.halt(0)
                {:noreply, state}
              end
            end
            """,
            note="a short wait before the node halts (output flushes) blocks nobody",
        ),
        good(
            """
            defmodule MyApp.Testing.FakeServer do
              use GenServer
              def handle_call(:slow, _from, state), do: {:reply, Process.sleep(50), state}
            end
            """,
            note="test support named *.Testing runs only in tests",
        ),
        good(
            """
            defmodule MyApp.Fetcher do
              use GenServer
              def handle_info(:poll, state), do: Process.sleep(10) && {:noreply, state}
            end
            """,
            path="test/support/fetcher.ex",
            note="test/ is excluded",
        ),
        good(
            """
            defmodule MyApp.Worker do
              use Oban.Worker
              def handle_info(:poll, state), do: Process.sleep(10) && {:noreply, state}
              def init(_), do: {:ok, MyApp.Repo.all(MyApp.Row)}
            end
            """,
            note="not a GenServer module",
        ),
    ],
)


def _blocking(ctx: Context, node, in_init: bool):
    """(message, severity) for a blocking call, or None."""
    name = call_name(node)
    if name == (None, "receive"):
        block = do_block(node)
        if block is None:
            return None
        after = next((c for c in block.named_children if c.type == "after_block"), None)
        if after is not None:
            stabs = [c for c in after.named_children if c.type == "stab_clause"]
            if len(stabs) == 1:
                left = stabs[0].child_by_field_name("left")
                args = [c for c in (left.named_children if left is not None else []) if c.type != "comment"]
                if len(args) == 1 and literal_int(args[0]) == 0:
                    return None
        return "receive without `after 0` blocks the server until a message arrives", Severity.WARNING
    module, function = resolved_call(ctx, node)
    args = effective_arguments(node)
    if module == "Task" and function in ("await", "yield", "await_many"):
        if len(args) >= 2 and literal_int(args[1]) == 0:
            return None
        return f"Task.{function} blocks the server; receive the task reply in handle_info/2 instead", Severity.WARNING
    if (module, function) in (("Process", "sleep"), (":timer", "sleep")):
        return f"{module}.sleep blocks the server; schedule with Process.send_after/3 instead", Severity.WARNING
    if not in_init or module is None or module == "<expr>":
        return None
    if module == "Repo" or module.endswith(".Repo") or module in HTTP_MODULES or (module == "Finch" and function.startswith("request")):
        return (
            f"{module}.{function} in init/1 blocks start_link and the supervision tree; consider returning {{:ok, state, {{:continue, ...}}}}",
            Severity.HINT,
        )
    return None


CALLS = declared_query(r"""
((call target: (dot left: [(alias) (atom)] right: (identifier))) @call)
((call target: (identifier) @fun) @call (#eq? @fun "receive"))
""")


@RULE.check
def check(ctx: Context, match: Match):
    if ctx.path.is_test:
        return
    definition = match.node("def")
    for _, captures in sub_matches(definition, CALLS):
        yield from _check_call(ctx, captures["call"][0], definition)


def _check_call(ctx: Context, node, definition):
    info = ctx.module_of(node)
    if not uses_genserver(info):
        return
    fdef = enclosing_function(node)
    if fdef is None or fdef.kind != "def" or (fdef.name, fdef.arity) not in BLOCKING_CALLBACKS or fdef.body is None:
        return
    if fdef.node != definition:  # a definition nested in this one: matched on its own
        return
    if runs_in_other_process(node, fdef.node):
        return
    found = _blocking(ctx, node, fdef.name == "init")
    if found is None or _node_stops_after(node):
        return
    message, severity = found
    fixes = []
    if fdef.name == "init":
        edit = _continue_fix(fdef, info)
        if edit is not None:
            fixes.append(fix("Move the body of init/1 into handle_continue/2", edit, safe=False))
    where = node if node.type != "call" or call_name(node) != (None, "receive") else (node.start_byte, node.start_byte + 7)
    yield ctx.finding(where, message, fixes=fixes, severity=severity)


HALTS = {("System", "halt"), ("System", "stop"), (":init", "stop"), (":erlang", "halt")}


def _node_stops_after(node) -> bool:
    """The block goes on to stop the node (`Process.sleep(200); System.halt(0)`, letting output
    flush): nobody is left waiting on this server."""
    block = node.parent
    if block is None:
        return False
    return any(
        sibling.start_byte > node.end_byte and sibling.type == "call" and call_name(sibling) in HALTS
        for sibling in block.named_children
    )


def _continue_fix(fdef, info) -> Edit | None:
    """init(arg) do BODY {:ok, S} end -> init returns {:ok, arg, {:continue, :init}} and
    handle_continue(:init, arg) runs BODY and returns {:noreply, S}."""
    if len(info.definitions("init", 1)) != 1 or info.definitions("handle_continue", 2):
        return None
    if fdef.guard is not None or fdef.params[0].type != "identifier" or text(fdef.params[0]).startswith("_"):
        return None
    block = fdef.body
    if block is None or block.type != "do_block":
        return None
    items = block_body(block)
    if not items or len(list(tails(block))) != 1:
        return None
    last = items[-1]
    elements = [c for c in last.named_children if c.type != "comment"] if last.type == "tuple" else []
    if len(elements) != 2 or text(elements[0]) != ":ok":
        return None
    arg = text(fdef.params[0])
    column = fdef.node.start_point[1]
    indent = " " * column
    data = fdef.node.text.decode()
    start = fdef.node.start_byte
    body_text = data[items[0].start_byte - start : last.start_byte - start]
    new = (
        f"def init({arg}) do\n{indent}  {{:ok, {arg}, {{:continue, :init}}}}\n{indent}end\n\n"
        f"{indent}@impl true\n{indent}def handle_continue(:init, {arg}) do\n{indent}  {body_text}"
        f"{{:noreply, {text(elements[1])}}}\n{indent}end"
    )
    return Edit(fdef.node.start_byte, fdef.node.end_byte, new)


_ = call_arguments
