"""OBN003 perform-arity."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import function_def, text

from .._queries import def_query
from ._common import in_test_script, worker_use

RULE = Rule(
    code="OBN003",
    requires=(b"Oban",),  # only modules that `use Oban.Worker`
    name="perform-arity",
    category="oban",
    severity=Severity.ERROR,
    summary="An Oban worker must define perform/1",
    fix_safety="safe",
    query=r"""
    ((call target: (identifier) @use (arguments . (alias) @module)) @call (#eq? @use "use"))
    """ + def_query(["def"], ["perform"], capture="call"),  # the check wants def perform/2 only
    explanation="""
        ## OBN003 perform-arity

        Oban calls `perform/1` with the `%Oban.Job{}`. A worker that defines the Oban 1.x shape
        `perform(args, job)`, or no `perform/1` at all, compiles with only a behaviour warning,
        and every one of its jobs fails at run time ("module is not a worker"). The v2.0 upgrade
        guide: "The `perform/2` callback is replaced with `perform/1`".

        **Bad**

        ```elixir
        use Oban.Worker, queue: :mailers
        def perform(%{"id" => id}, _job), do: deliver(id)
        ```

        **Good**

        ```elixir
        use Oban.Worker, queue: :mailers
        def perform(%Oban.Job{args: %{"id" => id}}), do: deliver(id)
        ```

        **Fix** (safe): `perform(ARGS, JOB)` → `perform(%Oban.Job{args: ARGS} = JOB)`, or
        `perform(%Oban.Job{args: ARGS})` when JOB is unused (`_` or `_name`).

        Modules that `use Oban.Pro.Worker` (whose callback is `process/1`) or that `use`
        another module that may define `perform/1` are left alone.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Mailer do
              use Oban.Worker, queue: :mailers

              @impl true
              def perform(%{"id" => id}, _job) do  # expect: OBN003
                MyApp.Mail.deliver(id)
              end
            end
            """,
            fixed="""
            defmodule MyApp.Mailer do
              use Oban.Worker, queue: :mailers

              @impl true
              def perform(%Oban.Job{args: %{"id" => id}}) do  # expect: OBN003
                MyApp.Mail.deliver(id)
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Sync do
              alias Oban.Worker
              use Worker

              def perform(%{"mode" => "full"} = args, job) when is_map(args), do: full(args, job)  # expect: OBN003
              def perform(args, job), do: partial(args, job)  # expect: OBN003

              defp full(_args, _job), do: :ok
              defp partial(_args, _job), do: :ok
            end
            """,
            fixed="""
            defmodule MyApp.Sync do
              alias Oban.Worker
              use Worker

              def perform(%Oban.Job{args: %{"mode" => "full"} = args} = job) when is_map(args), do: full(args, job)  # expect: OBN003
              def perform(%Oban.Job{args: args} = job), do: partial(args, job)  # expect: OBN003

              defp full(_args, _job), do: :ok
              defp partial(_args, _job), do: :ok
            end
            """,
            note="aliased use, guards and several clauses",
        ),
        bad(
            """
            defmodule MyApp.Empty do
              use Oban.Worker  # expect: OBN003

              def run(job), do: job
            end
            """,
            note="no perform/1 at all",
        ),
        good(
            """
            defmodule MyApp.Good do
              use Oban.Worker, queue: :default

              @impl Oban.Worker
              def perform(%Oban.Job{args: %{"id" => id}}), do: {:ok, id}
            end
            """
        ),
        good(
            """
            defmodule MyApp.Delegating do
              use Oban.Worker
              defdelegate perform(job), to: MyApp.Impl
            end
            """,
            note="defdelegate defines perform/1",
        ),
        good(
            """
            defmodule MyApp.ProWorker do
              use Oban.Pro.Worker
              def process(job), do: {:ok, job}
            end
            """,
            note="Oban.Pro.Worker is not an Oban.Worker for these rules",
        ),
        good(
            """
            defmodule MyApp.Wrapped do
              use Oban.Worker
              use MyApp.WorkerBase
            end
            """,
            note="another use may inject perform/1: unknown never fires",
        ),
        good(
            """
            defmodule MyApp.Helpers do
              use Oban.Worker
              def perform(job), do: perform(job.args, job)
              def perform(args, _job), do: {:ok, args}
            end
            """,
            note="perform/2 beside a perform/1 is an ordinary helper",
        ),
        good(
            """
            defmodule MyApp.NotAWorker do
              def perform(a, b), do: a + b
            end
            """
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    if in_test_script(ctx):
        return  # worker fixtures in test scripts are often invalid on purpose
    call = match.node("call")
    module = ctx.module_of(call)
    if module is None or call.parent is None or call.parent != _do_block(module.node):
        return  # only direct members of the module
    worker = worker_use(module)
    if worker is None or module.defines("perform", 1):
        return
    if match.get("use") is not None:
        if module.resolve_alias(text(match.node("module"))) != "Oban.Worker":
            return
        if len(module.uses) > 1:
            return  # another `use` may define perform/1
        if module.definitions("perform", 2):
            return  # each perform/2 clause carries its own finding
        yield ctx.finding(call, f"{module.name or 'This module'} uses Oban.Worker but defines no perform/1")
        return
    definition = function_def(call)
    if definition is None or definition.name != "perform" or definition.arity != 2 or definition.kind != "def":
        return
    args, job = definition.params
    job_text = text(job)
    if job_text == "_" or (job_text.startswith("_") and job.type == "identifier"):
        replacement = f"%Oban.Job{{args: {text(args)}}}"
    else:
        replacement = f"%Oban.Job{{args: {text(args)}}} = {job_text}"
    head_arguments = next(c for c in definition.head.named_children if c.type == "arguments")
    edit = Edit(head_arguments.start_byte, head_arguments.end_byte, f"({replacement})")
    yield ctx.finding(
        definition.head,
        "perform/2 is the Oban 1.x callback; Oban 2 calls perform/1 with the %Oban.Job{}",
        fixes=[fix("Rewrite as perform(%Oban.Job{args: ...})", edit, safe=True)],
    )


def _do_block(module_node):
    return next((c for c in module_node.named_children if c.type == "do_block"), None)
