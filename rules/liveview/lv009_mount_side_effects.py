"""LV009 mount-side-effects."""

from exhort.execution import Runs
from exhort.findings import Edit, Severity
from exhort.rule import Context, Rule, bad, fix, good
from exhort.syntax import call_arguments, call_name, effective_arguments, function_def, integer_value, text, walk

from ._common import callback_clauses, intact_definitions

CALLBACKS = (("mount", 3), ("handle_params", 3))

RULE = Rule(
    code="LV009",
    name="mount-side-effects",
    category="liveview",
    severity=Severity.WARNING,
    summary="Blocking waits, or unguarded subscriptions and timers, in mount/3 and handle_params/3",
    fix_safety="safe",
    runs_in=frozenset({Runs.PRODUCTION}),  # render latency of the deployed app; test LiveViews are not it
    scope="document",  # a half-typed member elsewhere in the module must not hide mount's findings
    requires=(b"mount", b"handle_params"),
    explanation="""
        ## LV009 mount-side-effects

        "For each LiveView in the root of a template, `mount/3` is invoked twice"
        (`phoenix_live_view.ex:236-237`, LiveView v1.2.10): once for the dead render and once
        connected. A blocking load runs twice and holds back the first paint; the Async
        Operations guidance is to use `assign_async`. "Use `connected?/1` to conditionally
        perform stateful work, such as subscribing to pubsub topics, sending messages, etc."
        (`phoenix_live_view.ex:627-652`).

        Flagged in a LiveView's `mount/3` and `handle_params/3`, and in the private functions
        they call (one level):

        - warning: `Task.await/await_many`, `Task.yield` with a non-zero timeout,
          `Process.sleep`, `receive`;
        - information: `*.subscribe(...)`, `:timer.send_interval`, `Process.send_after(self(), …)`
          not under `if connected?(socket)`.

        **Bad** `stats = Task.async(&Analytics.stats/0) |> Task.await(5000)` ·
        `Phoenix.PubSub.subscribe(MyApp.PubSub, "stats")`

        **Good** `if connected?(socket), do: Phoenix.PubSub.subscribe(MyApp.PubSub, "stats")`
        and `assign_async(socket, :stats, fn -> {:ok, %{stats: Analytics.stats()}} end)`

        **Fix**: wrap the statement in `if connected?(socket), do: ...` (safe: the disconnected
        render process is thrown away anyway). Blocking waits: none (use `assign_async`).
        `Task.await(t, 0)` does not block and is not flagged, nor is a `subscribe` that receives
        the socket (`Store.subscribe(socket)`: it can check `connected?` itself). In a helper
        without the socket in scope the finding has no fix.

        Not flagged: the body of a function handed to `assign_async`, `start_async`,
        `stream_async`, `Task.*` or `spawn` (it runs in another process, so it neither blocks
        the render nor subscribes the LiveView), nor LiveViews in test code (the risk is the
        deployed app's first paint). Each clause of a multi-clause `mount`/`handle_params` is
        read on its own, and a member still being typed elsewhere in the module does not hide
        the others.
    """,
    examples=[
        bad(
            """
            defmodule MyAppWeb.ReportLive do
              use MyAppWeb, :live_view

              def mount(%{"ids" => ids}, _session, socket) do
                tasks = Enum.map(ids, fn id -> Task.async(fn -> MyApp.Reports.fetch(id) end) end)
                reports = Task.await_many(tasks, 10_000)  # expect: LV009
                {:ok, assign(socket, reports: reports)}
              end

              def mount(_params, _session, socket) do
                task = Task.async(fn -> MyApp.Reports.latest() end)
                case Task.yield(task, 2_000) do  # expect: LV009
                  {:ok, report} -> {:ok, assign(socket, report: report)}
                  nil -> {:ok, socket}
                end
              end

              def handle_params(%{"id" => id}, _uri, socket) do
                receive do  # expect: LV009
                  {:ready, ^id} -> :ok
                end
                {:noreply, load_report(socket, id)}
              end

              def handle_params(_params, _uri, socket) do
                :timer.send_interval(5_000, :refresh)  # expect: LV009
                MyApp.Reports.subscribe("all")  # expect: LV009
                {:noreply, socket}
              end

              defp load_report(socket, id) do
                case Task.Supervisor.async_nolink(MyApp.TaskSup, fn -> MyApp.Reports.fetch(id) end)
                     |> Task.await(5_000) do  # expect: LV009
                  {:ok, report} -> assign(socket, report: report)
                  _ -> socket
                end
              end

              def handle_event("save", params, socket) do
                socket |>
              end
            end
            """,
            note="every form of the catalog, in each clause of multi-clause callbacks, while a later member is "
                 "still being typed (reported on the clause and line that blocks or subscribes)",
        ),
        good(
            """
            defmodule MyAppWeb.AsyncLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                Task.start(fn -> Phoenix.PubSub.subscribe(MyApp.PubSub, "audit") end)
                {:ok,
                 socket
                 |> assign_async(:stats, fn ->
                   task = Task.async(fn -> MyApp.Stats.load() end)
                   {:ok, %{stats: Task.await(task, 10_000)}}
                 end)
                 |> start_async(:feed, &load_feed/0)
                 |> stream_async(:events, fn -> Process.sleep(100) && {:ok, []} end)}
              end

              defp load_feed do
                Process.sleep(500)
                MyApp.Feed.all()
              end
            end
            """,
            note="functions handed to assign_async, start_async, stream_async or Task.* run in another process: "
                 "they block neither mount nor the render",
        ),
        bad(
            """
            defmodule MyAppWeb.StatsLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                stats = Task.async(fn -> Analytics.stats() end) |> Task.await(5000)  # expect: LV009
                Phoenix.PubSub.subscribe(MyApp.PubSub, "stats")  # expect: LV009
                {:ok, assign(socket, stats: stats)}
              end
            end
            """,
            fixed="""
            defmodule MyAppWeb.StatsLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                stats = Task.async(fn -> Analytics.stats() end) |> Task.await(5000)  # expect: LV009
                if connected?(socket), do: Phoenix.PubSub.subscribe(MyApp.PubSub, "stats")  # expect: LV009
                {:ok, assign(socket, stats: stats)}
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyAppWeb.ClockLive do
              use Phoenix.LiveView

              def handle_params(params, _uri, sock) do
                {:noreply, load(sock, params)}
              end

              defp load(sock, _params) do
                Process.send_after(self(), :tick, 1000)  # expect: LV009
                Process.sleep(100)  # expect: LV009
                sock
              end
            end
            """,
            note="followed into a private function; the socket variable name is kept",
            fixed="""
            defmodule MyAppWeb.ClockLive do
              use Phoenix.LiveView

              def handle_params(params, _uri, sock) do
                {:noreply, load(sock, params)}
              end

              defp load(sock, _params) do
                if connected?(sock), do: Process.send_after(self(), :tick, 1000)  # expect: LV009
                Process.sleep(100)  # expect: LV009
                sock
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyAppWeb.SetupLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                schedule_check()
                {:ok, socket}
              end

              def handle_info(:check, socket), do: {:noreply, socket}

              defp schedule_check do
                Process.send_after(self(), :check, 1000)  # expect: LV009
              end
            end
            """,
            note="a helper without the socket in scope: flagged, but no fix (connected?(socket) would not "
                 "compile there)",
        ),
        good(
            """
            defmodule MyAppWeb.GoodLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                if connected?(socket) do
                  Phoenix.PubSub.subscribe(MyApp.PubSub, "stats")
                  :timer.send_interval(1000, :tick)
                end
                task = Task.async(fn -> 1 end)
                _ = Task.yield(task, 0)
                receive do
                  {:ready, _} -> :ok
                after
                  0 -> :none
                end
                Task.await(task, 0)
                {:ok, assign_async(socket, :stats, fn -> {:ok, %{stats: 1}} end)}
              end
            end
            """,
            note="guarded work and zero timeouts (Task.await/yield with 0, receive ... after 0)",
        ),
        bad(
            """
            defmodule MyAppWeb.FeedLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                if connected?(socket) do
                  :ok
                else
                  Phoenix.PubSub.subscribe(MyApp.PubSub, "feed")  # expect: LV009
                end
                if connected?(socket), do: :ok, else: :timer.send_interval(1000, :tick)  # expect: LV009
                unless connected?(socket), do: Process.send_after(self(), :tick, 10)  # expect: LV009
                {:ok, socket}
              end
            end
            """,
            note="the else branch of if connected?(socket) runs on the disconnected render (no fix: "
                 "wrapping it would make it dead code)",
        ),
        good(
            """
            defmodule MyAppWeb.FeedLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                if connected?(socket), do: Phoenix.PubSub.subscribe(MyApp.PubSub, "feed")
                unless connected?(socket), do: :ok, else: :timer.send_interval(1000, :tick)
                if !connected?(socket), do: :ok, else: Process.send_after(self(), :tick, 10)
                case connected?(socket) do
                  true -> Phoenix.PubSub.subscribe(MyApp.PubSub, "more")
                  false -> :ok
                end
                connected?(socket) && Phoenix.PubSub.subscribe(MyApp.PubSub, "again")
                {:ok, socket}
              end
            end
            """,
            note="the connected branch in its keyword, unless, negated, case and && forms",
        ),
        good(
            """
            defmodule MyAppWeb.DraftLive do
              use MyAppWeb, :live_view
              alias MyAppWeb.DraftStore

              def mount(_params, _session, socket), do: {:ok, DraftStore.subscribe(socket)}

              def handle_params(_params, _uri, socket) do
                {:noreply, socket |> DraftStore.attach(key: :draft) |> DraftStore.subscribe()}
              end
            end
            """,
            note="a subscribe function that receives the socket may check connected? itself: unknown",
        ),
        good(
            """
            defmodule MyAppWeb.Support.ClockLive do
              use MyAppWeb, :live_view
              def mount(_params, _session, socket) do
                Phoenix.PubSub.subscribe(MyApp.PubSub, "clock")
                {:ok, socket}
              end
            end
            """,
            path="test/support/clock_live.ex",
            note="a LiveView that only tests mount",
        ),
        good(
            """
            defmodule MyApp.Server do
              use GenServer
              def mount(_a, _b, state), do: Process.sleep(10) && {:ok, state}
            end
            """,
            note="not a LiveView",
        ),
    ],
)


@RULE.check
def check(ctx: Context, _match):
    for module, fdef in callback_clauses(ctx, ("live_view",), CALLBACKS):
        yield from _check_callback(ctx, module, fdef)


def _check_callback(ctx, module, fdef):
    socket = text(fdef.params[-1]) if fdef.params and fdef.params[-1].type == "identifier" else "socket"
    yield from _scan(ctx, fdef.body, socket, guarded=False)
    for node in _in_this_process(fdef.body):
        mod, name = call_name(node)
        if node.type != "call" or mod is not None or name is None:
            continue
        args = call_arguments(node)
        for helper in intact_definitions(module, name, len(args)):
            if helper.kind == "defp" and helper.body is not None:
                inner = next((text(p) for p in helper.params if p.type == "identifier" and text(p) == socket), None)
                helper_socket = inner or _socket_param(helper)  # None: no socket in scope, no fix
                yield from _scan(ctx, helper.body, helper_socket, guarded=_guarded(node))


def _after_zero(receive) -> bool:
    for block in receive.named_children:
        if block.type != "do_block":
            continue
        for after in (c for c in block.named_children if c.type == "after_block"):
            for clause in (c for c in after.named_children if c.type == "stab_clause"):
                left = clause.child_by_field_name("left")
                timeout = left.named_children[0] if left is not None and left.named_children else None
                if timeout is not None and integer_value(timeout) == 0:
                    return True
    return False


def _takes_socket(call, socket) -> bool:
    """Whether the socket is one of the call's arguments, directly or through a pipeline
    (`socket |> Store.init() |> Store.subscribe()`)."""
    names = {"socket", socket} - {None}
    for arg in effective_arguments(call):
        while arg.type == "binary_operator" and text(arg.child_by_field_name("operator")) == "|>":
            arg = arg.child_by_field_name("left")
        if arg.type == "identifier" and text(arg) in names:
            return True
    return False


def _socket_param(helper) -> str | None:
    for param in helper.params:
        if param.type == "identifier" and "sock" in text(param):
            return text(param)
    return None


# Calls whose function argument runs in another process (a task, an async assign): its body is
# not mount's body, so it neither blocks the render nor subscribes the LiveView.
_OTHER_PROCESS = {
    (None, "start_async"), (None, "assign_async"), (None, "stream_async"),
    ("Phoenix.LiveView", "start_async"), ("Phoenix.LiveView", "assign_async"), ("Phoenix.LiveView", "stream_async"),
    ("Task", "async"), ("Task", "start"), ("Task", "start_link"), ("Task", "async_stream"),
    ("Task.Supervisor", "async"), ("Task.Supervisor", "async_nolink"), ("Task.Supervisor", "start_child"),
    ("Task.Supervisor", "async_stream"), ("Task.Supervisor", "async_stream_nolink"),
    (None, "spawn"), (None, "spawn_link"), (None, "spawn_monitor"), ("Process", "spawn"),
    ("Kernel", "spawn"), ("Kernel", "spawn_link"), ("Kernel", "spawn_monitor"),
}


def _in_this_process(body):
    """The nodes of `body` that run in the calling process: functions handed to start_async,
    assign_async, stream_async, Task.* or spawn (literal `fn`s and `&fun/n` captures) are
    left out."""
    stack = [body]
    while stack:
        node = stack.pop()
        yield node
        if node.type == "call" and call_name(node) in _OTHER_PROCESS:
            for child in reversed(node.named_children):
                if child.type == "arguments":
                    stack.extend(reversed([a for a in child.named_children if not _function_value(a)]))
                else:
                    stack.append(child)
            continue
        stack.extend(reversed(node.named_children))


def _function_value(node) -> bool:
    return node.type == "anonymous_function" or (
        node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "&")


def _scan(ctx, body, socket, guarded):
    for node in _in_this_process(body):
        if node.type == "call" and call_name(node) == (None, "receive"):
            if _after_zero(node):
                continue  # `after 0 ->`: a mailbox poll, it does not wait
            yield ctx.finding(node.child_by_field_name("target"), "receive blocks mount, which runs twice",
                              severity=Severity.WARNING)
            continue
        if node.type != "call":
            continue
        mod, name = call_name(node)
        args = call_arguments(node)
        piped = node.parent is not None and node.parent.type == "binary_operator" and \
            text(node.parent.child_by_field_name("operator")) == "|>" and node.parent.child_by_field_name("right") == node
        if mod == "Task" and name in ("await", "await_many", "yield"):
            timeout = args[1 if not piped else 0] if len(args) > (1 if not piped else 0) else None
            if timeout is not None and integer_value(timeout) == 0:
                continue
            yield ctx.finding(node, f"Task.{name} blocks mount/handle_params, which run twice (once disconnected); "
                                    "use assign_async/3", severity=Severity.WARNING)
        elif mod == "Process" and name == "sleep":
            yield ctx.finding(node, "Process.sleep blocks mount/handle_params", severity=Severity.WARNING)
        elif guarded or _guarded(node):
            continue
        elif name == "subscribe" and _takes_socket(node, socket):
            continue  # `Store.subscribe(socket)`: the callee has the socket and may check connected? itself
        elif name == "subscribe" and mod not in (None, "<expr>") \
                or (mod == ":timer" and name == "send_interval") \
                or (mod == "Process" and name == "send_after" and args and text(args[0]) == "self()"):
            fixes = []
            if socket is None:
                pass  # a helper without the socket in scope: `connected?(socket)` would not compile
            elif _mentions_connected(node):
                pass  # already in a branch on connected?: wrapping it would only make it dead code
            elif node.parent is not None and node.parent.type in ("do_block", "body", "stab_clause") or \
                    (node.parent is not None and node.parent.type == "body"):
                fixes = [fix("Wrap in if connected?(socket)",
                             Edit(node.start_byte, node.start_byte, f"if connected?({socket}), do: "), safe=True)]
            yield ctx.finding(node, f"{text(node.child_by_field_name('target'))} runs in the disconnected render too; "
                                    f"guard it with if connected?({socket or 'socket'})",
                              severity=Severity.INFORMATION, fixes=fixes)


def _guarded(node) -> bool:
    """Whether `node` only runs when connected: in the connected branch of an `if`/`unless`/
    `case`/`cond` on `connected?(...)`, or right of `connected?(...) &&`. The `else` of
    `if connected?(socket)` runs on the disconnected render, so it is not guarded."""
    path = [node]
    parent = node.parent
    while parent is not None:
        if parent.type == "call":
            mod, name = call_name(parent)
            if mod is None and name in ("def", "defp"):
                return False
            if mod is None and name in ("if", "unless"):
                condition = call_arguments(parent)
                polarity = _polarity(condition[0]) if condition else None
                if polarity is not None and not _within(path, condition[0]):
                    branch_taken = not _in_else(path, parent)
                    if name == "unless":
                        branch_taken = not branch_taken
                    if branch_taken == polarity:
                        return True
            elif mod is None and name == "case":
                subject = call_arguments(parent)
                polarity = _polarity(subject[0]) if subject else None
                clause = next((p for p in path if p.type == "stab_clause" and p.parent is not None
                               and p.parent.parent == parent), None)
                if polarity is not None and clause is not None:
                    pattern = clause.child_by_field_name("left")
                    value = text(pattern).strip() if pattern is not None else ""
                    if value == ("true" if polarity else "false"):
                        return True
            elif mod is None and name == "cond":
                clause = next((p for p in path if p.type == "stab_clause"), None)
                left = clause.child_by_field_name("left") if clause is not None else None
                if left is not None and not _within(path, left) and _polarity(left) is True:
                    return True
        if parent.type == "binary_operator" and text(parent.child_by_field_name("operator")) in ("&&", "and"):
            left = parent.child_by_field_name("left")
            if left is not None and not _within(path, left) and _polarity(left) is True:
                return True
        path.append(parent)
        parent = parent.parent
    return False


def _mentions_connected(node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.type == "call":
            mod, name = call_name(parent)
            if mod is None and name in ("def", "defp"):
                return False
            if mod is None and name in ("if", "unless", "case"):
                condition = call_arguments(parent)
                if condition and "connected?(" in text(condition[0]):
                    return True
        parent = parent.parent
    return False


def _same(a, b) -> bool:
    return a.start_byte == b.start_byte and a.end_byte == b.end_byte and a.type == b.type


def _within(path, node) -> bool:
    return any(_same(p, node) for p in path)


def _polarity(condition) -> bool | None:
    """True for a condition that holds only when connected (`connected?(s)`, `connected?(s) and x`),
    False for its negation (`!connected?(s)`, `not connected?(s)`), None otherwise."""
    code = " ".join(text(condition).split())
    if "connected?(" not in code:
        return None
    while code.startswith("(") and code.endswith(")"):
        code = code[1:-1].strip()
    if code.startswith("!") or code.startswith("not "):
        rest = code[1:].strip() if code.startswith("!") else code[4:].strip()
        return False if rest.startswith("connected?(") and rest.endswith(")") and rest.count("(") == 1 else None
    if "||" in code or " or " in code:
        return None
    return True


def _in_else(path, call) -> bool:
    """Whether the path from a node up to `call` (an if/unless) goes through its else branch."""
    for index, node in enumerate(path):
        if node.type == "else_block" and node.parent is not None and node.parent.parent is not None \
                and _same(node.parent.parent, call):
            return True
        if node.type == "pair":
            key = node.child_by_field_name("key")
            if key is not None and text(key).strip().startswith("else") and node.parent is not None \
                    and node.parent.parent is not None and node.parent.parent.parent is not None \
                    and _same(node.parent.parent.parent, call):
                return True
    return False
