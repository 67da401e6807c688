"""Hover option reference: Supervisor options, child-spec keys and process timeouts
(catalog sections 6.5-6.7, Elixir v1.20.3)."""

from __future__ import annotations

from exhort.syntax import call_arguments, call_name, keyword_key, text

SUPERVISOR_OPTIONS = {
    "strategy": "`:one_for_one`, `:one_for_all`, `:rest_for_one`. Default: **none, required** (`ArgumentError`). `:simple_one_for_one` is deprecated (run-time `IO.warn`); use `DynamicSupervisor`.",
    "max_restarts": "integer ≥ 0. Default `3`. Per supervisor, not per child.",
    "max_seconds": "integer > 0. Default `5`. The time window for `:max_restarts`.",
    "auto_shutdown": "`:never`, `:any_significant`, `:all_significant`. Default `:never`. Needs `significant` children.",
    "name": "atom, `{:global, term}` or `{:via, module, term}`. Default: none. `start_link/2` only.",
}
DYNAMIC_OPTIONS = {
    "strategy": "only `:one_for_one` (the default).",
    "max_restarts": "integer ≥ 0. Default `3`.",
    "max_seconds": "integer > 0. Default `5`.",
    "max_children": "integer ≥ 0 or `:infinity` (default). When exceeded, `start_child` returns `{:error, :max_children}`.",
    "extra_arguments": "a list, prepended to each child's start arguments. Default `[]`.",
    "auto_shutdown": "only `:never`.",
    "name": "atom, `{:global, term}` or `{:via, module, term}`.",
}
TASK_SUPERVISOR_OPTIONS = {
    "name": "atom, `{:global, term}` or `{:via, module, term}`; also the child id.",
    "max_restarts": "integer ≥ 0. Default `3`.",
    "max_seconds": "integer > 0. Default `5`.",
    "max_children": "integer ≥ 0 or `:infinity` (default). Children default to `restart: :temporary`.",
}
CHILD_SPEC_KEYS = {
    "id": "any term, unique within the supervisor. Default: the module (`Registry`, `Task.Supervisor` and `DynamicSupervisor` use `:name`).",
    "start": "`{module, function, args}`. Default `{module, :start_link, [arg]}`.",
    "restart": "`:permanent` (always restarted), `:transient` (only after an abnormal exit: not `:normal`, `:shutdown` or `{:shutdown, _}`), `:temporary` (never). Default `:permanent`; `use Task` gives `:temporary`.",
    "shutdown": "`:brutal_kill`, an integer ≥ 0 (ms) or `:infinity`. Default `5_000` for workers, `:infinity` for supervisors.",
    "type": "`:worker` or `:supervisor`. Default `:worker`; `use Supervisor` gives `:supervisor`.",
    "modules": "a list of modules (Erlang also accepts `:dynamic`). Default: derived from `:start`.",
    "significant": "boolean; only with `:transient` or `:temporary`, and the parent's `:auto_shutdown` must not be `:never`. Default `false`.",
}
STREAM_OPTIONS = {
    "max_concurrency": "positive integer. Default `System.schedulers_online()`.",
    "ordered": "boolean. Default `true`.",
    "timeout": "ms or `:infinity` per element. Default `5000`.",
    "on_timeout": "`:exit` (default) or `:kill_task`.",
    "zip_input_on_exit": "boolean. Default `false`.",
    "shutdown": "`:brutal_kill` or ms (Task.Supervisor variants only). Default `5000`.",
}
TIMEOUTS = {
    ("GenServer", "call"): "`GenServer.call/3` timeout: default **5_000 ms** (`gen_server.ex:1161-1172`). On timeout the caller exits; the server still handles the request.",
    ("GenServer", "multi_call"): "`GenServer.multi_call/4` timeout: default **`:infinity`** (`gen_server.ex:1283`).",
    ("Task", "await"): "`Task.await/2` timeout: default **5_000 ms** (`task.ex:875`); on timeout the caller exits.",
    ("Task", "await_many"): "`Task.await_many/2` timeout: default **5_000 ms** (`task.ex:983`).",
    ("Task", "yield"): "`Task.yield/2` timeout: default **5_000 ms** (`task.ex:1120`); returns `nil` on timeout.",
    ("Task", "shutdown"): "`Task.shutdown/2` timeout: default **5_000 ms** (`task.ex:1337`).",
    ("Task", "async_stream"): "`Task.async_stream` defaults: `max_concurrency: System.schedulers_online()`, `ordered: true`, `timeout: 5000`, `on_timeout: :exit`, `zip_input_on_exit: false` (`task.ex:595-615`).",
    ("Registry", "start_link"): "`Registry.start_link/1`: `:keys` required (`:unique`, `:duplicate`, `{:duplicate, :key}` (1.19+) or `{:duplicate, :pid}`); `:name` required; `:partitions` default 1 (`registry.ex:345-376`).",
}
USE_MODULES = ("GenServer", "Agent", "Task", "Supervisor", "DynamicSupervisor")


def _entry(title: str, key: str, table: dict[str, str], checked: str) -> str | None:
    meaning = table.get(key)
    if meaning is None:
        return f"**{title}**: `:{key}` is not a valid key here. {checked}"
    return f"**{title}** `:{key}`: {meaning}\n\n{checked}"


def _keyword_context(node):
    """For a keyword key under the cursor: (key, owning call or tuple/map)."""
    if node.type not in ("keyword", "quoted_keyword"):
        return None, None
    pair = node.parent
    if pair is None or pair.type != "pair":
        return None, None
    key = keyword_key(pair)
    holder = pair.parent  # keywords
    owner = holder.parent if holder is not None else None
    if owner is not None and owner.type == "list":
        owner = owner.parent
    if owner is not None and owner.type == "map_content":
        owner = owner.parent
    if owner is not None and owner.type == "arguments":
        owner = owner.parent
    return key, owner


def otp_options_hover(ctx, node) -> str | None:
    if node is None:  # a template: no Elixir node under the cursor
        return None
    key, owner = _keyword_context(node)
    if key is not None and owner is not None:
        if owner.type == "call":
            module, function = call_name(owner)
            info = ctx.module_of(owner) if ctx is not None else None
            if module not in (None, "<expr>") and info is not None:
                module = info.resolve_alias(module)
            if module == "Supervisor" and function in ("start_link", "init"):
                if function == "start_link" and len(call_arguments(owner)) == 3:
                    return None  # module form: GenServer options
                return _entry("Supervisor option", key, SUPERVISOR_OPTIONS, "Checked at **boot**; a misspelt key is silently ignored (OTP001).")
            if module == "DynamicSupervisor" and function in ("start_link", "init"):
                return _entry("DynamicSupervisor option", key, DYNAMIC_OPTIONS, "Checked at **boot**.")
            if module == "Task.Supervisor" and function == "start_link":
                return _entry("Task.Supervisor option", key, TASK_SUPERVISOR_OPTIONS, "Checked at **boot**.")
            if module == "Supervisor" and function == "child_spec":
                return _entry("Child spec key", key, CHILD_SPEC_KEYS, "Applied at **boot** by `Supervisor.child_spec/2`; an unknown key raises there (OTP003).")
            if module is None and function == "use":
                args = call_arguments(owner)
                if args and text(args[0]) in USE_MODULES:
                    return _entry(f"`use {text(args[0])}` child spec key", key, CHILD_SPEC_KEYS, "Applied at **boot** by `Supervisor.child_spec/2`; an unknown key raises there (OTP003).")
            if function in ("async_stream", "async_stream_nolink") and module in ("Task", "Task.Supervisor"):
                return _entry("async_stream option", key, STREAM_OPTIONS, "Checked at **run**; a misspelt key is silently ignored (OTP012).")
        if owner.type == "tuple":
            items = [c for c in owner.named_children if c.type != "comment"]
            if items and text(items[0]) == "DynamicSupervisor":
                return _entry("DynamicSupervisor option", key, DYNAMIC_OPTIONS, "Checked at **boot**.")
            if items and text(items[0]) == "Task.Supervisor":
                return _entry("Task.Supervisor option", key, TASK_SUPERVISOR_OPTIONS, "Checked at **boot**.")
        if owner.type == "map" and key in CHILD_SPEC_KEYS and key in ("start", "restart", "shutdown", "significant", "modules"):
            return _entry("Child spec key", key, CHILD_SPEC_KEYS, "Checked at **boot**.")
        return None
    # the function name of a call with a timeout: GenServer.call, Task.await, ...
    if node.type == "identifier" and node.parent is not None and node.parent.type == "dot":
        call = node.parent.parent
        if call is not None and call.type == "call":
            module, function = call_name(call)
            info = ctx.module_of(call) if ctx is not None else None
            if module not in (None, "<expr>") and info is not None:
                module = info.resolve_alias(module)
            return TIMEOUTS.get((module, function))
    return None


HOVERS = [otp_options_hover]
