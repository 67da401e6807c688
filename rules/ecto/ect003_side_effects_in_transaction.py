"""ECT003 side-effects-in-transaction."""

from exhort.execution import Runs
from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, good
from exhort.syntax import ancestors, call_name, effective_arguments, walk

from ._common import is_multi, repo_name

HTTP_CLIENTS = {
    "HTTPoison": ("get", "get!", "post", "post!", "put", "put!", "patch", "patch!", "delete", "delete!",
                  "head", "head!", "options", "options!", "request", "request!"),
    "Req": ("get", "get!", "post", "post!", "put", "put!", "patch", "patch!", "delete", "delete!",
            "head", "head!", "request", "request!", "run", "run!"),
    "Tesla": ("get", "get!", "post", "post!", "put", "put!", "patch", "patch!", "delete", "delete!",
              "head", "head!", "options", "options!", "request", "request!"),
    "Finch": ("request", "request!", "stream", "stream_while", "async_request"),
    "HTTPotion": ("get", "post", "put", "patch", "delete", "request"),
    ":httpc": ("request",),
    ":hackney": ("request", "get", "post", "put", "delete"),
    "Mint.HTTP": ("request",),
}
CACHEX_WRITES = ("put", "put!", "put_many", "put_many!", "del", "del!", "clear", "clear!", "incr", "incr!",
                 "decr", "decr!", "update", "update!", "expire", "expire!", "expire_at", "expire_at!",
                 "get_and_update", "get_and_update!", "fetch", "fetch!", "take", "take!", "reset", "reset!",
                 "refresh", "refresh!", "touch", "touch!", "purge", "purge!", "persist", "persist!")
ETS_WRITES = ("insert", "insert_new", "delete", "delete_object", "delete_all_objects", "update_counter",
              "update_element", "take")
CACHE_VERBS = ("put", "set", "insert", "write", "store", "delete", "del", "invalidate", "evict", "clear",
               "bust", "expire", "flush", "purge", "update", "incr", "decr")
TASK_SPAWNS = {
    "Task": ("async", "start", "start_link", "async_stream"),
    "Task.Supervisor": ("async", "async_nolink", "start_child", "async_stream", "async_stream_nolink"),
}

RULE = Rule(
    code="ECT003",
    name="side-effects-in-transaction",
    category="ecto",
    severity=Severity.INFORMATION,
    summary="A broadcast, email, HTTP call, message, cache write or task inside a transaction runs before COMMIT",
    fix_safety="none",
    workspace=True,
    # The effects are as real from a console task as from a request; tests, the build,
    # migrations and compile-time code are not where they bite.
    runs_in=frozenset({Runs.PRODUCTION, Runs.OPERATOR}),
    query=r"""
    ((call target: (dot left: (alias) @module right: (identifier) @function)) @call
      (#any-of? @function "transaction" "transact" "run"))
    """,
    explanation="""
        ## ECT003 side-effects-in-transaction

        Work done inside `Repo.transaction/transact` or an `Ecto.Multi.run` step happens
        before `COMMIT`. If the transaction rolls back, a broadcast, an email, an HTTP call, a
        message, a cache write or a spawned task has already happened; and a subscriber that
        reacts at once may read rows that are not committed yet, or refill a cache with the old
        rows. Ecto: "The transaction is per process. A separate process started inside a
        transaction won't be part of the same transaction" (`ecto:lib/ecto/repo.ex:2518-2531`).
        Oban's remedy: "Jobs can be inserted along with other application data as part of a
        transaction, which guarantees that jobs will only be triggered from a successful
        transaction" (`oban:lib/oban/job.ex:4-7@v2.23.1`).

        Flagged inside the function given to a Repo's `transaction`/`transact`, or inside an
        `Ecto.Multi.run` function: `Phoenix.PubSub.broadcast*`, `<Endpoint>.broadcast*`, any
        function named `broadcast`, `<Mailer>.deliver*`, HTTP client calls (HTTPoison, Req,
        Tesla, Finch, `:httpc`), `send/2`, cache writes and deletes (`Cachex`, `:ets`, a
        `*Cache` module) and `Task` spawns.

        **Bad**

        ```elixir
        Multi.new()
        |> Multi.insert(:user, changeset)
        |> Multi.run(:notify, fn _repo, %{user: u} ->
          PubSub.broadcast(MyApp.PubSub, "users", {:created, u.id})
          {:ok, :sent}
        end)
        |> Repo.transaction()
        ```

        **Good**: broadcast in the `{:ok, %{user: u}}` branch after the transaction, or add
        `Oban.insert(multi, :notify, NotifyWorker.new(...))` to the Multi.

        Deliberate "pending" notifications exist, hence information. Code that serves
        requests and jobs, and console or release tasks (the email is as real from there), are
        checked; tests and test helpers, Mix tasks, migrations and compile-time code are not.
        **Fix**: none.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Accounts do
              alias Ecto.Multi
              alias Phoenix.PubSub

              def create(changeset) do
                Multi.new()
                |> Multi.insert(:user, changeset)
                |> Multi.run(:notify, fn _repo, %{user: u} ->
                  PubSub.broadcast(MyApp.PubSub, "users", {:created, u.id})  # expect: ECT003
                  {:ok, :sent}
                end)
                |> Repo.transaction()
              end
            end
            """
        ),
        bad(
            """
            defmodule MyApp.Billing do
              alias MyApp.Repo

              def charge(order, pid) do
                Repo.transaction(fn ->
                  order = Repo.update!(Order.paid(order))
                  MyApp.Mailer.deliver_now(Receipt.email(order))  # expect: ECT003
                  {:ok, _} = Req.post("https://hooks.example.com", json: %{id: order.id})  # expect: ECT003
                  send(pid, {:paid, order.id})  # expect: ECT003
                  Cachex.del(:orders, order.id)  # expect: ECT003
                  :ets.insert(:orders, {order.id, order})  # expect: ECT003
                  MyApp.OrderCache.invalidate(order.id)  # expect: ECT003
                  Task.start(fn -> MyAppWeb.Endpoint.broadcast("orders", "paid", %{}) end)  # expect: ECT003
                  broadcast(order)  # expect: ECT003
                  order
                end)
              end
            end
            """,
            note="one finding per side effect, including one nested in a spawned task",
        ),
        good(
            """
            defmodule MyApp.Accounts do
              alias Ecto.Multi

              def create(changeset) do
                result =
                  Multi.new()
                  |> Multi.insert(:user, changeset)
                  |> Oban.insert(:notify, MyApp.NotifyWorker.new(%{}))
                  |> Multi.run(:audit, fn repo, %{user: u} -> repo.insert(Audit.for(u)) end)
                  |> Repo.transaction()

                with {:ok, %{user: u}} <- result do
                  Phoenix.PubSub.broadcast(MyApp.PubSub, "users", {:created, u.id})
                  Cachex.get(:users, u.id)
                  {:ok, u}
                end
              end
            end
            """,
            note="side effects after the transaction, Oban jobs in the Multi, and cache reads",
        ),
        good(
            """
            defmodule MyApp.Runner do
              def run(job) do
                Task.Supervisor.start_child(MyApp.TaskSup, fn -> send(self(), :go) end)
                MyApp.Worker.transaction(fn -> send(self(), :go) end)
                MyApp.Pipeline.run(:step, fn -> MyApp.Mailer.deliver(job) end)
              end
            end
            """,
            note="no Repo transaction or Ecto.Multi step around the effects",
        ),
        good(
            """
            defmodule MyApp.OutboxTest do
              use MyApp.DataCase
              test "rolls back" do
                pid = self()
                Repo.transaction(fn -> send(pid, :inside) end)
              end
            end
            """,
            path="test/my_app/outbox_test.exs",
            note="tests are not production code (catalog 0.4.4)",
        ),
        good(
            """
            defmodule MyApp.TestHelpers do
              alias MyApp.Repo

              def in_rollback(pid) do
                Repo.transaction(fn ->
                  send(pid, :inside)
                  Repo.rollback(:done)
                end)
              end
            end
            """,
            path="lib/my_app/test_helpers.ex",
            note="test helpers kept under lib/ (named *.TestHelpers, *.Testing, *.Factory) are test code",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    module = ctx.module_of(call)
    if not _is_context(ctx, module, call):
        return
    function = _context_function(call)
    if function is None:
        return
    reported: list[tuple[int, int]] = []
    for node in walk(function):
        if node.type != "call" or node == call:
            continue
        if any(start <= node.start_byte and node.end_byte <= end for start, end in reported):
            continue  # inside a reported effect (the closure of a spawned task)
        effect = _side_effect(module, node)
        if effect is None:
            continue
        if _nearest_context(ctx, module, node, function) != call:
            continue  # a nested transaction or step reports it
        reported.append((node.start_byte, node.end_byte))
        yield ctx.finding(
            node,
            f"{effect} inside a {_context_label(call)} runs before COMMIT: it happens even if the "
            "transaction rolls back, and others may see it before the data",
        )


def _context_label(call) -> str:
    mod, fun = call_name(call)
    return "Ecto.Multi.run step" if fun == "run" else f"{mod}.{fun}"


def _context_function(call):
    arguments = effective_arguments(call)
    mod, fun = call_name(call)
    if fun == "run":
        candidate = arguments[2] if len(arguments) == 3 else None
    else:
        candidate = arguments[0] if arguments else None
    if candidate is not None and candidate.type == "anonymous_function":
        return candidate
    return None


def _is_context(ctx, module, call) -> bool:
    mod, fun = call_name(call)
    if fun == "run":
        return is_multi(module, mod)
    return repo_name(ctx, module, mod) is not None


def _nearest_context(ctx, module, node, stop):
    for parent in ancestors(node):
        if parent.type == "call":
            mod, fun = call_name(parent)
            if fun in ("transaction", "transact", "run") and _is_context(ctx, module, parent):
                if _context_function(parent) is not None:
                    return parent
    return None


def _side_effect(module, call) -> str | None:
    mod, fun = call_name(call)
    if fun is None:
        return None
    if mod is None:
        if fun == "send" and len(effective_arguments(call)) == 2:
            return "send/2"
        if fun == "broadcast":
            return "broadcast"
        return None
    if mod == "<expr>":
        return None
    resolved = module.resolve_alias(mod) if module is not None else mod
    last = resolved.rsplit(".", 1)[-1]
    if fun.startswith("broadcast") and (resolved == "Phoenix.PubSub" or last.endswith("Endpoint")):
        return f"{mod}.{fun}"
    if fun == "broadcast":
        return f"{mod}.broadcast"
    if last.endswith("Mailer") and fun.startswith("deliver"):
        return f"{mod}.{fun} (email)"
    if fun in HTTP_CLIENTS.get(resolved, ()):
        return f"{mod}.{fun} (HTTP request)"
    if resolved == "Cachex" and fun in CACHEX_WRITES:
        return f"{mod}.{fun} (cache write)"
    if resolved == ":ets" and fun in ETS_WRITES:
        return f"{mod}.{fun} (cache write)"
    if last.endswith("Cache") and any(fun == v or fun.startswith(v + "_") for v in CACHE_VERBS):
        return f"{mod}.{fun} (cache write)"
    if fun in TASK_SPAWNS.get(resolved, ()):
        return f"{mod}.{fun} (a separate process outside the transaction)"
    return None


