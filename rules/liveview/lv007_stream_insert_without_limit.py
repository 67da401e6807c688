"""LV007 stream-insert-without-limit."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import arguments_node, effective_arguments, keyword_pairs, text, trailing_keywords, walk

from ._common import local_or_lv, name_literal

RULE = Rule(
    code="LV007",
    name="stream-insert-without-limit",
    category="liveview",
    severity=Severity.WARNING,
    summary="stream_insert without the :limit its stream/4 was given",
    fix_safety="offer",
    scope="module",
    query=r"""((call target: [(identifier) @fun (dot right: (identifier) @fun)]) @call (#eq? @fun "stream_insert"))""",
    explanation="""
        ## LV007 stream-insert-without-limit

        "A limit passed to `stream/4` does not affect subsequent calls to `stream_insert/4`,
        therefore the limit must be passed here as well in order to be enforced"
        (`phoenix_live_view.ex:2125-2128`, LiveView v1.2.10).

        Flagged: in a module that calls `stream(…, NAME, …, limit: L)`, a
        `stream_insert(…, NAME, …)` without `:limit` (and without `update_only: true`).

        **Bad** `stream(socket, :events, events, limit: -50)` … `stream_insert(socket, :events, e)`

        **Good** `stream_insert(socket, :events, e, limit: -50)`

        **Fix** (offered): copy the `limit:` expression from `stream/4`. The limit is then
        enforced, which is the documented intent but changes what the UI shows.

        Not flagged when the `stream/4` limit uses variables of its function (for example a
        pagination window whose size and sign depend on the scroll direction): which limit a
        later insert needs is unknown, and the expression cannot be copied elsewhere.
    """,
    examples=[
        bad(
            """
            defmodule MyAppWeb.EventLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket), do: {:ok, stream(socket, :events, [], limit: -50)}

              def handle_info({:event, e}, socket), do: {:noreply, stream_insert(socket, :events, e)}  # expect: LV007
              def handle_info({:top, e}, socket), do: {:noreply, stream_insert(socket, :events, e, at: 0)}  # expect: LV007
            end
            """,
            fixed="""
            defmodule MyAppWeb.EventLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket), do: {:ok, stream(socket, :events, [], limit: -50)}

              def handle_info({:event, e}, socket), do: {:noreply, stream_insert(socket, :events, e, limit: -50)}  # expect: LV007
              def handle_info({:top, e}, socket), do: {:noreply, stream_insert(socket, :events, e, at: 0, limit: -50)}  # expect: LV007
            end
            """,
        ),
        good(
            """
            defmodule MyAppWeb.EventLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket), do: {:ok, stream(socket, :events, [], limit: -50)}

              def handle_info({:event, e}, socket), do: {:noreply, stream_insert(socket, :events, e, limit: -50)}
              def handle_info({:edit, e}, socket), do: {:noreply, stream_insert(socket, :events, e, update_only: true)}
              def handle_info({:x, e, opts}, socket), do: {:noreply, stream_insert(socket, :events, e, opts)}
              def handle_info({:y, e}, socket), do: {:noreply, stream_insert(socket, :other, e)}
            end
            """,
            note="limit passed, update_only, options not literal, a stream without limit",
        ),
        good(
            """
            defmodule MyAppWeb.TimelineLive do
              use MyAppWeb, :live_view

              def handle_info({:entry, e}, socket), do: {:noreply, stream_insert(socket, :entries, e, at: 0)}

              defp show_page(socket, page, forward?) do
                entries = Timeline.page(page)
                window = if forward?, do: -@page_size * 3, else: @page_size * 3
                stream(socket, :entries, entries, at: if(forward?, do: -1, else: 0), limit: window)
              end
            end
            """,
            note="a limit computed from variables (a pagination window) is unknown for later inserts",
        ),
        bad(
            """
            defmodule MyAppWeb.LogLive do
              use MyAppWeb, :live_view
              @max_lines 200

              def mount(_params, _session, socket), do: {:ok, stream(socket, :lines, [], limit: -@max_lines)}
              def handle_info({:line, l}, socket), do: {:noreply, stream_insert(socket, :lines, l)}  # expect: LV007
            end
            """,
            note="a module attribute limit is copied as is",
            fixed="""
            defmodule MyAppWeb.LogLive do
              use MyAppWeb, :live_view
              @max_lines 200

              def mount(_params, _session, socket), do: {:ok, stream(socket, :lines, [], limit: -@max_lines)}
              def handle_info({:line, l}, socket), do: {:noreply, stream_insert(socket, :lines, l, limit: -@max_lines)}  # expect: LV007
            end
            """,
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    if not local_or_lv(call, "stream_insert"):
        return
    module = ctx.module_of(call)
    if module is None:
        return
    args = effective_arguments(call)
    name = name_literal(args[1]) if len(args) > 1 else None
    if name is None or len(args) < 3:
        return
    if len(args) >= 4 and trailing_keywords(call) is None and args[3].type != "list":
        return  # options that are not literal: unknown
    options = trailing_keywords(call) or (args[3] if len(args) >= 4 else None)
    for key, value, _pair in keyword_pairs(options):
        if key == "limit" or (key == "update_only" and text(value) == "true"):
            return
        if key == "update_only":
            return  # not literal false: unknown
    limit = _stream_limit(module.node, name)
    if limit is None:
        return
    fixes = []
    arguments = arguments_node(call)
    if arguments is not None and text(arguments).endswith(")"):
        at = arguments.end_byte - 1
        fixes = [fix(f"Pass limit: {limit}", Edit(at, at, f", limit: {limit}"), safe=False)]
    yield ctx.finding(call, f"stream :{name} has limit: {limit} in stream/4, but stream_insert does not enforce "
                            "it unless passed again", fixes=fixes)


def _stream_limit(module_node, name):
    """The `limit:` of `stream(…, NAME, …, limit: L)`, when L is the same wherever it is read (a
    literal, a module attribute, a function call). None when the stream has no limit, or when L
    uses variables of its function, e.g. a pagination window whose size and sign depend on the
    scroll direction: which limit a later insert should get is then unknown."""
    for node in walk(module_node):
        if node.type == "call" and local_or_lv(node, "stream"):
            args = effective_arguments(node)
            if len(args) > 1 and name_literal(args[1]) == name:
                for key, value, _pair in keyword_pairs(trailing_keywords(node)):
                    if key == "limit":
                        return None if _uses_variables(value) else text(value)
    return None


def _uses_variables(value) -> bool:
    for node in walk(value):
        if node.type != "identifier":
            continue
        parent = node.parent
        if parent is not None and parent.type == "unary_operator" and \
                text(parent.child_by_field_name("operator")) == "@":
            continue  # a module attribute
        if parent is not None and parent.type == "call" and parent.child_by_field_name("target") == node:
            continue  # a local function call
        if parent is not None and parent.type == "dot" and parent.child_by_field_name("right") == node:
            continue  # Mod.fun
        return True
    return False
