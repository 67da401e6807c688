"""LV010 async-result-contract."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, good
from exhort.syntax import atom_value, call_name, effective_arguments, keyword_key, tails, text

from ._common import LIVE_KINDS, name_literal

RULE = Rule(
    code="LV010",
    name="async-result-contract",
    category="liveview",
    severity=Severity.ERROR,
    summary="assign_async / stream_async functions must return the documented shapes; start_async needs handle_async",
    fix_safety="none",
    scope="module",
    query=r"""((call target: (identifier) @fun) @call (#any-of? @fun "assign_async" "stream_async" "start_async"))""",
    explanation="""
        ## LV010 async-result-contract

        `assign_async`: "The function must return either `{:ok, assigns}` or `{:error, reason}`,
        where `assigns` is a map with the keys passed" (`phoenix_live_view.ex:2325-2326`,
        LiveView v1.2.10); otherwise the task raises "expected assign_async to return map of
        assigns for all keys…" (`async.ex:140-160`). `stream_async` expects `{:ok, enum}`,
        `{:ok, enum, opts}` or `{:error, reason}` (`async.ex:205-234`). `start_async` results are
        delivered to `handle_async/3` (`async.ex:345-356`).

        Flagged: a function literal whose tail is another shape, an `{:ok, %{...}}` map missing a
        requested key, and `start_async(socket, :name, fun)` in a module with no `handle_async/3`
        clause matching `:name` (warning).

        **Bad** `assign_async(socket, [:org, :members], fn -> {:ok, %{org: fetch_org!(id)}} end)`

        **Good** `assign_async(socket, [:org, :members], fn -> {:ok, %{org: org, members: ms}} end)`

        **Fix**: none. A `&load/0` capture of a local function is followed one level; other
        function values (variables, remote captures) are skipped.
    """,
    examples=[
        bad(
            """
            defmodule MyAppWeb.OrgLive do
              use MyAppWeb, :live_view

              def mount(%{"id" => id}, _session, socket) do
                socket =
                  socket
                  |> assign_async([:org, :members], fn -> {:ok, %{org: fetch_org!(id)}} end)  # expect: LV010
                  |> assign_async(:stats, fn -> Stats.load() |> then(&{:ok, &1}) end)
                  |> assign_async(:user, fn -> {:ok, fetch_user!(id)} end)
                  |> stream_async(:posts, fn -> {:done, []} end)  # expect: LV010
                {:ok, start_async(socket, :refresh, fn -> 1 end)}  # expect: LV010
              end
            end
            """,
        ),
        good(
            """
            defmodule MyAppWeb.GoodLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                {:ok,
                 socket
                 |> assign_async([:org, :members], fn -> {:ok, %{org: 1, members: []}} end)
                 |> assign_async(:x, fn -> if ok?(), do: {:ok, %{x: 1}}, else: {:error, :nope} end)
                 |> stream_async(:posts, fn -> {:ok, [], reset: true} end)
                 |> assign_async(:y, &load_y/0)
                 |> start_async(:refresh, fn -> 1 end)}
              end

              def handle_async(:refresh, {:ok, _}, socket), do: {:noreply, socket}
            end
            """,
            note="documented shapes, a capture (unknown) and a matching handle_async",
        ),
        bad(
            """
            defmodule MyAppWeb.StatsLive do
              use MyAppWeb, :live_view

              def mount(_params, _session, socket) do
                {:ok, socket |> assign_async(:stats, &load_stats/0) |> assign_async(:top, &load_top/0)}  # expect: LV010
              end

              defp load_stats, do: {:ok, %{stats: Stats.all()}}
              defp load_top, do: {:ok, %{leaders: Stats.top()}}
            end
            """,
            note="a &local/0 capture is followed one level",
        ),
        good(
            """
            defmodule MyAppWeb.CatchAllLive do
              use MyAppWeb, :live_view
              def mount(_p, _s, socket), do: {:ok, start_async(socket, :a, fn -> 1 end)}
              def handle_async(_name, _result, socket), do: {:noreply, socket}
            end
            """,
            note="a catch-all handle_async clause matches every name",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    module = ctx.module_of(call)
    if module is None or module.kind not in LIVE_KINDS:
        return
    _mod, name = call_name(call)
    args = effective_arguments(call)
    if len(args) < 3:
        return
    if name == "start_async":
        key = name_literal(args[1]) if args[1].type in ("atom", "quoted_atom") else None
        if key is None:
            return
        clauses = module.definitions("handle_async", 3)
        if any(_matches(c.params[0], key) for c in clauses):
            return
        message = (f"start_async :{key} has no handle_async/3 clause to receive its result" if clauses
                   else f"start_async :{key}: this module defines no handle_async/3")
        yield ctx.finding(call, message, severity=Severity.WARNING)
        return
    keys = _requested_keys(args[1]) if name == "assign_async" else None
    for tail in _function_tails(module, args[2]):
        problem = _problem(name, tail, keys)
        if problem:
            yield ctx.finding(call, problem)
            return


def _function_tails(module, function):
    """Tails of a one-clause `fn -> ... end`, or of the local function a `&name/0` capture names
    (followed one level, catalog 0.4.3). Anything else is unknown: no tails."""
    if function.type == "anonymous_function":
        clauses = [c for c in function.named_children if c.type == "stab_clause"]
        if len(clauses) == 1:
            yield from tails(clauses[0].child_by_field_name("right"))
        return
    if function.type != "unary_operator" or text(function.child_by_field_name("operator")) != "&":
        return
    operand = function.child_by_field_name("operand")
    if operand is None or operand.type != "binary_operator" or text(operand.child_by_field_name("operator")) != "/":
        return
    target, arity = operand.child_by_field_name("left"), operand.child_by_field_name("right")
    if target is None or target.type != "identifier" or arity is None or text(arity) != "0":
        return
    for definition in module.definitions(text(target), 0):
        if definition.kind in ("def", "defp") and definition.body is not None:
            yield from tails(definition.body)


def _matches(param, key) -> bool:
    if param.type == "identifier" or param.type == "unary_operator":
        return True
    if param.type == "binary_operator":  # :a = name
        return True
    if param.type in ("atom", "quoted_atom"):
        return atom_value(param) == key
    return param.type not in ("string", "integer", "tuple", "list", "map")


def _requested_keys(node):
    if node.type in ("atom", "quoted_atom"):
        value = atom_value(node)
        return [value] if value else None
    if node.type == "list":
        values = [atom_value(c) if c.type in ("atom", "quoted_atom") else None for c in node.named_children]
        return values if values and all(values) else None
    return None


def _problem(name, tail, keys):
    if tail.type in ("atom", "string", "integer", "list", "map", "nil", "boolean"):
        return f"the {name} function must return {{:ok, ...}} or {{:error, reason}}, not {text(tail)[:30]}"
    if tail.type != "tuple":
        return None
    items = [c for c in tail.named_children if c.type != "comment"]
    if not items or items[0].type != "atom":
        return None
    tag, size = atom_value(items[0]), len(items)
    if tag == "error" and size == 2:
        return None
    if name == "stream_async":
        if tag == "ok" and size in (2, 3):
            return None
        return f"stream_async must return {{:ok, enum}}, {{:ok, enum, opts}} or {{:error, reason}}, not {{:{tag}, ...}}"
    if tag != "ok" or size != 2:
        return f"assign_async must return {{:ok, %{{...}}}} or {{:error, reason}}, not {{:{tag}, ...}}"
    value = items[1]
    if value.type in ("list", "atom", "string", "integer", "nil", "boolean"):
        return "assign_async must return {:ok, map_of_assigns}"
    if value.type != "map" or keys is None:
        return None
    content = [c for c in value.named_children if c.type == "map_content"]
    if any(c.type == "struct" for c in value.named_children):
        return None
    present = set()
    for part in content:
        for child in part.named_children:
            if child.type == "keywords":
                for pair in child.named_children:
                    present.add(keyword_key(pair))
            elif child.type == "binary_operator" and text(child.child_by_field_name("operator")) == "|":
                return None  # %{map | k: v}: unknown keys
            else:
                return None
    missing = [k for k in keys if k not in present]
    if missing:
        return f"assign_async requested {', '.join(':' + k for k in keys)} but the map lacks {', '.join(':' + k for k in missing)}"
    return None
