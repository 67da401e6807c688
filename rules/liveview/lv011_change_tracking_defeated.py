"""LV011 change-tracking-defeated."""

import re

from exhort import heex
from exhort.findings import Edit, Severity
from exhort.rule import Context, Rule, bad, fix, good
from exhort.syntax import atom_value, block_body, call_name, effective_arguments, enclosing_def, function_def, text, walk

from ._common import rendered_without_change_tracking, templates, variable_references

_BINDERS = re.compile(rb"([a-z_]\w*)\s*<-|:let=\{\s*([a-z_]\w*)")

_HOME_COMPONENTS = '''
defmodule MyAppWeb.Components.Home do
  use Phoenix.Component

  attr :color, :string, required: true
  def hero(assigns) do
    assigns = Map.put(assigns, :bg, "bg-" <> assigns.color)  # expect-here
    ~H"""
    <div class={@bg}>Welcome</div>
    """
  end
end
'''

RULE = Rule(
    code="LV011",
    name="change-tracking-defeated",
    category="liveview",
    severity=Severity.WARNING,
    summary="Templates that disable LiveView change tracking",
    fix_safety="safe/offer",
    scope="document",
    languages=("elixir", "heex"),
    workspace=True,  # a .html.heex beside a LiveView module is that LiveView's template
    requires=(b"assigns", b"<%"),
    explanation="""
        ## LV011 change-tracking-defeated

        The LiveView guide "Assigns and HEEx templates → Common pitfalls"
        (`guides/server/assigns-eex.md:89-320`, LiveView v1.2.10):

        - (a, warning) "Never modify the `assigns` variable in a function component through
          generic functions like `Map.put/3`… those assigns inside your HEEx template will not
          update after the initial render";
        - (b, information) "LiveView has to disable change tracking whenever variables are used
          in the template… **do not** define variables at the top of your `render` function";
          `<% x = ... %>` inside HEEx is the same;
        - (c, information) passing all assigns (`<.card {assigns} />`) makes the component
          re-render on every change.

        **Bad** `assigns = Map.put(assigns, :sum, Enum.sum(assigns.values))`

        **Good** `assigns = assign(assigns, :sum, Enum.sum(assigns.values))`

        **Fix**: `Map.put(assigns, k, v)` → `assign(assigns, k, v)` and `Map.merge(assigns, m)`
        → `assign(assigns, m)`: safe in LiveViews and components, which import
        `Phoenix.Component`. Variables: turn them into assigns (a design change, no fix).
        Variables bound inside the template (`:for`, `:let`, `for`/`case`) and `{@rest}`
        spreads are fine. (a) needs the result bound back to `assigns` (a modified copy under
        another name does not touch the template); (b) and (c), render-cost advice, apply to
        production code only (not `test/` or scripts).

        Only change-tracked templates are read: LiveViews, LiveComponents, their colocated
        templates and function components. Not flagged: Phoenix.View templates
        (`lib/*/templates/`) and view modules, controller HTML modules (`PageHTML` in
        `controllers/`) and the templates they embed, the root layout, and function
        components that only such dead views use (every module or template mentioning them
        is one): a controller's render is never diffed. (a) is not flagged either when a key
        is rewritten from nothing but its own value (`Map.put(assigns, :value,
        normalize(assigns.value))`): the parent marks that key changed whenever it changes,
        so the template does update. Only variable reads count as uses: `icon(...)`,
        `&icon/1`, `item.name` and `@struct.name` are not uses of `icon` or `name`.
    """,
    examples=[
        good(
            _HOME_COMPONENTS,
            path="lib/my_app_web/components/home.ex",
            files={
                "lib/my_app_web/views/page_view.ex": (
                    "defmodule MyAppWeb.PageView do\n  use MyAppWeb, :view\n"
                    "  import MyAppWeb.Components.Home\nend\n"
                ),
                "lib/my_app_web/templates/page/index.html.heex": "<.hero color={@color} />\n",
            },
            note="function components that only a Phoenix.View (controller) renders",
        ),
        bad(
            _HOME_COMPONENTS.replace("  # expect-here", "  # expect: LV011"),
            path="lib/my_app_web/components/home.ex",
            files={
                "lib/my_app_web/views/page_view.ex": (
                    "defmodule MyAppWeb.PageView do\n  use MyAppWeb, :view\n"
                    "  import MyAppWeb.Components.Home\nend\n"
                ),
                "lib/my_app_web/live/dashboard_live.ex": (
                    "defmodule MyAppWeb.DashboardLive do\n  use MyAppWeb, :live_view\n"
                    "  alias MyAppWeb.Components.Home\n"
                    "  def render(assigns), do: ~H\"<Home.hero color={@color} />\"\nend\n"
                ),
            },
            note="the same components once a LiveView renders them too",
        ),
        good(
            '''
            defmodule MyAppWeb.Inputs do
              use Phoenix.Component

              attr :value, :any
              attr :timezone, :string, default: nil
              def slider(assigns) do
                zone = assigns.timezone || Application.get_env(:my_app, :timezone)
                assigns =
                  assigns
                  |> Map.put(:value, normalize(assigns[:value]))
                  |> Map.put(:timezone, zone)
                assigns = Map.merge(assigns, %{value: round(assigns.value)})
                ~H"""
                <input value={@value} data-zone={@timezone} />
                """
              end

              defp normalize(value), do: value
            end
            ''',
            path="lib/my_app_web/components/inputs.ex",
            note="a key rewritten from nothing but its own value: the parent's change information names "
                 "that key whenever it changes, so the template does update",
        ),
        bad(
            '''
            defmodule MyAppWeb.Pager do
              use Phoenix.Component

              def pager(assigns) do
                first = max(1, assigns.page - 2)
                assigns = Map.merge(assigns, %{page: assigns.page, first: first})  # expect: LV011
                ~H"""
                <span>{@first}..{@page}</span>
                """
              end
            end
            ''',
            path="lib/my_app_web/components/pager.ex",
            note="one key computed from another assign goes stale when that assign changes",
        ),
        good(
            """
            <%= for post <- @posts do %>
              <% author = post.author || "anonymous" %>
              <p>{post.title} by {author}</p>
            <% end %>
            """,
            path="lib/my_app_web/templates/post/index.html.heex",
            note="a Phoenix.View template (templates/): controllers render it, nothing is change tracked",
        ),
        good(
            """
            <% year = Date.utc_today().year %>
            <footer>© {year}</footer>
            """,
            path="lib/my_app_web/controllers/page_html/home.html.heex",
            note="a template a controller HTML module embeds",
        ),
        good(
            """
            <!DOCTYPE html>
            <% locale = Gettext.get_locale() %>
            <html lang={locale}><body>{@inner_content}</body></html>
            """,
            path="lib/my_app_web/components/layouts/root.html.heex",
            note="the root layout is rendered once with the dead render and never diffed",
        ),
        good(
            '''
            defmodule MyAppWeb.PageHTML do
              use MyAppWeb, :html

              def hero(assigns) do
                assigns = Map.put(assigns, :title, String.upcase(assigns.title))
                subtitle = assigns.subtitle || ""
                ~H"""
                <h1>{@title}</h1><p>{subtitle}</p>
                """
              end
            end
            ''',
            path="lib/my_app_web/controllers/page_html.ex",
            note="function components of a controller HTML module",
        ),
        good(
            '''
            defmodule MyAppWeb.PostView do
              use MyAppWeb, :view

              def byline(assigns) do
                name = assigns.post.author
                ~H"""
                <% initials = String.first(name) %>
                <span title={name}>{initials}</span>
                """
              end
            end
            ''',
            path="lib/my_app_web/views/post_view.ex",
            note="a Phoenix.View module",
        ),
        good(
            '''
            defmodule MyAppWeb.AuditComponents do
              use Phoenix.Component

              attr :entry, :map, required: true
              def entry(assigns) do
                icon = icon_name(assigns.entry.action)
                name = assigns.entry.actor.name
                assigns = assign(assigns, icon: icon, name: name)
                ~H"""
                <li>{icon(:outline, @icon)} {@entry.actor.name} {@name}</li>
                <li :for={item <- @entry.items}>{item.name}</li>
                <.row fun={&icon/1} />
                """
              end

              defp icon_name(action), do: action
              defp icon(_kind, name), do: name
              defp icon(name), do: name
            end
            ''',
            path="lib/my_app_web/components/audit_components.ex",
            note="a variable computed before ~H and then assigned: the template reads @icon; `icon(...)`, "
                 "`&icon/1`, `@entry.actor.name` and `item.name` are not uses of the variables",
        ),
        bad(
            """
            <% count = length(@jobs) %> <%!-- expect: LV011 --%>
            <p>{count} jobs</p>
            """,
            path="lib/my_app_web/controllers/pages/page_html/job_table_live.html.heex",
            files={
                "lib/my_app_web/controllers/pages/page_html/job_table_live.ex": (
                    "defmodule MyAppWeb.Pages.JobTableLive do\n  use MyAppWeb, :live_view\n"
                    "  def mount(_p, _s, socket), do: {:ok, assign(socket, jobs: [])}\nend\n"
                ),
            },
            note="a LiveView's colocated template is change tracked wherever the folder is",
        ),
        bad(
            """
            <% user = @current_user %> <%!-- expect: LV011 --%>
            <main>{user.name}{@inner_content}</main>
            """,
            path="lib/my_app_web/templates/layout/live.html.heex",
            note="the LiveViews' layout of Phoenix 1.6 sits among Phoenix.View templates but is change tracked",
        ),
        good(
            '''
            defmodule MyAppWeb.PageLive do
              use MyAppWeb, :live_view

              def render(assigns) do
                {:ok, body} = Renderer.page(assigns)
                extra = Map.put(assigns, :body, body)
                {:ok, banner} = Renderer.banner(extra)
                assigns = assign(assigns, body: body, banner: banner)
                ~H"""
                {@body}{@banner}
                """
              end
            end
            ''',
            note="a modified copy under another name, handed to another renderer, leaves the template's "
                 "assigns alone: only rebinding `assigns` is flagged",
        ),
        good(
            '''
            defmodule MyAppWeb.CardComponentTest do
              use MyAppWeb.ConnCase
              import Phoenix.LiveViewTest

              test "renders" do
                assigns = %{title: "x"}
                html = rendered_to_string(~H"""
                <% label = "y" %>
                <.live_component module={MyAppWeb.Card} id="c" {assigns} />
                {label}
                """)
                assert html =~ "x"
              end
            end
            ''',
            path="test/my_app_web/components/card_component_test.exs",
            note="render-cost advice (variables, {assigns} spreads) is for production code only; "
                 "tests and scripts are skipped (catalog 0.4.4)",
        ),
        bad(
            '''
            defmodule MyAppWeb.Components do
              use Phoenix.Component

              def badge(assigns) do
                assigns =
                  assigns
                  |> Map.put(:label, String.upcase(assigns.text))  # expect: LV011
                  |> Map.merge(%{tone: :info})  # expect: LV011
                ~H"""
                <span class={@tone}>{@label}</span>
                """
              end
            end
            ''',
            note="each Map call of a pipeline that starts from assigns and is bound back to it",
            fixed='''
            defmodule MyAppWeb.Components do
              use Phoenix.Component

              def badge(assigns) do
                assigns =
                  assigns
                  |> assign(:label, String.upcase(assigns.text))  # expect: LV011
                  |> assign(%{tone: :info})  # expect: LV011
                ~H"""
                <span class={@tone}>{@label}</span>
                """
              end
            end
            ''',
        ),
        bad(
            '''
            defmodule MyAppWeb.Components do
              use Phoenix.Component

              def price(assigns) do
                assigns =
                  if assigns[:currency] do
                    assigns
                  else
                    Map.put(assigns, :currency, "EUR")  # expect: LV011
                  end
                assigns = if assigns[:vat], do: Map.merge(assigns, %{net: false}), else: assigns  # expect: LV011
                ~H"""
                <span>{@currency}</span>
                """
              end
            end
            ''',
            note="a branch value bound back to assigns",
        ),
        good(
            """
            <.form :let={f} for={@form}>
              <% 0 = f.index %>
              <% _ = f.id %>
              <input id={f[:name].id} name={f[:name].name} />
            </.form>
            """,
            path="lib/my_app_web/live/form_live.html.heex",
            note="a match that binds no variable (an assertion) does not disable change tracking",
        ),
        bad(
            '''
            defmodule MyAppWeb.Components do
              use Phoenix.Component

              def total(assigns) do
                assigns = Map.put(assigns, :sum, Enum.sum(assigns.values))  # expect: LV011
                label = String.upcase(assigns.label)  # expect: LV011
                ~H"""
                <p>{label}: {@sum}</p>
                <.card_header {assigns} /> <%!-- expect: LV011 --%>
                """
              end
            end
            ''',
            fixed='''
            defmodule MyAppWeb.Components do
              use Phoenix.Component

              def total(assigns) do
                assigns = assign(assigns, :sum, Enum.sum(assigns.values))  # expect: LV011
                label = String.upcase(assigns.label)  # expect: LV011
                ~H"""
                <p>{label}: {@sum}</p>
                <.card_header {assigns} /> <%!-- expect: LV011 --%>
                """
              end
            end
            ''',
        ),
        bad(
            """
            <% total = Enum.sum(@values) %> <%!-- expect: LV011 --%>
            <p>{total}</p>
            """,
            path="lib/my_app_web/live/stats_live.html.heex",
            note="a variable assigned inside HEEx",
        ),
        good(
            '''
            defmodule MyAppWeb.Components do
              use Phoenix.Component

              attr :rest, :global
              def button(assigns) do
                assigns = assign(assigns, :count, length(assigns.items))
                ~H"""
                <button {@rest}>{@count}</button>
                <p :for={item <- @items}>{item}</p>
                <.list :let={row} rows={@rows}>{row}</.list>
                """
              end
            end
            ''',
            note="assign/3, {@rest} spreads and variables bound by the template",
        ),
    ],
)


@RULE.check
def check(ctx: Context, _match):
    data = ctx.document.data
    production = ctx.path.is_production_code
    # Functions that take `assigns` and render `~H`: found from the document's templates
    # (cheap, cached) rather than by visiting every node of the file.
    seen: set[int] = set()
    for template in templates(ctx):
        if template.sigil is None:
            continue
        definition = enclosing_def(template.sigil)
        if definition is None or definition.start_byte in seen:
            continue
        seen.add(definition.start_byte)
        fdef = function_def(definition)
        if fdef is None or fdef.kind not in ("def", "defp") or fdef.arity != 1 or fdef.body is None:
            continue
        if fdef.params[0].type != "identifier" or text(fdef.params[0]) != "assigns":
            continue
        sigils = list(heex.heex_sigils(fdef.body))
        module = ctx.module_of(definition)
        if rendered_without_change_tracking(ctx, module):
            continue
        safe = module is not None and module.kind in ("live_view", "live_component", "component")
        yield from _mutations(ctx, fdef, safe)
        if production:
            yield from _variables(ctx, fdef, sigils)
    if not production:
        return  # (b) and (c) are render-cost advice: production code only (catalog 0.4.4)
    for template in templates(ctx):
        module = ctx.module_of(template.sigil) if template.sigil is not None else None
        if rendered_without_change_tracking(ctx, module):
            continue
        for element in template.elements():
            if element.kind == "component":
                for attribute in element.attrs:
                    if attribute.kind == "spread" and (attribute.value or "").strip() == "assigns":
                        yield ctx.finding((attribute.start, attribute.end),
                                          "Passing all assigns makes the component re-render on every change; "
                                          "pass the assigns it needs", severity=Severity.INFORMATION)
        for node in template.nodes():
            if node.kind == "eex" and not node.output:
                root = heex.parse_code(data, node.code_start, node.code_end)
                if root is not None and len(root.named_children) == 1:
                    expr = root.named_children[0]
                    if expr.type == "binary_operator" and text(expr.child_by_field_name("operator")) == "=" \
                            and _binds_variable(expr.child_by_field_name("left")):
                        yield ctx.finding((node.start, node.end),
                                          "A variable assigned inside HEEx disables change tracking for the "
                                          "expressions that use it; compute it as an assign",
                                          severity=Severity.INFORMATION)


def _binds_variable(pattern) -> bool:
    """A match pattern that binds a variable (`x`, `{a, _}`), not an assertion such as `0 = x`,
    `_ = x` or `^x = y`."""
    if pattern is None:
        return False
    stack = [pattern]
    while stack:
        node = stack.pop()
        if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "^":
            continue
        if node.type == "identifier" and not text(node).startswith("_"):
            return True
        stack.extend(node.named_children)
    return False


def _pipe_subject(node):
    """The value a pipeline starts from (`assigns |> Map.put(..) |> Map.put(..)` -> `assigns`)."""
    while node is not None and node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "|>":
        node = node.child_by_field_name("left")
    return node


def _rebinds_assigns(node) -> bool:
    """Whether the modified map can become the template's `assigns`: bound back to `assigns`,
    or the value of a branch or block (`assigns = if x, do: Map.put(assigns, ...), else: assigns`).
    A copy bound to another name or handed to a call (`opts = Map.put(assigns, ...)`,
    `Renderer.render(Map.put(assigns, ...))`) leaves the template's assigns alone."""
    current = node
    while True:
        parent = current.parent
        if parent is None:
            return False
        if parent.type == "binary_operator" and text(parent.child_by_field_name("operator")) == "|>":
            current = parent
            continue
        if parent.type == "arguments" and parent.parent is not None and parent.parent.type == "call" and \
                call_name(parent.parent) in _MAP_MUTATORS and parent.named_children and \
                parent.named_children[0] == current:
            current = parent.parent  # Map.put(Map.put(assigns, ...), ...)
            continue
        break
    if parent.type == "binary_operator" and text(parent.child_by_field_name("operator")) == "=":
        left = parent.child_by_field_name("left")
        return parent.child_by_field_name("right") == current and left is not None and \
            left.type == "identifier" and text(left) == "assigns"
    if parent.type == "pair":  # `if x, do: Map.put(assigns, ...)`: a branch value; any other key is data
        key = parent.child_by_field_name("key")
        return key is not None and text(key).strip().rstrip(":") in ("do", "else")
    return parent.type not in ("arguments", "binary_operator", "list", "tuple", "map_content")


_MAP_MUTATORS = {("Map", "put"), ("Map", "merge"), ("Map", "update")}


def _overwrites_from_itself(name, args, fdef) -> bool:
    """`Map.put(assigns, :value, normalize(assigns[:value]))`: a key rewritten from nothing but
    its own value. The parent's change information already covers that key (`__changed__`
    names it whenever it changes), so the template does update; only keys computed from
    *other* assigns, or from anything else, go stale."""
    if name == "put" and len(args) == 3:
        pairs = [(args[1], args[2])]
    elif name == "merge" and len(args) == 2 and args[1].type == "map":
        pairs = [(pair.child_by_field_name("key"), pair.child_by_field_name("value"))
                 for content in args[1].named_children if content.type == "map_content"
                 for keywords in content.named_children if keywords.type == "keywords"
                 for pair in keywords.named_children if pair.type == "pair"]
        if not pairs:
            return False
    else:
        return False
    bound = _bindings(fdef)
    for key_node, value in pairs:
        key = atom_value(key_node) if key_node is not None and key_node.type == "atom" else None
        if key is None and key_node is not None and key_node.type == "keyword":
            key = text(key_node).strip().rstrip(":")
        if key is None or value is None or _assigns_read(value, bound, set()) != {key}:
            return False
    return True


def _bindings(fdef) -> dict:
    """`name = expr` statements at the top of the function body, by name (the last one wins)."""
    body = fdef.body
    statements = block_body(body) if body is not None and body.type == "do_block" else []
    bound = {}
    for statement in statements:
        if statement.type == "binary_operator" and text(statement.child_by_field_name("operator")) == "=":
            left = statement.child_by_field_name("left")
            if left is not None and left.type == "identifier" and text(left) != "assigns":
                bound[text(left)] = statement.child_by_field_name("right")
    return bound


def _assigns_read(expr, bound, seen) -> set | None:
    """The assigns keys an expression reads (`assigns.x`, `assigns[:x]`, `@x`), following
    variables bound earlier in the function; None when it reads `assigns` as a whole."""
    keys: set = set()
    for node in walk(expr):
        if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "@":
            operand = node.child_by_field_name("operand")
            if operand is not None and operand.type == "identifier":
                keys.add(text(operand))
            continue
        if node.type != "identifier":
            continue
        name = text(node)
        parent = node.parent
        if name == "assigns":
            if parent is not None and parent.type == "dot" and parent.child_by_field_name("left") == node:
                keys.add(text(parent.child_by_field_name("right")))
            elif parent is not None and parent.type == "access_call" and parent.child_by_field_name("target") == node:
                key = atom_value(parent.child_by_field_name("key"))
                if key is None:
                    return None
                keys.add(key)
            else:
                return None
        elif name in bound and name not in seen and not (
                parent is not None and parent.type in ("dot", "call") and parent.child_by_field_name("target" if parent.type == "call" else "right") == node):
            inner = _assigns_read(bound[name], bound, seen | {name})
            if inner is None:
                return None
            keys |= inner
    return keys


def _mutations(ctx, fdef, safe):
    for node in walk(fdef.body):
        if node.type == "call":
            mod, name = call_name(node)
            if mod != "Map" or name not in ("put", "merge", "update"):
                continue
            args = effective_arguments(node)
            subject = _pipe_subject(args[0]) if args else None
            if subject is None or subject.type != "identifier" or text(subject) != "assigns":
                continue
            if not _rebinds_assigns(node):
                continue
            if _overwrites_from_itself(name, args, fdef):
                continue
            fixes = []
            if name in ("put", "merge"):
                target = node.child_by_field_name("target")
                fixes = [fix("Use assign", Edit(target.start_byte, target.end_byte, "assign"), safe=safe)]
            yield ctx.finding(node, f"Map.{name} on assigns defeats change tracking: the template will not "
                                    "update; use assign/2,3", fixes=fixes)
        elif node.type == "map":
            for content in node.named_children:
                for child in content.named_children if content.type == "map_content" else []:
                    if child.type == "binary_operator" and text(child.child_by_field_name("operator")) == "|" \
                            and text(child.child_by_field_name("left")) == "assigns" and _rebinds_assigns(node):
                        yield ctx.finding(node, "%{assigns | ...} defeats change tracking; use assign/2,3")


def _variables(ctx, fdef, sigils):
    body = fdef.body
    statements = block_body(body) if body.type == "do_block" else []
    bound = {}
    for statement in statements:
        if statement.type == "binary_operator" and text(statement.child_by_field_name("operator")) == "=":
            left = statement.child_by_field_name("left")
            if left is not None and left.type == "identifier" and text(left) != "assigns":
                bound[text(left)] = statement
    if not bound:
        return
    data = ctx.document.data
    for template in (t for t in templates(ctx) if t.sigil in sigils):
        inner = {m.group(1) or m.group(2) for m in _BINDERS.finditer(data, template.start, template.end)}
        used = set()
        for _node, _attribute, start, end in template.code_ranges():
            root = heex.parse_code(data, start, end)
            if root is None:
                continue
            names = {n.encode() for n in bound}
            for node in variable_references(root):
                if node.text in names:
                    used.add(text(node))
        for name in sorted(used):
            if name.encode() in inner:
                continue
            yield ctx.finding(bound[name], f"`{name}` is used in the template: variables disable change tracking; "
                                           f"assign it (assign(assigns, :{name}, ...)) and use @{name}",
                              severity=Severity.INFORMATION)
