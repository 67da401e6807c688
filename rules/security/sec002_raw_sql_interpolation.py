"""SEC002 raw-sql-interpolation."""

import re

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import (
    call_arguments,
    call_name,
    do_block,
    effective_arguments,
    is_literal,
    keyword_pairs,
    pipe_source,
    text,
    trailing_keywords,
    walk,
)

from exhort_rules.ecto._common import binds, is_migration_module, repo_adapter, repo_name

REPO_FUNCTIONS = ("query", "query!", "query_many", "query_many!")
SQL_FUNCTIONS = ("query", "query!", "query_many", "query_many!", "stream")
# text right before an interpolation that puts it in a value position
# text right before an interpolation that puts it where a table or column name goes
IDENTIFIER_POSITION = re.compile(
    r"(?:\bFROM|\bINTO|\bUPDATE|\bJOIN|\bTABLE|\bEXISTS|\bVIEW|\bINDEX|\bSCHEMA|\bDATABASE|\bON)\s+\"?$", re.I
)
# values whose text can never carry a quote: numbers and dates (interpolating anything else
# from these calls raises instead of reaching the SQL)
NUMERIC_OPERATORS = ("+", "-", "*", "/")
NUMERIC_FUNCTIONS = frozenset({
    (None, "length"), (None, "map_size"), (None, "byte_size"), (None, "tuple_size"), (None, "div"),
    (None, "rem"), (None, "abs"), (None, "round"), (None, "trunc"), (None, "ceil"), (None, "floor"),
    ("Enum", "count"), ("Kernel", "length"),
})
TYPED_MODULES = ("DateTime", "Date", "NaiveDateTime", "Time", "Integer", "Float")
VALUE_POSITION = re.compile(r"(?:=|<>|!=|<|>|<=|>=|\bLIKE|\bILIKE|\bIN\s*\(|,)\s*'?$", re.I)

RULE = Rule(
    code="SEC002",
    name="raw-sql-interpolation",
    category="security",
    severity=Severity.ERROR,
    summary="Values interpolated into raw SQL allow SQL injection; pass them as parameters",
    fix_safety="offer",
    workspace=True,
    query=r"""
    ((call target: (dot left: (alias) @module right: (identifier) @function)) @call
      (#any-of? @function "query" "query!" "query_many" "query_many!" "stream"))
    ((call target: (identifier) @function) @call (#eq? @function "execute"))
    """,
    explanation="""
        ## SEC002 raw-sql-interpolation

        Raw SQL built from values (`#{...}` inside the string, `<>` concatenation, or
        `Enum.join`) lets those values rewrite the statement. Values belong in the params list
        (`$1` for Postgres, `?` for MySQL and SQLite). Sobelow flags raw queries
        (`sobelow:lib/sobelow/sql/query.ex`, `sql/stream.ex@v0.15.0`). Ecto already rejects an
        interpolated `fragment/1` at compile time ("to prevent SQL injection attacks,
        fragment(...) does not allow strings to be interpolated",
        `ecto:lib/ecto/query/builder.ex:630-643@v3.14.2`), so this rule targets only the raw
        APIs: `Repo.query/query!/query_many`, `Ecto.Adapters.SQL.query/query!/query_many/stream`,
        and `execute/1` in migrations (information there).

        Interpolating a module attribute, a constant, application config, a number
        (`#{limit + 1}`, `#{length(ids)}`) or a date (`DateTime.*`) is information, not an error:
        none of them can carry a quote. A variable bound to such a value earlier in the same
        function is followed. Files under `test/`, seeds and scripts other than migrations are not
        checked.

        **Bad**

        ```elixir
        Repo.query!("SELECT * FROM users WHERE email = '#{email}'")
        ```

        **Good**

        ```elixir
        Repo.query!("SELECT * FROM users WHERE email = $1", [email])
        ```

        **Fix** (offered, when the repo's adapter is known and every interpolation sits in a
        value position): each interpolation becomes a positional parameter. Table and column
        names cannot be parameters; those need an allow-list instead.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Users do
              alias MyApp.Repo

              def by_email(email) do
                Repo.query!("SELECT * FROM users WHERE email = '#{email}'")  # expect: SEC002
              end
            end
            """,
            files={"lib/my_app/repo.ex": "defmodule MyApp.Repo do\n  use Ecto.Repo, otp_app: :my_app, adapter: Ecto.Adapters.Postgres\nend\n"},
            fixed="""
            defmodule MyApp.Users do
              alias MyApp.Repo

              def by_email(email) do
                Repo.query!("SELECT * FROM users WHERE email = $1", [email])  # expect: SEC002
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Reports do
              alias Ecto.Adapters.SQL

              def rows(repo, table, ids) do
                SQL.query(repo, "SELECT * FROM " <> table, [])  # expect: SEC002
                sql = "DELETE FROM logs WHERE id IN (" <> Enum.join(ids, ",") <> ")"
                MyApp.Repo.query(sql)  # expect: SEC002
                Ecto.Adapters.SQL.stream(repo, Enum.join(["SELECT", table], " "))  # expect: SEC002
                "SELECT count(*) FROM #{table}" |> MyApp.Repo.query!()  # expect: SEC002
                MyApp.Repo.query("SELECT * FROM #{@table}")  # expect: SEC002
                wait = Application.fetch_env!(:my_app, :lock_wait)
                MyApp.Repo.query!("SET LOCAL lock_timeout = #{wait}")  # expect: SEC002
                cutoff = DateTime.utc_now() |> DateTime.add(-3600, :second)
                MyApp.Repo.query!("DELETE FROM logs WHERE at < '#{cutoff}' LIMIT #{length(ids) + 1}")  # expect: SEC002
                MyApp.Repo.query!("DELETE FROM #{table} WHERE id = $1", [1])  # expect: SEC002
                MyApp.Repo.query!(~s(SELECT * FROM logs WHERE tag = '#{table}'))  # expect: SEC002
                mode = if ids == [], do: "CONCURRENTLY"
                MyApp.Repo.query!(~s(REFRESH MATERIALIZED VIEW #{mode} "#{table}"))  # expect: SEC002
              end
            end
            """,
            note="concatenation, a bound variable, Enum.join, a pipe, a table name, a sigil; a module attribute, application config, numbers and dates are information",
        ),
        bad(
            """
            defmodule MyApp.Repo.Migrations.Backfill do
              use Ecto.Migration
              def up, do: execute("UPDATE posts SET state = '#{default_state()}'")  # expect: SEC002
            end
            """,
            path="priv/repo/migrations/20240101000000_backfill.exs",
            note="execute/1 in a migration is information",
        ),
        good(
            """
            defmodule MyApp.Users do
              import Ecto.Query

              def search(term) do
                Repo.query!("SELECT * FROM users WHERE email = $1", [term])
                Repo.query!("SELECT * FROM users WHERE " <> "active")
                from(u in User, where: ilike(u.email, ^"%#{term}%"))
                from(j in Job, where: fragment("?->>'type' = ?", j.args, "sync"))
              end
            end
            """,
            note="parameters, literal concatenation, and pinned values in the query DSL",
        ),
        good(
            """
            defmodule MyApp.Runner do
              def execute(cmd), do: cmd
              def run(name), do: execute("echo #{name}")
              def other(name), do: MyApp.Search.query("#{name}")
            end
            """,
            note="execute outside migrations, and query on a module that is not a Repo",
        ),
        good(
            """
            defmodule MyApp.EraseTest do
              use MyApp.DataCase
              test "erases", %{org: org} do
                Repo.query!("SELECT count(*) FROM messages WHERE organization_id = #{org.id}")
              end
            end
            """,
            path="test/my_app/erase_test.exs",
            note="test code never sees outside input",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    if ctx.path.is_test or (not ctx.path.is_production_code and not ctx.path.is_migration):
        return  # tests, seeds and scripts never see outside input; migrations are checked
    call = match.node("call")
    module = ctx.module_of(call)
    function = text(match.node("function"))
    arguments = effective_arguments(call)
    repo = None
    migration = False
    if match.get("module") is None:
        if not is_migration_module(ctx, call) or len(arguments) != 1:
            return
        sql = arguments[0]
        migration = True
    else:
        module_text = text(match.node("module"))
        resolved = module.resolve_alias(module_text) if module is not None else module_text
        if resolved == "Ecto.Adapters.SQL" and function in SQL_FUNCTIONS:
            if len(arguments) < 2:
                return
            sql = arguments[1]
        elif function in REPO_FUNCTIONS and (repo := repo_name(ctx, module, module_text)) is not None:
            if not arguments:
                return
            sql = arguments[0]
        else:
            return
    verdict = _dynamic(sql, call)
    if verdict is None:
        return
    how, constant = verdict
    severity = None
    if migration or constant:
        severity = Severity.INFORMATION
    message = f"Raw SQL built with {how}"
    if constant:
        message += ": only constants, numbers or dates are interpolated, but prefer a fixed string"
    elif migration:
        message += ": execute/1 takes no parameters, so make sure only trusted values reach it"
    elif _identifier_positions(ctx, sql, call):
        message += ": table and column names cannot be parameters; check them against an allow-list"
    else:
        message += ": pass values as query parameters ($1 / ?) instead"
    fixes = []
    if not migration and not constant and repo is not None and sql.type == "string" and len(arguments) == 1:
        parameter_fix = _parameter_fix(ctx, call, sql, repo)
        if parameter_fix is not None:
            fixes.append(parameter_fix)
    yield ctx.finding(call, message, fixes=fixes, severity=severity)


def _dynamic(node, at, depth=0):
    """(how, only_constants) when the SQL is built from non-literal parts, else None."""
    if node is None:
        return None
    if node.type == "identifier" and depth == 0:
        bound = binds(at, text(node))
        if len(bound) == 1:
            return _dynamic(bound[0], at, depth + 1)
        return None
    if node.type in ("string", "sigil"):
        interpolations = [c for c in node.named_children if c.type == "interpolation"]
        if not interpolations:
            return None
        constant = all(_constant_interpolation(i) for i in interpolations)
        return "string interpolation", constant
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "<>":
        parts = _concat_parts(node)
        if all(is_literal(p) for p in parts):
            return None
        constant = all(_constant(p) for p in parts)
        return "<> concatenation", constant
    if node.type == "call" and call_name(node) == ("Enum", "join"):
        items = effective_arguments(node)
        if items and items[0].type == "list" and is_literal(items[0]):
            return None
        return "Enum.join", False
    if node.type == "list":  # iodata
        if is_literal(node):
            return None
        return "an iodata list", all(_constant(c) for c in node.named_children)
    return None


def _concat_parts(node):
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "<>":
        return _concat_parts(node.child_by_field_name("left")) + _concat_parts(node.child_by_field_name("right"))
    return [node]


def _constant(node, depth: int = 0) -> bool:
    if node is None:
        return False
    if node.type == "identifier" and depth == 0:
        bound = binds(node, text(node))
        return len(bound) == 1 and _constant(bound[0], depth + 1)
    if node.type == "call" and call_name(node)[0] == "Application" and call_name(node)[1] in (
        "get_env", "fetch_env!", "compile_env", "compile_env!"
    ):
        return True  # the application's own configuration, not outside input
    if is_literal(node):
        return True
    if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "@":
        return True
    if node.type == "identifier" and text(node) == "__MODULE__":
        return True
    if _typed(node):
        return True
    if node.type == "call" and call_name(node) in ((None, "if"), (None, "unless")):
        branches = [v for k, v, _ in keyword_pairs(trailing_keywords(node)) if k in ("do", "else")]
        if do_block(node) is not None:
            branches = [c for c in walk(do_block(node)) if c.parent is not None and c.parent.type in ("do_block", "else_block")]
            branches = [b for b in branches if b.type not in ("else_block", "comment") and b.is_named]
        return bool(branches) and all(_constant(b, depth + 1) for b in branches)
    if node.type == "string":
        return all(_constant_interpolation(c) for c in node.named_children if c.type == "interpolation")
    return False


def _typed(node) -> bool:
    """A number or a date: `limit + 2`, `length(ids)`, `DateTime.utc_now() |> DateTime.add(-60)`."""
    if node.type == "binary_operator":
        operator = text(node.child_by_field_name("operator"))
        if operator in NUMERIC_OPERATORS:
            return True
        if operator == "|>":
            right = node.child_by_field_name("right")
            return right is not None and _typed(right)
        return False
    if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "-":
        return True
    if node.type == "call":
        mod, fun = call_name(node)
        return (mod, fun) in NUMERIC_FUNCTIONS or (mod in TYPED_MODULES and fun not in ("parse", "from_iso8601"))
    return False


def _identifier_positions(ctx, sql, call) -> bool:
    """Every dynamic interpolation of the SQL string sits where a table or column name goes."""
    if sql.type == "identifier":
        bound = binds(call, text(sql))
        sql = bound[0] if len(bound) == 1 else None
    if sql is None or sql.type not in ("string", "sigil"):
        return False
    data = ctx.data
    dynamic = [c for c in sql.named_children if c.type == "interpolation" and not _constant_interpolation(c)]
    if not dynamic:
        return False
    for interpolation in dynamic:
        line_start = max(data.rfind(b"\n", 0, interpolation.start_byte) + 1, sql.start_byte)
        before = data[line_start:interpolation.start_byte].decode("utf-8", errors="replace")
        before = re.sub(r"#\{[^}]*\}\s*", "", before)  # `VIEW #{concurrently} "#{name}"`
        if not IDENTIFIER_POSITION.search(before):
            return False
    return True


def _constant_interpolation(interpolation) -> bool:
    inner = [c for c in interpolation.named_children if c.type != "comment"]
    return all(_constant(c) for c in inner)


def _parameter_fix(ctx, call, sql, repo):
    adapter = repo_adapter(ctx, repo)
    if adapter not in ("Ecto.Adapters.Postgres", "Ecto.Adapters.MyXQL", "Ecto.Adapters.SQLite3"):
        return None
    if sql.child_by_field_name("quoted_start") is None or text(sql.child_by_field_name("quoted_start")) != '"':
        return None
    pieces = []
    values = []
    position = sql.start_byte + 1
    data = ctx.data
    interpolations = [c for c in sql.named_children if c.type == "interpolation"]
    for interpolation in interpolations:
        before = data[position:interpolation.start_byte].decode("utf-8", errors="replace")
        inner = [c for c in interpolation.named_children if c.type != "comment"]
        if len(inner) != 1 or not VALUE_POSITION.search(before):
            return None
        quoted = before.endswith("'")
        after_start = interpolation.end_byte
        if quoted:
            if data[after_start:after_start + 1] != b"'":
                return None
            before = before[:-1]
        values.append(text(inner[0]))
        placeholder = f"${len(values)}" if adapter == "Ecto.Adapters.Postgres" else "?"
        pieces.append(before + placeholder)
        position = after_start + (1 if quoted else 0)
    pieces.append(data[position:sql.end_byte - 1].decode("utf-8", errors="replace"))
    new_sql = '"' + "".join(pieces) + '"'
    edits = [Edit(sql.start_byte, sql.end_byte, new_sql)]
    if pipe_source(call) is not None or call_arguments(call) != [sql]:
        return None
    edits.append(Edit(sql.end_byte, sql.end_byte, f", [{', '.join(values)}]"))
    return fix("Pass the interpolated values as query parameters", *edits, safe=False)
