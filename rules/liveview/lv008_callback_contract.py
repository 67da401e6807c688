"""LV008 callback-contract."""

import difflib

from exhort.findings import Edit
from exhort.findings import Severity
from exhort.rule import Context, Rule, bad, fix, good
from exhort.syntax import atom_value, call_name, function_def, keyword_pairs, tails, text, walk

from ._common import callback_clauses, intact_definitions

MOUNT_OPTIONS = ("temporary_assigns", "layout")
LIVE_VIEW = {("mount", 3): "mount", ("handle_event", 3): "event", ("handle_info", 2): "noreply",
             ("handle_params", 3): "noreply", ("handle_async", 3): "noreply"}
LIVE_COMPONENT = {("mount", 1): "mount", ("update", 2): "update", ("handle_event", 3): "event",
                  ("handle_async", 3): "noreply"}
EXPECTED = {
    "mount": "{:ok, socket} or {:ok, socket, opts}",
    "update": "{:ok, socket}",
    "event": "{:noreply, socket} or {:reply, map, socket}",
    "noreply": "{:noreply, socket}",
}
LITERALS = ("atom", "string", "integer", "float", "list", "boolean", "nil", "charlist", "map", "keywords")

RULE = Rule(
    code="LV008",
    name="callback-contract",
    category="liveview",
    severity=Severity.ERROR,
    summary="A LiveView / LiveComponent callback returns a shape LiveView rejects",
    fix_safety="safe/offer",
    scope="document",  # a half-typed member elsewhere in the module must not hide the other callbacks
    requires=(b"def mount", b"def update", b"def handle_"),
    explanation="""
        ## LV008 callback-contract

        LiveView checks callback results at run time (LiveView v1.2.10):
        `handle_mount_result!/2` raises "invalid result returned from …mount/3. Expected
        {:ok, socket} | {:ok, socket, opts}" and accepts only `@mount_opts [:temporary_assigns,
        :layout]` (`utils.ex:9, 385-420`); `update/2` must return `{:ok, socket}`
        (`utils.ex:499-511`); `handle_event/3` must return `{:noreply, socket}` or
        `{:reply, map, socket}`, and `handle_info/2`, `handle_params/3` and `handle_async/3`
        `{:noreply, socket}` (`channel.ex:691-727`, `async.ex:345-356`). `push_patch` while
        mounting raises "attempted to live patch while mounting" (`utils.ex:334-341`).

        Each tail of the callback (through `if`/`case`/`cond`/`with`, following a local
        function one level) is checked; tails that are unknown calls or variables are skipped.
        A tail `if`/`unless` without `else` returns nil when it is not taken, which LiveView
        rejects too, and so does the bare socket (the callback's own socket parameter, never
        rebound). Each clause of a multi-clause callback is checked on its own, and a member
        still being typed elsewhere in the module does not hide the others.

        **Bad** `def handle_event("save", _params, socket), do: {:ok, socket}` ·
        `{:ok, socket, temporary_assign: [msgs: []]}`

        **Good** `{:noreply, socket}` · `{:ok, socket, temporary_assigns: [msgs: []]}`

        **Fix**: `{:ok, s}` → `{:noreply, s}` in `handle_*` and `{:noreply, s}` → `{:ok, s}` in
        `mount`/`update` (safe: the old form always raises); rename a misspelt mount option
        (safe); `push_patch` in mount → `push_navigate` (offered).
    """,
    examples=[
        bad(
            """
            defmodule MyAppWeb.InboxLive do
              use MyAppWeb, :live_view

              def mount(%{"id" => _id}, _session, socket), do: {:ok, socket}
              def mount(_params, _session, socket), do: {:noreply, socket}  # expect: LV008

              def handle_params(_params, _uri, socket) do
                {:noreply, socket |> push_patch(to: "/inbox")}
              end

              def handle_event("read", %{"id" => _id}, socket), do: {:noreply, socket}
              def handle_event("archive", _params, socket), do: {:reply, socket}  # expect: LV008

              def handle_info({:new, msg}, socket), do: {:noreply, assign(socket, :last, msg)}
              def handle_info(:tick, socket), do: {:reply, %{}, socket}  # expect: LV008

              def handle_async(:load, {:ok, rows}, socket), do: {:noreply, assign(socket, :rows, rows)}
              def handle_async(:load, {:exit, _reason}, socket), do: {:ok, socket}  # expect: LV008

              def handle_event("search", params, socket) do
                socket |> assign(:q, params["q"]) |>
              end
            end
            """,
            note="each clause of multi-clause callbacks on its own (reported on the clause that returns the "
                 "wrong shape), push_patch outside mount is fine, and a member still being typed hides only itself",
            fixed="""
            defmodule MyAppWeb.InboxLive do
              use MyAppWeb, :live_view

              def mount(%{"id" => _id}, _session, socket), do: {:ok, socket}
              def mount(_params, _session, socket), do: {:ok, socket}  # expect: LV008

              def handle_params(_params, _uri, socket) do
                {:noreply, socket |> push_patch(to: "/inbox")}
              end

              def handle_event("read", %{"id" => _id}, socket), do: {:noreply, socket}
              def handle_event("archive", _params, socket), do: {:reply, socket}  # expect: LV008

              def handle_info({:new, msg}, socket), do: {:noreply, assign(socket, :last, msg)}
              def handle_info(:tick, socket), do: {:reply, %{}, socket}  # expect: LV008

              def handle_async(:load, {:ok, rows}, socket), do: {:noreply, assign(socket, :rows, rows)}
              def handle_async(:load, {:exit, _reason}, socket), do: {:noreply, socket}  # expect: LV008

              def handle_event("search", params, socket) do
                socket |> assign(:q, params["q"]) |>
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyAppWeb.ChartComponent do
              use MyAppWeb, :live_component

              def mount(socket), do: {:noreply, socket}  # expect: LV008

              def update(%{points: _} = assigns, socket), do: {:ok, assign(socket, assigns)}
              def update(_assigns, socket), do: socket  # expect: LV008

              def handle_async(:render, _result, socket), do: {:ok, socket}  # expect: LV008
            end
            """,
            note="LiveComponent mount/1 (same handler as mount/3), a second update/2 clause returning the bare "
                 "socket, handle_async/3",
        ),
        good(
            """
            defmodule MyAppWeb.TableComponent do
              use MyAppWeb, :live_component

              def mount(socket), do: {:ok, socket, temporary_assigns: [rows: []]}
              def update(assigns, socket), do: {:ok, assign(socket, assigns)}
              def handle_async(:load, {:ok, rows}, socket), do: {:noreply, assign(socket, :rows, rows)}
              def handle_event("sort", _params, socket) do
                socket = assign(socket, :sorted, true)
                reply(socket)
              end

              defp reply(socket) do
                socket = {:noreply, socket}
                socket
              end
            end
            """,
            note="LiveComponent mount/1 accepts {:ok, socket, opts}; a variable that was rebound is unknown",
        ),
        bad(
            """
            defmodule MyAppWeb.ToggleLive do
              use MyAppWeb, :live_view

              def handle_event("toggle", _params, socket) do
                if socket.assigns.enabled do  # expect: LV008
                  {:noreply, assign(socket, enabled: false)}
                end
              end

              def handle_info(:tick, socket) do
                unless socket.assigns.paused do  # expect: LV008
                  {:noreply, socket}
                end
              end
            end
            """,
            note="an if/unless tail without else returns nil when it is not taken",
        ),
        bad(
            """
            defmodule MyAppWeb.FormLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                {:ok, socket, temporary_assign: [msgs: []]}  # expect: LV008
              end

              def handle_event("save", _params, socket), do: {:ok, socket}  # expect: LV008

              def handle_info(:tick, socket) do
                if socket.assigns.on do
                  {:noreply, socket}
                else
                  :ok  # expect: LV008
                end
              end
            end
            """,
            fixed="""
            defmodule MyAppWeb.FormLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                {:ok, socket, temporary_assigns: [msgs: []]}  # expect: LV008
              end

              def handle_event("save", _params, socket), do: {:noreply, socket}  # expect: LV008

              def handle_info(:tick, socket) do
                if socket.assigns.on do
                  {:noreply, socket}
                else
                  :ok  # expect: LV008
                end
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyAppWeb.RowComponent do
              use MyAppWeb, :live_component

              def update(assigns, socket), do: {:noreply, assign(socket, assigns)}  # expect: LV008

              def handle_event("pick", _p, socket), do: {:reply, :ok, socket}  # expect: LV008
            end
            """,
            note="LiveComponent update/2 and a reply that is not a map",
        ),
        bad(
            """
            defmodule MyAppWeb.RedirectLive do
              use Phoenix.LiveView

              def mount(_params, _session, socket) do
                {:ok, push_patch(socket, to: "/other")}  # expect: LV008
              end

              def handle_params(params, _uri, socket), do: load(params, socket)

              defp load(_params, socket), do: {:ok, socket}  # expect: LV008
            end
            """,
            note="push_patch in mount, and a tail followed into a local function",
        ),
        good(
            """
            defmodule MyAppWeb.GoodLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket), do: {:ok, socket, temporary_assigns: [msgs: []], layout: false}
              def handle_event("ping", _p, socket), do: {:reply, %{pong: true}, socket}
              def handle_event("x", _p, socket), do: Helpers.handle(socket)
              def handle_info(msg, socket), do: {:noreply, assign(socket, :last, msg)}
              def handle_params(_p, _uri, socket), do: result(socket)
              def handle_async(:load, {:ok, v}, socket), do: {:noreply, assign(socket, :v, v)}
              defp result(socket), do: {:noreply, socket}
            end
            """,
            note="unknown tails (remote calls, variables) never fire",
        ),
        good(
            """
            defmodule MyApp.Server do
              use GenServer
              def init(x), do: {:ok, x}
              def handle_info(:tick, state), do: {:ok, state}
            end
            """,
            note="a GenServer's handle_info is not a LiveView callback",
        ),
    ],
)


@RULE.check
def check(ctx: Context, _match):
    for module, fdef in callback_clauses(ctx, ("live_view", "live_component"), {*LIVE_VIEW, *LIVE_COMPONENT}):
        callbacks = LIVE_VIEW if module.kind == "live_view" else LIVE_COMPONENT
        contract = callbacks.get((fdef.name, fdef.arity))
        if contract is not None:
            yield from _check_callback(ctx, module, fdef, contract)


def _check_callback(ctx, module, fdef, contract):
    call = fdef.node
    if module.kind == "live_view" and contract == "mount":
        for node in walk(call):
            if node.type == "call" and call_name(node) in ((None, "push_patch"), ("Phoenix.LiveView", "push_patch")):
                target = node.child_by_field_name("target")
                name = target.child_by_field_name("right") if target.type == "dot" else target
                yield ctx.finding(node, "push_patch while mounting raises; use push_navigate/2 or redirect/2",
                                  fixes=[fix("Use push_navigate", Edit(name.start_byte, name.end_byte, "push_navigate"),
                                             safe=False)])
    for tail in tails(fdef.body):
        yield from _check_tail(ctx, module, fdef, contract, tail, follow=True)


def _check_tail(ctx, module, fdef, contract, tail, follow):
    if tail.type == "implicit_nil":  # `if` / `unless` without `else`: nil when it is not taken
        keyword = text(tail.node.child_by_field_name("target")) if hasattr(tail.node, "child_by_field_name") else "if"
        yield ctx.finding((tail.start_byte, tail.start_byte + len(keyword)),
                          f"this `{keyword}` has no `else`, so {fdef.name}/{fdef.arity} returns nil when it is not "
                          f"taken; it must return {EXPECTED[contract]}")
        return
    if tail.type == "call":
        mod, function = call_name(tail)
        if mod is None and follow and function is not None and function not in ("raise", "reraise", "exit", "throw"):
            args = [c for c in tail.named_children if c.type == "arguments"]
            arity = len(args[0].named_children) if args else 0
            for helper in intact_definitions(module, function, arity):
                if helper.kind in ("def", "defp") and helper.node != fdef.node:
                    for inner in tails(helper.body):
                        yield from _check_tail(ctx, module, fdef, contract, inner, follow=False)
        return
    label = f"{fdef.name}/{fdef.arity}"
    if tail.type == "identifier" and _is_untouched_socket(fdef, tail):
        yield ctx.finding(tail, f"{label} must return {EXPECTED[contract]}, not the bare socket")
        return
    if tail.type in LITERALS:
        yield ctx.finding(tail, f"{label} must return {EXPECTED[contract]}, not {_short(tail)}")
        return
    if tail.type != "tuple":
        return
    items = [c for c in tail.named_children if c.type != "comment"]
    if not items or items[0].type != "atom":
        return
    tag, size = atom_value(items[0]), len(items)
    if contract in ("mount", "update"):
        if tag == "ok" and size == 2:
            return
        if tag == "ok" and size == 3 and contract == "mount":
            yield from _mount_options(ctx, label, items[2])
            return
        fixes = []
        if tag == "noreply" and size == 2:
            fixes = [fix("Return {:ok, socket}", Edit(items[0].start_byte, items[0].end_byte, ":ok"), safe=True)]
        yield ctx.finding(tail, f"{label} must return {EXPECTED[contract]}, not {{:{tag}, ...}}", fixes=fixes)
        return
    if tag == "noreply" and size == 2:
        return
    if contract == "event" and tag == "reply" and size == 3:
        if items[1].type in LITERALS and items[1].type != "map":
            yield ctx.finding(tail, f"{label}: the reply of {{:reply, reply, socket}} must be a map")
        return
    fixes = []
    if tag == "ok" and size == 2:
        fixes = [fix("Return {:noreply, socket}", Edit(items[0].start_byte, items[0].end_byte, ":noreply"), safe=True)]
    yield ctx.finding(tail, f"{label} must return {EXPECTED[contract]}, not {{:{tag}, ...}}", fixes=fixes)


def _is_untouched_socket(fdef, tail) -> bool:
    """The tail is the callback's socket parameter, never rebound in the clause: a
    `%Phoenix.LiveView.Socket{}`, not a result tuple."""
    if not fdef.node.start_byte <= tail.start_byte < fdef.node.end_byte:
        return False  # a tail of a helper the callback returns through: its own variables
    if not fdef.params or fdef.params[-1].type != "identifier" or text(fdef.params[-1]) != text(tail):
        return False
    name = text(tail)
    for node in walk(fdef.body):
        if node.type == "binary_operator" and text(node.child_by_field_name("operator")) in ("=", "<-"):
            left = node.child_by_field_name("left")
            if left is not None and any(n.type == "identifier" and text(n) == name for n in walk(left)):
                return False
        if node.type == "stab_clause":  # a case/fn clause can rebind it in its pattern
            left = node.child_by_field_name("left")
            if left is not None and any(n.type == "identifier" and text(n) == name for n in walk(left)):
                return False
    return True


def _mount_options(ctx, label, options):
    for key, _value, pair in keyword_pairs(options if options.type in ("list", "keywords") else None):
        if key is None or key in MOUNT_OPTIONS:
            continue
        close = difflib.get_close_matches(key, MOUNT_OPTIONS, n=1, cutoff=0.7)
        fixes = []
        if close:
            key_node = pair.child_by_field_name("key")
            fixes = [fix(f"Rename to {close[0]}:", Edit(key_node.start_byte, key_node.end_byte, f"{close[0]}: "),
                         safe=True)]
        yield ctx.finding(pair, f"{label} accepts only the options temporary_assigns and layout, not {key}",
                          fixes=fixes)


def _short(node) -> str:
    value = text(node)
    return value if len(value) <= 30 else value[:27] + "..."
