"""Shared helpers of the Oban pack: worker detection, option validation, job `new/2` calls,
perform/1 tails and the workspace facts (workers, Oban config, tz dependencies)."""

from __future__ import annotations

import difflib
from typing import Iterator

from exhort.rule import module_info, requires
from exhort.syntax import (
    ModuleInfo,
    Node,
    UseDecl,
    ancestors,
    atom_value,
    call_arguments,
    call_name,
    call_target,
    defmodules,
    effective_arguments,
    integer_value,
    is_literal,
    keyword_pairs,
    module_name,
    string_value,
    tails,
    text,
    walk,
)

LATEST = (2, 23, 1)  # catalog 0.1: latest Oban release, assumed without a mix.lock

WORKER_OPTIONS = ("max_attempts", "priority", "queue", "replace", "tags", "unique")
UNIQUE_KEYS = ("fields", "keys", "period", "states", "timestamp")
UNIQUE_FIELDS = ("args", "meta", "queue", "worker")
STATES = ("suspended", "scheduled", "available", "executing", "retryable", "completed", "discarded", "cancelled")
STATE_GROUPS = {
    "incomplete": frozenset({"suspended", "available", "scheduled", "executing", "retryable"}),
    "successful": frozenset({"suspended", "available", "scheduled", "executing", "retryable", "completed"}),
    "scheduled": frozenset({"scheduled"}),
    "all": frozenset(STATES),
}
REPLACE_FIELDS = ("args", "max_attempts", "meta", "priority", "queue", "scheduled_at", "tags", "worker")
PERIOD_UNITS = frozenset(
    {"second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks"}
)
JOB_OPTIONS = (
    "max_attempts", "meta", "priority", "queue", "replace", "replace_args", "schedule_in", "scheduled_at",
    "tags", "unique", "worker", "args", "attempt", "attempted_at", "attempted_by", "cancelled_at",
    "completed_at", "discarded_at", "errors", "inserted_at", "state",
)


def oban_version(ctx) -> tuple[int, ...]:
    version = ctx.version("oban")
    return tuple(version) if version else LATEST


def is_main(version: tuple[int, ...]) -> bool:
    """Unreleased [main] behaviour: anything after the latest release."""
    return version > LATEST


# -- workers ------------------------------------------------------------------------------


def in_test_script(ctx) -> bool:
    """A test script (test/**/*.exs): workers defined there are fixtures, often invalid on purpose
    to exercise Oban's own checks (found in Oban's test suite). test/support/*.ex is compiled
    support code and is still checked."""
    return ctx.path.is_test and ctx.path.relative.endswith(".exs")


def worker_use(module: ModuleInfo | None) -> UseDecl | None:
    """The `use Oban.Worker` line of a module (aliases resolved); Pro workers are not workers."""
    if module is None or module.uses_module("Oban.Pro.Worker") is not None:
        return None
    return module.uses_module("Oban.Worker")


def is_worker_use_call(ctx, call: Node) -> bool:
    if call.type != "call" or call_name(call) != (None, "use"):
        return False
    args = call_arguments(call)
    if not args or args[0].type != "alias":
        return False
    module = ctx.module_of(call)
    name = module.resolve_alias(text(args[0])) if module is not None else text(args[0])
    if name != "Oban.Worker":
        return False
    return module is None or module.uses_module("Oban.Pro.Worker") is None


def worker_use_at(ctx, call: Node) -> tuple[ModuleInfo, UseDecl] | None:
    """(worker module, its `use Oban.Worker` line) when `call` is that line; rules that check a
    worker once anchor on it. None for any other call."""
    if not is_worker_use_call(ctx, call):
        return None
    module = ctx.module_of(call)
    use = worker_use(module)
    if use is None or use.node != call:
        return None
    return module, use


def resolve(ctx, node: Node, name: str) -> str:
    module = ctx.module_of(node)
    return module.resolve_alias(name) if module is not None else name


def is_oban_job(ctx, node: Node, name: str) -> bool:
    full = resolve(ctx, node, name)
    if full == "Oban.Job":
        return True
    # `use Oban.Worker` injects `alias Oban.{Job, Worker}`
    return name == "Job" and full == "Job" and worker_use(ctx.module_of(node)) is not None


def workspace_workers(ctx) -> dict[str, "WorkerFact"]:
    if ctx.workspace is None:
        return {}
    return ctx.workspace.derived("oban_workers_by_name", _workers_by_name)


def _workers_by_name(index) -> dict[str, "WorkerFact"]:
    return {fact[0]: fact for _path, facts in index.facts("oban_workers") for fact in facts}


# WorkerFact: (name, queue or None when dynamic, unique: True/False/None(unknown), unique_args: bool|None,
#              start, end of the `use` line)
WorkerFact = tuple


@requires(b"Oban")  # `use Oban.Worker`, aliases resolved: "Oban" is written somewhere
def extract_workers(document, _path) -> tuple:
    if document.tree is None:
        return ()
    out = []
    for module, full in defmodules(document.tree.root_node):
        if full is None:
            continue
        use = worker_use(module_info(document, module))
        if use is not None:
            out.append((full, *worker_settings(use), use.node.start_byte, use.node.end_byte))
    return tuple(out)


def worker_settings(use: UseDecl) -> tuple:
    """(queue, unique, unique_args) of a `use Oban.Worker` line; None where not literal."""
    options = use.options
    if options is not None and options.type not in ("keywords", "list"):
        return (None, None, None)
    pairs = {key: value for key, value, _ in keyword_pairs(options)}
    queue: str | None = "default"
    if "queue" in pairs:
        queue = atom_value(pairs["queue"]) or string_value(pairs["queue"])
    unique, unique_args = unique_settings(pairs.get("unique"))
    return (queue, unique, unique_args)


def unique_settings(value: Node | None) -> tuple:
    """(unique?, fields include args?) for a `unique:` value; None when unknown."""
    if value is None:
        return (False, False)
    if value.type == "boolean":
        return (text(value) == "true", text(value) == "true")
    if value.type == "nil":
        return (False, False)
    if value.type != "list":
        return (None, None)
    pairs = {key: v for key, v, _ in keyword_pairs(value)}
    fields = pairs.get("fields")
    if fields is None:
        return (True, True)
    if fields.type != "list":
        return (True, None)
    names = {atom_value(c) for c in fields.named_children}
    return (True, "args" in names)


def worker_of_receiver(ctx, call: Node) -> tuple[str, WorkerFact | None] | None:
    """For `X.new(...)` / local `new(...)`: ("Oban.Job" | worker name, worker fact or None).

    None when the receiver is not known to be Oban.Job or a `use Oban.Worker` module.
    """
    mod, fun = call_name(call)
    if fun != "new":
        return None
    if mod == "<expr>" and _self_receiver(call):
        mod = "__MODULE__"  # `__MODULE__.new(...)`: the left side parses as an identifier
    module = ctx.module_of(call)
    if mod is None or mod == "__MODULE__":
        target = call_target(call)
        if mod is None and (target is None or target.type != "identifier"):
            return None
        if module is None or worker_use(module) is None or module.name is None:
            return None
        if mod is None and any(f.name == "new" and f.kind in ("def", "defp") for f in module.definitions("new")):
            return None  # the module defines its own new/N
        return module.name, _own_worker_fact(module)
    if mod == "<expr>":
        return None
    full = module.resolve_alias(mod) if module is not None else mod
    if full == "Oban.Job" or (mod == "Job" and module is not None and worker_use(module) is not None):
        return "Oban.Job", None
    if module is not None and module.name == full and worker_use(module) is not None:
        return full, _own_worker_fact(module)
    fact = workspace_workers(ctx).get(full)
    if fact is None:
        return None
    return full, fact


def _self_receiver(call: Node) -> bool:
    target = call_target(call)
    left = target.child_by_field_name("left") if target is not None and target.type == "dot" else None
    return left is not None and left.type == "identifier" and text(left) == "__MODULE__"


def _own_worker_fact(module: ModuleInfo) -> WorkerFact | None:
    use = worker_use(module)
    if use is None:
        return None
    return (module.name, *worker_settings(use), use.node.start_byte, use.node.end_byte)


def new_call_parts(call: Node) -> tuple[Node | None, Node | None]:
    """(args, opts) of a `new/1,2` call, pipe-aware. opts is a keywords node or a list."""
    args = effective_arguments(call)
    if not args:
        return None, None
    if len(args) == 1 and args[0].type == "keywords" and call_arguments(call) == args:
        return args[0], None  # new(id: 1): the args are a keyword list
    first = args[0]
    opts = args[1] if len(args) > 1 else None
    return first, opts


# -- option validation ---------------------------------------------------------------------


def did_you_mean(key: str, candidates) -> str | None:
    found = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.7)
    return found[0] if found else None


def period_problem(value: Node) -> str | None:
    """Why a literal unique `period` is invalid, or None (valid or not literal)."""
    number = integer_value(value)
    if number is not None:
        return None if number > 0 else "period must be a positive integer of seconds"
    if value.type == "atom":
        return None if atom_value(value) == "infinity" else "period must be seconds, {n, unit} or :infinity"
    if value.type in ("float", "string"):
        return "period must be an integer of seconds, {n, unit} or :infinity"
    if value.type == "tuple":
        items = value.named_children
        if len(items) != 2:
            return "period tuple must be {n, unit}"
        unit = atom_value(items[1])
        if items[1].type == "atom" and unit not in PERIOD_UNITS:
            return f"unknown period unit :{unit}"
    return None


def unique_problems(value: Node) -> Iterator[tuple[Node, str]]:
    """Problems of a literal `unique:` value (OBN001 and OBN008 share it)."""
    if value.type in ("boolean", "nil"):
        return
    if value.type != "list":
        return
    if not value.named_children:
        yield value, "unique: [] is rejected by Oban; use `unique: true` for the defaults"
        return
    pairs = keyword_pairs(value)
    if not pairs:
        return
    fields_value = None
    for key, item, pair in pairs:
        if key is None:
            continue
        if key not in UNIQUE_KEYS:
            yield pair, f"unknown unique option :{key}" + _suggest(key, UNIQUE_KEYS)
        elif key == "fields":
            fields_value = item
            if item.type == "list":
                if not item.named_children:
                    yield item, "unique fields must not be empty"
                for child in item.named_children:
                    name = atom_value(child)
                    if child.type == "atom" and name not in UNIQUE_FIELDS:
                        yield child, f"unknown unique field :{name} (valid: :args, :meta, :queue, :worker)"
            elif is_literal(item):
                yield item, "unique fields must be a list of :args, :meta, :queue, :worker"
        elif key == "period":
            problem = period_problem(item)
            if problem:
                yield item, problem
        elif key == "states":
            if item.type == "atom":
                if atom_value(item) not in STATE_GROUPS:
                    yield item, f"unknown unique states group {text(item)} (valid: :all, :incomplete, :scheduled, :successful)"
            elif item.type == "list":
                for child in item.named_children:
                    if child.type == "atom" and atom_value(child) not in STATES:
                        yield child, f"unknown job state {text(child)}"
            elif is_literal(item):
                yield item, "unique states must be a group atom or a list of states"
        elif key == "timestamp":
            if item.type == "atom" and atom_value(item) not in ("inserted_at", "scheduled_at"):
                yield item, "unique timestamp must be :inserted_at or :scheduled_at"
        elif key == "keys":
            if item.type == "list":
                for child in item.named_children:
                    if is_literal(child) and child.type != "atom":
                        yield child, "unique keys must be atoms"
    keys_pair = next((pair for key, _, pair in pairs if key == "keys"), None)
    if keys_pair is not None and fields_value is not None and fields_value.type == "list":
        names = {atom_value(c) for c in fields_value.named_children}
        if is_literal(fields_value) and not names & {"args", "meta"}:
            yield keys_pair, "unique keys need :args or :meta in fields"


def replace_problems(value: Node, *, flat_allowed: bool) -> Iterator[tuple[Node, str]]:
    if value.type != "list":
        return
    pairs = keyword_pairs(value)
    if not pairs:
        atoms = [c for c in value.named_children if c.type == "atom"]
        if atoms and not flat_allowed:
            yield value, "worker replace options must be keyed by state, e.g. replace: [scheduled: [:scheduled_at]]"
        elif atoms:
            for child in atoms:
                if atom_value(child) not in REPLACE_FIELDS:
                    yield child, f"unknown replace field {text(child)}"
        return
    for key, item, pair in pairs:
        if key is None:
            continue
        if key not in STATES:
            yield pair, f"unknown replace state :{key}" + _suggest(key, STATES)
            continue
        if item.type == "list":
            for child in item.named_children:
                if child.type == "atom" and atom_value(child) not in REPLACE_FIELDS:
                    yield child, f"unknown replace field {text(child)}"


def _suggest(key: str, candidates) -> str:
    guess = did_you_mean(key, candidates)
    return f", did you mean :{guess}?" if guess else ""


def job_option_problems(opts: Node, version: tuple[int, ...]) -> Iterator[tuple[Node, str, str | None]]:
    """(node, message, rename-to) for literal `new/2` options (OBN008, OBN013)."""
    valid = set(JOB_OPTIONS)
    if is_main(version):
        valid.add("scheduled_in")
    for key, value, pair in keyword_pairs(opts):
        if key is None:
            continue
        if key not in valid:
            guess = did_you_mean(key, valid)
            extra = f", did you mean :{guess}?" if guess else ""
            if key == "scheduled_in":
                extra = " in Oban " + ".".join(map(str, version)) + " (it arrives after 2.23.1), use :schedule_in"
                guess = "schedule_in"
            yield pair.child_by_field_name("key"), f"unknown job option :{key}{extra}", guess
            continue
        if key == "priority":
            number = integer_value(value)
            if (number is not None and not 0 <= number <= 9) or value.type in ("float", "string"):
                yield value, "priority must be an integer in 0..9", None
        elif key == "max_attempts":
            number = integer_value(value)
            if (number is not None and number <= 0) or value.type in ("float", "string"):
                yield value, "max_attempts must be a positive integer", None
        elif key in ("schedule_in", "scheduled_in"):
            if value.type in ("float", "string", "atom", "list", "map"):
                yield value, f"{key} must be integer seconds or {{n, unit}}", None
            elif value.type == "tuple":
                items = value.named_children
                if len(items) != 2 or (items[1].type == "atom" and atom_value(items[1]) not in PERIOD_UNITS):
                    yield value, f"{key} must be integer seconds or {{n, unit}} with a known unit", None
        elif key == "queue":
            if string_value(value) == "":
                yield value, 'queue: "" is rejected by the job changeset', None
        elif key == "unique":
            for node, message in unique_problems(value):
                yield node, message, None
        elif key == "replace":
            for node, message in replace_problems(value, flat_allowed=True):
                yield node, message, None


# -- perform/1 tails ----------------------------------------------------------------------


def perform_clauses(module: ModuleInfo):
    return [f for f in module.definitions("perform", 1) if f.kind == "def" and f.body is not None]


def reschedules_itself(ctx, module: ModuleInfo) -> bool:
    """perform/1 inserts the worker's own next job (`__MODULE__.new(...)`, `new(...)` or the
    module's own name), directly or through the module's functions it calls. Such a worker
    leaves `:executing` out of its unique states on purpose: the running job would otherwise
    block the insert of its successor."""
    key = ("oban_reschedules_itself", module.node.start_byte, module.node.end_byte)
    known = ctx.document.memo.get(key)
    if known is not None:
        return known
    definitions: dict[str, list] = {}
    for (name, _arity), clauses in module.functions.items():
        definitions.setdefault(name, []).extend(c for c in clauses if c.kind in ("def", "defp") and c.body is not None)
    found = False
    pending, seen = ["perform"], set()
    while pending and not found:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for clause in definitions.get(name, []):
            for node in walk(clause.body):
                if node.type != "call":
                    continue
                mod, fun = call_name(node)
                if fun == "new" and _is_self(module, mod, node):
                    found = True
                    break
                elif mod is None and fun in definitions:
                    pending.append(fun)
            if found:
                break
    ctx.document.memo[key] = found
    return found


def _is_self(module: ModuleInfo, receiver: str | None, call: Node) -> bool:
    """`new(...)`, `__MODULE__.new(...)`, or the module's own name (in full, through an alias,
    or its last part after `alias __MODULE__`)."""
    if receiver is None:
        target = call_target(call)
        return target is not None and target.type == "identifier"
    if receiver == "<expr>":
        return _self_receiver(call)
    name = module.name or ""
    return receiver in (name, name.rsplit(".", 1)[-1]) or module.resolve_alias(receiver) == name


def pipe_call(node) -> tuple[Node | None, int]:
    """For a tail: the call it ends in and its effective arity (pipe-aware)."""
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "|>":
        right = node.child_by_field_name("right")
        if right is not None and right.type == "call":
            return right, len(call_arguments(right)) + 1
        return None, 0
    if node.type == "call":
        return node, len(call_arguments(node))
    return None, 0


SPECIAL = frozenset({"if", "unless", "case", "cond", "with", "try", "receive", "for", "raise", "reraise",
                     "throw", "exit", "quote", "fn", "super", "apply"})


def perform_tails(module: ModuleInfo) -> Iterator[tuple[Node, str | None]]:
    """(tail node, helper name it was reached through or None), following local calls one level."""
    seen: set[int] = set()
    for clause in perform_clauses(module):
        for tail in tails(clause.body):
            call, arity = pipe_call(tail) if hasattr(tail, "type") and tail.type != "implicit_nil" else (None, 0)
            if call is not None:
                mod, fun = call_name(call)
                target = call_target(call)
                if mod is None and target is not None and target.type == "identifier" and fun not in SPECIAL:
                    helpers = [f for f in module.definitions(fun or "", arity) if f.kind in ("def", "defp")]
                    for helper in helpers:
                        for inner in tails(helper.body):
                            key = inner.start_byte
                            if key not in seen:
                                seen.add(key)
                                yield inner, f"{fun}/{arity}"
                    continue
            if tail.start_byte not in seen:
                seen.add(tail.start_byte)
                yield tail, None


def tuple_head(node) -> tuple[str | None, list]:
    if getattr(node, "type", None) != "tuple":
        return None, []
    items = [c for c in node.named_children if c.type != "comment"]
    if not items or items[0].type != "atom":
        return None, items
    return atom_value(items[0]), items


# -- Oban config (config/*.exs) -----------------------------------------------------------


def _config_call_target(call: Node) -> tuple[str, str] | None:
    """(app, module) of `config :app, Module, ...`."""
    if call_name(call) != (None, "config"):
        return None
    args = call_arguments(call)
    if len(args) < 3 or args[0].type != "atom" or args[1].type != "alias":
        return None
    return atom_value(args[0]) or "", text(args[1])


def extract_oban_config(document, path) -> tuple:
    """Oban instance config entries of config/*.exs (test.exs excluded).

    Each entry: (module, queues, start, end, dynamic_queues, engine, insertion) where queues is
    a tuple of queue names, "dynamic" (not literal) or "false", start/end locate the `queues:`
    pair (or the config call when absent), and insertion (for a literal list, else None) is
    how to add a queue to it: see `queue_insertion`.
    """
    if document.tree is None or not path.is_config or path.name == "test.exs":
        return ()
    out = []
    for node in walk(document.tree.root_node):
        if node.type != "call":
            continue
        target = _config_call_target(node)
        if target is None:
            continue
        _app, module = target
        opts = call_arguments(node)[2:]
        if not opts:
            continue
        options = opts[-1] if opts[-1].type in ("keywords", "list") else None
        if options is None:
            continue
        pairs = {key: (value, pair) for key, value, pair in keyword_pairs(options)}
        if "queues" not in pairs and "plugins" not in pairs and "engine" not in pairs and "repo" not in pairs:
            continue
        queues: object = None
        insertion = None
        start, end = node.start_byte, node.end_byte
        if "queues" in pairs:
            value, pair = pairs["queues"]
            start, end = pair.start_byte, pair.end_byte
            if value.type == "boolean" and text(value) == "false":
                queues = "false"
            elif value.type == "list" and (not value.named_children or keyword_pairs(value)):
                names = []
                for key, _v, _p in keyword_pairs(value):
                    if key is None:
                        names = None
                        break
                    names.append(key)
                queues = tuple(names) if names is not None else "dynamic"
                if names is not None:
                    insertion = queue_insertion(document.data, value)
            else:
                queues = "dynamic"
        dynamic = "plugins" in pairs and "DynamicQueues" in text(pairs["plugins"][0])
        engine = text(pairs["engine"][0]) if "engine" in pairs else None
        out.append((module, queues, start, end, dynamic, engine, insertion))
    return tuple(out)


def queue_insertion(data: bytes, queues: Node) -> tuple[tuple[int, str], ...]:
    """Byte insertions that add one entry to the literal keyword list `queues`, keeping its layout.

    Each is (offset, text) where "{entry}" in text stands for the new `name: limit`. After the
    last pair on one line (`[default: 10]` -> `[default: 10, reports: 10]`); on a line of its
    own with the last pair's indentation when that pair starts its line (a trailing comma and a
    comment after the pair stay where they are).
    """
    pairs = keyword_pairs(queues)
    if not pairs:
        return ((queues.start_byte + 1, "{entry}"),)  # `[]`
    last = pairs[-1][2]
    line_start = data.rfind(b"\n", 0, last.start_byte) + 1
    indent = data[line_start : last.start_byte]
    if line_start <= queues.start_byte or indent.strip(b" \t"):
        return ((last.end_byte, ", {entry}"),)
    indent_text = indent.decode("utf-8", "replace")
    line_end = data.find(b"\n", last.end_byte)
    line_end = len(data) if line_end < 0 else line_end
    newline = "\n"
    if line_end > 0 and data[line_end - 1 : line_end] == b"\r":
        line_end -= 1
        newline = "\r\n"
    if line_end >= queues.end_byte:  # the closing bracket is on the last pair's line
        return ((last.end_byte, "," + newline + indent_text + "{entry}"),)
    after = data[last.end_byte : line_end].lstrip(b" \t")
    if after.startswith(b","):  # a trailing comma: the new entry gets one too
        return ((line_end, newline + indent_text + "{entry},"),)
    if not after:
        return ((last.end_byte, "," + newline + indent_text + "{entry}"),)
    return ((last.end_byte, ","), (line_end, newline + indent_text + "{entry}"))  # a comment follows


def extract_start_queue(document, _path) -> bool:
    if document.tree is None or b"start_queue" not in document.data:
        return False
    for node in walk(document.tree.root_node):
        if node.type == "call" and call_name(node) in (("Oban", "start_queue"),):
            return True
    return False


def oban_instances(ctx) -> set[str]:
    if ctx.workspace is None:
        return {"Oban"}
    return ctx.workspace.derived("oban_instances", _oban_instances)


def _oban_instances(index) -> set[str]:
    """`Oban` and the modules that `use Oban` (facade instances)."""
    return {"Oban", *(record.name for record in index.modules() if "Oban" in record.uses)}


def oban_configs(ctx) -> list[tuple[str, tuple]]:
    """(path, entry) of config entries for Oban instances."""
    if ctx.workspace is None:
        return []
    instances = oban_instances(ctx)
    return [
        (path, entry)
        for path, entries in ctx.workspace.facts("oban_config")
        for entry in entries
        if entry[0] in instances or entry[0].endswith(".Oban")
    ]


def extract_deps(document, path) -> frozenset:
    """Dependency names of mix.exs (for the Cron timezone check)."""
    if document.tree is None or path.relative != "mix.exs":
        return frozenset()
    names = set()
    for node in walk(document.tree.root_node):
        if node.type == "tuple":
            items = node.named_children
            if items and items[0].type == "atom" and len(items) >= 2:
                names.add(atom_value(items[0]))
    return frozenset(n for n in names if n) | {"<mix.exs>"}


def extract_json_derived(document, _path) -> frozenset:
    """Modules that derive or implement Jason.Encoder / JSON.Encoder."""
    if document.tree is None or b"Encoder" not in document.data:
        return frozenset()
    out = set()
    for node in walk(document.tree.root_node):
        if node.type != "call":
            continue
        mod, fun = call_name(node)
        if fun == "derive" and mod is None and "Encoder" in text(node):
            module = next((a for a in ancestors(node) if a.type == "call" and call_name(a) == (None, "defmodule")), None)
            if module is not None:
                full = []
                for a in [module, *ancestors(module)]:
                    if a.type == "call" and call_name(a) == (None, "defmodule") and module_name(a):
                        full.insert(0, module_name(a))
                out.add(".".join(full))
        elif fun == "defimpl" and mod is None and "Encoder" in text(node):
            for key, value, _ in keyword_pairs(next((a for a in call_arguments(node) if a.type == "keywords"), None)):
                if key == "for" and value.type == "alias":
                    out.add(text(value))
    return frozenset(out)


@requires(b"perform")
def extract_perform_modules(document, _path) -> frozenset:
    """Modules that define perform/1 themselves (a cron worker needs only that)."""
    if document.tree is None:
        return frozenset()
    out = set()
    for module, full in defmodules(document.tree.root_node):
        if full is not None and module_info(document, module).defines("perform", 1):
            out.add(full)
    return frozenset(out)


FACTS = {
    "oban_perform_modules": extract_perform_modules,
    "oban_workers": extract_workers,
    "oban_config": extract_oban_config,
    "oban_start_queue": extract_start_queue,
    "oban_mix_deps": extract_deps,
    "oban_json_derived": extract_json_derived,
}


def options_owner(ctx, pair: Node) -> tuple[str, Node] | None:
    """For a keyword pair: ("use", call) inside `use Oban.Worker, ...` options, ("new", call) inside
    the options of a job `new/2` call; else None."""
    keywords = pair.parent
    if keywords is None or keywords.type != "keywords":
        return None
    holder = keywords.parent
    if holder is not None and holder.type == "list":
        holder = holder.parent
    if holder is None or holder.type != "arguments" or holder.parent is None:
        return None
    call = holder.parent
    if is_worker_use_call(ctx, call):
        return "use", call
    if call_name(call)[1] == "new" and worker_of_receiver(ctx, call) is not None:
        _args, opts = new_call_parts(call)
        if opts is not None and (opts == keywords or opts == keywords.parent):
            return "new", call
    return None
