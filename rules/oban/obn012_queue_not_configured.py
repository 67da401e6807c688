"""OBN012 queue-not-configured."""

from exhort.findings import Related, Severity
from exhort.rule import Context, Match, Rule, bad, good
from exhort.syntax import atom_value, keyword_pairs, string_value

from ._common import new_call_parts, oban_configs, worker_of_receiver, worker_settings, worker_use_at

RULE = Rule(
    code="OBN012",
    name="queue-not-configured",
    category="oban",
    severity=Severity.WARNING,
    summary="A job queue that no Oban config declares",
    fix_safety="none",
    workspace=True,
    query=r"""
    ((call target: (identifier) @use (arguments . (alias))) @call (#eq? @use "use"))
    ((call target: (dot right: (identifier) @fun)) @new (#eq? @fun "new"))
    ((call target: (identifier) @fun) @new (#eq? @fun "new"))
    """,
    explanation="""
        ## OBN012 queue-not-configured

        "Jobs may be pushed into any queue, regardless of whether jobs are currently being
        processed for the queue" (`oban:lib/oban/job.ex:257-258@v2.23.1`). Queues exist only
        through the `queues:` keyword list of the Oban config
        (`guides/learning/defining_queues.md:13-22`), so a job in an undeclared queue stays
        `available` forever. exhort takes the union of the literal `queues:` lists of
        `config :app, Oban, ...` (or of a module that `use Oban`) in `config/*.exs`
        (`test.exs` ignored) and checks each worker's queue (`:default` when absent) and each
        literal `queue:` given to `new/2`. The related location points to the config entry.

        It stays silent when any `queues:` is not a literal (parsed from the environment),
        is `false`, when the config uses `Oban.Pro.Plugins.DynamicQueues`, when the workspace
        calls `Oban.start_queue/2`, or when no Oban config is found at all.

        **Bad** `use Oban.Worker, queue: :reports` with `queues: [default: 10, mailers: 5]`

        **Good** add `reports: 5` to `queues:`.

        **Fix**: none offered in the editor yet (the edit belongs to another file): add
        `queue_name: 10` to the `queues:` list (the concurrency is a choice).
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Workers.Report do
              use Oban.Worker, queue: :reports, max_attempts: 3  # expect: OBN012
              def perform(_job), do: :ok
              def urgent(args), do: args |> new(queue: "urgent") |> Oban.insert()  # expect: OBN012
            end
            """,
            files={"config/config.exs": "import Config\nconfig :my_app, Oban,\n  repo: MyApp.Repo,\n  queues: [default: 10, mailers: 5]\n"},
        ),
        bad(
            """
            defmodule MyApp.Workers.Default do
              use Oban.Worker  # expect: OBN012
              def perform(_job), do: :ok
            end
            """,
            files={
                "config/config.exs": "import Config\nconfig :my_app, MyApp.Oban, queues: [mailers: 5]\n",
                "config/test.exs": "import Config\nconfig :my_app, MyApp.Oban, queues: [default: 1]\n",
                "lib/my_app/oban.ex": "defmodule MyApp.Oban do\n  use Oban, otp_app: :my_app\nend\n",
            },
            note="no queue option means :default; test.exs is ignored; a custom Oban instance",
        ),
        good(
            """
            defmodule MyApp.Workers.Report do
              use Oban.Worker, queue: :reports
              def perform(_job), do: :ok
            end
            """,
            files={
                "config/config.exs": "import Config\nconfig :my_app, Oban, queues: [default: 10]\n",
                "config/runtime.exs": "import Config\nif config_env() == :prod do\n  config :my_app, Oban, queues: [reports: 2]\nend\n",
            },
            note="the union over all config files (node roles may split queues)",
        ),
        good(
            """
            defmodule MyApp.Workers.Report do
              use Oban.Worker, queue: :reports
              def perform(_job), do: :ok
            end
            """,
            files={"config/runtime.exs": "import Config\nconfig :my_app, Oban, queues: parse_queues(System.get_env('QUEUES'))\n"},
            note="non-literal queues",
        ),
        good(
            """
            defmodule MyApp.Workers.Report do
              use Oban.Worker, queue: :reports
              def perform(_job), do: :ok
            end
            """,
            files={"config/config.exs": "import Config\nconfig :my_app, Oban, queues: false\n"},
            note="queues: false",
        ),
        good(
            """
            defmodule MyApp.Workers.Report do
              use Oban.Worker, queue: :reports
              def perform(_job), do: :ok
            end
            """,
            note="no Oban config at all",
        ),
        good(
            """
            defmodule MyApp.Workers.Report do
              use Oban.Worker, queue: :reports
              def perform(_job), do: :ok
            end
            """,
            files={
                "config/config.exs": "import Config\nconfig :my_app, Oban, queues: [default: 10]\n",
                "lib/my_app/queues.ex": "defmodule MyApp.Queues do\n  def start, do: Oban.start_queue(queue: :reports, limit: 1)\nend\n",
            },
            note="the workspace starts queues dynamically",
        ),
        good(
            """
            defmodule MyApp.Workers.Report do
              use Oban.Worker, queue: :reports
              def perform(_job), do: :ok
            end
            """,
            files={"config/config.exs": "import Config\nconfig :my_app, Oban, queues: [default: 10], plugins: [Oban.Pro.Plugins.DynamicQueues]\n"},
            note="DynamicQueues",
        ),
        good(
            """
            defmodule MyApp.TestWorker do
              use Oban.Worker, queue: :testing
              def perform(_job), do: :ok
            end
            """,
            path="test/support/test_worker.ex",
            files={"config/config.exs": "import Config\nconfig :my_app, Oban, queues: [default: 10]\n"},
            note="test workers run with config/test.exs, which is ignored",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    if ctx.path.is_test:
        return  # test workers run with the test config, which is ignored
    call = match.get("call")
    if call is not None:
        worker = worker_use_at(ctx, call)
        if worker is None:
            return
        _module, use = worker
        queue = worker_settings(use)[0]
        where = call
        for key, value, pair in keyword_pairs(use.options):
            if key == "queue":
                where = pair
    else:
        new = match.node("new")
        if worker_of_receiver(ctx, new) is None:
            return
        _args, opts = new_call_parts(new)
        queue, where = None, None
        for key, value, pair in keyword_pairs(opts):
            if key == "queue":
                queue = atom_value(value) or string_value(value)
                where = pair
        if where is None:
            return
    if not queue:
        return
    known = _declared_queues(ctx)
    if known is None:
        return
    names, entries = known
    if queue in names:
        return
    related = [Related(start, end, "queues declared here", path=path) for path, (start, end) in entries[:3]]
    yield ctx.finding(
        where,
        f"queue :{queue} is not in any `queues:` config ({', '.join(sorted(names)) or 'none'}): its jobs stay available forever",
        related=related,
    )


def _declared_queues(ctx):
    if ctx.workspace is None:
        return None
    if any(True for _ in ctx.workspace.facts("oban_start_queue")):
        return None
    names: set[str] = set()
    entries = []
    for path, (_module, queues, start, end, dynamic, _engine) in oban_configs(ctx):
        if dynamic or queues in ("dynamic", "false"):
            return None
        if queues is None:
            continue
        names.update(queues)
        entries.append((path, (start, end)))
    if not entries:
        return None
    return names, entries
