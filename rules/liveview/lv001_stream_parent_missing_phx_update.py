"""LV001 stream-parent-missing-phx-update."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Rule, bad, fix, good

from ._common import dom_parent, stream_generators, templates

RULE = Rule(
    code="LV001",
    name="stream-parent-missing-phx-update",
    category="liveview",
    severity=Severity.ERROR,
    summary='The immediate parent of stream items needs phx-update="stream"',
    fix_safety="safe/offer",
    scope="document",
    languages=("elixir", "heex"),
    requires=(b"streams",),
    explanation="""
        ## LV001 stream-parent-missing-phx-update

        "The parent DOM container must include a `phx-update="stream"` attribute, along with a
        unique DOM id… Failing to place `phx-update="stream"` on the **immediate parent** for
        **each stream** will result in broken behavior" (`phoenix_live_view.ex:1936-1953`,
        LiveView v1.2.10). The HEEx compiler does not check it; the only signal is a console
        error in the browser (`dom.invalid-stream-container`).

        Flagged: an element carrying a stream generator (`:for={{id, s} <- @streams.songs}`, or
        inside `<%= for ... <- @streams.songs do %>`) whose immediate parent element has no
        `phx-update`, a literal `phx-update` other than `"stream"`, or also holds another stream.

        **Bad**

        ```heex
        <div id="songs">
          <div :for={{id, song} <- @streams.songs} id={id}>{song.title}</div>
        </div>
        ```

        **Good**

        ```heex
        <div id="songs" phx-update="stream">
          <div :for={{id, song} <- @streams.songs} id={id}>{song.title}</div>
        </div>
        ```

        **Fix**: add `phx-update="stream"` to the parent: safe when it has no `phx-update` and
        its other element children all have ids (non-stream children of a stream container need
        ids), otherwise offered. A parent without an `id` also gets `id="<stream name>"`
        (offered: uniqueness across the page cannot be checked).

        Not flagged: a dynamic `phx-update={...}` (unknown), stream items whose nearest element
        is a component or a slot (not a DOM parent), and items at a template's root.
    """,
    examples=[
        bad(
            """
            <div id="songs">
              <div :for={{id, song} <- @streams.songs} id={id}>{song.title}</div> <%!-- expect: LV001 --%>
            </div>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
            fixed="""
            <div id="songs" phx-update="stream">
              <div :for={{id, song} <- @streams.songs} id={id}>{song.title}</div> <%!-- expect: LV001 --%>
            </div>
            """,
        ),
        bad(
            '''
            defmodule MyAppWeb.SongLive do
              use MyAppWeb, :live_view

              def render(assigns) do
                ~H"""
                <table>
                  <tbody id="songs" phx-update="replace">
                    <tr :for={{id, song} <- @streams.songs} id={id}><td>{song.title}</td></tr> <%!-- expect: LV001 --%>
                  </tbody>
                </table>
                """
              end
            end
            ''',
            note="a literal phx-update other than stream (fix is offered: replace the value)",
            fixed='''
            defmodule MyAppWeb.SongLive do
              use MyAppWeb, :live_view

              def render(assigns) do
                ~H"""
                <table>
                  <tbody id="songs" phx-update="stream">
                    <tr :for={{id, song} <- @streams.songs} id={id}><td>{song.title}</td></tr> <%!-- expect: LV001 --%>
                  </tbody>
                </table>
                """
              end
            end
            ''',
        ),
        bad(
            """
            <ul>
              <%= for {id, msg} <- @streams.messages do %> <%!-- expect: LV001 --%>
                <li id={id}>{msg.body}</li>
              <% end %>
            </ul>
            """,
            path="lib/my_app_web/live/chat_live.html.heex",
            note="EEx for block; parent without id gets one too (offered)",
            fixed="""
            <ul phx-update="stream" id="messages">
              <%= for {id, msg} <- @streams.messages do %> <%!-- expect: LV001 --%>
                <li id={id}>{msg.body}</li>
              <% end %>
            </ul>
            """,
        ),
        bad(
            """
            <div id="feed" phx-update="stream">
              <div :for={{id, post} <- @streams.posts} id={id}>{post.title}</div>
              <div :for={{id, ad} <- @streams.ads} id={id}>{ad.text}</div> <%!-- expect: LV001 --%>
            </div>
            """,
            path="lib/my_app_web/live/feed_live.html.heex",
            note="two streams under one container",
        ),
        bad(
            """
            <div id="songs">
              <%= if @show do %>
                <p :for={{id, s} <- @streams.songs} id={id}>{s.title}</p> <%!-- expect: LV001 --%>
              <% end %>
            </div>
            """,
            path="lib/my_app_web/live/x_live.html.heex",
            note="EEx control blocks are not elements: the parent is the div",
        ),
        good(
            """
            <div id="songs" phx-update="stream">
              <div :for={{id, song} <- @streams.songs} id={id}>{song.title}</div>
            </div>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
        ),
        good(
            """
            <div id="songs" phx-update={@mode}>
              <div :for={{id, song} <- @streams.songs} id={id}>{song.title}</div>
            </div>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
            note="a dynamic phx-update is unknown",
        ),
        good(
            """
            <.table id="songs" rows={@streams.songs}>
              <:col :let={{_id, song}} label="Title">{song.title}</:col>
            </.table>
            <.list>
              <.item :for={{id, s} <- @streams.songs} id={id} />
            </.list>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
            note="component and slot parents are skipped",
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
            <tr :for={{id, row} <- @streams.rows} id={id}><td>{row.name}</td></tr>
            """,
            path="lib/my_app_web/components/rows.html.heex",
            note="items at the template root: the parent is elsewhere (unknown)",
        ),
        good(
            """
            <div id="songs" phx-update="stream">
              <%!-- exhort:disable-next-line LV001 --%>
              <div :for={{id, s} <- @streams.songs} id={id}>{s.title}</div>
            </div>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
            note="suppression comment in HEEx (the container is fine anyway)",
        ),
    ],
)


def _has_id(element) -> bool:
    attribute = element.attr("id")
    return attribute is not None or element.has_spread()


@RULE.check
def check(ctx: Context, _match):
    for template in templates(ctx):
        by_parent: dict[int, list] = {}
        for generator in stream_generators(template):
            parent = dom_parent(generator.node)
            if parent is None:
                continue
            by_parent.setdefault(id(parent), [parent]).append(generator)
        for parent, *generators in by_parent.values():
            update = parent.attr("phx-update")
            names = []
            for generator in generators:
                start, end = generator.node.start, generator.node.start_tag_end  # start tag or `<%= for %>`
                if generator.name in names or names:
                    if generator.name not in names:
                        yield ctx.finding(
                            (start, end),
                            f"The container of stream :{generator.name} also holds stream :{names[0]}; "
                            "each stream needs its own phx-update=\"stream\" parent",
                        )
                    names.append(generator.name)
                    continue
                names.append(generator.name)
                if update is not None and update.kind != "string":
                    break  # dynamic or bare phx-update: unknown
                if update is not None and update.value == "stream":
                    continue
                yield _missing(ctx, template, parent, update, generator, (start, end))


def _missing(ctx, template, parent, update, generator, where):
    if update is not None:
        edit = Edit(update.value_start, update.value_end, "stream")
        return ctx.finding(
            where,
            f'Stream :{generator.name} is rendered inside <{parent.name} phx-update="{update.value}">; '
            'the immediate parent of stream items needs phx-update="stream"',
            fixes=[fix('Set phx-update="stream" on the parent', edit, safe=False)],
        )
    insert_at = parent.attrs[-1].end if parent.attrs else parent.name_end
    addition = ' phx-update="stream"'
    safe = True
    if parent.attr("id") is None and not parent.has_spread():
        addition += f' id="{generator.name}"'
        safe = False
    others = [c for c in parent.element_children() if c is not generator.node and c.kind != "slot"]
    items = {id(generator.node)} | {id(c) for c in generator.node.element_children()}
    if any(id(c) not in items and (c.kind != "tag" or not _has_id(c)) for c in others):
        safe = False
    return ctx.finding(
        where,
        f'Stream :{generator.name} is rendered inside <{parent.name}> without phx-update="stream" '
        "on that immediate parent",
        fixes=[fix(f"Add{addition} to the parent <{parent.name}>", Edit(insert_at, insert_at, addition), safe=safe)],
    )
