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
    for node in walk(module_node):
        if node.type == "call" and local_or_lv(node, "stream"):
            args = effective_arguments(node)
            if len(args) > 1 and name_literal(args[1]) == name:
                for key, value, _pair in keyword_pairs(trailing_keywords(node)):
                    if key == "limit":
                        return text(value)
    return None
