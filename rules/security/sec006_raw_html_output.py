"""SEC006 raw-html-output."""

import re

import tree_sitter as ts

from exhort import heex
from exhort.execution import Runs
from exhort.findings import Severity
from exhort.matching import anchored_matcher
from exhort.parsing import cached_query, declared_query
from exhort.rule import Context, Rule, bad, good, module_info, requires
from exhort_rules.ecto._common import binds
from exhort.syntax import (
    ancestors,
    module_members,
    tails,
    walk,
    block_body,
    call_arguments,
    call_name,
    defmodules,
    effective_arguments,
    enclosing_call,
    is_literal,
    keyword_pairs,
    string_value,
    text,
)

QUERY = declared_query(r"""
((call target: (identifier) @function (arguments)) @call (#eq? @function "raw"))
((call target: (dot left: (alias) @module right: (identifier) @function) (arguments)) @call (#eq? @function "raw"))
((tuple . (atom) @tag . (_) . ) @tuple (#eq? @tag ":safe"))
((sigil (sigil_name) @name (quoted_content)) @sigil (#eq? @name "H"))
""")
SANITIZERS = ("HtmlSanitizeEx",)
ESCAPERS = {
    ("Phoenix.HTML", "html_escape"), ("Phoenix.HTML.Engine", "html_escape"), ("Phoenix.HTML.Safe", "to_iodata"),
    ("Plug.HTML", "html_escape"), ("Plug.HTML", "html_escape_to_iodata"), (None, "html_escape"),
}

_MARKDOWN_SAFE = r'''defmodule MyApp.Markdown do
  @options [render: [unsafe_: true], features: [sanitize: MDEx.default_sanitize_options()]]
  def render(markdown, opts \\ [])
  def render(nil, _opts), do: nil
  def render(markdown, opts) do
    case MDEx.to_html(markdown, Keyword.merge(@options, opts)) do
      {:ok, html} -> html
      {:error, _} -> ""
    end
  end
  def to_safe_html(md), do: Cmark.to_html(md, [:smart])
end
'''
_MARKDOWN_UNSAFE = r'''defmodule MyApp.Markdown do
  def render(markdown), do: Cmark.to_html(markdown, [:unsafe, :smart])
  def render_trusted(markdown), do: MDEx.to_html!(markdown, render: [unsafe_: true])
  def legacy(markdown), do: Earmark.as_html!(markdown)
end
'''

RULE = Rule(
    code="SEC006",
    name="raw-html-output",
    category="security",
    # hint by default: only record fields whose writer syntax cannot see are left, and on real
    # applications about half of them are the app's own content (see the explanation);
    # request params are a warning.
    severity=Severity.HINT,
    summary="raw/1 or a hand-built {:safe, ...} turns off HTML escaping for data that may not be safe",
    fix_safety="none",
    scope="document",
    languages=("elixir", "heex"),
    workspace=True,
    requires=(b"raw", b":safe"),
    runs_in=frozenset({Runs.PRODUCTION}),  # what the deployed app sends; compile-time values are the code's
    explanation="""
        ## SEC006 raw-html-output

        Phoenix.HTML escapes everything a template outputs. `raw/1` (and a hand-built
        `{:safe, iodata}` tuple) "marks the given content as raw", so it is sent as HTML; the
        docs add that "user data or data coming from the database is almost never considered
        safe" (hexdocs `Phoenix.HTML`). A comment body passed through `raw` is a stored XSS.
        Sobelow's `XSS.Raw` flags the same calls (`sobelow:lib/sobelow/xss/raw.ex`).

        Flagged, in templates (`{...}` and `<%= %>` of `.html.heex` files and `~H` sigils) and in
        view and component code: `raw(expr)`, `Phoenix.HTML.raw(expr)` and `{:safe, expr}` when
        `expr` evidently carries data:

        - a field of a record, a map or the request (`@post.body`, `comment.body`,
          `row["body"]`, `params["q"]`, `conn.params`), directly or through functions that do
          not sanitize (string building, unknown helpers, markdown rendered in unsafe mode:
          `Cmark.to_html(md, [:unsafe])`, MDEx with `unsafe_: true` and no sanitizer, Earmark);
        - JSON encoded from anything but a literal (JSON is not HTML-escaped: a `</script>` in
          any string ends the script), unless encoded with `escape: :html_safe`;
        - in view code, the function's own parameter marked safe whole (a helper that marks
          whatever its callers pass).

        Not flagged, as trusted: string literals, module attributes, sigils without
        interpolation, `safe_to_string/1`, zero-arity workspace functions returning a
        literal, `gettext` with literal messages and trusted bindings, sanitizers
        (`HtmlSanitizeEx.*`), escapers (`html_escape`), Phoenix.HTML's tag, link, form and
        format helpers (`content_tag`, `link`, `text_to_html`: they escape what they are
        given), Makeup, markdown in safe mode (`Cmark.to_html/1,2` without `:unsafe`, MDEx
        with its default or a `sanitize:` option, also set in a module attribute) and
        workspace functions built on them (`MyApp.Markdown.render/1`). Not flagged, as
        unknown (unknown never fires): a whole assign (`raw(@body_html)`: the template
        cannot see what was assigned), a template variable, a parameter inside a larger
        expression (`raw("<b>#{count}</b>")`), values computed at compile time, and outputs
        the project already reviewed for the equivalent checks of other tools
        (`credo:disable-for-next-line Credo.Check.Warning.UnsafeTemplateHTML` on the line
        before, or `# sobelow_skip ["XSS.Raw"]` above the function).

        **Severity.** Request params are a warning. Everything else is a hint (shown faded in
        editors, hidden by the CLI unless `--min-severity hint`): whether a record field holds
        user-written HTML depends on who can write it, which syntax cannot see, and on real
        applications about half of what is left is content the application itself ships or
        authors (markdown files in the repository, hard-coded lists, configuration). Where
        users can write HTML-bearing fields, raise it in `.exhort.toml`.

        **Bad**

        ```heex
        {raw(@comment.body)}
        ```

        **Good**

        ```heex
        {@comment.body}
        {raw(HtmlSanitizeEx.basic_html(@comment.body))}
        ```

        **Fix**: none; sanitize the HTML or render it with components.
    """,
    examples=[
        bad(
            """
            <article :for={post <- @posts}>
              {raw(MyApp.Markdown.render(post.body))} <%!-- expect: SEC006 --%>
              {raw(Markdown.render_trusted(@featured.summary))} <%!-- expect: SEC006 --%>
              {raw(post.excerpt |> Markdown.legacy())} <%!-- expect: SEC006 --%>
            </article>
            <p>{raw(@conn.params["q"])}</p> <%!-- expect: SEC006 --%>
            """,
            path="lib/my_app_web/controllers/post_html/index.html.heex",
            files={"lib/my_app/markdown.ex": _MARKDOWN_UNSAFE},
            note="record fields and request params through markdown renderers that let raw HTML through "
                 "(Cmark with :unsafe, MDEx unsafe_ without a sanitizer, Earmark)",
        ),
        good(
            """
            <article :for={post <- @posts}>
              {raw(MyApp.Markdown.render(post.body))}
              {raw(Markdown.to_safe_html(@featured.summary))}
              {raw(@body_html)}
              <p :for={{_kind, message} <- @notices}>{raw(message)}</p>
              <%= if flash = Phoenix.Flash.get(@flash, :raw_info) do %>{raw(flash)}<% end %>
            </article>
            """,
            path="lib/my_app_web/controllers/post_html/index.html.heex",
            files={"lib/my_app/markdown.ex": _MARKDOWN_SAFE},
            note="a workspace markdown helper in safe or sanitizing mode (MDEx with a sanitizer set in a module "
                 "attribute, Cmark's default), a whole assign and template variables (unknown provenance)",
        ),
        good(
            r'''
            defmodule MyAppWeb.Billing do
              use MyAppWeb, :html

              @map_paths Path.join(:code.priv_dir(:my_app), "static/map.svg") |> File.read!() |> Phoenix.HTML.raw()

              def proration(days, price) when is_integer(days) do
                raw("Charged for <strong>#{days}</strong> day(s) at <strong>#{price}</strong>.")
              end

              def head(assigns) do
                nonce = assigns[:style_nonce]
                raw("<style nonce=\"#{nonce}\">body { margin: 0 }</style>")
              end

              def banner(assigns) do
                ~H"""
                <%!-- credo:disable-for-next-line Credo.Check.Warning.UnsafeTemplateHTML --%>
                <p>{Phoenix.HTML.raw(@banner.message)}</p>
                """
              end

              # sobelow_skip ["XSS.Raw"]
              def notice(message), do: raw(message)

              def author(user) do
                raw([content_tag(:b, user.name), " ", Phoenix.HTML.Link.link(user.site, to: user.url)])
              end

              def bio(user), do: user.bio |> PhoenixHTMLHelpers.Format.text_to_html() |> raw()
            end
            ''',
            path="lib/my_app_web/components/billing.ex",
            note="a module attribute computed at compile time, parameters and an assign interpolated into "
                 "literal markup, outputs the project already reviewed for Credo's UnsafeTemplateHTML or "
                 "Sobelow's XSS.Raw, and Phoenix.HTML helpers that escape what they are given",
        ),
        bad(
            """
            defmodule MyAppWeb.CommentComponents do
              use Phoenix.Component

              def comment(assigns) do
                ~H\"\"\"
                <div class="comment">
                  {raw(@comment.body)} <%!-- expect: SEC006 --%>
                  <span title={@comment.author}>{Phoenix.HTML.raw(@comment.signature)}</span> <%!-- expect: SEC006 --%>
                </div>
                \"\"\"
              end

              def summary(comment), do: raw(comment.summary_html)  # expect: SEC006
              def marked(html), do: {:safe, html}  # expect: SEC006
            end
            """,
            path="lib/my_app_web/components/comment_components.ex",
            note="raw inside ~H, in plain code, and a hand-built {:safe, _}",
        ),
        bad(
            """
            <div>
              <%= raw @post.body_html %> <%!-- expect: SEC006 --%>
              {raw(render_markdown(@post.summary))} <%!-- expect: SEC006 --%>
              {raw(gettext("Posted by <b>%{name}</b>", name: @post.author))} <%!-- expect: SEC006 --%>
              <script>
                const x = {a: 1};
                var origins = <%= raw(Jason.encode!(@origins)) %>; <%!-- expect: SEC006 --%>
              </script>
              <p>{@post.title}</p>
            </div>
            """,
            path="lib/my_app_web/controllers/post_html/show.html.heex",
            note="a .html.heex template; <%= %> still runs inside <script>, where {...} does not",
        ),
        good(
            """
            defmodule MyAppWeb.Safe do
              use MyAppWeb, :html

              @icon "<svg></svg>"

              def icon(assigns) do
                ~H\"\"\"
                <p>{@comment.body}</p>
                {raw(HtmlSanitizeEx.basic_html(@comment.body))}
                {raw("<br/>")}
                <script>let raw = (x) => x; raw({a: 1});</script>
                \"\"\"
              end

              def svg, do: raw(@icon)

            def notice(conn) do
              message = "Please <a href='/settings'>enable 2FA</a> " <> "and try again."
              render(conn, :notice, message: {:safe, message})
            end

            defmacro compiled(html) do
              quote do
                unquote(html) |> String.replace("%NONCE%", "n") |> Phoenix.HTML.raw()
              end
            end
              def escaped(x), do: {:safe, Phoenix.HTML.Engine.html_escape(x)}
              def sanitized(x), do: x |> HtmlSanitizeEx.strip_tags() |> raw()

              def icon, do: ~S(<svg viewBox="0 0 24 24"></svg>) |> raw()

              @spec chart(list()) :: {:safe, [any()]}
              def chart(_rows), do: {:safe, ["<svg>", "</svg>"]}

              def unwrap(x) do
                {:safe, iodata} = Phoenix.HTML.html_escape(x)
                case x do
                  {:safe, data} -> data
                  other -> other
                end
                iodata
              end
            end
            """,
            path="lib/my_app_web/safe.ex",
            note="sanitizers, escapers, literals and sigils, module attributes, a variable bound to literals, quoted code, script content, typespecs and {:safe, _} patterns",
        ),
        good(
            """
            defmodule MyAppWeb.PageView do
              use MyAppWeb, :view

              @banner "<b>Welcome</b>"

              def style, do: ~S(body { color: red; })
              def banner, do: @banner

              def head, do: raw(style())

              def title(name) do
                raw("<h1>#{Phoenix.HTML.html_escape(name) |> Phoenix.HTML.safe_to_string()}</h1>")
              end
            end
            """,
            path="lib/my_app_web/views/page_view.ex",
            note="a zero-arity function returning a literal, and escaped text turned back into a string",
        ),
        good(
            """
            <p>{raw(gettext("Keys are stored <strong>encrypted</strong>."))}</p>
            <p>{raw(gettext("See the guide on %{link}", link: safe_to_string(@docs_link)))}</p>
            <p>{raw(ngettext("<b>%{n}</b> session", "<b>%{n}</b> sessions", @count, n: @count))}</p>
            """,
            path="lib/my_app_web/templates/page/help.html.heex",
            note="gettext with a literal message and trusted bindings (the plural count is a number)",
        ),
        good(
            """
            <style><%= raw(MyAppWeb.PageView.style()) %></style>
            <div>{raw(MyAppWeb.PageView.banner())}</div>
            """,
            path="lib/my_app_web/templates/page/index.html.heex",
            files={
                "lib/my_app_web/views/page_view.ex": (
                    "defmodule MyAppWeb.PageView do\n  use MyAppWeb, :view\n  @banner \"<b>Hi</b>\"\n"
                    "  def style, do: ~S(body { color: red; })\n  def banner, do: @banner\nend\n"
                )
            },
            note="a template calling another module's zero-arity function that returns a literal or a module attribute",
        ),
        good(
            """
            defmodule MyApp.Bytes do
              def raw(x), do: x
              def run(data), do: raw(data)
            end

            defmodule MyApp.Other do
              def run(data), do: raw(data)
            end
            """,
            path="lib/my_app/bytes.ex",
            note="a module defining its own raw/1, and a module that is not view code",
        ),
        good(
            """
            <div>
              <p title="use {raw(@x)} with care" data-json='{"a": "}"}'>{@post.title}</p>
              <%= @post.body %>
            </div>
            """,
            path="lib/my_app_web/controllers/post_html/help.html.heex",
            note="a `{` inside a quoted attribute value is text, not code",
        ),
    ],
)

@RULE.check
def check(ctx: Context, _match):
    path = ctx.path
    if path.is_test or not path.is_production_code:
        return
    document = ctx.document
    constants = _constant_functions(ctx)
    safe = _safe_html_functions(ctx)
    for template in heex.templates_of(document):
        if template.sigil is None or not template.sigil.has_error:
            module = ctx.module_of(template.sigil) if template.sigil is not None else None
            yield from _check_template(ctx, template, constants, safe, module)
    if document.language == "heex" or document.tree is None:
        return
    seen = set()
    # Found from the names the patterns anchor on: a pass of the query over a whole big file
    # cost more than the rest of the typing pause's checks.
    for pattern, captures in anchored_matcher(QUERY).matches(document.tree.root_node, document.data):
        if pattern not in (0, 1, 2):
            continue  # ~H sigils: read above as templates
        node = (captures.get("call") or captures.get("tuple"))[0]
        if node.start_byte in seen or node.has_error:
            continue
        seen.add(node.start_byte)
        module = ctx.module_of(node)
        if not _view_code(ctx, module) or enclosing_call(node, "quote") is not None:
            continue  # quoted code is generated at compile time: unknown
        if pattern == 2:
            message = _check_safe_tuple(node, module, constants, safe)
        else:
            message = _check_raw(node, module, template=False, constants=constants, safe=safe)
        if message and not _reviewed(document.data, node.start_byte):
            yield _finding(ctx, node, message)


def _view_code(ctx, module) -> bool:
    if any(part.endswith("_web") for part in ctx.path.parts[:2]):
        return True
    if module is None:
        return False
    if module.kind in ("live_view", "live_component", "component"):
        return True
    return any(u.module.endswith("Web") or u.module.startswith("Phoenix.") for u in module.uses)


def _check_raw(call, module, template: bool, constants=frozenset(), safe=frozenset()) -> str | None:
    mod, fun = call_name(call)
    if mod is not None:
        resolved = module.resolve_alias(mod) if module is not None else mod
        if resolved != "Phoenix.HTML":
            return None
    elif module is not None and module.defines("raw", 1):
        return None
    arguments = effective_arguments(call)
    if len(arguments) != 1:
        return None
    if _trusted(arguments[0], template, module=module, constants=constants):
        return None
    if not _carries_data(arguments[0], template, module, safe):
        return None  # a value of unknown provenance: unknown never fires
    return f"{'raw' if mod is None else mod + '.raw'}/1 sends {_short(arguments[0])} unescaped: a stored XSS if it holds user data"


def _check_safe_tuple(tuple_node, module=None, constants=frozenset(), safe=frozenset()) -> str | None:
    items = [c for c in tuple_node.named_children if c.type != "comment"]
    if len(items) != 2:
        return None
    if _in_pattern(tuple_node) or _in_typespec(tuple_node):
        return None
    for parent in ancestors(tuple_node):
        if parent.type == "call" and call_name(parent) == (None, "defimpl"):
            return None
    if _trusted(items[1], template=False, module=module, constants=constants):
        return None
    if not _carries_data(items[1], False, module, safe):
        return None
    return f"A hand-built {{:safe, ...}} marks {_short(items[1])} as HTML-safe without escaping it"


TYPESPECS = frozenset({"spec", "type", "typep", "opaque", "callback", "macrocallback"})


def _in_typespec(node) -> bool:
    """`@spec render() :: {:safe, iodata()}`: a type, not a value."""
    for parent in ancestors(node):
        if parent.type == "unary_operator" and text(parent.child_by_field_name("operator")) == "@":
            operand = parent.child_by_field_name("operand")
            return operand is not None and operand.type == "call" and call_name(operand) in {(None, t) for t in TYPESPECS}
    return False


def _in_pattern(node) -> bool:
    child = node
    for parent in ancestors(node):
        if parent.type == "binary_operator":
            op = text(parent.child_by_field_name("operator"))
            if op in ("=", "<-") and parent.child_by_field_name("left") == child:
                return True
            if op == "when":
                pass
            elif op not in ("|", "=>", "<>", "++"):
                return False
        elif parent.type == "arguments" and parent.parent is not None and parent.parent.type == "stab_clause":
            return True
        elif parent.type == "arguments" and parent.parent is not None and parent.parent.type == "call":
            definition = enclosing_call(parent, "def", "defp", "defmacro", "defmacrop")
            if definition is not None and parent.parent.parent is not None and parent.parent.parent.parent == definition:
                return True  # a function head parameter
            return False
        elif parent.type in ("body", "do_block", "source", "anonymous_function"):
            return False
        child = parent
    return False


def _trusted(node, template: bool, depth: int = 0, module=None, constants=frozenset()) -> bool:
    def trusted(child, deeper=depth):
        return _trusted(child, template, deeper, module=module, constants=constants)

    if node.type == "identifier" and not template and depth == 0:
        bound = binds(node, text(node))
        return len(bound) == 1 and bound[0] is not None and trusted(bound[0], depth + 1)
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "<>":
        return all(trusted(node.child_by_field_name(side)) for side in ("left", "right"))
    if node.type == "string":
        return string_value(node) is not None or all(
            trusted(i, 0) for c in node.named_children if c.type == "interpolation" for i in c.named_children
        )
    if is_literal(node):
        return True
    if node.type == "sigil" and not any(c.type == "interpolation" for c in node.named_children):
        return True  # ~S"""<svg>...""" and other sigils without interpolation are literals
    if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "@" and not template:
        return True  # a module attribute: fixed at compile time
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "|>":
        right = node.child_by_field_name("right")
        if right is not None and right.type == "call" and call_name(right) in SAFE_UNWRAP and not call_arguments(right):
            return trusted(node.child_by_field_name("left"))  # html_escape(x) |> safe_to_string()
        return trusted(right)
    if node.type == "call":
        mod, fun = call_name(node)
        if not call_arguments(node) and _constant_function(node, mod, fun, module, constants):
            return True  # a zero-arity function that returns a literal or a module attribute
        if (mod is None or mod == "Phoenix.HTML") and fun == "safe_to_string":
            return True  # it only accepts {:safe, _}: the content was already marked safe
        if fun in GETTEXT and _trusted_gettext(node, fun, trusted):
            return True
        if mod is not None and any(mod == s or mod.startswith(s + ".") for s in SANITIZERS):
            return True
        if (mod, fun) in ESCAPERS or fun == "html_escape":
            return True
        if (mod, fun) in (("Phoenix.HTML", "raw"), (None, "raw")):
            return True  # raw(raw(x)): the inner call is reported
    return False


SAFE_UNWRAP = {("Phoenix.HTML", "safe_to_string"), (None, "safe_to_string")}
# gettext macros -> how many leading string arguments (domain, context, msgid, plural) they take
GETTEXT = {
    "gettext": 1, "dgettext": 2, "pgettext": 2, "dpgettext": 3,
    "ngettext": 2, "dngettext": 3, "pngettext": 3, "dpngettext": 4,
}


def _trusted_gettext(call, fun, trusted) -> bool:
    """`gettext("<b>Fixed</b> text", link: safe_to_string(link))`: the message comes from the
    project's own translations; it is trusted when every string argument is a literal and every
    binding is trusted (for the plural forms, the count itself is a number)."""
    arguments = [a for a in call_arguments(call) if a.type != "comment"]
    bindings = None
    if arguments and arguments[-1].type == "keywords":
        bindings = arguments[-1]
        arguments = arguments[:-1]
    elif arguments and arguments[-1].type == "list" and len(arguments) > GETTEXT[fun] + fun.endswith("ngettext"):
        bindings = arguments[-1]
        arguments = arguments[:-1]
    strings = GETTEXT[fun]
    plural = fun.endswith("ngettext")
    if len(arguments) != strings + (1 if plural else 0):
        return False
    if not all(a.type == "string" and string_value(a) is not None for a in arguments[:strings]):
        return False
    count = text(arguments[-1]) if plural else None
    if bindings is None:
        return True
    pairs = keyword_pairs(bindings)
    if bindings.type == "list" and not pairs:
        return False
    return all(text(value) == count or trusted(value, 0) for _key, value, _pair in pairs)


def _constant_function(call, mod, fun, module, constants) -> bool:
    if call.child_by_field_name("target") is None or fun is None:
        return False
    if mod is None:
        name = module.name if module is not None else None
    else:
        name = module.resolve_alias(mod) if module is not None else mod
    return name is not None and f"{name}.{fun}" in constants


def _constant_functions(ctx) -> frozenset:
    if ctx.workspace is None:
        return frozenset()
    return ctx.workspace.derived(
        "sec006_constant_functions",
        lambda index: frozenset(name for _path, names in index.facts("constant_functions") for name in names),
    )


@requires(b"def ")
def _named_modules(document):
    """The header facts of each module the document defines with a literal name."""
    if document.tree is None:
        return
    for module_node, _full in defmodules(document.tree.root_node):
        info = module_info(document, module_node)
        if info.name is not None:
            yield info


def _constant_function_facts(document, _path):
    """`Module.fun` for each public zero-arity function with one clause whose whole body is a
    string literal (no interpolation), an uninterpolated sigil or a module attribute."""
    found = []
    for info in _named_modules(document):
        for (name, arity), definitions in info.functions.items():
            if arity != 0 or len(definitions) != 1 or definitions[0].kind != "def":
                continue
            body = definitions[0].body
            expressions = block_body(body) if body is not None and body.type == "do_block" else [body]
            if len(expressions) == 1 and expressions[0] is not None and _constant_value(expressions[0]):
                found.append(f"{info.name}.{name}")
    return tuple(sorted(found))


def _constant_value(node) -> bool:
    if node.type == "string":
        return string_value(node) is not None
    if node.type == "sigil":
        return not any(c.type == "interpolation" for c in node.named_children)
    if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "@":
        operand = node.child_by_field_name("operand")
        return operand is not None and operand.type == "identifier"
    return False




def _short(node) -> str:
    value = text(node).replace("\n", " ")
    return f"`{value}`" if len(value) <= 40 else f"`{value[:37]}...`"


# -- templates ---------------------------------------------------------------------------------

_RAW_HINT = re.compile(rb"\braw\b")


def _check_template(ctx, template: heex.Template, constants=frozenset(), safe=frozenset(), module=None):
    """raw/1 calls in the Elixir code of a template: `{...}`, `<%= %>` and attribute values."""
    data = template.data
    if not _RAW_HINT.search(data, template.start, template.end):
        return
    query = cached_query(QUERY)
    for _node, _attribute, start, end in template.code_ranges():
        if not _RAW_HINT.search(data, start, end):
            continue
        code = heex.parse_code(data, start, end)  # nodes in file coordinates
        if code is None:
            continue
        for pattern, captures in ts.QueryCursor(query).matches(code):
            if pattern not in (0, 1):
                continue
            call = captures["call"][0]
            if call.has_error:
                continue
            message = _check_raw(call, module, template=True, constants=constants, safe=safe)
            if message and not _reviewed(data, call.start_byte):
                yield _finding(ctx, call, message)


# -- provenance: what evidently carries data from outside the code ------------------------------

_REQUEST_FIELDS = ("params", "query_params", "body_params", "path_params")


def _finding(ctx, node, message):
    severity = _severity(node)
    if severity is Severity.WARNING:
        message = message.replace("a stored XSS if it holds user data", "request input, a reflected XSS")
    return ctx.finding(node, message, severity=severity)


def _severity(node) -> Severity:
    """A warning when the output reads the request's params (input by definition), else the
    rule's hint: a record field may or may not hold what users wrote."""
    for child in walk(node):
        chain = _field_chain(child)
        if chain is None:
            continue
        root, _fields = chain
        if root.type == "identifier" and (text(root) == "params" or text(root).endswith("_params")):
            return Severity.WARNING
        if _first_field(child) in _REQUEST_FIELDS:
            return Severity.WARNING
    return Severity.HINT

# Roots whose first fields are the app's own assigns, not record data: `assigns.title` is `@title`.
_ASSIGN_ROOTS = {"assigns": 1, "socket": 2, "conn": 2}
_JSON_ENCODERS = {("Jason", "encode!"), ("Jason", "encode"), ("JSON", "encode!"), ("JSON", "encode"),
                  ("Poison", "encode!"), ("Poison", "encode"), ("Jason", "encode_to_iodata!")}


def _field_chain(node) -> tuple[object, int] | None:
    """(root, number of fields) of `a.b.c`, `@a.b`, `a[:b]`, or None when `node` reads no field."""
    fields = 0
    while True:
        if node.type == "access_call":
            node = node.child_by_field_name("target")
            fields += 1
            continue
        if node.type == "call" and not any(c.type == "arguments" for c in node.named_children):
            target = node.child_by_field_name("target")
            if target is not None and target.type == "dot" and target.child_by_field_name("right") is not None:
                left = target.child_by_field_name("left")
                if left is None or left.type == "alias":
                    return None  # Mod.fun: a zero-arity remote call
                node = left
                fields += 1
                continue
        break
    return (node, fields) if fields else None


def _record_field(node) -> bool:
    """`@post.body`, `comment.body`, `row["body"]`, `params["q"]`: a field of data (a record, a
    map, the request), unlike a whole assign (`@body_html`, `assigns.body_html`), whose value
    the template cannot see."""
    chain = _field_chain(node)
    if chain is None:
        return False
    root, fields = chain
    if root.type == "unary_operator" and text(root.child_by_field_name("operator")) == "@":
        return True  # @post.body
    if root.type == "identifier":
        needed = _ASSIGN_ROOTS.get(text(root), 0)
        if needed and fields >= needed and text(root) in ("socket", "conn"):
            first = _first_field(node)
            if first != "assigns":
                return True  # conn.params, conn.body_params, socket.private...
        return fields > needed
    return True


def _first_field(node) -> str | None:
    names = []
    while True:
        if node.type == "access_call":
            node = node.child_by_field_name("target")
            names.append(None)
            continue
        target = node.child_by_field_name("target") if node.type == "call" else None
        if target is not None and target.type == "dot" and target.child_by_field_name("right") is not None:
            names.append(text(target.child_by_field_name("right")))
            node = target.child_by_field_name("left")
            continue
        break
    return names[-1] if names else None


def _carries_data(node, template: bool, module, safe, depth: int = 0, seen=frozenset()) -> bool:
    """Whether the value evidently comes from data rather than from the code: a record's field
    or the request's params, directly or through functions that do not sanitize; JSON encoded
    from anything but a literal; or, in view code, the function's own parameter marked safe
    whole (a helper that marks whatever its callers pass). A whole assign (`@html`), a
    template variable, a parameter inside a larger expression or a value some unknown call
    returned is of unknown provenance: not flagged."""
    def deeper(child):
        return _carries_data(child, template, module, safe, depth + 1, seen)

    kind = node.type
    if _trusted(node, template, module=module):
        return False
    if _record_field(node):
        return True
    if kind == "identifier":
        if template:
            return False  # a template variable (a generator, :let, a <% x = %>): unknown
        name = text(node)
        if depth == 0 and _is_parameter(node, name):
            return True
        if name in seen:
            return False
        return any(value is not None and _carries_data(value, template, module, safe, depth, seen | {name})
                   for value in binds(node, name))
    if kind == "binary_operator" and text(node.child_by_field_name("operator")) == "|>":
        right = node.child_by_field_name("right")
        if right is not None and right.type == "call":
            if _sanitizes(right, module, safe):
                return False
            return any(deeper(arg) for arg in effective_arguments(right))
        return deeper(node.child_by_field_name("left"))
    if kind == "call":
        target = node.child_by_field_name("target")
        construct = text(target) if target is not None and target.type == "identifier" else None
        if construct in ("if", "unless", "case", "cond", "with", "try"):
            return any(t is not None and t.type != "implicit_nil" and deeper(t) for t in tails(node))
        if _sanitizes(node, module, safe):
            return False
        mod, fun = call_name(node)
        if mod is not None and (mod, fun) in _JSON_ENCODERS:
            arguments = call_arguments(node)
            options = text(arguments[1]) if len(arguments) > 1 else ""
            return bool(arguments) and not is_literal(arguments[0]) and "html_safe" not in options \
                and "javascript_safe" not in options
        return any(deeper(arg) for arg in effective_arguments(node))
    if kind in ("string", "list", "tuple", "keywords", "pair", "map", "map_content", "interpolation",
                "binary_operator", "block", "arguments"):
        return any(deeper(child) for child in node.named_children if child.type != "comment")
    return False


def _is_parameter(node, name: str) -> bool:
    """Whether `name` is a parameter of the function `node` sits in (a bare identifier among
    the head's arguments)."""
    for parent in ancestors(node):
        if parent.type == "anonymous_function":
            return False
        if parent.type == "call" and call_name(parent)[0] is None and call_name(parent)[1] in ("def", "defp"):
            arguments = call_arguments(parent)
            head = arguments[0] if arguments else None
            if head is not None and head.type == "binary_operator" and text(head.child_by_field_name("operator")) == "when":
                head = head.child_by_field_name("left")
            if head is None or head.type != "call":
                return False
            return any(arg.type == "identifier" and text(arg) == name for arg in call_arguments(head))
    return False


def _sanitizes(call, module, safe) -> bool:
    """A call that returns escaped or sanitized HTML: a known sanitizer, escaper or safe-mode
    renderer, or a workspace function built on one (`SharedHelpers.md_to_safe_html/1`)."""
    if _renderer_verdict(call, {}) is True:
        return True
    mod, fun = call_name(call)
    if fun is None or mod == "<expr>":
        return False
    if mod is None:
        if fun in _IMPORTED_ESCAPING_HELPERS and (module is None or not module.definitions(fun)):
            return "escape: false" not in text(call)
        owner = module.name if module is not None else None
        return owner is not None and f"{owner}.{fun}" in safe
    resolved = module.resolve_alias(mod) if module is not None else mod
    if f"{resolved}.{fun}" in safe:
        return True
    if module is None or resolved == mod:
        # An alias the file cannot resolve (a template, or one `use MyAppWeb, :html` brings
        # in): a workspace module whose name ends with it.
        suffix = f".{mod}.{fun}"
        return any(name.endswith(suffix) for name in safe)
    return False


# -- renderers: which calls escape or sanitize HTML, and which let raw HTML through -----------

_PHOENIX_HTML_HELPERS = frozenset({
    "Phoenix.HTML", "Phoenix.HTML.Tag", "Phoenix.HTML.Link", "Phoenix.HTML.Form", "Phoenix.HTML.Format",
    "PhoenixHTMLHelpers.Tag", "PhoenixHTMLHelpers.Link", "PhoenixHTMLHelpers.Form", "PhoenixHTMLHelpers.Format",
})
# The same helpers as views import them (`use Phoenix.HTML`, `import PhoenixHTMLHelpers.Tag`).
_IMPORTED_ESCAPING_HELPERS = frozenset({
    "content_tag", "tag", "link", "button", "img_tag", "text_to_html", "javascript_escape", "attributes_escape",
})
_MARKDOWN_UNSAFE = re.compile(r"\bunsafe_?\s*:\s*true|:unsafe\b")
_SANITIZE_ON = re.compile(r"\bsanitize\s*:\s*(?!false\b|nil\b)\S")


def _renderer_verdict(call, attributes: dict[str, str]) -> bool | None:
    """True when `call` returns escaped or sanitized HTML, False when it renders raw HTML
    through (markdown in unsafe mode), None when it says neither."""
    mod, fun = call_name(call)
    if fun is None:
        return None
    if mod is not None and any(mod == s or mod.startswith(s + ".") for s in SANITIZERS):
        return True
    if (mod, fun) in ESCAPERS or fun == "html_escape":
        return True
    if mod in _PHOENIX_HTML_HELPERS and fun != "raw":
        # Phoenix.HTML's tag, link, form and format helpers escape the content they are given
        # (text_to_html unless told `escape: false`)
        return "escape: false" not in text(call)
    if (mod, fun) == ("Makeup", "highlight") or (mod, fun) == ("Makeup", "highlight_inner_html"):
        return True  # Makeup's HTML formatter escapes the source it colours
    if mod == "Earmark" and fun in ("as_html", "as_html!"):
        return False  # Earmark passes HTML blocks through
    if mod == "Cmark" and fun.startswith("to_html"):
        arguments = call_arguments(call)
        if len(arguments) < 2:
            return True  # cmark's default is safe mode: raw HTML and javascript: links are dropped
        options = arguments[1]
        if options.type != "list":
            return None
        return not any(text(item) == ":unsafe" for item in options.named_children)
    if mod == "MDEx" and fun in ("to_html", "to_html!"):
        arguments = call_arguments(call)
        if len(arguments) < 2:
            return True  # comrak's default leaves raw HTML out
        options = text(arguments[1])
        options += "".join(attributes.get(name, "") for name in re.findall(r"@(\w+)", options))
        if _SANITIZE_ON.search(options):
            return True
        if _MARKDOWN_UNSAFE.search(options):
            return False
        return True if is_literal(arguments[1]) else None
    return None


def _module_attributes(module_node) -> dict[str, str]:
    """`@name value` definitions in a module's body, by name (the text of the value)."""
    found = {}
    for member in module_members(module_node):
        if member.type == "unary_operator" and text(member.child_by_field_name("operator")) == "@":
            operand = member.child_by_field_name("operand")
            if operand is not None and operand.type == "call":
                name = text(operand.child_by_field_name("target"))
                found[name] = found.get(name, "") + text(operand)
    return found


@requires(b"HtmlSanitizeEx", b"Cmark", b"MDEx", b"Earmark", b"Makeup", b"html_escape")
def _safe_html_facts(document, _path):
    """`Module.fun` for each function that returns escaped or sanitized HTML: one of its
    clauses calls a sanitizer, escaper or safe-mode markdown renderer and none renders raw
    HTML through (`Cmark.to_html(md, [:unsafe])`, MDEx with `unsafe_: true` and no sanitizer,
    Earmark), nor does its name say `unsafe`."""
    found = []
    for info in _named_modules(document):
        attributes = None
        for (name, _arity), definitions in info.functions.items():
            definitions = [d for d in definitions if d.body is not None]  # bodiless heads declare defaults
            if "unsafe" in name or not definitions:
                continue
            if attributes is None:
                attributes = _module_attributes(info.node)
            verdicts = {_renderer_verdict(node, attributes) for d in definitions for node in walk(d.body)
                        if node.type == "call"}
            if True in verdicts and False not in verdicts:
                found.append(f"{info.name}.{name}")
    return tuple(sorted(set(found)))


def _safe_html_functions(ctx) -> frozenset:
    if ctx.workspace is None:
        return frozenset()
    return ctx.workspace.derived(
        "sec006_safe_html_functions",
        lambda index: frozenset(name for _path, names in index.facts("safe_html_functions") for name in names),
    )


# -- reviews recorded for the equivalent checks of other tools ---------------------------------

_REVIEWED = re.compile(
    rb"credo:disable-for-(?:next-line|this-file)(?![^\n]*Credo\.Check)|"
    rb"credo:disable-for-(?:next-line|this-file)[^\n]*UnsafeTemplateHTML|"
    rb"sobelow_skip[^\n]*XSS"
)


def _reviewed(data: bytes, offset: int) -> bool:
    """Whether the project already reviewed this output for Credo's UnsafeTemplateHTML or
    Sobelow's XSS checks: a `credo:disable-for-next-line` comment on the line before (the
    check named, or none), `credo:disable-for-this-file` naming it, or `sobelow_skip` naming
    an XSS check on the line before the call or before its function."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    previous_start = data.rfind(b"\n", 0, max(line_start - 1, 0)) + 1
    previous = data[previous_start:line_start]
    match = _REVIEWED.search(previous)
    if match and (b"disable-for-next-line" in match.group(0) or b"sobelow_skip" in match.group(0)):
        return True
    for found in _REVIEWED.finditer(data):
        if b"disable-for-this-file" in found.group(0):
            return True
    # sobelow_skip above the enclosing def
    def_start = data.rfind(b"\n  def", 0, offset)
    if def_start < 0:
        def_start = data.rfind(b"\ndef", 0, offset)
    if def_start >= 0:
        before = data.rfind(b"\n", 0, def_start) + 1
        if re.search(rb"sobelow_skip[^\n]*XSS", data[before:def_start]):
            return True
    return False


FACTS = {"constant_functions": _constant_function_facts, "safe_html_functions": _safe_html_facts}
