"""LV004 streams-not-enumerable."""

import re

from exhort.findings import Severity
from exhort.rule import Context, Rule, bad, good
from exhort.syntax import call_name, text

from ._common import STREAM_REF, generator_of, ref_name, templates

_ELIXIR_REF = re.compile(r"(?:socket\.assigns|assigns)\.streams\.([a-z_]\w*[?!]?)")
_ELIXIR_REF_BYTES = re.compile(rb"(?:socket\.assigns|assigns)\.streams\.[a-z_]\w*[?!]?")

RULE = Rule(
    code="LV004",
    name="streams-not-enumerable",
    category="liveview",
    severity=Severity.ERROR,
    summary="A stream can only be consumed by a template comprehension's first generator",
    fix_safety="none",
    scope="document",
    languages=("elixir", "heex"),
    requires=(b"streams",),
    explanation="""
        ## LV004 streams-not-enumerable

        `Enumerable.reduce/3` for `LiveStream` raises "streams can only be consumed directly by
        a for comprehension…" unless the template engine marked it consumable, which happens
        only for the first generator of a template `for` (`live_stream.ex:100-114`,
        `engine.ex:476-490`, LiveView v1.2.10). `Enum.empty?/1` and `Enum.at/2` raise "not
        implemented", `Enum.count/1` returns only the pending inserts, `length/1` raises and
        comparisons are silently false. "When using streams, we cannot rely on `Enum.empty?/1`
        or similar approaches" (`phoenix_live_view.ex:1977-2005`).

        Flagged: any use of `@streams.NAME`, `@streams[:NAME]`, `assigns.streams.NAME` or
        `socket.assigns.streams.NAME` other than as the collection of a template
        comprehension's first generator, or as a whole attribute value passed to a component.
        In Elixir code (`socket.assigns.streams.NAME`) only consuming uses are flagged: an
        `Enum`/`Stream`/`List` call, `length`/`hd`/`tl`, `++`, a comparison or `in`, or a `for`
        generator; a stream handed on as a value (a reply, a variable) is not enumerated there.

        **Bad** `<p :if={Enum.empty?(@streams.songs)}>No songs</p>`

        **Good** (the only-child pattern from the docs)

        ```heex
        <tbody id="songs" phx-update="stream">
          <tr id="songs-empty" class="only:table-row hidden"><td>No songs</td></tr>
          <tr :for={{id, song} <- @streams.songs} id={id}>...</tr>
        </tbody>
        ```

        **Fix**: none; use the only-child CSS pattern above, or keep a separate count assign.
    """,
    examples=[
        bad(
            """
            <p :if={Enum.empty?(@streams.songs)}>No songs</p> <%!-- expect: LV004 --%>
            <ul id="songs" phx-update="stream">
              <li :for={{{id, s}, i} <- Enum.with_index(@streams.songs)} id={id}>{i}</li> <%!-- expect: LV004 --%>
            </ul>
            <span :if={@streams.songs != []}> <%!-- expect: LV004 --%>
              {length(@streams.songs)} <%!-- expect: LV004 --%>
            </span>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
        ),
        bad(
            '''
            defmodule MyAppWeb.SongLive do
              use MyAppWeb, :live_view

              def handle_event("export", _params, socket) do
                rows = for {_id, song} <- socket.assigns.streams.songs, do: song.title  # expect: LV004
                {:noreply, assign(socket, :rows, rows)}
              end

              def render(assigns) do
                ~H"""
                <p>{Enum.count(@streams[:songs])} songs</p> <%!-- expect: LV004 --%>
                """
              end
            end
            ''',
            note="Elixir code and a ~H sigil",
        ),
        good(
            """
            <tbody id="songs" phx-update="stream">
              <tr id="songs-empty" class="only:table-row hidden"><td>No songs</td></tr>
              <tr :for={{id, song} <- @streams.songs} id={id}><td>{song.title}</td></tr>
            </tbody>
            <%= for {id, s} <- @streams.others do %><p id={id}>{s.title}</p><% end %>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
        ),
        good(
            """
            <.table id="songs" rows={@streams.songs} row_id={fn {id, _} -> id end}>
              <:col :let={{_id, song}} label="Title">{song.title}</:col>
            </.table>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
            note="a stream passed to a component is fine",
        ),
        good(
            '''
            defmodule MyAppWeb.SongLive do
              use MyAppWeb, :live_view

              def handle_call(:peek, _from, socket) do
                {:reply, socket.assigns.streams.songs, socket}
              end

              def pending(socket), do: socket.assigns.streams.songs.inserts
            end
            ''',
            note="a stream handed on as a value (here a reply, e.g. for a test helper) is not enumerated",
        ),
        good(
            '''
            defmodule MyAppWeb.SongLive do
              use MyAppWeb, :live_view

              def handle_info(%{streams: _} = msg, socket), do: {:noreply, stream(socket, :songs, msg.songs)}
            end
            ''',
            note="pattern matches on %{streams: _} and the stream functions are fine",
        ),
    ],
)


@RULE.check
def check(ctx: Context, _match):
    for template in templates(ctx):
        data = template.data
        allowed: set[tuple[int, int]] = set()
        for node in template.nodes():
            if node.is_element or node.kind == "eex_block":
                found = generator_of(template, node)
                if found is not None:
                    allowed.add((found[1].start_byte, found[1].end_byte))
            if node.kind in ("component", "slot"):
                for attribute in node.attrs:
                    if attribute.kind == "expr" and not attribute.special:
                        start, end = attribute.value_start, attribute.value_end
                        stripped = data[start:end].strip()
                        offset = data.find(stripped, start, end) if stripped else -1
                        if offset >= 0:
                            allowed.add((offset, offset + len(stripped)))
        for _node, _attribute, start, end in template.code_ranges():
            for match in STREAM_REF.finditer(data, start, end):
                if match.span() in allowed:
                    continue
                if data[match.end() : match.end() + 1] == b".":  # field access on the struct
                    continue
                yield ctx.finding(match.span(), _message(ref_name(match)))
    if ctx.document.tree is None:
        return
    root = ctx.document.tree.root_node
    seen: set[tuple[int, int]] = set()
    # Find the references by their text, then read the syntax around each one: far cheaper
    # than visiting every node of the file.
    for found in _ELIXIR_REF_BYTES.finditer(ctx.document.data):
        node = root.named_descendant_for_byte_range(found.start(), found.end())
        while node is not None and (
            node.end_byte - node.start_byte < found.end() - found.start() or node.type == "dot"
        ):
            node = node.parent  # the reference is the call whose target is this dot chain
        if node is None or node.type != "call" or (node.start_byte, node.end_byte) in seen:
            continue
        seen.add((node.start_byte, node.end_byte))
        target = node.child_by_field_name("target")
        if target is None or target.type != "dot" or any(c.type == "arguments" for c in node.named_children):
            continue
        match = _ELIXIR_REF.fullmatch(text(node))
        if match is None:
            continue
        parent = node.parent
        if parent is not None and parent.type == "dot":  # socket.assigns.streams.x.inserts
            continue
        if not _consumed(node):  # handed on as a value (a reply, a variable): nothing enumerates it here
            continue
        yield ctx.finding(node, _message(match.group(1)))


_CONSUMING_MODULES = ("Enum", "Stream", "List", "Map", "MapSet", "Keyword")
_CONSUMING_OPERATORS = ("++", "--", "==", "!=", "===", "!==", "in", "not in", "<", ">", "<=", ">=")


def _consuming_call(call) -> bool:
    if call is None or call.type != "call":
        return False
    mod, name = call_name(call)
    if mod in _CONSUMING_MODULES:
        return True
    return mod is None and name in ("length", "hd", "tl")


def _consumed(node) -> bool:
    """Whether an Elixir-side stream reference is enumerated or compared (Enum/Stream/List
    functions, length/hd/tl, `++`, comparisons, `in`, a `for` generator), not just passed on."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "arguments":
        return _consuming_call(parent.parent)
    if parent.type == "binary_operator":
        operator = text(parent.child_by_field_name("operator"))
        if operator in _CONSUMING_OPERATORS:
            return True
        if operator == "|>" and parent.child_by_field_name("left") == node:
            return _consuming_call(parent.child_by_field_name("right"))
        if operator == "<-" and parent.child_by_field_name("right") == node:
            generator_of = parent.parent.parent if parent.parent is not None else None
            return generator_of is not None and call_name(generator_of) == (None, "for")
    return False


def _message(name: str) -> str:
    return (
        f"Stream :{name} can only be consumed by the first generator of a template comprehension "
        "(Enum functions, length/1 and comparisons raise or mislead on a LiveStream)"
    )
