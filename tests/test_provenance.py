"""Where a value comes from (exhort.provenance): what the input rules (SEC001, SEC002, SEC005)
consult before calling a value untrusted."""

from __future__ import annotations

import textwrap

import pytest

from exhort.document import Document
from exhort.provenance import Origin, trace
from exhort.syntax import call_arguments, call_name, walk


def traced(source: str):
    """The provenance of the argument of the first `sink(...)` call in `source`."""
    document = Document("lib/app/thing.ex", textwrap.dedent(source).lstrip("\n"))
    for node in walk(document.tree.root_node):
        if node.type == "call" and call_name(node) == (None, "sink"):
            return trace(call_arguments(node)[0])
    raise AssertionError("no sink(...) in the example")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # literals, attributes and the module's name
        ('def f, do: sink("fixed")', Origin.CONSTANT),
        ('def f, do: sink("a_#{@prefix}_#{__MODULE__}")', Origin.CONSTANT),
        # a loop over a literal list, and a variable assigned from one
        ('def f, do: for(s <- ~w(a b), do: sink("size_" <> s))', Origin.CONSTANT),
        ('def f, do: Enum.map([:a, :b], fn kind -> sink(kind) end)', Origin.CONSTANT),
        ("def f do\n  for {t, k} <- @pairs do\n    name = String.trim(t)\n    sink(\"#{name}_#{k}\")\n  end\nend", Origin.CONSTANT),
        ("def f do\n  with {:ok, v} <- {:ok, \"a\"} do\n    sink(v)\n  end\nend", Origin.CONSTANT),
        ("def f do\n  x = \"a\"\n  sink(x)\nend", Origin.CONSTANT),
        # the application's configuration and the operator's environment
        ('def f do\n  wait = Application.fetch_env!(:app, :wait)\n  sink("x #{wait}")\nend', Origin.CONFIG),
        ('def f, do: sink(System.get_env("LEVEL"))', Origin.CONFIG),
        ("def f(env) do\n  if cookie = System.get_env(env) do\n    sink(cookie)\n  end\nend", Origin.CONFIG),
        ("def f(t) do\n  n = Application.fetch_env!(:a, :shards)\n  sink(:erlang.phash2(t, n))\nend", Origin.CONFIG),
        ("def f(name), do: sink([String.to_existing_atom(name)])", Origin.CONSTANT),
        ('def f(env), do: sink(Map.get(env, "LOG_LEVEL", "info"))', Origin.CONFIG),
        # request data: string keys, params of controller actions and LiveView events
        ('def f(params), do: sink(params["status"])', Origin.EXTERNAL),
        ('def f(params), do: sink(Map.get(params, "sort", "asc"))', Origin.EXTERNAL),
        ('def f(%{"kind" => kind}), do: sink(kind)', Origin.EXTERNAL),
        ('def handle_event("pick", %{"fun" => fun}, socket), do: sink(fun)', Origin.EXTERNAL),
        ('def handle_event("pick", value, socket), do: sink(value)', Origin.EXTERNAL),
        ("def f(body) do\n  %{\"data\" => data} = Jason.decode!(body)\n  sink(data)\nend", Origin.EXTERNAL),
        ("def f(conn), do: sink(conn.params)", Origin.EXTERNAL),
        # what cannot be seen: a public function's parameter, another module's result
        ("def f(name), do: sink(name)", Origin.UNKNOWN),
        ("def f(name), do: sink(name |> String.trim() |> String.downcase())", Origin.UNKNOWN),
        ("def f, do: sink(Other.name())", Origin.UNKNOWN),
        ("def f(rows), do: Enum.map(rows, fn row -> sink(row) end)", Origin.UNKNOWN),
        # an unbound name that is not a zero-arity function of the module
        ("def f, do: sink(name)", Origin.UNKNOWN),
        # data the node itself stored or authenticated
        ("def f(key) do\n  [{_, bin}] = :ets.lookup(:t, key)\n  sink(bin)\nend", Origin.INTERNAL),
        (
            "def f(token) do\n  case Phoenix.Token.decrypt(E, \"s\", token) do\n    {:ok, data} -> sink(data)\n  end\nend",
            Origin.INTERNAL,
        ),
    ],
)
def test_origins(source, expected):
    assert traced(f"defmodule App.Thing do\n{textwrap.indent(source, '  ')}\nend\n").origin is expected


def test_a_private_helper_called_only_with_literals_is_constant():
    source = """
    defmodule App.Migrate do
      def up, do: convert("timestamptz")
      def down, do: convert("timestamp")
      defp convert(type), do: sink("ALTER TABLE t ALTER COLUMN c TYPE #{type}")
    end
    """
    assert traced(source).origin is Origin.CONSTANT


def test_a_private_helper_with_one_unknown_caller_is_unknown():
    source = """
    defmodule App.Migrate do
      def up, do: convert("timestamptz")
      def other(type), do: convert(type)
      defp convert(type), do: sink(type)
    end
    """
    assert traced(source).origin is Origin.UNKNOWN


def test_a_helper_whose_other_clauses_raise_returns_what_the_rest_return():
    source = """
    defmodule App.Flags do
      def f, do: sink(as_bool(System.get_env("X", "true")))
      defp as_bool("true"), do: true
      defp as_bool("false"), do: false
      defp as_bool(other), do: raise(ArgumentError, "not a boolean: #{other}")
    end
    """
    assert traced(source).trusted


def test_a_private_helper_captured_as_a_value_is_unknown():
    source = """
    defmodule App.Names do
      def all(list), do: Enum.map(list, &name/1)
      def one, do: name("fixed")
      defp name(value), do: sink(value)
    end
    """
    assert traced(source).origin is Origin.UNKNOWN


def test_a_helper_returning_constants_is_constant():
    source = """
    defmodule App.Erase do
      def run(org_id) do
        Enum.each(tables(), fn table -> sink("DELETE FROM #{table}") end)
      end

      defp tables, do: ["messages", "contacts"]
    end
    """
    assert traced(source).origin is Origin.CONSTANT


def test_a_helper_converting_the_environment_returns_constants():
    source = """
    defmodule App.Migrate do
      def up do
        enabled = to_boolean(System.get_env("ENABLED", "true"))
        sink("UPDATE c SET enabled = '#{enabled}'")
      end

      defp to_boolean("true"), do: true
      defp to_boolean(_), do: false
    end
    """
    assert traced(source).trusted


@pytest.mark.parametrize(
    "body",
    [
        'if value in @allowed, do: sink(value), else: :asc',
        "if value in [\"asc\", \"desc\"] do\n    sink(value)\n  end",
        'case value do\n    v when v in ~w(a b) -> sink(v)\n  end',
        'case value do\n    "a" = v -> sink(v)\n  end',
    ],
)
def test_allow_listed_values_are_constant(body):
    source = f"defmodule App.Sort do\n  @allowed ~w(asc desc)\n  def f(value) do\n  {body}\n  end\nend\n"
    assert traced(source).origin is Origin.CONSTANT


def test_a_guard_membership_makes_a_parameter_constant():
    source = 'defmodule App.Sort do\n  def f(name) when name in ["a", "b"], do: sink(name)\nend\n'
    assert traced(source).origin is Origin.CONSTANT


def test_an_anonymous_clause_guard_is_an_allow_list():
    source = """
    defmodule App.Import do
      def attrs(metadata) do
        Enum.reduce(metadata, %{}, fn
          {"size", size}, attrs when size in ["full", "wide"] -> sink(size)
          _entry, attrs -> attrs
        end)
      end
    end
    """
    assert traced(source).origin is Origin.CONSTANT


def test_the_else_branch_of_an_allow_list_check_is_not_allow_listed():
    source = "defmodule App.Sort do\n  def f(value) do\n    if value in [\"a\"], do: :a, else: sink(value)\n  end\nend\n"
    assert traced(source).origin is Origin.UNKNOWN


@pytest.mark.parametrize(
    ("expression", "numeric"),
    [
        ("length(ids) + 1", True),
        ("DateTime.utc_now()", True),
        ("limit", True),  # guarded by is_integer below
        ("name", False),
    ],
)
def test_numbers_and_dates_cannot_carry_a_quote(expression, numeric):
    source = f"defmodule App.Q do\n  def f(ids, limit, name) when is_integer(limit), do: sink({expression})\nend\n"
    assert traced(source).textual is not numeric


@pytest.mark.parametrize(("spec", "numeric"), [("list(integer())", True), ("[pos_integer()]", True), ("list()", False)])
def test_a_typespec_declaring_numbers_makes_a_parameter_numeric(spec, numeric):
    source = f"""
    defmodule App.Broadcast do
      def run(ids), do: insert(ids)

      @spec insert({spec}) :: :ok
      defp insert(ids) do
        Enum.each(Enum.chunk_every(ids, 100), fn chunk -> sink("IN (" <> Enum.join(chunk, ", ") <> ")") end)
      end
    end
    """
    assert traced(source).textual is not numeric


def test_the_index_of_with_index_is_a_small_counter():
    source = """
    defmodule App.Emails do
      def add(multi, emails) do
        emails
        |> Enum.with_index()
        |> Enum.reduce(multi, fn {params, index}, multi -> sink(:"email.#{index}") end)
      end
    end
    """
    assert traced(source).origin is Origin.CONSTANT


@pytest.mark.parametrize(("options", "expected"), [("signed: [@key]", Origin.INTERNAL), ("[]", Origin.EXTERNAL)])
def test_cookies_are_input_unless_the_module_signs_them(options, expected):
    source = f"""
    defmodule App.Cookie do
      @key "recent"
      def fetch(conn) do
        conn = Plug.Conn.fetch_cookies(conn, {options})
        from_binary(conn.cookies[@key])
      end

      defp from_binary(binary), do: sink(binary)
    end
    """
    assert traced(source).origin is expected


def test_string_keys_into_known_data_keep_its_origin():
    source = 'defmodule App.C do\n  @map %{"a" => 1}\n  def f, do: sink(Map.get(@map, "a"))\nend\n'
    assert traced(source).origin is Origin.CONSTANT


def test_ecto_type_load_reads_the_applications_own_column():
    source = """
    defmodule App.Types.Term do
      use Ecto.Type
      def load(binary), do: sink(binary)
      def cast(value), do: sink2(value)
    end
    """
    assert traced(source).origin is Origin.INTERNAL


def test_recursion_terminates():
    source = """
    defmodule App.Loop do
      def start(x), do: loop(x, [])
      defp loop([], acc), do: sink(acc)
      defp loop([h | t], acc), do: loop(t, [h | acc])
    end
    """
    assert traced(source).origin is Origin.UNKNOWN
