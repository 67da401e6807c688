"""Hover option reference for Oban (catalog 6.1-6.4): `use Oban.Worker` options, `new/2` job
options, the Oban instance config and perform/1 return values."""

from __future__ import annotations

from exhort.syntax import call_name, enclosing_function, keyword_key, text

from ._common import is_worker_use_call, options_owner, worker_use

WORKER = {
    "queue": "atom or string · default `:default` · stored as a string of 1-128 chars; must appear in the `queues:` config to run (OBN012).",
    "priority": "integer 0..9 (0 = highest) · default `0`.",
    "max_attempts": "integer > 0 · default `20`.",
    "tags": "list of strings · default `[]` · `new/2` trims, downcases and deduplicates tags.",
    "replace": "state-keyed keyword list, e.g. `[scheduled: [:scheduled_at]]`; states: suspended scheduled available executing retryable completed discarded cancelled; fields: args max_attempts meta priority queue scheduled_at tags worker · default `[]`.",
    "unique": "`false`, `true` (defaults with `period: :infinity`) or a keyword list (fields, keys, period, states, timestamp) · default `false` · `[]` is rejected.",
}
UNIQUE = {
    "fields": "non-empty subset of `[:args, :meta, :queue, :worker]` · default `[:args, :queue, :worker]`.",
    "keys": "list of atoms (needs `:args` or `:meta` in fields) · default `[]` (the whole map).",
    "period": "integer **seconds** > 0, `{n, unit}` (v2.17+) or `:infinity` · default `60`.",
    "states": "group `:all`, `:incomplete`, `:scheduled`, `:successful` (v2.20+), or a list of states (deprecated) · default `:successful`.",
    "timestamp": "`:inserted_at` or `:scheduled_at` · default `:inserted_at`.",
}
JOB = {
    "max_attempts": "integer > 0.", "meta": "map.", "priority": "integer 0..9.", "queue": "atom or string (non-empty).",
    "replace": "state-keyed list, or a flat field list applied to all states.", "replace_args": "boolean.",
    "schedule_in": "integer **seconds** or `{n, unit}`.", "scheduled_at": "`DateTime` (UTC).", "tags": "list of strings.",
    "unique": "as in `use Oban.Worker`.", "worker": "worker module or its name as a string.",
    "scheduled_in": "only on Oban **[main]** (after 2.23.1): an alias of `schedule_in`; unknown in 2.23.1.",
}
RAW_FIELDS = ("args", "attempt", "attempted_at", "attempted_by", "cancelled_at", "completed_at", "discarded_at",
              "errors", "inserted_at", "state")
JOB_FOOTER = (
    "\n\nValid `new/2` options (2.23.1): " + ", ".join(f"`{k}`" for k in JOB if k != "scheduled_in")
    + "; the raw job fields " + ", ".join(f"`{k}`" for k in RAW_FIELDS) + " are also cast. "
    "Unknown keys become the changeset error \"unknown option :x provided\" (checked at run time, "
    "`job.ex:326-351, 725-733`). Args must be a map (`is_map(args)`)."
)
CALLBACKS = {
    "backoff": "**backoff/1** returns an integer ≥ 0 in **seconds** · default: exponential with a 15 s minimum "
               "pad and jitter (`worker.ex:531-543`). `:timer.seconds/1` here is milliseconds read as seconds (OBN007).",
    "timeout": "**timeout/1** returns an integer > 0 in **milliseconds**, or `:infinity` · default `:infinity` "
               "(`worker.ex:225-231, 408-415`). `:timer.seconds(30)` is right here.",
}
CRON = {
    "crontab": "list of `{expr, Worker}` or `{expr, Worker, job_opts}` · checked at **boot**. Expression: 5 fields "
               "(minute 0-59, hour 0-23, day 1-31, month 1-12 or JAN-DEC, weekday **0-6** or SUN-SAT); each takes "
               "`*`, `n`, `a-b`, `*/s`, `a-b/s` (step 1-99) and comma lists. Nicknames: `@hourly @daily @midnight "
               "@weekly @monthly @yearly @annually @reboot`. One-minute resolution (`cron.ex:131-142`, "
               "`expression.ex:282-416`).",
    "timezone": "a time zone name · default `\"Etc/UTC\"`; other zones need a tz database (tz, tzdata or "
                "time_zone_info) (`cron.ex:49-51`).",
}
CONFIG = {
    "repo": "an Ecto repo module · required.",
    "queues": "keyword `name: limit` or `name: [limit: n, paused: bool, ...]`; `false` means none · default `[]`.",
    "plugins": "list of modules or `{module, opts}`; `false` means none · default `[]`.",
    "engine": "module implementing `Oban.Engine` · default `Oban.Engines.Basic`.",
    "notifier": "module implementing `Oban.Notifier` · default `Oban.Notifiers.Postgres`.",
    "peer": "a module, or `false` · default `Oban.Peers.Database`.",
    "prefix": "string or `false` · default `\"public\"`.",
    "name": "any term · default `Oban`.",
    "testing": "`:manual`, `:inline`, `:disabled` · default `:disabled`.",
    "log": "`false` or a Logger level · default `false`.",
    "dispatch_cooldown": "integer > 0 (ms) · default `5`.",
    "insert_trigger": "boolean · default `true`.",
    "shutdown_grace_period": "integer ≥ 0 (ms) · default `15_000`.",
    "stage_interval": "integer ms or `:infinity` · default `1_000`.",
    "crontab": "legacy: list of `{expr, Worker}` / `{expr, Worker, opts}`; becomes `Oban.Plugins.Cron`.",
    "node": "string · identifies this node (default: from the node name or hostname).",
    "get_dynamic_repo": "function or MFA returning the repo to use (dynamic repos).",
}
RETURNS = """**perform/1 return values** (Oban 2.23.1, `executor.ex:145-171`)

| Return | Job state |
|---|---|
| `:ok`, `{:ok, value}` | completed |
| `{:error, reason}` | retryable, or discarded at `max_attempts` |
| `{:cancel, reason}` | cancelled |
| `{:snooze, period}` | scheduled after the period: integer seconds ≥ 0, or `{n, unit}` with unit second(s) minute(s) hour(s) day(s) week(s) (tuples since 2.20.3; `month(s)` only on [main]). In 2.23.1 a snooze increments `max_attempts` |
| `:discard`, `{:discard, reason}` | discarded (**deprecated**: use `{:cancel, reason}`) |
| an exception, exit or throw | like `{:error, _}` |
| anything else, including an invalid snooze period | **completed**, with a warning log |
"""


def oban_hover(ctx, node):
    if node is None:  # a template: no Elixir node under the cursor
        return None
    if node.type == "keyword":
        pair = node.parent
        if pair is None or pair.type != "pair":
            return None
        key = keyword_key(pair)
        owner = options_owner(ctx, pair)
        if owner is not None and owner[0] == "use" and key in WORKER:
            return f"**`{key}:`** (`use Oban.Worker`, checked at compile time)\n\n{WORKER[key]}"
        if owner is not None and owner[0] == "new" and key in JOB:
            return f"**`{key}:`** (`new/2` job option, checked at run time)\n\n{JOB[key]}{JOB_FOOTER}"
        if key in CRON and _in_cron_plugin(ctx, pair):
            return f"**`{key}:`** (`Oban.Plugins.Cron`, checked at boot)\n\n{CRON[key]}"
        outer = pair.parent.parent if pair.parent is not None else None
        if outer is not None and outer.type == "list" and outer.parent is not None and outer.parent.type == "pair" \
                and keyword_key(outer.parent) == "unique" and options_owner(ctx, outer.parent) is not None and key in UNIQUE:
            return f"**`unique: [{key}: ...]`**\n\n{UNIQUE[key]}"
        holder = pair.parent.parent if pair.parent is not None else None
        if holder is not None and holder.type == "arguments" and holder.parent is not None \
                and call_name(holder.parent) == (None, "config") and key in CONFIG:
            args = [c for c in holder.named_children]
            if len(args) >= 2 and args[1].type == "alias" and (text(args[1]) == "Oban" or text(args[1]).endswith(".Oban")):
                return f"**`{key}:`** (Oban instance config, checked at boot)\n\n{CONFIG[key]}"
        return None
    if node.type == "alias" and text(node) in ("Oban.Worker", "Worker") and node.parent is not None \
            and node.parent.parent is not None and is_worker_use_call(ctx, node.parent.parent):
        rows = "\n".join(f"| `{k}` | {v} |" for k, v in WORKER.items())
        return f"**use Oban.Worker options** (validated at compile time)\n\n| Option | Values |\n|---|---|\n{rows}\n"
    if node.type == "identifier" and text(node) == "perform":
        fdef = enclosing_function(node)
        if fdef is not None and fdef.name == "perform" and fdef.arity == 1 and worker_use(ctx.module_of(node)) is not None:
            return RETURNS
    if node.type == "identifier" and text(node) in CALLBACKS:
        fdef = enclosing_function(node)
        if fdef is not None and fdef.name == text(node) and fdef.arity == 1 and fdef.head is not None \
                and node.start_byte < fdef.head.end_byte and worker_use(ctx.module_of(node)) is not None:
            return CALLBACKS[text(node)]
    return None


def _in_cron_plugin(ctx, pair) -> bool:
    """`crontab:`/`timezone:` inside `{Oban.Plugins.Cron, ...}`."""
    keywords = pair.parent
    holder = keywords.parent if keywords is not None else None
    if holder is not None and holder.type == "list":
        holder = holder.parent
    if holder is None or holder.type != "tuple" or not holder.named_children:
        return False
    first = holder.named_children[0]
    if first.type != "alias":
        return False
    module = ctx.module_of(holder)
    name = module.resolve_alias(text(first)) if module is not None else text(first)
    return name == "Oban.Plugins.Cron"


HOVERS = [oban_hover]
