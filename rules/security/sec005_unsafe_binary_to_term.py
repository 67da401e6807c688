"""SEC005 unsafe-binary-to-term."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import effective_arguments, is_literal, pipe_source, text

RULE = Rule(
    code="SEC005",
    name="unsafe-binary-to-term",
    category="security",
    severity=Severity.WARNING,
    summary=":erlang.binary_to_term on data that may come from outside can build functions and atoms",
    fix_safety="offer",
    workspace=True,
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
        `[:safe]`. Data written and read by the same trusted node (a disk cache) is still
        flagged; suppress the finding there.

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
    if not ctx.path.is_lib or not ctx.path.is_production_code:
        return
    call = match.node("call")
    arguments = effective_arguments(call)
    if not arguments or len(arguments) > 2 or _literal(arguments[0]):
        return
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
    yield ctx.finding(
        call,
        ":erlang.binary_to_term"
        + (" even with [:safe]" if safe_option else "")
        + " deserializes functions from its input; use Plug.Crypto.non_executable_binary_to_term/2",
        fixes=fixes,
    )



def _literal(node) -> bool:
    if node.type == "bitstring":
        return all(_literal(c) for c in node.named_children if c.type != "comment")
    return is_literal(node)
