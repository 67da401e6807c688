"""What a project's configuration files set and read, for the rules that judge one config file
by the others (SEC003, SEC004).

Mix evaluates config/config.exs, then the file it imports for the environment (prod.exs and
what that imports), and a release evaluates config/runtime.exs when it boots. A value that a
later file sets again is overridden: a literal development secret in config.exs that runtime.exs
replaces with `System.fetch_env!` never reaches production, and an environment read in prod.exs
that runtime.exs repeats is read again at boot. mix.exs says whether the project is a library
(a Hex package, whose config/ only serves its own tests and development).
"""

from __future__ import annotations

import re

from exhort.rule import requires
from exhort.syntax import (
    atom_value,
    call_arguments,
    call_name,
    is_literal,
    keyword_key,
    string_value,
    text,
    walk,
)

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
# Config files for the development and test environments: never part of a production build.
DEVELOPMENT_FILES = re.compile(r"^config/(?:dev|test)[^/]*\.exs$")
RUNTIME_FILES = ("config/runtime.exs", "config/releases.exs")


@requires(b"config")
def _config_file_facts(document, path):
    """{"file", "sets": ((app, module, key), ...), "keys": (...), "env": (NAME, ...)} for a
    config/*.exs file: keys given a value that is not a literal, every key given a value, and
    environment variables read anywhere."""
    if document.tree is None or not path.is_config:
        return None
    sets: set[tuple[str, str, str]] = set()
    keys: set[tuple[str, str, str]] = set()
    env: set[str] = set()
    for node in walk(document.tree.root_node):
        if node.type != "call":
            continue
        module, function = call_name(node)
        if module is None and function == "config":
            for entry, literal in _keys_set(node):
                keys.add(entry)
                if not literal:
                    sets.add(entry)
        elif function and "env" in function.lower():
            name = _env_name(node)
            if name:
                env.add(name)
    return {"file": path.relative, "sets": tuple(sorted(sets)), "keys": tuple(sorted(keys)), "env": tuple(sorted(env))}


def config_target(call) -> tuple[str, str] | None:
    """(app, module or "") of a `config :app, Module, ...` / `config :app, ...` call."""
    arguments = call_arguments(call)
    if not arguments or arguments[0].type != "atom":
        return None
    app = atom_value(arguments[0])
    module = text(arguments[1]) if len(arguments) >= 2 and arguments[1].type == "alias" else ""
    return (app, module) if app else None


def config_key(node, config) -> str | None:
    """The keyword key whose value holds `node`, inside the `config` call."""
    parent = node.parent
    while parent is not None and parent != config:
        if parent.type == "pair":
            return keyword_key(parent)
        parent = parent.parent
    return None


def enclosing_config(node):
    """The `config :app, ...` call a node is written in, or None."""
    parent = node.parent
    while parent is not None:
        if parent.type == "call" and call_name(parent) == (None, "config"):
            return parent
        parent = parent.parent
    return None


def _keys_set(call):
    target = config_target(call)
    if target is None:
        return
    for node in walk(call):
        if node.type == "pair":
            key = keyword_key(node)
            value = node.child_by_field_name("value")
            if key and value is not None:
                yield (target[0], target[1], key), is_literal(value) and not _system_tuple(value)


def _system_tuple(value) -> bool:
    """`{:system, "VAR"}`: the older convention for a value read from the environment at boot."""
    if value.type != "tuple":
        return False
    items = [c for c in value.named_children if c.type != "comment"]
    return bool(items) and items[0].type == "atom" and atom_value(items[0]) == "system"


def _env_name(call) -> str | None:
    """The variable an environment read names: `System.get_env("X")`, or a project helper such
    as `env!("X")` or `env_var_to_config!(:x)` (its atom names the variable in lower case)."""
    arguments = call_arguments(call)
    if not arguments:
        return None
    first = arguments[0]
    if first.type == "string":
        value = string_value(first)
        return value if value and ENV_NAME.match(value) else None
    if first.type == "atom":
        value = atom_value(first)
        return value.upper() if value and re.match(r"^[a-z][a-z0-9_]*$", value) else None
    return None


@requires(b"project")
def _mix_project_facts(document, path):
    """{"library": True} for a mix.exs that declares a Hex package (`package:`)."""
    if document.tree is None or path.name != "mix.exs":
        return None
    for node in walk(document.tree.root_node):
        if node.type == "pair" and keyword_key(node) == "package":
            return {"library": True}
    return None


FACTS = {"config_files": _config_file_facts, "mix_project": _mix_project_facts}


def project_facts(ctx, name: str):
    """(relative path, fact) of every file of the checked file's own project that has `name`."""
    workspace = ctx.workspace
    if workspace is None:
        return []
    root = workspace.project_root_of(ctx.document.path)
    return [
        (path, fact) for path, fact in workspace.facts(name)
        if workspace.project_root_of(path) == root
    ]


def overriding_files(relative: str) -> tuple[str, ...] | None:
    """Config files evaluated after `relative` in a production build and boot: for config.exs every
    non-development file; for another build-time file, the run-time files; None for runtime.exs."""
    if relative in RUNTIME_FILES:
        return None
    if relative == "config/config.exs":
        return ("*",)
    return RUNTIME_FILES


def set_again(ctx, app: str, module: str, key: str, *, any_value: bool = False) -> bool:
    """A later production config file sets `key` of `app` (and `module`) to a non-literal (or,
    with `any_value`, to anything)."""
    later = overriding_files(ctx.path.relative)
    if later is None:
        return False
    for _path, fact in project_facts(ctx, "config_files"):
        file = fact["file"]
        if file == ctx.path.relative or DEVELOPMENT_FILES.match(file):
            continue
        if later != ("*",) and file not in later:
            continue
        if (app, module, key) in {tuple(entry) for entry in fact["keys" if any_value else "sets"]}:
            return True
    return False


def read_at_boot(ctx, variable: str) -> bool:
    """config/runtime.exs (or releases.exs) of the same project reads environment `variable`."""
    for _path, fact in project_facts(ctx, "config_files"):
        if fact["file"] in RUNTIME_FILES and variable in fact["env"]:
            return True
    return False


def is_library(ctx) -> bool:
    return any(fact.get("library") for _path, fact in project_facts(ctx, "mix_project"))
