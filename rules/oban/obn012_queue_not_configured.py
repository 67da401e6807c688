"""OBN012 queue-not-configured."""

import re

from exhort.findings import Edit, Related, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import atom_value, keyword_pairs, string_value

from ._common import new_call_parts, oban_configs, worker_of_receiver, worker_settings, worker_use_at

RULE = Rule(
    code="OBN012",
    name="queue-not-configured",
    category="oban",
    severity=Severity.WARNING,
    summary="A job queue that no Oban config declares",
    fix_safety="offer",
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

        **Fix** (offered, never applied by `exhort check --fix` or fix-all): add
        `queue_name: 10` to the `queues:` list the related location points to, in that config
        file, keeping the list's layout (`[default: 10]` becomes `[default: 10, reports: 10]`;
        a list written one queue per line gets a new line). The concurrency 10 is a choice to
        review.
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
            fixed_files={
                "config/config.exs": "import Config\nconfig :my_app, Oban,\n  repo: MyApp.Repo,\n"
                "  queues: [default: 10, mailers: 5, reports: 10, urgent: 10]\n"
            },
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
            fixed_files={"config/config.exs": "import Config\nconfig :my_app, MyApp.Oban, queues: [mailers: 5, default: 10]\n"},
            note="no queue option means :default; test.exs is ignored; a custom Oban instance",
        ),
        bad(
            """
            defmodule MyApp.Workers.Report do
              use Oban.Worker, queue: :reports  # expect: OBN012
              def perform(_job), do: :ok
            end
            """,
            files={
                "config/config.exs": "import Config\n\nconfig :my_app, Oban,\n  queues: [\n    default: 10,\n"
                "    mailers: 5 # mail\n  ],\n  repo: MyApp.Repo\n"
            },
            fixed_files={
                "config/config.exs": "import Config\n\nconfig :my_app, Oban,\n  queues: [\n    default: 10,\n"
                "    mailers: 5, # mail\n    reports: 10\n  ],\n  repo: MyApp.Repo\n"
            },
            note="fix: a list written one queue per line gets a line with the same indentation",
        ),
        bad(
            """
            defmodule MyApp.Workers.Export do
              use Oban.Worker
              def perform(_job), do: :ok
              def later(args), do: args |> new(queue: "bulk-export") |> Oban.insert()  # expect: OBN012
            end
            """,
            files={"config/config.exs": "import Config\nconfig :my_app, Oban,\n  queues: [\n    default: 10,\n  ]\n"},
            fixed_files={
                "config/config.exs": "import Config\nconfig :my_app, Oban,\n  queues: [\n    default: 10,\n"
                '    "bulk-export": 10,\n  ]\n'
            },
            note="fix: a trailing comma is kept; a queue name that is no bare atom is quoted",
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
    related = [Related(start, end, "queues declared here", path=path) for path, (start, end), _ in entries[:3]]
    yield ctx.finding(
        where,
        f"queue :{queue} is not in any `queues:` config ({', '.join(sorted(names)) or 'none'}): its jobs stay available forever",
        related=related,
        fixes=_add_queue(queue, entries[0]),
    )


def _add_queue(queue: str, entry) -> list:
    """Offer to declare the queue in the first config list (the first related location)."""
    path, _span, insertion = entry
    if not insertion:
        return []
    key = f"{queue}:" if re.fullmatch(r"[a-z_][a-zA-Z0-9_]*[?!]?", queue) else f'"{queue}":'
    new = f"{key} 10"
    edits = [Edit(offset, offset, text.replace("{entry}", new), path=path) for offset, text in insertion]
    where = "/".join(path.replace("\\", "/").split("/")[-2:])
    return [fix(f"Add `{new}` to the `queues:` list in {where}", *edits, safe=False)]


def _declared_queues(ctx):
    if ctx.workspace is None:
        return None
    if any(True for _ in ctx.workspace.facts("oban_start_queue")):
        return None
    names: set[str] = set()
    entries = []
    for path, (_module, queues, start, end, dynamic, _engine, insertion) in oban_configs(ctx):
        if dynamic or queues in ("dynamic", "false"):
            return None
        if queues is None:
            continue
        names.update(queues)
        entries.append((path, (start, end), insertion))
    if not entries:
        return None
    entries.sort(key=lambda entry: (entry[0], entry[1]))  # the same order whatever the index's
    return names, entries
