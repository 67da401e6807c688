"""SEC001 unsafe-atom-creation."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import (
    ancestors,
    atom_value,
    call_arguments,
    function_def,
    walk,
    call_name,
    effective_arguments,
    is_literal,
    is_mix_task_module,
    keyword_pairs,
    runs_at_compile_time,
    text,
    trailing_keywords,
)

from exhort_rules.ecto._common import is_small_literal_collection

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
    query=r"""
    ((call target: (dot left: [(alias) (atom)] @module right: (identifier) @function)) @call
      (#any-of? @function "to_atom" "binary_to_atom" "list_to_atom" "concat" "decode" "decode!"))
    ((quoted_atom (interpolation)) @atom)
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

        Not flagged: literals, compile-time code (module attributes, module-body `for`,
        `quote`/`unquote`, macros), loop variables over a literal list, values checked against
        an allow-list, `Mix.Tasks` modules, `String.to_existing_atom/1`, and what is not
        production code (catalog 0.4.4: `test/`, scripts, seeds) or is a config file (it reads the
        operator's environment once, at boot).

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
    if runs_at_compile_time(node):
        return
    module = ctx.module_of(node)
    path = ctx.path
    if not path.is_production_code or path.is_config or (module is not None and is_mix_task_module(module.name)):
        return  # tests, scripts, Mix tasks and config files never see outside input
    if node.type == "quoted_atom":
        interpolations = [c for c in node.named_children if c.type == "interpolation"]
        if all(_constant_interpolation(i) for i in interpolations):
            return
        yield ctx.finding(node, "Interpolated atom built at run time: atoms are never garbage collected")
        return
    yield from _check_call(ctx, node)


def _check_call(ctx: Context, call):
    module_text, function = call_name(call)
    key = (module_text, function)
    if module_text == "Jason" and function in ("decode", "decode!"):
        for name, value, _pair in keyword_pairs(trailing_keywords(call)):
            if name == "keys" and atom_value(value) == "atoms":
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
        arguments_literal = False
    else:
        arguments = effective_arguments(call)
        if len(arguments) not in CONVERSION_ARITIES[key]:
            return
        subject = arguments[:1] if key != ("Module", "concat") else arguments
        arguments_literal = all(_constant(argument) for argument in subject)
        if subject and _checked_against_allowlist(call, subject[0]):
            return
    if arguments_literal:
        return
    target = call.child_by_field_name("target")
    yield ctx.finding(
        call if capture is None else call.parent.parent,
        f"{module_text}.{function} creates atoms from run-time data; atoms are never garbage collected",
        fixes=[fix(f"Use {replacement}", replace_node(target, replacement), safe=False)],
    )


def _checked_against_allowlist(call, argument) -> bool:
    """`if x in @allowed, do: String.to_atom(x)` or `when x in [...]`: the atoms are bounded."""
    if argument.type != "identifier":
        return False
    name = text(argument)
    for ancestor in ancestors(call):
        condition = None
        if ancestor.type == "call" and call_name(ancestor) in ((None, "if"), (None, "unless")):
            arguments = call_arguments(ancestor)
            condition = arguments[0] if arguments else None
            if call_name(ancestor) == (None, "unless"):
                condition = None  # `unless x in list` guards the other branch
        elif ancestor.type == "binary_operator" and text(ancestor.child_by_field_name("operator")) == "when":
            condition = ancestor.child_by_field_name("right")
        elif ancestor.type == "call":
            definition = function_def(ancestor)
            if definition is not None and definition.guard is not None:
                condition = definition.guard
        if condition is not None and _tests_membership(condition, name):
            return True
    return False


def _tests_membership(condition, name: str) -> bool:
    for node in walk(condition):
        if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "in":
            left = node.child_by_field_name("left")
            if left is not None and left.type == "identifier" and text(left) == name:
                return True
    return False


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


def _constant(node) -> bool:
    if is_literal(node):
        return True
    if node.type == "identifier" and text(node) in ("__MODULE__",):
        return True
    if node.type == "identifier" and _literal_loop_variable(node):
        return True
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "<>":
        return _constant(node.child_by_field_name("left")) and _constant(node.child_by_field_name("right"))
    if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "@":
        return True  # a module attribute: fixed at compile time
    if node.type == "string":
        return all(_constant_interpolation(c) for c in node.named_children if c.type == "interpolation")
    return False


def _literal_loop_variable(identifier) -> bool:
    """`Enum.map([:a, :b], fn kind -> ... kind ... end)` or `for kind <- ~w(a b)`: the variable
    only ever holds an element of a literal collection, so the atoms it makes are bounded."""
    name = text(identifier)
    for ancestor in ancestors(identifier):
        if ancestor.type == "anonymous_function":
            clauses = [c for c in ancestor.named_children if c.type == "stab_clause"]
            parameters = clauses[0].child_by_field_name("left") if len(clauses) == 1 else None
            names = [text(p) for p in parameters.named_children] if parameters is not None else []
            if name not in names:
                continue
            if names != [name]:
                return False
            loop = ancestor.parent.parent if ancestor.parent is not None else None
            if loop is None or loop.type != "call" or call_name(loop)[0] not in ("Enum", "Stream"):
                return False
            arguments = effective_arguments(loop)
            return len(arguments) >= 2 and arguments[0] != ancestor and is_small_literal_collection(arguments[0])
        if ancestor.type == "call":
            if call_name(ancestor) == (None, "for"):
                for generator in call_arguments(ancestor):
                    if generator.type != "binary_operator" or text(generator.child_by_field_name("operator")) != "<-":
                        continue
                    left = generator.child_by_field_name("left")
                    if left is not None and left.type == "identifier" and text(left) == name:
                        return is_small_literal_collection(generator.child_by_field_name("right"))
            if function_def(ancestor) is not None:
                return False
    return False


def _constant_interpolation(interpolation) -> bool:
    inner = [c for c in interpolation.named_children if c.type != "comment"]
    return all(_constant(c) for c in inner)
