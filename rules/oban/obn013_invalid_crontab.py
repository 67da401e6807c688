"""OBN013 invalid-crontab."""

import calendar
import re

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import call_arguments, call_name, keyword_pairs, string_value, text, walk

from ._common import job_option_problems, oban_version

NICKNAMES = {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually", "@reboot"}
MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
DAYS = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}
RANGES = [("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 6)]
MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
NON_WORKER_USES = ("GenServer", "Supervisor", "Agent", "Task", "Ecto.Schema", "Phoenix.LiveView", "Phoenix.Component")

RULE = Rule(
    code="OBN013",
    name="invalid-crontab",
    category="oban",
    severity=Severity.ERROR,
    summary="A crontab entry Oban rejects when it boots",
    fix_safety="safe/offer",
    workspace=True,
    query=r"""
    ((pair key: (keyword) @key value: (list) @crontab) @pair (#match? @key "^crontab:"))
    ((pair key: (keyword) @key value: (identifier) @var) @pair (#match? @key "^crontab:"))
    """,
    explanation="""
        ## OBN013 invalid-crontab

        The Cron plugin validates its crontab when Oban starts, at application boot
        (`oban:lib/oban/plugins/cron.ex:104-115, 235-270@v2.23.1`; the legacy top-level
        `crontab:` option becomes that plugin, `config.ex:320-330`). Expressions are split with
        `parts: 5` (`cron/expression.ex:291-416`), so a 6-field (seconds) expression is
        "unrecognized"; weekdays are **0-6** (`7` is rejected), steps are 1-99, and `?`, `L`,
        `W`, `#` are unsupported. Ranges must be ascending and the day must exist in one of the
        months (`0 0 31 2 *` never runs). Entries are `{expr, Worker}` or `{expr, Worker, opts}`
        with `new/2` options (OBN008's checks), and the worker must be an Oban worker. A
        `timezone:` other than `"Etc/UTC"` needs a tz database dependency (a hint).

        **Bad** `{"0 */5 * * * *", MyApp.Sweeper}` · `{"0 9 * * 7", MyApp.Weekly}`

        **Good** `{"*/5 * * * *", MyApp.Sweeper}` · `{"0 9 * * SUN", MyApp.Weekly}`

        **Fix**: weekday `7` → `0` (safe); a 6-field expression starting with `0` → drop that
        field (offer: cron has a one-minute resolution anyway).
    """,
    examples=[
        bad(
            """
            import Config

            config :my_app, Oban,
              repo: MyApp.Repo,
              plugins: [
                {Oban.Plugins.Cron,
                 timezone: "Europe/Paris",  # expect: OBN013
                 crontab: [
                   {"0 */5 * * * *", MyApp.Sweeper},  # expect: OBN013
                   {"0 9 * * 7", MyApp.Weekly},  # expect: OBN013
                   {"0 0 31 2 *", MyApp.Never},  # expect: OBN013
                   {"61 * * * *", MyApp.Minute},  # expect: OBN013
                   {"0 0 L * *", MyApp.Last},  # expect: OBN013
                   {"0 5-2 * * *", MyApp.Range},  # expect: OBN013
                   {"*/0 * * * *", MyApp.Step},  # expect: OBN013
                   {"@hourly", MyApp.Hourly, max_attemps: 3},  # expect: OBN013
                   {"@daily"},  # expect: OBN013
                   {"@daily", MyApp.NotWorker}  # expect: OBN013
                 ]}
              ]
            """,
            path="config/config.exs",
            files={
                "mix.exs": "defmodule MyApp.MixProject do\n  use Mix.Project\n  defp deps, do: [{:oban, '~> 2.23'}]\nend\n",
                "lib/my_app/not_worker.ex": "defmodule MyApp.NotWorker do\n  def run, do: :ok\nend\n",
            },
            fixed="""
            import Config

            config :my_app, Oban,
              repo: MyApp.Repo,
              plugins: [
                {Oban.Plugins.Cron,
                 timezone: "Europe/Paris",  # expect: OBN013
                 crontab: [
                   {"*/5 * * * *", MyApp.Sweeper},  # expect: OBN013
                   {"0 9 * * 0", MyApp.Weekly},  # expect: OBN013
                   {"0 0 31 2 *", MyApp.Never},  # expect: OBN013
                   {"61 * * * *", MyApp.Minute},  # expect: OBN013
                   {"0 0 L * *", MyApp.Last},  # expect: OBN013
                   {"0 5-2 * * *", MyApp.Range},  # expect: OBN013
                   {"*/0 * * * *", MyApp.Step},  # expect: OBN013
                   {"@hourly", MyApp.Hourly, max_attempts: 3},  # expect: OBN013
                   {"@daily"},  # expect: OBN013
                   {"@daily", MyApp.NotWorker}  # expect: OBN013
                 ]}
              ]
            """,
        ),
        bad(
            """
            defmodule MyApp.Application do
              def start(_, _) do
                children = [{Oban, repo: MyApp.Repo, crontab: [{"0 25 * * *", MyApp.Nightly}]}]  # expect: OBN013
                Supervisor.start_link(children, strategy: :one_for_one)
              end
            end
            """,
            note="the legacy top-level crontab option in a child spec",
        ),
        good(
            """
            import Config
            config :my_app, Oban,
              plugins: [
                {Oban.Plugins.Cron,
                 timezone: "Etc/UTC",
                 crontab: [
                   {"0 2 * * *", MyApp.Nightly},
                   {"*/15 * * * *", MyApp.Quarter},
                   {"0 9 * * MON-FRI", MyApp.Weekday, args: %{"a" => 1}, queue: :cron},
                   {"0 0 1,15 JAN,jul *", MyApp.Twice},
                   {"5/10 8-18/2 1-29 2 0", MyApp.Steps},
                   {"@reboot", MyApp.Boot},
                   {@expr, MyApp.Dynamic},
                   entry()
                 ]}
              ]
            """,
            path="config/config.exs",
            note="everyday expressions, names, steps, non-literal entries",
        ),
        good(
            """
            import Config
            config :my_app, Oban, plugins: [{Oban.Plugins.Cron, timezone: "America/Chicago", crontab: [{"@daily", MyApp.Pro}, {"@hourly", MyApp.Manual}]}]
            """,
            path="config/config.exs",
            files={
                "mix.exs": "defmodule MyApp.MixProject do\n  use Mix.Project\n  defp deps, do: [{:oban, '~> 2.23'}, {:tz, '~> 0.28'}]\nend\n",
                "lib/my_app/pro.ex": "defmodule MyApp.Pro do\n  use Oban.Pro.Worker\n  def process(_), do: :ok\nend\n",
                "lib/my_app/manual.ex": "defmodule MyApp.Manual do\n  @behaviour Oban.Worker\n  def perform(_job), do: :ok\nend\n",
            },
            note="a tz dependency; a Pro worker and a module defining perform/1 itself are valid cron workers",
        ),
        bad(
            """
            import Config

            crontab = [
              {"0 4 * * *", MyApp.Nightly},
              {"30 9 * * 7", MyApp.Weekly}  # expect: OBN013
            ]

            config :my_app, Oban, plugins: [{Oban.Plugins.Cron, crontab: crontab}]
            """,
            path="config/config.exs",
            fixed="""
            import Config

            crontab = [
              {"0 4 * * *", MyApp.Nightly},
              {"30 9 * * 0", MyApp.Weekly}  # expect: OBN013
            ]

            config :my_app, Oban, plugins: [{Oban.Plugins.Cron, crontab: crontab}]
            """,
            note="a crontab bound to a variable once in the config file",
        ),
        good(
            """
            import Config

            crontab = [{"0 0 * * 7", MyApp.Weekly}]
            crontab = if config_env() == :prod, do: crontab, else: []

            config :my_app, Oban, plugins: [{Oban.Plugins.Cron, crontab: crontab ++ extra_entries()}]
            config :my_app, MyApp.Oban, plugins: [{Oban.Plugins.Cron, crontab: crontab}]
            """,
            path="config/config.exs",
            note="a variable bound more than once, or a computed crontab, is unknown",
        ),
        good(
            """
            import Config
            config :my_app, :scheduler, crontab: [{"0 0 * * 7", {MyApp, :run, []}}]
            """,
            path="config/config.exs",
            note="not an Oban crontab (Quantum-style config)",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    pair = match.node("pair")
    if not _is_oban_crontab(ctx, pair):
        return
    version = oban_version(ctx)
    crontab = match.get("crontab")
    if crontab is None:
        crontab = _bound_list(ctx, match.node("var"), pair)
        if crontab is None:
            return
    yield from _check_entries(ctx, crontab, version)
    yield from _timezone_hint(ctx, pair)


def _bound_list(ctx, var, pair):
    """`crontab: name` in a config file where `name = [...]` is bound exactly once, before the
    use, at the top level or in the same block; else None (unknown)."""
    if not ctx.path.is_config:
        return None
    name = text(var)
    root = pair
    while root.parent is not None:
        root = root.parent
    bindings = [
        node for node in walk(root)
        if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "="
        and node.child_by_field_name("left").type == "identifier" and text(node.child_by_field_name("left")) == name
    ]
    if len(bindings) != 1 or bindings[0].end_byte > pair.start_byte:
        return None
    value = bindings[0].child_by_field_name("right")
    return value if value is not None and value.type == "list" else None


def _check_entries(ctx, crontab, version):
    for entry in crontab.named_children:
        if entry.type == "comment":
            continue
        if entry.type != "tuple":
            if entry.type in ("string", "atom", "integer", "list", "map", "alias"):
                yield ctx.finding(entry, "a crontab entry must be {expression, Worker} or {expression, Worker, opts}")
            continue
        items = [c for c in entry.named_children if c.type != "comment"]
        if len(items) not in (2, 3):
            yield ctx.finding(entry, "a crontab entry must be {expression, Worker} or {expression, Worker, opts}")
            continue
        expression = string_value(items[0])
        if expression is not None:
            yield from _check_expression(ctx, items[0], expression)
        if items[1].type == "alias":
            yield from _check_worker(ctx, items[1])
        if len(items) == 3 and items[2].type in ("keywords", "list"):
            for node, message, rename in job_option_problems(items[2], version):
                fixes = [fix(f"Rename to {rename}:", replace_node(node, f"{rename}: "), safe=False)] if rename and node.type == "keyword" else []
                yield ctx.finding(node, f"crontab job option: {message}", fixes=fixes)


def _is_oban_crontab(ctx, pair) -> bool:
    keywords = pair.parent
    holder = keywords.parent if keywords is not None else None
    if holder is None:
        return False
    if holder.type == "list":
        holder = holder.parent
    if holder is None:
        return False
    if holder.type == "tuple":
        first = holder.named_children[0] if holder.named_children else None
        if first is None or first.type != "alias":
            return False
        name = text(first)
        module = ctx.module_of(holder)
        full = module.resolve_alias(name) if module is not None else name
        return full in ("Oban.Plugins.Cron", "Oban")
    if holder.type == "arguments" and holder.parent is not None:
        call = holder.parent
        if call_name(call) == (None, "config"):
            args = call_arguments(call)
            return len(args) >= 3 and args[1].type == "alias" and (text(args[1]) == "Oban" or text(args[1]).endswith(".Oban"))
        if call_name(call) == ("Oban", "start_link"):
            return True
    return False


def _field_values(field: str, low: int, high: int, names: dict) -> tuple[set[int] | None, str | None]:
    values: set[int] = set()
    for part in field.split(","):
        upper = part.upper()
        for name, number in names.items():
            upper = re.sub(rf"\b{name}\b", str(number), upper)
        if upper == "*":
            values |= set(range(low, high + 1))
            continue
        m = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", upper)
        if not m:
            return None, f"unsupported cron syntax {part!r}"
        base, step = m.group(1), m.group(2)
        if step is not None and not re.fullmatch(r"[1-9]\d?", step):
            return None, f"cron step {step!r} must be 1-99"
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            start, stop = (int(x) for x in base.split("-"))
            if start > stop:
                return None, f"cron range {part!r} has its minimum above its maximum"
        else:
            start = stop = int(base)
            if step is not None:
                stop = high
        for number in (start, stop):
            if not low <= number <= high:
                return None, f"{number} is out of range {low}-{high}"
        values |= set(range(start, stop + 1, int(step) if step else 1))
    return values, None


def _check_expression(ctx, node, expression):
    expression = expression.strip()
    if expression.startswith("@"):
        if expression not in NICKNAMES:
            yield ctx.finding(node, f"unknown cron nickname {expression}")
        return
    fields = expression.split()
    if len(fields) != 5:
        fixes = []
        if len(fields) == 6 and fields[0] == "0":
            fixes = [fix("Drop the seconds field", replace_node(node, '"' + " ".join(fields[1:]) + '"'), safe=False)]
        yield ctx.finding(node, f"a cron expression has exactly 5 fields (minute hour day month weekday), this one has {len(fields)}", fixes=fixes)
        return
    found = {}
    for field, (name, low, high) in zip(fields, RANGES):
        names = MONTHS if name == "month" else DAYS if name == "weekday" else {}
        values, problem = _field_values(field, low, high, names)
        if problem:
            fixes = []
            if name == "weekday" and "7" in re.split(r"[,\-/]", field):
                fixed_field = re.sub(r"(?<![\d])7(?![\d])", "0", field)
                fields_fixed = fields[:4] + [fixed_field]
                if fixed_field != field and "-" not in field:
                    fixes = [fix("Use 0 for Sunday", replace_node(node, '"' + " ".join(fields_fixed) + '"'), safe=True)]
                problem += " (Sunday is 0; 7 is rejected)"
            yield ctx.finding(node, f"invalid {name} field: {problem}", fixes=fixes)
            return
        found[name] = values
    days, months = found["day"], found["month"]
    if days and months and all(day > MONTH_DAYS[month] for day in days for month in months):
        yield ctx.finding(node, "no day in this expression occurs in its months: it never runs")


def _check_worker(ctx, alias):
    if ctx.workspace is None:
        return
    name = text(alias)
    module = ctx.module_of(alias)
    if module is not None:
        name = module.resolve_alias(name)
    record = ctx.workspace.module(name)
    if record is None:
        return
    if any(u in ("Oban.Worker", "Oban.Pro.Worker") for u in record.uses):
        return
    if any(name in names for _path, names in ctx.workspace.facts("oban_perform_modules")):
        return  # `@behaviour Oban.Worker` with a hand-written perform/1 is enough for the plugin
    if all(u in NON_WORKER_USES for u in record.uses):
        yield ctx.finding(alias, f"{name} is not an Oban worker (no `use Oban.Worker`)")


def _timezone_hint(ctx, pair):
    if ctx.workspace is None:
        return
    for key, value, inner in keyword_pairs(pair.parent):
        if key != "timezone":
            continue
        zone = string_value(value)
        if zone is None or zone in ("Etc/UTC", "UTC"):
            return
        deps = None
        for _path, names in ctx.workspace.facts("oban_mix_deps"):
            deps = (deps or set()) | set(names)
        if deps is None or deps & {"tz", "tzdata", "time_zone_info"}:
            return
        yield ctx.finding(inner, f"timezone {zone!r} needs a time zone database (tz, tzdata or time_zone_info) in mix.exs", severity=Severity.HINT)
