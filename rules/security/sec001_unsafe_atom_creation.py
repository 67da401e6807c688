"""SEC001 unsafe-atom-creation."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.execution import Runs
from exhort.provenance import Origin, trace
from exhort.syntax import atom_value, call_name, effective_arguments, keyword_pairs, text, trailing_keywords
from exhort.tool_comments import credo_disabled, sobelow_skipped

SOBELOW_CHECKS = ("DOS.StringToAtom", "DOS.ListToAtom", "DOS.BinToAtom")
CREDO_CHECKS = ("Credo.Check.Warning.UnsafeToAtom",)

# (module, function) -> the non-creating replacement offered as a fix
CONVERSIONS = {
    ("String", "to_atom"): "String.to_existing_atom",
    ("List", "to_atom"): "List.to_existing_atom",
    (":erlang", "binary_to_atom"): ":erlang.binary_to_existing_atom",
    (":erlang", "list_to_atom"): ":erlang.list_to_existing_atom",
    ("Module", "concat"): "Module.safe_concat",
}
CONVERSION_ARITIES = {
    ("String", "to_atom"): {1},
    ("List", "to_atom"): {1},
    (":erlang", "binary_to_atom"): {1, 2},
    (":erlang", "list_to_atom"): {1},
    ("Module", "concat"): {1, 2},
}

RULE = Rule(
    code="SEC001",
    name="unsafe-atom-creation",
    category="security",
    severity=Severity.WARNING,
    summary="Atoms created from runtime data can exhaust the atom table",
    fix_safety="offer",
    # Atoms made in tests, Mix tasks, migrations, console tasks, config or by the compiler
    # are bounded by the code that makes them, not by outside input.
    runs_in=frozenset({Runs.PRODUCTION}),
    # The #match? below holds for every quoted atom (`:"..."`, `:'...'`): it gives the engine
    # a string to search for, so the pattern runs where that string occurs instead of over
    # every node of every member (see exhort.matching).
    query=r"""
    ((call target: (dot left: [(alias) (atom)] @module right: (identifier) @function)) @call
      (#any-of? @function "to_atom" "binary_to_atom" "list_to_atom" "concat" "decode" "decode!"))
    ((quoted_atom (interpolation)) @atom (#match? @atom "^:[\"']"))
    """,
    explanation="""
        ## SEC001 unsafe-atom-creation

        Atoms are never garbage collected, and the VM holds at most 1,048,576 of them by
        default. Turning input from outside (params, JSON, CSV, queue payloads) into atoms lets
        anyone who controls that input fill the table and crash the node. This is the "dynamic
        atom creation" anti-pattern in Elixir's own guide; Credo's `UnsafeToAtom` (EX5016) and
        Sobelow's `DOS.*` checks flag the same calls.

        Flagged, when the argument is not a literal: `String.to_atom/1`, `List.to_atom/1`,
        `:erlang.binary_to_atom/1,2`, `:erlang.list_to_atom/1`, `Module.concat/1,2`; atoms
        built by interpolation such as `:"user_#{id}"`; and `Jason.decode(!)(data, keys: :atoms)`.

        How loud depends on where the value comes from (exhort follows it through the function,
        the clause patterns that bound it, and the module's own helpers):

        - **warning** when it is request data: a string-keyed read (`params["status"]`,
          `Map.get(data, "kind")`, `%{"kind" => kind}`), the params of a controller action, a
          LiveView event or `handle_params`, a conn's params, headers or cookies, decoded JSON;
        - **hint** when exhort cannot tell (a public function's parameter, another module's
          result): most such atoms name processes, tables or metrics from a bounded set, so the
          finding only asks you to check; hints are hidden from the CLI's default output;
        - **nothing** when the value is known: literals and interpolations of literals, module
          attributes, the application's configuration and the operator's environment, elements
          of a literal list, values checked against an allow-list (`when x in [...]`, `if x in
          @allowed`), the index of `Enum.with_index`, what a private helper returns when it only
          returns constants, and a private function's parameter every local caller passes a
          known value to.

        Not flagged either: compile-time code (module attributes, module-body `for`, `quote` and
        `unquote` fragments, macros), `Mix.Tasks` modules, migrations, release and console tasks,
        tests and scripts (catalog 0.4.4), config files (read once, at boot), and calls the team
        already reviewed: `# sobelow_skip ["DOS.StringToAtom"]` above the function, or a
        `# credo:disable-for-...` comment covering the line (Credo's `UnsafeToAtom`).
        `String.to_existing_atom/1` never fires.

        **Bad**

        ```elixir
        %{status: String.to_atom(params["status"])}
        ```

        **Good**

        ```elixir
        defp status("active"), do: :active
        defp status("archived"), do: :archived
        # or, when the atoms already exist:
        String.to_existing_atom(params["status"])
        ```

        **Fix** (offered, never automatic): switch to the `*_existing_atom` variant, or
        `Module.safe_concat`, or `keys: :atoms!`. Unknown strings then raise `ArgumentError`
        instead of creating atoms, which changes behaviour.
    """,
    examples=[
        bad(
            """
            defmodule MyAppWeb.FilterController do
              def index(conn, params) do
                status = String.to_atom(params["status"])  # expect: SEC001
                render(conn, :index, status: status)
              end
            end
            """,
            fixed="""
            defmodule MyAppWeb.FilterController do
              def index(conn, params) do
                status = String.to_existing_atom(params["status"])  # expect: SEC001
                render(conn, :index, status: status)
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Importer do
              def keys(row), do: row |> Map.keys() |> Enum.map(&String.to_atom/1)  # expect: SEC001

              def field(name) when is_binary(name), do: name |> String.trim() |> String.to_atom()  # expect: SEC001

              def tag(id), do: :"user_#{id}"  # expect: SEC001

              def decode(body), do: Jason.decode!(body, keys: :atoms)  # expect: SEC001

              def erl(bin), do: :erlang.binary_to_atom(bin, :utf8)  # expect: SEC001

              def mod(name), do: Module.concat(MyApp.Handlers, name)  # expect: SEC001
            end
            """,
            fixed="""
            defmodule MyApp.Importer do
              def keys(row), do: row |> Map.keys() |> Enum.map(&String.to_existing_atom/1)  # expect: SEC001

              def field(name) when is_binary(name), do: name |> String.trim() |> String.to_existing_atom()  # expect: SEC001

              def tag(id), do: :"user_#{id}"  # expect: SEC001

              def decode(body), do: Jason.decode!(body, keys: :atoms!)  # expect: SEC001

              def erl(bin), do: :erlang.binary_to_existing_atom(bin, :utf8)  # expect: SEC001

              def mod(name), do: Module.safe_concat(MyApp.Handlers, name)  # expect: SEC001
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Chars do
              alias MyApp.Repo

              def to_atoms(list) do
                for item <- list, do: List.to_atom(item)  # expect: SEC001
              end
            end
            """,
            note="a runtime for comprehension inside a function",
        ),
        good(
            """
            defmodule MyApp.Status do
              def parse(value), do: String.to_existing_atom(value)
              def decode(body), do: Jason.decode!(body, keys: :atoms!)
              def decode_strings(body), do: Jason.decode(body)
            end
            """,
            note="the *_existing_atom variants and keys: :atoms! do not create atoms",
        ),
        good(
            """
            defmodule MyApp.Literal do
              def a, do: String.to_atom("fixed")
              def b, do: :"plain atom"
              def c, do: :"prefix_#{"literal"}"
              def d, do: Module.concat([MyApp, Handlers])
              def e, do: Module.concat(__MODULE__, Sub)
            end
            """,
            note="literal arguments and interpolations of literals",
        ),
        good(
            """
            defmodule MyApp.Fields do
              @fields Enum.map(~w(name email), &String.to_atom/1)
              @statuses for s <- ~w(active archived), do: String.to_atom(s)

              for name <- ~w(small large) do
                def unquote(String.to_atom("size_" <> name))(), do: unquote(name)
              end

              defmacro field(name) do
                quote do
                  String.to_atom(unquote(name))
                end
              end

              def fields, do: @fields
            end
            """,
            note="module attributes, module-body for, quote/unquote and macros run at compile time",
        ),
        good(
            """
            defmodule MyApp.Sort do
              @allowed ~w(asc desc)
              def direction(value) do
                if value in @allowed, do: String.to_atom(value), else: :asc
              end

              def field(name) when name in ["name", "email"], do: String.to_atom(name)
            end
            """,
            note="a value checked against an allowlist first can only make a bounded set of atoms",
        ),
        good(
            """
            defmodule MyApp.Flags do
              def errors(changes) do
                Enum.flat_map([:public, :private], fn kind ->
                  if Map.get(changes, kind), do: [{:"#{kind}_flag", "invalid"}], else: []
                end)
              end

              def names, do: for(size <- ~w(small large), do: String.to_atom("size_" <> size))
            end
            """,
            note="a loop variable over a literal list only ever holds one of its elements",
        ),
        good(
            """
            defmodule MyApp.Migrate do
              def up, do: convert("timestamptz")
              def down, do: convert("timestamp")
              defp convert(type), do: String.to_atom("column_" <> type)

              def level, do: String.to_atom(System.get_env("LOG_LEVEL", "info"))
              def mode, do: :"#{Application.fetch_env!(:my_app, :mode)}_mode"
              def tables, do: Enum.map(names(), &String.to_atom/1)
              defp names, do: ["users", "posts"]

              def steps(multi, emails) do
                emails
                |> Enum.with_index()
                |> Enum.reduce(multi, fn {email, index}, multi -> Ecto.Multi.insert(multi, :"email.#{index}", email) end)
              end

              def attrs(metadata) do
                Enum.reduce(metadata, %{}, fn
                  {"size", size}, acc when size in ["full", "wide"] -> Map.put(acc, :size, String.to_atom(size))
                  _entry, acc -> acc
                end)
              end
            end
            """,
            note="known values: literal callers of a private helper, config and the environment, "
                 "a helper returning constants, a with_index counter, an allow-listed clause",
        ),
        good(
            """
            defmodule MyApp.ClusterConfig do
              # sobelow_skip ["DOS.StringToAtom"]
              def hosts(list), do: Enum.map(list, &String.to_atom/1)

              def mode(value) do
                # credo:disable-for-next-line Credo.Check.Warning.UnsafeToAtom
                String.to_atom(value)
              end
            end
            """,
            note="calls the team reviewed for Sobelow or silenced for Credo's UnsafeToAtom",
        ),
        good(
            """
            defmodule Mix.Tasks.MyApp.Seed do
              use Mix.Task
              def run([env]), do: String.to_atom(env)
            end
            """,
            path="lib/mix/tasks/my_app.seed.ex",
            note="Mix tasks are developer tooling",
        ),
        good(
            """
            defmodule MyApp.Fixtures do
              def key(org), do: String.to_atom("provider_key_#{org.id}")
            end
            """,
            path="test/support/fixtures.ex",
            note="test code never sees outside input",
        ),
        good(
            """
            import Config

            if level = System.get_env("LOG_LEVEL") do
              config :logger, level: String.to_atom(level)
            end
            """,
            path="config/runtime.exs",
            note="config files read the operator's environment once, at boot",
        ),
        good(
            """
            Enum.each(File.read!("audit.csv") |> String.split(), fn key -> String.to_atom(key) end)
            """,
            path="priv/repo/backfill.exs",
            note="scripts run by a developer are not production code (catalog 0.4.4)",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    node = match.get("call") or match.node("atom")
    if sobelow_skipped(ctx.data, node, SOBELOW_CHECKS) or credo_disabled(ctx.data, node, CREDO_CHECKS):
        return  # the team reviewed this call for Sobelow or Credo already
    if node.type == "quoted_atom":
        interpolations = [c for c in node.named_children if c.type == "interpolation"]
        source = _joined(ctx, interpolations)
        if source.trusted:
            return
        yield _finding(ctx, node, source, "An interpolated atom", "is built", subject=interpolations)
        return
    yield from _check_call(ctx, node)


def _joined(ctx, nodes):
    result = None
    for node in nodes:
        traced = trace(node, memo=ctx.document.memo)
        result = traced if result is None else result.join(traced)
    return result if result is not None else trace(None)


def _finding(ctx, node, source, label: str, verb: str, fixes=(), subject=()):
    """Outside input at the rule's severity; a value exhort cannot trace as a hint."""
    named = _named(subject)
    if source.origin is Origin.EXTERNAL:
        message = f"{label} {verb} from request data{named} (params, decoded JSON or an event payload): atoms are never garbage collected"
        return ctx.finding(node, message, fixes=fixes)
    message = (
        f"{label} {verb} from{named or ' a value'} whose origin exhort cannot see; if outside input can reach it, "
        "use an explicit mapping or String.to_existing_atom (atoms are never garbage collected)"
    )
    return ctx.finding(node, message, fixes=fixes, severity=Severity.HINT)


def _named(nodes) -> str:
    """` `value``: the expression the atom is made from, when it is short enough to read."""
    shown = ", ".join(" ".join(text(n).split()) for n in nodes)
    shown = shown.removeprefix("#{").removesuffix("}") if len(nodes) == 1 else shown
    return f" `{shown}`" if shown and len(shown) <= 40 else ""


def _check_call(ctx: Context, call):
    module_text, function = call_name(call)
    key = (module_text, function)
    if module_text == "Jason" and function in ("decode", "decode!"):
        for name, value, _pair in keyword_pairs(trailing_keywords(call)):
            if name == "keys" and atom_value(value) == "atoms":
                arguments = effective_arguments(call)
                if arguments and trace(arguments[0], memo=ctx.document.memo).trusted:
                    return  # decoding the application's own constant JSON
                yield ctx.finding(
                    value,
                    f"Jason.{function}(..., keys: :atoms) turns every JSON key into a new atom",
                    fixes=[fix("Use keys: :atoms! (existing atoms only)", replace_node(value, ":atoms!"), safe=False)],
                )
        return
    replacement = CONVERSIONS.get(key)
    if replacement is None:
        return
    capture = _capture_arity(call)
    if capture is not None:
        if capture not in CONVERSION_ARITIES[key]:
            return
        where = call.parent.parent
        source = _captured_input(ctx, where)
        subject = ()
    else:
        arguments = effective_arguments(call)
        if len(arguments) not in CONVERSION_ARITIES[key]:
            return
        subject = arguments[:1] if key != ("Module", "concat") else arguments
        source = _joined(ctx, subject)
        where = call
    if source.trusted:
        return
    target = call.child_by_field_name("target")
    yield _finding(
        ctx, where, source, f"{module_text}.{function}", "creates atoms",
        fixes=[fix(f"Use {replacement}", replace_node(target, replacement), safe=False)],
        subject=subject if capture is None else (),
    )


def _captured_input(ctx, capture):
    """`Enum.map(keys, &String.to_atom/1)`: the capture converts each element of the collection."""
    holder = capture.parent
    loop = holder.parent if holder is not None and holder.type == "arguments" else None
    if loop is None or loop.type != "call" or call_name(loop)[0] not in ("Enum", "Stream"):
        return trace(None)
    arguments = effective_arguments(loop)
    if not arguments or arguments[0] == capture:
        return trace(None)
    return trace(arguments[0], memo=ctx.document.memo)


def _capture_arity(call) -> int | None:
    """`&String.to_atom/1` -> 1 (the call is the left of `/` inside `&`)."""
    parent = call.parent
    if parent is None or parent.type != "binary_operator" or parent.child_by_field_name("left") != call:
        return None
    grand = parent.parent
    if grand is None or grand.type != "unary_operator" or text(grand.child_by_field_name("operator")) != "&":
        return None
    right = parent.child_by_field_name("right")
    return int(text(right)) if right is not None and right.type == "integer" else None
