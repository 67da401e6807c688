"""OBN008 job-options-invalid."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import keyword_pairs, text

from ._common import job_option_problems, new_call_parts, oban_version, worker_of_receiver

RULE = Rule(
    code="OBN008",
    name="job-options-invalid",
    category="oban",
    severity=Severity.WARNING,
    summary="Invalid options or args in Worker.new/2 or Oban.Job.new/2",
    fix_safety="safe/offer",
    workspace=True,
    query=r"""
    ((call target: (dot right: (identifier) @fun)) @call (#eq? @fun "new"))
    ((call target: (identifier) @fun) @call (#eq? @fun "new"))
    """,
    explanation="""
        ## OBN008 job-options-invalid

        `new/2` turns unknown options into the changeset error "unknown option :x provided"
        (`oban:lib/oban/job.ex:326-351, 725-733@v2.23.1`), so `Oban.insert/2` returns
        `{:error, changeset}` and a caller that ignores it drops the job silently; nothing
        checks these options at compile time. Bad values (priority outside 0..9, `max_attempts`
        ≤ 0, a `schedule_in` that is neither integer seconds nor `{n, unit}`, `queue: ""`, an
        invalid `unique`) fail the same way. `new/2` is guarded by `is_map(args)`, so args given
        as a keyword list raise `FunctionClauseError` (an error).

        **Bad** `%{id: 1} |> MyWorker.new(schedule_in: 60, max_attemps: 3) |> Oban.insert()`

        **Good** `%{id: 1} |> MyWorker.new(schedule_in: 60, max_attempts: 3) |> Oban.insert()`

        **Fix**: rename the key (offer); keyword args → map (safe). Fires only when the receiver
        is `Oban.Job` or resolves to a workspace `use Oban.Worker` module (Pro workers are
        excluded). `scheduled_in` is valid only after 2.23.1 (mix.lock).
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Accounts do
              alias MyApp.Workers.Welcome

              def register(user) do
                %{id: user.id}
                |> Welcome.new(schedule_in: 60, max_attemps: 3)  # expect: OBN008
                |> Oban.insert()
              end

              def later(id), do: Welcome.new(%{id: id}, priority: 10)  # expect: OBN008
              def soon(id), do: Welcome.new(%{id: id}, schedule_in: "soon")  # expect: OBN008
              def legacy(id), do: Welcome.new([id: id])  # expect: OBN008
              def job(id), do: Oban.Job.new(%{id: id}, worker: Welcome, scheduled_in: 5)  # expect: OBN008
            end
            """,
            files={"lib/my_app/workers/welcome.ex": "defmodule MyApp.Workers.Welcome do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n"},
            fixed="""
            defmodule MyApp.Accounts do
              alias MyApp.Workers.Welcome

              def register(user) do
                %{id: user.id}
                |> Welcome.new(schedule_in: 60, max_attempts: 3)  # expect: OBN008
                |> Oban.insert()
              end

              def later(id), do: Welcome.new(%{id: id}, priority: 10)  # expect: OBN008
              def soon(id), do: Welcome.new(%{id: id}, schedule_in: "soon")  # expect: OBN008
              def legacy(id), do: Welcome.new(%{id: id})  # expect: OBN008
              def job(id), do: Oban.Job.new(%{id: id}, worker: Welcome, schedule_in: 5)  # expect: OBN008
            end
            """,
            note="workspace worker through an alias, a pipe, keyword args, scheduled_in on 2.23.1",
        ),
        bad(
            """
            defmodule MyApp.Workers.Digest do
              use Oban.Worker
              def perform(_job), do: :ok
              def enqueue(id) do
                new(%{id: id},
                  queue: "",  # expect: OBN008
                  unique: [period: -1]  # expect: OBN008
                )
                |> Oban.insert()
              end
            end
            """,
            note="local new/2 inside the worker",
        ),
        good(
            """
            defmodule MyApp.Accounts do
              def register(user) do
                %{id: user.id} |> MyApp.Workers.Welcome.new(schedule_in: {1, :hour}, max_attempts: 3, meta: %{a: 1}) |> Oban.insert()
                MyApp.Workers.Welcome.new(args, opts)
                Oban.Job.new(%{id: 1}, worker: "MyApp.Workers.Welcome", replace: [:scheduled_at], replace_args: true)
              end
            end
            """,
            files={"lib/my_app/workers/welcome.ex": "defmodule MyApp.Workers.Welcome do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n"},
        ),
        good(
            """
            defmodule MyApp.Accounts do
              def build(id) do
                MyApp.Pro.Mailer.new(%{id: id}, recorded: true)
                MyApp.Unknown.new(%{id: id}, max_attemps: 1)
                MapSet.new([a: 1])
              end
            end
            """,
            files={"lib/my_app/pro/mailer.ex": "defmodule MyApp.Pro.Mailer do\n  use Oban.Pro.Worker\n  def process(_), do: :ok\nend\n"},
            note="Pro workers and modules not known to be workers are skipped",
        ),
        good(
            """
            defmodule MyApp.Accounts do
              def job(id), do: Oban.Job.new(%{id: id}, worker: MyWorker, scheduled_in: 5)
            end
            """,
            files={"mix.lock": '%{\n  "oban": {:hex, :oban, "2.24.0", "abc", [:mix], [], "hexpm", "def"},\n}\n'},
            note="scheduled_in is valid after 2.23.1 (version gate)",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    receiver = worker_of_receiver(ctx, call)
    if receiver is None:
        return
    args, opts = new_call_parts(call)
    if args is not None and _keyword_args(args):
        inner = args if args.type == "keywords" else next(c for c in args.named_children if c.type == "keywords")
        yield ctx.finding(
            args,
            "new/2 requires the args as a map (guard is_map(args)); a keyword list raises FunctionClauseError",
            fixes=[fix("Use a map", replace_node(args, f"%{{{text(inner)}}}"), safe=True)],
            severity=Severity.ERROR,
        )
    if opts is None:
        return
    version = oban_version(ctx)
    for node, message, rename in job_option_problems(opts, version):
        fixes = []
        if rename and node.type == "keyword":
            fixes = [fix(f"Rename to {rename}:", replace_node(node, f"{rename}: "), safe=False)]
        yield ctx.finding(node, f"{message}: Oban.insert returns {{:error, changeset}}", fixes=fixes)


def _keyword_args(args) -> bool:
    if args.type == "keywords":
        return True
    return args.type == "list" and bool(keyword_pairs(args))
