"""LV005 stream-undefined."""

from exhort.findings import Edit, Related, Severity
from exhort.rule import Context, Rule, bad, fix, good, module_info, requires
from exhort.syntax import atom_value, call_name, effective_arguments, module_members, tails, walk

from ._common import (
    LIVE_KINDS,
    STREAM_REF,
    colocated_module_path,
    imported_modules,
    in_function,
    module_stream_facts,
    name_literal,
    ref_name,
    socket_passed_to,
    templates,
)

USES = ("stream_insert", "stream_delete", "stream_delete_by_dom_id")


def _live_modules(root):
    stack = list(root.named_children)
    while stack:
        node = stack.pop()
        if node.type == "call" and call_name(node) == (None, "defmodule"):
            yield node
            stack.extend(module_members(node))


def extract_stream_modules(document, _path):
    """(name, kind, defines render/1, initialised names, unknown, socket passed to, imports)."""
    if document.tree is None:
        return ()
    out = []
    for module in _live_modules(document.tree.root_node):
        info = module_info(document, module)
        if info.kind in LIVE_KINDS:
            out.append(_record(document, module, info))
    return tuple(out)


def _stream_facts(document, module):
    """module_stream_facts, once per module per document text (both extractors need it)."""
    key = ("lv_stream_facts", module.start_byte, module.end_byte)
    facts = document.memo.get(key)
    if facts is None:
        facts = document.memo[key] = module_stream_facts(module)
    return facts


def _record(document, module, info):
    facts = _stream_facts(document, module)
    return (info.name or "", info.kind, info.defines("render", 1), frozenset(facts.initialised),
            facts.unknown, frozenset(socket_passed_to(module, info)), frozenset(imported_modules(module, info)))


@requires(b"stream")
def extract_stream_callers(document, _path):
    """Modules of this file that call stream/3,4 or stream_async (helpers that set up streams)."""
    if document.tree is None:
        return frozenset()
    out = set()
    for module in _live_modules(document.tree.root_node):
        info = module_info(document, module)
        facts = _stream_facts(document, module)
        if info.name and (facts.initialised or facts.unknown):
            out.add(info.name)
    return frozenset(out)


FACTS = {"lv_stream_modules": extract_stream_modules, "lv_stream_callers": extract_stream_callers}

RULE = Rule(
    code="LV005",
    name="stream-undefined",
    category="liveview",
    severity=Severity.WARNING,
    summary="stream_insert/stream_delete or @streams.NAME on a stream that is never initialised",
    fix_safety="offer",
    scope="document",
    languages=("elixir", "heex"),
    requires=(b"stream",),
    workspace=True,
    explanation="""
        ## LV005 stream-undefined

        `update_stream/3` raises `ArgumentError` "no stream with name :x previously defined"
        (`phoenix_live_view.ex:2302-2309`, LiveView v1.2.10). Only `stream/3,4` and
        `stream_async` initialise a stream; `stream_configure/3` only records settings.

        Flagged: `stream_insert`, `stream_delete` or `stream_delete_by_dom_id` with a literal
        name, and `@streams.NAME` in the module's template (its `render/1`, or the colocated
        `foo_live.html.heex` of a LiveView without `render/1`), in a LiveView or LiveComponent
        that never calls `stream(…, NAME, …)` or `stream_async(…, NAME, …)`.

        **Bad** `stream_insert(socket, :events, e)` with no `stream(:events, ...)` anywhere.

        **Fix** (offered): add `|> stream(:NAME, [])` to the socket `mount/3` returns, when it
        has a single `{:ok, socket}` tail.

        **Good** `socket |> stream(:events, [])` in `mount/3`.

        Silent when a stream name is not a literal, when the module declares `on_mount` hooks,
        or when the socket is passed to (or the module imports) another workspace module that
        calls `stream(`. A stream initialised in only one branch is not flagged (a known limit).
    """,
    examples=[
        good(
            """
            defmodule MyAppWeb.BoardLive do
              use MyAppWeb, :live_view

              defmodule Card do
                use Phoenix.LiveComponent
                def update(assigns, socket), do: {:ok, assign(socket, assigns)}
                def render(assigns), do: ~H"<p>{@id}</p>"
              end

              def mount(_params, _session, socket), do: {:ok, socket}
              def render(assigns), do: ~H"<div></div>"
            end

            defmodule MyAppWeb.ListLive do
              use MyAppWeb, :live_view

              defmodule Card do
                use Phoenix.LiveComponent
                def update(assigns, socket), do: {:ok, socket |> assign(assigns) |> stream(:tags, assigns.tags)}

                def render(assigns) do
                  ~H\"""
                  <ul id={@id} phx-update="stream"><li :for={{id, t} <- @streams.tags} id={id}>{t}</li></ul>
                  \"""
                end
              end

              def mount(_params, _session, socket), do: {:ok, socket}
              def render(assigns), do: ~H"<div></div>"
            end
            """,
            note="two nested components with the same short name: each is checked against its own streams",
        ),
        bad(
            """
            defmodule MyAppWeb.EventLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket), do: {:ok, stream(socket, :events, [])}

              def handle_info({:new_alert, a}, socket) do
                {:noreply, stream_insert(socket, :alerts, a)}  # expect: LV005
              end

              def handle_info({:gone, e}, socket), do: {:noreply, socket |> stream_delete(:events, e)}
            end
            """,
            fixed="""
            defmodule MyAppWeb.EventLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket), do: {:ok, stream(socket, :events, []) |> stream(:alerts, [])}

              def handle_info({:new_alert, a}, socket) do
                {:noreply, stream_insert(socket, :alerts, a)}  # expect: LV005
              end

              def handle_info({:gone, e}, socket), do: {:noreply, socket |> stream_delete(:events, e)}
            end
            """,
            note="the offered fix initialises the stream in mount/3",
        ),
        bad(
            """
            <div id="alerts" phx-update="stream">
              <p :for={{id, a} <- @streams.alerts} id={id}>{a.text}</p> <%!-- expect: LV005 --%>
            </div>
            """,
            path="lib/my_app_web/live/event_live.html.heex",
            files={"lib/my_app_web/live/event_live.ex": """
                defmodule MyAppWeb.EventLive do
                  use MyAppWeb, :live_view
                  def mount(_params, _session, socket), do: {:ok, stream(socket, :events, [])}
                end
                """},
            note="colocated template of a LiveView without render/1",
        ),
        good(
            """
            <div id="events" phx-update="stream">
              <p :for={{id, e} <- @streams.events} id={id}>{e.text}</p>
            </div>
            """,
            path="lib/my_app_web/live/event_live.html.heex",
            files={"lib/my_app_web/live/event_live.ex": """
                defmodule MyAppWeb.EventLive do
                  use MyAppWeb, :live_view
                  def mount(_params, _session, socket), do: {:ok, stream(socket, :events, [])}
                end
                """},
            note="the module initialises the stream the template reads",
        ),
        good(
            """
            defmodule MyAppWeb.FeedLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                {:ok, socket |> stream_configure(:posts, dom_id: &"p-#{&1.uuid}") |> stream_async(:posts, fn -> {:ok, []} end)}
              end

              def handle_info({:post, p}, socket), do: {:noreply, stream_insert(socket, :posts, p)}
            end
            """,
            note="stream_async initialises the stream",
        ),
        good(
            """
            defmodule MyAppWeb.DynLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket), do: {:ok, stream(socket, name(), [])}
              def handle_info({:x, x}, socket), do: {:noreply, stream_insert(socket, :x, x)}
              defp name, do: :x
            end
            """,
            note="a stream name that is not literal: unknown",
        ),
        good(
            """
            defmodule MyAppWeb.HookedLive do
              use MyAppWeb, :live_view
              on_mount MyAppWeb.Streams

              def handle_info({:x, x}, socket), do: {:noreply, stream_insert(socket, :notices, x)}
            end
            """,
            note="on_mount hooks may initialise streams",
        ),
        good(
            """
            defmodule MyAppWeb.DelegatingLive do
              use MyAppWeb, :live_view
              alias MyAppWeb.StreamSetup

              def mount(_params, _session, socket), do: {:ok, StreamSetup.init(socket)}
              def handle_info({:x, x}, socket), do: {:noreply, stream_insert(socket, :things, x)}
            end
            """,
            files={"lib/my_app_web/stream_setup.ex": """
                defmodule MyAppWeb.StreamSetup do
                  import Phoenix.LiveView
                  def init(socket), do: stream(socket, :things, [])
                end
                """},
            note="the socket is passed to a workspace module that calls stream(",
        ),
        good(
            """
            defmodule MyApp.Worker do
              use GenServer
              def handle_info(x, state), do: {:noreply, stream_insert(state, :x, x)}
            end
            """,
            note="not a LiveView",
        ),
    ],
)


def _callers(ctx) -> set[str]:
    out: set[str] = set()
    if ctx.workspace is not None:
        for _path, names in ctx.workspace.facts("lv_stream_callers"):
            out |= set(names)
    return out


def _is_unknown(ctx, record) -> bool:
    _name, _kind, _render, _initialised, unknown, passed_to, imports = record
    if unknown:
        return True
    external = (passed_to | imports) - {n for n in passed_to | imports if n.startswith(("Phoenix.", "Elixir."))}
    if not external:
        return False
    if ctx.workspace is None:
        return True
    return bool(external & _callers(ctx))


@RULE.check
def check(ctx: Context, _match):
    if ctx.document.language == "heex":
        yield from _check_colocated(ctx)
        return
    if ctx.document.tree is None:
        return
    for module in _live_modules(ctx.document.tree.root_node):
        info = module_info(ctx.document, module)
        if info.kind not in LIVE_KINDS:
            continue
        record = _record(ctx.document, module, info)  # per module node: nested modules may share a short name
        if _is_unknown(ctx, record):
            continue
        initialised = record[3]
        for node in walk(module):
            if node.type != "call":
                continue
            mod, function = call_name(node)
            if function not in USES or mod not in (None, "Phoenix.LiveView"):
                continue
            args = effective_arguments(node)
            name = name_literal(args[1]) if len(args) > 1 else None
            if name is not None and name not in initialised and _inside(module, node):
                yield ctx.finding(node, f"Stream :{name} is never initialised with stream/3,4 or stream_async in "
                                        f"{info.name or 'this module'}; {function} raises ArgumentError",
                                  fixes=_init_in_mount(info, name))
        for template in templates(ctx):
            sigil = template.sigil
            if sigil is None or not _inside(module, sigil) or not in_function(sigil, "render", 1):
                continue
            yield from _template_refs(ctx, template, initialised, info.name, None)


def _init_in_mount(info, name):
    """Offer `|> stream(:NAME, [])` on the socket mount/3 returns, when it has one `{:ok, socket}` tail."""
    if info.kind != "live_view" or not name.replace("_", "").isalnum():
        return []
    mounts = [d for d in info.definitions("mount", 3) if d.kind == "def" and d.body is not None]
    if len(mounts) != 1:
        return []
    found = list(tails(mounts[0].body))
    if len(found) != 1 or getattr(found[0], "type", None) != "tuple":
        return []
    items = [c for c in found[0].named_children if c.type != "comment"]
    if len(items) != 2 or items[0].type != "atom" or atom_value(items[0]) != "ok":
        return []
    socket = items[1]
    return [fix(f"Add |> stream(:{name}, []) to mount/3", Edit(socket.end_byte, socket.end_byte,
                                                               f" |> stream(:{name}, [])"), safe=False)]


def _inside(module, node) -> bool:
    """node belongs to `module` itself, not to a nested defmodule."""
    for parent in _ancestors(node):
        if parent.type == "call" and call_name(parent) == (None, "defmodule"):
            return parent == module
    return False


def _ancestors(node):
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _template_refs(ctx, template, initialised, module_name, module_path):
    data = template.data
    for _node, _attribute, start, end in template.code_ranges():
        for match in STREAM_REF.finditer(data, start, end):
            name = ref_name(match)
            if name in initialised:
                continue
            related = []
            if module_path is not None:
                related = [Related(0, 0, f"{module_name} never calls stream(socket, :{name}, ...)", path=module_path)]
            yield ctx.finding(match.span(), f"Stream :{name} is never initialised in {module_name or 'the LiveView'}; "
                                            "rendering @streams of an unknown name fails", related=related)


def _check_colocated(ctx):
    if ctx.workspace is None:
        return
    module_path = colocated_module_path(ctx.document.path)
    if module_path is None:
        return
    records = ctx.workspace.fact(module_path, "lv_stream_modules") or ()
    candidates = [r for r in records if not r[2]]
    if len(candidates) != 1:
        return
    record = candidates[0]
    if _is_unknown(ctx, record):
        return
    for template in templates(ctx):
        yield from _template_refs(ctx, template, record[3], record[0], module_path)
