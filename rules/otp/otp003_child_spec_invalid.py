"""OTP003 child-spec-invalid."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import DEF_KINDS, ancestors, call_name, enclosing_function, function_def, is_literal, tails, text

from .._queries import def_query
from ._common import (
    CHILD_SPEC_KEYS,
    close_match,
    effective_arguments,
    literal_atom,
    literal_int,
    literal_keywords,
    map_pairs,
    pairs,
    resolved_call,
)

USE_DEFAULTS = {  # module -> (type, restart)
    "GenServer": ("worker", "permanent"),
    "Agent": ("worker", "permanent"),
    "Task": ("worker", "temporary"),
    "Supervisor": ("supervisor", "permanent"),
    "DynamicSupervisor": ("supervisor", "permanent"),
}
RESTARTS = ("permanent", "transient", "temporary")
TYPES = ("worker", "supervisor")

RULE = Rule(
    code="OTP003",
    requires=(b"GenServer", b"Agent", b"Task", b"Supervisor", b"child"),  # use lines, Supervisor calls, `children = [...]` or child_spec/1
    name="child-spec-invalid",
    category="otp",
    severity=Severity.ERROR,
    summary="Child spec keys or values that make the parent supervisor fail at boot",
    fix_safety="offer",
    query=r"""
    ((call target: (identifier) @use (arguments . (alias) @mod . (keywords) @opts .)) @call
      (#eq? @use "use") (#any-of? @mod "GenServer" "Agent" "Task" "Supervisor" "DynamicSupervisor"))
    ((call target: (dot left: (alias) right: (identifier) @fun)) @call (#eq? @fun "child_spec"))
    ((call target: (dot left: (alias) right: (identifier) @_fun) (arguments (list (map) @map)))
      (#any-of? @_fun "init" "start_link"))
    ((binary_operator left: (identifier) @_var operator: "=" right: (list (map) @map)) (#match? @_var "child"))
    ((call target: (dot left: (alias) right: (identifier) @_fun) (arguments (map) @map))
      (#any-of? @_fun "child_spec" "start_child"))
    """ + def_query(sorted(DEF_KINDS), ["child_spec"]),
    # Maps only where _is_child_spec_map can accept them: in a list given to init/start_link or
    # bound to a `child...` variable, an argument of child_spec/start_child, or (read from
    # the definition) a tail of child_spec/1.
    explanation="""
        ## OTP003 child-spec-invalid

        `use GenServer, opts` (and `use Agent`, `use Task`, `use Supervisor`,
        `use DynamicSupervisor`) stores its options and applies them with
        `Supervisor.child_spec/2` inside the generated `child_spec/1`
        (`elixir:lib/elixir/lib/gen_server.ex:899-918@v1.20.3`, `task.ex:336-358`,
        `supervisor.ex:527-548`). Nothing is checked at compile time: an unknown key raises
        `ArgumentError` "unknown key :restrat in child specification override" only when the
        parent supervisor boots (`supervisor.ex:934-943`). Bad values fail the parent's start
        with `{:invalid_restart_type, :transeint}`, `{:invalid_shutdown, -1}` or
        `{:invalid_child_type, :wroker}`, and `significant: true` on a permanent child returns
        `{:bad_combination, ...}` ("Only :transient and :temporary child processes can be marked
        as significant", `supervisor.ex:154-158, 383`). Valid keys and values:
        `supervisor.ex:124-204`.

        Flagged: unknown keys in `use` options and literal `Supervisor.child_spec/2` overrides;
        bad `:restart`, `:shutdown`, `:type` values; `significant: true` with a permanent
        restart; literal map child specs without `:id` or `:start`. The message says what
        happens where the spec is used: in a children list the parent fails to boot; given to
        `start_child`, the call returns `{:error, ...}` and the caller carries on; a
        DynamicSupervisor takes no significant children at all, whatever the restart value. Hints: `shutdown: :infinity`
        on a worker ("discouraged and requires extreme care", `supervisor.ex:179-185`) and an
        integer shutdown on a supervisor.

        **Bad**

        ```elixir
        use GenServer, restrat: :transient
        Supervisor.child_spec({Cache, []}, restart: :transeint)
        ```

        **Good**

        ```elixir
        use GenServer, restart: :transient
        Supervisor.child_spec({Cache, []}, restart: :transient)
        ```

        **Fix** (offer): rename the key or value to its unique close match.

        Not flagged: values that are not literal; `use Task, significant: true` (`use Task`
        already defaults to `restart: :temporary`, `task.ex:350-355`).
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Cache do
              use GenServer, restrat: :transient  # expect: OTP003
            end
            """,
            fixed="""
            defmodule MyApp.Cache do
              use GenServer, restart: :transient  # expect: OTP003
            end
            """,
            note="(a) a misspelt key in use options, renamed by an offered fix",
        ),
        bad(
            """
            defmodule MyApp.Application do
              alias MyApp.Cache

              def start(_type, _args) do
                children = [
                  Supervisor.child_spec({Cache, []}, restart: :transeint),  # expect: OTP003
                  Supervisor.child_spec({MyApp.Poller, []}, id: :poller, shutdown: -1),  # expect: OTP003
                  %{id: MyApp.Feed, start: {MyApp.Feed, :start_link, []}, type: :wroker},  # expect: OTP003
                  %{start: {MyApp.Other, :start_link, []}}  # expect: OTP003
                ]

                Supervisor.start_link(children, strategy: :one_for_one)
              end
            end
            """,
            fixed="""
            defmodule MyApp.Application do
              alias MyApp.Cache

              def start(_type, _args) do
                children = [
                  Supervisor.child_spec({Cache, []}, restart: :transient),  # expect: OTP003
                  Supervisor.child_spec({MyApp.Poller, []}, id: :poller, shutdown: -1),  # expect: OTP003
                  %{id: MyApp.Feed, start: {MyApp.Feed, :start_link, []}, type: :worker},  # expect: OTP003
                  %{start: {MyApp.Other, :start_link, []}}  # expect: OTP003
                ]

                Supervisor.start_link(children, strategy: :one_for_one)
              end
            end
            """,
            note="(b) bad values in child_spec/2 overrides and map specs, (c) a map spec without :id",
        ),
        bad(
            """
            defmodule MyApp.Session do
              use GenServer, significant: true  # expect: OTP003
            end

            defmodule MyApp.Slow do
              use Agent, shutdown: :infinity  # expect: OTP003
            end

            defmodule MyApp.SubSup do
              use Supervisor, shutdown: 10_000  # expect: OTP003
            end
            """,
            note="significant with the default permanent restart; (d) the two shutdown hints",
        ),
        bad(
            """
            defmodule MyApp.Worker do
              def child_spec(arg) do
                %{id: __MODULE__, start: {__MODULE__, :start_link, [arg]}, restart: :permanent, significant: true}  # expect: OTP003
              end
            end
            """,
            note="a child_spec/1 returning a literal map",
        ),
        bad(
            """
            defmodule MyApp.Rooms do
              def open(id) do
                DynamicSupervisor.start_child(MyApp.RoomSup, %{id: id, start: {MyApp.Room, :start_link, [id]}, restart: :transeint})  # expect: OTP003
              end

              def open_significant(id) do
                DynamicSupervisor.start_child(MyApp.RoomSup, Supervisor.child_spec({MyApp.Room, id}, significant: true, restart: :transient))  # expect: OTP003
              end
            end
            """,
            note="specs given to start_child: the call returns an error (not a failed boot); a DynamicSupervisor rejects significant whatever the restart",
        ),
        good(
            """
            defmodule MyApp.Cache do
              use GenServer, restart: :transient, shutdown: 10_000, id: :cache
            end

            defmodule MyApp.Runner do
              use Task, significant: true
            end

            defmodule MyApp.SubSup do
              use Supervisor, restart: :transient, significant: true
            end
            """,
            note="use Task defaults to restart: :temporary, so significant: true is valid",
        ),
        good(
            """
            defmodule MyApp.Application do
              @restart Application.compile_env(:my_app, :restart, :permanent)

              def start(_type, _args) do
                children = [
                  Supervisor.child_spec({MyApp.Cache, []}, restart: @restart, shutdown: timeout()),
                  Supervisor.child_spec({MyApp.Feed, []}, id: {:feed, 1}, type: :supervisor, shutdown: :infinity),
                  %{id: :x, start: {MyApp.X, :start_link, []}, shutdown: :brutal_kill}
                ]

                Supervisor.start_link(children, strategy: :one_for_one)
              end

              defp timeout, do: 5_000
            end
            """,
            note="values that are not literal are skipped; valid literal specs",
        ),
        good(
            """
            defmodule MyApp.State do
              def initial, do: %{id: 1, name: "x"}
              def payload(user), do: %{start: user.start, type: :worker}
            end
            """,
            note="maps that are not child specs (outside a children list or child_spec) are ignored",
        ),
    ],
)


# Where a spec is used decides what a bad value does: a children list fails the supervisor's
# boot; a spec given to start_child makes that call return {:error, ...}; a module's own spec
# (use options, child_spec/1) may be used either way.
BOOT, START_CHILD, DYNAMIC, EITHER = "boot", "start_child", "dynamic", "either"
CONSEQUENCE = {
    BOOT: "the parent supervisor fails to start",
    START_CHILD: "start_child returns {:error, ...} instead of starting it",
    DYNAMIC: "DynamicSupervisor.start_child returns {:error, ...} instead of starting it",
    EITHER: "the supervisor refuses it (its boot fails, or start_child returns {:error, ...})",
}


def _context(ctx: Context, node) -> str:
    """Where the spec `node` (a map, or a Supervisor.child_spec/2 call) is used."""
    parent = node.parent
    if parent is not None and parent.type == "arguments" and parent.parent is not None:
        name = resolved_call(ctx, parent.parent)
        if name == ("DynamicSupervisor", "start_child"):
            return DYNAMIC
        if name in (("Supervisor", "start_child"), (":supervisor", "start_child")):
            return START_CHILD
    fdef = enclosing_function(node)
    if node.type == "map" and fdef is not None and fdef.name == "child_spec":
        return EITHER
    return BOOT


@RULE.check
def check(ctx: Context, match: Match):
    if match.pattern == 0:
        module = text(match.node("mod"))
        default_type, default_restart = USE_DEFAULTS[module]
        yield from _check_spec(ctx, pairs(match.node("opts")), default_type, default_restart, keys=True, map_node=None, where=EITHER, built_by="use")
        return
    if match.pattern == 1:
        call = match.node("call")
        if resolved_call(ctx, call) != ("Supervisor", "child_spec"):
            return
        args = effective_arguments(call)
        if len(args) != 2:
            return
        overrides = literal_keywords(args[1])
        if overrides is None:
            return
        yield from _check_spec(ctx, pairs(overrides), None, None, keys=True, map_node=None, where=_context(ctx, call), built_by="child_spec")
        return
    if match.pattern == 5:
        definition = match.node("def")
        fdef = function_def(definition)
        if fdef is None or fdef.arity != 1:
            return
        for node in tails(fdef.body):
            parent = node.parent
            if node.type != "map" or parent is None or parent.type in ("list", "arguments"):
                continue  # those are matched by the patterns above
            inner = enclosing_function(node)
            if inner is not None and inner.node == definition:
                yield from _check_map(ctx, node)
        return
    yield from _check_map(ctx, match.node("map"))


def _check_map(ctx: Context, node):
    if not _is_child_spec_map(ctx, node):
        return
    items = map_pairs(node)
    if items is None:
        return
    yield from _check_spec(ctx, items, "worker", "permanent", keys=False, map_node=node, where=_context(ctx, node), built_by="map")


def _is_child_spec_map(ctx: Context, node) -> bool:
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "list":
        holder = parent.parent
        if holder is not None and holder.type == "arguments":
            call = holder.parent
            return resolved_call(ctx, call) in (("Supervisor", "init"), ("Supervisor", "start_link")) and call.type == "call"
        if holder is not None and holder.type == "binary_operator" and text(holder.child_by_field_name("operator")) == "=":
            left = holder.child_by_field_name("left")
            return left is not None and left.type == "identifier" and "child" in text(left)
        return False
    if parent.type == "arguments" and parent.parent is not None:
        call = parent.parent
        name = resolved_call(ctx, call)
        args = effective_arguments(call)
        if name == ("Supervisor", "child_spec") and args and args[0] == node:
            return True
        if name in (("DynamicSupervisor", "start_child"), ("Supervisor", "start_child")) and len(args) == 2 and args[1] == node:
            return True
        return False
    fdef = enclosing_function(node)
    if fdef is not None and fdef.name == "child_spec" and fdef.arity == 1:
        return any(t == node for t in tails(fdef.body))
    return False


def _check_spec(ctx: Context, items, default_type, default_restart, *, keys: bool, map_node, where: str, built_by: str):
    values = {key: value for key, value, _ in items if key is not None}
    consequence = CONSEQUENCE[where]
    if keys:
        for key, value, pair in items:
            if key is None or key in CHILD_SPEC_KEYS:
                continue
            key_node = pair.child_by_field_name("key")
            suggestion = close_match(key, CHILD_SPEC_KEYS)
            fixes = []
            if suggestion is not None and suggestion not in values:
                fixes.append(fix(f"Rename to {suggestion}:", Edit(key_node.start_byte, key_node.end_byte, f"{suggestion}: "), safe=False))
            hint = f"; did you mean :{suggestion}?" if suggestion else ""
            raised = (
                "Supervisor.child_spec/2 raises ArgumentError right here"
                if built_by == "child_spec"
                else "Supervisor.child_spec/2 raises ArgumentError when this module's child spec is built (at the parent's boot, or in start_child)"
            )
            yield ctx.finding(key_node, f"Unknown child spec key :{key}: {raised}{hint}", fixes=fixes)
    restart = values.get("restart")
    restart_atom = literal_atom(restart) if restart is not None else default_restart
    if restart is not None and is_literal(restart) and literal_atom(restart) not in RESTARTS:
        yield _bad_value(ctx, restart, "restart", RESTARTS, consequence)
    child_type = values.get("type")
    type_atom = literal_atom(child_type) if child_type is not None else default_type
    if child_type is not None and is_literal(child_type) and literal_atom(child_type) not in TYPES:
        yield _bad_value(ctx, child_type, "type", TYPES, consequence)
        type_atom = None
    shutdown = values.get("shutdown")
    if shutdown is not None and is_literal(shutdown):
        atom, integer = literal_atom(shutdown), literal_int(shutdown)
        if not (atom in ("brutal_kill", "infinity") or (integer is not None and integer >= 0)):
            yield ctx.finding(
                shutdown,
                f"Invalid shutdown {text(shutdown)}: expected :brutal_kill, :infinity or an integer >= 0 (ms); {consequence}",
            )
        elif atom == "infinity" and type_atom == "worker":
            yield ctx.finding(
                shutdown,
                "shutdown: :infinity on a worker is discouraged: a stuck terminate/2 blocks the supervisor's shutdown forever",
                severity=Severity.HINT,
            )
        elif integer is not None and type_atom == "supervisor":
            yield ctx.finding(
                shutdown,
                "An integer shutdown on a supervisor may kill its children before they finish; supervisors default to :infinity",
                severity=Severity.HINT,
            )
    significant = values.get("significant")
    if significant is not None and literal_atom(significant) == "true" and where == DYNAMIC:
        yield ctx.finding(
            significant,
            "significant: true: a DynamicSupervisor takes no significant children, whatever the restart value; start_child returns {:error, ...}",
        )
    elif significant is not None and literal_atom(significant) == "true" and restart_atom == "permanent":
        yield ctx.finding(
            significant,
            f"significant: true needs restart: :transient or :temporary; with a permanent child {consequence} ({{:bad_combination, ...}})",
        )
    if map_node is not None and ("id" not in values or "start" not in values):
        missing = " and ".join(k for k in ("id", "start") if k not in values)
        yield ctx.finding(map_node, f"Map child spec without :{missing}: {consequence}")


def _bad_value(ctx: Context, value, key: str, allowed, consequence: str):
    atom = literal_atom(value)
    suggestion = close_match(atom, allowed) if atom else None
    fixes = [fix(f"Use :{suggestion}", Edit(value.start_byte, value.end_byte, f":{suggestion}"), safe=False)] if suggestion else []
    expected = ", ".join(f":{a}" for a in allowed)
    return ctx.finding(
        value,
        f"Invalid {key} {text(value)}: expected {expected}; {consequence}",
        fixes=fixes,
    )


_ = (ancestors, call_name, function_def)
