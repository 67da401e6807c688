"""OTP005 deprecated-supervisor-spec."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import ancestors, call_arguments, call_name, module_members, text

from ._common import effective_arguments, list_items

ARITIES = {"worker": (2, 3), "supervisor": (2, 3), "supervise": (2,)}

RULE = Rule(
    code="OTP005",
    name="deprecated-supervisor-spec",
    category="otp",
    severity=Severity.WARNING,
    summary="Supervisor.Spec worker/supervisor/supervise are deprecated",
    deprecated_api=True,
    fix_safety="safe",
    query=r"""
    ((call target: (identifier) @fun) @call (#any-of? @fun "worker" "supervisor" "supervise"))
    ((call target: (dot left: (alias) @mod right: (identifier) @fun)) @call
      (#any-of? @fun "worker" "supervisor" "supervise"))
    """,
    explanation="""
        ## OTP005 deprecated-supervisor-spec

        `worker/2,3`, `supervisor/2,3` and `supervise/2` carry `@deprecated "Use the new child
        specifications outlined in the Supervisor module instead"`
        (`elixir:lib/elixir/lib/supervisor/spec.ex:113, 173, 241, 275@v1.20.3`). `use Supervisor`
        still imports `Supervisor.Spec` (`supervisor.ex:529`), so old code keeps compiling with
        a deprecation warning. exhort shows it as you type.

        **Bad**

        ```elixir
        def init(_) do
          supervise([worker(MyApp.Cache, [[ttl: 60]]), supervisor(MyApp.JobsSup, [])],
            strategy: :one_for_one)
        end
        ```

        **Good** (equivalent by construction)

        ```elixir
        def init(_) do
          Supervisor.init([
            %{id: MyApp.Cache, start: {MyApp.Cache, :start_link, [[ttl: 60]]}},
            %{id: MyApp.JobsSup, start: {MyApp.JobsSup, :start_link, []}, type: :supervisor}
          ], strategy: :one_for_one)
        end
        ```

        The shorter `{MyApp.Cache, [ttl: 60]}` is equivalent only when the module has a default
        `child_spec/1` and `start_link/1`; `supervisor(MyApp.JobsSup, [])` calls `start_link/0`.

        **Fix** (safe): rewrite a `supervise/2` call whose children are all literal
        `worker/2` / `supervisor/2` calls to map specs and `Supervisor.init/2`; the defaults match
        (id is the module, function `:start_link`, restart `:permanent`, shutdown 5000 for
        workers and `:infinity` for supervisors). A partial rewrite would be unsafe
        (`supervise/2` rejects map specs), so no fix is offered otherwise.

        Flagged wherever `Supervisor.Spec` is imported: by `use Supervisor`, by a module-level
        `import Supervisor.Spec`, or by one inside a function (the old Phoenix application did it
        in `start/2`); also remote calls, through an alias too (`alias Supervisor.Spec`).

        Not flagged: local functions named `worker/2` or `supervisor/2`, and code where
        `Supervisor.Spec` is not imported.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Sup do
              use Supervisor

              def init(_) do
                supervise([worker(MyApp.Cache, [[ttl: 60]]), supervisor(MyApp.JobsSup, [])],  # expect: OTP005 # expect: OTP005 # expect: OTP005
                  strategy: :one_for_one)
              end
            end
            """,
            fixed="""
            defmodule MyApp.Sup do
              use Supervisor

              def init(_) do
                Supervisor.init([%{id: MyApp.Cache, start: {MyApp.Cache, :start_link, [[ttl: 60]]}}, %{id: MyApp.JobsSup, start: {MyApp.JobsSup, :start_link, []}, type: :supervisor}],  # expect: OTP005 # expect: OTP005 # expect: OTP005
                  strategy: :one_for_one)
              end
            end
            """,
            note="all-literal children: the safe rewrite",
        ),
        bad(
            """
            defmodule MyApp.Legacy do
              import Supervisor.Spec, warn: false

              def children(opts) when is_list(opts) do
                [
                  worker(MyApp.Conn, [opts], restart: :transient),  # expect: OTP005
                  Supervisor.Spec.supervisor(MyApp.Pool, [])  # expect: OTP005
                ]
              end

              def start(opts), do: opts |> children() |> supervise(strategy: :one_for_all)  # expect: OTP005
            end
            """,
            note="explicit import, worker/3, a remote Supervisor.Spec call and a piped supervise",
        ),
        bad(
            """
            defmodule MyApp do
              use Application

              def start(_type, _args) do
                import Supervisor.Spec

                children = [
                  supervisor(MyApp.Repo, []),  # expect: OTP005
                  worker(MyApp.Cache, [[ttl: 60]], restart: :transient)  # expect: OTP005
                ]

                Supervisor.start_link(children, strategy: :one_for_one)
              end
            end

            defmodule MyApp.Legacy do
              alias Supervisor.Spec
              def children, do: [Spec.worker(MyApp.Conn, [])]  # expect: OTP005
            end
            """,
            note="`import Supervisor.Spec` inside start/2 (the old Phoenix application), and an aliased Supervisor.Spec",
        ),
        bad(
            """
            defmodule MyApp.Sup do
              use Supervisor

              def init(:small) do
                supervise([worker(MyApp.Cache, [])], strategy: :one_for_one)  # expect: OTP005 # expect: OTP005
              end

              def init(:large) do
                children = [worker(MyApp.Cache, [[size: 1_000]])]  # expect: OTP005
                supervise(children, strategy: :one_for_all)  # expect: OTP005
              end
            end
            """,
            note="a multi-clause init/1: each clause is reported where it calls the deprecated functions",
        ),
        bad(
            """
            defmodule MyApp.Sup do
              use Supervisor

              def start_link(arg) do
                name =
              end

              def init(_) do
                supervise([worker(MyApp.Cache, [])], strategy: :one_for_one)  # expect: OTP005 # expect: OTP005
              end
            end
            """,
            note="a half-typed file: an unfinished binding takes the next `end` and swallows init/1",
        ),
        good(
            """
            defmodule MyApp.Pool do
              use Supervisor

              def init(_), do: Supervisor.init([worker(:a, 1)], strategy: :one_for_one)

              defp worker(name, n), do: %{id: name, start: {MyApp.W, :start_link, [n]}}
            end
            """,
            note="a local worker/2 shadows the import",
        ),
        good(
            """
            defmodule MyApp.Workers do
              alias MyApp.Spec
              def run, do: Spec.worker(:a, 1)

              def start do
                children = [worker(MyApp.A, [])]
                import Supervisor.Spec
                children
              end

              defp worker(mod, args), do: {mod, args}
            end
            """,
            note="an alias other than Supervisor.Spec; a local worker/2 defined beside an import",
        ),
        good(
            """
            defmodule MyApp.Jobs do
              def enqueue(worker, args), do: worker(worker, args)
              def supervisor(a, b), do: {a, b}
              def run, do: supervisor(:a, :b)
            end
            """,
            note="Supervisor.Spec is not imported here",
        ),
    ],
)


def _imports_spec(info) -> bool:
    if info is None:
        return False
    if info.uses_module("Supervisor") is not None:
        return True
    return any(_is_spec_import(member) for member in module_members(info.node))


def _is_spec_import(node) -> bool:
    """`import Supervisor.Spec` (with no `only:` list leaving the deprecated functions out)."""
    if node.type != "call" or call_name(node) != (None, "import"):
        return False
    args = call_arguments(node)
    if not args or text(args[0]) != "Supervisor.Spec":
        return False
    only = [v for k, v, _ in _kw(args) if k == "only"]
    return not only or any(name in text(only[0]) for name in ARITIES)


def _imported_in_scope(call) -> bool:
    """An `import Supervisor.Spec` written earlier in a block that holds the call (imports are
    lexical: the old Phoenix application did it inside `start/2`)."""
    for block in ancestors(call):
        if block.type in ("do_block", "body", "stab_clause", "block"):
            for sibling in block.named_children:
                if sibling.start_byte >= call.start_byte:
                    break
                if _is_spec_import(sibling):
                    return True
        if block.type == "call" and call_name(block) == (None, "defmodule"):
            return False
    return False


def _kw(args):
    from exhort.syntax import keyword_pairs

    return keyword_pairs(args[-1]) if len(args) > 1 else []


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    module_text, function = call_name(call)
    arity = len(effective_arguments(call))
    if arity not in ARITIES.get(function, ()):
        return
    info = ctx.module_of(call)
    if module_text is None:
        if not (_imports_spec(info) or _imported_in_scope(call)) or (info is not None and info.defines(function, arity)):
            return
    elif (info.resolve_alias(module_text) if info is not None else module_text) != "Supervisor.Spec":
        return
    fixes = []
    if function == "supervise":
        rewrite = _rewrite_supervise(call)
        if rewrite is not None:
            fixes.append(fix("Rewrite to Supervisor.init/2 with map child specs", rewrite, safe=True))
    yield ctx.finding(
        call,
        f"Supervisor.Spec.{function}/{arity} is deprecated; use child specs and Supervisor.init/2",
        fixes=fixes,
    )


def _rewrite_supervise(call) -> Edit | None:
    args = call_arguments(call)
    if len(args) != 2 or args[0].type != "list":
        return None
    specs = []
    for item in list_items(args[0]):
        if item.type != "call":
            return None
        module_text, function = call_name(item)
        child_args = call_arguments(item)
        if module_text is not None or function not in ("worker", "supervisor") or len(child_args) != 2:
            return None
        module, start_args = text(child_args[0]), text(child_args[1])
        spec = f"%{{id: {module}, start: {{{module}, :start_link, {start_args}}}"
        spec += ", type: :supervisor}" if function == "supervisor" else "}"
        specs.append(spec)
    # replace from the call start to the end of the children list; the options stay as written
    return Edit(call.start_byte, args[0].end_byte, f"Supervisor.init([{', '.join(specs)}]")
