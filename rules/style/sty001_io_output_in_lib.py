"""STY001 io-output-in-lib."""

import re

from exhort.execution import Runs
from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import (
    call_arguments,
    call_name,
    effective_arguments,
    enclosing_function,
    is_definition_head,
    is_mix_task_module,
    module_members,
    pipe_source,
    text,
    walk,
)
from exhort.tool_comments import credo_disabled

CREDO_CHECKS = ("Credo.Check.Warning.IoInspect", "Credo.Check.Refactor.IoPuts", "Credo.Check.Warning.Dbg")
# Functions whose name says they print: their output is the point.
PRINTER_NAME = re.compile(r"^(print|dump|display|show|puts|log|report)(_|$)|_(print|dump)$")
# Calls that mark a module as run by hand at a console: it reads the operator's answers, or it
# runs the migrations of a release.
CONSOLE_CALLS = frozenset({
    ("IO", "gets"), ("IO", "getn"), ("Ecto.Migrator", "run"), ("Ecto.Migrator", "with_repo"),
})
HALTS = frozenset({("System", "halt"), ("System", "stop"), (":init", "stop"), (":erlang", "halt")})


RULE = Rule(
    code="STY001",
    name="io-output-in-lib",
    category="style",
    severity=Severity.INFORMATION,  # IO.puts findings are hints (see the explanation)
    summary="IO.puts, IO.inspect or dbg left in library code",
    fix_safety="safe/offer",
    runs_in=frozenset({Runs.PRODUCTION}),  # Mix tasks, tests, console tasks and the compiler print on purpose
    query=r"""
    ((call target: (dot left: (alias) @module right: (identifier) @function)) @call
      (#eq? @module "IO") (#any-of? @function "puts" "inspect"))
    ((call target: (identifier) @function) @call (#eq? @function "dbg"))
    """,
    explanation="""
        ## STY001 io-output-in-lib

        `IO.puts`, `IO.inspect` and `dbg` in `lib/` are usually debugging left behind. They
        write to standard output with no level, no metadata and no way to filter them in
        production. `Logger` has levels and metadata and can be silenced per environment.
        Credo has the same checks (`Refactor.IoPuts` EX4011, `Warning.IoInspect` EX5006,
        `Warning.Dbg` EX5026).

        `IO.inspect` and `dbg` are reported as **information**: they are nearly always
        leftovers (Credo warns about them). `IO.puts` stays a **hint** (hidden from the CLI's
        default output): in `lib/` it is as often deliberate output for whoever runs the code
        (Credo ships `IoPuts` disabled as controversial).

        Not flagged: Mix tasks, scripts, tests and anything outside `lib/`; compile-time code;
        definitions (`def dbg(term)` is not a call); captures passed as values
        (`receiver: &IO.inspect/1`); a `*.Debug` module of console helpers; lines the team
        silenced for Credo (`# credo:disable-for-...`). `IO.puts` is also left alone where printing is the point: modules
        run by hand from a console (under `lib/**/scripts/`, named `*.Scripts.*`, `*.Release`,
        `*.CLI`, `MyAppCLI.*` or `*.Bench`, escripts defining `main/1`, modules reading the
        operator's answers with `IO.gets` or running a release's migrations with
        `Ecto.Migrator`), functions named for printing (`print_*`, `dump`, `display_*`,
        `log_*`, ...) and functions that halt the VM after saying why.

        **Bad**

        ```elixir
        def handle_event("save", params, socket) do
          IO.inspect(params, label: "params")
          ...
        ```

        **Good**

        ```elixir
        require Logger
        Logger.debug("save params: #{inspect(params)}")
        ```

        **Fix**: `IO.inspect(x)` and `IO.inspect(x, opts)` → `x` is safe, since `IO.inspect/1,2`
        returns its argument (never offered for `IO.inspect/3`, which writes to a device).
        `IO.puts(msg)` → `Logger.info(msg)` with `require Logger` is only offered: it changes
        where the output goes.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Billing do
              def charge(order) do
                IO.inspect(order, label: "order")  # expect: STY001
                order
                |> compute()
                |> IO.inspect()  # expect: STY001
                |> save()
              end
            end
            """,
            path="lib/my_app/billing.ex",
            fixed="""
            defmodule MyApp.Billing do
              def charge(order) do
                order  # expect: STY001
                order
                |> compute()  # expect: STY001
                |> save()
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Report do
              def finish(lines) do
                IO.puts("report ready")  # expect: STY001
                dbg(lines)  # expect: STY001
              end
            end
            """,
            path="lib/my_app/report.ex",
            fixed="""
            defmodule MyApp.Report do
              require Logger
              def finish(lines) do
                Logger.info("report ready")  # expect: STY001
                dbg(lines)  # expect: STY001
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Logged do
              require Logger
              def warn(msg), do: IO.puts(msg)  # expect: STY001
            end
            """,
            path="lib/my_app/logged.ex",
            fixed="""
            defmodule MyApp.Logged do
              require Logger
              def warn(msg), do: Logger.info(msg)  # expect: STY001
            end
            """,
            note="require Logger is not added twice",
        ),
        good(
            """
            defmodule Mix.Tasks.MyApp.Report do
              use Mix.Task
              def run(_), do: IO.puts("done")
            end
            """,
            path="lib/mix/tasks/my_app.report.ex",
            note="Mix tasks print on purpose",
        ),
        good(
            """
            defmodule MyApp.CLI do
              def main(_), do: IO.puts("hello")
            end
            """,
            path="test/support/cli_helper.ex",
            note="outside lib/",
        ),
        good(
            """
            IO.puts("seeded")
            """,
            path="priv/repo/seeds.exs",
            note="scripts",
        ),
        good(
            """
            defmodule MyApp.Scripts.Backfill do
              def run(org_id) do
                IO.puts("Backfilling organization #{org_id}")
              end
            end

            defmodule MyApp.Release do
              def migrate, do: IO.puts("migrated")
            end

            defmodule MyApp.Tool do
              def main(_argv), do: IO.puts("usage: tool FILE")
            end
            """,
            path="lib/my_app/scripts/backfill.ex",
            note="console scripts, release tasks and escripts print for the operator (IO.puts only)",
        ),
        good(
            """
            defmodule MyApp.Stream do
              defstruct receiver: &IO.inspect/1, tap: &dbg/1
            end

            defmodule MyApp.Debug do
              def mark(label), do: IO.inspect(label, label: "mark")
            end
            """,
            path="lib/my_app/stream.ex",
            note="a captured IO.inspect used as a default callback, and a Debug module of console helpers",
        ),
        good(
            """
            defmodule MyApp.Ops do
              def broadcast(subject) do
                IO.puts("About to email every admin about #{subject}. Continue? [y/N]")
                if IO.gets("") |> String.trim() == "y", do: :ok, else: IO.puts("Aborted.")
              end
            end

            defmodule MyApp.Database.Migrate do
              def run(repo) do
                IO.puts("Running migrations for #{inspect(repo)}")
                Ecto.Migrator.run(repo, :up, all: true)
              end
            end

            defmodule MyApp.Metrics do
              def dump(snapshot), do: IO.puts(format(snapshot))
              def print_connection_url(url), do: IO.puts(url)
              def format(snapshot), do: inspect(snapshot)

              def abort!(message) do
                IO.puts("ERROR: " <> message)
                System.halt(1)
              end

              def debug(term) do
                # credo:disable-for-next-line Credo.Check.Warning.IoInspect
                IO.inspect(term)
              end

              def dbg(term), do: Logger.debug(inspect(term))
            end

            defmodule MyAppCLI.Utils do
              def log_info(message), do: message |> IO.ANSI.format() |> IO.puts()
            end
            """,
            path="lib/my_app/ops.ex",
            note="interactive console tools, release migrations, printing helpers, halting, a Credo-silenced line, a dbg definition, a CLI namespace",
        ),
        good(
            """
            defmodule MyApp.Text do
              def render(x), do: inspect(x)
              def write(device, x), do: IO.write(device, x)
              def label(x), do: MyIO.inspect(x)
            end
            """,
            path="lib/my_app/text.ex",
            note="inspect/1, IO.write and other modules are not flagged",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    if not ctx.path.is_lib or ctx.path.is_mix_task or ctx.path.is_script:
        return
    call = match.node("call")
    if is_definition_head(call):
        return  # `def dbg(term)` defines a function; it does not call one
    module = ctx.module_of(call)
    if module is not None and is_mix_task_module(module.name):
        return
    module_text, function = call_name(call)
    if _captured(call):
        return  # `&IO.inspect/1` passed as a value (a default callback) is a choice, not a leftover
    if module is not None and module.name and "Debug" in module.name.split(".")[1:]:
        return  # a `*.Debug` module of console helpers prints on purpose
    if credo_disabled(ctx.data, call, CREDO_CHECKS):
        return  # the team silenced Credo's IO checks on this line
    puts = (module_text, function) in (("IO", "puts"), ("IO", "write"))
    if puts and (_console_tool(ctx, module) or _prints_on_purpose(call)):
        return  # console tools, release tasks, escripts and printing helpers print for the operator
    label = f"{module_text}.{function}" if module_text else function
    fixes = []
    if module_text == "IO" and function == "inspect":
        fixes = _inspect_fix(call)
    elif module_text == "IO" and function == "puts":
        fixes = _puts_fix(call, module)
    # IO.inspect and dbg are debugging left behind (Credo warns); IO.puts is often deliberate
    # output (Credo's IoPuts is controversial and off by default), so it stays a hint.
    severity = Severity.HINT if puts else None
    yield ctx.finding(
        call, f"{label} in library code; use Logger (or remove the debugging output)", fixes=fixes, severity=severity
    )


def _prints_on_purpose(call) -> bool:
    """Inside a function named for printing (`print_report`, `dump`, `display_banner`), or one
    that halts the VM right after telling the operator why."""
    definition = enclosing_function(call)
    if definition is None:
        return False
    if PRINTER_NAME.search(definition.name):
        return True
    return any(node.type == "call" and call_name(node) in HALTS for node in walk(definition.node))


def _captured(call) -> bool:
    """`&IO.inspect/1` or `&dbg/1`: the function is named, not called here."""
    parent = call.parent
    return (
        parent is not None and parent.type == "binary_operator" and text(parent.child_by_field_name("operator")) == "/"
        and parent.child_by_field_name("left") == call
        and parent.parent is not None and parent.parent.type == "unary_operator"
        and text(parent.parent.child_by_field_name("operator")) == "&"
    )


CONSOLE_SEGMENTS = frozenset({"Scripts", "Script", "Release", "Releases", "CLI", "Bench", "Benchmark", "Benchmarks"})


def _console_tool(ctx, module) -> bool:
    """Code run by hand from a console: a module under `lib/**/scripts/`, a module named
    `*.Scripts.*`, `*.Release`, `*.CLI` (or `MyAppCLI`) or `*.Bench`, one defining an
    escript's `main/1`, one that reads the operator's answers (`IO.gets`), or one that runs a
    release's migrations (`Ecto.Migrator`)."""
    if "scripts" in ctx.path.parts[1:-1]:
        return True
    if module is None or not module.name:
        return False
    parts = module.name.split(".")
    if CONSOLE_SEGMENTS & set(parts[1:]) or parts[0].endswith("CLI"):
        return True
    if module.defines("main", 1):
        return True
    return _calls_console(ctx, module.node)


def _calls_console(ctx, module_node) -> bool:
    key = ("sty001-console", module_node.start_byte, module_node.end_byte)
    found = ctx.document.memo.get(key)
    if found is None:
        found = any(node.type == "call" and call_name(node) in CONSOLE_CALLS for node in walk(module_node))
        ctx.document.memo[key] = found
    return found


def _inspect_fix(call):
    arguments = effective_arguments(call)
    if len(arguments) not in (1, 2):
        return []  # IO.inspect/3 writes to a device
    source = pipe_source(call)
    if source is not None:  # `x |> IO.inspect(...)`: drop the stage
        pipe = call.parent
        return [fix("Remove IO.inspect", Edit(pipe.start_byte, pipe.end_byte, text(source)), safe=True)]
    if not call_arguments(call):
        return []
    return [fix("Remove IO.inspect", replace_node(call, text(arguments[0])), safe=True)]


def _puts_fix(call, module):
    arguments = effective_arguments(call)
    if len(arguments) != 1 or pipe_source(call) is not None:
        return []
    target = call.child_by_field_name("target")
    edits = [replace_node(target, "Logger.info")]
    if module is not None and not _requires_logger(module.node):
        members = module_members(module.node)
        if members:
            first = members[0]
            indent = " " * (first.start_point.column)
            edits.append(Edit(first.start_byte, first.start_byte, f"require Logger\n{indent}"))
    return [fix("Replace with Logger.info", *edits, safe=False)]


def _requires_logger(module_node) -> bool:
    for member in module_members(module_node):
        if member.type == "call" and call_name(member) in ((None, "require"), (None, "use")):
            args = call_arguments(member)
            if args and text(args[0]) == "Logger":
                return True
    return False
