"""SEC002 raw-sql-interpolation."""

import re

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.execution import Runs
from exhort.provenance import Origin, trace
from exhort.syntax import call_arguments, call_name, effective_arguments, is_literal, pipe_source, text
from exhort.tool_comments import sobelow_skipped

from exhort_rules.ecto._common import binds, is_migration_module, repo_adapter, repo_name

REPO_FUNCTIONS = ("query", "query!", "query_many", "query_many!")
SQL_FUNCTIONS = ("query", "query!", "query_many", "query_many!", "stream")
# text right before an interpolation that puts it where a table or column name goes
IDENTIFIER_POSITION = re.compile(
    r"(?:\bFROM|\bINTO|\bUPDATE|\bJOIN|\bTABLE|\bEXISTS|\bVIEW|\bINDEX|\bSCHEMA|\bDATABASE|\bON)\s+\"?$", re.I
)
# statements that accept no bind parameters: DDL and session commands
NO_PARAMETERS = re.compile(
    r"\s*(?:CREATE|ALTER|DROP|TRUNCATE|COMMENT|GRANT|REVOKE|REFRESH|VACUUM|ANALYZE|CLUSTER|REINDEX|SET|RESET|LOCK|DO|LISTEN|NOTIFY|UNLISTEN)\b",
    re.I,
)
SOBELOW_CHECKS = ("SQL.Query", "SQL.Stream")
# text right before an interpolation that puts it in a value position
VALUE_POSITION = re.compile(r"(?:=|<>|!=|<|>|<=|>=|\bLIKE|\bILIKE|\bIN\s*\(|,)\s*'?$", re.I)

RULE = Rule(
    code="SEC002",
    name="raw-sql-interpolation",
    category="security",
    severity=Severity.ERROR,
    summary="Values interpolated into raw SQL allow SQL injection; pass them as parameters",
    fix_safety="offer",
    workspace=True,
    # Tests, seeds, console and Mix tasks, and compile-time code never see outside input;
    # migrations are checked (a hint: execute/1 takes no parameters).
    runs_in=frozenset({Runs.PRODUCTION, Runs.MIGRATION}),
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
        and `execute/1` in migrations.

        What reaches the SQL decides (exhort follows each interpolated value through the
        function, its clause patterns and the module's own helpers):

        - **error** when a value is text that can come from outside or that exhort cannot
          trace (a parameter, another module's result), in a position where a parameter fits;
        - **hint** for table and column names (they cannot be parameters: check them against an
          allow-list), for statements that take no parameters (`CREATE`, `ALTER`, `SET`,
          `REFRESH`, ...), and for `execute/1` in migrations (where a function's parameters are
          the options of whoever runs the migration), unless a value is request data (params,
          decoded JSON), which is an error wherever it goes. On real applications these were
          internal names and operator values nearly every time, so they are hints (hidden from
          the CLI's default output; the catalog's "information" for migrations is lowered);
        - **nothing** when only known values are interpolated: literals, module attributes, the
          application's configuration and the operator's environment, a private helper that
          returns constants or that every caller passes a literal to, loop elements of a
          literal list, numbers (`#{limit + 1}`, `#{length(ids)}`, a parameter guarded by
          `is_integer/1`) and dates (`DateTime.*`): none of them can carry a quote an
          attacker chose.

        Files under `test/`, seeds, scripts, console and release tasks, Mix tasks and
        compile-time code are not checked, nor queries the team reviewed for Sobelow
        (`# sobelow_skip ["SQL.Query"]` above the function).

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
                MyApp.Repo.query!("DELETE FROM #{table} WHERE id = $1", [1])  # expect: SEC002
                MyApp.Repo.query!(~s(SELECT * FROM logs WHERE tag = '#{table}'))  # expect: SEC002
                mode = if ids == [], do: "CONCURRENTLY"
                MyApp.Repo.query!(~s(REFRESH MATERIALIZED VIEW #{mode} "#{table}"))  # expect: SEC002
              end
            end
            """,
            note="concatenation, a bound variable, Enum.join, a pipe, a table name, a sigil; table names and statements without parameters are hints",
        ),
        bad(
            """
            defmodule MyApp.Repo.Migrations.Backfill do
              use Ecto.Migration
              def up, do: execute("UPDATE posts SET state = '#{default_state()}'")  # expect: SEC002
            end
            """,
            path="priv/repo/migrations/20240101000000_backfill.exs",
            note="execute/1 in a migration is a hint",
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
            defmodule MyApp.Maintenance do
              @table "audit_logs"

              def prune(ids, limit) when is_integer(limit) do
                MyApp.Repo.query("SELECT * FROM #{@table}")
                wait = Application.fetch_env!(:my_app, :lock_wait)
                MyApp.Repo.query!("SET LOCAL lock_timeout = #{wait}")
                cutoff = DateTime.utc_now() |> DateTime.add(-3600, :second)
                MyApp.Repo.query!("DELETE FROM logs WHERE at < '#{cutoff}' LIMIT #{length(ids) + limit}")
                Enum.each(tables(), fn table -> MyApp.Repo.query!("DELETE FROM #{table} WHERE org_id = $1", [1]) end)
              end

              defp tables, do: ["messages", "contacts"]
            end
            """,
            note="module attributes, config, dates, numbers and a helper returning constants carry no outside text",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.NormalizeTimestamps do
              use Ecto.Migration
              @tables [:sessions, :tokens]
              @schema Application.compile_env(:my_app, :schema, "public")

              def up do
                convert("timestamptz")
                for table <- @tables, do: execute("ALTER TABLE #{@schema}.#{table} DROP CONSTRAINT #{table}_fkey")
                enabled = System.get_env("AUTH_ENABLED", "true")
                execute("UPDATE settings SET auth_enabled = '#{enabled}'")
              end

              def down, do: convert("timestamp")

              defp convert(type), do: execute("ALTER TABLE accounts ALTER COLUMN inserted_at TYPE #{type}")
            end
            """,
            path="priv/repo/migrations/20240101000000_normalize_timestamps.exs",
            note="a migration interpolating attributes, the operator's environment, and a helper every caller passes a literal to",
        ),
        good(
            """
            defmodule MyApp.Seeds.Scale do
              def reset(org), do: MyApp.Repo.query!("DELETE FROM contacts WHERE org_id = #{org.id}")
            end

            defmodule MyApp.Partitions do
              # sobelow_skip ["SQL.Query"]
              def size(name), do: MyApp.Repo.query("SELECT pg_total_relation_size('#{name}')")
            end
            """,
            note="console seed tasks, and a query the team reviewed for Sobelow",
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
    call = match.node("call")
    if sobelow_skipped(ctx.data, call, SOBELOW_CHECKS):
        return  # the team reviewed this query for Sobelow already
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
    if ctx.runs(call) is Runs.MIGRATION:
        migration = True
    # A migration's functions are called by the migration runner with the operator's options.
    built = _built(sql, call, Origin.CONFIG if migration else Origin.UNKNOWN, ctx.document.memo)
    if built is None:
        return
    how, statement, parts = built
    doubtful = [(part, source) for part, source in parts if source.textual and not source.trusted]
    if not doubtful:
        return  # only constants, configuration, numbers or dates reach the SQL
    external = any(source.origin is Origin.EXTERNAL for _part, source in doubtful)
    message = f"Raw SQL built with {how}"
    severity = None
    # Names, statements without parameters and migrations cannot use parameters: a value
    # exhort cannot trace there is a hint to check it, not an injection it can show.
    if external:
        message += " from request data (params, decoded JSON): pass values as query parameters ($1 / ?), and check names against an allow-list"
    elif migration:
        severity = Severity.HINT
        message += ": execute/1 takes no parameters, so make sure only trusted values reach it"
    elif _takes_no_parameters(ctx, statement):
        severity = Severity.HINT
        message += ": this statement takes no parameters, so make sure only trusted values reach it"
    elif _identifier_positions(ctx, statement, [part for part, _source in doubtful]):
        severity = Severity.HINT
        message += ": table and column names cannot be parameters; check them against an allow-list"
    else:
        message += ": pass values as query parameters ($1 / ?) instead"
    fixes = []
    if severity is None and repo is not None and sql.type == "string" and len(arguments) == 1:
        parameter_fix = _parameter_fix(ctx, call, sql, repo)
        if parameter_fix is not None:
            fixes.append(parameter_fix)
    yield ctx.finding(call, message, fixes=fixes, severity=severity)


def _built(node, at, parameters, memo, depth=0):
    """(how, statement node, [(part, provenance)]) when the SQL is built from parts that are
    not literals, else None. `statement` is the string whose text holds the SQL keywords."""
    if node is None:
        return None
    if node.type == "identifier" and depth == 0:
        bound = binds(at, text(node))
        if len(bound) == 1:
            return _built(bound[0], at, parameters, memo, depth + 1)
        return None
    if node.type in ("string", "sigil"):
        interpolations = [c for c in node.named_children if c.type == "interpolation"]
        if not interpolations:
            return None
        return "string interpolation", node, [(i, trace(i, parameters=parameters, memo=memo)) for i in interpolations]
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "<>":
        parts = _concat_parts(node)
        if all(is_literal(p) for p in parts):
            return None
        dynamic = [p for p in parts if not is_literal(p)]
        return "<> concatenation", parts[0], [(p, trace(p, parameters=parameters, memo=memo)) for p in dynamic]
    if node.type == "call" and call_name(node) == ("Enum", "join"):
        items = effective_arguments(node)
        if items and items[0].type == "list" and is_literal(items[0]):
            return None
        return "Enum.join", items[0] if items else node, [(node, trace(items[0] if items else None, parameters=parameters, memo=memo))]
    if node.type == "list":  # iodata
        if is_literal(node):
            return None
        children = [c for c in node.named_children if c.type != "comment"]
        return "an iodata list", children[0] if children else node, [(c, trace(c, parameters=parameters, memo=memo)) for c in children if not is_literal(c)]
    return None


def _concat_parts(node):
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "<>":
        return _concat_parts(node.child_by_field_name("left")) + _concat_parts(node.child_by_field_name("right"))
    return [node]


def _statement_text(ctx, statement) -> str:
    if statement is None or statement.type not in ("string", "sigil"):
        return ""
    return ctx.data[statement.start_byte:statement.end_byte].decode("utf-8", errors="replace")


def _takes_no_parameters(ctx, statement) -> bool:
    """DDL and session commands (`CREATE ...`, `ALTER ...`, `SET ...`) accept no bind parameters."""
    body = re.sub(r"^(~[a-zA-Z]+)?(\"\"\"|'''|[\"'(\[{<|/])", "", _statement_text(ctx, statement).lstrip())
    return bool(NO_PARAMETERS.match(body))


def _identifier_positions(ctx, sql, parts) -> bool:
    """Every doubtful interpolation of the SQL string sits where a table or column name goes."""
    if sql is None or sql.type not in ("string", "sigil"):
        return False
    data = ctx.data
    dynamic = [p for p in parts if p.type == "interpolation" and p.parent == sql]
    if not dynamic or len(dynamic) != len(parts):
        return False
    for interpolation in dynamic:
        line_start = max(data.rfind(b"\n", 0, interpolation.start_byte) + 1, sql.start_byte)
        before = data[line_start:interpolation.start_byte].decode("utf-8", errors="replace")
        before = re.sub(r"#\{[^}]*\}\s*", "", before)  # `VIEW #{concurrently} "#{name}"`
        if not IDENTIFIER_POSITION.search(before):
            return False
    return True


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
