"""OTP008 task-async-result-discarded."""

from exhort.execution import Runs
from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import ancestors, enclosing_function, is_defmodule, named_definition, pipe_source, text, unfinished_definitions, walk

from ._common import effective_arguments, extract_task_supervisors, resolved_call

FACTS = {"otp_task_supervisors": extract_task_supervisors}
ASYNC = {("Task", "async"): (1, 3), ("Task.Supervisor", "async"): (2, 4), ("Task.Supervisor", "async_nolink"): (2, 4)}
BLOCKS = ("do_block", "body", "else_block", "after_block", "rescue_block", "catch_block", "source")

RULE = Rule(
    code="OTP008",
    name="task-async-result-discarded",
    category="otp",
    severity=Severity.WARNING,
    summary="Task.async whose task is never awaited",
    fix_safety="offer",
    workspace=True,
    scope="module",
    reads_broken_forms=True,  # a half-typed function elsewhere does not hide this one
    # Tests, Mix tasks, migrations and compile-time code end their process soon after: the
    # stray reply is harmless there (exhort.execution).
    runs_in=frozenset({Runs.PRODUCTION}),
    query=r"""
    ((call target: (dot left: (alias) right: (identifier) @fun)) @call (#any-of? @fun "async" "async_nolink"))
    """,
    explanation="""
        ## OTP008 task-async-result-discarded

        "If you are using async tasks, you **must await** a reply as they are *always* sent. If
        you are not expecting a reply, consider using `Task.start_link/1`"
        (`elixir:lib/elixir/lib/task.ex:43-45@v1.20.3`). The `{ref, result}` and `:DOWN`
        messages still reach the caller (`task.ex:805-815`): in a GenServer without a matching
        `handle_info/2` clause they crash it (see OTP013), elsewhere they pile up in the
        mailbox. `Task.async` also links, so a crash in the task kills the caller
        (`task.ex:47-53`).

        Flagged: `Task.async/1,3`, `Task.Supervisor.async/2,4` and
        `Task.Supervisor.async_nolink/2,4` used as a statement that is not the last expression of
        its block, or bound to `_` (or to a variable never used afterwards).

        **Bad**

        ```elixir
        Task.async(fn -> send_welcome_email(user) end)
        {:ok, user}
        ```

        **Good**

        ```elixir
        Task.Supervisor.start_child(MyApp.TaskSupervisor, fn -> send_welcome_email(user) end)
        {:ok, user}
        ```

        **Fix** (offer: the link is dropped): rewrite to `Task.Supervisor.start_child(<sup>, fun)`
        when a `Task.Supervisor` name is found among the workspace's children, otherwise to
        `Task.start/1`.

        Not flagged:

        - a module that receives the replies as messages: a `handle_info({ref, result}, state)`
          clause (GenServer, LiveView) or a `:gen_statem` clause for `(:info, {ref, result}, ...)`;
          that clause is the await the Task docs ask for (a module nested in such a server, its
          state helpers, counts as the server);
        - a call followed by `:ignore` or `{:stop, ...}` as the block's result: the process
          stops, no message will reach it;
        - any later use of the bound variable (`task.ref` stored in state, a `receive` on
          `^ref`, `Task.await(task)`);
        - code that does not serve production traffic (`exhort.execution`): tests, Mix tasks,
          migrations, compile-time code; the process ends soon after there.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Accounts do
              def register(user) do
                Task.async(fn -> send_welcome_email(user) end)  # expect: OTP008
                {:ok, user}
              end
            end
            """,
            fixed="""
            defmodule MyApp.Accounts do
              def register(user) do
                Task.Supervisor.start_child(MyApp.TaskSupervisor, fn -> send_welcome_email(user) end)  # expect: OTP008
                {:ok, user}
              end
            end
            """,
            files={
                "lib/my_app/application.ex": "defmodule MyApp.Application do\n  def start(_, _) do\n    Supervisor.start_link([{Task.Supervisor, name: MyApp.TaskSupervisor}], strategy: :one_for_one)\n  end\nend\n"
            },
            note="the fix uses the Task.Supervisor found in the workspace",
        ),
        bad(
            """
            defmodule MyApp.Audit do
              def log(event) when is_map(event) do
                _ = Task.async(MyApp.Audit, :write, [event])  # expect: OTP008
                task = Task.Supervisor.async_nolink(MyApp.TaskSup, fn -> notify(event) end)  # expect: OTP008
                fn -> write(event) end |> Task.async()  # expect: OTP008
                :ok
              end
            end
            """,
            fixed="""
            defmodule MyApp.Audit do
              def log(event) when is_map(event) do
                _ = Task.start(MyApp.Audit, :write, [event])  # expect: OTP008
                task = Task.Supervisor.start_child(MyApp.TaskSup, fn -> notify(event) end)  # expect: OTP008
                fn -> write(event) end |> Task.start()  # expect: OTP008
                :ok
              end
            end
            """,
            note="bound to _, to an unused variable, and piped; without a Task.Supervisor the fix uses Task.start",
        ),
        bad(
            """
            defmodule MyApp.Cache do
              use GenServer

              def handle_cast({:warm, keys}, state) do
                Task.async(fn -> MyApp.Store.load(keys) end)  # expect: OTP008
                {:noreply, state}
              end

              def handle_cast(:flush, state) do
                Task.Supervisor.async(MyApp.TaskSup, MyApp.Store, :flush, [state])  # expect: OTP008
                {:noreply, state}
              end

              def handle_info({:DOWN, _ref, :process, _pid, _reason}, state), do: {:noreply, state}
            end
            """,
            note="multi-clause callbacks (each clause reported); a :DOWN clause alone does not receive the {ref, result} reply",
        ),
        good(
            """
            defmodule MyApp.Fetch do
              def run(urls) do
                task = Task.async(fn -> fetch(urls) end)
                other = Task.Supervisor.async_nolink(MyApp.TaskSup, fn -> :ok end)
                ref = other.ref
                receive do
                  {^ref, result} -> {Task.await(task), result}
                end
              end

              def last, do: Task.async(fn -> :ok end)
              def store(state), do: %{state | task: Task.async(fn -> :ok end)}
            end
            """,
            note="a later use of the bound variable; the last expression is returned",
        ),
        good(
            """
            defmodule MyApp.Producer do
              use GenServer

              def handle_info(:dispatch, state) do
                Task.Supervisor.async_nolink(state.foreman, fn -> work() end)
                {:noreply, state}
              end

              def handle_info({ref, _val}, state) when is_reference(ref), do: {:noreply, state}
            end
            """,
            note="the GenServer receives the task replies in handle_info/2 (found in oban's producer)",
        ),
        good(
            """
            defmodule MyAppWeb.MetricsLive do
              use MyAppWeb, :live_view

              def handle_info(:refresh, socket) do
                Task.async(fn -> MyApp.Metrics.load(socket.id) end)
                {:noreply, socket}
              end

              def handle_info({ref, metrics}, socket) when is_reference(ref) do
                Process.demonitor(ref, [:flush])
                {:noreply, assign(socket, metrics: metrics)}
              end
            end

            defmodule MyApp.Car do
              @behaviour :gen_statem

              def handle_event(:internal, :fetch, _state, data) do
                Task.async(fn -> MyApp.Api.fetch(data.id) end)
                :keep_state_and_data
              end

              def handle_event(:info, {ref, result}, _state, data) when is_reference(ref) do
                {:keep_state, %{data | result: result}}
              end
            end
            """,
            note="a LiveView and a :gen_statem that receive the task reply in a clause of their own",
        ),
        good(
            """
            defmodule MyApp.Pool do
              use GenServer

              defmodule State do
                def release(conn) do
                  Task.Supervisor.async_nolink(MyApp.TaskSup, fn -> MyApp.Conn.close(conn) end)
                  :ok
                end
              end

              def handle_cast({:release, conn}, state), do: {:noreply, State.release(conn) && state}
              def handle_info({ref, :ok}, state) when is_reference(ref), do: {:noreply, state}
              def handle_info({:DOWN, _ref, :process, _pid, _reason}, state), do: {:noreply, state}
            end
            """,
            note="a state module nested in the server runs in the server, whose handle_info/2 takes the replies",
        ),
        good(
            """
            defmodule MyApp.Migrator do
              use GenServer

              def init(tenant) do
                case MyApp.Tenants.migrate(tenant) do
                  {:ok, count} ->
                    Task.Supervisor.async_nolink(MyApp.TaskSup, MyApp.Tenants, :record, [tenant, count])
                    :ignore

                  {:error, reason} ->
                    Task.async(fn -> MyApp.Alerts.notify(reason) end)
                    {:stop, reason}
                end
              end
            end
            """,
            note="init/1 returns :ignore or {:stop, reason} right after: the process is gone before any reply",
        ),
        good(
            """
            defmodule MyApp.Jobs do
              def run(job) do
                task = Task.async(fn -> MyApp.Job.run(job) end)
                result =
              end

              def other, do: :ok
            end
            """,
            note="a half-typed function: what it does with the task after the call is not written yet",
        ),
        good(
            """
            defmodule MyApp.SomeTest do
              use ExUnit.Case
              test "eventually" do
                Task.async(fn -> Process.sleep(10) end)
                assert true
              end
            end
            """,
            path="test/my_app/some_test.exs",
            note="tests are excluded",
        ),
    ],
)


def _statement(call):
    """Climb from the call through pipes where it is the right-most stage."""
    node = call
    while node.parent is not None and node.parent.type == "binary_operator" and pipe_source(node) is not None:
        node = node.parent
    return node


def _is_reply_pattern(param) -> bool:
    """`{ref, result}`: a 2-tuple pattern whose first element is a variable (a task reply)."""
    items = [c for c in param.named_children if c.type != "comment"] if param.type == "tuple" else []
    return len(items) == 2 and items[0].type == "identifier"


def _handles_replies(ctx, module) -> bool:
    """The module receives task replies as messages: a `handle_info({ref, result}, state)`
    clause (GenServer, LiveView), or a `:gen_statem` clause taking `(:info, {ref, result}, ...)`
    (handle_event/4 or a state function). The awaiting is done by that clause."""
    return any(found for _, found in ctx.member_facts(module, _takes_replies))


def _takes_replies(member) -> bool:
    """Is `member` a definition that takes task replies (see _handles_replies)?"""
    fdef = named_definition(member)
    if fdef is None:
        return False
    if fdef.name == "handle_info" and fdef.arity == 2 and _is_reply_pattern(fdef.params[0]):
        return True
    if b":info" not in (member.text or b""):
        return False  # no `(:info, message, ...)` clause
    params = fdef.params
    return any(kind.type == "atom" and text(kind) == ":info" and _is_reply_pattern(message)
               for kind, message in zip(params, params[1:]))


def _modules_around(node):
    """The modules `node` is written in, innermost first: a module nested in a server (its
    state helpers) runs in the server's process."""
    return [parent for parent in ancestors(node) if parent.type == "call" and is_defmodule(parent)]


def _stops_after(statement) -> bool:
    """The block ends by stopping the process (`:ignore` or `{:stop, ...}`, as init/1 and the
    other callbacks return it): no reply or :DOWN message will find it."""
    parent = statement.parent
    if parent is None or parent.type not in BLOCKS:
        return False
    siblings = [c for c in parent.named_children if c.type not in ("comment", "else_block", "after_block", "rescue_block", "catch_block")]
    last = siblings[-1] if siblings else None
    if last is None or last == statement:
        return False
    if last.type == "atom" and text(last) == ":ignore":
        return True
    items = [c for c in last.named_children if c.type != "comment"] if last.type == "tuple" else []
    return bool(items) and items[0].type == "atom" and text(items[0]) == ":stop"


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    if any(_handles_replies(ctx, module) for module in _modules_around(call)):
        return
    name = resolved_call(ctx, call)
    arities = ASYNC.get(name)
    args = effective_arguments(call)
    if arities is None or len(args) not in arities:
        return
    statement = _statement(call)
    parent = statement.parent
    if parent is None or _stops_after(statement):
        return
    fdef = enclosing_function(call)
    modules = _modules_around(call)
    unfinished = {(n.start_byte, n.end_byte) for n in unfinished_definitions(modules[0])} if modules else set()
    if fdef is None or fdef.node.has_error or (fdef.node.start_byte, fdef.node.end_byte) in unfinished:
        return  # the function is being typed: what follows the call is unknown
    discarded = False
    if parent.type in BLOCKS:
        siblings = [c for c in parent.named_children if c.type != "comment" and c.type not in ("else_block", "after_block", "rescue_block", "catch_block")]
        discarded = bool(siblings) and siblings[-1] != statement and parent.type != "source"
    elif parent.type == "binary_operator" and text(parent.child_by_field_name("operator")) == "=" and parent.child_by_field_name("right") == statement:
        left = parent.child_by_field_name("left")
        if left is not None and left.type == "identifier":
            variable = text(left)
            if variable.startswith("_"):
                discarded = True
            elif fdef is not None:
                later = [
                    n for n in walk(fdef.node)
                    if n.type == "identifier" and text(n) == variable and n.start_byte > parent.end_byte
                ]
                discarded = not later
    if not discarded:
        return
    yield ctx.finding(
        call,
        f"{text(call.child_by_field_name('target'))} result is never awaited: its reply and :DOWN messages still reach this process; use a fire-and-forget task",
        fixes=_fixes(ctx, call, name, args),
    )


def _fixes(ctx: Context, call, name, args):
    target = call.child_by_field_name("target")
    arguments = next((c for c in call.named_children if c.type == "arguments"), None)
    if name[0] == "Task.Supervisor":
        right = target.child_by_field_name("right")
        return [fix("Use Task.Supervisor.start_child (no reply, no link)", Edit(right.start_byte, right.end_byte, "start_child"), safe=False)]
    supervisors = sorted({n for _p, names in (ctx.workspace.facts("otp_task_supervisors") if ctx.workspace else []) for n in names})
    if supervisors and arguments is not None and pipe_source(call) is None and len(args) in (1, 3):
        first = [c for c in arguments.named_children if c.type != "comment"][0]
        edits = [
            Edit(target.start_byte, target.end_byte, "Task.Supervisor.start_child"),
            Edit(first.start_byte, first.start_byte, f"{supervisors[0]}, "),
        ]
        return [fix(f"Use Task.Supervisor.start_child({supervisors[0]}, ...)", *edits, safe=False)]
    return [fix("Use Task.start (no reply, no link)", Edit(target.start_byte, target.end_byte, "Task.start"), safe=False)]
