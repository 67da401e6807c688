"""SEC006 raw-html-output."""

import re

import tree_sitter as ts

from exhort import heex
from exhort.findings import Severity
from exhort.parsing import cached_query
from exhort.rule import Context, Rule, bad, good, module_info, requires
from exhort_rules.ecto._common import binds
from exhort.syntax import (
    ancestors,
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

QUERY = r"""
((call target: (identifier) @function (arguments)) @call (#eq? @function "raw"))
((call target: (dot left: (alias) @module right: (identifier) @function) (arguments)) @call (#eq? @function "raw"))
((tuple . (atom) @tag . (_) . ) @tuple (#eq? @tag ":safe"))
((sigil (sigil_name) @name (quoted_content)) @sigil (#eq? @name "H"))
"""
SANITIZERS = ("HtmlSanitizeEx",)
ESCAPERS = {
    ("Phoenix.HTML", "html_escape"), ("Phoenix.HTML.Engine", "html_escape"), ("Phoenix.HTML.Safe", "to_iodata"),
    ("Plug.HTML", "html_escape"), ("Plug.HTML", "html_escape_to_iodata"), (None, "html_escape"),
}

RULE = Rule(
    code="SEC006",
    name="raw-html-output",
    category="security",
    severity=Severity.WARNING,
    summary="raw/1 or a hand-built {:safe, ...} turns off HTML escaping for data that may not be safe",
    fix_safety="none",
    scope="document",
    languages=("elixir", "heex"),
    workspace=True,
    requires=(b"raw", b":safe"),
    explanation="""
        ## SEC006 raw-html-output

        Phoenix.HTML escapes everything a template outputs. `raw/1` (and a hand-built
        `{:safe, iodata}` tuple) "marks the given content as raw", so it is sent as HTML; the
        docs add that "user data or data coming from the database is almost never considered
        safe" (hexdocs `Phoenix.HTML`). A comment body passed through `raw` is a stored XSS.
        Sobelow's `XSS.Raw` flags the same calls (`sobelow:lib/sobelow/xss/raw.ex`).

        Flagged, in templates (`{...}` and `<%= %>` of `.html.heex` files and `~H` sigils) and in
        view and component code: `raw(expr)`, `Phoenix.HTML.raw(expr)` and `{:safe, expr}` when
        `expr` is not a string literal (or, outside templates, a module attribute) and not a call
        to a known sanitizer (`HtmlSanitizeEx.*`) or escaper (`html_escape`). Also trusted: sigils
        without interpolation, `safe_to_string/1` (it only accepts content already marked safe),
        zero-arity functions of the workspace that return a literal or a module attribute, and
        `gettext`-family calls with literal messages whose bindings are trusted. Patterns such as
        `{:safe, iodata} = html_escape(x)` are not flagged.

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
    for template in heex.templates_of(document):
        if template.sigil is None or not template.sigil.has_error:
            yield from _check_template(ctx, template, _constant_functions(ctx))
    if document.language == "heex" or document.tree is None:
        return
    query = cached_query(QUERY)
    constants = _constant_functions(ctx)
    seen = set()
    for pattern, captures in ts.QueryCursor(query).matches(document.tree.root_node):
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
            message = _check_safe_tuple(node, module, constants)
        else:
            message = _check_raw(node, module, template=False, constants=constants)
        if message:
            yield ctx.finding(node, message)


def _view_code(ctx, module) -> bool:
    if any(part.endswith("_web") for part in ctx.path.parts[:2]):
        return True
    if module is None:
        return False
    if module.kind in ("live_view", "live_component", "component"):
        return True
    return any(u.module.endswith("Web") or u.module.startswith("Phoenix.") for u in module.uses)


def _check_raw(call, module, template: bool, constants=frozenset()) -> str | None:
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
    return f"{'raw' if mod is None else mod + '.raw'}/1 sends {_short(arguments[0])} unescaped: a stored XSS if it holds user data"


def _check_safe_tuple(tuple_node, module=None, constants=frozenset()) -> str | None:
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
def _constant_function_facts(document, _path):
    """`Module.fun` for each public zero-arity function with one clause whose whole body is a
    string literal (no interpolation), an uninterpolated sigil or a module attribute."""
    if document.tree is None:
        return ()
    found = []
    for module_node, _full in defmodules(document.tree.root_node):
        info = module_info(document, module_node)
        if info.name is None:
            continue
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


FACTS = {"constant_functions": _constant_function_facts}


def _short(node) -> str:
    value = text(node).replace("\n", " ")
    return f"`{value}`" if len(value) <= 40 else f"`{value[:37]}...`"


# -- templates ---------------------------------------------------------------------------------

_RAW_HINT = re.compile(rb"\braw\b")


def _check_template(ctx, template: heex.Template, constants=frozenset()):
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
            message = _check_raw(call, None, template=True, constants=constants)
            if message:
                yield ctx.finding(call, message)
