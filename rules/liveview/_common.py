"""Shared helpers of the liveview pack: templates, stream generators, stream calls."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Iterator

import tree_sitter as ts

from exhort import heex
from exhort.heex import HNode, Template
from exhort.parsing import cached_query, declared_query
from exhort.rule import module_info as read_module_info
from exhort.syntax import (
    atom_value,
    call_name,
    defmodules,
    do_block,
    module_members,
    effective_arguments,
    enclosing_def,
    function_def,
    string_value,
    text,
    walk,
)

LIVE_KINDS = ("live_view", "live_component")
STREAM_REF = re.compile(
    rb"(?<![\w.])(?:@streams\.([a-z_][\w]*[?!]?)|@streams\[:([a-z_][\w]*)\]|assigns\.streams\.([a-z_][\w]*[?!]?))"
)
_STREAM_COLLECTION = re.compile(r"(?:@streams\.([a-z_]\w*[?!]?)|@streams\[:([a-z_]\w*)\]|assigns\.streams\.([a-z_]\w*[?!]?))")


def templates(ctx) -> list[Template]:
    return heex.templates_of(ctx.document)


def ref_name(match: re.Match) -> str:
    return (match.group(1) or match.group(2) or match.group(3)).decode()


@dataclass
class StreamGenerator:
    """`{id, item} <- @streams.NAME` as the first generator of a :for or an EEx `for`."""

    name: str
    node: HNode  # the element carrying :for, or the eex_block
    pattern: ts.Node  # the left side of `<-`
    collection: ts.Node  # the right side
    attribute: heex.Attribute | None  # the :for attribute (None for EEx blocks)

    @property
    def is_tuple(self) -> bool:
        return self.pattern.type == "tuple" and len(self.pattern.named_children) == 2

    @property
    def dom_id_var(self) -> ts.Node | None:
        if not self.is_tuple:
            return None
        first = self.pattern.named_children[0]
        return first if first.type == "identifier" else None


def first_generator(data: bytes, start: int, end: int) -> tuple[ts.Node, ts.Node] | None:
    """(pattern, collection) of the first `pattern <- collection` in a comprehension's code."""
    first = heex.split_top_level(data, start, end)[0]
    root = heex.parse_code(data, *first)
    if root is None or root.has_error or len(root.named_children) != 1:
        return None
    node = root.named_children[0]
    if node.type != "binary_operator" or text(node.child_by_field_name("operator")) != "<-":
        return None
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    if left is None or right is None:
        return None
    return left, right


def generator_of(template: Template, node: HNode) -> tuple[ts.Node, ts.Node, heex.Attribute | None] | None:
    data = template.data
    if node.is_element:
        attribute = node.attr(":for")
        if attribute is None or attribute.kind != "expr":
            return None
        found = first_generator(data, attribute.value_start, attribute.value_end)
        return (*found, attribute) if found else None
    if node.kind == "eex_block":
        start, end = heex.head_code(data, node)
        match = re.match(rb"for\s", data[start:end])
        if match is None:
            return None
        found = first_generator(data, start + match.end(), end)
        return (*found, None) if found else None
    return None


def stream_generator(template: Template, node: HNode) -> StreamGenerator | None:
    found = generator_of(template, node)
    if found is None:
        return None
    pattern, collection, attribute = found
    match = _STREAM_COLLECTION.fullmatch(text(collection))
    if match is None:
        return None
    name = match.group(1) or match.group(2) or match.group(3)
    return StreamGenerator(name, node, pattern, collection, attribute)


def stream_generators(template: Template) -> Iterator[StreamGenerator]:
    for node in template.nodes():
        if node.is_element or node.kind == "eex_block":
            generator = stream_generator(template, node)
            if generator is not None:
                yield generator


def dom_parent(node: HNode) -> HNode | None:
    """The nearest real tag above `node` (EEx blocks create no element). None when the nearest
    element is a component or slot, or when the node is at the template's root (unknown)."""
    for ancestor in node.ancestors():
        if ancestor.kind == "eex_block":
            continue
        if ancestor.kind == "tag":
            return ancestor
        return None
    return None


def stream_items(generator: StreamGenerator) -> list[HNode]:
    """The elements each stream entry renders as: the :for element, or an EEx block's elements."""
    if generator.node.is_element:
        return [generator.node]
    return generator.node.element_children()


# -- Elixir side ----------------------------------------------------------------------------

STREAM_INIT = ("stream", "stream_async")
LV_MODULES = (None, "Phoenix.LiveView")


def local_or_lv(call: ts.Node, *names: str) -> bool:
    module, function = call_name(call)
    return function in names and module in LV_MODULES


def name_literal(node: ts.Node | None) -> str | None:
    """A stream name written as an atom or a plain string."""
    if node is None:
        return None
    if node.type in ("atom", "quoted_atom"):
        return atom_value(node)
    return string_value(node)


_CALLS = declared_query("(call) @call")


def module_calls(node: ts.Node) -> list[ts.Node]:
    """Every call under `node`, in document order (a tree-sitter query: walking every node in
    Python costs several times more on large modules)."""
    calls = ts.QueryCursor(cached_query(_CALLS)).captures(node).get("call", [])
    return sorted(calls, key=lambda call: call.start_byte)


@dataclass
class StreamFacts:
    initialised: set[str]
    unknown: bool  # a stream name that is not a literal, or an on_mount hook


# The calls module_stream_facts reads (any others it would only name and pass over).
_STREAM_SETUP_CALLS = declared_query(f"""
((call target: (identifier) @_name) @call (#any-of? @_name "on_mount" {" ".join(f'"{name}"' for name in STREAM_INIT)}))
((call target: (dot right: (identifier) @_name)) @call (#any-of? @_name {" ".join(f'"{name}"' for name in STREAM_INIT)}))
""")


def module_stream_facts(module_node: ts.Node) -> StreamFacts:
    initialised: set[str] = set()
    unknown = False
    source = module_node.text or b""
    if b"stream" not in source and b"on_mount" not in source:  # none of the calls read below
        return StreamFacts(initialised, unknown)
    calls = ts.QueryCursor(cached_query(_STREAM_SETUP_CALLS)).captures(module_node).get("call", [])
    for node in sorted(calls, key=lambda call: call.start_byte):
        module, function = call_name(node)
        if module is None and function == "on_mount":
            unknown = True
        if function in STREAM_INIT and module in LV_MODULES:
            args = effective_arguments(node)
            if len(args) < 2:
                continue
            name = name_literal(args[1])
            if name is None:
                unknown = True
            else:
                initialised.add(name)
    return StreamFacts(initialised, unknown)


def socket_passed_to(module_node: ts.Node, info) -> set[str]:
    """Full names of other modules whose functions receive the socket (`Mod.f(socket, ...)`)."""
    out = set()
    if b"socket" not in (module_node.text or b""):  # no argument named socket
        return out
    for node in module_calls(module_node):
        module, _function = call_name(node)
        if module is None or module.startswith(":") or module == "<expr>":
            continue
        if any(arg.type == "identifier" and text(arg) == "socket" for arg in effective_arguments(node)):
            out.add(info.resolve_alias(module))
    return out


def imported_modules(module_node: ts.Node, info) -> set[str]:
    out = set()
    if b"import" not in (module_node.text or b""):
        return out
    for node in module_calls(module_node):
        if call_name(node) == (None, "import"):
            args = [c for c in node.named_children if c.type == "arguments"]
            if args and args[0].named_children and args[0].named_children[0].type == "alias":
                out.add(info.resolve_alias(text(args[0].named_children[0])))
    return out


def colocated_module_path(template_path: str) -> str | None:
    """foo_live.html.heex -> foo_live.ex in the same folder."""
    path = PurePosixPath(template_path)
    if not path.name.endswith(".html.heex"):
        return None
    return str(path.with_name(path.name[: -len(".html.heex")] + ".ex"))


def colocated_template_path(module_path: str) -> str:
    path = PurePosixPath(module_path)
    return str(path.with_name(path.stem + ".html.heex"))


def in_function(node: ts.Node, name: str, arity: int | None = None) -> bool:
    definition = enclosing_def(node)
    fdef = function_def(definition) if definition is not None else None
    return fdef is not None and fdef.name == name and (arity is None or fdef.arity == arity)


# -- where templates are rendered ------------------------------------------------------------

LIVE_RENDERED_KINDS = ("live_view", "live_component")


def _use_flavour(use) -> str | None:
    return atom_value(use.options) if use.options is not None and use.options.type == "atom" else None


def is_dead_view_module(module, folders: tuple[str, ...] = ()) -> bool:
    """A module whose templates only controllers render: `use Phoenix.View` or
    `use MyAppWeb, :view`, or a Phoenix 1.7 controller HTML module (`PageHTML` in
    `controllers/`, which `use MyAppWeb, :html` and `embed_templates` beside its controller)."""
    if module is None:
        return False
    if module.kind in LIVE_RENDERED_KINDS:
        return False
    for use in module.uses:
        if use.module == "Phoenix.View":
            return True
        flavour = _use_flavour(use)
        if use.module.endswith("Web") and flavour is not None and (flavour == "view" or flavour.endswith("_view")):
            return True
    return "controllers" in folders and bool(module.name) and module.name.endswith("HTML") \
        and module.name.rsplit(".", 1)[-1] != "HTML"


def rendered_without_change_tracking(ctx, module=None) -> bool:
    """Whether a template here is rendered only outside LiveView, where nothing is change
    tracked: Phoenix.View templates (`lib/*/templates/`), controller HTML modules and the
    templates they embed (`controllers/page_html/`), the root layout (rendered once, with the
    dead render, and never diffed), and function components that only such code uses.
    LiveViews, LiveComponents and their colocated templates are change tracked; so are other
    function components (callers unknown: assume a LiveView renders them)."""
    if module is not None and module.kind in LIVE_RENDERED_KINDS:
        return False
    parts = ctx.path.parts
    folders = parts[:-1]
    if module is not None and is_dead_view_module(module, folders):
        return True
    is_template_file = ctx.document.language == "heex"
    if is_template_file and _colocated_live_module(ctx):
        return False
    if _dead_path(parts, is_template_file):
        return True
    if module is not None and module.kind == "component" and module.name and ctx.workspace is not None:
        return module.name in dead_components(ctx.workspace)
    return False


def _dead_path(parts: tuple[str, ...], is_template_file: bool) -> bool:
    folders, name = parts[:-1], (parts[-1] if parts else "")
    if is_template_file and (name.startswith("root.") or name == "root.html.leex"):
        return True  # the root layout: rendered by the dead render only
    if "templates" in folders:
        # Phoenix.View's folder. Its layout/live.html.* is the LiveViews' layout (Phoenix <= 1.6).
        return not (is_template_file and folders[-1:] == ("layout",) and name.startswith("live."))
    return is_template_file and "controllers" in folders and folders[-1].endswith("_html")


# -- which function components only dead views use ----------------------------------------------

# Module names as written (`Home`, `MyAppWeb.Components.Home`); a loose pattern is cheap on
# whole files, and a word it takes for a module name can only make a component look used.
_MODULE_TOKEN = re.compile(rb"[A-Z][A-Za-z0-9_.]*")
_ROLE_ORDER = ("live", "other", "component", "dead")


def extract_render_role(document, path) -> tuple:
    """(role, component modules defined here, module names mentioned here) of one file.

    The role says who renders what this file holds: "live" (a LiveView or LiveComponent, or a
    template beside one), "dead" (a Phoenix.View or controller HTML module, a template under
    templates/ or a controller's *_html/ folder), "component" (function components) or "other"
    (anything else, such as the web module whose quoted `html_helpers` every view imports).
    Mentions are read from the text: `import`, `alias` and remote calls all name the module."""
    parts = path.parts
    is_template_file = document.language == "heex"
    components: list[str] = []
    if is_template_file:
        role = "dead" if _dead_path(parts, True) else "live"
    else:
        if document.tree is None:
            return ()
        roles = set()
        for module_node, full in defmodules(document.tree.root_node):
            info = read_module_info(document, module_node)
            if info.kind in LIVE_RENDERED_KINDS:
                roles.add("live")
            elif is_dead_view_module(info, parts[:-1]) or _dead_path(parts, False):
                roles.add("dead")
            elif info.kind == "component":
                roles.add("component")
                if full:
                    components.append(full)
            else:
                roles.add("other")
        if not roles:
            return ()
        role = next(r for r in _ROLE_ORDER if r in roles)
    mentioned = {m.rstrip(b".").decode() for m in set(_MODULE_TOKEN.findall(document.data))}
    return role, tuple(sorted(components)), tuple(sorted(mentioned - set(components)))


def dead_components(workspace) -> frozenset:
    return workspace.derived("lv_dead_components", _dead_components)


def _dead_components(index) -> frozenset:
    """Component modules every mention of which is in dead code (a dead view or template, or
    another such component). Unmentioned components are unknown, not dead."""
    files = [(path, fact) for path, fact in index.facts("lv_render_roles") if fact]
    components = {name: path for path, (_role, defined, _mentioned) in files for name in defined}
    if not components:
        return frozenset()
    by_token: dict[str, set[str]] = {}
    for name in components:
        pieces = name.split(".")
        for start in range(len(pieces)):
            by_token.setdefault(".".join(pieces[start:]), set()).add(name)
    referrers: dict[str, list[tuple[str, str, tuple]]] = {name: [] for name in components}
    for path, (role, defined, mentioned) in files:
        for token in mentioned:
            for name in by_token.get(token, ()):
                if components[name] != path:
                    referrers[name].append((path, role, defined))
    dead: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, refs in referrers.items():
            if name in dead or not refs:
                continue
            if all(role == "dead" or (role == "component" and defined and all(d in dead for d in defined))
                   for _path, role, defined in refs):
                dead.add(name)
                changed = True
    return frozenset(dead)


FACTS = {"lv_render_roles": extract_render_role}


def _colocated_live_module(ctx) -> bool:
    if ctx.workspace is None:
        return False
    module_path = colocated_module_path(ctx.document.path)
    if module_path is None:
        return False
    records = ctx.workspace.fact(module_path, "modules") or ()
    return any(kind in LIVE_RENDERED_KINDS for record in records for kind in record.kinds)


def variable_references(root: ts.Node) -> Iterator[ts.Node]:
    """Identifiers in Elixir code that read a variable: not a function name (`icon(...)`,
    `&icon/1`), not a field or function after a dot (`item.name`, `@struct.name`), not an
    assign (`@name`)."""
    for node in walk(root):
        if node.type != "identifier":
            continue
        parent = node.parent
        if parent is None:
            yield node
            continue
        if parent.type == "call" and parent.child_by_field_name("target") == node:
            continue  # icon(...)
        if parent.type == "dot" and parent.child_by_field_name("right") == node:
            continue  # item.name, @struct.name, Mod.fun
        if parent.type == "unary_operator" and text(parent.child_by_field_name("operator")) == "@":
            continue  # @name
        if parent.type == "binary_operator" and text(parent.child_by_field_name("operator")) == "/" \
                and parent.child_by_field_name("left") == node and parent.parent is not None \
                and parent.parent.type == "unary_operator" and text(parent.parent.child_by_field_name("operator")) == "&":
            continue  # &name/1
        yield node


def callback_clauses(ctx, kinds: tuple[str, ...], callbacks) -> Iterator[tuple[object, object]]:
    """(module info, FunctionDef) for each intact `def` clause of the given callbacks
    ((name, arity) pairs) in the document's modules of the given kinds.

    Read from the whole document rather than per form, so a half-typed member elsewhere in
    the module (the user is typing) hides only itself: the other clauses are still checked.
    """
    tree = ctx.document.tree
    if tree is None:
        return
    for module_node, _name in defmodules(tree.root_node):
        if module_node.has_error and do_block(module_node) is None:
            continue
        module = ctx.module_of(module_node)
        if module is None or module.kind not in kinds:
            continue
        for member in module_members(module_node):
            if member.type != "call" or member.has_error:
                continue
            fdef = function_def(member)
            if fdef is None or fdef.kind != "def" or fdef.body is None:
                continue
            if (fdef.name, fdef.arity) in callbacks:
                yield module, fdef


def intact_definitions(module, name: str, arity: int) -> list:
    """The module's clauses of a local function, unless one of them is being typed (unknown)."""
    definitions = module.definitions(name, arity)
    if any(d.node.has_error for d in definitions):
        return []
    return definitions
