"""SEC005 unsafe-binary-to-term."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.execution import Runs
from exhort.provenance import Origin, trace
from exhort.syntax import (
    call_name,
    effective_arguments,
    enclosing_def,
    enclosing_module,
    function_def,
    is_literal,
    module_members,
    pipe_source,
    text,
    walk,
)
from exhort.tool_comments import sobelow_skipped

SOBELOW_CHECKS = ("Misc.BinToTerm",)

RULE = Rule(
    code="SEC005",
    name="unsafe-binary-to-term",
    category="security",
    severity=Severity.WARNING,
    summary=":erlang.binary_to_term on data that may come from outside can build functions and atoms",
    fix_safety="offer",
    workspace=True,
    # Migrations, tests, console and Mix tasks decode what the operator or the test wrote.
    runs_in=frozenset({Runs.PRODUCTION}),
    query=r"""
    ((call target: (dot left: (atom) @module right: (identifier) @function)) @call
      (#eq? @module ":erlang") (#eq? @function "binary_to_term"))
    """,
    explanation="""
        ## SEC005 unsafe-binary-to-term

        `:erlang.binary_to_term/1,2` rebuilds any term, including functions. Sobelow's
        `Misc.BinToTerm`: user input may cause "memory exhaustion or code execution. Even with
        the `:safe` option, `binary_to_term` will deserialize functions"
        (`sobelow:lib/sobelow/misc/bin_to_term.ex:1-12@v0.15.0`). `[:safe]` only refuses new
        atoms and external references. `Plug.Crypto.non_executable_binary_to_term/2` also
        refuses executable terms.

        Flagged in `lib/` (production code) when the binary is not a literal, with or without
        `[:safe]`: a **warning** when it is request data (params, a string-keyed read of decoded
        JSON, a queue message, an unsigned cookie); a **hint** when its origin cannot be traced
        (a function's parameter, a file read, another module's result). On real applications
        those were nearly always terms the application serialized itself (its own columns, its
        own bucket), so they are hints, hidden from the CLI's default output; data written and
        read by the same node (a disk cache) is still reported there, suppress it where you
        have checked.

        Not flagged where the binary can only be what this system wrote or signed itself, so no
        one else can have put a function in it: values read from the node's own ETS tables or
        `:persistent_term`, the result of `Phoenix.Token.verify/decrypt` or
        `Plug.Crypto.verify/decrypt`, cookies the module reads signed or encrypted
        (`fetch_cookies(conn, signed: [...])`), and an `Ecto.Type`'s `load/1` (a column the
        application wrote). Nor when the decoded term goes through a function of the module
        that rejects functions (`is_function/1,2`), nor in migrations, tests and console tasks,
        nor for calls the team reviewed (`# sobelow_skip ["Misc.BinToTerm"]` above the
        function).

        **Bad**

        ```elixir
        :erlang.binary_to_term(cookie_value)
        ```

        **Good**

        ```elixir
        Plug.Crypto.non_executable_binary_to_term(cookie_value, [:safe])
        ```

        **Fix** (offered when `plug_crypto` is in `mix.lock`): that rewrite.
    """,
    examples=[
        bad(
            """
            defmodule MyAppWeb.Session do
              def read(cookie_value), do: :erlang.binary_to_term(cookie_value)  # expect: SEC005
              def read_safe(value), do: value |> Base.decode64!() |> :erlang.binary_to_term([:safe])  # expect: SEC005
            end
            """,
            path="lib/my_app_web/session.ex",
            files={"mix.lock": '%{\n  "plug_crypto": {:hex, :plug_crypto, "2.1.1", "0", [:mix], [], "hexpm", "0"},\n}\n'},
            fixed="""
            defmodule MyAppWeb.Session do
              def read(cookie_value), do: Plug.Crypto.non_executable_binary_to_term(cookie_value, [:safe])  # expect: SEC005
              def read_safe(value), do: value |> Base.decode64!() |> Plug.Crypto.non_executable_binary_to_term([:safe])  # expect: SEC005
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Cache do
              def load(path), do: path |> File.read!() |> :erlang.binary_to_term()  # expect: SEC005
            end
            """,
            path="lib/my_app/cache.ex",
            note="without plug_crypto in mix.lock there is no fix",
        ),
        good(
            """
            defmodule MyApp.Fixed do
              def term, do: :erlang.binary_to_term(<<131, 100, 0, 2, 111, 107>>)
              def safe(bin), do: Plug.Crypto.non_executable_binary_to_term(bin, [:safe])
              def out(term), do: :erlang.term_to_binary(term)
            end
            """,
            path="lib/my_app/fixed.ex",
            note="a literal binary, the plug_crypto function, and term_to_binary",
        ),
        good(
            """
            defmodule MyApp.Renderer do
              def handler(key) do
                [{_, serialized}] = :ets.lookup(:handlers, key)
                :erlang.binary_to_term(serialized)
              end

              def restore(token) do
                case Phoenix.Token.decrypt(MyAppWeb.Endpoint, "store", token, max_age: 3600) do
                  {:ok, data} -> {:ok, :erlang.binary_to_term(data, [:safe])}
                  error -> error
                end
              end

              def decode(binary), do: binary |> :erlang.binary_to_term([:safe]) |> reject_functions()

              defp reject_functions(term) when is_function(term), do: raise(ArgumentError, "functions are not allowed")
              defp reject_functions(term) when is_list(term), do: Enum.map(term, &reject_functions/1)
              defp reject_functions(term), do: term

              # sobelow_skip ["Misc.BinToTerm"]
              def reviewed(binary), do: :erlang.binary_to_term(binary, [:safe])
            end

            defmodule MyAppWeb.RecentCookie do
              @options [sign: true, max_age: 86_400]
              def fetch(conn) do
                conn = Plug.Conn.fetch_cookies(conn, signed: ["recent"])
                from_binary(conn.cookies["recent"])
              end

              def put(conn, ids), do: Plug.Conn.put_resp_cookie(conn, "recent", :erlang.term_to_binary(ids), @options)

              defp from_binary(nil), do: []
              defp from_binary(binary), do: :erlang.binary_to_term(binary, [:safe])
            end

            defmodule MyApp.Types.Term do
              use Ecto.Type
              def type, do: :binary
              def load(binary) when is_binary(binary), do: {:ok, :erlang.binary_to_term(binary)}
            end
            """,
            path="lib/my_app/renderer.ex",
            note="the node's own ETS data, a decrypted token, a walker rejecting functions, a reviewed call, a signed cookie, an Ecto type's load",
        ),
        good(
            """
            defmodule MyApp.Migrations.V6 do
              use Ecto.Migration
              def up, do: for([bin] <- repo().query!("SELECT data FROM t").rows, do: :erlang.binary_to_term(bin))
            end
            """,
            path="lib/my_app/migrations/v6.ex",
            note="migrations decode what the application stored",
        ),
        good(
            """
            defmodule MyApp.CacheTest do
              def roundtrip(bin), do: :erlang.binary_to_term(bin)
            end
            """,
            path="test/my_app/cache_test.exs",
            note="outside lib/",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    if not ctx.path.is_lib:
        return
    call = match.node("call")
    arguments = effective_arguments(call)
    if not arguments or len(arguments) > 2 or _literal(arguments[0]):
        return
    if sobelow_skipped(ctx.data, call, SOBELOW_CHECKS):
        return  # the team reviewed this call for Sobelow already
    source = trace(arguments[0], memo=ctx.document.memo)
    if source.origin <= Origin.INTERNAL:
        return  # constants, configuration, or what this node stored or signed itself
    if _result_checked_for_functions(call):
        return  # the decoded term goes through a walker that rejects functions
    fixes = []
    if ctx.version("plug_crypto") is not None:
        target = call.child_by_field_name("target")
        edits = [Edit(target.start_byte, target.end_byte, "Plug.Crypto.non_executable_binary_to_term")]
        if len(arguments) == 1:
            args_node = next(c for c in call.named_children if c.type == "arguments")
            if pipe_source(call) is not None:
                edits.append(Edit(args_node.start_byte, args_node.end_byte, "([:safe])"))
            else:
                edits.append(Edit(args_node.end_byte - 1, args_node.end_byte - 1, ", [:safe]"))
        fixes.append(fix("Use Plug.Crypto.non_executable_binary_to_term/2", *edits, safe=False))
    safe_option = len(arguments) == 2 and ":safe" in text(arguments[1])
    external = source.origin is Origin.EXTERNAL
    where = " on request data (params, decoded JSON, cookies)" if external else ""
    doubt = "" if external else "; if this binary can come from outside the system"
    yield ctx.finding(
        call,
        ":erlang.binary_to_term"
        + (" even with [:safe]" if safe_option else "")
        + where
        + " deserializes functions from its input"
        + doubt
        + ", use Plug.Crypto.non_executable_binary_to_term/2",
        fixes=fixes,
        severity=None if external else Severity.HINT,
    )


def _result_checked_for_functions(call) -> bool:
    """`binary |> :erlang.binary_to_term() |> ensure_no_functions()` or `term = ...; walk(term)`:
    the decoded term reaches a function of this module that tests `is_function/1,2`."""
    module = enclosing_module(call)
    if module is None:
        return False
    consumers = []
    node = call
    parent = node.parent
    if parent is not None and parent.type == "binary_operator" and parent.child_by_field_name("right") == node:
        node, parent = parent, parent.parent  # `bin |> :erlang.binary_to_term()` as a whole
    if parent is not None and parent.type == "binary_operator" and text(parent.child_by_field_name("operator")) == "|>":
        right = parent.child_by_field_name("right")
        if parent.child_by_field_name("left") == node and right is not None and right.type == "call":
            consumers.append(right)
    if parent is not None and parent.type == "arguments" and parent.parent is not None:
        consumers.append(parent.parent)
    if parent is not None and parent.type == "binary_operator" and text(parent.child_by_field_name("operator")) == "=":
        left = parent.child_by_field_name("left")
        definition = enclosing_def(call)
        if left is not None and left.type == "identifier" and definition is not None:
            name = text(left)
            for candidate in walk(definition):
                if candidate.type == "call" and candidate.start_byte > parent.end_byte and any(
                    a.type == "identifier" and text(a) == name for a in effective_arguments(candidate)
                ):
                    consumers.append(candidate)
    names = {call_name(c)[1] for c in consumers if call_name(c)[0] is None}
    if not names:
        return False
    for member in module_members(module):
        definition = function_def(member)
        if definition is None or definition.name not in names:
            continue
        for inner in walk(member):
            if inner.type == "call" and call_name(inner) in ((None, "is_function"), ("Kernel", "is_function")):
                return True
    return False



def _literal(node) -> bool:
    if node.type == "bitstring":
        return all(_literal(c) for c in node.named_children if c.type != "comment")
    return is_literal(node)
