"""Hover references for the liveview pack: stream/async functions and phx-update values
(rules catalog 6.8, LiveView v1.2.10).

Elixir: the provider gets the smallest named node under the cursor and answers on the name
or an option key of stream/4, stream_insert/4, stream_delete/3, stream_configure/3,
stream_async/4, assign_async/4 and start_async/4.

HEEx (a `.heex` file, where node is None, or the content of a `~H` sigil): the provider
needs the cursor's byte offset, read from `ctx.hover_offset` (set by the language server);
without it, it stays silent. It answers on a `phx-update` attribute (name or value).
"""

from __future__ import annotations

from exhort import heex
from exhort.syntax import call_name

FUNCTIONS = {
    "stream": "**stream(socket, name, items, opts)**\n\n"
    "- `at:` index (`-1` = append, the default; `0` = prepend). Several items inserted at an index other than "
    "`-1` appear reversed: use `Enum.reverse/1`.\n- `reset:` boolean (`false`): empty the stream on the client first.\n"
    "- `limit:` positive keeps the first N, negative keeps the last N (none). Not enforced on the first, "
    "disconnected render, and **not** applied to later `stream_insert` calls.\n\n`name` is an atom or string.",
    "stream_insert": "**stream_insert(socket, name, item, opts)**\n\n- `at:` (`-1`)\n- `limit:` must be passed again "
    "(the `stream/4` limit does not apply)\n- `update_only:` boolean (`false`, 1.1+)\n\nUpdating an existing item keeps "
    "its position; to move it, `stream_delete` then `stream_insert`.",
    "stream_delete": "**stream_delete(socket, name, item)**: no options. The item's DOM id comes from `dom_id`.",
    "stream_delete_by_dom_id": "**stream_delete_by_dom_id(socket, name, id)**: no options.",
    "stream_configure": "**stream_configure(socket, name, dom_id: fun/1)**\n\n`dom_id` defaults to "
    "`\"#{name}-#{item.id}\"`. Must be called before the first `stream/4` and only once per process: use `mount`, "
    "or `mount/1` in a LiveComponent. Items without `:id` need it.",
    "stream_async": "**stream_async(socket, name, fun, opts)** (1.2+)\n\n- `supervisor:`\n- `reset:` (`false`; resets "
    "the loading state, not the stream)\n\nfun returns `{:ok, enum}`, `{:ok, enum, stream_opts}` or `{:error, r}`. "
    "Initialises the stream with `[]`.",
    "assign_async": "**assign_async(socket, key_or_keys, fun, opts)**\n\n- `supervisor:`\n- `reset:` (`false`, `true` "
    "or a list of keys)\n\nfun returns `{:ok, %{every_key => v}}` or `{:error, r}`. Runs only when connected.",
    "start_async": "**start_async(socket, name, fun, opts)**\n\n- `supervisor:`\n\nThe result goes to "
    "`handle_async(name, {:ok, v} | {:exit, r}, socket)`, which must return `{:noreply, socket}`. A later call with "
    "the same name wins.",
}

PHX_UPDATE = (
    "**phx-update** takes `ignore`, `stream` or `replace`; `append` and `prepend` are deprecated (compile-time "
    "warning); any other value is a compile error. `phx-update` and `phx-hook` need an `id`.\n\n"
    "A stream container must be the **immediate parent** of the items, with a unique id. Each child needs "
    "`id={dom_id}` from `:for={{dom_id, item} <- @streams.name}`; `:key` has no effect on streams."
)
PHX_VALUES = {
    "stream": "`phx-update=\"stream\"`: the children are stream items, patched by their DOM ids.",
    "ignore": "`phx-update=\"ignore\"`: the element's children are never patched after the first render (attributes "
    "still are).",
    "replace": "`phx-update=\"replace\"`: the default; children are replaced on update.",
    "append": "`phx-update=\"append\"`: **deprecated**, please use streams instead.",
    "prepend": "`phx-update=\"prepend\"`: **deprecated**, please use streams instead.",
}


def hover_stream_options(ctx, node):
    if node is None or node.type == "quoted_content":
        return _heex_hover(ctx)
    current = node
    for _ in range(6):
        if current is None:
            return None
        if current.type == "call":
            module, function = call_name(current)
            if function in FUNCTIONS and module in (None, "Phoenix.LiveView"):
                reference = FUNCTIONS[function]
                return f"{reference}\n\n*Phoenix LiveView v1.2.10, `lib/phoenix_live_view.ex`*"
            if function not in (None,):
                # keyword keys of an inner call belong to that call: stop at the first call
                target = current.child_by_field_name("target")
                if target is not None and node.start_byte >= target.start_byte and node.end_byte <= target.end_byte:
                    return None
        current = current.parent
    return None


def _heex_hover(ctx):
    offset = ctx.hover_offset
    if offset is None:
        return None
    for template in heex.templates_of(ctx.document):
        if not template.start <= offset <= template.end:
            continue
        for element in template.elements():
            if not element.start <= offset <= element.start_tag_end:
                continue
            attribute = element.attr("phx-update")
            if attribute is not None and attribute.start <= offset <= attribute.end:
                value = PHX_VALUES.get(attribute.value or "") if attribute.value_start <= offset else None
                return f"{value}\n\n{PHX_UPDATE}" if value else PHX_UPDATE
    return None


HOVERS = [hover_stream_options]
