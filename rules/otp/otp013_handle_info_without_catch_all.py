"""OTP013 handle-info-without-catch-all."""

from exhort.findings import Edit, Related, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import atom_value, call_name, function_def, module_members, text, walk

from ._common import effective_arguments, resolved_call

RULE = Rule(
    code="OTP013",
    requires=(b"GenServer",),  # the query matches `use GenServer` as written
    name="handle-info-without-catch-all",
    category="otp",
    severity=Severity.INFORMATION,
    summary="handle_info/2 without a catch-all clause in a GenServer that receives unrequested messages",
    scope="module",
    fix_safety="offer",
    query=r"""
    ((call target: (identifier) @use (arguments . (alias) @mod)) @call (#eq? @use "use") (#eq? @mod "GenServer"))
    """,
    explanation="""
        ## OTP013 handle-info-without-catch-all

        `handle_info/2` "is optional. If one is not implemented, the received message will be
        logged" (`elixir:lib/elixir/lib/gen_server.ex:699-700@v1.20.3`; the default is injected
        by `use GenServer`, `gen_server.ex:944`). Once you define your own clauses that default is
        gone, and a message no clause matches raises `FunctionClauseError` and crashes the
        server. Task replies and `:DOWN` messages (`task.ex:805-815`), monitors, timers, trapped
        exits and new PubSub payload shapes are the usual surprises.

        Flagged: a `use GenServer` module whose `handle_info/2` clauses (collected across the
        module) have no catch-all (a first parameter that is a bare variable or `_`, without a
        guard), and that calls something delivering messages it did not ask for by name:
        `Process.monitor/1`, `Task.async`, `Task.Supervisor.async_nolink`, `*.subscribe`,
        `:timer.send_interval`, `Process.flag(:trap_exit, true)`, `:net_kernel.monitor_nodes`,
        unless the clauses already cover what that call delivers (a `{:DOWN, ...}` clause for a
        monitor, `{ref, result}` and `{:DOWN, ...}` clauses for tasks, an `{:EXIT, ...}` clause
        for trapped exits, the interval's message). Subscriptions always count: their payload
        shapes are decided elsewhere.

        **Fix** (offer: "crash" becomes "log and continue"): add as the last clause

        ```elixir
        def handle_info(msg, state) do
          require Logger
          Logger.warning("unexpected message: #{inspect(msg)}")
          {:noreply, state}
        end
        ```

        Some designs crash on purpose, which is why this is information only.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Watcher do
              use GenServer

              def init(pid) do
                Process.flag(:trap_exit, true)
                {:ok, pid}
              end

              def handle_info({:DOWN, _ref, :process, _pid, _reason}, state), do: {:stop, :normal, state}

              def handle_call(:get, _from, state), do: {:reply, state, state}

              def handle_info(:tick, state) when is_pid(state) do  # expect: OTP013
                {:noreply, state}
              end
            end
            """,
            fixed="""
            defmodule MyApp.Watcher do
              use GenServer

              def init(pid) do
                Process.flag(:trap_exit, true)
                {:ok, pid}
              end

              def handle_info({:DOWN, _ref, :process, _pid, _reason}, state), do: {:stop, :normal, state}

              def handle_call(:get, _from, state), do: {:reply, state, state}

              def handle_info(:tick, state) when is_pid(state) do  # expect: OTP013
                {:noreply, state}
              end

              def handle_info(msg, state) do
                require Logger
                Logger.warning("unexpected message: #{inspect(msg)}")
                {:noreply, state}
              end
            end
            """,
            note="clauses that are not contiguous; a guarded clause is not a catch-all",
        ),
        bad(
            """
            defmodule MyApp.Feed do
              use GenServer
              alias Phoenix.PubSub

              def init(_) do
                PubSub.subscribe(MyApp.PubSub, "feed")
                :timer.send_interval(1_000, :tick)
                {:ok, []}
              end

              def handle_info({:new_post, post}, state), do: {:noreply, [post | state]}
              def handle_info(msg, state) when is_atom(msg), do: {:noreply, state}  # expect: OTP013
            end
            """,
            note="PubSub and timers; a guarded variable clause is not a catch-all",
        ),
        good(
            """
            defmodule MyApp.Watcher do
              use GenServer

              def init(pid) do
                Process.monitor(pid)
                Process.flag(:trap_exit, true)
                {:ok, pid}
              end

              def handle_info({:DOWN, _, :process, _, _}, state), do: {:stop, :normal, state}
              def handle_info(_other, state), do: {:noreply, state}
            end
            """,
            note="a catch-all clause exists",
        ),
        good(
            """
            defmodule MyApp.Ticker do
              use GenServer

              def init(_) do
                Process.send_after(self(), :tick, 1_000)
                Process.flag(:trap_exit, false)
                {:ok, 0}
              end

              def handle_info(:tick, n), do: {:noreply, n + 1}
            end
            """,
            note="only messages asked for by name (send_after of a known atom)",
        ),
        good(
            """
            defmodule MyApp.Registry do
              use GenServer

              def handle_call({:register, pid}, _from, state) do
                ref = Process.monitor(pid)
                task = Task.Supervisor.async_nolink(MyApp.TaskSup, fn -> :ok end)
                {:reply, ref, Map.put(state, task.ref, pid)}
              end

              def handle_info({ref, _result}, state) when is_reference(ref), do: {:noreply, state}
              def handle_info({:DOWN, ref, :process, _pid, _reason}, state), do: {:noreply, Map.delete(state, ref)}
            end
            """,
            note="the clauses already cover monitor and task messages (found on commanded and oban)",
        ),
    ],
)


def _first_tuple(clause):
    """The elements of a handle_info clause's first parameter when it is a tuple pattern."""
    param = clause.params[0]
    if param.type == "binary_operator" and text(param.child_by_field_name("operator")) == "=":
        left, right = param.child_by_field_name("left"), param.child_by_field_name("right")
        param = left if left is not None and left.type == "tuple" else right
    if param is None or param.type != "tuple":
        return None
    return [c for c in param.named_children if c.type != "comment"]


def _handles(clauses, tag: str) -> bool:
    """Some clause matches a tuple tagged `tag` (`{:DOWN, ...}`)."""
    return any((items := _first_tuple(c)) and text(items[0]) == tag for c in clauses)


def _handles_reply(clauses) -> bool:
    """Some clause matches a task reply `{ref, result}` (a 2-tuple starting with a variable)."""
    return any((items := _first_tuple(c)) and len(items) == 2 and items[0].type == "identifier" for c in clauses)


def _uncovered_source(ctx, node, clauses) -> bool:
    """Does this call deliver messages that no handle_info clause is written for?"""
    module, function = resolved_call(ctx, node)
    args = effective_arguments(node)
    name = (module, function)
    if name == ("Process", "monitor"):
        return not _handles(clauses, ":DOWN")
    if name in (("Task", "async"), ("Task.Supervisor", "async_nolink"), ("Task.Supervisor", "async")):
        return not (_handles_reply(clauses) and _handles(clauses, ":DOWN"))
    if name == (":net_kernel", "monitor_nodes"):
        return not (_handles(clauses, ":nodeup") and _handles(clauses, ":nodedown"))
    if name == (":timer", "send_interval"):
        message = text(args[-1]) if len(args) in (2, 3) else None
        return not any(text(c.params[0]) == message for c in clauses)
    if name == ("Process", "flag"):
        trapping = len(args) == 2 and atom_value(args[0]) == "trap_exit" and atom_value(args[1]) == "true"
        return trapping and not _handles(clauses, ":EXIT")
    if function == "subscribe" and module is not None and len(args) in (1, 2):
        return True  # payload shapes are decided elsewhere
    return False


@RULE.check
def check(ctx: Context, match: Match):
    info = ctx.module_of(match.node("call"))
    if info is None or info.node != match.node("call").parent.parent:
        return
    clauses = [f for f in (function_def(m) for m in module_members(info.node)) if f and f.name == "handle_info" and f.arity == 2 and f.kind == "def"]
    if not clauses:
        return
    for clause in clauses:
        first = clause.params[0]
        if clause.guard is None and first.type == "identifier":
            return
    source = next((n for n in walk(info.node) if n.type == "call" and _uncovered_source(ctx, n, clauses)), None)
    if source is None:
        return
    last = clauses[-1]
    indent = " " * last.node.start_point[1]
    clause_text = (
        f"\n\n{indent}def handle_info(msg, state) do\n{indent}  require Logger\n"
        f'{indent}  Logger.warning("unexpected message: #{{inspect(msg)}}")\n{indent}  {{:noreply, state}}\n{indent}end'
    )
    yield ctx.finding(
        last.head,
        f"handle_info/2 has no catch-all clause, but this server receives messages it did not ask for by name ({text(source.child_by_field_name('target'))}); an unmatched message crashes it",
        related=[Related(source.start_byte, source.end_byte, "messages arrive because of this call")],
        fixes=[fix("Add a catch-all handle_info/2 that logs", Edit(last.node.end_byte, last.node.end_byte, clause_text), safe=False)],
    )


_ = call_name
