"""Hover option reference for Oban (catalog 6.1-6.4): `use Oban.Worker` options, `new/2` job
options, the Oban instance config and perform/1 return values."""

from __future__ import annotations

from exhort.syntax import call_name, enclosing_function, keyword_key, text

from ._common import is_worker_use_call, options_owner

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
}
RETURNS = """**perform/1 return values** (Oban 2.23.1, `executor.ex:145-171`)

| Return | Job state |
|---|---|
| `:ok`, `{:ok, value}` | completed |
| `{:error, reason}` | retryable, or discarded at `max_attempts` |
| `{:cancel, reason}` | cancelled |
| `{:snooze, period}` | scheduled after the period (integer seconds ≥ 0, or `{n, unit}` since 2.20.3) |
| `:discard`, `{:discard, reason}` | discarded (**deprecated**: use `{:cancel, reason}`) |
| anything else | **completed**, with a warning log |
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
            return f"**`{key}:`** (`new/2` job option, checked at run time)\n\n{JOB[key]}"
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
        if fdef is not None and fdef.name == "perform" and fdef.arity == 1 and ctx.module_of(node) is not None:
            return RETURNS
    return None


HOVERS = [oban_hover]
