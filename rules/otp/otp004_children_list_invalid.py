"""OTP004 children-list-invalid."""

from exhort.findings import Edit, Related, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import call_arguments, enclosing_function, is_literal, text

from ._common import (
    effective_arguments,
    extract_process_modules,
    list_items,
    literal_keywords,
    map_pairs,
    pairs,
    resolved_call,
)

from exhort_rules.ecto._common import values_bound_before

FACTS = {"otp_process_modules": extract_process_modules}
NAMED_STDLIB = ("Registry", "Task.Supervisor", "DynamicSupervisor")
BAD_LEAVES = ("string", "integer", "float", "charlist", "boolean", "nil", "sigil")

RULE = Rule(
    code="OTP004",
    name="children-list-invalid",
    category="otp",
    severity=Severity.ERROR,
    summary="A children list with an invalid entry or two children with the same id",
    fix_safety="offer",
    workspace=True,
    query=r"""
    ((call target: (dot left: (alias) right: (identifier) @fun)) @call (#any-of? @fun "start_link" "init"))
    """,
    explanation="""
        ## OTP004 children-list-invalid

        Each child of a supervisor must be a module, a `{module, arg}` tuple, a map child spec
        (or a legacy 6-tuple). Anything else raises `ArgumentError` "supervisors expect each
        child to be one of the following…" (`elixir:lib/elixir/lib/supervisor.ex:843-853@v1.20.3`).
        Child ids must be unique (`supervisor.ex:128-131`): two children with the same id make
        the supervisor fail with `{:error, {:start_spec, {:duplicate_child_name, Mod}}}`.

        A module that `use`s GenServer, Agent, Task or Supervisor without an `id:` option and
        without its own `child_spec/1` takes its module name as the id, so `{Poller, :orders}` and
        `{Poller, :invoices}` collide. `Registry`, `Task.Supervisor` and `DynamicSupervisor` take
        their id from `:name` (`registry.ex:468-470`, `task/supervisor.ex:103-112`,
        `dynamic_supervisor.ex:210-219`). Explicit duplicate `id:` values count too.

        **Bad**

        ```elixir
        children = [{MyApp.Poller, :orders}, {MyApp.Poller, :invoices}]
        ```

        **Good**

        ```elixir
        children = [
          Supervisor.child_spec({MyApp.Poller, :orders}, id: :orders_poller),
          Supervisor.child_spec({MyApp.Poller, :invoices}, id: :invoices_poller)
        ]
        ```

        **Fix** (offer): wrap the duplicate in `Supervisor.child_spec(..., id: ...)` with a
        generated id. Ids show in `Supervisor.which_children/1` and are used by
        `terminate_child/2`, `restart_child/2` and `delete_child/2`, so other code may depend on
        them.

        Read: the literal elements of the list, wherever they are written: the list itself, a
        variable bound to it, every literal list joined with `++`, the head of `[a | rest]`.

        Not flagged: modules from dependencies (they may derive the id from their argument),
        workspace modules with an `id:` option or their own `child_spec/1`, and list parts
        that are not literal (`if`, `Enum.filter`, a parameter, the tail of `[a | rest]`).
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Application do
              use Application

              def start(_type, _args) do
                children = [{MyApp.Poller, :orders}, {MyApp.Poller, :invoices}]  # expect: OTP004
                Supervisor.start_link(children, strategy: :one_for_one)
              end
            end
            """,
            files={"lib/my_app/poller.ex": "defmodule MyApp.Poller do\n  use GenServer\nend\n"},
            fixed="""
            defmodule MyApp.Application do
              use Application

              def start(_type, _args) do
                children = [{MyApp.Poller, :orders}, Supervisor.child_spec({MyApp.Poller, :invoices}, id: {MyApp.Poller, 2})]  # expect: OTP004
                Supervisor.start_link(children, strategy: :one_for_one)
              end
            end
            """,
            note="a workspace GenServer with a default child spec, started twice",
        ),
        bad(
            """
            defmodule MyApp.Sup do
              use Supervisor
              alias MyApp.Poller

              def init(:registries) do
                Supervisor.init(
                  [
                    {Registry, keys: :unique, name: MyApp.Registry},
                    {Registry, keys: :duplicate, name: MyApp.Registry},  # expect: OTP004
                    {Task.Supervisor, []},
                    Task.Supervisor,  # expect: OTP004
                    Poller,
                    {Poller, []}  # expect: OTP004
                  ],
                  strategy: :one_for_one
                )
              end

              def init(_arg) do
                [{MyApp.Conn, :a, :b}, "worker", Supervisor.child_spec(Poller, id: :p), %{id: :p, start: {Poller, :start_link, []}}]  # expect: OTP004 # expect: OTP004 # expect: OTP004
                |> Supervisor.init(strategy: :one_for_one)
              end
            end
            """,
            files={"lib/my_app/poller.ex": "defmodule MyApp.Poller do\n  use Agent\nend\n"},
            note="named stdlib children, aliases, a piped list with bad shapes and explicit duplicate ids",
        ),
        bad(
            """
            defmodule MyApp.Application do
              use Application

              def start(_type, _args) do
                base = [MyApp.Repo, {MyApp.Poller, :orders}]
                children = base ++ extra_children() ++ [{MyApp.Poller, :invoices}, "cache"]  # expect: OTP004 # expect: OTP004
                Supervisor.start_link(children, strategy: :one_for_one)
              end

              def init(workers) do
                Supervisor.init([{MyApp.Conn, :a, :b} | workers], strategy: :one_for_one)  # expect: OTP004
              end
            end
            """,
            files={"lib/my_app/poller.ex": "defmodule MyApp.Poller do\n  use GenServer\nend\n"},
            note="literal parts joined with ++ (one bound to a variable first) and the head of [a | rest] are read; other parts are skipped",
        ),
        bad(
            """
            defmodule MyApp.Application do
              use Application

              def start(_type, _args) do
                Supervisor.start_link([MyApp.Repo, {MyApp.Conn, :a, :b}], strategy: :one_for_one)  # expect: OTP004
              end

              def stop(_state) do
                :ok
            end
            """,
            note="a half-typed file: a function still being written after start/2 takes the module's `end`",
        ),
        bad(
            """
            defmodule MyApp.Rooms do
              use Supervisor

              def init(_) do
                children = [
                  {DynamicSupervisor, strategy: :one_for_one},
                  {DynamicSupervisor, strategy: :one_for_one},  # expect: OTP004
                  {DynamicSupervisor, name: MyApp.RoomSup, strategy: :one_for_one},
                  {DynamicSupervisor, name: MyApp.RoomSup, max_children: 10}  # expect: OTP004
                ]

                Supervisor.init(children, strategy: :one_for_one)
              end
            end
            """,
            note="DynamicSupervisor children take their id from :name: missing twice, or equal",
        ),
        good(
            """
            defmodule MyApp.Application do
              use Application

              def start(_type, _args) do
                children = [
                  Supervisor.child_spec({MyApp.Poller, :orders}, id: :orders_poller),
                  Supervisor.child_spec({MyApp.Poller, :invoices}, id: :invoices_poller),
                  {Registry, keys: :unique, name: MyApp.A},
                  {Registry, keys: :unique, name: MyApp.B},
                  {:pg, []},
                  {MyApp.Legacy, {MyApp.Legacy, :start_link, []}, :permanent, 5000, :worker, [MyApp.Legacy]}
                ]

                Supervisor.start_link(children, strategy: :one_for_one)
              end
            end
            """,
            files={"lib/my_app/poller.ex": "defmodule MyApp.Poller do\n  use GenServer\nend\n"},
            note="explicit distinct ids, distinct names, an Erlang module and a legacy 6-tuple",
        ),
        good(
            """
            defmodule MyApp.Application do
              def start(_type, _args) do
                children = [{Phoenix.PubSub, name: A}, {Phoenix.PubSub, name: B}, {MyApp.Custom, :a}, {MyApp.Custom, :b}, {MyApp.WithId, 1}, {MyApp.WithId, 2}]
                Supervisor.start_link(children, strategy: :one_for_one)
              end
            end
            """,
            files={
                "lib/my_app/custom.ex": "defmodule MyApp.Custom do\n  use GenServer\n  def child_spec(arg), do: %{id: {__MODULE__, arg}, start: {__MODULE__, :start_link, [arg]}}\nend\n",
                "lib/my_app/with_id.ex": "defmodule MyApp.WithId do\n  use GenServer, id: :with_id\nend\n",
            },
            note="dependency modules may derive the id from their argument; own child_spec/1 or an id: option",
        ),
        good(
            """
            defmodule MyApp.Application do
              def start(_type, _args) do
                children =
                  [MyApp.Poller] ++
                    if(enabled?(), do: [MyApp.Poller], else: []) ++
                    Enum.filter([MyApp.Poller], & &1)

                Supervisor.start_link(children, strategy: :one_for_one)
              end

              def start2(workers), do: Supervisor.start_link([MyApp.Poller | workers], strategy: :one_for_one)
            end
            """,
            files={"lib/my_app/poller.ex": "defmodule MyApp.Poller do\n  use GenServer\nend\n"},
            note="list parts that are not literal are skipped",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    name = resolved_call(ctx, call)
    args = effective_arguments(call)
    if name not in (("Supervisor", "start_link"), ("Supervisor", "init")) or len(args) != 2:
        return
    fdef = enclosing_function(call)
    items = _literal_elements(args[0], fdef.node if fdef is not None else None)
    if items is None or any(item.type in ("keywords",) for item in items):
        return
    info = ctx.module_of(call)
    resolve = (lambda t: info.resolve_alias(t)) if info is not None else (lambda t: t)
    defaults = _default_spec_modules(ctx)
    seen: dict[str, object] = {}
    for index, item in enumerate(items, start=1):
        problem = _bad_shape(item)
        if problem:
            yield ctx.finding(item, f"Invalid child {text(item)}: {problem}; the supervisor raises ArgumentError at boot")
            continue
        child_id, explicit = _child_id(item, resolve, defaults)
        if child_id is None:
            continue
        first = seen.get(child_id)
        if first is None:
            seen[child_id] = item
            continue
        fixes = []
        if not explicit:
            label = _entry_module_text(item)
            fixes.append(
                fix(
                    "Give this child its own id",
                    Edit(item.start_byte, item.end_byte, f"Supervisor.child_spec({text(item)}, id: {{{label}, {index}}})"),
                    safe=False,
                )
            )
        yield ctx.finding(
            item,
            f"Duplicate child id {child_id}: the supervisor fails to start with {{:duplicate_child_name, ...}}",
            fixes=fixes,
            related=[Related(first.start_byte, first.end_byte, "first child with this id")],
        )


def _literal_elements(node, within, depth: int = 0) -> list | None:
    """The elements written literally in a children list: the items of a list (the head of
    `[a, b | rest]` too), of every literal list joined with `++`, and of the list a variable
    was bound to. Parts that are not literal (`if`, a call, a parameter) are skipped. None when
    nothing is literal."""
    if node is None or depth > 4:
        return None
    if node.type == "list":
        elements = []
        for item in list_items(node):
            if item.type == "binary_operator" and text(item.child_by_field_name("operator")) == "|":
                item = item.child_by_field_name("left")  # [a | rest]: `a` is an element
            if item is not None:
                elements.append(item)
        return elements
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "++":
        parts = [_literal_elements(node.child_by_field_name(side), within, depth + 1) for side in ("left", "right")]
        if all(part is None for part in parts):
            return None
        return [element for part in parts if part is not None for element in part]
    if node.type == "identifier" and within is not None:
        bound = values_bound_before(node, text(node), within)
        return _literal_elements(bound[-1], within, depth + 1) if bound else None
    return None


def _bad_shape(item) -> str | None:
    if item.type in BAD_LEAVES or item.type == "list":
        return "a child must be a module, a {module, arg} tuple or a child spec map"
    if item.type == "tuple":
        size = len(list_items(item))
        if size not in (2, 6):
            return f"a {size}-element tuple is not a child spec (expected {{module, arg}})"
        first = list_items(item)[0]
        if first.type in BAD_LEAVES or first.type in ("list", "map", "tuple"):
            return "the first element of a {module, arg} tuple must be a module"
    return None


def _default_spec_modules(ctx: Context) -> set[str] | None:
    if ctx.workspace is None:
        return None
    out = set()
    for _path, records in ctx.workspace.facts("otp_process_modules"):
        for name, _use, has_id, defines_spec, _using, *_ in records:
            if not has_id and not defines_spec:
                out.add(name)
    return out


def _module_name(node, resolve) -> str | None:
    if node is None:
        return None
    if node.type == "alias":
        return resolve(text(node))
    if node.type == "call" and text(node) == "__MODULE__":
        return resolve("__MODULE__")
    return None


def _literal_id(value, resolve) -> str | None:
    if value is None or not is_literal(value):
        return None
    if value.type == "alias":
        return resolve(text(value))
    return text(value)


def _child_id(item, resolve, defaults) -> tuple[str | None, bool]:
    """(id text, explicit?) of a child entry, or (None, _) when unknown."""
    module = _module_name(item, resolve)
    if module is not None:
        if module in NAMED_STDLIB:
            return module, False
        return (module if defaults is not None and module in defaults else None), False
    if item.type == "tuple":
        elements = list_items(item)
        if len(elements) != 2:
            return None, False
        module = _module_name(elements[0], resolve)
        if module is None:
            return None, False
        if module in NAMED_STDLIB:
            options = literal_keywords(elements[1])
            if options is None:
                return None, False
            values = {k: v for k, v, _ in pairs(options)}
            if "name" in values:
                return _literal_id(values["name"], resolve), False
            return module, False
        return (module if defaults is not None and module in defaults else None), False
    if item.type == "call":
        if resolved_call(None, item) != ("Supervisor", "child_spec"):
            return None, False
        args = call_arguments(item)
        if len(args) != 2:
            return None, False
        overrides = literal_keywords(args[1])
        if overrides is None:
            return None, False
        values = {k: v for k, v, _ in pairs(overrides)}
        if "id" in values:
            return _literal_id(values["id"], resolve), True
        return _child_id(args[0], resolve, defaults)
    if item.type == "map":
        values = {k: v for k, v, _ in (map_pairs(item) or [])}
        if "id" in values:
            return _literal_id(values["id"], resolve), True
    return None, False


def _entry_module_text(item) -> str:
    if item.type == "tuple":
        return text(list_items(item)[0])
    return text(item)
