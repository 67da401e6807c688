"""LV011 change-tracking-defeated."""

import re

from exhort import heex
from exhort.findings import Edit, Severity
from exhort.rule import Context, Rule, bad, fix, good
from exhort.syntax import block_body, call_name, effective_arguments, enclosing_def, function_def, text, walk

from ._common import templates

_BINDERS = re.compile(rb"([a-z_]\w*)\s*<-|:let=\{\s*([a-z_]\w*)")

RULE = Rule(
    code="LV011",
    name="change-tracking-defeated",
    category="liveview",
    severity=Severity.WARNING,
    summary="Templates that disable LiveView change tracking",
    fix_safety="safe/offer",
    scope="document",
    languages=("elixir", "heex"),
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
    """,
    examples=[
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
        safe = module is not None and module.kind in ("live_view", "live_component", "component")
        yield from _mutations(ctx, fdef, safe)
        if production:
            yield from _variables(ctx, fdef, sigils)
    if not production:
        return  # (b) and (c) are render-cost advice: production code only (catalog 0.4.4)
    for template in templates(ctx):
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
            for node in walk(root):
                if node.type == "identifier" and node.text in {n.encode() for n in bound}:
                    parent = node.parent
                    if parent is not None and parent.type == "unary_operator":  # @x
                        continue
                    used.add(text(node))
        for name in sorted(used):
            if name.encode() in inner:
                continue
            yield ctx.finding(bound[name], f"`{name}` is used in the template: variables disable change tracking; "
                                           f"assign it (assign(assigns, :{name}, ...)) and use @{name}",
                              severity=Severity.INFORMATION)
