"""Where a value comes from: known provenance for rules about untrusted input.

Rules about input (atoms made from strings, SQL built by interpolation, terms decoded from
binaries) describe what happens when a value can come from outside the system. A value built
from literals, module attributes, the application's configuration, or a private helper whose
every caller passes a literal is not that risk. `trace(node)` follows a value back through the
function it is written in (assignments, the patterns and clauses that bound it, the collection a
loop walks), the module's own functions (what they return, what every local caller of a private
function passes) and a short list of well-known sources, and answers two questions:

- `origin`: the least trusted place the value can come from (see `Origin`);
- `textual`: whether text not fixed in the source can reach it (False for numbers, dates,
  booleans and constants: text that never carries a quote someone else chose).

Judged from syntax alone, in one file. What it cannot see (a public function's parameter, a
call into another module) is UNKNOWN, never trusted; only the listed sources are EXTERNAL.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import tree_sitter as ts
from tree_sitter import Node

from .parsing import cached_query, declared_query

from .syntax import (
    ancestors,
    call_arguments,
    call_name,
    call_target,
    do_block,
    effective_arguments,
    enclosing_module,
    full_module_name,
    function_def,
    is_definition_head,
    is_literal,
    keyword_key,
    keyword_pairs,
    module_members,
    string_value,
    tails,
    text,
    trailing_keywords,
    walk,
)


class Origin(enum.IntEnum):
    """Where a value can come from, from the most to the least trusted."""

    CONSTANT = 0  # fixed in the source: literals, module attributes, allow-listed or literal-list values
    CONFIG = 1  # the application's configuration or the operator's environment, read by the node itself
    INTERNAL = 2  # data the system wrote or authenticated itself: its ETS tables, Ecto type loads, signed tokens
    UNKNOWN = 3  # cannot tell: a public function's parameter, another module's result
    EXTERNAL = 4  # from outside: request params, string-keyed (decoded) data, event payloads, decoded JSON


@dataclass(frozen=True, slots=True)
class Provenance:
    origin: Origin
    textual: bool  # text not fixed in the source can reach it (not only numbers, dates, booleans)

    def join(self, other: "Provenance") -> "Provenance":
        return Provenance(max(self.origin, other.origin), self.textual or other.textual)

    @property
    def trusted(self) -> bool:
        """Fixed in the source or set by the operator: not input."""
        return self.origin <= Origin.CONFIG


_NOTHING = Provenance(Origin.CONSTANT, False)  # identity of join: a value that adds no doubt
_CONSTANT_TEXT = _NOTHING
_CONFIG = Provenance(Origin.CONFIG, True)
_INTERNAL = Provenance(Origin.INTERNAL, True)
_UNKNOWN = Provenance(Origin.UNKNOWN, True)
_EXTERNAL = Provenance(Origin.EXTERNAL, True)


def _number(origin: Origin) -> Provenance:
    """A number, date or boolean from `origin`."""
    return Provenance(origin, False)


def _text(origin: Origin) -> Provenance:
    """Text from `origin` (constant text is fixed in the source)."""
    return Provenance(origin, origin is not Origin.CONSTANT)

# Calls whose result comes from outside the system.
_EXTERNAL_CALLS = frozenset({
    ("Jason", "decode"), ("Jason", "decode!"), ("JSON", "decode"), ("JSON", "decode!"),
    ("Poison", "decode"), ("Poison", "decode!"), (None, "get_req_header"), ("Plug.Conn", "get_req_header"),
    ("Plug.Conn", "read_body"), (None, "read_body"), ("URI", "decode_query"), ("Plug.Conn.Query", "decode"),
})
# Calls reading the application's configuration or the operator's environment.
_CONFIG_CALLS = frozenset({
    ("Application", "get_env"), ("Application", "fetch_env!"), ("Application", "fetch_env"),
    ("Application", "compile_env"), ("Application", "compile_env!"), ("Application", "get_all_env"),
    ("System", "get_env"), ("System", "fetch_env!"), ("System", "fetch_env"), (None, "node"), ("Node", "self"),
    ("System", "version"), ("System", "otp_release"), ("System", "schedulers_online"), (None, "config_env"),
})
# Calls returning what this node stored or authenticated itself.
_INTERNAL_CALLS = frozenset({
    (":ets", "lookup"), (":ets", "lookup_element"), (":ets", "match"), (":ets", "match_object"),
    (":ets", "select"), (":ets", "tab2list"), (":ets", "take"), (":persistent_term", "get"),
    ("Phoenix.Token", "verify"), ("Phoenix.Token", "decrypt"), ("Plug.Crypto", "verify"),
    ("Plug.Crypto", "decrypt"), ("Plug.Crypto.MessageVerifier", "verify"),
    ("Plug.Crypto.MessageEncryptor", "decrypt"), ("Cachex", "get"), ("Cachex", "fetch"),
})
# Calls whose result is a number (or date), whatever their arguments: sizes and clocks.
_SIZE_CALLS = frozenset({
    (None, "length"), (None, "map_size"), (None, "byte_size"), (None, "tuple_size"), (None, "bit_size"),
    ("Enum", "count"), ("Kernel", "length"), ("System", "monotonic_time"), ("System", "system_time"),
    ("System", "os_time"), ("System", "unique_integer"), (":erlang", "unique_integer"),
    (":erlang", "system_time"), (":erlang", "monotonic_time"), (":os", "system_time"),
    ("Ecto.UUID", "generate"), ("UUID", "uuid4"),
})
# Calls returning atoms that already exist, or a bucket bounded by their second argument.
_EXISTING_ATOM_CALLS = frozenset({
    ("String", "to_existing_atom"), ("List", "to_existing_atom"), (":erlang", "binary_to_existing_atom"),
    (":erlang", "list_to_existing_atom"), ("Module", "safe_concat"),
})
# Calls that never return a value (a tail that raises adds nothing), and random bytes: not input.
_NO_VALUE_CALLS = frozenset({
    (None, "raise"), (None, "reraise"), (None, "throw"), (None, "exit"), ("Kernel", "raise"),
    (":erlang", "error"), (":erlang", "exit"), (":erlang", "throw"),
})
_RANDOM_CALLS = frozenset({(":crypto", "strong_rand_bytes"), (":rand", "uniform"), ("Enum", "random")})
# Calls returning a number built from their arguments.
_NUMBER_CALLS = frozenset({
    (None, "div"), (None, "rem"), (None, "abs"), (None, "round"), (None, "trunc"), (None, "ceil"),
    (None, "floor"), (None, "max"), (None, "min"), ("String", "to_integer"), ("String", "to_float"),
    ("Enum", "sum"), ("Enum", "max"), ("Enum", "min"),
})
_DATE_MODULES = frozenset({"DateTime", "Date", "NaiveDateTime", "Time", "Integer", "Float", "Decimal", "Timex"})
_DATE_PARSERS = frozenset({"parse", "parse!", "from_iso8601", "from_iso8601!", "to_string"})
# Standard-library modules whose functions only reshape what they are given.
_TRANSFORM_MODULES = frozenset({
    "String", "Atom", "Enum", "Stream", "List", "Map", "Keyword", "MapSet", "Tuple", "Base", "URI",
    "Path", "Macro", "Module", "Kernel", "Integer", "Float", "Regex", "IO.ANSI", "Jason", ":binary",
    ":lists", ":maps", ":string", ":unicode", ":erlang",
})
_TRANSFORM_LOCALS = frozenset({
    "to_string", "inspect", "elem", "hd", "tl", "then", "tap", "to_charlist", "put_elem", "struct",
    "struct!", "get_in", "update_in", "put_in",
})
# `Map.get(data, "key")`-style reads: a string key means decoded outside data.
_KEYED_READS = frozenset({
    ("Map", "get"), ("Map", "fetch"), ("Map", "fetch!"), ("Map", "get_lazy"), ("Map", "pop"),
    ("Map", "take"), (None, "get_in"), ("Kernel", "get_in"), ("Keyword", "get"), ("Keyword", "fetch!"),
    ("Keyword", "fetch"), ("Access", "get"),
})
# Fields of a `conn` that carry the request.
_CONN_INPUT_FIELDS = frozenset({
    "params", "query_params", "body_params", "path_params", "req_headers", "req_cookies", "cookies",
    "query_string", "request_path", "path_info", "host", "remote_ip",
})
_ENUM_LIKE = frozenset({"Enum", "Stream", "Map", "List", "Keyword", "MapSet", "Task", "Flow"})
_BRANCHING = frozenset({"if", "unless", "case", "cond", "with", "try", "receive"})
_BLOCKS = frozenset({"do_block", "body", "else_block", "after_block", "rescue_block", "catch_block", "block", "source"})
_TYPE_GUARDS = frozenset({"is_integer", "is_number", "is_float", "is_boolean", "is_atom"})
_BOOLEAN_OPERATORS = frozenset({
    "==", "!=", "===", "!==", "<", ">", "<=", ">=", "and", "or", "not", "in", "not in", "=~",
})
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_BUDGET = 600  # nodes one trace may visit: beyond that the value is UNKNOWN


def trace(node: Node | None, *, parameters: Origin = Origin.UNKNOWN, memo: dict | None = None) -> Provenance:
    """Where the value of the expression `node` comes from (see the module docstring).

    `parameters` is what a public function's parameter counts as: UNKNOWN in general; a rule
    judging code whose callers are known (a migration's functions are called by the migration
    runner with the operator's options) may pass CONFIG. `memo` (a document's memo, emptied
    by each edit) keeps what was learnt about each module (its functions, its local calls)
    for the next trace in the same text."""
    return _Tracer(parameters, memo).value(node)


def origin(node: Node | None) -> Origin:
    return trace(node).origin


class _Tracer:
    def __init__(self, parameters: Origin = Origin.UNKNOWN, memo: dict | None = None) -> None:
        self.parameters = _text(parameters)
        self.shared = memo if memo is not None else {}
        self.memo: dict[tuple[int, int, str], Provenance] = {}
        self.active: set[tuple[int, int, str]] = set()
        self.visited = 0

    def module(self, node: Node) -> "_ModuleIndex | None":
        """The index of the module `node` is written in, built once per text."""
        module = enclosing_module(node) if not (node.type == "call" and call_name(node) == (None, "defmodule")) else node
        if module is None:
            return None
        key = ("provenance-module", module.start_byte, module.end_byte)
        index = self.shared.get(key)
        if index is None:
            index = self.shared[key] = _ModuleIndex(module)
        return index

    # -- expressions ---------------------------------------------------------------------

    def value(self, node) -> Provenance:
        if node is None:
            return _UNKNOWN
        if node.type == "implicit_nil":
            return _NOTHING
        key = (node.start_byte, node.end_byte, node.type)
        cached = self.memo.get(key)
        if cached is not None:
            return cached
        if key in self.active:
            return _NOTHING  # a cycle adds nothing the other paths do not
        self.visited += 1
        if self.visited > _BUDGET:
            return _UNKNOWN
        self.active.add(key)
        try:
            result = self._value(node)
        finally:
            self.active.discard(key)
        self.memo[key] = result
        return result

    def join(self, nodes) -> Provenance:
        result = _NOTHING
        for node in nodes:
            result = result.join(self.value(node))
            if result.origin is Origin.EXTERNAL and result.textual:
                break
        return result

    def _value(self, node: Node) -> Provenance:
        kind = node.type
        if kind in ("integer", "float", "char", "boolean", "nil", "atom"):
            return _NOTHING
        if kind == "alias":
            return _NOTHING
        if kind in ("string", "charlist", "quoted_atom", "sigil"):
            parts = [c for c in node.named_children if c.type == "interpolation"]
            return _CONSTANT_TEXT.join(self.join(parts)) if parts else _CONSTANT_TEXT
        if kind in ("interpolation", "block"):
            inner = [c for c in node.named_children if c.type != "comment"]
            if kind == "block" and inner:
                return self.value(inner[-1])
            return self.join(inner)
        if kind in ("list", "tuple", "keywords", "map_content", "bitstring"):
            return self.join(c for c in node.named_children if c.type != "comment")
        if kind == "map":
            return self.join(c for c in node.named_children if c.type not in ("comment", "struct"))
        if kind == "pair":
            return self.value(node.child_by_field_name("value"))
        if kind == "unary_operator":
            return self._unary(node)
        if kind == "binary_operator":
            return self._binary(node)
        if kind == "identifier":
            return self.variable(node)
        if kind == "access_call":
            named = [c for c in node.named_children if c.type != "comment"]
            if not named:
                return _UNKNOWN
            return _keyed(self.value(named[0]), named[1] if len(named) >= 2 else None)
        if kind == "call":
            return self._call(node)
        if kind == "anonymous_function":
            return _UNKNOWN
        return _UNKNOWN

    def _unary(self, node: Node) -> Provenance:
        operator = text(node.child_by_field_name("operator"))
        operand = node.child_by_field_name("operand")
        if operator == "@":
            return _CONSTANT_TEXT  # a module attribute: fixed when the module compiles
        if operator in ("-", "+"):
            return _number(self.value(operand).origin)
        if operator in ("not", "!"):
            return _NOTHING
        if operator == "^":
            return self.value(operand)
        return _UNKNOWN

    def _binary(self, node: Node) -> Provenance:
        operator = text(node.child_by_field_name("operator"))
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if operator == "|>":
            return self.value(right)  # the call reads the piped value as its first argument
        if operator in ("+", "-", "*", "/", "..", "..//", "**"):
            return _number(self.join((left, right)).origin)
        if operator in _BOOLEAN_OPERATORS:
            return _NOTHING
        if operator in ("<>", "++", "--", "||", "&&", "|", "//"):
            return self.join((left, right))
        if operator == "=":
            return self.value(right)
        if operator == "::":
            return self.value(left)
        return _UNKNOWN

    def _call(self, node: Node) -> Provenance:
        target = call_target(node)
        if target is not None and target.type == "dot" and not _has_arguments(node):
            return self._field(target)
        module, function = call_name(node)
        if function is None:
            return _UNKNOWN
        key = (module, function)
        arguments = effective_arguments(node)
        if module is None and function in _BRANCHING:
            return self.join(t for t in tails(node) if t is not node)
        if module is None and function == "for":
            body = do_block(node)
            if body is None:
                body = next((v for k, v, _ in keyword_pairs(trailing_keywords(node)) if k == "do"), None)
            return self.join(tails(body)) if body is not None else _UNKNOWN
        if key in _EXTERNAL_CALLS:
            return _EXTERNAL
        if key in _CONFIG_CALLS or (function == "config" and module is not None and not arguments):
            return _CONFIG  # `Repo.config()`: the application's own configuration
        if key in _INTERNAL_CALLS:
            return _INTERNAL
        if key in _SIZE_CALLS or key in _NO_VALUE_CALLS or key in _EXISTING_ATOM_CALLS:
            return _NOTHING
        if key == (":erlang", "phash2") and len(arguments) == 2:
            return _number(self.value(arguments[1]).origin)  # a bucket below the range
        if key in _RANDOM_CALLS:
            return _CONSTANT_TEXT  # generated here, not received
        if key in _NUMBER_CALLS:
            return _number(self.join(arguments).origin)
        if module in _DATE_MODULES:
            result = self.join(arguments)
            numeric = function not in _DATE_PARSERS or module in ("Integer", "Float")
            return _number(result.origin) if numeric else _text(result.origin)
        if key in _KEYED_READS and len(arguments) >= 2:
            return _keyed(self.value(arguments[0]), arguments[1]).join(self.join(arguments[2:]))
        if module is None or module == "__MODULE__":
            local = self._local_call(node, function, len(arguments))
            if local is not None:
                return local
            if module is None and function in _TRANSFORM_LOCALS:
                return self.join(self._argument_values(arguments))
            return _UNKNOWN
        if module in _TRANSFORM_MODULES:
            return self.join(self._argument_values(arguments))
        return _UNKNOWN

    def _argument_values(self, arguments):
        """Arguments as values; a function argument contributes what its clauses return."""
        for argument in arguments:
            if argument.type == "anonymous_function":
                for clause in argument.named_children:
                    if clause.type == "stab_clause":
                        yield from tails(clause.child_by_field_name("right"))
            elif argument.type == "unary_operator" and text(argument.child_by_field_name("operator")) == "&":
                continue  # a capture such as &String.downcase/1 reshapes the other arguments
            else:
                yield argument

    def _field(self, dot: Node) -> Provenance:
        """`x.field`: the struct's or map's own provenance; a request field of a conn is input."""
        left = dot.child_by_field_name("left")
        right = dot.child_by_field_name("right")
        if left is None:
            return _UNKNOWN
        if left.type == "alias":
            return _UNKNOWN  # `Mod.fun` without parentheses: a remote call
        field = text(right)
        if field in _CONN_INPUT_FIELDS and text(left).split(".")[-1] == "conn":
            index = self.module(dot)
            if field in ("cookies", "req_cookies") and index is not None and index.authenticated_cookies:
                return _INTERNAL
            return _EXTERNAL
        return _text(self.value(left).origin)

    def _local_call(self, call: Node, name: str, arity: int) -> Provenance | None:
        """What a function of the enclosing module returns: the join of its clauses' tails."""
        index = self.module(call)
        if index is None:
            return None
        definitions = index.definitions_of(name, arity)
        if not definitions:
            return None
        result = _NOTHING
        for definition in definitions:
            if definition.body is None:
                return _UNKNOWN
            result = result.join(self.join(tails(definition.body)))
        return result

    # -- variables -----------------------------------------------------------------------

    def variable(self, identifier: Node) -> Provenance:
        name = text(identifier)
        if name in ("__MODULE__", "__ENV__", "__DIR__", "__CALLER__"):
            return _CONSTANT_TEXT
        child = identifier
        for parent in ancestors(identifier):
            kind = parent.type
            if kind in _BLOCKS or (kind == "arguments" and _is_binding_form(parent.parent)):
                bound = self._assigned_before(parent, child, name)
                if bound is not None:
                    return bound
            if kind == "stab_clause" and child == parent.child_by_field_name("right"):
                bound = self._clause_binding(parent, name)
                if bound is not None:
                    return bound
            if kind == "call" and child.type == "do_block" and _is_binding_form(parent):
                arguments = next((c for c in parent.named_children if c.type == "arguments"), None)
                bound = self._assigned_before(arguments, child, name) if arguments is not None else None
                if bound is not None:
                    return bound  # `for x <- list do ... x ... end`
            if kind == "call":
                definition = function_def(parent)
                if definition is not None and child is not definition.node:
                    bound = self._parameter(definition, name)
                    if bound is not None:
                        return bound
                    return self._zero_arity_local(parent, name)
                if call_name(parent) == (None, "defmodule"):
                    break
            refined = self._condition(parent, child, name)
            if refined is not None:
                return refined
            child = parent
        return _UNKNOWN

    def _assigned_before(self, block: Node, child: Node, name: str) -> Provenance | None:
        """The last `pattern = value` (or `pattern <- value` in with/for) before `child` that binds `name`."""
        earlier = []
        for sibling in block.named_children:
            if sibling == child or sibling.start_byte >= child.start_byte:
                break
            earlier.append(sibling)
        for statement in reversed(earlier):
            if statement.type != "binary_operator":
                continue
            operator = text(statement.child_by_field_name("operator"))
            if operator not in ("=", "<-"):
                continue
            pattern = statement.child_by_field_name("left")
            occurrence = _binding(pattern, name)
            if occurrence is None:
                continue
            right = statement.child_by_field_name("right")
            bound = self.value(right)
            if operator == "<-" and block.parent is not None and call_name(block.parent) == (None, "for"):
                bound = self._element(right, occurrence, pattern)
            return _refine(occurrence, pattern, bound)
        return None

    def _clause_binding(self, clause: Node, name: str) -> Provenance | None:
        """A variable bound by the head of a case/fn/receive clause."""
        left = clause.child_by_field_name("left")
        if left is None:
            return None
        guard = None
        if left.type == "binary_operator" and text(left.child_by_field_name("operator")) == "when":
            guard = left.child_by_field_name("right")
            left = left.child_by_field_name("left")
        occurrence = _binding(left, name)
        if occurrence is None:
            return None
        if guard is not None and _guard_allows(self, guard, name):
            return _CONSTANT_TEXT
        container = clause.parent
        if container is None:
            return _UNKNOWN
        if container.type == "anonymous_function":
            patterns = [c for c in left.named_children] if left.type == "arguments" else [left]
            position = next((i for i, p in enumerate(patterns) if _contains(p, occurrence)), None)
            pattern = patterns[position] if position is not None else left
            bound = self._fn_parameter(container, position, pattern, occurrence)
            return _type_guarded(_refine(occurrence, pattern, bound), guard, name)
        owner = container.parent  # do_block -> case/receive/with call
        if owner is not None and owner.type == "call" and container.type == "do_block":
            construct = call_name(owner)
            if construct == (None, "case"):
                arguments = effective_arguments(owner)
                subject = arguments[0] if arguments else None
                bound = self.value(subject)
                return _type_guarded(_refine(occurrence, left, bound), guard, name)
        return _type_guarded(_refine(occurrence, left, _UNKNOWN), guard, name)

    def _fn_parameter(self, function: Node, position: int | None, pattern: Node, occurrence: Node) -> Provenance:
        """The value an anonymous function's first parameter receives: an element of the
        collection an Enum-like call walks with it; else UNKNOWN."""
        holder = function.parent
        call = holder.parent if holder is not None and holder.type == "arguments" else None
        if call is None or call.type != "call" or position != 0:
            return _UNKNOWN
        module, _function = call_name(call)
        if module not in _ENUM_LIKE:
            return _UNKNOWN
        arguments = effective_arguments(call)
        if not arguments or arguments[0] == function:
            return _UNKNOWN
        return self._element(arguments[0], occurrence, pattern)

    def _element(self, collection: Node, occurrence: Node, pattern: Node) -> Provenance:
        """An element of `collection` as a pattern binds it; the index of `Enum.with_index`
        is a small counter."""
        source = collection
        if source.type == "binary_operator" and text(source.child_by_field_name("operator")) == "|>":
            source = source.child_by_field_name("right")
        if (
            source is not None and source.type == "call"
            and call_name(source) in (("Enum", "with_index"), ("Stream", "with_index"))
            and pattern.type == "tuple"
        ):
            items = [c for c in pattern.named_children if c.type != "comment"]
            if len(items) == 2 and _contains(items[1], occurrence):
                return _NOTHING
        return self.value(collection)  # elements of a list of numbers are numbers

    def _parameter(self, definition, name: str) -> Provenance | None:
        """A function's parameter: a callback's input, or what every local caller passes."""
        for position, pattern in enumerate(definition.params):
            occurrence = _binding(pattern, name)
            if occurrence is None:
                continue
            if definition.guard is not None and _guard_allows(self, definition.guard, name):
                return _CONSTANT_TEXT
            callback = _callback_input(definition, position, self.module(definition.node))
            if callback is not None:
                bound = callback
            elif definition.kind == "defp":
                bound = self._local_callers(definition, position)
            else:
                bound = self.parameters
            bound = _type_guarded(_refine(occurrence, pattern, bound), definition.guard, name)
            index = self.module(definition.node)
            if bound.textual and index is not None and index.declares_number(definition, position):
                bound = _number(bound.origin)
            return bound
        return None

    def _local_callers(self, definition, position: int) -> Provenance:
        index = self.module(definition.node)
        if index is None:
            return _UNKNOWN
        sites = index.call_sites(definition)
        if not sites:
            return _UNKNOWN
        result = _NOTHING
        for site in sites:
            if site is None:
                return _UNKNOWN  # a capture `&name/arity`: called from anywhere
            arguments = effective_arguments(site)
            if position >= len(arguments):
                continue  # a default argument
            result = result.join(self.value(arguments[position]))
            if result.origin >= Origin.UNKNOWN and result.textual:
                break
        return result

    def _zero_arity_local(self, definition_call: Node, name: str) -> Provenance:
        """An unbound name inside a function: a zero-arity call without parentheses, if the
        module defines one, else something exhort cannot see."""
        index = self.module(definition_call)
        definitions = index.definitions_of(name, 0) if index is not None else []
        if not definitions:
            return _UNKNOWN
        result = _NOTHING
        for definition in definitions:
            result = result.join(self.join(tails(definition.body)) if definition.body is not None else _UNKNOWN)
        return result

    def _condition(self, parent: Node, child: Node, name: str) -> Provenance | None:
        """Inside the `do` branch of `if name in allowed`: the value is one of the allowed ones."""
        if parent.type == "pair" and keyword_key(parent) == "do":
            owner = parent.parent.parent if parent.parent is not None else None  # keywords -> arguments
            owner = owner.parent if owner is not None and owner.type == "arguments" else owner
        elif parent.type == "do_block" and child.type != "else_block":
            owner = parent.parent
        else:
            return None
        if owner is None or owner.type != "call" or call_name(owner) != (None, "if"):
            return None
        arguments = call_arguments(owner)
        condition = arguments[0] if arguments else None
        if condition is not None and condition != child and _guard_allows(self, condition, name):
            return _CONSTANT_TEXT
        return None


# -- patterns ----------------------------------------------------------------------------


def _binding(pattern: Node | None, name: str) -> Node | None:
    """The occurrence of variable `name` that `pattern` binds (not a pinned `^name`)."""
    if pattern is None:
        return None
    stack = [pattern]
    while stack:
        node = stack.pop()
        if node.type == "identifier" and text(node) == name:
            return node
        if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "^":
            continue
        if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "when":
            stack.append(node.child_by_field_name("left"))
            continue
        if node.type in ("call", "anonymous_function", "do_block"):
            continue
        stack.extend(reversed(node.named_children))
    return None


def _refine(occurrence: Node, pattern: Node, bound: Provenance) -> Provenance:
    """What a pattern says about the part it binds: a string key means outside data; a
    literal matched alongside (`"a" = x`) fixes the value."""
    child = occurrence
    for parent in ancestors(occurrence):
        if parent.type == "binary_operator":
            operator = text(parent.child_by_field_name("operator"))
            if operator == "=>" and parent.child_by_field_name("right") == child:
                key = parent.child_by_field_name("left")
                if key is not None and key.type == "string":
                    return _EXTERNAL
            if operator == "=" and child in (parent.child_by_field_name("left"), parent.child_by_field_name("right")):
                other = parent.child_by_field_name("right" if child == parent.child_by_field_name("left") else "left")
                if other is not None and other.type in ("string", "integer", "atom") and is_literal(other):
                    return _CONSTANT_TEXT
        if parent == pattern:
            break
        child = parent
    return bound


def _contains(outer: Node, inner: Node) -> bool:
    return outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte


def _guard_allows(tracer: _Tracer, guard: Node, name: str) -> bool:
    """`name in [...]`, `name in @allowed` or `name == "literal"` in a guard or condition:
    the value is one of a fixed set."""
    for node in walk(guard):
        if node.type != "binary_operator":
            continue
        operator = text(node.child_by_field_name("operator"))
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or left.type != "identifier" or text(left) != name:
            continue
        if operator == "in" and tracer.value(right).origin is Origin.CONSTANT:
            return True
        if operator in ("==", "===") and right is not None and right.type in ("string", "atom") and not right.named_children:
            return True
    for node in walk(guard):
        if node.type == "call" and call_name(node) == ("Enum", "member?"):
            arguments = call_arguments(node)
            if len(arguments) == 2 and arguments[1].type == "identifier" and text(arguments[1]) == name:
                if tracer.value(arguments[0]).origin is Origin.CONSTANT:
                    return True
    return False


def _type_guarded(bound: Provenance, guard: Node | None, name: str) -> Provenance:
    """`when is_integer(name)`: a number whatever its origin."""
    if guard is None or not bound.textual:
        return bound
    for node in walk(guard):
        if node.type == "call" and call_name(node)[0] is None and call_name(node)[1] in _TYPE_GUARDS:
            arguments = call_arguments(node)
            if arguments and arguments[0].type == "identifier" and text(arguments[0]) == name:
                return _number(bound.origin)
    return bound


def _keyed(container: Provenance, key: Node | None) -> Provenance:
    """A value read out of a map: a string key into data of unknown origin means decoded
    outside data (params, JSON bodies, webhook payloads), unless the key is an environment
    variable's name (`env["LOG_LEVEL"]`): that map is the operator's environment."""
    if key is not None and _string_key(key) and container.origin >= Origin.UNKNOWN:
        first = key if key.type == "string" else key.named_children[0]
        if _ENV_NAME.match(string_value(first) or ""):
            return _CONFIG
        return _EXTERNAL
    return _text(container.origin)


_NUMBER_TYPE = re.compile(
    r"^(?:\w+\s*::\s*)?(?:list\((?P<inner>.+)\)|\[(?P<inner2>.+)\]|(?P<plain>.+))$", re.S
)
_NUMBER_TYPES = re.compile(
    r"^(?:integer|non_neg_integer|pos_integer|neg_integer|float|number|boolean|byte|char|arity|timeout|"
    r"(?:Date|DateTime|NaiveDateTime|Time|Decimal)\.t)\(\)$"
)


def _string_key(node: Node | None) -> bool:
    if node is None:
        return False
    if node.type == "string":
        return string_value(node) is not None
    if node.type == "list":  # get_in(data, ["a", "b"])
        items = [c for c in node.named_children if c.type != "comment"]
        return bool(items) and items[0].type == "string"
    return False


def _callback_input(definition, position: int, index: "_ModuleIndex | None") -> Provenance | None:
    """Parameters Phoenix fills from the request: LiveView events and params, controller actions."""
    name, arity = definition.name, definition.arity
    if definition.kind != "def":
        return None
    if name == "handle_event" and arity == 3 and position in (0, 1):
        return _EXTERNAL
    if name == "handle_params" and arity == 3 and position in (0, 1):
        return _EXTERNAL
    if name == "mount" and arity == 3 and position == 0:
        return _EXTERNAL
    module_text = index.name if index is not None else None
    if arity == 2 and position == 1 and module_text and module_text.endswith("Controller"):
        first = definition.params[0]
        if first.type == "identifier" and text(first).lstrip("_") == "conn":
            return _EXTERNAL  # `def action(conn, params)`
    if name == "load" and arity in (1, 2) and position == 0 and index is not None and index.ecto_type:
        return _INTERNAL  # Ecto.Type.load/1: a column the application wrote
    return None


# Local calls, captures of local functions, and options saying cookies are signed or encrypted.
_MODULE_QUERY = declared_query(r"""
((call target: (identifier) @name) @call)
((unary_operator operator: "&" operand: (binary_operator left: (identifier) @name)))
((pair key: (keyword) @key value: (_) @value) (#match? @key "^(signed|encrypted|sign|encrypt): ?$"))
""")


class _ModuleIndex:
    """What tracing needs to know about one module, read in one pass over it."""

    def __init__(self, module: Node) -> None:
        self.name = full_module_name(module)
        self.definitions: dict[str, list] = {}
        self.specs: dict[tuple[str, int], list[list[str]]] = {}
        self.ecto_type = False
        for member in module_members(module):
            definition = function_def(member)
            if definition is not None and definition.kind in ("def", "defp"):
                self.definitions.setdefault(definition.name, []).append(definition)
            elif member.type == "call" and call_name(member) == (None, "use"):
                arguments = call_arguments(member)
                if arguments and text(arguments[0]) in ("Ecto.Type", "Ecto.ParameterizedType"):
                    self.ecto_type = True
            elif member.type == "unary_operator" and text(member.child_by_field_name("operator")) == "@":
                self._read_attribute(member)
        self.node = module
        self._calls: dict[str, list] | None = None
        self._authenticated_cookies = False

    def _read_calls(self) -> None:
        """Local calls, captures and cookie options: read once, when a trace first needs them."""
        self._calls = {}
        for pattern, captures in ts.QueryCursor(cached_query(_MODULE_QUERY)).matches(self.node):
            if pattern == 0:
                call = captures["call"][0]
                if not is_definition_head(call):
                    self._calls.setdefault(text(captures["name"][0]), []).append(call)
            elif pattern == 1:
                self._calls.setdefault(text(captures["name"][0]), []).append(None)  # `&name/arity`
            else:
                # `fetch_cookies(conn, signed: [...])`, `put_resp_cookie(..., sign: true)`: only
                # the server can have written the module's cookies
                value = captures["value"][0]
                if not (value.type == "boolean" and text(value) != "true"):
                    self._authenticated_cookies = True

    @property
    def authenticated_cookies(self) -> bool:
        if self._calls is None:
            self._read_calls()
        return self._authenticated_cookies

    def _read_attribute(self, member: Node) -> None:
        operand = member.child_by_field_name("operand")
        if operand is None or operand.type != "call":
            return
        attribute = call_name(operand)
        if attribute == (None, "behaviour") and "Ecto.Type" in text(operand):
            self.ecto_type = True
        if attribute != (None, "spec"):
            return
        arguments = call_arguments(operand)
        signature = arguments[0] if arguments else None
        while signature is not None and signature.type == "binary_operator":
            signature = signature.child_by_field_name("left")  # `f(a) :: r when ...`
        if signature is None or signature.type != "call" or call_name(signature)[0] is not None:
            return
        types = [text(t).strip() for t in call_arguments(signature)]
        self.specs.setdefault((call_name(signature)[1], len(types)), []).append(types)

    def definitions_of(self, name: str, arity: int) -> list:
        return [
            d for d in self.definitions.get(name, ())
            if d.arity - _defaults(d) <= arity <= d.arity
        ]

    def call_sites(self, definition) -> list:
        """Every local call of the function (None for a capture `&name/arity`)."""
        if self._calls is None:
            self._read_calls()
        lowest = definition.arity - _defaults(definition)
        return [
            site for site in self._calls.get(definition.name, ())
            if site is None or lowest <= len(effective_arguments(site)) <= definition.arity
        ]

    def declares_number(self, definition, position: int) -> bool:
        """The function's `@spec` gives the parameter a number, date or boolean type (or a
        list of one): `@spec f(list(integer())) :: ...`."""
        for types in self.specs.get((definition.name, definition.arity), ()):
            if position >= len(types):
                continue
            match = _NUMBER_TYPE.match(types[position])
            if match is None:
                continue
            declared = (match.group("inner") or match.group("inner2") or match.group("plain")).strip()
            if _NUMBER_TYPES.match(declared):
                return True
        return False


# -- the module ---------------------------------------------------------------------------


def _has_arguments(call: Node) -> bool:
    return any(c.type == "arguments" for c in call.children)


def _is_binding_form(node: Node | None) -> bool:
    """Calls whose arguments bind variables for their body: `for x <- xs`, `with {:ok, x} <- f()`,
    `if x = f() do`."""
    return node is not None and node.type == "call" and call_name(node) in (
        (None, "with"), (None, "for"), (None, "if"), (None, "unless"),
    )


def _defaults(definition) -> int:
    return sum(
        1 for p in definition.params
        if p.type == "binary_operator" and text(p.child_by_field_name("operator")) == "\\\\"
    )
