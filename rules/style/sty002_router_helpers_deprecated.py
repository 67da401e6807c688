"""STY002 router-helpers-deprecated."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, good
from exhort.syntax import text

PINNED_PHOENIX = (1, 8, 12)  # catalog 0.1: assumed when mix.lock is missing

RULE = Rule(
    code="STY002",
    name="router-helpers-deprecated",
    category="style",
    severity=Severity.HINT,
    summary="Router helpers (Routes.*_path / *_url) are deprecated in favour of verified routes (~p)",
    fix_safety="none",
    workspace=True,
    deprecated_api=True,
    # A migration checklist, not a finding: off unless selected (see the explanation).
    enabled_by_default=False,
    query=r"""
    ((call target: (dot left: (alias) @module right: (identifier) @function)) @call
      (#match? @module "(^|\\.)(Routes|Router\\.Helpers)$"))
    """,
    explanation="""
        ## STY002 router-helpers-deprecated

        Since Phoenix 1.7 the router docs say of `:helpers`: "Helpers are deprecated", and that
        `~p` "is the preferred way to generate route paths and URLs with compile-time
        verification" (`phoenix:lib/phoenix/router.ex:50-51, 140-152@v1.8.12`). A verified route
        is checked against the router when the module compiles, so a typo or a removed route
        fails the build instead of raising at run time. The deprecation is in the docs only:
        the code emits no warning.

        Flagged: `Routes.<name>_path(...)`, `Routes.<name>_url(...)` and
        `<App>Web.Router.Helpers.*` calls, when `mix.lock` locks Phoenix 1.7 or later (or has
        no lock, where the pinned 1.8 is assumed). A `Routes` alias that points somewhere other
        than a router's `Helpers` module is left alone.

        **Bad**

        ```elixir
        push_patch(socket, to: Routes.dashboard_path(socket, :index, filters))
        ```

        **Good**

        ```elixir
        push_patch(socket, to: ~p"/dashboard?#{filters}")
        ```

        **Off by default.** Router helpers still work in Phoenix 1.8, emit no warning, and are
        generated unless the router says `helpers: false`. A codebase that uses them uses them
        everywhere (hundreds of calls in controllers, views and tests), and a note on each call
        is noise, not review: on real applications none of the sampled findings was worth a
        reviewer's time. Select `STY002` (or `router-helpers-deprecated`) when migrating to
        verified routes: it then lists every call left to convert.

        **Fix**: none yet; the path depends on the router.
    """,
    examples=[
        bad(
            """
            defmodule MyAppWeb.DashboardLive do
              use MyAppWeb, :live_view

              def handle_event("filter", filters, socket) do
                {:noreply, push_patch(socket, to: Routes.dashboard_path(socket, :index, filters))}  # expect: STY002
              end

              def link(conn), do: MyAppWeb.Router.Helpers.page_url(conn, :show)  # expect: STY002
              def asset(conn), do: conn |> Routes.static_path("/images/logo.png")  # expect: STY002
            end
            """,
            path="lib/my_app_web/live/dashboard_live.ex",
            files={"mix.lock": '%{\n  "phoenix": {:hex, :phoenix, "1.7.14", "0", [:mix], [], "hexpm", "0"},\n}\n'},
        ),
        good(
            """
            defmodule MyAppWeb.PageController do
              use MyAppWeb, :controller
              def show(conn, _), do: redirect(conn, to: Routes.page_path(conn, :index))
            end
            """,
            path="lib/my_app_web/controllers/page_controller.ex",
            files={"mix.lock": '%{\n  "phoenix": {:hex, :phoenix, "1.6.16", "0", [:mix], [], "hexpm", "0"},\n}\n'},
            note="Phoenix 1.6 has no ~p",
        ),
        good(
            """
            defmodule MyAppWeb.Nav do
              alias MyApp.Shipping.Routes
              def cheapest(a, b), do: Routes.cheapest_path(a, b)
              def verified, do: ~p"/dashboard"
              def other(conn), do: Routes.build(conn)
            end
            """,
            path="lib/my_app_web/nav.ex",
            note="a Routes alias to another module, ~p, and functions that are not helpers",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    version = ctx.version("phoenix") or PINNED_PHOENIX
    if version < (1, 7):
        return
    call = match.node("call")
    module_text = text(match.node("module"))
    function = text(match.node("function"))
    module = ctx.module_of(call)
    resolved = module.resolve_alias(module_text) if module is not None else module_text
    if module_text.endswith("Routes"):
        if resolved != module_text and not resolved.endswith("Router.Helpers"):
            return  # `alias Something.Routes`: not the router helpers
        if resolved == module_text and module_text != "Routes":
            return  # `Foo.Routes` written in full
        if not (function.endswith("_path") or function.endswith("_url")):
            return
    yield ctx.finding(
        call,
        f"Router helper {module_text}.{function} is deprecated since Phoenix 1.7; use a verified route (~p\"...\")",
    )
