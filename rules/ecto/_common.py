"""Shared helpers for the backend hygiene rules (ECT*, SEC002-006, PRF002, STY002).

Repo detection, loop contexts, migration reading and the workspace facts those rules need.
Everything answers from syntax alone; when it cannot tell, it says so (None / False).
"""

from __future__ import annotations

import re

from exhort.execution import Runs, file_runs
from exhort.rule import module_info, requires
from exhort.syntax import (
    ModuleInfo,
    ancestors,
    atom_value,
    call_arguments,
    call_name,
    call_target,
    defmodules,
    do_block,
    effective_arguments,
    enclosing_function,
    is_literal,
    keyword_pairs,
    module_members,
    string_value,
    text,
    trailing_keywords,
    walk,
)

# -- Repo detection -----------------------------------------------------------------------


# `use Ecto.Repo`, aliases resolved: the last segment "Repo" is always written out.
@requires(b"Repo")
def _repo_facts(document, _path):
    """(module name, adapter or "") for every module that `use Ecto.Repo`."""
    if document.tree is None:
        return ()
    found = []
    for module, _full in defmodules(document.tree.root_node):
        info = module_info(document, module)
        use = info.uses_module("Ecto.Repo")
        if use is None or info.name is None:
            continue
        adapter = ""
        for key, value, _ in keyword_pairs(use.options):
            if key == "adapter" and value.type == "alias":
                adapter = text(value)
        found.append((info.name, adapter))
    return tuple(found)


def repo_modules(ctx) -> dict[str, str]:
    """Workspace modules that `use Ecto.Repo` -> adapter ("" when not written there)."""
    if ctx.workspace is None:
        return {}
    return ctx.workspace.derived("ecto_repo_modules", _repo_modules)


def _repo_modules(index) -> dict[str, str]:
    return {name: adapter for _path, records in index.facts("ecto_repos") for name, adapter in records}


def named_like_repo(module_text: str) -> bool:
    """`Repo`, `MyApp.Repo`, `MyApp.ReadRepo`: the naming convention Ecto repos follow."""
    return module_text.rsplit(".", 1)[-1].endswith("Repo")


def repo_name(ctx, module: ModuleInfo | None, module_text: str | None) -> str | None:
    """The resolved Repo module a call goes to, or None when it is not (known to be) a Repo."""
    if not module_text or module_text.startswith(":") or module_text == "<expr>":
        return None
    resolved = module.resolve_alias(module_text) if module is not None else module_text
    if resolved in ("Ecto.Repo",) or resolved.startswith("Ecto."):
        return None
    if named_like_repo(resolved):
        return resolved
    if resolved in repo_modules(ctx):
        return resolved
    return None


def repo_adapter(ctx, repo: str | None) -> str | None:
    """The adapter a Repo declares in `use Ecto.Repo, adapter: ...`, or None when unknown."""
    if repo is None:
        return None
    adapter = repo_modules(ctx).get(repo)
    return adapter or None


def is_multi(module: ModuleInfo | None, module_text: str | None) -> bool:
    """`Ecto.Multi` written in full or through an alias (a bare `Multi` counts too)."""
    if not module_text:
        return False
    if module_text == "Ecto.Multi":
        return True
    resolved = module.resolve_alias(module_text) if module is not None else module_text
    return resolved == "Ecto.Multi" or (module_text == "Multi" and resolved == "Multi")


# -- loops ---------------------------------------------------------------------------------

ENUM_LOOPS = frozenset({"map", "each", "flat_map", "filter", "reduce", "map_reduce", "find"})


def is_small_literal_collection(node) -> bool:
    """A literal list or a literal range such as `1..3`: not an N+1 source."""
    if node is None:
        return False
    if node.type in ("list", "tuple", "map") and is_literal(node):
        return True
    if node.type == "sigil":  # ~w(a b c)
        return not any(c.type == "interpolation" for c in walk(node))
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) in ("..", "..//"):
        return is_literal(node.child_by_field_name("left")) and is_literal(node.child_by_field_name("right"))
    return False


def loop_of(node, stop=None):
    """The nearest loop that runs `node` once per element: (loop call, collection) or None.

    Loops are the function argument of Enum.map/each/flat_map/filter/reduce/map_reduce/find
    and of any Stream function, and the body of a `for`. The walk stops at the enclosing def.
    """
    child = node
    for parent in ancestors(node):
        if stop is not None and parent == stop:
            return None
        if parent.type == "call":
            mod, fun = call_name(parent)
            if mod is None and fun in ("def", "defp", "defmacro", "defmacrop"):
                return None
            if mod is None and fun == "for":
                body = _for_body(parent)
                if body is not None and _contains(body, node):
                    generators = [
                        a for a in call_arguments(parent)
                        if a.type == "binary_operator" and text(a.child_by_field_name("operator")) == "<-"
                    ]
                    collections = [g.child_by_field_name("right") for g in generators]
                    return parent, collections
            if (mod == "Enum" and fun in ENUM_LOOPS) or mod == "Stream":
                arguments = effective_arguments(parent)
                function_argument = _function_argument_containing(arguments, node)
                if function_argument is not None and arguments and function_argument != arguments[0]:
                    return parent, [arguments[0]]
        child = parent
    del child
    return None


def _for_body(call):
    block = do_block(call)
    if block is not None:
        return block
    for key, value, _ in keyword_pairs(trailing_keywords(call)):
        if key == "do":
            return value
    return None


def _contains(outer, inner) -> bool:
    return outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte


def _function_argument_containing(arguments, node):
    for argument in arguments:
        if argument.type in ("anonymous_function", "unary_operator") and _contains(argument, node):
            if argument.type == "unary_operator" and text(argument.child_by_field_name("operator")) != "&":
                continue
            return argument
    return None


# -- migrations ------------------------------------------------------------------------------

INDEX_OPS = frozenset({"create", "create_if_not_exists", "drop", "drop_if_exists"})


def index_call(op_call):
    """For `create index(...)` / `create unique_index(...)`: (op, index call) or None."""
    mod, fun = call_name(op_call)
    if mod is not None or fun not in INDEX_OPS:
        return None
    arguments = call_arguments(op_call)
    if not arguments or arguments[0].type != "call":
        return None
    inner_mod, inner_fun = call_name(arguments[0])
    if inner_mod is None and inner_fun in ("index", "unique_index"):
        return fun, arguments[0]
    return None


def name_value(node) -> str | None:
    """`:posts` or `"posts"` -> "posts"."""
    value = atom_value(node)
    if value is not None and node.type in ("atom", "quoted_atom"):
        return value
    return string_value(node)


def index_columns(index) -> tuple[str | None, tuple[str, ...]]:
    """(table, columns) of `index(:table, [:a, :b])`; unknown parts are None / ()."""
    arguments = call_arguments(index)
    if len(arguments) < 2:
        return (name_value(arguments[0]) if arguments else None), ()
    table = name_value(arguments[0])
    columns_node = arguments[1]
    if columns_node.type == "list":
        columns = tuple(name_value(c) or "" for c in columns_node.named_children if c.type != "comment")
    else:
        value = name_value(columns_node)
        columns = (value,) if value is not None else ()
    return table, columns


def _migration_calls(document, path):
    """Every call of a parsed migration file (see `_is_migration_file`); none for other files."""
    if document.tree is None or not _is_migration_file(document, path):
        return
    for node in walk(document.tree.root_node):
        if node.type == "call":
            yield node


def _migration_index_facts(document, path):
    """(table, columns) of every index a migration creates: `create index(...)`, raw
    `CREATE INDEX ... ON table (...)` SQL in `execute`, and the primary key of each table it
    creates (PostgreSQL indexes a primary key). Columns are in index order; an expression
    column is ""."""
    found = set()
    for node in _migration_calls(document, path):
        found_index = index_call(node)
        if found_index is not None:
            if found_index[0] in ("create", "create_if_not_exists"):
                table, columns = index_columns(found_index[1])
                if table and columns and columns[0]:
                    found.add((table, columns))
            continue
        mod, fun = call_name(node)
        if mod is None and fun == "execute":
            for argument in call_arguments(node):
                found.update(raw_sql_indexes(text(argument)))
        elif mod is None and fun in ("create", "create_if_not_exists"):
            key = primary_key(node)
            if key is not None:
                found.add(key)
    return tuple(sorted(found))


_CREATE_INDEX = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:[\w\"]+\s+)?"
    r"ON\s+(?:ONLY\s+)?([\w.\"]+)\s*(?:USING\s+\w+\s*)?\(([^;]*?)\)\s*(?:WHERE|INCLUDE|WITH|TABLESPACE|;|$|\\n|\"|\))",
    re.IGNORECASE | re.MULTILINE,
)
_PLAIN_COLUMN = re.compile(r'^"?([A-Za-z_][A-Za-z0-9_]*)"?(?:\s+(?:ASC|DESC|NULLS\s+(?:FIRST|LAST)|[a-z_]+_ops))*$', re.IGNORECASE)


def raw_sql_text(scope) -> str:
    """The text of every `execute` statement under `scope`, one per line."""
    parts = []
    for node in walk(scope):
        if node.type == "call" and call_name(node) == (None, "execute"):
            for argument in call_arguments(node):
                value = string_value(argument) if argument.type == "string" else None
                parts.append(value if value is not None else text(argument))
    return "\n".join(parts)


def _migration_sql_facts(document, path) -> str:
    """A migration file's raw SQL (see raw_sql_text): ECT005 reads it from other functions
    of the same migration, and the fact makes their edits re-run the check."""
    if document.tree is None or not _is_migration_file(document, path):
        return ""
    return raw_sql_text(document.tree.root_node)


def raw_sql_indexes(sql: str) -> set[tuple[str, tuple[str, ...]]]:
    """(table, columns) of each `CREATE INDEX ... ON [schema.]table [USING m] (a, b)` in SQL
    text; an expression column (`lower(email)`) is ""."""
    found = set()
    for match in _CREATE_INDEX.finditer(sql):
        table = match.group(1).replace('"', "").rsplit(".", 1)[-1]
        columns = []
        for part in _split_columns(match.group(2)):
            plain = _PLAIN_COLUMN.match(part.strip())
            columns.append(plain.group(1) if plain else "")
        if table and columns and "#{" not in match.group(0):
            found.add((table, tuple(columns)))
    return found


def _split_columns(columns: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in columns:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += char == "("
        depth -= char == ")"
        current.append(char)
    parts.append("".join(current))
    return parts


def primary_key(create_call):
    """(table, primary-key columns) of `create table(:t, primary_key: false) do add :a, ...,
    primary_key: true ... end`; None when the table keeps Ecto's default `id` key or the key is
    not written out."""
    arguments = call_arguments(create_call)
    table = _table_name(arguments[0]) if arguments else None
    body = do_block(create_call)
    if table is None or body is None:
        return None
    columns = []
    for add in walk(body):
        if add.type != "call" or call_name(add) not in ((None, "add"), (None, "add_if_not_exists")):
            continue
        add_arguments = call_arguments(add)
        column = name_value(add_arguments[0]) if add_arguments else None
        options = {key: text(value) for key, value, _ in keyword_pairs(trailing_keywords(add))}
        if column and options.get("primary_key") == "true":
            columns.append(column)
    return (table, tuple(columns)) if columns else None


def in_down(node) -> bool:
    """Inside `def down`: a rollback path, not the schema going forward."""
    for parent in ancestors(node):
        if parent.type == "call" and call_name(parent) == (None, "def"):
            head = call_arguments(parent)
            name = head[0] if head else None
            if name is not None and name.type == "call":
                name = name.child_by_field_name("target")
            return name is not None and text(name) == "down"
    return False


def _table_name(call):
    """`table(:posts)` / `table("posts", ...)` -> "posts"."""
    names = table_names(call)
    return names[0] if len(names) == 1 else None


def table_names(call) -> list[str]:
    """The tables `table(...)` names: one for `table(:posts)`; every element for `table(name)`
    inside `for name <- [:a, :b]` (or a module attribute holding such a list); [] if unknown."""
    if call is None or call.type != "call" or call_name(call) != (None, "table"):
        return []
    arguments = call_arguments(call)
    if not arguments:
        return []
    value = name_value(arguments[0])
    if value is not None:
        return [value]
    if arguments[0].type == "identifier":
        return _for_generator_values(call, text(arguments[0]))
    return []


def _for_generator_values(node, name: str) -> list[str]:
    for parent in ancestors(node):
        if parent.type != "call" or call_name(parent) != (None, "for"):
            continue
        for generator in call_arguments(parent):
            if generator.type != "binary_operator" or text(generator.child_by_field_name("operator")) != "<-":
                continue
            left, right = generator.child_by_field_name("left"), generator.child_by_field_name("right")
            if left is None or text(left) != name:
                continue
            if right is not None and right.type == "unary_operator" and text(right.child_by_field_name("operator")) == "@":
                operand = right.child_by_field_name("operand")
                module = next((p for p in ancestors(node) if p.type == "call" and call_name(p) == (None, "defmodule")), None)
                right = module_attribute(module, text(operand)) if module is not None and operand is not None else None
            if right is None or right.type != "list":
                return []
            values = [name_value(item) for item in right.named_children if item.type != "comment"]
            return [v for v in values if v] if all(values) else []
    return []


def _migration_drop_facts(document, path):
    """(migration file name, table, column or "") for every table a migration drops or renames
    and every column it removes or renames, outside `def down`: what later migrations take
    away again (a renamed key's index would be on the new name: unknown here)."""
    found = set()
    for node in _migration_calls(document, path):
        mod, fun = call_name(node)
        if mod is not None or in_down(node):
            continue
        if fun in ("drop", "drop_if_exists"):
            arguments = call_arguments(node)
            for table in table_names(arguments[0]) if arguments else []:
                found.add((path.name, table, ""))
        elif fun == "rename":
            arguments = call_arguments(node)
            for table in table_names(arguments[0]) if arguments else []:
                column = name_value(arguments[1]) if len(arguments) >= 3 else None
                if len(arguments) >= 3 and column:
                    found.add((path.name, table, column))  # rename(table(:t), :old, to: :new)
                elif len(arguments) == 2:
                    found.add((path.name, table, ""))  # rename(table(:old), to: table(:new))
        elif fun in ("remove", "remove_if_exists"):
            arguments = call_arguments(node)
            column = name_value(arguments[0]) if arguments else None
            for table in enclosing_alter_tables(node) if column else []:
                found.add((path.name, table, column))
    return tuple(sorted(found))


def enclosing_alter_tables(node) -> list[str]:
    """The tables of the `alter table(...) do ... end` block around `node` (see table_names)."""
    for parent in ancestors(node):
        if parent.type == "call" and call_name(parent) == (None, "alter"):
            arguments = call_arguments(parent)
            return table_names(arguments[0]) if arguments else []
    return []


def _repo_config_facts(document, path):
    """(repo module, key, value) for `config :app, Repo, migration_lock: ...` in config files."""
    if document.tree is None or not path.is_config:
        return ()
    found = []
    for node in walk(document.tree.root_node):
        if node.type != "call" or call_name(node) != (None, "config"):
            continue
        arguments = call_arguments(node)
        if len(arguments) < 3 or arguments[1].type != "alias":
            continue
        for key, value, _ in keyword_pairs(arguments[-1]):
            if key in ("migration_lock",):
                found.append((text(arguments[1]), key, text(value)))
    return tuple(found)


# -- helpers that only migrations call ---------------------------------------------------------


def _is_migration_file(document, path) -> bool:
    """A file of migrations: in a migrations folder, or a module that `use Ecto.Migration`."""
    if path.is_migration or "migrations" in path.parts[:-1]:
        return True
    return b"Ecto.Migration" in document.data and file_runs(path) is Runs.PRODUCTION and any(
        module_info(document, module).uses_module("Ecto.Migration") is not None
        for module, _full in defmodules(document.tree.root_node)
    )


def _migration_call_facts(document, path):
    """(module, function) of every workspace function a migration calls: `Mod.fun(...)` with
    aliases resolved, and the local calls a migration makes to the modules it imports."""
    if document.tree is None or not _is_migration_file(document, path):
        return ()
    found = set()
    for module, _full in defmodules(document.tree.root_node):
        info = module_info(document, module)
        imported = []
        local_names = set()
        for node in walk(module):
            if node.type != "call":
                continue
            mod, fun = call_name(node)
            if fun is None:
                continue
            if mod is None:
                if fun == "import":
                    arguments = call_arguments(node)
                    if arguments and arguments[0].type == "alias":
                        imported.append(info.resolve_alias(text(arguments[0])))
                else:
                    local_names.add(fun)
            elif mod[:1].isupper():
                found.add((info.resolve_alias(mod), fun))
        found.update((module_name, fun) for module_name in imported for fun in local_names)
    return tuple(sorted(found))


# `Alias.function(` and `&Alias.function/`: the remote calls a file makes, read from its bytes
# (twice as fast as a pattern that also matches the alias; the odd `map.field(` it adds only
# makes a helper look called from production, the safe side).
_REMOTE_CALL = re.compile(rb"\.([a-z_][A-Za-z0-9_]*[?!]?)[(/]")


def _remote_call_facts(document, path):
    """Names of the functions a production file calls on other modules."""
    if file_runs(path) is not Runs.PRODUCTION or _is_migration_file(document, path):
        return frozenset()
    return frozenset(match.group(1).decode() for match in _REMOTE_CALL.finditer(document.data))


def migration_only_helper(ctx, node) -> bool:
    """`node` is in a public function of a lib module that migrations call (`import
    MyApp.Data, only: [backfill: 0]` or `MyApp.Data.backfill()` in a migration) and that no
    production file and no other function of its module calls: it runs at deploy time, once,
    like the migration itself."""
    if ctx.workspace is None:
        return False
    definition = enclosing_function(node)
    module = ctx.module_of(node)
    if definition is None or definition.kind != "def" or module is None or module.name is None:
        return False
    called = ctx.workspace.derived("ecto_migration_calls", _functions_migrations_call)
    if (module.name, definition.name) not in called:
        return False
    if definition.name in ctx.workspace.derived("ecto_remote_calls", _functions_production_calls):
        return False
    own_clauses = [d.node for d in module.definitions(definition.name)]
    for other in walk(module.node):
        if other.type == "call" and call_name(other) == (None, definition.name):
            if not any(c.start_byte <= other.start_byte < c.end_byte for c in own_clauses):
                return False  # called from elsewhere in its own module
    return True


def _functions_migrations_call(index) -> frozenset:
    return frozenset(item for _path, items in index.facts("migration_calls") for item in items)


def _functions_production_calls(index) -> frozenset:
    return frozenset(name for path, names in index.facts("remote_call_names") for name in names)


FACTS = {
    "ecto_repos": _repo_facts,
    "migration_indexes": _migration_index_facts,
    "ecto_repo_config": _repo_config_facts,
    "migration_drops": _migration_drop_facts,
    "migration_sql": _migration_sql_facts,
    "migration_calls": _migration_call_facts,
    "remote_call_names": _remote_call_facts,
}


def is_migration_module(ctx, node) -> bool:
    if ctx.path.is_migration:
        return True
    module = ctx.module_of(node)
    return module is not None and module.uses_module("Ecto.Migration") is not None


def module_attribute(module_node, name: str):
    """The value node of `@name value` written directly in the module body, or None."""
    for member in module_members(module_node):
        if member.type != "unary_operator" or text(member.child_by_field_name("operator")) != "@":
            continue
        operand = member.child_by_field_name("operand")
        if operand is not None and operand.type == "call" and call_name(operand) == (None, name):
            arguments = call_arguments(operand)
            if arguments:
                return arguments[0]
    return None


def values_bound_before(node, name: str, within) -> list:
    """The right-hand sides of every `name = value` inside `within` that starts before `node`,
    in source order: the last one is what the variable holds at `node`."""
    found = []
    for candidate in walk(within):
        if candidate.start_byte >= node.start_byte:
            break
        if candidate.type == "binary_operator" and text(candidate.child_by_field_name("operator")) == "=":
            left = candidate.child_by_field_name("left")
            if left is not None and left.type == "identifier" and text(left) == name:
                found.append(candidate.child_by_field_name("right"))
    return found


def binds(node, name: str):
    """Assignments `name = expr` before `node` in its enclosing function body: the exprs."""
    for parent in ancestors(node):
        if parent.type == "call" and call_name(parent)[0] is None and call_name(parent)[1] in (
            "def", "defp", "defmacro", "defmacrop"
        ):
            return values_bound_before(node, name, parent)
    return []


def call_target_text(call) -> str:
    return text(call_target(call))


def indentation_at(ctx, offset: int) -> str:
    """The whitespace before `offset` on its line ("" when code precedes it there): what an
    inserted line needs to line up with the node starting at `offset`."""
    data = ctx.data
    line_start = data.rfind(b"\n", 0, offset) + 1
    prefix = data[line_start:offset]
    return prefix.decode() if not prefix.strip() else ""
