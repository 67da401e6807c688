"""OTP001 supervisor-options-invalid."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import enclosing_function, is_literal, keyword_key, text

from ._common import (
    GENSERVER_START_KEYS,
    close_match,
    effective_arguments,
    list_items,
    literal_atom,
    literal_int,
    literal_keywords,
    pairs,
    resolved_call,
    variable_list_value,
)

SUPERVISOR_FLAGS = ("strategy", "max_restarts", "max_seconds", "auto_shutdown")
DYNAMIC_FLAGS = (*SUPERVISOR_FLAGS, "max_children", "extra_arguments")
VALID_KEYS = {
    "sup_start": (*SUPERVISOR_FLAGS, *GENSERVER_START_KEYS),
    "sup_init": SUPERVISOR_FLAGS,
    "dyn_start": (*DYNAMIC_FLAGS, *GENSERVER_START_KEYS),
    "dyn_init": DYNAMIC_FLAGS,
}
STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")

RULE = Rule(
    code="OTP001",
    name="supervisor-options-invalid",
    category="otp",
    severity=Severity.ERROR,
    summary="Supervisor options that fail at boot, or a misspelt key that is silently ignored",
    fix_safety="safe/offer",
    query=r"""
    ((call target: (dot left: (alias) right: (identifier) @fun)) @call
      (#any-of? @fun "start_link" "init"))
    ((tuple . (alias) @mod . (_) @opts .) @tuple (#eq? @mod "DynamicSupervisor"))
    """,
    explanation="""
        ## OTP001 supervisor-options-invalid

        Elixir checks supervisor options only when the supervisor starts, and it silently
        ignores keys it does not know:

        - `Supervisor.init/2` raises `ArgumentError` "expected :strategy option to be given"
          (`elixir:lib/elixir/lib/supervisor.ex:785-800@v1.20.3`).
        - An invalid value makes the supervisor fail to start, for example
          `{:error, {:supervisor_data, {:invalid_strategy, :one_for_none}}}` or
          `{:invalid_period, 0}` (options documented at `supervisor.ex:326-345`).
        - `DynamicSupervisor` accepts only `strategy: :one_for_one`
          (`dynamic_supervisor.ex:277-280, 650-651`).
        - `Supervisor.start_link/2` keeps only `:strategy`, `:max_seconds`, `:max_restarts` and
          `:auto_shutdown` and passes every other key on as a GenServer option
          (`supervisor.ex:733-737`); `init/2` reads them with `Keyword.get`. A misspelt
          `max_restart: 10` leaves the restart intensity at its default of 3 (a warning here).

        Checked: literal option lists of `Supervisor.start_link/2` (children form),
        `Supervisor.init/2`, `DynamicSupervisor.start_link/1`, `DynamicSupervisor.init/1` and
        `{DynamicSupervisor, opts}` child entries.

        **Bad**

        ```elixir
        Supervisor.start_link(children, max_restart: 10, max_seconds: 60)
        DynamicSupervisor.init(strategy: :one_for_all)
        ```

        **Good**

        ```elixir
        Supervisor.start_link(children, strategy: :one_for_one, max_restarts: 10, max_seconds: 60)
        DynamicSupervisor.init(strategy: :one_for_one)
        ```

        **Fixes**: rename a misspelt key to its single close match (offer: the behaviour changes
        from the default to the intended value); insert `strategy: :one_for_one` when it is
        missing (offer: a design choice); replace a DynamicSupervisor strategy with
        `:one_for_one` (safe: the only accepted value).

        Not flagged: option lists that are not literal, the module form
        `Supervisor.start_link(Mod, arg, opts)` (its options are GenServer options), GenServer
        option keys (`:name`, `:timeout`, `:debug`, `:spawn_opt`, `:hibernate_after`) in
        `start_link`, and Erlang-style flag maps returned by a hand-written `init/1`.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Application do
              use Application

              def start(_type, _args) do
                children = [MyApp.Repo, MyApp.Cache]
                Supervisor.start_link(children, max_restart: 10, max_seconds: 60, strategy: :one_for_one)  # expect: OTP001
              end
            end
            """,
            fixed="""
            defmodule MyApp.Application do
              use Application

              def start(_type, _args) do
                children = [MyApp.Repo, MyApp.Cache]
                Supervisor.start_link(children, max_restarts: 10, max_seconds: 60, strategy: :one_for_one)  # expect: OTP001
              end
            end
            """,
            note="(e) a misspelt key is a warning, renamed by an offered fix",
        ),
        bad(
            """
            defmodule MyApp.Jobs do
              use DynamicSupervisor

              def init(_arg), do: DynamicSupervisor.init(strategy: :one_for_all)  # expect: OTP001
            end
            """,
            fixed="""
            defmodule MyApp.Jobs do
              use DynamicSupervisor

              def init(_arg), do: DynamicSupervisor.init(strategy: :one_for_one)  # expect: OTP001
            end
            """,
            note="(c) the only DynamicSupervisor strategy; safe fix",
        ),
        bad(
            """
            defmodule MyApp.Sup do
              use Supervisor

              def init(:small) do
                Supervisor.init([MyApp.Worker], max_restarts: 5)  # expect: OTP001
              end

              def init(opts) when is_list(opts) do
                [MyApp.Worker]
                |> Supervisor.init(strategy: :one_for_none, max_seconds: 0)  # expect: OTP001 # expect: OTP001
              end
            end
            """,
            fixed="""
            defmodule MyApp.Sup do
              use Supervisor

              def init(:small) do
                Supervisor.init([MyApp.Worker], strategy: :one_for_one, max_restarts: 5)  # expect: OTP001
              end

              def init(opts) when is_list(opts) do
                [MyApp.Worker]
                |> Supervisor.init(strategy: :one_for_one, max_seconds: 0)  # expect: OTP001 # expect: OTP001
              end
            end
            """,
            note="(a) missing strategy (offered insert), (b) bad strategy and (d) max_seconds 0 in a piped, guarded clause",
        ),
        bad(
            """
            defmodule MyApp.Application do
              use Application
              alias MyApp.Repo

              def start(_type, _args) do
                children = [
                  Repo,
                  {DynamicSupervisor, name: MyApp.Rooms, max_children: -1, auto_shutdown: :any_significant}  # expect: OTP001 # expect: OTP001
                ]

                Supervisor.start_link(children, stratgy: :one_for_one)  # expect: OTP001
              end
            end
            """,
            note="a {DynamicSupervisor, opts} entry; a misspelt required strategy",
        ),
        bad(
            """
            defmodule MyApp.Pool do
              alias Supervisor, as: Sup

              def start_link(children), do: Sup.start_link(children, strategy: :one_for_one, max_restarts: :ten)  # expect: OTP001
              def start_dyn, do: DynamicSupervisor.start_link(name: __MODULE__, extra_arguments: :none)  # expect: OTP001
            end
            """,
            note="aliased Supervisor; a non-list extra_arguments",
        ),
        good(
            """
            defmodule MyApp.Application do
              use Application

              def start(_type, _args) do
                children = [MyApp.Repo, {DynamicSupervisor, name: MyApp.Rooms, strategy: :one_for_one}]
                Supervisor.start_link(children, strategy: :one_for_one, max_restarts: 10, max_seconds: 60)
              end
            end
            """,
            note="valid options",
        ),
        good(
            """
            defmodule MyApp.Sup do
              use Supervisor
              @opts [strategy: :one_for_one]

              def init(opts) do
                Supervisor.init([MyApp.Worker], opts)
              end

              def init2(_), do: Supervisor.init([MyApp.Worker], @opts)
              def init3(_), do: Supervisor.init([MyApp.Worker], Keyword.merge([strategy: :one_for_one], max_restarts: 1))
              def init4(s), do: Supervisor.init([MyApp.Worker], strategy: s, max_restarts: @max)
            end
            """,
            note="option lists or values that are not literal are skipped",
        ),
        good(
            """
            defmodule MyApp.Sup do
              use Supervisor

              def start_link(arg) do
                Supervisor.start_link(__MODULE__, arg, name: __MODULE__, hibernate_after: 1000)
              end

              def start(children), do: Supervisor.start_link(children, strategy: :one_for_all, name: MyApp.Sup, timeout: 10_000, debug: [], spawn_opt: [])
              def two(arg), do: Supervisor.start_link(__MODULE__, arg)
            end
            """,
            note="the module form's options are GenServer options; GenServer keys are valid in start_link/2",
        ),
        good(
            """
            defmodule MyApp.ErlangSup do
              @behaviour :supervisor

              def init(_) do
                {:ok, {%{strategy: :one_for_all, intensity: 1, period: 5}, []}}
              end
            end
            """,
            note="Erlang-style flag maps from a hand-written init/1 are out of scope",
        ),
        good(
            """
            defmodule MyApp.Dyn do
              use DynamicSupervisor
              def start_link(arg), do: DynamicSupervisor.start_link(__MODULE__, arg, name: __MODULE__)
              def init(_), do: DynamicSupervisor.init(strategy: :one_for_one, max_children: :infinity, extra_arguments: [:x])
            end
            """,
            note="the DynamicSupervisor module form; valid flags",
        ),
    ],
)


def _options(ctx: Context, match: Match):
    """(kind, options node) or None."""
    if match.pattern == 1:
        return "dyn_start", match.node("opts")
    call = match.node("call")
    module, function = resolved_call(ctx, call)
    args = effective_arguments(call)
    if module == "Supervisor" and function == "start_link" and len(args) == 2:
        first = args[0]
        if first.type == "list":
            return "sup_start", args[1]
        if first.type == "identifier":
            fdef = enclosing_function(call)
            if (fdef is not None and variable_list_value(first, fdef.node) is not None) or "child" in text(first):
                return "sup_start", args[1]
        return None
    if module == "Supervisor" and function == "init" and len(args) == 2:
        return "sup_init", args[1]
    if module == "DynamicSupervisor" and function == "start_link" and len(args) == 1:
        return "dyn_start", args[0]
    if module == "DynamicSupervisor" and function == "init" and len(args) == 1:
        return "dyn_init", args[0]
    return None


@RULE.check
def check(ctx: Context, match: Match):
    found = _options(ctx, match)
    if found is None:
        return
    kind, options = found
    keywords = literal_keywords(options)
    if keywords is None:
        return
    dynamic = kind.startswith("dyn")
    valid = VALID_KEYS[kind]
    items = pairs(keywords)
    keys = [key for key, _, _ in items]
    typo_strategy = False
    for key, value, pair in items:
        if key is None or key in valid:
            continue
        suggestion = close_match(key, valid)
        if suggestion is None or suggestion in keys:
            continue
        key_node = pair.child_by_field_name("key")
        required = suggestion == "strategy" and not dynamic and kind.startswith("sup")
        typo_strategy = typo_strategy or required
        rename = Edit(key_node.start_byte, key_node.end_byte, f"{suggestion}: ")
        message = f"Unknown supervisor option :{key} is silently ignored; did you mean :{suggestion}?"
        if required:
            message += " (:strategy is required: the supervisor raises at boot without it)"
        yield ctx.finding(
            key_node,
            message,
            fixes=[fix(f"Rename to {suggestion}:", rename, safe=False)],
            severity=Severity.ERROR if required else Severity.WARNING,
        )
    for key, value, pair in items:
        yield from _check_value(ctx, kind, key, value)
    if not dynamic and "strategy" not in keys and not typo_strategy:
        if keywords.type == "list":  # []
            edit = Edit(keywords.start_byte, keywords.end_byte, "[strategy: :one_for_one]")
        else:
            edit = Edit(keywords.start_byte, keywords.start_byte, "strategy: :one_for_one, ")
        call = match.node("call")
        yield ctx.finding(
            call,
            "Supervisor options have no :strategy: Supervisor.init/2 raises ArgumentError at boot",
            fixes=[fix("Add strategy: :one_for_one", edit, safe=False)],
        )


def _check_value(ctx: Context, kind: str, key: str | None, value):
    dynamic = kind.startswith("dyn")
    if not is_literal(value):
        return
    atom = literal_atom(value)
    integer = literal_int(value)
    if key == "strategy":
        if dynamic and atom != "one_for_one":
            yield ctx.finding(
                value,
                f"DynamicSupervisor accepts only strategy: :one_for_one (got {text(value)}); it fails to start",
                fixes=[fix("Use :one_for_one", Edit(value.start_byte, value.end_byte, ":one_for_one"), safe=True)],
            )
        elif not dynamic and atom not in STRATEGIES and atom != "simple_one_for_one":
            suggestion = close_match(atom, STRATEGIES) if atom else None
            fixes = [fix(f"Use :{suggestion}", Edit(value.start_byte, value.end_byte, f":{suggestion}"), safe=False)] if suggestion else []
            yield ctx.finding(
                value,
                f"Invalid supervisor strategy {text(value)}: expected :one_for_one, :one_for_all or :rest_for_one",
                fixes=fixes,
            )
    elif key == "max_restarts" and (integer is None or integer < 0):
        yield ctx.finding(value, f"max_restarts must be an integer >= 0 (got {text(value)}); the supervisor fails to start")
    elif key == "max_seconds" and (integer is None or integer <= 0):
        yield ctx.finding(value, f"max_seconds must be an integer > 0 (got {text(value)}); the supervisor fails to start")
    elif key == "auto_shutdown":
        allowed = ("never",) if dynamic else ("never", "any_significant", "all_significant")
        if atom not in allowed:
            expected = ", ".join(f":{a}" for a in allowed)
            yield ctx.finding(value, f"auto_shutdown must be {expected} (got {text(value)}); the supervisor fails to start")
    elif key == "max_children" and dynamic and not (atom == "infinity" or (integer is not None and integer >= 0)):
        yield ctx.finding(value, f"max_children must be an integer >= 0 or :infinity (got {text(value)})")
    elif key == "extra_arguments" and dynamic and value.type != "list":
        yield ctx.finding(value, f"extra_arguments must be a list (got {text(value)})")


_ = (keyword_key, list_items)
