"""LV003 phx-update-attr-invalid."""

from exhort.findings import Severity
from exhort.rule import Context, Rule, bad, good

from ._common import templates

VALID = ("ignore", "stream", "replace")
DEPRECATED = ("append", "prepend")

RULE = Rule(
    code="LV003",
    name="phx-update-attr-invalid",
    category="liveview",
    severity=Severity.ERROR,
    summary="phx-update / phx-hook need an id, and phx-update takes ignore, stream or replace",
    fix_safety="none",
    scope="document",
    languages=("elixir", "heex"),
    requires=(b"phx-update", b"phx-hook"),
    explanation="""
        ## LV003 phx-update-attr-invalid

        Mirrors the HEEx compiler's `validate_phx_attrs!/5`
        (`tag_engine/compiler.ex:1204-1256`, LiveView v1.2.10): it raises "attribute
        "phx-update" requires the "id" attribute to be set" (the same for `phx-hook`), raises
        for a `phx-update` value other than `ignore`, `stream`, `replace`, `append` or `prepend`,
        and warns that `append` / `prepend` are "deprecated, please use streams instead".
        exhort shows these as you type, before compiling.

        **Bad** `<ul phx-update="stream">` · `<div phx-update="append" id="msgs">`

        **Good** `<ul id="songs" phx-update="stream">`; move append/prepend lists to streams.

        **Fix**: none (the id must be unique; moving to streams touches the Elixir side).

        Like the compiler, a root attribute spread (`{@rest}`) suppresses the id check, and
        only HTML tags are checked (not components or slots).
    """,
    examples=[
        bad(
            """
            <div phx-hook="Chart" data-points={@points}></div> <%!-- expect: LV003 --%>
            <canvas phx-hook="Sparkline" /> <%!-- expect: LV003 --%>
            """,
            path="lib/my_app_web/live/chart_live.html.heex",
            note="phx-hook alone, on a tag and a self-closing tag",
        ),
        bad(
            '''
            defmodule MyAppWeb.FeedLive do
              use MyAppWeb, :live_view

              def render(assigns) do
                ~H"""
                <ul phx-update="stream"> <%!-- expect: LV003 --%>
                  <li :for={{id, post} <- @streams.posts} id={id}>{post.title}</li>
                </ul>
                <ol id="old" phx-update="prepend"></ol> <%!-- expect: LV003 --%>
                <div id="y" phx-update="Stream"></div> <%!-- expect: LV003 --%>
                <p class="
                """
              end

              def handle_event("more", _params, socket) do
                {:noreply, socket |>
              end
            end
            ''',
            note="every form in a file being typed: a half-typed tag in the template and an unfinished "
                 "member after it",
        ),
        bad(
            """
            <ul phx-update="stream"> <%!-- expect: LV003 --%>
              <li :for={{id, s} <- @streams.songs} id={id}>{s.title}</li>
            </ul>
            <div phx-hook="Chart" data-points={@points}></div> <%!-- expect: LV003 --%>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
        ),
        bad(
            '''
            defmodule MyAppWeb.ChatLive do
              use MyAppWeb, :live_view

              def render(assigns) do
                ~H"""
                <div id="msgs" phx-update="append"> <%!-- expect: LV003 --%>
                  <p :for={m <- @messages} id={"m-#{m.id}"}>{m.body}</p>
                </div>
                <div id="x" phx-update="streams"></div> <%!-- expect: LV003 --%>
                """
              end
            end
            ''',
            note="deprecated append (warning) and an invalid value (error)",
        ),
        good(
            """
            <ul id="songs" phx-update="stream"></ul>
            <div id="chart" phx-hook="Chart"></div>
            <div id="editor" phx-update="ignore"></div>
            <div id="r" phx-update="replace"></div>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
        ),
        good(
            """
            <div phx-hook="Tooltip" {@rest}>{render_slot(@inner_block)}</div>
            <div id={@id} phx-update={@update}></div>
            """,
            path="lib/my_app_web/components/tooltip.html.heex",
            note="a root spread may carry the id; a dynamic value is not checked",
        ),
        good(
            """
            <.modal phx-hook="Modal">x</.modal>
            """,
            path="lib/my_app_web/live/song_live.html.heex",
            note="components are not checked (the compiler checks tags)",
        ),
    ],
)


@RULE.check
def check(ctx: Context, _match):
    for template in templates(ctx):
        for element in template.elements():
            if element.kind != "tag":
                continue
            update = element.attr("phx-update")
            hook = element.attr("phx-hook")
            if update is None and hook is None:
                continue
            if element.attr("id") is None and not element.has_spread():
                attribute = update or hook
                yield ctx.finding(
                    (attribute.start, attribute.end),
                    f'attribute "{attribute.name}" requires the "id" attribute to be set (compile error)',
                )
            if update is not None and update.kind == "string" and update.value not in VALID:
                if update.value in DEPRECATED:
                    yield ctx.finding(
                        (update.start, update.end),
                        f'phx-update="{update.value}" is deprecated, please use streams instead',
                        severity=Severity.WARNING,
                    )
                else:
                    yield ctx.finding(
                        (update.start, update.end),
                        f'invalid phx-update value "{update.value}": expected "ignore", "stream" or "replace"',
                    )
