"""Shared helpers of the OTP pack: resolved call names, close-match keys, children lists,
callback detection and the workspace facts (supervision references) OTP004/008/014 read."""

from __future__ import annotations

from bisect import bisect_right

import tree_sitter as ts

from exhort.parsing import cached_query, declared_query
from exhort.rule import module_info, requires
from exhort.syntax import (
    ModuleInfo,
    enclosing_def,
    function_def,
    keyword_key,
    trailing_keywords,
    ancestors,
    atom_value,
    block_body,
    call_arguments,
    call_name,
    call_target,
    defmodules,
    do_block,
    effective_arguments,
    full_module_name,
    integer_value,
    is_literal,
    keyword_pairs,
    text,
    walk,
)

from exhort_rules.ecto._common import values_bound_before

OTP_USE_MODULES = ("GenServer", "Agent", "Task", "Supervisor", "DynamicSupervisor")
CHILD_SPEC_KEYS = ("id", "start", "restart", "shutdown", "type", "modules", "significant")
GENSERVER_START_KEYS = ("name", "timeout", "debug", "spawn_opt", "hibernate_after")


# -- names -------------------------------------------------------------------------------


def resolved_call(ctx, call) -> tuple[str | None, str | None]:
    """call_name with the module alias resolved through the enclosing module's aliases."""
    module_text, function = call_name(call)
    if module_text is not None and module_text not in ("<expr>",) and not module_text.startswith(":"):
        info = ctx.module_of(call) if ctx is not None else None
        if info is not None:
            module_text = info.resolve_alias(module_text)
    return module_text, function


def jaro(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(max(len(a), len(b)) // 2 - 1, 0)
    a_flags = [False] * len(a)
    b_flags = [False] * len(b)
    matches = 0
    for i, ch in enumerate(a):
        for j in range(max(0, i - window), min(len(b), i + window + 1)):
            if not b_flags[j] and b[j] == ch:
                a_flags[i] = b_flags[j] = True
                matches += 1
                break
    if matches == 0:
        return 0.0
    transpositions = 0
    k = 0
    for i, ch in enumerate(a):
        if a_flags[i]:
            while not b_flags[k]:
                k += 1
            if ch != b[k]:
                transpositions += 1
            k += 1
    transpositions //= 2
    return (matches / len(a) + matches / len(b) + (matches - transpositions) / matches) / 3


def close_match(word: str, candidates, threshold: float = 0.85) -> str | None:
    """The single candidate with Jaro similarity >= threshold, else None."""
    scored = [(jaro(word, c), c) for c in candidates if c != word]
    hits = [c for score, c in scored if score >= threshold]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        best = max(scored)
        if sum(1 for score, _ in scored if score == best[0]) == 1:
            return best[1]
    return None


# -- shapes ------------------------------------------------------------------------------


def list_items(node) -> list:
    return [c for c in node.named_children if c.type != "comment"] if node is not None else []


def literal_keywords(node):
    """The `keywords` node of a literal keyword list argument (`[k: v]` or trailing `k: v`)."""
    if node is None:
        return None
    if node.type == "keywords":
        return node
    if node.type == "list":
        inner = list_items(node)
        if len(inner) == 1 and inner[0].type == "keywords":
            return inner[0]
        if not inner:
            return node  # [] — an empty literal list
    return None


def pairs(node):
    """keyword_pairs that also accepts an empty list literal."""
    if node is not None and node.type == "list" and not list_items(node):
        return []
    return keyword_pairs(node)


def is_keyword_list_literal(node) -> bool:
    return node is not None and (node.type == "keywords" or (node.type == "list" and literal_keywords(node) is not None and bool(list_items(node))))


def map_pairs(node) -> list[tuple[str | None, object, object]] | None:
    """Keyword pairs of a plain map literal `%{id: x, start: y}`; None for other maps."""
    if node is None or node.type != "map" or any(c.type == "struct" for c in node.named_children):
        return None
    content = next((c for c in node.named_children if c.type == "map_content"), None)
    if content is None:
        return []
    items = list_items(content)
    if len(items) == 1 and items[0].type == "keywords":
        return keyword_pairs(items[0])
    return None


def variable_list_value(identifier, within) -> object | None:
    """For `children` used in a def, the list literal it was bound to earlier (`children = [...]`)."""
    if identifier is None or identifier.type != "identifier" or within is None:
        return None
    bound = values_bound_before(identifier, text(identifier), within)
    last = bound[-1] if bound else None
    return last if last is not None and last.type == "list" else None


def bound_value(identifier, bindings: dict | None = None):
    """For a variable, the value it was last bound to (`spec = {Mod, arg}`) earlier in the
    enclosing definition; None when it is a parameter or bound some other way. `bindings`,
    kept by a caller asking about many variables of a file, remembers each definition's
    bindings (one walk of the definition instead of one per variable)."""
    within = identifier
    while within is not None and not (within.type == "call" and call_name(within)[1] in ("def", "defp")):
        within = within.parent
    if within is None:
        return None
    name = text(identifier)
    if bindings is None:
        bound = values_bound_before(identifier, name, within)
        return bound[-1] if bound else None
    known = bindings.get(within.start_byte)
    if known is None:
        known = bindings[within.start_byte] = _bindings_in(within)
    value = None
    for start, bound_name, right in known:  # in source order, as values_bound_before reads them
        if start >= identifier.start_byte:
            break
        if bound_name == name:
            value = right
    return value


_BINDINGS = declared_query('((binary_operator left: (identifier) operator: "=") @binding)')


def _bindings_in(definition) -> list:
    """(start, name, value) of every `name = value` in a definition, in source order."""
    found = []
    for binding in sorted(captured(_BINDINGS, definition, "binding"), key=lambda node: node.start_byte):
        found.append((binding.start_byte, text(binding.child_by_field_name("left")), binding.child_by_field_name("right")))
    return found


def inside(node, ancestor) -> bool:
    return ancestor.start_byte <= node.start_byte and node.end_byte <= ancestor.end_byte


# -- callbacks ---------------------------------------------------------------------------

CALLBACKS = {
    ("init", 1),
    ("handle_call", 3),
    ("handle_cast", 2),
    ("handle_info", 2),
    ("handle_continue", 2),
    ("terminate", 2),
}


def uses_genserver(info: ModuleInfo | None) -> bool:
    return info is not None and info.uses_module("GenServer") is not None


SPAWNING_MODULES = ("Task", "Task.Supervisor", "Agent")
SPAWNING_LOCALS = ("spawn", "spawn_link", "spawn_monitor")


def _spawning_call(call) -> bool:
    """Task.*, Task.Supervisor.*, Agent.*, spawn*, Process.spawn*, or a LiveView async function:
    the functions handed to it run in another process."""
    mod, fun = call_name(call)
    if mod in SPAWNING_MODULES or (mod is None and fun in SPAWNING_LOCALS):
        return True
    if mod in ("Process", "Kernel") and fun in ("spawn", "spawn_link", "spawn_monitor"):
        return True
    return fun in ("assign_async", "start_async", "stream_async") and mod in (None, "Phoenix.LiveView")


def runs_in_other_process(node, stop) -> bool:
    """Is `node` inside a function that another process runs (below `stop`): a closure written
    as an argument of a Task.*/spawn*/Process.spawn/LiveView async call, or bound to a variable
    (`work = fn -> ... end`) that is only handed to such calls?"""
    for parent in ancestors(node):
        if parent == stop or (stop is not None and parent.start_byte < stop.start_byte):
            return False
        if parent.type == "arguments" and parent.parent is not None and parent.parent.type == "call":
            if _spawning_call(parent.parent):
                return True
        if parent.type == "anonymous_function" and stop is not None and _handed_to_other_process(parent, stop):
            return True
    return False


def _handed_to_other_process(function, stop) -> bool:
    """`work = fn -> ... end` whose every later use is as an argument of a spawning call."""
    binding = function.parent
    if binding is None or binding.type != "binary_operator" or text(binding.child_by_field_name("operator")) != "=":
        return False
    variable = binding.child_by_field_name("left")
    if variable is None or variable.type != "identifier" or binding.child_by_field_name("right") != function:
        return False
    name = text(variable)
    uses = [n for n in walk(stop) if n.type == "identifier" and text(n) == name and n.start_byte > binding.end_byte]
    return bool(uses) and all(
        use.parent is not None and use.parent.type == "arguments" and use.parent.parent is not None
        and _spawning_call(use.parent.parent)
        for use in uses
    )


# -- workspace facts ---------------------------------------------------------------------


def captured(source: str, node, capture: str = "node") -> list:
    """Every node captured as @capture by the (cached) query `source` under `node`, in no set
    order (other captures of the query only serve its predicates)."""
    return list(ts.QueryCursor(cached_query(source)).captures(node).get(capture, ()))


def _resolver(document, module_node):
    info = module_info(document, module_node) if module_node is not None else None
    own = full_module_name(module_node) if module_node is not None else None

    def resolve(alias_node) -> str | None:
        if alias_node is None:
            return None
        if alias_node.type == "alias":
            return info.resolve_alias(text(alias_node)) if info is not None else text(alias_node)
        if alias_node.type == "call" and call_name(alias_node) == (None, "__MODULE__") and own:
            return own
        if alias_node.type == "identifier" and text(alias_node) == "__MODULE__" and own:
            return own
        return None

    return resolve, own


class _ModuleSpans:
    """The document's `defmodule` calls (top-level and nested), to find the innermost one
    holding a node from its byte range: a binary search and a short climb through the
    modules' own nesting, instead of a walk up the node's ancestors (each `parent` costs a
    walk down from the root) or a comparison with every module (quadratic on files with many
    modules)."""

    def __init__(self, modules) -> None:
        self.by_span = {(m.start_byte, m.end_byte): m for m in modules}
        self._modules = sorted(modules, key=lambda m: m.start_byte)
        self._starts = [m.start_byte for m in self._modules]
        self._outer: list[int] = []  # index of the module around each one, -1 at the top
        around: list[int] = []
        for number, module in enumerate(self._modules):
            while around and self._modules[around[-1]].end_byte < module.end_byte:
                around.pop()
            self._outer.append(around[-1] if around else -1)
            around.append(number)

    def innermost(self, node):
        start, end = node.start_byte, node.end_byte
        if start == end or (start, end) in self.by_span:
            # an empty node at a module's edge, or one spanning a module exactly: ranges
            # cannot tell inside from beside, the ancestors can
            return _innermost_by_ancestry(node, self.by_span)
        number = bisect_right(self._starts, start) - 1
        while number >= 0:
            module = self._modules[number]
            if module.end_byte >= end:  # starts at or before the node and ends after it: holds it
                return module
            number = self._outer[number]
        return None


def _innermost_by_ancestry(node, modules_by_span):
    for parent in ancestors(node):
        module = modules_by_span.get((parent.start_byte, parent.end_byte))
        if module is not None:
            return module
    return None


def child_entry_module(node, resolve) -> str | None:
    """`Mod`, `{Mod, arg}`, `%{start: {Mod, fun, args}}` or `Supervisor.child_spec(Mod | {Mod,
    arg}, ...)` -> Mod."""
    if node is None:
        return None
    if node.type == "map":
        for key, value, _ in map_pairs(node) or []:
            if key == "start" and value.type == "tuple":
                items = list_items(value)
                return resolve(items[0]) if len(items) == 3 else None
        return None
    if node.type in ("alias",) or (node.type == "call" and call_name(node) == (None, "__MODULE__")) or (node.type == "identifier" and text(node) == "__MODULE__"):
        return resolve(node)
    if node.type == "tuple":
        items = list_items(node)
        if items and len(items) in (2, 3):
            return resolve(items[0])
    if node.type == "call":
        mod, fun = call_name(node)
        if fun == "child_spec":
            if mod == "Supervisor":
                args = call_arguments(node)
                return child_entry_module(args[0], resolve) if args else None
            if mod not in (None, "<expr>"):
                return resolve(call_target(node).child_by_field_name("left"))
    return None


def entry_candidates(item, depth: int = 0, bindings: dict | None = None):
    """What a children-list element may evaluate to: the element itself, the operands of
    `enabled? && Mod` / `a || b`, the branches of `if(c, do: Mod)`, and for a variable the
    value it was bound to (`poller = {Poller, opts}` before `[poller]`). Bounded in depth: a
    binding may refer to itself (`acc = if c, do: acc, else: [x | acc]`)."""
    if depth > 6:
        return
    if item.type == "binary_operator" and text(item.child_by_field_name("operator")) in ("&&", "||", "and", "or"):
        for side in (item.child_by_field_name("left"), item.child_by_field_name("right")):
            if side is not None:
                yield from entry_candidates(side, depth + 1, bindings)
        return
    if item.type == "binary_operator" and text(item.child_by_field_name("operator")) == "|":
        head = item.child_by_field_name("left")  # [a, b | rest]: `b` is an element
        if head is not None:
            yield from entry_candidates(head, depth + 1, bindings)
        return
    if item.type == "call" and call_name(item) in ((None, "if"), (None, "unless")):
        for key, value, _ in keyword_pairs(trailing_keywords(item)):
            if key in ("do", "else"):
                yield from entry_candidates(value, depth + 1, bindings)
        block = do_block(item)
        if block is not None:
            body = block_body(block)
            if body:
                yield from entry_candidates(body[-1], depth + 1, bindings)
            for part in block.named_children:
                if part.type == "else_block" and block_body(part):
                    yield from entry_candidates(block_body(part)[-1], depth + 1, bindings)
        return
    if item.type == "identifier" and text(item) != "__MODULE__":
        value = bound_value(item, bindings)
        if value is not None and value.type != "identifier":
            yield from entry_candidates(value, depth + 1, bindings)
        return
    yield item


# Calls that start a process running the module given as their first argument (MFA style).
SPAWN_FUNCTIONS = ("spawn", "spawn_link", "spawn_monitor", "spawn_opt")


def _parameter_starts(fdef) -> set[int]:
    """Indices of the parameters of a function that it starts as a process: used as the module
    of an MFA (`{module, :start_link, [args]}`), of a child entry given to a start call
    (`DynamicSupervisor.start_child(sup, {module, arg})`), or called as `module.start_link(...)`.
    A helper such as `def start_worker(module, arg)` starts whatever module its callers pass."""
    names = {text(param): index for index, param in enumerate(fdef.params) if param.type == "identifier"}
    if not names or fdef.body is None:
        return set()
    found = set()
    for node in walk(fdef.body):
        if node.type == "tuple":
            items = list_items(node)
            if len(items) in (2, 3) and items[0].type == "identifier" and text(items[0]) in names:
                if len(items) == 3 and items[1].type == "atom":
                    found.add(names[text(items[0])])
                elif len(items) == 2 and _in_start_call(node):
                    found.add(names[text(items[0])])
        elif node.type == "identifier" and text(node) in names and _in_start_call(node) and node.parent is not None and node.parent.type == "arguments":
            found.add(names[text(node)])
        elif node.type == "call":
            target = call_target(node)
            left = target.child_by_field_name("left") if target is not None and target.type == "dot" else None
            if left is not None and left.type == "identifier" and text(left) in names and call_name(node)[1] in ("start_link", "start", "child_spec"):
                found.add(names[text(left)])
    return found


def _in_start_call(node) -> bool:
    """Is `node` (directly, or inside a tuple) an argument of a start_child/child_spec/start_link call?"""
    parent = node.parent
    if parent is not None and parent.type == "tuple":
        parent = parent.parent
    if parent is None or parent.type != "arguments" or parent.parent is None:
        return False
    module, function = call_name(parent.parent)
    return function in ("start_child", "child_spec", "start_link", "start") and module not in (None, "<expr>")


STARTER_CALLS = {
    ("DynamicSupervisor", "start_child"),
    ("Supervisor", "start_child"),
    ("Supervisor", "child_spec"),
    ("PartitionSupervisor", "start_link"),
    ("GenServer", "start_link"),
    ("GenServer", "start"),
    ("Agent", "start_link"),
    ("Agent", "start"),
    ("Supervisor", "start_link"),
    ("DynamicSupervisor", "start_link"),
    (":supervisor", "start_child"),
}


_ALIAS_ARGUMENT_CALLS = declared_query("((call (arguments (alias))) @node)")


_STARTER_DEFS = ("start_link", "start", "child_spec", "start_child", "init")


def _self_starter(call) -> str | None:
    """`name/arity` of the public function holding this start call, when that function is not
    itself a start function (`def start_link(opts), do: GenServer.start_link(__MODULE__, opts)`
    is no reference): it starts the module on demand."""
    for parent in ancestors(call):
        if parent.type == "call" and call_name(parent)[1] in ("def", "defp", "defmacro", "defmacrop"):
            if call_name(parent)[1] != "def":
                return None  # private helpers: maybe only called from start_link
            head = call_arguments(parent)[0] if call_arguments(parent) else None
            if head is not None and head.type == "binary_operator":
                head = head.child_by_field_name("left")
            if head is None:
                return None
            name = text(call_target(head)) if head.type == "call" else text(head)
            if name in _STARTER_DEFS:
                return None
            arity = len(call_arguments(head)) if head.type == "call" else 0
            return f"{name}/{arity}"
        if parent.type == "anonymous_function":
            continue
    return None


def _is_start_value(tuple_node) -> bool:
    """`start: {Mod, fun, args}` in a child spec map or keyword list."""
    pair = tuple_node.parent
    return pair is not None and pair.type == "pair" and keyword_key(pair) == "start"


def _starter_functions(start_calls, module_spans: _ModuleSpans) -> dict:
    """(module, name, arity) -> indices of the parameters that the functions holding these
    start calls start (only a function that calls a start function can start its argument)."""
    starters = {}
    seen = set()
    for call in start_calls:
        definition = enclosing_def(call)
        if definition is None or definition.start_byte in seen:
            continue
        seen.add(definition.start_byte)
        fdef = function_def(definition)
        if fdef is None or fdef.kind not in ("def", "defp"):
            continue
        indices = _parameter_starts(fdef)
        module = module_spans.innermost(definition)
        own = full_module_name(module) if module is not None else None
        if indices and own:
            starters.setdefault((own, fdef.name, fdef.arity), set()).update(indices)
    return starters


_ALIASES = declared_query("(alias) @node")
# Everything extract_process_refs reads, in one pass over the file, by capture name.
_REFERENCES = declared_query("""
((call target: (identifier) @_local) @local_start (#any-of? @_local "start_link" "start"))
((call target: [(identifier) @_spawn (dot right: (identifier) @_spawn)] (arguments . (alias))) @spawn
  (#any-of? @_spawn "spawn" "spawn_link" "spawn_monitor" "spawn_opt"))
((call target: (identifier) @_delegate) @delegation (#eq? @_delegate "defdelegate"))
((call target: (dot left: (identifier) right: (identifier) @_var)) @variable_start
  (#any-of? @_var "start_link" "start" "child_spec"))
[(list) (keywords) (tuple . (alias) . (atom)) (call target: (dot left: [(alias) (atom)] right: (identifier)))] @node
""")
_START_FUNCTIONS = ("start_child", "child_spec", "start_link", "start")


def _names_a_value(alias) -> bool:
    """An alias used as a value (`Mod`, `{Mod, arg}`), not the module of a call (`Mod.fun()`)
    nor a struct name (`%Mod{}`)."""
    parent = alias.parent
    if parent is None:
        return False
    if parent.type == "dot" and parent.child_by_field_name("left") == alias:
        return False
    return parent.type != "struct"


def extract_process_refs(document, path) -> tuple:
    """Places that start or supervise a module: (module, how, start byte, line).

    Counted: list elements shaped as child entries, arguments of start_child / child_spec /
    PartitionSupervisor, `GenServer.start_link(Mod, ...)` outside Mod, and remote
    `Mod.start_link/start/child_spec` calls from another module. Files under test/ are skipped
    (references from tests do not count); config files are handled by extract_config_modules.
    """
    if document.tree is None or document.language != "elixir" or path.is_test or path.is_config:
        return ()
    root = document.tree.root_node
    modules = [module for module, _name in defmodules(root)]
    resolvers = {m.start_byte: _resolver(document, m) for m in modules}
    module_spans = _ModuleSpans(modules)
    refs: set[tuple] = set()

    def record(name, how, node):
        if name:
            refs.add((name, how, node.start_byte, node.start_point[0]))

    found = ts.QueryCursor(cached_query(_REFERENCES)).captures(root)

    # A local `start_link(...)` / `start(...)` call from another function of the module: the
    # module starts itself on demand (`def send(x)` calling `start_link(x)`, linked to the caller).
    for node in found.get("local_start", ()):
        module = module_spans.innermost(node)
        own = full_module_name(module) if module is not None else None
        starter = _self_starter(node)
        if own and starter is not None:
            record(own, f"started on demand by its own {starter}", node)

    # `spawn_link(Mod, :loop, [arg])`, `:proc_lib.spawn_link(Mod, :init, [arg])`: runs Mod's code.
    for node in found.get("spawn", ()):
        module = module_spans.innermost(node)
        resolve, own = resolvers[module.start_byte] if module is not None else (_plain_alias, None)
        name = resolve(call_arguments(node)[0])
        if name and name != own:
            record(name, f"spawned by {text(call_target(node))}", node)

    # Helpers of this file that start the module their caller passes (`start_worker(Mod, arg)`
    # calling `DynamicSupervisor.start_child(sup, %{start: {module, :start_link, [arg]}})`).
    call_names = {node.id: call_name(node) for node in found.get("node", ()) if node.type == "call"}
    start_calls = [
        *found.get("local_start", ()), *found.get("variable_start", ()),
        *(n for n in found.get("node", ()) if n.type == "call" and call_names[n.id][1] in _START_FUNCTIONS),
    ]
    starters = _starter_functions(start_calls, module_spans)
    if starters:
        for node in captured(_ALIAS_ARGUMENT_CALLS, root):
            module = module_spans.innermost(node)
            resolve, own = resolvers[module.start_byte] if module is not None else (_plain_alias, None)
            callee_module, function = call_name(node)
            callee = own if callee_module is None else resolve(call_target(node).child_by_field_name("left"))
            args = call_arguments(node)
            indices = starters.get((callee, function, len(args)), ())
            for index in indices:
                name = resolve(args[index]) if index < len(args) and args[index].type == "alias" else None
                if name and name != callee:
                    record(name, f"started through {function}/{len(args)}", args[index])

    # `defdelegate child_spec(arg), to: Mod.Supervisor`: starting this module starts that one.
    for node in found.get("delegation", ()):
        module = module_spans.innermost(node)
        resolve, own = resolvers[module.start_byte] if module is not None else (_plain_alias, None)
        fdef = function_def(node)
        if fdef is None or fdef.name not in ("child_spec", "start_link", "start"):
            continue
        for key, value, _ in keyword_pairs(trailing_keywords(node)):
            if key == "to":
                written = text(value)
                name = (own + written[len("__MODULE__"):]) if written.startswith("__MODULE__.") and own else resolve(value)
                if name and name != own:
                    record(name, f"{fdef.name} delegated by {own}", value)

    # Every module a supervisor or an application names in its functions is a child or part of
    # one (`maybe = if test?, do: nil, else: Mod`, `List.wrap(maybe)` ...): counted, so that
    # the ways of building a children list that are not a literal list stay unknown.
    for module, _name in defmodules(root):
        info = module_info(document, module)
        if info.uses_module("Supervisor", "Application") is None and not ({"Supervisor", "Application"} & set(info.behaviours)):
            continue
        resolve, own = resolvers[module.start_byte]
        for fdefs in info.functions.values():
            for fdef in fdefs:
                if fdef.body is None:
                    continue
                for node in captured(_ALIASES, fdef.body):
                    if _names_a_value(node):
                        name = resolve(node)
                        if name and name != own:
                            record(name, f"named in {own}", node)

    # Lists, keyword lists and remote calls (`Mod.fun` / `:mod.fun`): the only nodes read below.
    bindings: dict = {}  # definition -> its `name = value` bindings, for the variables in lists
    for node in found.get("node", ()):
        module = module_spans.innermost(node)
        resolve, own = resolvers[module.start_byte] if module is not None else (_plain_alias, None)
        if node.type == "keywords":
            for key, value, _pair in keyword_pairs(node):
                # child_spec: Mod ({PartitionSupervisor, child_spec: Mod}), worker: Mod, ...
                if key not in ("name", "id") and (value.type in ("alias", "tuple") or _is_module_keyword(value)):
                    record(child_entry_module(value, resolve), f"option {key}:", value)
            continue
        if node.type == "list":
            for item in list_items(node):
                if item.type == "keywords":
                    continue
                for candidate in entry_candidates(item, bindings=bindings):
                    name = child_entry_module(candidate, resolve)
                    if name and name != own:
                        record(name, "children list", item)
            continue
        if node.type == "tuple":  # an MFA: `start: {Mod, :start_link, [args]}` or `{Mod, :start, []}`
            items = list_items(node)
            if len(items) == 3 and items[1].type == "atom" and (text(items[1]).startswith(":start") or _is_start_value(node)):
                name = resolve(items[0])
                if name and name != own:
                    record(name, f"start function {text(items[0])}.{text(items[1])[1:]}", node)
            continue
        mod, fun = call_names[node.id]
        if mod is None or mod == "<expr>":
            continue
        mod_resolved = resolve(call_target(node).child_by_field_name("left")) or mod
        if (mod_resolved, fun) in STARTER_CALLS or (mod_resolved == "Task.Supervisor"):
            for position, arg in enumerate(call_arguments(node)[:2]):
                value = bound_value(arg, bindings) if arg.type == "identifier" and text(arg) != "__MODULE__" else arg
                name = child_entry_module(value, resolve)
                if name is None and position == 1 and arg.type == "identifier" and text(arg) != "__MODULE__" and fun == "start_child" and own:
                    # `DynamicSupervisor.start_child(sup, spec)` with a spec we cannot read,
                    # written in a module: most likely the module starting itself (unknown never fires)
                    name = own
                if name and fun in ("start_link", "start") and name == own and mod_resolved in ("GenServer", "Agent", "Supervisor", "DynamicSupervisor"):
                    starter = _self_starter(node)
                    if starter is not None:  # `def open(x)` starting the module on demand
                        record(name, f"started on demand by its own {starter}", node)
                    continue
                if name:
                    record(name, f"{mod}.{fun}", value if value is not None else arg)
            for arg in call_arguments(node):
                if arg.type == "keywords":
                    for key, value, _ in keyword_pairs(arg):
                        if key == "child_spec":
                            record(child_entry_module(value, resolve), f"{mod}.{fun}", value)
            continue
        if fun in ("start_link", "start", "child_spec", "start_child") and mod_resolved != own:
            record(mod_resolved, f"{mod}.{fun}", node)
        if fun is not None and (fun.startswith("start") or fun.endswith("child_spec")):
            # a module handed to another start function (`MySup.start_link(MyApp.Worker, opts)`)
            # is started by it: `%{start: {module, :start_link, args}}` built from the argument
            for arg in call_arguments(node):
                name = child_entry_module(arg, resolve) if arg.type in ("alias", "tuple") else None
                if name and name != mod_resolved and not (name == own and mod_resolved in ("GenServer", "Agent", "Supervisor", "DynamicSupervisor", "Task")):
                    record(name, f"passed to {mod}.{fun}", arg)
    return tuple(sorted(refs))


def _is_module_keyword(node) -> bool:
    """`__MODULE__` (its length tested first: this runs for every keyword value of a file)."""
    return node.end_byte - node.start_byte == len("__MODULE__") and text(node) == "__MODULE__"


def _plain_alias(node) -> str | None:
    return text(node) if node is not None and node.type == "alias" else None


def extract_config_modules(document, path) -> frozenset:
    """Every alias written in config/*.exs (catalog OTP014: such modules are left alone)."""
    if document.tree is None or not path.is_config:
        return frozenset()
    return frozenset(text(n) for n in walk(document.tree.root_node) if n.type == "alias")


# `use GenServer` & co. name one of these (aliases of them too: `alias Task, as: T` spells it).
@requires(b"GenServer", b"Agent", b"Task", b"Supervisor")
def extract_process_modules(document, path) -> tuple:
    """Process modules a file defines: (name, use module, has id: in use options, defines
    child_spec/1, defines __using__, start byte, end byte of the use line, line)."""
    if document.tree is None or document.language != "elixir":
        return ()
    out = []
    for module, name in defmodules(document.tree.root_node):
        info = module_info(document, module)
        use = info.uses_module(*OTP_USE_MODULES)
        if use is None:
            continue
        if name is None:
            continue
        has_id = any(key == "id" for key, _, _ in pairs(use.options)) if use.options is not None else False
        if use.options is not None and use.options.type not in ("keywords", "list"):
            has_id = True  # options we cannot read: unknown id
        defines_spec = info.defines("child_spec", 1)
        using = bool(info.definitions("__using__"))
        out.append((name, use.module, has_id, defines_spec, using, use.node.start_byte, use.node.end_byte, use.node.start_point[0]))
    return tuple(out)


_TASK_SUPERVISOR_ALIASES = declared_query('((alias) @node (#eq? @node "Task.Supervisor"))')


@requires(b"Task.Supervisor")  # matched as written, below
def extract_task_supervisors(document, path) -> tuple:
    """Names of Task.Supervisor children: `{Task.Supervisor, name: X}`."""
    if document.tree is None or document.language != "elixir" or path.is_test:
        return ()
    names = set()
    for alias in captured(_TASK_SUPERVISOR_ALIASES, document.tree.root_node):
        node = alias.parent
        if node is None or node.type != "tuple":
            continue
        items = list_items(node)
        if len(items) == 2 and items[0].type == "alias" and text(items[0]) == "Task.Supervisor":
            for key, value, _ in pairs(literal_keywords(items[1]) or items[1]):
                if key == "name" and value.type == "alias":
                    names.add(text(value))
    return tuple(sorted(names))


@requires(b"Application")  # `use Application`, aliases resolved: the name is spelled out
def extract_applications(document, path) -> tuple:
    """`use Application` modules: (name, start byte, end byte) of their children list or start/2."""
    if document.tree is None or document.language != "elixir" or path.is_test:
        return ()
    out = []
    for module, name in defmodules(document.tree.root_node):
        info = module_info(document, module)
        if info.uses_module("Application") is None:
            continue
        target = None
        for fdef in info.definitions("start", 2):
            target = fdef.node
            for node in walk(fdef.node):
                if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "=":
                    left = node.child_by_field_name("left")
                    if left is not None and text(left) == "children":
                        target = node
                        break
        if target is not None:
            out.append((name or "", target.start_byte, target.end_byte))
    return tuple(out)


def extract_mix_project(document, path) -> tuple:
    """For mix.exs: (is a Hex package (declares package:), starts an application (mod:))."""
    if document.tree is None or path.relative != "mix.exs":
        return ()
    keys = {keyword for keyword in (text(n).rstrip().rstrip(":") for n in walk(document.tree.root_node) if n.type == "keyword")}
    return (("package" in keys), ("mod" in keys))


def literal_int(node) -> int | None:
    return integer_value(node)


def literal_atom(node) -> str | None:
    if node is None or node.type not in ("atom", "quoted_atom", "boolean", "nil"):
        return None
    return atom_value(node)


__all__ = [
    "atom_value",
    "block_body",
    "do_block",
    "effective_arguments",
    "is_literal",
]
