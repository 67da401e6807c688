"""Where a piece of code runs: in production, in the tests, in the build, in a migration, at
an operator's console, or inside the compiler.

Rules about run-time risk (atoms made from input, SQL built by interpolation, unsupervised
processes, infinite timeouts, IO output, Repo calls in loops, ...) describe what can go wrong
while the deployed system serves requests and jobs. The same code written in a test, a Mix
task, a migration, a release task run by hand, or a macro that runs while the project compiles
is not that risk, and reporting it there is noise. Rules ask `Context.runs(node)` and decide
per rule which places they speak about; `Rule(runs_in=...)` lets the engine drop the rest.

Everything here is judged from syntax and the file's place in its Mix project:

- the path (test/, priv/repo/migrations/, lib/mix/tasks/, config/, scripts);
- the enclosing module's name and `use` lines (`use ExUnit.CaseTemplate`, `use Mix.Task`,
  `use Ecto.Migration`, `MyApp.Release`, `MyApp.Testing`);
- the node's place in the module (macro bodies, `quote`, module attributes and module-body
  code run at compile time, and so do the private helpers that only those call).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from tree_sitter import Node

from .project import ProjectPath
from .syntax import (
    DEF_KINDS,
    ancestors,
    call_name,
    call_target,
    function_def,
    in_module_attribute,
    is_definition_head,
    is_defmodule,
    module_members,
    module_name,
    text,
)

if TYPE_CHECKING:
    from .document import Document


class Runs(enum.Enum):
    PRODUCTION = "production"  # serves requests and jobs in the deployed system
    TEST = "test"  # tests and test support: case templates, factories, test helpers
    BUILD = "build"  # mix.exs, Mix tasks, generators, ad-hoc scripts
    MIGRATION = "migration"  # Ecto migrations and the modules kept beside them
    OPERATOR = "operator"  # release tasks, seeds and data fixes run by hand from a console
    CONFIG = "config"  # config/*.exs, evaluated once at build or boot
    COMPILE_TIME = "compile_time"  # macros, quote, module attributes, module-body code


# Module `use`s that say what a module is for, whatever its path.
_USE_ROLES = {
    "ExUnit.Case": Runs.TEST,
    "ExUnit.CaseTemplate": Runs.TEST,
    "ExMachina": Runs.TEST,
    "ExMachina.Ecto": Runs.TEST,
    "Mix.Task": Runs.BUILD,
    "Ecto.Migration": Runs.MIGRATION,
}
# Last parts of module names that projects give their test helpers and console-only tasks.
_TEST_NAME_PARTS = frozenset({"Test", "Testing", "TestHelpers", "TestHelper", "TestSupport", "Factory", "Fixtures"})
_OPERATOR_NAME_PARTS = frozenset({"Release", "ReleaseTasks", "Seeds", "DataMigrations", "DataMigration"})
# `unquote` outside a quote is an unquote fragment (`def unquote(name)()` in a module-body `for`):
# the compiler evaluates it while it defines the function.
_COMPILE_TIME_CALLS = frozenset({"quote", "unquote", "unquote_splicing", "defmacro", "defmacrop", "defguard", "defguardp"})


def file_runs(path: ProjectPath) -> Runs:
    """Where a file's code runs, judged from its path alone."""
    if path.is_test:
        return Runs.TEST
    if path.is_config:
        return Runs.CONFIG
    if path.is_migration or "migrations" in path.parts[:-1]:
        return Runs.MIGRATION
    if path.is_mix_task or path.name == "mix.exs":
        return Runs.BUILD
    if path.is_seeds or "seeds" in path.parts[:-1]:
        return Runs.OPERATOR
    if path.is_script:
        return Runs.BUILD
    return Runs.PRODUCTION


def module_runs(name: str | None, uses: list[str]) -> Runs | None:
    """Where a module's code runs, from its name and `use` lines; None when they don't say."""
    for used in uses:
        role = _USE_ROLES.get(used)
        if role is not None:
            return role
    if not name:
        return None
    parts = name.split(".")
    if parts[0] == "Mix" and parts[1:2] == ["Tasks"]:
        return Runs.BUILD
    if any(part in _TEST_NAME_PARTS for part in parts[1:]):
        return Runs.TEST
    if any(part in _OPERATOR_NAME_PARTS for part in parts[1:]):
        return Runs.OPERATOR
    return None


def runs(document: "Document", path: ProjectPath, node: Node) -> Runs:
    """Where `node` runs: the file's role, refined by its module, then by compile time."""
    role = file_runs(path)
    if role is not Runs.PRODUCTION:
        return role
    module = _enclosing_defmodule(node)
    if module is None:
        return role
    facts = _module_facts(document, module)
    if facts.role is not None:
        return facts.role
    if _at_compile_time(node, module, facts):
        return Runs.COMPILE_TIME
    return Runs.PRODUCTION


class _ModuleFacts:
    __slots__ = ("role", "compile_time_helpers")

    def __init__(self, role: Runs | None, compile_time_helpers: frozenset[str]) -> None:
        self.role = role
        # Private functions whose every call in the module runs at compile time.
        self.compile_time_helpers = compile_time_helpers


def _module_facts(document: "Document", module: Node) -> _ModuleFacts:
    key = ("execution", module.start_byte, module.end_byte)
    facts = document.memo.get(key)
    if facts is None:
        facts = _read_module_facts(module)
        document.memo[key] = facts
    return facts


def _read_module_facts(module: Node) -> _ModuleFacts:
    members = module_members(module)
    uses: list[str] = []
    private: set[str] = set()
    has_macros = False
    for member in members:
        if member.type != "call":
            continue
        mod, fun = call_name(member)
        if mod is not None:
            continue
        if fun == "use":
            first = _first_argument(member)
            if first is not None and first.type == "alias":
                uses.append(text(first))
        elif fun == "defp":
            definition = function_def(member)
            if definition is not None:
                private.add(definition.name)
        elif fun in ("defmacro", "defmacrop"):
            has_macros = True
    name = _full_name(module)
    role = module_runs(name, uses)
    helpers: frozenset[str] = frozenset()
    if has_macros and private:
        helpers = _compile_time_helpers(members, private)
    return _ModuleFacts(role, helpers)


def _compile_time_helpers(members: list[Node], private: set[str]) -> frozenset[str]:
    """Private functions called only from compile-time code (macro bodies, quote, attributes)
    or from other such helpers: a fixed point over the module's local calls."""
    called: set[str] = set()
    # For each private function, who calls it at run time: the name of the private function
    # the call is written in, or None for any other place (a `def`, the module body).
    run_time_callers: dict[str, set[str | None]] = {name: set() for name in private}
    for member in members:
        if member.type != "call":
            continue
        definition = function_def(member)
        in_macro = definition is not None and definition.kind in ("defmacro", "defmacrop")
        owner = definition.name if definition is not None and definition.kind == "defp" else None
        for site, name in _local_calls(member, private):
            called.add(name)
            if not in_macro and not _compile_time_syntax(site, member):
                run_time_callers[name].add(owner)
    compile_time = set(called)
    changed = True
    while changed:
        changed = False
        for name in list(compile_time):
            if any(caller is None or (caller != name and caller not in compile_time)
                   for caller in run_time_callers[name]):
                compile_time.discard(name)
                changed = True
    return frozenset(compile_time)


def _local_calls(member: Node, names: set[str]):
    """(node, name) for each local call or capture of one of `names` inside `member`,
    excluding the head of a definition of that name."""
    stack = [member]
    while stack:
        node = stack.pop()
        if node.type == "call":
            target = call_target(node)
            if target is not None and target.type == "identifier":
                name = text(target)
                if name in names and not is_definition_head(node):
                    yield node, name
        elif node.type == "unary_operator":
            operator = node.child_by_field_name("operator")
            if operator is not None and text(operator) == "&":
                operand = node.child_by_field_name("operand")
                if operand is not None and operand.type == "binary_operator":
                    left = operand.child_by_field_name("left")
                    if left is not None and left.type == "identifier" and text(left) in names:
                        yield node, text(left)
        stack.extend(reversed(node.named_children))


def _compile_time_syntax(node: Node, stop: Node) -> bool:
    """Inside `quote`, a macro or guard definition, or a module attribute, below `stop`."""
    if in_module_attribute(node):
        return True
    for parent in ancestors(node):
        if parent.type == "call":
            target = call_target(parent)
            if target is not None and target.type == "identifier" and text(target) in _COMPILE_TIME_CALLS:
                return True
        if parent == stop:
            return False
    return False


def _at_compile_time(node: Node, module: Node, facts: _ModuleFacts) -> bool:
    if in_module_attribute(node):
        return True
    definition = None
    for parent in ancestors(node):
        if parent.type != "call":
            continue
        target = call_target(parent)
        if target is None or target.type != "identifier":
            continue
        name = text(target)
        if name in _COMPILE_TIME_CALLS:
            return True
        if name in DEF_KINDS and definition is None:
            definition = parent
        if name == "defmodule":
            break
    if definition is None:
        # Module-body code outside any definition runs while the module compiles.
        return not is_defmodule(node)
    read = function_def(definition)
    return read is not None and read.kind == "defp" and read.name in facts.compile_time_helpers


def _enclosing_defmodule(node: Node) -> Node | None:
    for parent in ancestors(node):
        if parent.type == "call" and is_defmodule(parent):
            return parent
    return None


def _first_argument(call: Node) -> Node | None:
    for child in call.named_children:
        if child.type == "arguments":
            return child.named_children[0] if child.named_children else None
    return None


def _full_name(module: Node) -> str | None:
    parts = []
    current: Node | None = module
    while current is not None:
        name = module_name(current)
        if name is None:
            return None
        parts.append(name)
        current = _enclosing_defmodule(current)
    return ".".join(reversed(parts))
