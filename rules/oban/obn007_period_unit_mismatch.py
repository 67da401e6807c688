"""OBN007 period-unit-mismatch."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import atom_value, call_arguments, call_name, enclosing_function, function_def, integer_value, keyword_key, tails, text

from .._queries import def_query
from ._common import in_test_script, oban_version, worker_use

SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600}

RULE = Rule(
    code="OBN007",
    name="period-unit-mismatch",
    category="oban",
    severity=Severity.WARNING,
    summary="Milliseconds where Oban expects seconds (or the reverse for timeout/1)",
    fix_safety="offer",
    workspace=True,
    query=r"""
    ((call target: (dot left: (atom) @mod right: (identifier) @fun)) @ms
      (#eq? @mod ":timer") (#any-of? @fun "seconds" "minutes" "hours" "hms"))
    ((call target: (identifier) @fun (arguments)) @ms (#eq? @fun "to_timeout"))
    """ + def_query(["def"], ["timeout"], capture="defcall"),  # _timeout_hint reads def timeout/1 only
    explanation="""
        ## OBN007 period-unit-mismatch

        `:timer.seconds/minutes/hours/hms` and `to_timeout/1` return **milliseconds**, but Oban
        reads **seconds** in snooze periods ("An integer representing seconds",
        `oban:lib/oban/worker.ex:262-270@v2.23.1`), `schedule_in:` (`job.ex` `to_timestamp/1`
        uses `DateTime.add(..., :second)`), `unique: [period: ...]` and `backoff/1`
        (`worker.ex:398-406`). `:timer.minutes(5)` read as seconds is about 3.5 days. The
        reverse mistake: `timeout/1` takes **milliseconds** (`worker.ex:225-231`), so a small
        integer such as `30` there is 30 ms (a hint).

        **Bad** `{:snooze, :timer.minutes(5)}` · `new(args, schedule_in: :timer.hours(1))` ·
        `def backoff(_job), do: :timer.seconds(30)`

        **Good** `{:snooze, {5, :minutes}}` · `schedule_in: {1, :hour}` · `def backoff(_job), do: 30`

        **Fix** (offer): `:timer.<unit>(n)` → `{n, :<unit>}` (tuple snooze needs Oban ≥ 2.20.3,
        tuple unique periods ≥ 2.17, tuple `schedule_in` ≥ 2.12; below that, and in
        `backoff/1`, the integer number of seconds). `:timer.seconds(n)` → `n`. It gives the
        duration the author meant, but changes what the code does today. `:timer.seconds(30)` as
        a `timeout/1` tail is correct and is not flagged; large plain integers are never flagged.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Sync do
              use Oban.Worker, unique: [period: :timer.hours(1)]  # expect: OBN007

              def perform(%Job{attempt: attempt}) when attempt < 3, do: {:snooze, :timer.minutes(5)}  # expect: OBN007
              def perform(_job), do: {:snooze, :timer.seconds(30)}  # expect: OBN007

              def backoff(_job), do: :timer.seconds(30)  # expect: OBN007

              def enqueue(args) do
                args
                |> new(schedule_in: :timer.hours(2))  # expect: OBN007
                |> Oban.insert()
              end
            end
            """,
            fixed="""
            defmodule MyApp.Sync do
              use Oban.Worker, unique: [period: {1, :hours}]  # expect: OBN007

              def perform(%Job{attempt: attempt}) when attempt < 3, do: {:snooze, {5, :minutes}}  # expect: OBN007
              def perform(_job), do: {:snooze, 30}  # expect: OBN007

              def backoff(_job), do: 30  # expect: OBN007

              def enqueue(args) do
                args
                |> new(schedule_in: {2, :hours})  # expect: OBN007
                |> Oban.insert()
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Old do
              use Oban.Worker
              def perform(_job), do: {:snooze, :timer.minutes(n())}  # expect: OBN007
              def backoff(%Job{attempt: a}), do: :timer.minutes(a)  # expect: OBN007
              def timeout(_job), do: 30  # expect: OBN007
              defp n, do: 2
            end
            """,
            fixed="""
            defmodule MyApp.Old do
              use Oban.Worker
              def perform(_job), do: {:snooze, n() * 60}  # expect: OBN007
              def backoff(%Job{attempt: a}), do: a * 60  # expect: OBN007
              def timeout(_job), do: 30  # expect: OBN007
              defp n, do: 2
            end
            """,
            files={"mix.lock": '%{\n  "oban": {:hex, :oban, "2.19.0", "abc", [:mix], [], "hexpm", "def"},\n}\n'},
            note="before 2.20.3 the fix is the integer form; a small timeout/1 is a hint",
        ),
        good(
            """
            defmodule MyApp.Sync do
              use Oban.Worker, unique: [period: 3600]
              def perform(_job), do: {:snooze, {5, :minutes}}
              def timeout(_job), do: :timer.seconds(30)
              def backoff(_job), do: 30
              def later(args), do: args |> new(schedule_in: 86_400) |> Oban.insert()
            end
            """,
            note="timeout/1 takes milliseconds; large plain integers are fine",
        ),
        good(
            """
            defmodule MyApp.Reminders do
              def remind(user) do
                MyApp.Notifier.deliver(user, schedule_in: :timer.minutes(5))
                MyApp.Cache.put(user.id, user, unique: [period: :timer.hours(1)])
              end
            end
            """,
            note="schedule_in:/period: options of APIs other than Oban's (which may well take milliseconds)",
        ),
        good(
            """
            defmodule MyApp.Poller do
              use GenServer
              def init(state) do
                Process.send_after(self(), :tick, :timer.minutes(5))
                {:ok, state, :timer.seconds(30)}
              end
              def backoff(_), do: :timer.seconds(1)
            end
            """,
            note="milliseconds where milliseconds are expected; backoff/1 outside a worker",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    if in_test_script(ctx):
        return  # worker fixtures in test scripts are often invalid on purpose
    defcall = match.get("defcall")
    if defcall is not None:
        yield from _timeout_hint(ctx, defcall)
        return
    ms = match.node("ms")
    where = _context(ctx, ms)
    if where is None:
        return
    version = oban_version(ctx)
    tuple_ok = {
        "snooze": version >= (2, 20, 3),
        "period": version >= (2, 17),
        "schedule_in": version >= (2, 12),
        "backoff": False,
    }[where]
    replacement = _seconds_form(ms, tuple_ok)
    fixes = [fix(f"Use {replacement}", replace_node(ms, replacement), safe=False)] if replacement else []
    label = {"snooze": "{:snooze, _}", "period": "unique period", "schedule_in": "schedule_in", "backoff": "backoff/1"}[where]
    yield ctx.finding(ms, f"{text(ms.child_by_field_name('target'))}/1 returns milliseconds but Oban reads {label} as seconds", fixes=fixes)


def _context(ctx, ms) -> str | None:
    parent = ms.parent
    if parent is None:
        return None
    if parent.type == "tuple":
        items = [c for c in parent.named_children if c.type != "comment"]
        if len(items) == 2 and items[1] == ms and atom_value(items[0]) == "snooze" and items[0].type == "atom":
            return "snooze"
    if parent.type == "pair":
        key = keyword_key(parent)
        if key in ("schedule_in", "scheduled_in") and _job_options(ctx, parent):
            return "schedule_in"
        if key == "period":
            outer = parent.parent.parent if parent.parent is not None else None
            if outer is not None and outer.type == "list" and outer.parent is not None and outer.parent.type == "pair" \
                    and keyword_key(outer.parent) == "unique" and _job_options(ctx, outer.parent):
                return "period"
    fdef = enclosing_function(ms)
    if fdef is not None and fdef.name == "backoff" and fdef.arity == 1 and fdef.kind == "def":
        if worker_use(ctx.module_of(ms)) is not None and any(t is ms or (hasattr(t, "id") and t.id == ms.id) for t in tails(fdef.body)):
            return "backoff"
    return None


def _job_options(ctx, pair) -> bool:
    """The pair is an option of `use Oban.Worker`/`use Oban.Pro.Worker`, of a `new/1,2` call
    (any receiver: workers often live in dependencies) or of a crontab entry."""
    keywords = pair.parent
    holder = keywords.parent if keywords is not None else None
    if holder is not None and holder.type == "list":
        holder = holder.parent
    if holder is None:
        return False
    if holder.type == "tuple":  # {expr, Worker, opts} in a crontab
        items = [c for c in holder.named_children if c.type != "comment"]
        return len(items) == 3 and items[0].type == "string" and items[1].type == "alias"
    if holder.type != "arguments" or holder.parent is None:
        return False
    call = holder.parent
    mod, fun = call_name(call)
    if fun == "new":
        return True
    if (mod, fun) == (None, "use"):
        args = call_arguments(call)
        if args and args[0].type == "alias":
            module = ctx.module_of(call)
            name = module.resolve_alias(text(args[0])) if module is not None else text(args[0])
            return name in ("Oban.Worker", "Oban.Pro.Worker")
    return False


def _seconds_form(ms, tuple_ok: bool) -> str | None:
    mod, fun = call_name(ms)
    args = call_arguments(ms)
    if mod != ":timer" or fun not in SECONDS or len(args) != 1:
        return None
    arg = args[0]
    if fun == "seconds":
        return text(arg)
    if tuple_ok:
        return f"{{{text(arg)}, :{fun}}}"
    number = integer_value(arg)
    if number is not None:
        return str(number * SECONDS[fun])
    operand = text(arg) if arg.type in ("identifier", "call", "integer") else f"({text(arg)})"
    return f"{operand} * {SECONDS[fun]}"


def _timeout_hint(ctx, defcall):
    fdef = function_def(defcall)
    if fdef is None or fdef.name != "timeout" or fdef.arity != 1:
        return
    if worker_use(ctx.module_of(defcall)) is None:
        return
    for tail in tails(fdef.body):
        value = integer_value(tail) if getattr(tail, "type", None) == "integer" else None
        if value is not None and 0 < value < 1000:
            yield ctx.finding(
                tail,
                f"timeout/1 returns milliseconds: {value} is {value} ms. Did you mean :timer.seconds({value})?",
                severity=Severity.HINT,
            )
