"""OTP002 simple-one-for-one-deprecated."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, good
from exhort.syntax import call_name, effective_arguments, keyword_pairs

# Calls whose options carry the supervision strategy, with the position of the options.
STRATEGY_CALLS = {
    ("Supervisor", "init"): 1,
    ("Supervisor", "start_link"): 1,
    ("Supervisor.Spec", "supervise"): 1,
    (None, "supervise"): 1,  # imported from Supervisor.Spec
}

RULE = Rule(
    code="OTP002",
    name="simple-one-for-one-deprecated",
    category="otp",
    severity=Severity.WARNING,
    summary=":simple_one_for_one is deprecated; use DynamicSupervisor",
    deprecated_api=True,
    fix_safety="none",
    query=r"""
    ((pair key: (keyword) @key value: (atom) @value) @pair
      (#match? @key "^strategy:") (#eq? @value ":simple_one_for_one"))
    """,
    explanation="""
        ## OTP002 simple-one-for-one-deprecated

        `Supervisor.init/2` warns at run time that ":simple_one_for_one strategy is
        deprecated, please use DynamicSupervisor instead", and the strategy is no longer
        documented. The compiler says nothing, so the warning shows up only in the logs of a
        running system. `DynamicSupervisor` is the replacement: children are started on demand
        with `DynamicSupervisor.start_child/2` and a full child spec.

        Flagged: `strategy: :simple_one_for_one` passed to `Supervisor.init/2`,
        `Supervisor.start_link/2` or `Supervisor.Spec.supervise/2`.

        **Bad**

        ```elixir
        def init(_), do: Supervisor.init([{Worker, []}], strategy: :simple_one_for_one)
        # caller: Supervisor.start_child(MySup, [arg])
        ```

        **Good**

        ```elixir
        use DynamicSupervisor
        def init(_), do: DynamicSupervisor.init(strategy: :one_for_one)
        # caller: DynamicSupervisor.start_child(MySup, {Worker, arg})
        ```

        **Fix**: none automatic. The `use` line and every `start_child` call site change shape.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.WorkerSup do
              use Supervisor

              def init(_arg) do
                Supervisor.init([{MyApp.Worker, []}], strategy: :simple_one_for_one)  # expect: OTP002
              end
            end
            """
        ),
        bad(
            """
            defmodule MyApp.Legacy do
              import Supervisor.Spec

              def start_link do
                children = [worker(MyApp.Conn, [])]
                supervise(children, strategy: :simple_one_for_one, max_restarts: 5)  # expect: OTP002
              end

              def start(children) do
                Supervisor.start_link(children,
                  name: __MODULE__,
                  strategy: :simple_one_for_one  # expect: OTP002
                )
              end

              def piped(children), do: children |> Supervisor.init(strategy: :simple_one_for_one)  # expect: OTP002
            end
            """
        ),
        good(
            """
            defmodule MyApp.Sup do
              use Supervisor
              def init(_), do: Supervisor.init([MyApp.Worker], strategy: :one_for_one)
            end
            """
        ),
        good(
            """
            defmodule MyApp.Dyn do
              use DynamicSupervisor
              def init(_), do: DynamicSupervisor.init(strategy: :one_for_one)
              def opts, do: [strategy: :simple_one_for_one]
              def other(c), do: MyApp.Pool.start_link(c, strategy: :simple_one_for_one)
            end
            """,
            note="only the supervision calls; a bare keyword list or another module's function is not flagged",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    pair = match.node("pair")
    keywords = pair.parent
    if keywords is None or keywords.type != "keywords":
        return
    call = keywords.parent.parent if keywords.parent is not None and keywords.parent.type == "arguments" else None
    if call is None or call.type != "call":
        return
    module = ctx.module_of(call)
    module_text, function = call_name(call)
    if module_text is not None and module is not None:
        module_text = module.resolve_alias(module_text)
    position = STRATEGY_CALLS.get((module_text, function))
    if position is None:
        return
    arguments = effective_arguments(call)
    if len(arguments) != position + 1 or arguments[position] != keywords:
        return
    if not any(key == "strategy" for key, _, _ in keyword_pairs(keywords)):
        return
    yield ctx.finding(
        match.node("value"),
        ":simple_one_for_one is deprecated (Supervisor.init/2 warns at run time); use DynamicSupervisor",
    )

