"""LV002 stream-item-dom-id."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Rule, bad, fix, good
from exhort.syntax import text

from ._common import stream_generators, stream_items, templates

RULE = Rule(
    code="LV002",
    name="stream-item-dom-id",
    category="liveview",
    severity=Severity.ERROR,
    summary="Each stream item needs id={dom_id} from its {dom_id, item} tuple",
    fix_safety="safe/offer",
    scope="document",
    languages=("elixir", "heex"),
    requires=(b"streams",),
    explanation="""
        ## LV002 stream-item-dom-id

        A stream yields `{dom_id, item}` tuples (`live_stream.ex:120-122`, LiveView v1.2.10).
        "Each stream item must include its DOM id on the item's element… do not alter the
        generated DOM ids, e.g., by prefixing them" (`phoenix_live_view.ex:1936-1953`), and
        "`:key` has no effect when using streams" (`phoenix_component.ex:872`).

        Flagged on the element carrying a stream generator (or each element of an EEx
        `for ... <- @streams.x do` block):

        - the pattern is not a 2-tuple (`song <- @streams.songs`): `song.title` raises (error);
        - no `id` attribute (error);
        - an `id` other than the tuple's first variable, e.g. `id={"row-#{id}"}` (warning);
        - a `:key` attribute (hint: it has no effect).

        **Bad** `<tr :for={{_id, song} <- @streams.songs}>` · `<tr :for={{id, s} <- @streams.songs} id={"row-#{id}"}>`

        **Good** `<tr :for={{id, song} <- @streams.songs} id={id}>`

        **Fix**: add `id={<first tuple variable>}` (renaming `_id` to `id`): safe. Rewrite
        `song <-` to `{song_id, song} <-` and add `id={song_id}`: offered. Replace a different
        id with the tuple variable: offered.
    """,
    examples=[
        bad(
            """
            <ul id="songs" phx-update="stream">
              <.live_component :for={song <- @streams.songs} module={SongRow} song={song} /> <%!-- expect: LV002 --%>
            </ul>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
            note="a component carrying the generator binds the tuple too; the rewrite is offered",
            fixed="""
            <ul id="songs" phx-update="stream">
              <.live_component :for={{song_id, song} <- @streams.songs} module={SongRow} song={song} id={song_id} /> <%!-- expect: LV002 --%>
            </ul>
            """,
        ),
        bad(
            """
            <tbody id="songs" phx-update="stream">
              <tr :for={{_id, song} <- @streams.songs} class="row"> <%!-- expect: LV002 --%>
                <td>{song.title}</td>
              </tr>
            </tbody>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
            fixed="""
            <tbody id="songs" phx-update="stream">
              <tr :for={{id, song} <- @streams.songs} class="row" id={id}> <%!-- expect: LV002 --%>
                <td>{song.title}</td>
              </tr>
            </tbody>
            """,
        ),
        bad(
            '''
            defmodule MyAppWeb.SongLive do
              use MyAppWeb, :live_view

              def render(assigns) do
                ~H"""
                <ul id="songs" phx-update="stream">
                  <li :for={song <- @streams.songs}>{song.title}</li> <%!-- expect: LV002 --%>
                </ul>
                """
              end
            end
            ''',
            note="pattern is not a tuple (offered rewrite)",
            fixed='''
            defmodule MyAppWeb.SongLive do
              use MyAppWeb, :live_view

              def render(assigns) do
                ~H"""
                <ul id="songs" phx-update="stream">
                  <li :for={{song_id, song} <- @streams.songs} id={song_id}>{song.title}</li> <%!-- expect: LV002 --%>
                </ul>
                """
              end
            end
            ''',
        ),
        bad(
            """
            <ul id="songs" phx-update="stream">
              <li :for={{id, song} <- @streams.songs} id={"row-#{id}"}>{song.title}</li> <%!-- expect: LV002 --%>
              <li :for={{dom_id, s} <- @streams.others} id={s.id}>{s.title}</li> <%!-- expect: LV002 --%>
            </ul>
            <ul id="more" phx-update="stream">
              <li :for={{id, s} <- @streams.more} id={id}
                :key={s.id}>{s.title}</li> <%!-- expect: LV002 --%>
            </ul>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
            note="altered id (warning) and :key (hint)",
        ),
        bad(
            """
            <ul id="messages" phx-update="stream">
              <%= for {id, msg} <- @streams.messages do %>
                <li>{msg.body}</li> <%!-- expect: LV002 --%>
              <% end %>
            </ul>
            """,
            path="lib/my_app_web/live/chat_live.html.heex",
            note="elements of an EEx for block",
            fixed="""
            <ul id="messages" phx-update="stream">
              <%= for {id, msg} <- @streams.messages do %>
                <li id={id}>{msg.body}</li> <%!-- expect: LV002 --%>
              <% end %>
            </ul>
            """,
        ),
        bad(
            """
            <ul id="users" phx-update="stream">
              <li :for={{_id, %{id: id, name: name}} <- @streams.users}>{name} #{id}</li> <%!-- expect: LV002 --%>
            </ul>
            """,
            path="lib/my_app_web/live/user_live.html.heex",
            note="the item pattern already binds id: the DOM id is named dom_id",
            fixed="""
            <ul id="users" phx-update="stream">
              <li :for={{dom_id, %{id: id, name: name}} <- @streams.users} id={dom_id}>{name} #{id}</li> <%!-- expect: LV002 --%>
            </ul>
            """,
        ),
        good(
            """
            <tbody id="songs" phx-update="stream">
              <tr :for={{id, song} <- @streams.songs} id={id}><td>{song.title}</td></tr>
            </tbody>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
        ),
        good(
            """
            <ul id="songs">
              <li :for={song <- @songs}>{song.title}</li>
            </ul>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
            note="not a stream generator",
        ),
        good(
            """
            <div id="list" phx-update="stream">
              <.song_row :for={{id, song} <- @streams.songs} song={song} dom_id={id} />
              <div :for={{id, s} <- @streams.other} {@item_attrs}>{s.title}</div>
            </div>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
            note="components decide where the id goes; an attribute spread may carry the id",
        ),
    ],
)


@RULE.check
def check(ctx: Context, _match):
    for template in templates(ctx):
        data = template.data
        for generator in stream_generators(template):
            if not generator.is_tuple:
                if generator.node.kind in ("tag", "component") and generator.pattern.type == "identifier":
                    yield _not_tuple(ctx, generator)
                elif generator.node.is_element and generator.node.kind == "tag":
                    yield ctx.finding((generator.node.start, generator.node.start_tag_end),
                                      f"Stream :{generator.name} yields {{dom_id, item}} tuples; match them with a 2-tuple")
                continue
            dom_id = generator.pattern.named_children[0]
            for element in stream_items(generator):
                if element.kind != "tag" or element.has_spread():
                    continue
                where = (element.start, element.start_tag_end)
                id_attr = element.attr("id")
                if id_attr is None:
                    yield _missing_id(ctx, generator, element, dom_id)
                elif dom_id.type == "identifier" and not (
                    id_attr.kind == "expr" and data[id_attr.value_start : id_attr.value_end].strip() == dom_id.text
                ):
                    variable = text(dom_id)
                    fixes = []
                    if not variable.startswith("_"):
                        fixes = [fix(f"Use id={{{variable}}}", Edit(id_attr.start, id_attr.end, f"id={{{variable}}}"),
                                     safe=False)]
                    yield ctx.finding(
                        where,
                        f"The id of a stream item must be its DOM id ({variable}) unchanged; LiveView matches "
                        "items by that id",
                        severity=Severity.WARNING,
                        fixes=fixes,
                    )
                key = element.attr(":key")
                if key is not None:
                    yield ctx.finding((key.start, key.end), ":key has no effect on stream items",
                                      severity=Severity.HINT, unnecessary=True)


def _insert_point(element) -> int:
    return element.attrs[-1].end if element.attrs else element.name_end


def _missing_id(ctx, generator, element, dom_id):
    edits = []
    variable = text(dom_id)
    if dom_id.type != "identifier":
        return ctx.finding((element.start, element.start_tag_end),
                           f"Stream :{generator.name} item has no id={{dom_id}}")
    if variable.startswith("_"):
        # `_id` -> `id`, or `dom_id` when the item pattern already binds `id` ({_id, %{id: id}})
        variable = "dom_id" if _binds(generator.pattern, ("id",)) else "id"
        if _binds(generator.pattern, (variable,)):
            return ctx.finding((element.start, element.start_tag_end),
                               f"Stream :{generator.name} item has no id={{dom_id}}")
        edits.append(Edit(dom_id.start_byte, dom_id.end_byte, variable))
    at = _insert_point(element)
    edits.append(Edit(at, at, f" id={{{variable}}}"))
    return ctx.finding(
        (element.start, element.start_tag_end),
        f"Stream :{generator.name} item has no id; add id={{{variable}}} (the DOM id from the stream tuple)",
        fixes=[fix(f"Add id={{{variable}}}", *edits, safe=True)],
    )


def _binds(pattern, names) -> bool:
    stack = [pattern]
    while stack:
        node = stack.pop()
        if node.type == "identifier" and text(node) in names:
            return True
        stack.extend(node.named_children)
    return False


def _not_tuple(ctx, generator):
    element = generator.node
    variable = text(generator.pattern)
    dom_var = f"{variable.lstrip('_') or 'item'}_id"
    edits = [Edit(generator.pattern.start_byte, generator.pattern.end_byte, f"{{{dom_var}, {variable}}}")]
    fixes = []
    if element.attr("id") is None:
        at = _insert_point(element)
        edits.append(Edit(at, at, f" id={{{dom_var}}}"))
        fixes = [fix(f"Match {{{dom_var}, {variable}}} and add id={{{dom_var}}}", *edits, safe=False)]
    return ctx.finding(
        (element.start, element.start_tag_end),
        f"Stream :{generator.name} yields {{dom_id, item}} tuples: `{variable}` is bound to a tuple, "
        "and the item needs id={dom_id}",
        fixes=fixes,
    )
