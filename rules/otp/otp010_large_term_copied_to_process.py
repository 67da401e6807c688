"""OTP010 large-term-copied-to-process."""

from exhort.execution import Runs
from exhort.findings import Edit, Severity
from exhort.parsing import declared_query
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import ancestors, call_name, enclosing_function, is_definition_head, text, walk

from .._queries import sub_matches
from ._common import effective_arguments, resolved_call

CLOSURE_CALLS = {
    ("Task", "async"), ("Task", "start"), ("Task", "start_link"), ("Task", "async_stream"),
    ("Task.Supervisor", "async"), ("Task.Supervisor", "async_nolink"), ("Task.Supervisor", "start_child"),
    ("Task.Supervisor", "async_stream"), ("Task.Supervisor", "async_stream_nolink"),
    (None, "spawn"), (None, "spawn_link"), (None, "spawn_monitor"), ("Process", "spawn"),
}
LIVEVIEW_ASYNC = ("assign_async", "start_async", "stream_async")
SEND_CALLS = {(None, "send"): 1, ("Process", "send"): 1, ("GenServer", "cast"): 1, ("GenServer", "call"): 1}
BIG = ("conn", "socket", "assigns")
CALLBACK_KINDS = ("live_view", "live_component")

RULE = Rule(
    code="OTP010",
    name="large-term-copied-to-process",
    category="otp",
    # Information, not the catalog's warning: a copy costs memory and time, it does not break.
    severity=Severity.INFORMATION,
    summary="A closure or message copies the whole conn/socket into another process",
    fix_safety="offer",
    runs_in=frozenset({Runs.PRODUCTION}),
    # Anchored on what makes a finding: a `conn`/`socket` passed straight to send/cast/call, or
    # a closure given to a spawning call (its conn/socket/assigns are found with BIG_VARIABLES).
    query=r"""
    ((call target: [(identifier) @_fun (dot right: (identifier) @_fun)] (arguments [(identifier) @var (tuple (identifier) @var)]))
      (#any-of? @_fun "send" "cast" "call") (#any-of? @var "conn" "socket"))
    ((call target: [(identifier) @_fun (dot right: (identifier) @_fun)] (arguments [(anonymous_function) @closure (unary_operator operand: (call)) @closure]))
      (#any-of? @_fun SPAWNING))
    """.replace("SPAWNING", " ".join(f'"{fun}"' for fun in sorted({f for _, f in CLOSURE_CALLS} | set(LIVEVIEW_ASYNC)))),
    explanation="""
        ## OTP010 large-term-copied-to-process

        Data sent to another process is copied, and a closure copies every variable it
        captures: `spawn(fn -> log_request_ip(conn.remote_ip) end)` still copies all of `conn`
        ("Sending unnecessary data", `elixir:lib/elixir/pages/anti-patterns/process-anti-patterns.md:196-248@v1.20.3`;
        also `task.ex:58-70`). A `conn` or LiveView `socket` holds assigns, params, headers and
        more. LiveView warns at compile time only for a variable literally named `socket`
        captured in `assign_async`, `start_async` or `stream_async`
        (`phoenix_live_view:lib/phoenix_live_view/async.ex:6-27, 56-72@v1.2.10`).

        Flagged: `conn`, `socket` or `assigns` (parameters of a Phoenix controller action, a
        Plug's `call/2`, a LiveView or LiveComponent function, or matched as `%Plug.Conn{}` /
        `%Phoenix.LiveView.Socket{}`) used inside a closure (`fn ... end` or a capture such as
        `&work(socket, &1)`) given to `spawn*`, `Task.*` or `Task.Supervisor.*`, and a whole
        `conn`/`socket` sent with `send/2`, `GenServer.cast` or `GenServer.call`, alone or in a
        tuple (`{:update, socket}`).

        **Bad**

        ```elixir
        Task.Supervisor.start_child(MyApp.TaskSupervisor, fn -> generate_export(socket.assigns, format) end)
        ```

        **Good**

        ```elixir
        %{user: user, filters: filters} = socket.assigns
        Task.Supervisor.start_child(MyApp.TaskSupervisor, fn -> generate_export(user, filters, format) end)
        ```

        **Fix** (offer, when every use in the closure is a field chain such as
        `socket.assigns.user`): bind each chain to a local before the call. A missing key then
        raises in the caller instead of in the task.

        **Severity**: information (the catalog has a warning). Every finding read by hand on
        real code was right, but a copy of a conn or socket costs memory and time per task; it
        is not a bug that breaks anything, which is what a warning announces.

        Not flagged: a `socket` that is not a LiveView socket (for example a `:gen_tcp` port in
        a plain module). Inside the LiveView async macros the finding says that the LiveView
        compiler reports it too.
    """,
    examples=[
        bad(
            """
            defmodule MyAppWeb.ExportLive do
              use MyAppWeb, :live_view

              def handle_event("export", %{"format" => format}, socket) do
                Task.Supervisor.start_child(MyApp.TaskSupervisor, fn -> generate_export(socket.assigns.user, format) end)  # expect: OTP010
                {:noreply, socket}
              end

              def handle_info(:ping, socket) do
                send(MyApp.Tracker, socket)  # expect: OTP010
                {:noreply, socket}
              end
            end
            """,
            fixed="""
            defmodule MyAppWeb.ExportLive do
              use MyAppWeb, :live_view

              def handle_event("export", %{"format" => format}, socket) do
                user = socket.assigns.user
                Task.Supervisor.start_child(MyApp.TaskSupervisor, fn -> generate_export(user, format) end)  # expect: OTP010
                {:noreply, socket}
              end

              def handle_info(:ping, socket) do
                send(MyApp.Tracker, socket)  # expect: OTP010
                {:noreply, socket}
              end
            end
            """,
            note="a closure in a LiveView callback (hoisting fix) and a whole socket sent",
        ),
        bad(
            """
            defmodule MyApp.Plugs.Audit do
              def call(%Plug.Conn{} = conn, _opts) do
                spawn(fn -> MyApp.Audit.log(conn) end)  # expect: OTP010
                conn
              end
            end

            defmodule MyAppWeb.PageController do
              use MyAppWeb, :controller

              def show(conn, params) when is_map(params) do
                Task.start(fn -> MyApp.Log.ip(conn.remote_ip) end)  # expect: OTP010
                render(conn, :show)
              end
            end
            """,
            note="matched as %Plug.Conn{}; a controller action",
        ),
        bad(
            """
            defmodule MyAppWeb.ReportLive do
              use MyAppWeb, :live_view

              def handle_event("build", _params, socket) do
                {:noreply, start_async(socket, :report, fn -> MyApp.Reports.build(socket.assigns.user) end)}  # expect: OTP010
              end
            end
            """,
            note="inside the LiveView async macros; the message says the LiveView compiler reports it too",
        ),
        bad(
            """
            defmodule MyAppWeb.ImportLive do
              use MyAppWeb, :live_view

              def handle_event("import", %{"rows" => rows}, socket) do
                rows |> Task.async_stream(&MyApp.Import.row(&1, socket.assigns.user)) |> Stream.run()  # expect: OTP010
                {:noreply, socket}
              end

              def handle_event("notify", _params, socket) do
                GenServer.cast(MyApp.Notifier, {:notify, socket})  # expect: OTP010
                {:noreply, socket}
              end
            end

            defmodule MyApp.Plugs.Trace do
              @behaviour Plug
              alias Phoenix.LiveView.Socket

              def init(opts), do: opts

              def call(conn, _opts) do
                Task.start(fn -> MyApp.Trace.record(conn.request_path) end)  # expect: OTP010
                conn
              end

              def watch(%Socket{} = socket), do: spawn(fn -> MyApp.Trace.socket(socket.id) end)  # expect: OTP010
            end
            """,
            note="a capture closure and a tuple message in a multi-clause handle_event (each clause reported); a Plug's call/2; a socket matched as an aliased %Phoenix.LiveView.Socket{}",
        ),
        bad(
            """
            defmodule MyAppWeb.ExportLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                socket =
              end

              def handle_event("export", _params, socket) do
                Task.start(fn -> MyApp.Export.run(socket.assigns.user) end)  # expect: OTP010
                {:noreply, socket}
              end
            end
            """,
            note="a half-typed file: an unfinished binding in mount/3 takes the next `end`",
        ),
        good(
            """
            defmodule MyAppWeb.ChatLive do
              use MyAppWeb, :live_view

              def send(pid, socket), do: Kernel.send(pid, {:id, socket.id})
            end
            """,
            note="a definition named send/2 is not a send",
        ),
        good(
            """
            defmodule MyApp.TcpClient do
              def loop(socket) do
                Task.start(fn -> :gen_tcp.send(socket, "ping") end)
                send(self(), socket)
              end
            end
            """,
            note="a :gen_tcp socket in a plain module is not a LiveView socket",
        ),
        good(
            """
            defmodule MyAppWeb.ExportLive do
              use MyAppWeb, :live_view

              def handle_event("export", _params, socket) do
                user = socket.assigns.user
                Task.start(fn -> generate_export(user) end)
                Enum.each([1], fn _ -> IO.inspect(socket.id) end)
                {:noreply, socket}
              end
            end
            """,
            note="fields bound before the closure; closures not run in another process",
        ),
    ],
)


STRUCTS = {"conn": "Plug.Conn", "socket": "Phoenix.LiveView.Socket"}


def _big_variable(ctx, identifier) -> bool:
    """A parameter of a controller action, a Plug's call/2, a LiveView or LiveComponent
    function, or one matched as `%Plug.Conn{}` / `%Phoenix.LiveView.Socket{}`."""
    fdef = enclosing_function(identifier)
    if fdef is None:
        return False
    name = text(identifier)
    info = ctx.module_of(identifier)
    kind = info.kind if info is not None else None
    controller = info is not None and any(
        u.module == "Phoenix.Controller" or (u.module.endswith("Web") and text(u.options) == ":controller") for u in info.uses
    )
    plug = info is not None and "Plug" in info.behaviours and fdef.name == "call" and fdef.arity == 2 and name == "conn"
    for param in fdef.params:
        for node in walk(param):
            if node.type == "identifier" and text(node) == name:
                if kind in CALLBACK_KINDS or controller or plug:
                    return True
                if name in STRUCTS and _matched_as(param, STRUCTS[name], info):
                    return True
    return False


def _matched_as(param, struct: str, info) -> bool:
    """The parameter pattern matches `%Struct{...}` (the module written in full or aliased)."""
    for node in walk(param):
        if node.type == "struct":
            written = text(node)
            if written == struct or (info is not None and info.resolve_alias(written) == struct):
                return True
    return False


def _is_closure(node) -> bool:
    """`fn -> ... end`, or a capture `&work(socket, &1)` (it captures the variables it names)."""
    if node.type == "anonymous_function":
        return True
    if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "&":
        operand = node.child_by_field_name("operand")
        return operand is not None and operand.type == "call"
    return False


def _closure_call(identifier):
    """The spawning call whose closure argument contains `identifier`, and the closure."""
    for parent in ancestors(identifier):
        if _is_closure(parent):
            holder = parent.parent
            if holder is not None and holder.type == "arguments" and holder.parent is not None:
                mod, fun = call_name(holder.parent)
                if (mod, fun) in CLOSURE_CALLS or (mod is None and fun in LIVEVIEW_ASYNC) or (mod, fun) == ("Kernel", "spawn"):
                    return holder.parent, parent
        if parent.type == "call" and call_name(parent)[1] in ("def", "defp"):
            return None, None
    return None, None


def _chain(identifier):
    """The maximal field chain starting at `identifier` (`socket.assigns.user`), or None."""
    node = identifier
    while True:
        parent = node.parent
        if parent is not None and parent.type == "dot" and parent.child_by_field_name("left") == node:
            call = parent.parent
            if call is not None and call.type == "call" and not any(c.type == "arguments" for c in call.named_children):
                node = call
                continue
        break
    return node if node is not identifier else None


BIG_VARIABLES = declared_query(r"""((identifier) @var (#any-of? @var "conn" "socket" "assigns"))""")


@RULE.check
def check(ctx: Context, match: Match):
    if match.pattern == 0:
        identifier = match.node("var")
        if _closure_call(identifier)[0] is None:  # else its closure's match reports it
            yield from _check_identifier(ctx, identifier)
        return
    closure = match.node("closure")
    for _, captures in sub_matches(closure, BIG_VARIABLES):
        identifier = captures["var"][0]
        if _closure_call(identifier)[1] == closure:  # not a closure nested in this one
            yield from _check_identifier(ctx, identifier)


def _check_identifier(ctx: Context, identifier):
    if identifier.parent is not None and identifier.parent.type == "dot" and identifier.parent.child_by_field_name("right") == identifier:
        return  # a field name, `x.socket`
    call, closure = _closure_call(identifier)
    name = text(identifier)
    if call is None:
        message = identifier.parent if identifier.parent is not None and identifier.parent.type == "tuple" else identifier
        parent = message.parent
        if name == "assigns" or parent is None or parent.type != "arguments" or parent.parent is None:
            return
        sender = parent.parent
        if is_definition_head(sender):
            return  # `def send(pid, socket)` defines a function, it sends nothing
        position = SEND_CALLS.get(resolved_call(ctx, sender))
        args = effective_arguments(sender)
        if position is None or len(args) <= position or args[position] != message or not _big_variable(ctx, identifier):
            return
        yield ctx.finding(identifier, f"The whole {name} is copied into the receiving process; send only the fields it needs")
        return
    if not _big_variable(ctx, identifier):
        return
    uses = [n for n in walk(closure) if n.type == "identifier" and text(n) == name and not (n.parent is not None and n.parent.type == "dot" and n.parent.child_by_field_name("right") == n)]
    if not uses or uses[0] != identifier:
        return  # one finding per closure and variable, on the first use
    label = text(call.child_by_field_name("target"))
    note = " (the LiveView compiler reports this too)" if call_name(call)[1] in LIVEVIEW_ASYNC else ""
    yield ctx.finding(
        identifier,
        f"The closure given to {label} captures {name}, so the whole {name} is copied into the new process; bind the fields it needs first{note}",
        fixes=_hoist(call, uses),
    )


def _hoist(call, uses):
    chains = [_chain(u) for u in uses]
    if any(c is None for c in chains):
        return []
    names = {}
    for chain in chains:
        last = text(chain).rsplit(".", 1)[-1]
        names.setdefault(text(chain), last)
    if len(set(names.values())) != len(names):
        return []
    statement = call
    while statement.parent is not None and statement.parent.type not in ("do_block", "body", "stab_clause"):
        statement = statement.parent
    if statement.parent is None or statement.parent.type not in ("do_block", "body"):
        return []
    indent = " " * statement.start_point[1]
    bindings = "".join(f"{local} = {chain}\n{indent}" for chain, local in names.items())
    edits = [Edit(statement.start_byte, statement.start_byte, bindings)]
    edits += [Edit(c.start_byte, c.end_byte, names[text(c)]) for c in chains]
    return [fix("Bind the fields before starting the process", *edits, safe=False)]
