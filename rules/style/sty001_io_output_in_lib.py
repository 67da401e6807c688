"""STY001 io-output-in-lib."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import (
    call_arguments,
    call_name,
    effective_arguments,
    is_mix_task_module,
    module_members,
    pipe_source,
    text,
)

RULE = Rule(
    code="STY001",
    name="io-output-in-lib",
    category="style",
    severity=Severity.HINT,
    summary="IO.puts, IO.inspect or dbg left in library code",
    fix_safety="safe/offer",
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
        `Warning.Dbg` EX5026). Mix tasks and scripts print on purpose and are not flagged;
        nor is anything outside `lib/`. `IO.puts` is also left alone in code run by hand from
        a console: modules under `lib/**/scripts/` or named `*.Scripts.*`, `*.Release` or
        `*.CLI`, and escripts (a module defining `main/1`). A `*.Debug` module of console helpers
        and captures passed as values (`receiver: &IO.inspect/1`) are not flagged at all.

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
              def print(lines) do
                IO.puts("report ready")  # expect: STY001
                dbg(lines)  # expect: STY001
              end
            end
            """,
            path="lib/my_app/report.ex",
            fixed="""
            defmodule MyApp.Report do
              require Logger
              def print(lines) do
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
    module = ctx.module_of(call)
    if module is not None and is_mix_task_module(module.name):
        return
    module_text, function = call_name(call)
    if _captured(call):
        return  # `&IO.inspect/1` passed as a value (a default callback) is a choice, not a leftover
    if module is not None and module.name and "Debug" in module.name.split(".")[1:]:
        return  # a `*.Debug` module of console helpers prints on purpose
    if (module_text, function) in (("IO", "puts"), ("IO", "write")) and _console_tool(ctx, module):
        return  # console scripts, release tasks and escripts print for the operator on purpose
    label = f"{module_text}.{function}" if module_text else function
    fixes = []
    if module_text == "IO" and function == "inspect":
        fixes = _inspect_fix(call)
    elif module_text == "IO" and function == "puts":
        fixes = _puts_fix(call, module)
    yield ctx.finding(call, f"{label} in library code; use Logger (or remove the debugging output)", fixes=fixes)


def _captured(call) -> bool:
    """`&IO.inspect/1` or `&dbg/1`: the function is named, not called here."""
    parent = call.parent
    return (
        parent is not None and parent.type == "binary_operator" and text(parent.child_by_field_name("operator")) == "/"
        and parent.child_by_field_name("left") == call
        and parent.parent is not None and parent.parent.type == "unary_operator"
        and text(parent.parent.child_by_field_name("operator")) == "&"
    )


CONSOLE_SEGMENTS = frozenset({"Scripts", "Script", "Release", "Releases", "CLI"})


def _console_tool(ctx, module) -> bool:
    """Code run by hand from a console: a module under `lib/**/scripts/`, a module named
    `*.Scripts.*`, `*.Release` or `*.CLI`, or one defining an escript's `main/1`."""
    if "scripts" in ctx.path.parts[1:-1]:
        return True
    if module is None or not module.name:
        return False
    if CONSOLE_SEGMENTS & set(module.name.split(".")[1:]):
        return True
    return module.defines("main", 1)


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
