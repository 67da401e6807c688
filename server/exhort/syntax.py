"""Reading Elixir syntax trees: the primitives rules share.

Everything here works on tree-sitter-elixir nodes and answers questions by syntax alone.
When a question cannot be answered from syntax (a variable, a function call, a module
attribute), the helpers say so (None / False) and rules stay silent: unknown never fires.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterator

import tree_sitter as ts

Node = ts.Node

DEF_KINDS = frozenset({"def", "defp", "defmacro", "defmacrop", "defguard", "defguardp", "defdelegate"})
PUBLIC_DEF_KINDS = frozenset({"def", "defmacro", "defguard", "defdelegate"})
BLOCK_CONSTRUCTS = frozenset({"if", "unless", "case", "cond", "with", "try", "receive", "for"})

# -- text and simple shapes -------------------------------------------------------------


def text(node: Node | None) -> str:
    if node is None:
        return ""
    return (node.text or b"").decode("utf-8", errors="replace")


def call_target(call: Node) -> Node | None:
    return call.child_by_field_name("target")


def arguments_node(call: Node) -> Node | None:
    for child in call.named_children:
        if child.type == "arguments":
            return child
    return None


def call_arguments(call: Node) -> list[Node]:
    """Positional and keyword arguments of a call, comments dropped. Keywords come last."""
    args = arguments_node(call)
    if args is None:
        return []
    return [child for child in args.named_children if child.type != "comment"]


def do_block(call: Node) -> Node | None:
    for child in call.named_children:
        if child.type == "do_block":
            return child
    return None


def block_body(block: Node | None) -> list[Node]:
    """Expressions of a do_block (or stab body), without comments and else/after/rescue parts."""
    if block is None:
        return []
    out = []
    for child in block.named_children:
        if child.type in ("comment", "else_block", "after_block", "rescue_block", "catch_block"):
            continue
        out.append(child)
    return out


def call_name(call: Node) -> tuple[str | None, str | None]:
    """(module, function) of a call: ("String", "to_atom"), (None, "length"), (":erlang", "hd").

    The module is the alias or atom text exactly as written; resolve aliases with
    ModuleInfo.resolve_alias. Calls on variables (`mod.fun()`) give ("<expr>", "fun").
    """
    if call.type != "call":
        return None, None
    target = call_target(call)
    if target is None:
        return None, None
    if target.type == "identifier":
        return None, text(target)
    if target.type == "dot":
        left = target.child_by_field_name("left")
        right = target.child_by_field_name("right")
        if right is None or right.type != "identifier":
            return None, None
        if left is not None and left.type in ("alias", "atom"):
            return text(left), text(right)
        return "<expr>", text(right)
    return None, None


def is_call_to(call: Node, module: str | None, *functions: str) -> bool:
    mod, fun = call_name(call)
    return mod == module and fun in functions


def keyword_key(pair: Node) -> str | None:
    """The key of a keyword pair without its colon: `max_attempts: 3` -> "max_attempts"."""
    key = pair.child_by_field_name("key")
    if key is None:
        return None
    if key.type == "keyword":
        return text(key).rstrip().rstrip(":")
    if key.type == "quoted_keyword":
        parts = [c for c in key.named_children if c.type != "quoted_content"]
        if parts:  # interpolated key: unknown
            return None
        content = next((c for c in key.named_children if c.type == "quoted_content"), None)
        return text(content)
    return None


def keyword_pairs(node: Node | None) -> list[tuple[str | None, Node, Node]]:
    """(key, value, pair) for a `keywords` node or a literal keyword `list`."""
    if node is None:
        return []
    if node.type == "list":
        inner = [c for c in node.named_children if c.type != "comment"]
        if len(inner) == 1 and inner[0].type == "keywords":
            node = inner[0]
        else:
            return []
    if node.type != "keywords":
        return []
    out = []
    for pair in node.named_children:
        if pair.type != "pair":
            continue
        value = pair.child_by_field_name("value")
        if value is not None:
            out.append((keyword_key(pair), value, pair))
    return out


def trailing_keywords(call: Node) -> Node | None:
    """The `keywords` node written as the last argument of a call (`f(a, k: v)`), if any."""
    args = call_arguments(call)
    if args and args[-1].type == "keywords":
        return args[-1]
    return None


def atom_value(node: Node | None) -> str | None:
    """`:foo` -> "foo"; `:"foo bar"` -> "foo bar"; interpolated or non-atoms -> None."""
    if node is None:
        return None
    if node.type == "atom":
        return text(node)[1:]
    if node.type == "quoted_atom":
        if any(c.type == "interpolation" for c in node.named_children):
            return None
        content = next((c for c in node.named_children if c.type == "quoted_content"), None)
        return text(content)
    if node.type == "boolean":
        return text(node)
    if node.type == "nil":
        return "nil"
    return None


def string_value(node: Node | None) -> str | None:
    """Content of a plain string literal without interpolation, else None."""
    if node is None or node.type != "string":
        return None
    if any(c.type == "interpolation" for c in node.named_children):
        return None
    return "".join(text(c) for c in node.named_children if c.type in ("quoted_content", "escape_sequence"))


def integer_value(node: Node | None) -> int | None:
    if node is None:
        return None
    if node.type == "integer":
        try:
            return int(text(node).replace("_", ""), 0)
        except ValueError:
            return None
    if node.type == "unary_operator":
        operand = node.child_by_field_name("operand")
        op = node.child_by_field_name("operator")
        if op is not None and text(op) == "-":
            value = integer_value(operand)
            return -value if value is not None else None
    return None


LITERAL_LEAVES = frozenset(
    {"atom", "quoted_atom", "integer", "float", "boolean", "nil", "char", "alias", "keyword", "quoted_keyword"}
)


def is_literal(node: Node | None) -> bool:
    """Catalog 0.4.1: atoms, numbers, strings and lists/tuples/maps of literals."""
    if node is None:
        return False
    kind = node.type
    if kind in ("atom", "integer", "float", "boolean", "nil", "char", "alias"):
        return True
    if kind in ("string", "charlist", "quoted_atom"):
        return not any(c.type == "interpolation" for c in node.named_children)
    if kind == "unary_operator":
        op = node.child_by_field_name("operator")
        return op is not None and text(op) in ("-", "+") and is_literal(node.child_by_field_name("operand"))
    if kind in ("list", "tuple", "keywords", "map_content"):
        return all(is_literal(c) for c in node.named_children if c.type != "comment")
    if kind == "map":
        return all(is_literal(c) for c in node.named_children if c.type not in ("comment", "struct"))
    if kind == "pair":
        key = node.child_by_field_name("key")
        return (key is None or key.type == "keyword" or is_literal(key)) and is_literal(
            node.child_by_field_name("value")
        )
    if kind == "binary_operator":
        op = node.child_by_field_name("operator")
        if op is not None and text(op) == "=>":
            return is_literal(node.child_by_field_name("left")) and is_literal(node.child_by_field_name("right"))
    return False


# -- navigation --------------------------------------------------------------------------


def ancestors(node: Node) -> Iterator[Node]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def enclosing_call(node: Node, *names: str) -> Node | None:
    """Nearest ancestor call whose local target is one of `names` (e.g. "def", "quote")."""
    for parent in ancestors(node):
        if parent.type == "call":
            target = call_target(parent)
            if target is not None and target.type == "identifier" and text(target) in names:
                return parent
    return None


def enclosing_def(node: Node) -> Node | None:
    return enclosing_call(node, *DEF_KINDS)


def enclosing_module(node: Node) -> Node | None:
    return enclosing_call(node, "defmodule")


def walk(node: Node) -> Iterator[Node]:
    """Every named descendant of `node` (itself included), in document order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.named_children))


def pipe_source(node: Node) -> Node | None:
    """For a call that is the right side of `|>`, the expression piped into it."""
    parent = node.parent
    if parent is not None and parent.type == "binary_operator":
        op = parent.child_by_field_name("operator")
        if op is not None and text(op) == "|>" and parent.child_by_field_name("right") == node:
            return parent.child_by_field_name("left")
    return None


def effective_arguments(call: Node) -> list[Node]:
    """Arguments of a call with the piped-in value first (`x |> f(y)` -> [x, y])."""
    args = call_arguments(call)
    source = pipe_source(call)
    return [source, *args] if source is not None else args


# -- function definitions ----------------------------------------------------------------


class FunctionDef:
    """A definition read by function_def. ModuleInfo.functions makes them knowing only kind,
    name and arity (remembered by the member's bytes): the other parts are read from the node
    when first asked for, since most checks only look definitions up by name."""

    __slots__ = ("kind", "name", "arity", "node", "head", "params", "guard", "body")
    kind: str  # def, defp, defmacro, ...
    name: str
    arity: int
    node: Node  # the whole `def ...` call
    head: Node  # `name(args)` call, or identifier for zero-arity without parens
    params: tuple[Node, ...]
    guard: Node | None
    body: Node | None  # do_block, or the `do:` keyword value

    def __init__(self, kind: str, name: str, arity: int, node: Node, *parts) -> None:
        self.kind, self.name, self.arity, self.node = kind, name, arity, node
        if parts:
            self.head, self.params, self.guard, self.body = parts

    def __getattr__(self, attribute: str):  # called only for a part not read yet
        if attribute not in ("head", "params", "guard", "body"):
            raise AttributeError(attribute)
        full = function_def(self.node)
        assert full is not None and (full.kind, full.name, full.arity) == (self.kind, self.name, self.arity)
        self.head, self.params, self.guard, self.body = full.head, full.params, full.guard, full.body
        return getattr(self, attribute)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FunctionDef) and (self.kind, self.name, self.arity, self.node) == (
            other.kind, other.name, other.arity, other.node)

    def __hash__(self) -> int:
        return hash((self.name, self.arity, self.node.start_byte, self.node.end_byte))

    def __repr__(self) -> str:
        return f"FunctionDef({self.kind} {self.name}/{self.arity} at {self.node.start_byte})"


# (has_error, bytes) of a module member -> its (kind, name, arity), or None when it is no
# complete definition: the same bytes read the same, so a keystroke reads again only the
# definition it changed. Bounded: emptied when full.
_DEFINITION_NAMES: dict[tuple[bool, bytes], tuple[str, str, int] | None] = {}
_DEFINITION_NAMES_LIMIT = 65536


def named_definition(member: Node) -> FunctionDef | None:
    """function_def for a module member, with its parts read when first asked for."""
    key = (member.has_error, member.text)
    names = _DEFINITION_NAMES.get(key, False)
    if names is False:
        fdef = function_def(member)
        if len(_DEFINITION_NAMES) >= _DEFINITION_NAMES_LIMIT:
            _DEFINITION_NAMES.clear()
        _DEFINITION_NAMES[key] = (fdef.kind, fdef.name, fdef.arity) if fdef is not None else None
        return fdef
    return FunctionDef(*names, member) if names is not None else None


def function_def(node: Node) -> FunctionDef | None:
    """Read a `def`/`defp`/... call; None if it is not a (complete) definition."""
    if node.type != "call":
        return None
    target = call_target(node)
    if target is None or target.type != "identifier" or text(target) not in DEF_KINDS:
        return None
    kind = text(target)
    args = call_arguments(node)
    if not args:
        return None
    head = args[0]
    guard = None
    if head.type == "binary_operator":
        op = head.child_by_field_name("operator")
        if op is None or text(op) != "when":
            return None
        guard = head.child_by_field_name("right")
        head = head.child_by_field_name("left")
        if head is None:
            return None
    if head.type == "identifier":
        name, params = text(head), ()
    elif head.type == "call":
        fname = call_target(head)
        if fname is None or fname.type != "identifier":
            return None
        name = text(fname)
        params = tuple(call_arguments(head))
    else:
        return None
    body = do_block(node)
    if body is None:
        for key, value, _ in keyword_pairs(trailing_keywords(node)):
            if key == "do":
                body = value
    return FunctionDef(kind, name, len(params), node, head, params, guard, body)


def is_definition_head(call: Node) -> bool:
    """`name(args)` written as the head of `def name(args)` (or under its `when` guard): a
    definition, not a call (`def spawn(fun)` defines spawn/1, it does not call it)."""
    parent = call.parent
    if parent is not None and parent.type == "binary_operator":  # def name(x) when guard
        parent = parent.parent
    if parent is None or parent.type != "arguments":
        return False
    definition = parent.parent
    if definition is None or definition.type != "call":
        return False
    target = call_target(definition)
    return target is not None and target.type == "identifier" and text(target) in DEF_KINDS


def enclosing_function(node: Node) -> FunctionDef | None:
    """The definition (`def`, `defp`, ...) that `node` is written in, read as a FunctionDef."""
    definition = enclosing_def(node)
    return function_def(definition) if definition is not None else None


def arity_range(fdef: FunctionDef) -> range:
    """Arities a definition accepts, counting `\\\\` default arguments."""
    defaults = 0
    for param in fdef.params:
        if param.type == "binary_operator":
            op = param.child_by_field_name("operator")
            if op is not None and text(op) == "\\\\":
                defaults += 1
    return range(fdef.arity - defaults, fdef.arity + 1)


def tails(expression: Node | None) -> Iterator[Node]:
    """Catalog 0.4.3: the last expressions a body can evaluate to, through if/case/cond/with/try.

    A do_block yields the tails of its last expression. Branch constructs yield the tails of
    every branch. Anything else is a tail itself.
    """
    if expression is None:
        return
    kind = expression.type
    if kind in ("do_block", "body", "else_block", "after_block", "rescue_block", "catch_block"):
        stabs = [c for c in expression.named_children if c.type == "stab_clause"]
        if stabs:
            for stab in stabs:
                yield from tails(stab.child_by_field_name("right"))
            return
        items = [c for c in expression.named_children if c.type != "comment"]
        if kind == "do_block":
            items = block_body(expression)
        if items:
            yield from tails(items[-1])
        return
    if kind == "block":  # parenthesised (a; b)
        items = [c for c in expression.named_children if c.type != "comment"]
        if items:
            yield from tails(items[-1])
        return
    if kind == "call":
        target = call_target(expression)
        construct = text(target) if target is not None and target.type == "identifier" else None
        if construct in ("if", "unless", "case", "cond", "with", "try", "receive"):
            block = do_block(expression)
            if block is not None:
                yield from tails(block)
                for part in block.named_children:
                    if part.type in ("else_block", "rescue_block", "catch_block"):
                        yield from tails(part)
                if construct in ("if", "unless") and not any(
                    p.type == "else_block" for p in block.named_children
                ):
                    yield _IMPLICIT_NIL(expression)
                return
            # keyword form: if c, do: a, else: b
            for key, value, _ in keyword_pairs(trailing_keywords(expression)):
                if key in ("do", "else"):
                    yield from tails(value)
            return
    yield expression


class _ImplicitNil:
    """Marker node for the nil an `if` without `else` returns; rules treat it as a tail value."""

    type = "implicit_nil"

    def __init__(self, node: Node) -> None:
        self.node = node
        self.start_byte = node.start_byte
        self.end_byte = node.end_byte


def _IMPLICIT_NIL(node: Node) -> Node:  # noqa: N802 - reads like a constructor
    return _ImplicitNil(node)  # type: ignore[return-value]


# -- modules -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UseDecl:
    module: str  # as written, aliases resolved where the module aliased it
    options: Node | None  # the `keywords` node or the second argument
    node: Node


@dataclass
class ModuleInfo:
    """The header facts of a module: name, use/alias/import lines and function signatures."""

    name: str | None
    node: Node
    uses: list[UseDecl] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    behaviours: list[str] = field(default_factory=list)
    # The definitions are read when first asked for: most checks only resolve aliases, and
    # reading every definition of a big module on each keystroke would cost more than they do.
    _definitions: list[Node] = field(default_factory=list, repr=False, compare=False)
    _functions: dict[tuple[str, int], list[FunctionDef]] | None = field(default=None, repr=False, compare=False)

    @property
    def functions(self) -> dict[tuple[str, int], list[FunctionDef]]:
        if self._functions is None:
            functions: dict[tuple[str, int], list[FunctionDef]] = {}
            for member in self._definitions:
                fdef = named_definition(member)
                if fdef is not None:
                    functions.setdefault((fdef.name, fdef.arity), []).append(fdef)
            self._functions = functions
        return self._functions

    def resolve_alias(self, name: str) -> str:
        """`Bar.Baz` -> `Foo.Bar.Baz` when the module wrote `alias Foo.Bar`."""
        if name == "__MODULE__" and self.name:
            return self.name
        head, _, rest = name.partition(".")
        full = self.aliases.get(head)
        if full is None:
            return name
        return f"{full}.{rest}" if rest else full

    def uses_module(self, *modules: str) -> UseDecl | None:
        for use in self.uses:
            if use.module in modules:
                return use
        return None

    def defines(self, name: str, arity: int) -> bool:
        return any(arity in arity_range(f) for defs in self.functions.values() for f in defs if f.name == name)

    def definitions(self, name: str, arity: int | None = None) -> list[FunctionDef]:
        return [
            f
            for (n, a), defs in self.functions.items()
            if n == name and (arity is None or a == arity)
            for f in defs
        ]

    @property
    def kind(self) -> str | None:
        """Catalog 0.4.2: otp / oban_worker / live_view / live_component / component / migration."""
        for use in self.uses:
            kind = use_kind(use)
            if kind is not None:
                return kind
        return None


OTP_USES = {
    "GenServer": "genserver",
    "Supervisor": "supervisor",
    "DynamicSupervisor": "dynamic_supervisor",
    "Agent": "agent",
    "Task": "task",
}


def use_kind(use: UseDecl) -> str | None:
    module = use.module
    if module in OTP_USES:
        return OTP_USES[module]
    if module == "Oban.Worker":
        return "oban_worker"
    if module == "Phoenix.LiveView":
        return "live_view"
    if module == "Phoenix.LiveComponent":
        return "live_component"
    if module == "Phoenix.Component":
        return "component"
    if module == "Ecto.Migration":
        return "migration"
    if module.endswith("Web") and use.options is not None:
        flavour = atom_value(use.options)
        return {
            "live_view": "live_view",
            "live_component": "live_component",
            "html": "component",
            "component": "component",
        }.get(flavour or "")
    return None


def module_members(module: Node) -> list[Node]:
    """The expressions directly inside `defmodule ... do ... end`.

    In a file being typed, a definition left unfinished (`x =` or `x |>` before its `end`)
    takes the next `end` as an operand, and the definitions that follow parse as its body.
    A definition can never be written inside a function body, so those are read back as
    members of the module, and the unfinished definition that swallowed them is dropped
    (unknown: the user is typing it).
    """
    members = block_body(do_block(module))
    # Swallowing leaves some block without its `end`, so only a module with an error is read
    # again: a well-formed file costs nothing more.
    return _recovered(members) if module.has_error else members


def unfinished_definitions(module: Node) -> list[Node]:
    """The definitions of a module being typed that cannot be read: those with a syntax error
    and those that swallowed the definitions after them (module_members leaves them out). A
    rule that concludes from the absence of a clause stays silent when one of these might be it."""
    if not module.has_error:
        return []
    found = []
    members = block_body(do_block(module))
    while members:
        found.extend(m for m in members if _is_definition(m) and m.has_error)
        last = next((m for m in reversed(members) if _is_definition(m)), None)
        swallowed = _swallowed_members(last) if last is not None else []
        if not swallowed:
            break
        found.append(last)
        members = swallowed
    return found


def _recovered(members: list[Node]) -> list[Node]:
    # The definition that swallowed the others runs to the `end` meant for the module: it is
    # the last definition (what follows it in the file, such as another module, stays after).
    last = next((index for index in range(len(members) - 1, -1, -1) if _is_definition(members[index])), None)
    swallowed = _swallowed_members(members[last]) if last is not None else []
    if not swallowed:
        return members
    return members[:last] + _recovered(swallowed) + members[last + 1 :]


def _swallowed_members(member: Node) -> list[Node]:
    """The module members a definition's body holds (from its first nested definition, with
    the attributes written just before it), or [] for a well-formed definition."""
    if member.type != "call" or call_name(member)[1] not in DEF_KINDS or call_name(member)[0] is not None:
        return []
    body = block_body(do_block(member))
    first = next((index for index, node in enumerate(body) if _is_definition(node)), None)
    if first is None:
        return []
    while first > 0 and _is_attribute_write(body[first - 1]):
        first -= 1
    # Only what can be read as a member: other leftovers of the breakage stay unknown.
    return [node for node in body[first:] if _is_definition(node) or _is_attribute_write(node)]


def _is_definition(node: Node) -> bool:
    if node.type != "call":
        return False
    target = call_target(node)
    return target is not None and target.type == "identifier" and text(target) in DEF_KINDS and bool(call_arguments(node))


def _is_attribute_write(node: Node) -> bool:
    """`@impl true`, `@doc "..."`: a module attribute given a value."""
    if node.type != "unary_operator" or text(node.child_by_field_name("operator")) != "@":
        return False
    operand = node.child_by_field_name("operand")
    return operand is not None and operand.type == "call" and bool(call_arguments(operand))


def module_name(module: Node) -> str | None:
    args = call_arguments(module)
    if args and args[0].type == "alias":
        return text(args[0])
    return None


def is_defmodule(node: Node) -> bool:
    return node.type == "call" and call_name(node) == (None, "defmodule")


def defmodules(root: Node) -> Iterator[tuple[Node, str | None]]:
    """Every module a file defines, in document order: the top-level `defmodule`s and those
    written directly in a module body, each with its full name (`Outer.Inner`).

    The full name is None when the module, or one it is nested in, is not named by a literal
    alias (`defmodule unquote(name)`): such a name cannot be known from syntax.
    """

    def visit(module: Node, outer: str | None) -> Iterator[tuple[Node, str | None]]:
        name = module_name(module)
        full = None if name is None or outer is None else (f"{outer}.{name}" if outer else name)
        yield module, full
        for member in module_members(module):
            if is_defmodule(member):
                yield from visit(member, full)

    for form in root.named_children:
        if is_defmodule(form):
            yield from visit(form, "")


def full_module_name(module: Node) -> str | None:
    """The full name of a (possibly nested) `defmodule` call; None when a part is not an alias."""
    name = module_name(module)
    if name is None:
        return None
    parts = [name]
    for parent in ancestors(module):
        if is_defmodule(parent):
            outer = module_name(parent)
            if outer is None:
                return None
            parts.append(outer)
    return ".".join(reversed(parts))


def read_module(module: Node, members: list[Node] | None = None, texts: list[bytes] | None = None) -> ModuleInfo:
    """The header facts of a module. `texts`, the members' bytes when the caller has them,
    lets a member read as a definition before be taken as one without reading it again."""
    info = ModuleInfo(module_name(module), module)
    members = members if members is not None else module_members(module)
    if texts is None:
        for member in members:
            _read_member(info, member)
        return info
    named = _DEFINITION_NAMES  # filled by member_signature as the engine reads the members
    for member, member_text in zip(members, texts):
        if member_text[:1] == b"@" and not member_text.startswith(b"@behaviour"):
            continue  # a @doc, @spec, @impl...: no header fact
        if named.get((False, member_text)) and not member.has_error:
            info._definitions.append(member)
        else:
            _read_member(info, member)
    return info


def _read_member(info: ModuleInfo, member: Node) -> None:
    if member.type == "unary_operator":  # @behaviour X
        operand = member.child_by_field_name("operand")
        if operand is not None and operand.type == "call" and call_name(operand) == (None, "behaviour"):
            args = call_arguments(operand)
            if args and args[0].type == "alias":
                info.behaviours.append(info.resolve_alias(text(args[0])))
        return
    if member.type != "call":
        return
    # call_name, cut short: a module's members are mostly definitions
    target = member.child_by_field_name("target")
    if target is None or target.type != "identifier":
        return  # `Mod.fun(...)`: no header fact
    fun = text(target)
    if fun in DEF_KINDS:
        info._definitions.append(member)
        return
    args = call_arguments(member)
    if fun == "alias" and args:
        _read_alias(info, args)
    elif fun == "use" and args and args[0].type in ("alias", "atom"):
        name = info.resolve_alias(text(args[0]))
        options = args[1] if len(args) > 1 else None
        info.uses.append(UseDecl(name, options, member))


def _read_alias(info: ModuleInfo, args: list[Node]) -> None:
    first = args[0]
    if first.type == "alias":
        full = info.resolve_alias(text(first))
        short = full.rsplit(".", 1)[-1]
        for key, value, _ in keyword_pairs(args[1] if len(args) > 1 else None):
            if key == "as" and value.type == "alias":
                short = text(value)
        info.aliases[short] = full
    elif first.type == "dot":  # alias Foo.{Bar, Baz.Qux}
        base = first.child_by_field_name("left")
        group = first.child_by_field_name("right")
        if base is not None and base.type == "alias" and group is not None and group.type == "tuple":
            prefix = info.resolve_alias(text(base))
            for item in group.named_children:
                if item.type == "alias":
                    full = f"{prefix}.{text(item)}"
                    info.aliases[full.rsplit(".", 1)[-1]] = full


_COMPONENT_DECLARATIONS = frozenset({b"attr", b"slot"})


def member_signature(member: Node) -> bytes:
    """What a member contributes to its module's header facts (see ModuleInfo).

    Function definitions contribute only their kind, name and arity, so editing a function
    body leaves the module's header digest unchanged. A module attribute other than
    `@behaviour` contributes only its name: its value (a @doc, a @spec, a @type) is no header
    fact, and typing in a doc must not re-run every member's rules. So do Phoenix.Component's
    `attr` and `slot` declarations. Every other member contributes its text.
    """
    if member.type == "unary_operator":
        operand = member.child_by_field_name("operand")
        operator = member.child_by_field_name("operator")
        name = call_target(operand) if operand is not None and operand.type == "call" else operand
        if (operator is not None and operator.type == "@" and name is not None and name.type == "identifier"
                and name.text != b"behaviour"):
            return b"@" + (name.text or b"")
    if member.type == "call":
        target = call_target(member)
        if target is not None and target.type == "identifier" and text(target) in DEF_KINDS:
            fdef = named_definition(member)  # remembered: the rules reading the module ask again
            if fdef is not None:
                return f"{fdef.kind} {fdef.name}/{fdef.arity}".encode()
        if target is not None and target.type == "identifier" and target.text in _COMPONENT_DECLARATIONS:
            # Phoenix.Component's `attr`/`slot` lines describe the next function component and
            # are no header fact: typing in one must not re-run every member's rules.
            return target.text
    if member.type in ("call", "unary_operator"):
        return member.text or b""
    return b""


def header_digest(module: Node, members: list[Node]) -> bytes:
    return signatures_digest(
        module, [member_signature(member) for member in members], [member.text or b"" for member in members]
    )


def signatures_digest(module: Node, signatures: list[bytes], texts: list[bytes]) -> bytes:
    """The digest of a module's header facts, from its name and its members' signatures
    (`texts`: the members' own bytes, in the same order)."""
    # In a module that defines macros, whether a private helper runs at compile time depends
    # on who calls it (exhort.execution), so every member's text is part of the header.
    if any(signature.startswith(b"defmacro") for signature in signatures):
        signatures = texts
    name = module_name(module)
    digest = hashlib.blake2b(name.encode() if name else b"?", digest_size=16)
    digest.update(b"\0".join(signatures))
    digest.update(b"\0")
    return digest.digest()


def in_module_attribute(node: Node) -> bool:
    """Inside `@name value` (evaluated at compile time)."""
    for parent in ancestors(node):
        if parent.type == "unary_operator":
            op = parent.child_by_field_name("operator")
            if op is not None and text(op) == "@":
                return True
    return False


def runs_at_compile_time(node: Node) -> bool:
    """Catalog 0.4 guards: module attributes, quote/unquote, macro bodies and module-body code."""
    if in_module_attribute(node):
        return True
    if enclosing_call(node, "quote", "unquote", "defmacro", "defmacrop", "defguard", "defguardp") is not None:
        return True
    definition = enclosing_def(node)
    return definition is None and enclosing_module(node) is not None


def is_mix_task_module(module_name_text: str | None) -> bool:
    return bool(module_name_text) and (module_name_text == "Mix.Tasks" or module_name_text.startswith("Mix.Tasks."))


def needs_parentheses(node: Node) -> bool:
    """Would `node`'s text need parentheses to be used as an operand of a comparison?"""
    return node.type not in (
        "identifier", "call", "alias", "atom", "integer", "float", "string", "list", "tuple", "map",
        "unary_operator", "access_call", "charlist", "sigil", "block", "nil", "boolean",
    ) or (node.type == "unary_operator" and text(node.child_by_field_name("operator")) in ("not", "!"))
