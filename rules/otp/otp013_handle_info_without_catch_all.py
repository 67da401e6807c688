"""OTP013 handle-info-without-catch-all."""

from exhort.execution import Runs
from exhort.findings import Edit, Related, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import (
    DEF_KINDS,
    ancestors,
    atom_value,
    call_arguments,
    call_name,
    enclosing_function,
    function_def,
    named_definition,
    is_defmodule,
    is_literal,
    keyword_pairs,
    module_members,
    text,
    unfinished_definitions,
    walk,
)

from ._common import effective_arguments, resolved_call, runs_in_other_process

SERVER_CALLBACKS = ("init", "handle_call", "handle_cast", "handle_info", "handle_continue", "terminate", "code_change", "format_status")
# calls that link the calling process to another process or port (their exits reach a trapping server)
LINKING_FUNCTIONS = ("spawn_link", "start_link", "async", "async_stream", "link", "open_port", "open", "connect", "listen", "accept", "transport_accept")

RULE = Rule(
    code="OTP013",
    requires=(b"GenServer",),  # the query matches `use GenServer` as written
    name="handle-info-without-catch-all",
    category="otp",
    severity=Severity.INFORMATION,
    summary="handle_info/2 without a catch-all clause in a GenServer that receives unrequested messages",
    scope="module",
    reads_broken_forms=True,  # a half-typed clause elsewhere in the module does not hide the others
    # A test server that crashes on a stray message fails its test, which is what tests are for.
    runs_in=frozenset({Runs.PRODUCTION}),
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
        monitor, `{tag, ...}` for `Process.monitor(pid, tag: tag)`, `{ref, result}` and
        `{:DOWN, ...}` clauses for tasks (unless the function that starts them awaits them), an `{:EXIT, ...}` clause for trapped exits, the
        interval's message). A subscription counts when its payload shapes are decided
        elsewhere: not when the same module (or the module it is nested in) publishes on that
        topic itself (`broadcast(..., "rate_limit", ...)` beside `subscribe(..., "rate_limit")`,
        or a topic handed in as a parameter by code that publishes). Only calls made by the server itself count: those in its
        callbacks and in the local functions they call (a public `subscribe/1` client function
        runs in the caller). Trapping exits counts only when the server also links to something
        (`spawn_link`, `start_link`, `Task.async`, `Process.link`, a port or socket): the parent's
        exit is handled by the GenServer loop, so trapping only to run `terminate/2` is fine.

        **Fix** (offer: "crash" becomes "log and continue"): add as the last clause

        ```elixir
        def handle_info(msg, state) do
          require Logger
          Logger.warning("unexpected message: #{inspect(msg)}")
          {:noreply, state}
        end
        ```

        Some designs crash on purpose, which is why this is information only.

        **Subscriptions are a hint.** When the only sources are subscriptions, the finding is a
        hint (hidden by the CLI unless asked, faded in editors): over twenty real applications
        and libraries, nine such findings were read and one was worth a reviewer's time. The
        payloads on a topic are usually the very shapes the author wrote clauses for (its own
        PubSub protocol, an event store's subscription), and crashing on anything else is often
        what the author wants; syntax cannot tell. A monitor, a task, a timer or trapped exits
        stay at information: their messages will come, and no clause takes them.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Watcher do
              use GenServer

              def init(pid) do
                Process.flag(:trap_exit, true)
                {:ok, _conn} = MyApp.Conn.start_link(pid)
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
                {:ok, _conn} = MyApp.Conn.start_link(pid)
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
            note="clauses that are not contiguous; a guarded clause is not a catch-all; trapped exits of a linked process",
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
        bad(
            """
            defmodule MyApp.Jobs do
              use GenServer

              def init(sup) do
                :net_kernel.monitor_nodes(true)
                {:ok, sup}
              end

              def handle_cast({:run, job}, sup) do
                Task.Supervisor.async_nolink(sup, fn -> MyApp.Job.run(job) end)
                {:noreply, sup}
              end

              def handle_info({:nodeup, _node}, sup), do: {:noreply, sup}

              def handle_info({:DOWN, _ref, :process, _pid, _reason}, sup), do: {:noreply, sup}  # expect: OTP013
            end
            """,
            note="node monitoring (no :nodedown clause) and task replies (no {ref, result} clause); reported on the last clause",
        ),
        bad(
            """
            defmodule MyApp.Watch do
              use GenServer

              def init(pid) do
                Process.monitor(pid)
                {:ok, pid}
              end

              def handle_info(:tick, state), do: {:noreply, state}  # expect: OTP013
            end

            defmodule MyApp.Loader do
              use GenServer

              def handle_cast(:load, state) do
                task = Task.async(fn -> MyApp.Store.load() end)
                {:noreply, Map.put(state, :task, task)}
              end

              def handle_info({:DOWN, _ref, :process, _pid, _reason}, state), do: {:noreply, state}  # expect: OTP013
            end
            """,
            note="Process.monitor/1 without a :DOWN clause; Task.async without a {ref, result} clause",
        ),
        bad(
            """
            defmodule MyApp.Workers do
              use GenServer

              def handle_call({:watch, pid}, _from, state) do
                Process.monitor(pid, tag: {:worker_down, pid})
                {:reply, :ok, state}
              end

              def handle_info({:DOWN, _ref, :process, _pid, _reason}, state), do: {:noreply, state}  # expect: OTP013
            end
            """,
            note="a tagged monitor delivers {{:worker_down, pid}, ref, :process, pid, reason}: the :DOWN clause does not match it",
        ),
        bad(
            """
            defmodule MyApp.Relay do
              use GenServer

              def init(_) do
                Phoenix.PubSub.subscribe(MyApp.PubSub, "orders")
                {:ok, nil}
              end

              def handle_info({:order, order}, state) do  # expect: OTP013
                Phoenix.PubSub.broadcast(MyApp.PubSub, "relayed", {:relayed, order})
                {:noreply, state}
              end
            end
            """,
            note="a topic others publish on; publishing on another topic does not make it its own",
        ),
        good(
            """
            defmodule MyApp.Pool do
              use GenServer

              def handle_call({:add, pid}, _from, state) do
                Process.monitor(pid, tag: :worker_down)
                Process.monitor(pid, tag: {:conn_down, pid})
                Process.monitor(pid, state.monitor_opts)
                {:reply, :ok, state}
              end

              def handle_info({:worker_down, _ref, :process, _pid, _reason}, state), do: {:noreply, state}
              def handle_info({{:conn_down, pid}, _ref, :process, pid, _reason}, state), do: {:noreply, state}
            end
            """,
            note="tagged monitors deliver {tag, ref, :process, pid, reason}, which these clauses match; options we cannot read are unknown",
        ),
        good(
            """
            defmodule MyApp.RateLimit do
              use GenServer

              def broadcast(key, time), do: Phoenix.PubSub.broadcast(MyApp.PubSub, "rate_limit", {:throttle, key, time})

              def init(_) do
                Phoenix.PubSub.subscribe(MyApp.PubSub, "rate_limit")
                {:ok, []}
              end

              def handle_info({:throttle, key, time}, state), do: {:noreply, [{key, time} | state]}
            end

            defmodule MyApp.Limiter do
              @topic "limiter"

              def hit(key), do: MyApp.PubSub.broadcast(@topic, {:hit, key, node()})

              defmodule Listener do
                use GenServer

                def init(topic) do
                  :ok = MyApp.PubSub.subscribe(topic)
                  {:ok, []}
                end

                def handle_info({:hit, _key, _node}, state), do: {:noreply, state}
              end
            end
            """,
            note="subscriptions to topics this code publishes on itself: it decides the payloads",
        ),
        bad(
            """
            defmodule MyApp.Feed do
              use GenServer

              def init(_) do
                Phoenix.PubSub.subscribe(MyApp.PubSub, "feed")
                {:ok, []}
              end

              def refresh(state) do
                state |>
              end

              def handle_info({:post, post}, state), do: {:noreply, [post | state]}  # expect: OTP013
            end
            """,
            note="a half-typed file: an unfinished pipe takes the next `end` and swallows the clauses after it",
        ),
        good(
            """
            defmodule MyApp.Watch do
              use GenServer

              def init(pid) do
                :timer.send_interval(1_000, :tick)
                {:ok, pid}
              end

              def handle_info({:DOWN, _ref, :process, _pid, _reason}, state), do: {:stop, :normal, state}

              def handle_info(msg, state) do
                msg |>
              end

              def handle_call(:get, _from, state), do: {:reply, state, state}
            end
            """,
            note="a half-typed file where the clause being typed may be the catch-all: unknown",
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
        good(
            """
            defmodule MyApp.Index do
              use GenServer

              def handle_call({:search, queries}, _from, state) do
                results =
                  queries
                  |> Enum.map(fn query -> Task.async(fn -> MyApp.Search.run(query) end) end)
                  |> Task.yield_many(5_000)

                {:reply, results, state}
              end

              def handle_info({:indexed, key}, state), do: {:noreply, Map.put(state, key, true)}
            end
            """,
            note="tasks awaited where they start: Task.yield_many takes their replies and monitors",
        ),
        good(
            """
            defmodule MyApp.Presence do
              use GenServer

              def subscribe(topic), do: Phoenix.PubSub.subscribe(MyApp.PubSub, topic)
              def watch(pid), do: Process.monitor(pid)

              def init(_), do: {:ok, %{}}

              def handle_info(:tick, state), do: {:noreply, state}
            end
            """,
            note="subscribe/monitor in public client functions run in the caller's process, not in the server",
        ),
        good(
            """
            defmodule MyApp.Device do
              use GenServer

              def init(name) do
                Process.flag(:trap_exit, true)
                ref = Process.monitor(name)
                {:ok, %{ref: ref}}
              end

              def handle_info({:DOWN, _ref, :process, _pid, _reason}, state), do: {:stop, :normal, state}

              def terminate(_reason, _state), do: :ok
            end
            """,
            note="exits trapped only so that terminate/2 runs: the server links to nothing, and the parent's exit never reaches handle_info/2",
        ),
    ],
)


def _defines_handle_info(definition) -> bool:
    head = call_arguments(definition)[0] if call_arguments(definition) else None
    if head is not None and head.type == "binary_operator":
        head = head.child_by_field_name("left")
    return head is not None and head.type == "call" and call_name(head) == (None, "handle_info")


def _handle_info_clause(member) -> str | None:
    """"catch-all" for a `def handle_info(msg, state)` clause that takes any message (no
    guard), "clause" for another handle_info/2 clause, None for any other member."""
    fdef = named_definition(member)
    if fdef is None or fdef.kind != "def" or fdef.name != "handle_info" or fdef.arity != 2:
        return None
    return "catch-all" if fdef.guard is None and fdef.params[0].type == "identifier" else "clause"


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


def _handles_tag(clauses, tag) -> bool | None:
    """For `Process.monitor(pid, tag: tag)`, whose message is `{tag, ref, :process, pid, reason}`:
    does a clause match it? None when the tag is not a literal (unknown)."""
    if tag.type == "atom":
        return _handles(clauses, text(tag))
    if tag.type == "tuple":
        # {{:worker, id}, ref, :process, pid, reason}: a clause whose tag is a tuple with the
        # same literal first element
        head = [c for c in tag.named_children if c.type != "comment"]
        if not head or head[0].type != "atom":
            return None
        for clause in clauses:
            items = _first_tuple(clause)
            if items and items[0].type == "tuple":
                inner = [c for c in items[0].named_children if c.type != "comment"]
                if inner and text(inner[0]) == text(head[0]):
                    return True
        return False
    return None


def _topic(args):
    """The topic of `subscribe(pubsub, topic)` / `subscribe(topic)`: its last positional argument."""
    positional = [a for a in args if a.type != "keywords"]
    return positional[-1] if positional else None


def _published_topics(module) -> set[str]:
    """The text of every argument of the `*.broadcast*` calls written in the top-level module
    (nested modules included): topics this code publishes on itself."""
    form = module
    for parent in ancestors(module):
        if parent.type == "call" and is_defmodule(parent):
            form = parent
    topics = set()
    for node in walk(form):
        if node.type == "call":
            function = call_name(node)[1]
            if function is not None and "broadcast" in function and call_name(node)[0] is not None:
                topics.update(text(a) for a in call_arguments(node) if a.type != "keywords")
    return topics


def _own_topic(topic, published: set[str]) -> bool:
    """A subscription to a topic this code publishes on itself: it decides the payloads. A
    topic that is not a literal (a parameter) counts when this code publishes at all."""
    if topic is None or not published:
        return False
    if topic.type in ("identifier", "call", "dot") and not is_literal(topic):
        return True
    return text(topic) in published


def _handles_reply(clauses) -> bool:
    """Some clause matches a task reply `{ref, result}` (a 2-tuple starting with a variable)."""
    return any((items := _first_tuple(c)) and len(items) == 2 and items[0].type == "identifier" for c in clauses)


def _server_functions(info) -> set[str]:
    """Names of the module's functions that run in the server: the callbacks and every local
    function they call, transitively (a public client function such as `subscribe/1` runs in
    the caller's process, not in the server)."""
    defs = {}
    for member in module_members(info.node):
        fdef = function_def(member)
        if fdef is not None and fdef.kind in ("def", "defp"):
            defs.setdefault(fdef.name, []).append(fdef)
    reached = {name for name in SERVER_CALLBACKS if name in defs}
    todo = list(reached)
    while todo:
        for fdef in defs[todo.pop()]:
            for node in walk(fdef.node):
                if node.type == "call":
                    module_text, function = call_name(node)
                    local = module_text is None or module_text == "__MODULE__" or (module_text and info.resolve_alias(module_text) == info.name)
                elif node.type == "unary_operator" and text(node).startswith("&"):
                    function, local = text(node)[1:].split("/", 1)[0].strip(), True
                else:
                    continue
                if local and function in defs and function not in reached and function not in DEF_KINDS:
                    reached.add(function)
                    todo.append(function)
    return reached


def _runs_in_server(ctx, node, info, server) -> bool:
    """Is this call made by the server process (in a callback or a function a callback calls)?"""
    owner = ctx.module_of(node)
    fdef = enclosing_function(node)
    if owner is None or owner.node != info.node or fdef is None or fdef.name not in server:
        return False
    return not runs_in_other_process(node, fdef.node)


def _links(ctx, info, server) -> bool:
    """Does the server link itself to another process or port (spawn_link, start_link, Task.async,
    Process.link, Port.open, a socket connect...)? Only then do trapped exits reach handle_info/2:
    the parent's exit is handled by the GenServer loop itself."""
    return any(
        n.type == "call" and call_name(n)[1] in LINKING_FUNCTIONS and _runs_in_server(ctx, n, info, server)
        for n in walk(info.node)
    )


AWAITS = {("Task", "await"), ("Task", "await_many"), ("Task", "yield"), ("Task", "yield_many")}


def _awaited_in_place(call) -> bool:
    """The function that starts the task also awaits tasks (`|> Task.yield_many(...)`)."""
    fdef = enclosing_function(call)
    return fdef is not None and any(n.type == "call" and call_name(n) in AWAITS for n in walk(fdef.node))


def _uncovered_source(ctx, node, clauses, links=lambda: True, published=frozenset()) -> bool:
    """Does this call deliver messages that no handle_info clause is written for?"""
    module, function = resolved_call(ctx, node)
    args = effective_arguments(node)
    name = (module, function)
    if name == ("Process", "monitor"):
        if len(args) == 2:  # Process.monitor(pid, opts)
            options = keyword_pairs(args[1])
            if not options and not (args[1].type == "list" and not args[1].named_children):
                return False  # options we cannot read: the message shape is unknown
            tag = next((value for key, value, _ in options if key == "tag"), None)
            if tag is not None:  # delivers {tag, ref, :process, pid, reason}
                return _handles_tag(clauses, tag) is False
        return not _handles(clauses, ":DOWN")
    if name in (("Task", "async"), ("Task.Supervisor", "async_nolink"), ("Task.Supervisor", "async")):
        if _awaited_in_place(node):
            return False  # Task.await/yield take the reply and the monitor's message
        return not (_handles_reply(clauses) and _handles(clauses, ":DOWN"))
    if name == (":net_kernel", "monitor_nodes"):
        return not (_handles(clauses, ":nodeup") and _handles(clauses, ":nodedown"))
    if name == (":timer", "send_interval"):
        message = text(args[-1]) if len(args) in (2, 3) else None
        return not any(text(c.params[0]) == message for c in clauses)
    if name == ("Process", "flag"):
        trapping = len(args) == 2 and atom_value(args[0]) == "trap_exit" and atom_value(args[1]) == "true"
        return trapping and not _handles(clauses, ":EXIT") and links()
    if function == "subscribe" and module is not None and len(args) in (1, 2):
        # payload shapes are decided elsewhere, unless this code publishes on the topic itself
        return not _own_topic(_topic(args), published)
    return False


@RULE.check
def check(ctx: Context, match: Match):
    info = ctx.module_of(match.node("call"))
    if info is None or info.node != match.node("call").parent.parent:
        return
    kinds = ctx.member_facts(info.node, _handle_info_clause)
    if not any(kind for _, kind in kinds) or any(_defines_handle_info(node) for node in unfinished_definitions(info.node)):
        return  # a clause being typed may be the catch-all: unknown
    if any(kind == "catch-all" for _, kind in kinds):
        return
    clauses = [function_def(member) for member, kind in kinds if kind]
    server = _server_functions(info)

    def links():
        return _links(ctx, info, server)

    published = _published_topics(info.node)
    sources = [n for n in walk(info.node) if n.type == "call" and _runs_in_server(ctx, n, info, server) and _uncovered_source(ctx, n, clauses, links, published)]
    if not sources:
        return
    # A monitor, a task, a timer, trapped exits: those messages will come and no clause takes
    # them. A subscription's payloads are decided elsewhere and mostly match the clauses the
    # author wrote for them: a hint only (see the explanation).
    definite = [n for n in sources if call_name(n)[1] != "subscribe"]
    source = (definite or sources)[0]
    last = clauses[-1]
    indent = " " * last.node.start_point[1]
    clause_text = (
        f"\n\n{indent}def handle_info(msg, state) do\n{indent}  require Logger\n"
        f'{indent}  Logger.warning("unexpected message: #{{inspect(msg)}}")\n{indent}  {{:noreply, state}}\n{indent}end'
    )
    label = text(source.child_by_field_name("target"))
    if definite:
        message = f"handle_info/2 has no catch-all clause, and no clause matches the messages {label} delivers; the first one crashes this server"
    else:
        message = f"handle_info/2 has no catch-all clause and this server subscribes ({label}): a payload of a shape no clause matches crashes it"
    yield ctx.finding(
        last.head,
        message,
        related=[Related(source.start_byte, source.end_byte, "messages arrive because of this call")],
        fixes=[fix("Add a catch-all handle_info/2 that logs", Edit(last.node.end_byte, last.node.end_byte, clause_text), safe=False)],
        severity=None if definite else Severity.HINT,
    )


_ = call_name
