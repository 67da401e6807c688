"""OTP011 infinite-timeout."""

from exhort.execution import Runs
from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, good
from exhort.syntax import keyword_pairs, text

from ._common import effective_arguments, resolved_call

POSITIONAL = {("GenServer", "call"): 2, ("Task", "await"): 1, ("Task", "await_many"): 1, ("Task", "yield"): 1}
STREAMS = {("Task", "async_stream"), ("Task.Supervisor", "async_stream"), ("Task.Supervisor", "async_stream_nolink")}
HTTP_KEYS = ("receive_timeout", "recv_timeout")

RULE = Rule(
    code="OTP011",
    requires=(b":infinity",),  # every finding is on a literal `:infinity`
    name="infinite-timeout",
    category="otp",
    severity=Severity.HINT,
    summary="A literal :infinity timeout removes the only back-pressure signal",
    # Off by default: on real code the literal is nearly always a deliberate choice (see the
    # explanation), which syntax cannot tell from an oversight.
    enabled_by_default=False,
    runs_in=frozenset({Runs.PRODUCTION}),
    # Anchored on the literal `:infinity` (a direct argument, a trailing keyword value, or a
    # keyword list piped in); the check keeps only findings on that atom, one per match.
    query=r"""
    ((call target: (dot left: (alias) right: (identifier)) (arguments (atom) @value)) @call
      (#eq? @value ":infinity"))
    ((call target: (dot left: (alias) right: (identifier))
       (arguments [(keywords (pair value: (atom) @value)) (list (keywords (pair value: (atom) @value)))])) @call
      (#eq? @value ":infinity"))
    ((binary_operator left: (list (keywords (pair value: (atom) @value))) operator: "|>"
       right: (call target: (dot left: (alias) right: (identifier))) @call)
      (#eq? @value ":infinity"))
    """,
    explanation="""
        ## OTP011 infinite-timeout

        The defaults are finite on purpose: `GenServer.call` waits 5000 ms
        (`elixir:lib/elixir/lib/gen_server.ex:1161-1172@v1.20.3`), `Task.await` 5000
        (`task.ex:777-778, 875`) and `Task.async_stream` 5000 per element (`task.ex:607-608`). A
        literal `:infinity` means a stuck server or a slow dependency hangs the caller forever
        instead of failing loudly, and the caller's own callers pile up behind it.

        Flagged: `:infinity` as the third argument of `GenServer.call`; the timeout of
        `Task.await`, `Task.await_many` or `Task.yield`; `timeout:` of `Task.async_stream` and
        `Task.Supervisor.async_stream*`; `timeout:` in `Repo.*` options; `receive_timeout:` /
        `recv_timeout:` of HTTP clients.

        **Bad**: `GenServer.call(server, {:import, file}, :infinity)`

        **Good**: `GenServer.call(server, {:import, file}, :timer.minutes(2))`, or hand the work
        to a job.

        **Fix**: none (the right bound is a design decision).

        Not flagged: `shutdown: :infinity` (a different concept, see OTP003),
        `GenServer.multi_call` (its default is `:infinity`), and code that does not serve
        production traffic (`exhort.execution`): tests, migrations, Mix tasks and scripts,
        release tasks, compile-time code.

        **Off by default.** Select it by code or name (`--select OTP011`). Over fifteen real
        applications and libraries, none of twenty sampled findings was worth a reviewer's time:
        the authors wrote `:infinity` on purpose, where the work is long by nature (imports,
        transcoding, file transfers), where the callee bounds itself (HTTP clients and Ecto
        carry their own timeouts, RPCs pass one), or on local servers whose callbacks are
        trivial, so a timeout would only turn load into crashes. Syntax cannot tell those from
        an oversight. Turn it on to audit a code base for unbounded waits.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Importer do
              alias MyApp.Repo

              def import(server, file), do: GenServer.call(server, {:import, file}, :infinity)  # expect: OTP011

              def wait(tasks) when is_list(tasks) do
                tasks |> Task.await_many(:infinity)  # expect: OTP011
              end

              def all(rows) do
                rows
                |> Task.async_stream(&work/1, max_concurrency: 4, timeout: :infinity)  # expect: OTP011
                |> Enum.to_list()
              end

              def load, do: Repo.all(MyApp.Row, timeout: :infinity)  # expect: OTP011
              def get(url), do: Req.get!(url, receive_timeout: :infinity)  # expect: OTP011
            end
            """,
        ),
        good(
            """
            defmodule MyApp.Importer do
              def import(server, file), do: GenServer.call(server, {:import, file}, :timer.minutes(2))
              def many(nodes), do: GenServer.multi_call(nodes, MyApp.Srv, :ping, :infinity)
              def spec, do: Supervisor.child_spec(MyApp.Sup, shutdown: :infinity)
              def wait(task, t), do: Task.await(task, t)
            end
            """,
            note="multi_call, shutdown: :infinity and variable timeouts",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.Backfill do
              use Ecto.Migration
              def up, do: MyApp.Repo.query!("select 1", [], timeout: :infinity)
            end
            """,
            path="priv/repo/migrations/20240101000000_backfill.exs",
            note="migrations are excluded",
        ),
        good(
            """
            defmodule Mix.Tasks.MyApp.Import do
              use Mix.Task
              def run([file]), do: GenServer.call(MyApp.Importer, {:import, file}, :infinity)
            end
            """,
            path="lib/mix/tasks/my_app.import.ex",
            note="Mix tasks are excluded",
        ),
        good(
            """
            defmodule MyApp.Release do
              def import(file), do: GenServer.call(MyApp.Importer, {:import, file}, :infinity)
            end

            defmodule MyApp.Macros do
              defmacro wait(task) do
                Task.await(task, :infinity)
                quote do: :ok
              end
            end
            """,
            path="lib/my_app/release.ex",
            note="release tasks run by hand and macro bodies do not serve production traffic",
        ),
        good(
            """
            GenServer.call(MyApp.Importer, {:import, "data.csv"}, :infinity)
            """,
            path="priv/scripts/import.exs",
            note="scripts are excluded",
        ),
    ],
)


def _is_infinity(node) -> bool:
    return node is not None and node.type == "atom" and text(node) == ":infinity"


@RULE.check
def check(ctx: Context, match: Match):
    path = ctx.path
    if path.is_migration or path.is_mix_task or path.is_script:
        return
    call = match.node("call")
    anchor = match.node("value")
    module, function = resolved_call(ctx, call)
    if module is None or module == "<expr>":
        return
    args = effective_arguments(call)
    position = POSITIONAL.get((module, function))
    if position is not None:
        if len(args) > position and args[position] == anchor and _is_infinity(args[position]):
            yield ctx.finding(args[position], f"{module}.{function} with :infinity waits forever; use a finite timeout")
        return
    keys = ()
    if (module, function) in STREAMS or module == "Repo" or module.endswith(".Repo"):
        keys = ("timeout",)
    elif module in ("Req", "HTTPoison", "Finch", "Tesla", ":hackney"):
        keys = HTTP_KEYS
    if not keys or not args:
        return
    for key, value, _ in keyword_pairs(args[-1]):
        if key in keys and value == anchor and _is_infinity(value):
            yield ctx.finding(value, f"{key}: :infinity in {module}.{function} waits forever; use a finite timeout")
