"""LV006 stream-configure-placement."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, good
from exhort.syntax import effective_arguments, enclosing_def, function_def, walk

from ._common import STREAM_INIT, local_or_lv, name_literal

REPEATING = {"live_view": {("handle_params", 3), ("handle_event", 3), ("handle_info", 2)},
             "live_component": {("update", 2)}}

RULE = Rule(
    code="LV006",
    name="stream-configure-placement",
    category="liveview",
    severity=Severity.ERROR,
    summary="stream_configure after stream/4, or in a callback that runs more than once",
    fix_safety="none",
    scope="module",
    query=r"""((call target: [(identifier) @fun (dot right: (identifier) @fun)]) @call (#eq? @fun "stream_configure"))""",
    explanation="""
        ## LV006 stream-configure-placement

        "A stream must be configured before items are inserted, and once configured, a stream
        may not be re-configured. To ensure a stream is only configured a single time in a
        LiveComponent, use the `mount/1` callback" (`phoenix_live_view.ex:2061-2066`, LiveView
        v1.2.10). The raises: "cannot configure stream :x after it has been streamed" and
        "cannot re-configure stream :x after it has been configured" (lines 2082-2086).

        Flagged: `stream_configure/3` (a) after `stream(…, NAME, …)` for the same NAME in the
        same function, (b) inside a LiveComponent's `update/2`, or a LiveView's
        `handle_params/3`, `handle_event/3` or `handle_info/2`.

        **Bad** `update(assigns, socket)` calling `stream_configure(:songs, ...) |> stream(:songs, ...)`

        **Good** `def mount(socket), do: {:ok, stream_configure(socket, :songs, dom_id: ...)}`

        **Fix**: move the call into `mount/1` (LiveComponent) or `mount/3` (LiveView). Not
        automated: the arguments may use variables of the callback.
    """,
    examples=[
        bad(
            """
            defmodule MyAppWeb.SongsComponent do
              use MyAppWeb, :live_component

              def update(assigns, socket) do
                {:ok,
                 socket
                 |> stream_configure(:songs, dom_id: &"song-#{&1.uuid}")  # expect: LV006
                 |> stream(:songs, assigns.songs)}
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyAppWeb.FeedLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                socket = stream(socket, :posts, [])
                {:ok, stream_configure(socket, :posts, dom_id: &"post-#{&1.uuid}")}  # expect: LV006
              end
            end
            """,
            note="configured after it has been streamed",
        ),
        good(
            """
            defmodule MyAppWeb.SongsComponent do
              use MyAppWeb, :live_component

              def mount(socket), do: {:ok, stream_configure(socket, :songs, dom_id: &"song-#{&1.uuid}")}
              def update(assigns, socket), do: {:ok, stream(socket, :songs, assigns.songs)}
            end
            """,
        ),
        good(
            """
            defmodule MyAppWeb.FeedLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                {:ok, socket |> stream_configure(:posts, dom_id: &"p-#{&1.uuid}") |> stream(:posts, [])}
              end
            end
            """,
            note="configured before the first stream/4",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    if not local_or_lv(call, "stream_configure"):
        return
    module = ctx.module_of(call)
    if module is None or module.kind not in REPEATING:
        return
    definition = enclosing_def(call)
    fdef = function_def(definition) if definition is not None else None
    if fdef is None:
        return
    args = effective_arguments(call)
    name = name_literal(args[1]) if len(args) > 1 else None
    if (fdef.name, fdef.arity) in REPEATING[module.kind]:
        yield ctx.finding(call, f"stream_configure in {fdef.name}/{fdef.arity}, which runs more than once per "
                                "process, raises on the second run; configure streams in mount")
        return
    if name is None:
        return
    for node in walk(definition):
        if node.start_byte >= call.start_byte:
            break
        if node.type == "call" and local_or_lv(node, *STREAM_INIT[:1]):
            stream_args = effective_arguments(node)
            if len(stream_args) > 1 and name_literal(stream_args[1]) == name and not _contains(node, call):
                yield ctx.finding(call, f"stream_configure(:{name}) after stream(:{name}) raises \"cannot configure "
                                        "stream after it has been streamed\"")
                return


def _contains(outer, inner) -> bool:
    return outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte
