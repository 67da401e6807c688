"""OBN009 args-not-json-safe."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, good
from exhort.syntax import ancestors, call_name, enclosing_function, keyword_key, text, walk

from ._common import new_call_parts, worker_of_receiver

ENCODABLE = frozenset({"Date", "DateTime", "NaiveDateTime", "Time", "Duration", "Decimal"})
# DateTime/NaiveDateTime functions that return the struct (others return strings, integers or tuples)
DATETIME_CALLS = frozenset(
    (mod, fun)
    for mod in ("DateTime", "NaiveDateTime")
    for fun in ("utc_now", "now!", "add", "truncate", "shift", "shift_zone!", "from_naive!", "from_unix!",
                "from_iso8601!", "new!", "convert!", "from_gregorian_seconds", "beginning_of_day", "end_of_day",
                "local_now")
)

RULE = Rule(
    code="OBN009",
    name="args-not-json-safe",
    category="oban",
    severity=Severity.ERROR,
    summary="Job args that cannot be (or do not round-trip as) JSON",
    fix_safety="none",
    workspace=True,
    query=r"""
    ((call target: (dot right: (identifier) @fun)) @call (#eq? @fun "new"))
    ((call target: (identifier) @fun) @call (#eq? @fun "new"))
    ((pair key: (keyword) @key value: (map) @args) (#match? @key "^args:"))
    """,
    explanation="""
        ## OBN009 args-not-json-safe

        "Because `args` are always encoded as JSON, you must also ensure that all values are
        serializable, otherwise you'll have encoding errors when inserting jobs"
        (`oban:lib/oban/worker.ex:427-431@v2.23.1`). `JSON.Encoder` / `Jason.Encoder` cover
        atoms, strings, lists, numbers, maps and the calendar structs only
        (`elixir:lib/elixir/lib/json.ex:120-243@v1.20.3`).

        - **error**: tuples, `self()`, `make_ref()`, `fn` literals and `&` captures never encode;
        - **warning**: struct literals, or variables bound by a struct pattern (in the
          function's parameters, or earlier in its body or an enclosing `with`/`case` clause,
          and bound nowhere else in the function), unless the workspace shows
          `@derive Jason.Encoder` / `JSON.Encoder` (or a `defimpl`) for it;
        - **hint**: atoms and `DateTime` values encode, but come back as strings in `perform/1`.

        **Bad** `MyWorker.new(%{user: user, range: {from, to}})`

        **Good** `MyWorker.new(%{user_id: user.id, from: Date.to_iso8601(from), to: Date.to_iso8601(to)})`

        No fix. Variables of unknown type are skipped.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Reports do
              alias MyApp.Workers.Export

              def export(%MyApp.User{} = user, from, to) do
                Export.new(%{
                  user: user,  # expect: OBN009
                  range: {from, to},  # expect: OBN009
                  format: :csv,  # expect: OBN009
                  owner: self(),  # expect: OBN009
                  callback: &IO.puts/1,  # expect: OBN009
                  at: DateTime.utc_now(),  # expect: OBN009
                  settings: %MyApp.Settings{}  # expect: OBN009
                })
              end
            end
            """,
            files={
                "lib/my_app/workers/export.ex": "defmodule MyApp.Workers.Export do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n",
                "lib/my_app/user.ex": "defmodule MyApp.User do\n  defstruct [:id]\nend\n",
                "lib/my_app/settings.ex": "defmodule MyApp.Settings do\n  defstruct [:a]\nend\n",
            },
            note="workspace structs without an encoder",
        ),
        bad(
            """
            import Config
            config :my_app, Oban,
              plugins: [{Oban.Plugins.Cron, crontab: [{"0 * * * *", MyApp.Sweep, args: %{mode: {:full, 1}}}]}]  # expect: OBN009
            """,
            path="config/config.exs",
            note="crontab entry args",
        ),
        bad(
            """
            defmodule MyApp.Workers.Export do
              use Oban.Worker

              @impl true
              def perform(%Oban.Job{args: %{"id" => id}}) do
                %{id: id, token: make_ref()} |> new() |> Oban.insert()  # expect: OBN009
                __MODULE__.new(%{id: id, done: fn -> :ok end})  # expect: OBN009
                :ok
              end

              def requeue(%MyApp.User{} = user), do: new(%{user: user})  # expect: OBN009
              def requeue(user), do: new(%{user: user})
            end
            """,
            path="lib/my_app/workers/export.ex",
            files={"lib/my_app/user.ex": "defmodule MyApp.User do\n  defstruct [:id]\nend\n"},
            note="a worker's own new/2 (local, piped, __MODULE__), make_ref() and fn literals; the struct-bound variable of one clause only",
        ),
        bad(
            """
            defmodule MyApp.Reports do
              alias MyApp.Workers.Export

              def export(user_id, from, to) do
                Oban.Job.new(%{id: user_id, range: {from, to}}, worker: Export)  # expect: OBN009

                %{
                  nested: %{at: {from, to}},  # expect: OBN009
                  ids: [{1, 2}]  # expect: OBN009
                }
                |> Export.new(queue: :low)
              end

              def typing(x) do
                case x do
                  :a ->
              end

              def later(id), do: Export.new(%{ref: make_ref(), id: id})  # expect: OBN009
            end
            """,
            files={"lib/my_app/workers/export.ex": "defmodule MyApp.Workers.Export do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n"},
            note="Oban.Job.new/2, tuples nested in maps and lists, and a half-typed function elsewhere in the file",
        ),
        bad(
            """
            import Config

            config :my_app, Oban,
              plugins: [
                {Oban.Plugins.Cron,
                 crontab: [
                   {"@daily", MyApp.Sweep, args: %{mode: :full}},  # expect: OBN009
                   {"0 * * * *", MyApp.Sweep,
                    args: %{
                      since: DateTime.utc_now(),  # expect: OBN009
                      owner: self()  # expect: OBN009
                    }}
                 ]}
              ]

            config :my_app, MyApp.Repo, pool_size:
            """,
            path="config/config.exs",
            note="crontab args: an atom and a DateTime (hints), self() (error); the file is half-typed below",
        ),
        bad(
            """
            defmodule MyApp.Reports do
              alias MyApp.{Repo, User, Workers.Export}

              def export(id) do
                %User{} = user = Repo.get!(User, id)
                Export.new(%{user: user})  # expect: OBN009
              end

              def export_later(id) do
                with %User{} = user <- Repo.get(User, id) do
                  Export.new(%{user: user})  # expect: OBN009
                end
              end
            end
            """,
            files={
                "lib/my_app/workers/export.ex": "defmodule MyApp.Workers.Export do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n",
                "lib/my_app/user.ex": "defmodule MyApp.User do\n  defstruct [:id]\nend\n",
            },
            note="variables bound by a struct pattern in the function body or a with clause",
        ),
        good(
            """
            defmodule MyApp.Reports do
              alias MyApp.{Repo, User, Workers.Export}

              def export(thing) do
                case thing do
                  %User{} = user -> Export.new(%{id: user.id})
                  user -> Export.new(%{user: user})
                end
              end

              def export_id(id) do
                %User{} = user = Repo.get!(User, id)
                user = user.id
                Export.new(%{user: user})
              end
            end
            """,
            files={
                "lib/my_app/workers/export.ex": "defmodule MyApp.Workers.Export do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n",
                "lib/my_app/user.ex": "defmodule MyApp.User do\n  defstruct [:id]\nend\n",
            },
            note="a struct pattern in another clause, and a variable bound again: unknown",
        ),
        good(
            """
            defmodule MyApp.Reports do
              def export(user, from, to) do
                MyApp.Workers.Export.new(%{user_id: user.id, from: Date.to_iso8601(from), to: to, account: account(user), nested: %{"a" => [1, 2]}, on: true})
              end
            end
            """,
            files={"lib/my_app/workers/export.ex": "defmodule MyApp.Workers.Export do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n"},
            note="variables of unknown type and calls are skipped",
        ),
        good(
            """
            defmodule MyApp.Reports do
              def export(%MyApp.Filter{} = filter) do
                MyApp.Workers.Export.new(%{filter: filter, other: %MyApp.Filter{}})
              end
            end
            """,
            files={
                "lib/my_app/workers/export.ex": "defmodule MyApp.Workers.Export do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n",
                "lib/my_app/filter.ex": "defmodule MyApp.Filter do\n  @derive Jason.Encoder\n  defstruct [:q]\nend\n",
            },
            note="structs deriving Jason.Encoder in the workspace",
        ),
        good(
            """
            defmodule MyApp.Reports do
              alias MyApp.Filter

              def export(%Filter{} = filter, users, %Money{} = price) do
                MyApp.Workers.Export.new(%{filter: filter, price: price, total: %Money{amount: 1}})
                Enum.map(users, &MyApp.Workers.Export.new(%{id: &1, at: DateTime.to_iso8601(DateTime.utc_now()), ts: DateTime.to_unix(&1.inserted_at)}))
              end
            end
            """,
            files={
                "lib/my_app/workers/export.ex": "defmodule MyApp.Workers.Export do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n",
                "lib/my_app/filter.ex": "defmodule MyApp.Filter do\n  @derive {Jason.Encoder, only: [:q]}\n  defstruct [:q]\nend\n",
            },
            note="an aliased struct variable that derives an encoder; a dependency's struct (unknown); &1 in a capture; DateTime functions returning strings or integers",
        ),
        good(
            """
            defmodule MyApp.Other do
              def build(user), do: MapSet.new(%{user: user, range: {1, 2}})
            end
            """,
            note="not an Oban new/2",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.get("call")
    if call is not None:
        if worker_of_receiver(ctx, call) is None:
            return
        args, _opts = new_call_parts(call)
        if args is None or args.type != "map" or any(c.type == "struct" for c in args.named_children):
            return
        yield from _check_map(ctx, args)
        return
    args = match.node("args")
    if _in_crontab_entry(args):
        yield from _check_map(ctx, args)


def _in_crontab_entry(args) -> bool:
    pair = args.parent
    keywords = pair.parent if pair is not None else None
    entry = keywords.parent if keywords is not None else None
    if entry is None or entry.type != "tuple":
        return False
    items = [c for c in entry.named_children if c.type != "comment"]
    if len(items) != 3 or items[0].type != "string" or items[2] != keywords:
        return False
    crontab = entry.parent
    return crontab is not None and crontab.type == "list" and crontab.parent is not None \
        and crontab.parent.type == "pair" and keyword_key(crontab.parent) == "crontab"


def _map_values(node):
    content = next((c for c in node.named_children if c.type == "map_content"), None)
    if content is None:
        return
    for entry in content.named_children:
        if entry.type == "keywords":
            for pair in entry.named_children:
                if pair.type == "pair":
                    yield pair.child_by_field_name("value")
        elif entry.type == "binary_operator" and text(entry.child_by_field_name("operator")) == "=>":
            yield entry.child_by_field_name("right")


def _check_map(ctx, node):
    struct_vars = _struct_bound_variables(node)
    derived = _derived(ctx)
    for value in _map_values(node):
        yield from _check_value(ctx, value, struct_vars, derived)


def _check_value(ctx, value, struct_vars, derived):
    kind = value.type
    if kind == "tuple":
        yield ctx.finding(value, "tuples cannot be encoded as JSON job args")
    elif kind == "anonymous_function" or (kind == "unary_operator" and text(value.child_by_field_name("operator")) == "&"
                                          and value.child_by_field_name("operand").type != "integer"):
        yield ctx.finding(value, "functions cannot be encoded as JSON job args")  # `&1` is a capture argument
    elif kind == "call" and call_name(value) in ((None, "self"), (None, "make_ref")):
        yield ctx.finding(value, f"{text(value)} cannot be encoded as JSON job args")
    elif kind == "call" and call_name(value) in DATETIME_CALLS:
        yield ctx.finding(value, "a DateTime is stored as an ISO 8601 string and comes back as a string in perform/1", severity=Severity.HINT)
    elif kind in ("atom", "quoted_atom"):
        yield ctx.finding(value, f"{text(value)} comes back as the string in perform/1", severity=Severity.HINT)
    elif kind == "map":
        struct = next((c for c in value.named_children if c.type == "struct"), None)
        if struct is None:
            for inner in _map_values(value):
                yield from _check_value(ctx, inner, struct_vars, derived)
            return
        name = _resolve(ctx, value, text(struct))
        if not _encoder_unknown(ctx, name, derived):
            return
        yield ctx.finding(value, f"%{text(struct)}{{}} has no JSON encoder in the workspace: the insert fails to encode", severity=Severity.WARNING)
    elif kind == "list":
        for inner in value.named_children:
            yield from _check_value(ctx, inner, struct_vars, derived)
    elif kind == "identifier" and text(value) in struct_vars:
        name = _resolve(ctx, value, struct_vars[text(value)])
        if _encoder_unknown(ctx, name, derived):
            yield ctx.finding(value, f"{text(value)} is a %{name}{{}} struct with no JSON encoder in the workspace", severity=Severity.WARNING)


def _encoder_unknown(ctx, name, derived) -> bool:
    """True when the struct is defined in the workspace and nothing there gives it a JSON encoder.

    Structs from dependencies (Money, Decimal, ...) often ship an encoder: unknown, silent."""
    if name in ENCODABLE or derived is None or name in derived or ctx.workspace is None:
        return False
    return ctx.workspace.module(name) is not None


def _resolve(ctx, node, name):
    module = ctx.module_of(node)
    return module.resolve_alias(name) if module is not None else name


def _derived(ctx):
    if ctx.workspace is None:
        return None
    out = set()
    for _path, names in ctx.workspace.facts("oban_json_derived"):
        out |= set(names)
    return out


def _struct_bound_variables(node) -> dict[str, str]:
    """Variables bound by a struct pattern (`%Struct{} = var`) in the enclosing function: in
    its parameters, or in its body before `node` (`%User{} = user = Repo.get!(User, id)`, a
    `with` or `case` clause around `node`). A name bound anywhere else in the function too
    (rebound, or a plain variable in another clause) is unknown and left out."""
    fdef = enclosing_function(node)
    out: dict[str, str] = {}
    if fdef is None:
        return out
    struct_bound: dict[str, list] = {}
    for place in (*fdef.params, fdef.body):
        if place is None:
            continue
        for sub in walk(place):
            if sub.type == "binary_operator" and text(sub.child_by_field_name("operator")) in ("=", "<-"):
                left, right = sub.child_by_field_name("left"), sub.child_by_field_name("right")
                for pattern, var in ((left, right), (right, left)):
                    if var is not None and var.type == "binary_operator" and text(var.child_by_field_name("operator")) == "=":
                        var = var.child_by_field_name("left")  # `%User{} = user = fetch()`
                    if var is not None and pattern is not None and var.type == "identifier" and pattern.type == "map":
                        struct = next((c for c in pattern.named_children if c.type == "struct"), None)
                        if struct is not None:
                            struct_bound.setdefault(text(var), []).append((sub, var, text(struct)))
    for name, bindings in struct_bound.items():
        if len(bindings) != 1:
            continue
        binding, var, struct = bindings[0]
        in_params = any(p.start_byte <= binding.start_byte < p.end_byte for p in fdef.params)
        if not in_params and not (binding.start_byte < node.start_byte and _in_scope(binding, node, fdef.node)):
            continue
        if _bound_elsewhere(fdef, name, var):
            continue
        out[name] = struct
    return out


def _in_scope(binding, node, definition) -> bool:
    """Every clause (`->`) around the binding is around `node` too."""
    for parent in ancestors(binding):
        if parent == definition:
            return True
        if parent.type == "stab_clause" and not (parent.start_byte <= node.start_byte < parent.end_byte):
            return False
    return True


def _bound_elsewhere(fdef, name: str, var) -> bool:
    """`name` is bound in the function other than by `var`: on the left of `=`/`<-` or as a
    clause parameter."""
    for place in (*fdef.params, fdef.body):
        if place is None:
            continue
        for sub in walk(place):
            if sub.type != "identifier" or text(sub) != name or sub == var:
                continue
            parent = sub.parent
            if parent is not None and parent.type == "binary_operator" and \
                    text(parent.child_by_field_name("operator")) in ("=", "<-") and parent.child_by_field_name("left") == sub:
                return True
            if parent is not None and parent.type == "arguments" and parent.parent is not None and parent.parent.type == "stab_clause":
                return True
            if any(p == sub for p in fdef.params):
                return True
    return False
