"""OTP014 unsupervised-process-module, and the "who starts this module?" hover."""

from __future__ import annotations

import os

from exhort.findings import Edit, Related, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import ancestors, call_arguments, call_name, full_module_name, text, walk

from ._common import (
    OTP_USE_MODULES,
    extract_applications,
    extract_config_modules,
    extract_mix_project,
    extract_process_refs,
)

FACTS = {
    "otp_process_refs": extract_process_refs,
    "otp_config_modules": extract_config_modules,
    "otp_applications": extract_applications,
    "otp_mix_project": extract_mix_project,
}

APP = """
defmodule MyApp.Application do
  use Application

  def start(_type, _args) do
    children = [MyApp.Repo, {MyApp.Cache, ttl: 60}]
    Supervisor.start_link(children, strategy: :one_for_one, name: MyApp.Supervisor)
  end
end
"""

RULE = Rule(
    code="OTP014",
    name="unsupervised-process-module",
    category="otp",
    # A hint (hidden by the CLI unless asked), a stray `use` information: see "Severity".
    severity=Severity.HINT,
    summary="A process module that no supervisor, start_child or start_link call in the workspace starts",
    workspace=True,
    fix_safety="offer",
    query=r"""
    ((call target: (identifier) @use (arguments . (alias) @mod)) @call
      (#eq? @use "use") (#any-of? @mod "GenServer" "Agent" "Supervisor" "DynamicSupervisor" "Task"))
    """,
    explanation="""
        ## OTP014 unsupervised-process-module

        A process that no supervisor starts is not restarted when it crashes, is not shut down
        in order, and is easy to forget ("Unsupervised processes",
        `elixir:lib/elixir/pages/anti-patterns/process-anti-patterns.md:250-330@v1.20.3`). A
        module that `use`s GenServer, Agent, Supervisor, DynamicSupervisor or Task and that
        nothing in `lib/` or `config/` starts is often dead code, or a process started by hand
        from a test or an iex session.

        Counted as a reference: an element of a children list (`Mod`, `{Mod, arg}`,
        `Supervisor.child_spec(Mod, ...)`, `%{start: {Mod, :start_link, args}}`, also behind
        `enabled? && ...` or `if`, or bound to a variable first), `DynamicSupervisor.start_child/2`,
        `Task.Supervisor.*` and `PartitionSupervisor` arguments, `GenServer.start_link(Mod, ...)`
        outside `Mod`, a call to `Mod.start_link/start/child_spec` from another module, a module
        handed to another module's start function (`MySup.start_link(Mod, opts)`), a
        `start_child` spec bound to a variable (and, inside `Mod`, a spec it cannot read), a
        public function of `Mod` other than `start_link/start/child_spec` that starts it on
        demand (`def run(x)` calling `start_link(x)`), a start MFA (`{Mod, :start_link, args}`),
        an MFA spawn (`spawn_link(Mod, :loop, [])`, `:proc_lib.spawn_link(Mod, ...)`),
        `defdelegate child_spec(arg), to: Mod` in a module that is started, any module a
        supervisor or an application names in its functions (children lists built through
        variables, `if` and `List.wrap`), a call to a helper of the same file that starts the
        module it is given
        (`start_worker(Mod, arg)` where `start_worker` builds `{module, :start_link, [arg]}` for
        `start_child`), a module given as a keyword option (for example `plugins: [Mod]`), and
        any mention in `config/*.exs`. References from `test/` do not count. The finding points to the
        application's children list. Hover the `use` line to see who starts the module.

        A module whose `use` is stray (no `start_link`, no `init/1`, no call starting it: its
        generated `child_spec/1` would call a `start_link/1` it does not have) is reported as
        such: the fix is to delete the `use` line (offered), not to supervise it.

        **Fix**: otherwise add the module to the Application children list by hand (start order
        matters, and the list lives in another file).

        **Severity.** The catalog has this rule at information. A module nothing starts is a
        hint here (the CLI shows it only when asked, editors show it faded): over twenty-five
        real applications and libraries, none of the seven such findings read by hand was a
        forgotten process; every module was started in a way syntax cannot follow (a
        configuration read at run time, a library's behaviour, a command-line option, a
        children list built through variables). A stray `use` stays at information: the module
        cannot be started at all.

        Not flagged: modules under `test/`; modules that define `__using__` (templates); modules
        that also implement another library's behaviour (`use Cluster.Strategy`,
        `@behaviour :ranch_protocol`: that library starts them from configuration); mix
        projects without a `use Application` module (a library's process modules are started by
        its users, also when the library is a path dependency inside another project); Hex packages' modules (mix.exs declares `package:`); modules named in config.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Orphan do
              use GenServer  # expect: OTP014

              def start_link(arg), do: GenServer.start_link(__MODULE__, arg, name: __MODULE__)
              def init(arg), do: {:ok, arg}
            end

            defmodule MyApp.Registry.Holder do
              use Agent  # expect: OTP014

              def start_link(_), do: Agent.start_link(fn -> %{} end, name: __MODULE__)
            end
            """,
            path="lib/my_app/orphan.ex",
            files={"lib/my_app/application.ex": APP},
            note="its own start_link does not count as a reference",
        ),
        bad(
            """
            defmodule MyApp.Probe do
              use GenServer  # expect: OTP014
            end
            """,
            path="lib/my_app/probe.ex",
            files={
                "lib/my_app/application.ex": APP,
                "test/my_app/probe_test.exs": "defmodule MyApp.ProbeTest do\n  use ExUnit.Case\n  test \"x\", do: start_supervised!({MyApp.Probe, []})\n  test \"y\", do: MyApp.Probe.start_link([])\nend\n",
            },
            note="references from test/ do not count",
        ),
        bad(
            """
            defmodule MyApp.Settings do
              use Agent  # expect: OTP014

              def default_locale, do: "en"
            end
            """,
            path="lib/my_app/settings.ex",
            files={"lib/my_app/application.ex": APP},
            fixed="""
            defmodule MyApp.Settings do

              def default_locale, do: "en"
            end
            """,
            note="a stray `use Agent` in a module that never starts an agent: the fix deletes the `use`, it does not supervise it",
        ),
        bad(
            """
            defmodule MyApp.Poller do
              use GenServer  # expect: OTP014

              def start_link(arg) do
                opts =
              end

              def init(arg), do: {:ok, arg}
            end
            """,
            path="lib/my_app/poller.ex",
            files={"lib/my_app/application.ex": APP},
            note="a half-typed file: an unfinished binding takes the next `end`",
        ),
        good(
            """
            defmodule MyApp.Cache do
              use GenServer
            end
            """,
            path="lib/my_app/cache.ex",
            files={"lib/my_app/application.ex": APP},
            note="listed in the application's children",
        ),
        good(
            """
            defmodule MyApp.Room do
              use GenServer
            end

            defmodule MyApp.Rooms do
              def open(id), do: DynamicSupervisor.start_child(MyApp.RoomSup, {MyApp.Room, id})
            end

            defmodule MyApp.Conn do
              use Agent
            end

            defmodule MyApp.Pool do
              alias MyApp.Conn
              def checkout, do: Conn.start_link([])
            end

            defmodule MyApp.Plugin do
              use GenServer
            end

            defmodule MyApp.Part do
              use GenServer
            end
            """,
            path="lib/my_app/rooms.ex",
            files={
                "lib/my_app/application.ex": APP.replace("MyApp.Repo,", "MyApp.Repo, {Oban, plugins: [MyApp.Plugin]}, {PartitionSupervisor, child_spec: MyApp.Part, name: MyApp.Parts},"),
            },
            note="start_child, a start_link call from another module, options and PartitionSupervisor",
        ),
        good(
            """
            defmodule MyApp.Sonar do
              use GenServer
            end
            """,
            path="lib/my_app/sonar.ex",
            files={
                "lib/my_app/application.ex": APP,
                "lib/my_app/top.ex": "defmodule MyApp.Top do\n  alias MyApp.{Repo, Sonar}\n  def children(conf), do: [{Sonar, conf: conf}]\nend\n",
            },
            note="a multi-alias `alias MyApp.{Repo, Sonar}` reference (found on oban: Oban.Sonar, Oban.Nursery)",
        ),
        good(
            """
            defmodule MyApp.Configured do
              use GenServer
            end
            """,
            path="lib/my_app/configured.ex",
            files={"lib/my_app/application.ex": APP, "config/config.exs": "import Config\nconfig :my_app, workers: [MyApp.Configured]\n"},
            note="named in config/*.exs (started from runtime data)",
        ),
        good(
            """
            defmodule MyApp.TestServer do
              use GenServer
            end
            """,
            path="test/support/test_server.ex",
            files={"lib/my_app/application.ex": APP},
            note="never for modules under test/",
        ),
        good(
            """
            defmodule MyLib.Server do
              use GenServer
            end
            """,
            path="lib/my_lib/server.ex",
            note="no `use Application` module in the workspace: a library's process modules are started by its users",
        ),
        good(
            """
            defmodule MyLib.Pool do
              use GenServer
            end
            """,
            path="lib/my_lib/pool.ex",
            files={
                "lib/my_app/application.ex": APP,
                "mix.exs": "defmodule MyLib.MixProject do\n  use Mix.Project\n  def project, do: [app: :my_lib, package: [licenses: [\"MIT\"]]]\nend\n",
            },
            note="a Hex package (mix.exs declares package:): its public process modules are started by users",
        ),
        good(
            """
            defmodule MyApp.Base do
              use GenServer

              defmacro __using__(_opts) do
                quote do: use GenServer
              end
            end
            """,
            path="lib/my_app/base.ex",
            files={"lib/my_app/application.ex": APP},
            note="a template module defining __using__",
        ),
        good(
            """
            defmodule MyApp.Session do
              use GenServer, restart: :transient

              def open(id) do
                spec = {__MODULE__, id}
                DynamicSupervisor.start_child(MyApp.SessionSup, spec)
              end

              def start_link(id), do: GenServer.start_link(__MODULE__, id)
              def init(id), do: {:ok, id}
            end

            defmodule MyApp.Job do
              use GenServer

              def run(sup, spec), do: DynamicSupervisor.start_child(sup, spec)
            end
            """,
            path="lib/my_app/session.ex",
            files={"lib/my_app/application.ex": APP},
            note="a module starting itself through start_child with a spec bound to a variable, or one it cannot read",
        ),
        good(
            """
            defmodule MyApp.Shard do
              use GenServer
            end

            defmodule MyApp.Shards do
              def start_link(opts), do: MyApp.ShardSup.start_link(MyApp.Shard, opts)
            end

            defmodule MyApp.ShardSup do
              use Supervisor

              def start_link(module, opts), do: Supervisor.start_link(__MODULE__, {module, opts})

              def init({module, opts}) do
                Supervisor.init([%{id: :shard, start: {module, :start_link, [opts]}}], strategy: :one_for_one)
              end
            end
            """,
            path="lib/my_app/shard.ex",
            files={"lib/my_app/application.ex": APP.replace("MyApp.Repo,", "MyApp.Repo, MyApp.Shards, MyApp.ShardSup,")},
            note="a module handed to another module's start function, which builds the child spec from it",
        ),
        good(
            """
            defmodule MyApp.Cleaner do
              use GenServer
            end

            defmodule MyApp.Presence do
              use GenServer
            end

            defmodule MyApp.Poller do
              use GenServer
            end

            defmodule MyApp.Mapped do
              use GenServer
            end
            """,
            path="lib/my_app/cleaner.ex",
            files={
                "lib/my_app/application.ex": APP.replace(
                    "children = [MyApp.Repo, {MyApp.Cache, ttl: 60}]",
                    "poller = {MyApp.Poller, interval: 10}\n    children = [MyApp.Repo, !parent() && {MyApp.Cleaner, every: 6}, if(web?(), do: MyApp.Presence), poller, %{id: :mapped, start: {MyApp.Mapped, :start_link, []}}]",
                ),
            },
            note="children behind `cond &&` or `if`, bound to a variable first, or given as a map child spec",
        ),
        good(
            """
            defmodule MyApp.Session do
              use GenServer
            end

            defmodule MyApp.Import do
              use GenServer
            end

            defmodule MyApp.Sessions do
              def open(id), do: start_worker(MyApp.Session, id)
              def import(file), do: MyApp.Sessions.start_worker(MyApp.Import, file)

              def start_worker(module, arg) do
                spec = %{id: make_ref(), start: {module, :start_link, [arg]}, restart: :temporary}
                DynamicSupervisor.start_child(MyApp.SessionSup, spec)
              end
            end
            """,
            path="lib/my_app/sessions.ex",
            files={"lib/my_app/application.ex": APP},
            note="started through a helper that puts the module it is given in a start_child MFA",
        ),
        good(
            """
            defmodule MyApp.Acceptor do
              use Task

              def loop(socket), do: loop(socket)
            end

            defmodule MyApp.Listener do
              def start_link(port) do
                pid = :proc_lib.spawn_link(MyApp.Acceptor, :loop, [port])
                {:ok, pid}
              end
            end

            defmodule MyApp.Cluster.DbStrategy do
              use GenServer
              use Cluster.Strategy
            end
            """,
            path="lib/my_app/acceptor.ex",
            files={"lib/my_app/application.ex": APP.replace("MyApp.Repo,", "MyApp.Repo, MyApp.Listener,")},
            note="spawned by another module's custom start_link; a libcluster strategy, started by its library from runtime configuration",
        ),
        good(
            """
            defmodule MyApp.Backends.Supervisor do
              use Supervisor
            end

            defmodule MyApp.Backends do
              defdelegate child_spec(arg), to: __MODULE__.Supervisor
            end

            defmodule MyApp.Checker do
              use GenServer
            end

            defmodule MyApp.Broadcaster do
              use GenServer
            end

            defmodule MyApp.Buster do
              use GenServer

              def supervisor_spec, do: {PartitionSupervisor, child_spec: __MODULE__, name: MyApp.Busters}
            end

            defmodule MyApp.CacheSup do
              use Supervisor

              def init(args) do
                broadcaster = if args[:env] != :test, do: MyApp.Broadcaster
                children = [{MyApp.Cache, args}, {MyApp.Checker, args} | pools(args)] ++ List.wrap(broadcaster)
                Supervisor.init(children ++ [MyApp.Buster.supervisor_spec()], strategy: :one_for_one)
              end
            end
            """,
            path="lib/my_app/backends.ex",
            files={"lib/my_app/application.ex": APP.replace("MyApp.Repo,", "MyApp.Repo, MyApp.Backends, MyApp.CacheSup,")},
            note="child_spec delegated to another module; the head of [a | rest]; a module building its own PartitionSupervisor spec; a module a supervisor names through a variable",
        ),
        good(
            """
            defmodule MyApp.Probe do
              use GenServer

              def run(target, timeout) do
                {:ok, pid} = start_link(target)
                GenServer.call(pid, :run, timeout)
              end

              def start_link(target), do: GenServer.start_link(__MODULE__, target)
              def init(target), do: {:ok, target}
            end

            defmodule MyApp.Lookup do
              use GenServer

              def lookup(key) do
                {:ok, pid} = GenServer.start(__MODULE__, key)
                GenServer.call(pid, :get)
              end
            end
            """,
            path="lib/my_app/probe.ex",
            files={"lib/my_app/application.ex": APP},
            note="started on demand by one of its own public functions (a per-request process linked to the caller)",
        ),
    ],
)


def _references(workspace, name: str) -> list[tuple[str, str, int, int]]:
    out = []
    for path, refs in workspace.facts("otp_process_refs"):
        for module, how, start, line in refs:
            # a reference whose alias could not be resolved (`alias Foo.{Bar}`, aliases inside
            # quote) still counts when it names the module's last segments
            if module == name or name.endswith("." + module):
                out.append((path, how, start, line))
    return sorted(out)


def _in_config(workspace, name: str) -> bool:
    return any(name in aliases for _path, aliases in workspace.facts("otp_config_modules"))


def _application(workspace, path: str):
    root = workspace.project_root_of(path)
    apps = list(workspace.facts("otp_applications"))
    same = [(p, a) for p, a in apps if root is None or workspace.project_root_of(p) == root]
    if root is not None and not same:
        return None  # the module's own mix project starts no application: a library (a path dependency)
    for app_path, records in same:
        for record in records:
            return app_path, record
    return None


def _is_package(workspace, path: str) -> bool:
    root = workspace.project_root_of(path)
    for mix_path, (package, _mod) in workspace.facts("otp_mix_project"):
        if root is None or os.path.dirname(mix_path) == root.rstrip("/"):
            if package:
                return True
    return False


# Behaviours of the standard library: implementing them says nothing about who starts the module.
_STDLIB_BEHAVIOURS = frozenset({
    *OTP_USE_MODULES, "Application", "Bitwise", "Logger", "Kernel", "Access", "Inspect",
    ":gen_server", ":gen_statem", ":gen_event", ":supervisor", ":application", ":supervisor_bridge",
})


def _started_by_dependency(info, name: str) -> str | None:
    """A behaviour of another library that the module also implements (`use Cluster.Strategy`,
    `@behaviour :ranch_protocol`): that library starts its implementations from its own
    configuration, which exhort cannot read. Returns the behaviour, or None."""
    root = name.split(".")[0]
    for used in [use.module for use in info.uses] + info.behaviours:
        if used in _STDLIB_BEHAVIOURS or used.split(".")[0] == root:
            continue
        return used
    return None


def _stray_use(info, use_module: str) -> bool:
    """The module never starts the process its `use` is for: no `start_link` of its own, no
    `init/1` callback, no call starting one. Its generated child_spec/1 would call a
    start_link/1 that does not exist, so nothing can supervise it: the `use` line is stray."""
    if info.definitions("start_link") or info.definitions("start") or info.definitions("init", 1):
        return False
    for node in walk(info.node):
        if node.type == "call" and call_name(node)[0] == use_module and (call_name(node)[1] or "").startswith("start"):
            return False
    return True


def _module_of_use(ctx, use_call):
    info = ctx.module_of(use_call)
    if info is None or use_call.parent is None or use_call.parent.parent != info.node:
        return None, None
    return info, full_module_name(info.node)


@RULE.check
def check(ctx: Context, match: Match):
    workspace = ctx.workspace
    if workspace is None or ctx.path.is_test or not ctx.path.is_lib:
        return
    use_call = match.node("call")
    info, name = _module_of_use(ctx, use_call)
    if info is None or name is None or info.definitions("__using__"):
        return
    if info.uses_module(*OTP_USE_MODULES) is None or info.uses_module(*OTP_USE_MODULES).node != use_call:
        return
    app = _application(workspace, ctx.document.path)
    if app is None or _is_package(workspace, ctx.document.path):
        return
    if _references(workspace, name) or _in_config(workspace, name) or _started_by_dependency(info, name):
        return
    app_path, (app_name, start, end) = app
    if app_name == name:
        return
    used = text(match.node("mod"))
    if _stray_use(info, used):
        line_start = ctx.data.rfind(b"\n", 0, use_call.start_byte) + 1
        line_end = ctx.data.find(b"\n", use_call.end_byte)
        removal = Edit(line_start, len(ctx.data) if line_end < 0 else line_end + 1, "")
        rest = ctx.data[use_call.end_byte:len(ctx.data) if line_end < 0 else line_end].strip()
        only_use = not ctx.data[line_start:use_call.start_byte].strip() and (not rest or rest.startswith(b"#"))
        yield ctx.finding(
            use_call,
            f"{name} has `use {used}` but never starts a process (no start_link, no init/1): nothing starts it and nothing could; remove the `use` line",
            fixes=[fix(f"Remove `use {used}`", removal, safe=False)] if only_use else [],
            severity=Severity.INFORMATION,
        )
        return
    yield ctx.finding(
        use_call,
        f"{name} (use {used}) is started by no children list, start_child or start_link call in lib/ or config/: it is unsupervised or unused",
        related=[Related(start, end, f"the children list of {app_name}", path=app_path)],
    )


# -- hover: who starts this module? ------------------------------------------------------


def who_starts_hover(ctx, node) -> str | None:
    if node is None:  # a template: no Elixir node under the cursor
        return None
    use_call = None
    for candidate in [node, *ancestors(node)]:
        if candidate.type == "call" and call_name(candidate) == (None, "use"):
            use_call = candidate
            break
    if use_call is None:
        return None
    args = call_arguments(use_call)
    if not args or args[0].type != "alias" or text(args[0]) not in OTP_USE_MODULES:
        return None
    info, name = _module_of_use(ctx, use_call)
    if name is None:
        return None
    workspace = ctx.workspace
    if workspace is None:
        return f"**Who starts `{name}`?** Unknown: no workspace index."
    refs = _references(workspace, name)
    root = workspace.project_root_of(ctx.document.path)
    lines = [f"**Who starts `{name}`?**", ""]
    for path, how, _start, line in refs:
        shown = os.path.relpath(path, root) if root and path.startswith(root) else path
        lines.append(f"- `{shown}:{line + 1}`: {how}")
    if _in_config(workspace, name):
        lines.append("- named in `config/*.exs` (probably started from configuration)")
    if len(lines) == 2:
        lines.append("No children list, `start_child` or `start_link` call in `lib/` or `config/` references it (test/ is not counted).")
    return "\n".join(lines)


HOVERS = [who_starts_hover]
